// Package cases holds the cases a company opens about its own records and that
// end, when they change a record, in ingestion — never in a write of its own to
// the raw tables.
//
// Two kinds of case:
//
//   - Objection (异议): a company disputes one record (a source and the values of
//     its key columns, e.g. penalty {penalty_id}, tax {code, event_date}). The case
//     goes to the department that owns the source (Options.Owner, the owner
//     mapping ingestion uses) with a review deadline (the department's per source,
//     else Options.ReviewDays, 15 days). While it is open the record is disputed
//     (Disputed, 异议标注). It ends corrected — the department's values go in
//     through datasets/ingest as the record's next revision, arriving at the
//     decision time, the original kept in the bitemporal history — or rejected
//     with reasons, or withdrawn by the company.
//   - Repair (信用修复): a company applies to repair an administrative-penalty
//     record under the versioned rule table repair_rules.yaml (minor records are
//     not publicised; general ones are publicised up to 1 year and repairable after
//     3 months; serious ones up to 3 years and after 1 year; the penalty source's
//     severity codes map to the classes). The application declares the
//     obligations fulfilled, with evidence, and carries a credit commitment
//     (信用承诺). The owning department approves, then the credit authority (a
//     regulator) by another person; the final approval sends an end-of-publicity
//     row (row_kind 2) through ingestion arriving at the approval time, so
//     indicators change from that day on only and every assessment as of an
//     earlier day stays reproducible. A court dishonest-debtor listing is never
//     repaired here: only the court ends it, through the court source.
//     ExpirePublicity ends by itself every publicised penalty past its maximum
//     period, the same way (a durable job: RegisterExpiry, EnqueueExpiry).
//
// Invariants: every act is authorized by internal/access (acting for the company:
// company.act; reviewing: case.review, the owning department; the second repair
// step: case.authority, a regulator) and every refusal, including those of this
// package's own rules (another company's record, an unknown record, a period not
// reached), is recorded through Authorizer.Refused; every change of a case is
// written with its audit record in one transaction; a refused request changes
// nothing. The steps a state allows are one table (Next).
//
// Usage:
//
//	store, _ := cases.OpenStore(ctx, db, auditLog)
//	svc, _ := cases.New(cases.Options{Store: store, Ingest: ingest.New(blobs),
//		Records: cases.RawRecords{Store: blobs}, Authorizer: access.NewAuthorizer(acc, auditLog),
//		Audit: auditLog, Owner: ingesthttp.OwnersByName(acc, owners)})
//	c, err := svc.Object(ctx, company, cases.Objection{Company: code,
//		Record: cases.RecordRef{Source: "penalty", Key: map[string]string{"penalty_id": "绍市监罚〔2024〕17号"}},
//		Statement: "the fine was 2,000 yuan, not 20,000"})
//	c, err = svc.Correct(ctx, department, c.ID, map[string]string{"amount": "2000"}, "")
package cases
