ALTER TABLE access_consents ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
CREATE TABLE access_bindings (
	id {{id}},
	user_id BIGINT NOT NULL REFERENCES access_users (id),
	company_code TEXT NOT NULL,
	capacity TEXT NOT NULL,
	method TEXT NOT NULL,
	status TEXT NOT NULL,
	contact TEXT NOT NULL DEFAULT '',
	evidence TEXT NOT NULL DEFAULT '',
	code_salt {{blob}},
	code_hash {{blob}},
	code_expires_at_ns BIGINT NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0,
	delegated_by BIGINT NOT NULL DEFAULT 0,
	created_by TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL,
	activated_at_ns BIGINT NOT NULL DEFAULT 0,
	revoked_at_ns BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_bindings_user ON access_bindings (user_id, company_code);
CREATE INDEX access_bindings_company ON access_bindings (company_code);
CREATE TABLE access_consent_requests (
	id {{id}},
	company_code TEXT NOT NULL,
	bank_id BIGINT NOT NULL REFERENCES access_institutions (id),
	scope TEXT NOT NULL,
	purpose TEXT NOT NULL DEFAULT '',
	note TEXT NOT NULL DEFAULT '',
	until_ns BIGINT NOT NULL,
	requested_by TEXT NOT NULL,
	requested_at_ns BIGINT NOT NULL,
	status TEXT NOT NULL,
	answered_by TEXT NOT NULL DEFAULT '',
	answered_at_ns BIGINT NOT NULL DEFAULT 0,
	consent_id BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_consent_requests_company ON access_consent_requests (company_code);
CREATE INDEX access_consent_requests_bank ON access_consent_requests (bank_id);
