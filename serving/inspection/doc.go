// Package inspection is the regulator's closed loop after a screening: it draws a
// 双随机 inspection plan from a finished screening (random firms within each risk
// tier at the tier's sampling ratio, random inspectors from a given list, with a
// recorded seed so that the draw is reproducible), exports it for people (CSV with
// a BOM and Chinese headers for Excel, and JSON), records each inspection's result
// (no problem, problem found with a category, ordered to rectify) and computes the
// share of inspections that found a problem per tier and over plans against the
// random baseline.
//
// Plans and results live in the metadata database (component "inspection"): a
// plan is a few thousand rows whose results are written one by one, by several
// inspectors at once, and must never be overwritten silently; the database gives
// the unique revision per firm and plan, and transactions that commit the result,
// its raw row and its audit record together. Each recorded result is also written
// as the raw inspection source, raw/inspections/month=YYYY-MM/part-<result id>.parquet
// (datasets.InspectionRow: event date the inspection day, arrival date the day the
// platform recorded it, revision 0 then 1, 2, … for corrections), where features
// reads a problem found as a violation label, bitemporally, and where ingestion can
// later take it over unchanged.
//
// Only a user with the regulator role at the regulator that owns the screening may
// draw a plan from it, and only the owner of a plan may record its results
// (internal/access: region.inspect); its users and platform administrators may see
// it (inspection.view). Every draw, result and refusal is in the audit log.
//
//	svc, err := inspection.Open(ctx, inspection.Options{DB: db, Store: store, Screenings: screenjobs.New(q), Authorizer: auth, Audit: log})
//	plan, err := svc.Draw(ctx, p, screeningID, inspection.DrawOptions{Inspectors: []string{"张三", "李四", "王五"}})
//	_, err = svc.Record(ctx, p, plan.ID, inspection.ResultInput{Company: code, Outcome: datasets.InspectionProblem, Category: "licence", Date: day, Inspector: "张三"})
//	rates, err := svc.HitRates(ctx, p)
package inspection
