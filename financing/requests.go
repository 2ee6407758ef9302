package financing

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Request, target and offer states.
const (
	StatusOpen      = "open"
	StatusAccepted  = "accepted"
	StatusWithdrawn = "withdrawn"
	StatusExpired   = "expired"
	StatusOffered   = "offered"
	StatusDeclined  = "declined"
	StatusClosed    = "closed" // the request closed for this bank or offer
)

// Offer kinds.
const (
	OfferAnswer    = "answer"    // a bank's answer to a request
	OfferPreCredit = "precredit" // pushed to an eligible company (预授信)
)

// MaxBanks bounds the banks one request names.
const MaxBanks = 100

// RequestInput is what a company asks for. No Banks: every participating bank
// (every bank with a product).
type RequestInput struct {
	Company   string    `json:"company_code"`
	Amount    float64   `json:"amount"`
	Term      int       `json:"term"`
	Purpose   string    `json:"purpose"`
	Guarantee Guarantee `json:"guarantee"`
	Banks     []int64   `json:"banks,omitempty"`
}

func (in *RequestInput) check() error {
	if err := finite("amount", in.Amount, 1, MaxAmount); err != nil {
		return err
	}
	if in.Term < 1 || in.Term > MaxTerm {
		return fmt.Errorf("%w: term %d months out of range [1, %d]", ErrInvalid, in.Term, MaxTerm)
	}
	if utf8.RuneCountInString(in.Purpose) > 200 || !utf8.ValidString(in.Purpose) {
		return fmt.Errorf("%w: purpose longer than 200 characters or not UTF-8", ErrInvalid)
	}
	if _, err := ParseGuarantee(string(in.Guarantee)); err != nil {
		return err
	}
	if len(in.Banks) > MaxBanks {
		return fmt.Errorf("%w: %d banks named, at most %d", ErrInvalid, len(in.Banks), MaxBanks)
	}
	for _, b := range in.Banks {
		if b <= 0 {
			return fmt.Errorf("%w: bank id %d", ErrInvalid, b)
		}
	}
	return nil
}

// Request is a company's loan request.
type Request struct {
	ID        int64     `json:"id"`
	Company   string    `json:"company_code"`
	Amount    float64   `json:"amount"`
	Term      int       `json:"term"`
	Purpose   string    `json:"purpose"`
	Guarantee Guarantee `json:"guarantee"`
	ToAll     bool      `json:"to_all"`
	Status    string    `json:"status"`
	District  string    `json:"district"`
	Industry  string    `json:"industry"`
	Size      string    `json:"size"`
	CreatedAt time.Time `json:"created_at"`
	Deadline  time.Time `json:"deadline"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	Targets   []Target  `json:"targets,omitempty"`
	Offers    []Offer   `json:"offers,omitempty"`
}

// Target is one bank a request is addressed to and where it stands.
type Target struct {
	BankID     int64     `json:"bank_id"`
	ConsentID  int64     `json:"consent_id"`
	Status     string    `json:"status"`
	Reasons    []string  `json:"reasons,omitempty"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
}

// Versions are what made an automated decision.
type Versions struct {
	Models      []string `json:"models,omitempty"`
	Policy      string   `json:"policy,omitempty"`
	ProductID   int64    `json:"product_id"`
	RuleVersion int      `json:"rule_version"`
	Rule        string   `json:"rule"`
}

// Offer is a bank's offer to a company.
type Offer struct {
	ID        int64     `json:"id"`
	RequestID int64     `json:"request_id,omitempty"`
	BankID    int64     `json:"bank_id"`
	ProductID int64     `json:"product_id"`
	Company   string    `json:"company_code"`
	Kind      string    `json:"kind"`
	Amount    float64   `json:"amount"`
	Rate      float64   `json:"rate"`
	Term      int       `json:"term"`
	Status    string    `json:"status"`
	Automated bool      `json:"automated"`
	Versions  Versions  `json:"versions"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func requestSubject(id int64) string { return "financing.request:" + strconv.FormatInt(id, 10) }
func offerSubject(id int64) string   { return "financing.offer:" + strconv.FormatInt(id, 10) }

// RequestPurpose is the consent purpose of a bank named in request id.
func RequestPurpose(id int64) string { return "financing_request:" + strconv.FormatInt(id, 10) }

// LoanPurpose is the consent purpose of the lending bank of loan id.
func LoanPurpose(id int64) string { return "loan:" + strconv.FormatInt(id, 10) }

// participating lists the banks with at least one product.
func (s *Store) participating(ctx context.Context) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT bank_id FROM financing_products ORDER BY bank_id`)
	if err != nil {
		return nil, fmt.Errorf("financing: participating banks: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (s *Store) companyInfo(ctx context.Context, code string) (Company, error) {
	if s.opts.Directory == nil {
		return Company{Code: code}, nil
	}
	c, err := s.opts.Directory.Company(ctx, code)
	if err != nil {
		return Company{}, fmt.Errorf("%w: company %s: %w", ErrUnavailable, code, err)
	}
	return c, nil
}

// PostRequest records a company's request, grants each bank it names (or every
// participating bank) consent scoped to it until its deadline, and lets banks
// with an auto-approving product answer at once.
func (s *Store) PostRequest(ctx context.Context, p access.Principal, in RequestInput) (Request, error) {
	code, err := company(in.Company)
	if err != nil {
		return Request{}, err
	}
	res := companyRes(code)
	res.Operation = "financing.request.create"
	if err := s.allow(ctx, p, access.ActionActForCompany, res); err != nil {
		return Request{}, err
	}
	if err := in.check(); err != nil {
		return Request{}, err
	}
	part, err := s.participating(ctx)
	if err != nil {
		return Request{}, err
	}
	banks := part
	if len(in.Banks) > 0 {
		banks = slices.Clone(in.Banks)
		slices.Sort(banks)
		banks = slices.Compact(banks)
		for _, b := range banks {
			if _, ok := slices.BinarySearch(part, b); !ok {
				return Request{}, fmt.Errorf("%w: institution %d has no financing products", ErrInvalid, b)
			}
		}
	}
	if len(banks) == 0 {
		return Request{}, fmt.Errorf("%w: no participating bank", ErrState)
	}
	info, err := s.companyInfo(ctx, code)
	if err != nil {
		return Request{}, err
	}
	now := s.now()
	r := Request{Company: code, Amount: in.Amount, Term: in.Term, Purpose: in.Purpose, Guarantee: in.Guarantee,
		ToAll: len(in.Banks) == 0, Status: StatusOpen, District: info.District, Industry: info.Industry, Size: info.Size,
		CreatedAt: now, Deadline: now.Add(s.opts.RequestTTL)}
	e := &audit.Entry{Actor: p.Actor(), Action: "financing.request.create"}
	err = s.change(ctx, e, func(tx *metadb.Tx) (any, error) {
		id, err := tx.InsertID(ctx, `INSERT INTO financing_requests (company, amount, term, purpose, guarantee, to_all, status,
			district, industry, size, created_by, created_at_ns, deadline_ns) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)`,
			code, r.Amount, r.Term, r.Purpose, string(r.Guarantee), metadb.Bool(r.ToAll), r.District, r.Industry, r.Size, p.Actor(),
			ns(now), ns(r.Deadline))
		if err != nil {
			return nil, err
		}
		r.ID = id
		e.Subject = requestSubject(id)
		for _, b := range banks {
			if _, err := tx.Exec(ctx, `INSERT INTO financing_targets (request_id, bank_id, consent_id, status) VALUES (?, ?, 0, 'open')`, id, b); err != nil {
				return nil, err
			}
			r.Targets = append(r.Targets, Target{BankID: b, Status: StatusOpen})
		}
		return r, nil
	})
	if err != nil {
		return Request{}, fmt.Errorf("financing: post request: %w", err)
	}
	for i := range r.Targets {
		t := &r.Targets[i]
		cid, err := s.opts.Consents.GrantConsent(ctx, p.Actor(), Grant{Company: code, Institution: t.BankID,
			Scope: access.ScopeCreditAssessment, Purpose: RequestPurpose(r.ID), ExpiresAt: r.Deadline})
		if err == nil {
			_, err = s.db.Exec(ctx, `UPDATE financing_targets SET consent_id = ? WHERE request_id = ? AND bank_id = ?`, cid, r.ID, t.BankID)
			t.ConsentID = cid
		}
		if err != nil {
			// Nothing half-done: the request closes and its grants end.
			s.closeRequest(context.WithoutCancel(ctx), "system", r.ID, StatusWithdrawn, "consent grant failed: "+err.Error())
			return Request{}, fmt.Errorf("%w: consent for institution %d: %w", ErrUnavailable, t.BankID, err)
		}
	}
	if err := s.autoApprove(ctx, p, &r); err != nil {
		s.opts.Logger.ErrorContext(ctx, "financing: auto-approval failed", "request", r.ID, "err", err)
	}
	return r, nil
}

// envOf builds the rule environment of a request.
func envOf(r *Request, a *Assessment, c *Company, now time.Time) Env {
	age := nan
	if !c.Founded.IsZero() {
		age = now.Sub(c.Founded).Hours() / (24 * 365.25)
	}
	return Env{Rating: a.Rating, Colour: a.Colour, Industry: c.Industry, Age: age, Limit: a.Limit, PD: a.PD,
		District: c.District, Amount: r.Amount, Term: r.Term, Guarantee: string(r.Guarantee), Size: c.Size}
}

// autoApprove answers r at once for every named bank with an auto-approving
// product that admits it under the product's cap (and whose guarantor admits the
// company), recording the versions that decided.
func (s *Store) autoApprove(ctx context.Context, p access.Principal, r *Request) error {
	all, err := s.products(ctx, 0)
	if err != nil {
		return err
	}
	byBank := map[int64][]Product{}
	for _, p := range all {
		if p.AutoApprove && p.AutoCap >= r.Amount {
			byBank[p.BankID] = append(byBank[p.BankID], p)
		}
	}
	var a *Assessment
	var c Company
	var m vm.VM
	for _, t := range r.Targets {
		for _, pr := range byBank[t.BankID] {
			if a == nil {
				got, err := s.opts.Assessor.Assess(ctx, p, r.Company)
				if err != nil {
					return fmt.Errorf("%w: assess %s: %w", ErrUnavailable, r.Company, err)
				}
				a = &got
				if c, err = s.companyInfo(ctx, r.Company); err != nil {
					return err
				}
			}
			env := envOf(r, a, &c, s.now())
			ok, err := pr.Eligible(&env, &m)
			if err != nil {
				return err
			}
			if ok && pr.GuarantorID != 0 {
				if ok, err = s.guarantorAdmits(ctx, pr.GuarantorID, r.Company, &env); err != nil {
					return err
				}
			}
			if !ok {
				continue
			}
			v := Versions{Models: a.Models, Policy: a.PolicyVersion, ProductID: pr.ID, RuleVersion: pr.RuleVer, Rule: pr.Rule}
			if _, err := s.insertOffer(ctx, "system:auto-approval", r.ID, pr, r.Company, OfferAnswer, r.Amount, pr.Rate, r.Term,
				true, v, s.now().Add(s.opts.OfferTTL)); err != nil {
				return err
			}
			break
		}
	}
	return nil
}

func (s *Store) insertOffer(ctx context.Context, actor string, requestID int64, p Product, code, kind string, amount, rate float64,
	term int, automated bool, v Versions, expires time.Time) (Offer, error) {
	o := Offer{RequestID: requestID, BankID: p.BankID, ProductID: p.ID, Company: code, Kind: kind, Amount: amount, Rate: rate,
		Term: term, Status: StatusOpen, Automated: automated, Versions: v, CreatedAt: s.now(), ExpiresAt: expires}
	action := "financing.offer.create"
	if automated {
		action = "financing.offer.auto"
	}
	e := &audit.Entry{Actor: actor, Action: action}
	err := s.change(ctx, e, func(tx *metadb.Tx) (any, error) {
		if requestID != 0 {
			res, err := tx.Exec(ctx, `UPDATE financing_targets SET status = 'offered', answered_at_ns = ?
				WHERE request_id = ? AND bank_id = ? AND status = 'open'`, ns(o.CreatedAt), requestID, p.BankID)
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil, fmt.Errorf("%w: request %d is not open for institution %d", ErrState, requestID, p.BankID)
			}
		}
		id, err := tx.InsertID(ctx, `INSERT INTO financing_offers (request_id, bank_id, product_id, company, kind, amount, rate, term,
			status, automated, versions_json, created_by, created_at_ns, expires_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)`,
			requestID, p.BankID, p.ID, code, kind, amount, rate, term, metadb.Bool(automated), mustJSON(v), actor, ns(o.CreatedAt), ns(expires))
		o.ID = id
		e.Subject = offerSubject(id)
		return o, err
	})
	if err != nil {
		return Offer{}, fmt.Errorf("financing: offer: %w", err)
	}
	return o, nil
}

// target returns the bank's target row of an open request, or a refusal (audited)
// when the request is not addressed to the bank: a bank never learns of requests
// not addressed to it.
func (s *Store) target(ctx context.Context, p access.Principal, requestID int64, op string) (Request, Target, error) {
	res := access.Resource{Kind: "financing.request", ID: strconv.FormatInt(requestID, 10), Owner: p.InstitutionID, Operation: op}
	if err := s.allow(ctx, p, access.ActionFinancingBank, res); err != nil {
		return Request{}, Target{}, err
	}
	var t Target
	var reasons string
	var answered int64
	err := metadb.ScanOne(s.db.QueryRow(ctx, `SELECT bank_id, consent_id, status, reasons, answered_at_ns FROM financing_targets
		WHERE request_id = ? AND bank_id = ?`, requestID, p.InstitutionID), &t.BankID, &t.ConsentID, &t.Status, &reasons, &answered)
	if noRows(err) {
		return Request{}, Target{}, s.refuse(ctx, p, access.ActionFinancingBank, res, fmt.Errorf("%w: request %d", ErrNotFound, requestID))
	}
	if err != nil {
		return Request{}, Target{}, fmt.Errorf("financing: request %d: %w", requestID, err)
	}
	t.AnsweredAt = fromNS(answered)
	r, err := s.request(ctx, requestID)
	if err != nil {
		return Request{}, Target{}, err
	}
	if r.Status != StatusOpen || t.Status != StatusOpen {
		return Request{}, Target{}, fmt.Errorf("%w: request %d is %s for institution %d", ErrState, requestID, t.Status, p.InstitutionID)
	}
	if !s.now().Before(r.Deadline) {
		return Request{}, Target{}, fmt.Errorf("%w: request %d passed its deadline %s", ErrExpired, requestID, r.Deadline.Format(time.RFC3339))
	}
	return r, t, nil
}

// OfferInput is a bank's answer to a request.
type OfferInput struct {
	ProductID int64   `json:"product_id"`
	Amount    float64 `json:"amount"`
	Rate      float64 `json:"rate"`
	Term      int     `json:"term"`
}

// MakeOffer answers a request addressed to the principal's bank with an offer
// under one of its products.
func (s *Store) MakeOffer(ctx context.Context, p access.Principal, requestID int64, in OfferInput) (Offer, error) {
	r, _, err := s.target(ctx, p, requestID, "financing.offer.create")
	if err != nil {
		return Offer{}, err
	}
	pr, err := s.Product(ctx, in.ProductID)
	if err != nil || pr.BankID != p.InstitutionID {
		return Offer{}, fmt.Errorf("%w: product %d of institution %d", ErrNotFound, in.ProductID, p.InstitutionID)
	}
	if err := finite("amount", in.Amount, 1, pr.LimitCap); err != nil {
		return Offer{}, err
	}
	if err := finite("rate", in.Rate, 0, 1); err != nil {
		return Offer{}, err
	}
	if in.Term < 1 || in.Term > pr.MaxTerm {
		return Offer{}, fmt.Errorf("%w: term %d out of the product's range [1, %d]", ErrInvalid, in.Term, pr.MaxTerm)
	}
	return s.insertOffer(ctx, p.Actor(), r.ID, pr, r.Company, OfferAnswer, in.Amount, in.Rate, in.Term, false,
		Versions{ProductID: pr.ID, RuleVersion: pr.RuleVer, Rule: pr.Rule}, s.now().Add(s.opts.OfferTTL))
}

// Decline answers a request addressed to the principal's bank with reason codes
// (DeclineReasons); the bank's request-scoped consent ends.
func (s *Store) Decline(ctx context.Context, p access.Principal, requestID int64, reasons []string) error {
	r, t, err := s.target(ctx, p, requestID, "financing.request.decline")
	if err != nil {
		return err
	}
	if err := checkReasons(reasons); err != nil {
		return err
	}
	err = s.change(ctx, &audit.Entry{Actor: p.Actor(), Action: "financing.request.decline", Subject: requestSubject(r.ID),
		Reason: strings.Join(reasons, ",")}, func(tx *metadb.Tx) (any, error) {
		_, err := tx.Exec(ctx, `UPDATE financing_targets SET status = 'declined', reasons = ?, answered_at_ns = ?
			WHERE request_id = ? AND bank_id = ? AND status = 'open'`, strings.Join(reasons, ","), ns(s.now()), r.ID, p.InstitutionID)
		return map[string]any{"bank_id": p.InstitutionID, "reasons": reasons}, err
	})
	if err != nil {
		return fmt.Errorf("financing: decline: %w", err)
	}
	return s.revoke(ctx, p.Actor(), t.ConsentID)
}

func (s *Store) revoke(ctx context.Context, actor string, consentID int64) error {
	if consentID == 0 {
		return nil
	}
	if err := s.opts.Consents.RevokeConsent(context.WithoutCancel(ctx), actor, consentID); err != nil {
		return fmt.Errorf("%w: revoke consent %d: %w", ErrUnavailable, consentID, err)
	}
	return nil
}

// closeRequest closes an open request with status, closes its open targets and
// offers and revokes every request-scoped consent.
func (s *Store) closeRequest(ctx context.Context, actor string, id int64, status, reason string) error {
	var consents []int64
	err := s.change(ctx, &audit.Entry{Actor: actor, Action: "financing.request." + status, Subject: requestSubject(id), Reason: reason},
		func(tx *metadb.Tx) (any, error) {
			res, err := tx.Exec(ctx, `UPDATE financing_requests SET status = ?, closed_at_ns = ? WHERE id = ? AND status = 'open'`,
				status, ns(s.now()), id)
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil, fmt.Errorf("%w: request %d is not open", ErrState, id)
			}
			if consents, err = s.closeTargets(ctx, tx, id, 0); err != nil {
				return nil, err
			}
			_, err = tx.Exec(ctx, `UPDATE financing_offers SET status = 'closed', decided_at_ns = ? WHERE request_id = ? AND status = 'open'`,
				ns(s.now()), id)
			return map[string]any{"status": status, "consents_revoked": consents}, err
		})
	if err != nil {
		return err
	}
	var first error
	for _, c := range consents {
		if err := s.revoke(ctx, actor, c); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// closeTargets closes the open and offered targets of a request except bank
// except, returning the consents to revoke (every target's, declined ones
// already revoked).
func (s *Store) closeTargets(ctx context.Context, tx *metadb.Tx, id, except int64) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT consent_id FROM financing_targets WHERE request_id = ? AND status IN ('open', 'offered') AND bank_id <> ?`, id, except)
	if err != nil {
		return nil, err
	}
	var out []int64
	for rows.Next() {
		var c int64
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, `UPDATE financing_targets SET status = 'closed' WHERE request_id = ? AND status IN ('open', 'offered') AND bank_id <> ?`, id, except)
	return out, err
}

// WithdrawRequest closes a company's own open request.
func (s *Store) WithdrawRequest(ctx context.Context, p access.Principal, id int64) error {
	r, err := s.request(ctx, id)
	if err != nil {
		return err
	}
	res := companyRes(r.Company)
	res.Operation = "financing.request.withdraw"
	if err := s.allow(ctx, p, access.ActionActForCompany, res); err != nil {
		return err
	}
	return s.closeRequest(ctx, p.Actor(), id, StatusWithdrawn, "")
}

const requestCols = `id, company, amount, term, purpose, guarantee, to_all, status, district, industry, size, created_at_ns, deadline_ns, closed_at_ns`

func scanRequest(row scanner) (Request, error) {
	var r Request
	var g string
	var toAll int
	var c, d, cl int64
	if err := row.Scan(&r.ID, &r.Company, &r.Amount, &r.Term, &r.Purpose, &g, &toAll, &r.Status, &r.District, &r.Industry, &r.Size, &c, &d, &cl); err != nil {
		return Request{}, err
	}
	r.Guarantee, r.ToAll, r.CreatedAt, r.Deadline, r.ClosedAt = Guarantee(g), toAll != 0, fromNS(c), fromNS(d), fromNS(cl)
	return r, nil
}

func (s *Store) request(ctx context.Context, id int64) (Request, error) {
	r, err := scanRequest(s.db.QueryRow(ctx, `SELECT `+requestCols+` FROM financing_requests WHERE id = ?`, id))
	if noRows(err) {
		return Request{}, fmt.Errorf("%w: request %d", ErrNotFound, id)
	}
	if err != nil {
		return Request{}, fmt.Errorf("financing: request %d: %w", id, err)
	}
	return r, nil
}

// CompanyRequests lists a company's requests with their targets and offers, and
// its pushed pre-credit offers (as a request with ID 0), newest first.
func (s *Store) CompanyRequests(ctx context.Context, p access.Principal, code string) ([]Request, error) {
	code, err := company(code)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, p, access.ActionActForCompany, companyRes(code)); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+requestCols+` FROM financing_requests WHERE company = ? ORDER BY id DESC LIMIT 1000`, code)
	if err != nil {
		return nil, fmt.Errorf("financing: requests of %s: %w", code, err)
	}
	var out []Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	offers, err := s.offers(ctx, `company = ?`, code)
	if err != nil {
		return nil, err
	}
	pre := Request{Company: code, Status: StatusOpen}
	for _, o := range offers {
		if o.RequestID == 0 {
			pre.Offers = append(pre.Offers, o)
			continue
		}
		for i := range out {
			if out[i].ID == o.RequestID {
				out[i].Offers = append(out[i].Offers, o)
			}
		}
	}
	for i := range out {
		if out[i].Targets, err = s.targets(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	if len(pre.Offers) > 0 {
		out = append(out, pre)
	}
	return out, nil
}

func (s *Store) targets(ctx context.Context, id int64) ([]Target, error) {
	rows, err := s.db.Query(ctx, `SELECT bank_id, consent_id, status, reasons, answered_at_ns FROM financing_targets WHERE request_id = ? ORDER BY bank_id`, id)
	if err != nil {
		return nil, fmt.Errorf("financing: targets of %d: %w", id, err)
	}
	defer rows.Close()
	var out []Target
	for rows.Next() {
		var t Target
		var reasons string
		var at int64
		if err := rows.Scan(&t.BankID, &t.ConsentID, &t.Status, &reasons, &at); err != nil {
			return nil, err
		}
		if reasons != "" {
			t.Reasons = strings.Split(reasons, ",")
		}
		t.AnsweredAt = fromNS(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

const offerCols = `id, request_id, bank_id, product_id, company, kind, amount, rate, term, status, automated, versions_json, created_at_ns, expires_at_ns`

func (s *Store) offers(ctx context.Context, where string, args ...any) ([]Offer, error) {
	rows, err := s.db.Query(ctx, `SELECT `+offerCols+` FROM financing_offers WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("financing: offers: %w", err)
	}
	defer rows.Close()
	var out []Offer
	for rows.Next() {
		o, err := scanOffer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func scanOffer(row scanner) (Offer, error) {
	var o Offer
	var auto int
	var v string
	var c, e int64
	if err := row.Scan(&o.ID, &o.RequestID, &o.BankID, &o.ProductID, &o.Company, &o.Kind, &o.Amount, &o.Rate, &o.Term, &o.Status,
		&auto, &v, &c, &e); err != nil {
		return Offer{}, err
	}
	o.Automated, o.CreatedAt, o.ExpiresAt = auto != 0, fromNS(c), fromNS(e)
	if err := jsonUnmarshal(v, &o.Versions); err != nil {
		return Offer{}, fmt.Errorf("financing: offer %d versions: %w", o.ID, err)
	}
	return o, nil
}

func (s *Store) offer(ctx context.Context, id int64) (Offer, error) {
	o, err := scanOffer(s.db.QueryRow(ctx, `SELECT `+offerCols+` FROM financing_offers WHERE id = ?`, id))
	if noRows(err) {
		return Offer{}, fmt.Errorf("%w: offer %d", ErrNotFound, id)
	}
	return o, err
}

// BankOffers lists the offers of the principal's bank, newest first.
func (s *Store) BankOffers(ctx context.Context, p access.Principal) ([]Offer, error) {
	if err := s.allow(ctx, p, access.ActionFinancingBank, access.Resource{Kind: "financing.offers", Owner: p.InstitutionID}); err != nil {
		return nil, err
	}
	return s.offers(ctx, `bank_id = ?`, p.InstitutionID)
}

// DeclineOffer is the company's one-click refusal of an offer; a request-scoped
// consent of that bank ends.
func (s *Store) DeclineOffer(ctx context.Context, p access.Principal, id int64) error {
	o, err := s.offer(ctx, id)
	if err != nil {
		return err
	}
	res := companyRes(o.Company)
	res.Operation = "financing.offer.decline"
	if err := s.allow(ctx, p, access.ActionActForCompany, res); err != nil {
		return err
	}
	if o.Status != StatusOpen {
		return fmt.Errorf("%w: offer %d is %s", ErrState, id, o.Status)
	}
	var consent int64
	err = s.change(ctx, &audit.Entry{Actor: p.Actor(), Action: "financing.offer.decline", Subject: offerSubject(id)}, func(tx *metadb.Tx) (any, error) {
		res, err := tx.Exec(ctx, `UPDATE financing_offers SET status = 'declined', decided_at_ns = ? WHERE id = ? AND status = 'open'`, ns(s.now()), id)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, fmt.Errorf("%w: offer %d is no longer open", ErrState, id)
		}
		if o.RequestID != 0 {
			if err := tx.QueryRow(ctx, `SELECT consent_id FROM financing_targets WHERE request_id = ? AND bank_id = ?`, o.RequestID, o.BankID).Scan(&consent); err != nil {
				return nil, err
			}
			_, err = tx.Exec(ctx, `UPDATE financing_targets SET status = 'closed' WHERE request_id = ? AND bank_id = ?`, o.RequestID, o.BankID)
		}
		return map[string]string{"status": StatusDeclined}, err
	})
	if err != nil {
		return fmt.Errorf("financing: decline offer: %w", err)
	}
	return s.revoke(ctx, p.Actor(), consent)
}
