// Package financing is the bank–company financing loop: a company's loan requests
// to chosen banks or to every participating bank, banks' products with eligibility
// rules, their inbox of matching requests with the platform's assessment, offers
// (answers to requests and pushed pre-credit offers) accepted or declined in one
// click, auto-approval under a cap switched on only by two people of the bank
// (four-eyes), decisions with reason codes, disbursement, monthly repayments that
// come back as the bank's own private source, the bank's outcome labels for joint
// modelling, guarantee institutions' shares of loans and losses, government
// support lists (培育池), renewal notices before maturity, and the regulator's
// aggregate view.
//
// Invariants:
//   - Every change and every refusal is in the audit chain (internal/audit): a
//     change is written with its record in one transaction; refusals are decided
//     and recorded by internal/access (Authorize, Refused).
//   - A bank sees only requests addressed to it (by name or to all participating
//     banks) that match one of its products, and only its own offers, loans,
//     repayments and labels. One bank's outcomes are never visible to another:
//     repayments are ingested only under the bank's own folder of the object store
//     (banks/<id>/, a blob.Prefixed view), never where public materialization
//     reads. Regulators see aggregates only.
//   - A bank named in a request holds the company's consent scoped to that request
//     (Scope credit_assessment, Purpose "financing_request:<id>") until the request
//     closes for it; the lending bank's consent becomes "loan:<id>" running to
//     maturity plus Options.RenewalWindow.
//   - An automated decision records the model, policy and rule versions that made
//     it; an offer past its expiry cannot be accepted.
//
// Usage:
//
//	s, err := financing.Open(ctx, db, financing.Options{Authorizer: authz, Audit: log,
//		Consents: financing.AccessConsents(accessStore), Assessor: a, Blob: store})
//	req, err := s.PostRequest(ctx, company, financing.RequestInput{Company: code, Amount: 500_000, Term: 12, Guarantee: financing.Credit})
//	inbox, err := s.Inbox(ctx, bankOfficer)
//	loan, err := s.AcceptOffer(ctx, company, offerID)
package financing
