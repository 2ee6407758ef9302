CREATE TABLE warnings (
	id {{id}},
	rule_id TEXT NOT NULL,
	company TEXT NOT NULL,
	severity TEXT NOT NULL,
	area TEXT NOT NULL,
	district TEXT NOT NULL,
	industry TEXT NOT NULL,
	rules_version TEXT NOT NULL,
	state TEXT NOT NULL,
	opened_asof TEXT NOT NULL,
	last_seen_asof TEXT NOT NULL,
	closed_asof TEXT NOT NULL DEFAULT '',
	acked_by TEXT NOT NULL DEFAULT '',
	acked_at_ns BIGINT NOT NULL DEFAULT 0,
	created_at_ns BIGINT NOT NULL,
	updated_at_ns BIGINT NOT NULL
);
CREATE UNIQUE INDEX warnings_open ON warnings (rule_id, company) WHERE state = 'open';
CREATE INDEX warnings_company ON warnings (company, id);
CREATE TABLE warning_evidence (
	warning_id BIGINT PRIMARY KEY,
	values_hash TEXT NOT NULL,
	evidence_json TEXT NOT NULL
);
CREATE TABLE warning_evaluations (
	asof TEXT PRIMARY KEY,
	prev_asof TEXT NOT NULL,
	rules_version TEXT NOT NULL,
	companies BIGINT NOT NULL,
	firings BIGINT NOT NULL,
	opened BIGINT NOT NULL,
	updated BIGINT NOT NULL,
	closed BIGINT NOT NULL,
	applied_at_ns BIGINT NOT NULL,
	notified INTEGER NOT NULL DEFAULT 0
);
