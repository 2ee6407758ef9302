CREATE TABLE access_institutions (
	id {{id}},
	name TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL
);
CREATE TABLE access_users (
	id {{id}},
	name TEXT NOT NULL UNIQUE,
	institution_id BIGINT NOT NULL REFERENCES access_institutions (id),
	disabled INTEGER NOT NULL DEFAULT 0,
	created_at_ns BIGINT NOT NULL
);
CREATE TABLE access_user_roles (
	user_id BIGINT NOT NULL REFERENCES access_users (id),
	role TEXT NOT NULL,
	PRIMARY KEY (user_id, role)
);
CREATE TABLE access_api_keys (
	id TEXT PRIMARY KEY,
	user_id BIGINT NOT NULL REFERENCES access_users (id),
	hash {{blob}} NOT NULL,
	label TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL,
	expires_at_ns BIGINT NOT NULL,
	revoked_at_ns BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE access_consents (
	id {{id}},
	company_code TEXT NOT NULL,
	bank_id BIGINT NOT NULL REFERENCES access_institutions (id),
	scope TEXT NOT NULL,
	granted_by TEXT NOT NULL,
	granted_at_ns BIGINT NOT NULL,
	expires_at_ns BIGINT NOT NULL,
	revoked_at_ns BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_consents_lookup ON access_consents (company_code, bank_id, scope);
