CREATE TABLE inspection_plans (
	id {{id}},
	screening_id TEXT NOT NULL,
	task TEXT NOT NULL,
	policy_version TEXT NOT NULL,
	screening_as_of TEXT NOT NULL,
	institution_id BIGINT NOT NULL,
	institution TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at_ns BIGINT NOT NULL,
	seed BIGINT NOT NULL,
	inspectors_per_firm INTEGER NOT NULL,
	inspectors TEXT NOT NULL,
	tiers TEXT NOT NULL
);
CREATE INDEX inspection_plans_institution ON inspection_plans (institution_id, id);
CREATE TABLE inspection_items (
	plan_id BIGINT NOT NULL REFERENCES inspection_plans (id),
	company_code TEXT NOT NULL,
	position INTEGER NOT NULL,
	tier TEXT NOT NULL,
	probability DOUBLE PRECISION NOT NULL,
	screening_rank INTEGER NOT NULL,
	inspectors TEXT NOT NULL,
	PRIMARY KEY (plan_id, company_code)
);
CREATE TABLE inspection_results (
	id {{id}},
	plan_id BIGINT NOT NULL,
	company_code TEXT NOT NULL,
	revision INTEGER NOT NULL,
	outcome TEXT NOT NULL,
	category TEXT NOT NULL,
	note TEXT NOT NULL,
	inspected_on INTEGER NOT NULL,
	inspector TEXT NOT NULL,
	recorded_by TEXT NOT NULL,
	recorded_at_ns BIGINT NOT NULL,
	arrival INTEGER NOT NULL,
	raw_key TEXT NOT NULL,
	UNIQUE (plan_id, company_code, revision),
	FOREIGN KEY (plan_id, company_code) REFERENCES inspection_items (plan_id, company_code)
);
