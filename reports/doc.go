// Package reports issues signed PDF credit reports of one company: the document a
// company hands a bank, a tender office, an exchange or an awards committee instead
// of compliance certificates from each department.
//
// A report is tailored to its Purpose (financing, bidding, listing, honours): the
// purpose chooses the departments it has a section for and the wording. Each
// section states a department's compliance record over the chosen period, read
// from the raw department tables in the object store (only committed ingestion
// batches, datasets.VisibleParts; only facts whose in-force revision is a record,
// never one retracted or whose publicity ended: row_kind 1 or 2). A report must
// never over-claim:
//
//   - every section states the span of the data the platform holds: from the
//     first month delivered through the date the data runs through (the latest
//     committed batch of its sources, or the latest arrival_date present for
//     generated data; for a monthly table no later than the last month
//     delivered; for a section of several tables the narrowest span), and "no
//     administrative penalty recorded by … between … and …" is said only within
//     that span, the rest of the period named as not stated;
//   - a department the platform receives nothing from is shown as not covered;
//   - the rating and colour come from the score history with their as-of date,
//     models and policy version, or the report says there is none.
//
// The signature lives in the PDF file itself, as one trailing comment line after
// the document's final %%EOF:
//
//	%XINYI-SIGNATURE v=1 key=<key id> report=<report id> sig=<base64 Ed25519 signature>
//
// The signature is over "xinyi-report-v1", the key id, the report id and the
// SHA-256 of every byte before that line (see SignedMessage). PDF readers ignore
// the line; verification strips it. One file therefore verifies offline with the
// platform's public key (xinyi report verify FILE), and a byte changed anywhere
// fails. The metadata database keeps every issued report with that digest, so the
// online verification (GET /v1/reports/{id}/verify, POST /v1/reports/verify) also
// says whether the report was issued here and whether it has been revoked.
//
// Every issuance, revocation and refused verification is in the audit log; who
// may ask is decided only by internal/access: the company itself
// (ActionActForCompany), a bank with the company's consent or a regulator
// (ActionAssess), and revocation by a platform administrator (ActionRevokeReport).
//
// Usage:
//
//	key, _ := reports.LoadKey("report.key")
//	svc, _ := reports.Open(ctx, db, reports.Options{Store: blobs, Signer: key, Authorizer: authz,
//		Audit: log, Scores: scorehistory.New(scores.NewReader(blobs, 0)), BaseURL: "https://xinyi.example"})
//	r, pdf, err := svc.Issue(ctx, principal, reports.Request{Company: code, Purpose: reports.Financing})
//	v, err := reports.VerifyFile(pdf, key.Public())
package reports
