CREATE TABLE webhook_endpoints (
	id {{id}},
	institution_id BIGINT NOT NULL,
	url TEXT NOT NULL,
	description TEXT NOT NULL,
	secrets_json TEXT NOT NULL,
	disabled INTEGER NOT NULL DEFAULT 0,
	disabled_reason TEXT NOT NULL DEFAULT '',
	created_at_ns BIGINT NOT NULL,
	updated_at_ns BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_institution ON webhook_endpoints (institution_id, id);
