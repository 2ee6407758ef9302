CREATE TABLE warning_subscriptions (
	id {{id}},
	institution_id BIGINT NOT NULL,
	endpoint_id BIGINT NOT NULL,
	company TEXT NOT NULL,
	min_severity TEXT NOT NULL,
	area TEXT NOT NULL,
	district TEXT NOT NULL,
	industry TEXT NOT NULL,
	clearance TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL
);
CREATE UNIQUE INDEX warning_subscriptions_company ON warning_subscriptions (institution_id, endpoint_id, company) WHERE company <> '';
CREATE INDEX warning_subscriptions_institution ON warning_subscriptions (institution_id, id);
