// Package warnings is the platform's risk-warning engine (风险预警): a versioned
// library of warning rules (rules.yaml, embedded) in 上虞's spirit — arrears of
// tax, social insurance, utilities and housing fund, overdue loans, court cases,
// dishonest debtors, penalties, revocations, falling sales, power and headcount,
// rating downgrades, colour worsening, limit cuts and contagion in guarantee
// circles — evaluated per as-of date, and the lifecycle of the warnings they raise
// in the metadata database.
//
// A rule's condition is an expr-lang expression compiled once against a typed
// environment (Env). Evaluation is bitemporal: a date's warnings read only the
// feature snapshot of that date and of the previous one (each built from records
// that had arrived by its date), the score runs of those dates and the guarantee
// circles as of the date, so no warning fires before its evidence arrived. Every
// firing carries its evidence: the values the condition reads, now and before.
//
// The lifecycle keeps one open warning per rule and company: a later date that
// still fires updates it, one that no longer fires closes it, and an
// acknowledgement silences its updates. Evaluating a date is a durable job
// (warnings_eval) that Watch enqueues when a new snapshot date appears; with
// Source.RequireScores it waits for the date's score run.
//
// Rules with an on_batch condition (a new court case or judgment, an
// enforcement, a dishonest-debtor listing, a penalty) also fire when a
// department batch of their source commits: ingest tells BatchListener, which
// queues a durable warnings_batch job (WatchBatches sweeps for batches
// committed without a listener); the job tests the batch's records, opens the
// warnings from the batch's arrival date with the records as evidence
// (Store.ApplyBatch) and alerts the subscribers. The next as-of date that sees
// the same records finds the same open warning (one per rule and company) and
// keeps it, records included, instead of opening a second.
//
// Subscriptions route opened and closed warnings to webhook endpoints
// (internal/webhooks): a bank follows companies that granted it consent, checked
// again at every alert; a regulator follows warnings by severity and area. Each
// alert has a stable message id (MessageID), so a re-sent alert is recognisable.
//
//	lib, _ := warnings.DefaultLibrary()
//	ev, _ := lib.Evaluate(ctx, warnings.Input{Now: snap, Prev: prevSnap})
//	st, _ := warnings.Open(ctx, db)
//	changes, _ := st.Apply(ctx, ev)
//	subs, _ := warnings.OpenSubscriptions(ctx, db, warnings.SubscriptionOptions{Consent: acc, Endpoints: eps})
//	warnings.Register(ws, warnings.JobOptions{Source: warnings.Source{Store: store}, Warnings: st, Notify: subs.Notifier(queue)})
package warnings
