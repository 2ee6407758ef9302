CREATE TABLE registry_models (
	id {{id}},
	name TEXT NOT NULL UNIQUE,
	task TEXT NOT NULL,
	owner_id BIGINT NOT NULL,
	description TEXT NOT NULL,
	shared INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL
);
CREATE TABLE registry_versions (
	model_id BIGINT NOT NULL REFERENCES registry_models (id),
	version INTEGER NOT NULL,
	artifact_digest TEXT NOT NULL,
	artifact_size BIGINT NOT NULL,
	original_digest TEXT NOT NULL,
	original_size BIGINT NOT NULL,
	source_format TEXT NOT NULL,
	feature_set TEXT NOT NULL,
	feature_set_version INTEGER NOT NULL,
	features_json TEXT NOT NULL,
	objective TEXT NOT NULL,
	num_trees INTEGER NOT NULL,
	metrics_json TEXT NOT NULL,
	model_card_json TEXT NOT NULL,
	lineage_json TEXT NOT NULL,
	parity_json TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL,
	PRIMARY KEY (model_id, version)
);
CREATE INDEX registry_versions_artifact ON registry_versions (artifact_digest);
CREATE INDEX registry_versions_original ON registry_versions (original_digest);
CREATE TABLE registry_aliases (
	model_id BIGINT NOT NULL REFERENCES registry_models (id),
	alias TEXT NOT NULL,
	version INTEGER NOT NULL,
	updated_by TEXT NOT NULL,
	updated_at_ns BIGINT NOT NULL,
	PRIMARY KEY (model_id, alias)
);
CREATE TABLE registry_promotions (
	id {{id}},
	model_id BIGINT NOT NULL REFERENCES registry_models (id),
	alias TEXT NOT NULL,
	version INTEGER NOT NULL,
	state TEXT NOT NULL,
	requested_by TEXT NOT NULL,
	requested_at_ns BIGINT NOT NULL,
	note TEXT NOT NULL,
	decided_by TEXT NOT NULL DEFAULT '',
	decided_at_ns BIGINT NOT NULL DEFAULT 0,
	reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE registry_changes (
	seq BIGINT PRIMARY KEY,
	model_id BIGINT NOT NULL,
	model_name TEXT NOT NULL,
	kind TEXT NOT NULL,
	version INTEGER NOT NULL,
	alias TEXT NOT NULL,
	actor TEXT NOT NULL,
	at_ns BIGINT NOT NULL
);
CREATE TABLE registry_feed_head (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	seq BIGINT NOT NULL
);
INSERT INTO registry_feed_head (id, seq) VALUES (1, 0);
