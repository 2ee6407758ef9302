CREATE TABLE reports_issued (
	id TEXT PRIMARY KEY,
	company_code TEXT NOT NULL,
	purpose TEXT NOT NULL,
	issued_at_ns BIGINT NOT NULL,
	issued_by TEXT NOT NULL,
	institution_id BIGINT NOT NULL,
	key_id TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	content TEXT NOT NULL,
	pdf {{blob}} NOT NULL,
	revoked_at_ns BIGINT NOT NULL DEFAULT 0,
	revoked_by TEXT NOT NULL DEFAULT '',
	revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reports_issued_company ON reports_issued (company_code, issued_at_ns);
