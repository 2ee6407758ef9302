ALTER TABLE warnings ADD COLUMN opened_by TEXT NOT NULL DEFAULT '';
CREATE INDEX warnings_opened_by ON warnings (opened_by) WHERE opened_by <> '';
CREATE TABLE warning_batches (
	source TEXT NOT NULL,
	batch_id TEXT NOT NULL,
	arrival TEXT NOT NULL,
	rules_version TEXT NOT NULL,
	records BIGINT NOT NULL,
	firings BIGINT NOT NULL,
	opened BIGINT NOT NULL,
	covered INTEGER NOT NULL,
	applied_at_ns BIGINT NOT NULL,
	notified INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (source, batch_id)
);
