CREATE TABLE financing_products (
	id {{id}},
	bank_id BIGINT NOT NULL,
	name TEXT NOT NULL,
	rule TEXT NOT NULL,
	rule_version INTEGER NOT NULL,
	limit_cap DOUBLE PRECISION NOT NULL,
	max_term INTEGER NOT NULL,
	rate DOUBLE PRECISION NOT NULL,
	auto_approve INTEGER NOT NULL DEFAULT 0,
	auto_cap DOUBLE PRECISION NOT NULL DEFAULT 0,
	guarantor_id BIGINT NOT NULL DEFAULT 0,
	guarantor_share DOUBLE PRECISION NOT NULL DEFAULT 0,
	created_by TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL,
	updated_at_ns BIGINT NOT NULL
);
CREATE UNIQUE INDEX financing_products_name ON financing_products (bank_id, name);
CREATE TABLE financing_proposals (
	id {{id}},
	product_id BIGINT NOT NULL REFERENCES financing_products (id),
	bank_id BIGINT NOT NULL,
	change_json TEXT NOT NULL,
	proposer TEXT NOT NULL,
	proposer_user_id BIGINT NOT NULL,
	status TEXT NOT NULL,
	decided_by TEXT NOT NULL DEFAULT '',
	created_at_ns BIGINT NOT NULL,
	decided_at_ns BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE financing_requests (
	id {{id}},
	company TEXT NOT NULL,
	amount DOUBLE PRECISION NOT NULL,
	term INTEGER NOT NULL,
	purpose TEXT NOT NULL,
	guarantee TEXT NOT NULL,
	to_all INTEGER NOT NULL,
	status TEXT NOT NULL,
	district TEXT NOT NULL,
	industry TEXT NOT NULL,
	size TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL,
	deadline_ns BIGINT NOT NULL,
	closed_at_ns BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX financing_requests_status ON financing_requests (status, deadline_ns);
CREATE INDEX financing_requests_company ON financing_requests (company, id);
CREATE TABLE financing_targets (
	request_id BIGINT NOT NULL REFERENCES financing_requests (id),
	bank_id BIGINT NOT NULL,
	consent_id BIGINT NOT NULL,
	status TEXT NOT NULL,
	reasons TEXT NOT NULL DEFAULT '',
	answered_at_ns BIGINT NOT NULL DEFAULT 0,
	warned INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (request_id, bank_id)
);
CREATE INDEX financing_targets_bank ON financing_targets (bank_id, status);
CREATE TABLE financing_offers (
	id {{id}},
	request_id BIGINT NOT NULL,
	bank_id BIGINT NOT NULL,
	product_id BIGINT NOT NULL,
	company TEXT NOT NULL,
	kind TEXT NOT NULL,
	amount DOUBLE PRECISION NOT NULL,
	rate DOUBLE PRECISION NOT NULL,
	term INTEGER NOT NULL,
	status TEXT NOT NULL,
	automated INTEGER NOT NULL,
	versions_json TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL,
	expires_at_ns BIGINT NOT NULL,
	decided_at_ns BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX financing_offers_company ON financing_offers (company, status);
CREATE INDEX financing_offers_request ON financing_offers (request_id);
CREATE TABLE financing_loans (
	id {{id}},
	offer_id BIGINT NOT NULL UNIQUE,
	request_id BIGINT NOT NULL,
	bank_id BIGINT NOT NULL,
	product_id BIGINT NOT NULL,
	company TEXT NOT NULL,
	amount DOUBLE PRECISION NOT NULL,
	rate DOUBLE PRECISION NOT NULL,
	term INTEGER NOT NULL,
	guarantee TEXT NOT NULL,
	first_loan INTEGER NOT NULL,
	district TEXT NOT NULL,
	industry TEXT NOT NULL,
	size TEXT NOT NULL,
	accepted_at_ns BIGINT NOT NULL,
	disbursed_at_ns BIGINT NOT NULL DEFAULT 0,
	maturity_ns BIGINT NOT NULL,
	consent_id BIGINT NOT NULL,
	status TEXT NOT NULL,
	days_overdue INTEGER NOT NULL DEFAULT 0,
	guarantor_id BIGINT NOT NULL DEFAULT 0,
	guarantor_share DOUBLE PRECISION NOT NULL DEFAULT 0,
	guarantee_batch BIGINT NOT NULL DEFAULT 0,
	loss DOUBLE PRECISION NOT NULL DEFAULT 0,
	guarantor_loss DOUBLE PRECISION NOT NULL DEFAULT 0,
	bank_loss DOUBLE PRECISION NOT NULL DEFAULT 0,
	renewal_notified INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX financing_loans_bank ON financing_loans (bank_id, id);
CREATE INDEX financing_loans_company ON financing_loans (company);
CREATE TABLE financing_guarantors (
	institution_id BIGINT PRIMARY KEY,
	rule TEXT NOT NULL,
	rule_version INTEGER NOT NULL,
	updated_by TEXT NOT NULL,
	updated_at_ns BIGINT NOT NULL
);
CREATE TABLE financing_lists (
	id {{id}},
	owner_id BIGINT NOT NULL,
	kind TEXT NOT NULL,
	name TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL
);
CREATE TABLE financing_list_codes (
	list_id BIGINT NOT NULL REFERENCES financing_lists (id),
	code TEXT NOT NULL,
	PRIMARY KEY (list_id, code)
);
CREATE INDEX financing_list_codes_code ON financing_list_codes (code);
