CREATE TABLE cases (
	id {{id}},
	kind TEXT NOT NULL,
	state TEXT NOT NULL,
	active INTEGER NOT NULL,
	company TEXT NOT NULL,
	source TEXT NOT NULL,
	record_key TEXT NOT NULL,
	key_json TEXT NOT NULL,
	owner_id BIGINT NOT NULL,
	opened_by TEXT NOT NULL,
	opened_at_ns BIGINT NOT NULL,
	deadline_ns BIGINT NOT NULL,
	statement TEXT NOT NULL,
	original_json TEXT NOT NULL,
	revision INTEGER NOT NULL,
	repair_json TEXT NOT NULL DEFAULT '',
	decided_at_ns BIGINT NOT NULL DEFAULT 0,
	updated_at_ns BIGINT NOT NULL
);
CREATE UNIQUE INDEX cases_active_record ON cases (kind, record_key) WHERE active = 1;
CREATE INDEX cases_company ON cases (company, id);
CREATE INDEX cases_owner ON cases (owner_id, state, id);
CREATE TABLE case_steps (
	case_id BIGINT NOT NULL REFERENCES cases (id),
	seq INTEGER NOT NULL,
	step TEXT NOT NULL,
	state TEXT NOT NULL,
	by_name TEXT NOT NULL,
	user_id BIGINT NOT NULL,
	at_ns BIGINT NOT NULL,
	note TEXT NOT NULL,
	values_json TEXT NOT NULL,
	batch TEXT NOT NULL,
	PRIMARY KEY (case_id, seq)
);
