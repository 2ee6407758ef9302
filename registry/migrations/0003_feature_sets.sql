-- Feature sets institutions publish at run time. A row is one immutable
-- version; the built-in sets of the catalog are not stored here.
CREATE TABLE registry_feature_sets (
	id {{id}},
	name TEXT NOT NULL,
	version INTEGER NOT NULL,
	owner_id BIGINT NOT NULL,
	shared INTEGER NOT NULL,
	definition_json TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL,
	UNIQUE (name, version)
);
