package reports

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Audit actions of the package.
const (
	ActionIssue  = "report.issue"
	ActionRead   = "report.read"
	ActionVerify = "report.verify"
)

// ScorePoint is one scored date of a company, as the score history keeps it.
type ScorePoint struct {
	AsOf   string // YYYY-MM-DD
	Rating string
	Colour string
	Models []string // task=name@version
	Policy string
}

// Scores reads a company's score history, oldest first (adapter:
// reports/scorehistory over serving/scores).
type Scores interface {
	History(ctx context.Context, code string) ([]ScorePoint, error)
}

// Authorizer decides who may ask and audits refusals; *access.Authorizer
// implements it.
type Authorizer interface {
	Authorize(ctx context.Context, p access.Principal, action access.Action, res access.Resource) error
	Refused(ctx context.Context, p access.Principal, action access.Action, res access.Resource, err error) error
}

// Auditor is the audit log; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Record, error)
	AppendTx(ctx context.Context, tx *metadb.Tx, e audit.Entry) (audit.Record, error)
}

// Options configure a Service. Store, Signer, Authorizer and Audit are required.
type Options struct {
	// Store is the object store holding the raw department tables.
	Store blob.Store
	// Signer signs issued reports.
	Signer *Key
	// Verifiers are further public keys files may be signed under (keys of the
	// past); the Signer's public key is always one.
	Verifiers  []PublicKey
	Authorizer Authorizer
	Audit      Auditor
	// Scores is the score history the rating comes from. Nil: reports state no
	// rating.
	Scores Scores
	// BaseURL is the platform's public address; the QR code of a report holds
	// BaseURL + "/v1/reports/{id}/verify". Default "http://localhost:8080".
	BaseURL string
	// FontPath is the CJK TrueType font embedded in the PDF. Default
	// DefaultFontPath.
	FontPath string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives notes; nil: discarded.
	Logger *slog.Logger
}

// EnsureDefaults fills the defaults.
func (o *Options) EnsureDefaults() {
	if o.BaseURL == "" {
		o.BaseURL = "http://localhost:8080"
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.FontPath == "" {
		o.FontPath = DefaultFontPath
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the schema migrations of the reports table.
func Migrations() ([]metadb.Migration, error) {
	return metadb.LoadMigrations(migrationFS, "migrations")
}

// Service issues, keeps, revokes and verifies reports.
type Service struct {
	db   *metadb.DB
	opts Options
	keys []PublicKey
}

// Open migrates the reports table in db and returns the service.
func Open(ctx context.Context, db *metadb.DB, opts Options) (*Service, error) {
	opts.EnsureDefaults()
	if opts.Store == nil || opts.Signer == nil || opts.Authorizer == nil || opts.Audit == nil {
		return nil, errors.New("reports: Store, Signer, Authorizer and Audit are required")
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, "reports", ms); err != nil {
		return nil, fmt.Errorf("reports: open: %w", err)
	}
	keys := append([]PublicKey{opts.Signer.Public()}, opts.Verifiers...)
	return &Service{db: db, opts: opts, keys: keys}, nil
}

// Keys returns the public keys the service verifies with, the signer's first.
func (s *Service) Keys() []PublicKey { return s.keys }

// VerifyURL is the verification address of report id.
func (s *Service) VerifyURL(id string) string {
	return s.opts.BaseURL + "/v1/reports/" + id + "/verify"
}

// maxPeriodMonths bounds a report's period.
const maxPeriodMonths = 60

// parseRequest checks a request and fixes its period against the issue day.
func parseRequest(req Request, today datasets.Day) (Request, period, error) {
	var p period
	code := creditcode.Normalize(req.Company)
	if err := creditcode.Validate(code); err != nil {
		return req, p, fmt.Errorf("%w: company code %q: %v", ErrInvalid, req.Company, err)
	}
	req.Company = code
	purpose, err := ParsePurpose(string(req.Purpose))
	if err != nil {
		return req, p, err
	}
	req.Purpose = purpose
	day := func(what, s string) (datasets.Day, error) {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return 0, fmt.Errorf("%w: %s %q is not a date YYYY-MM-DD", ErrInvalid, what, s)
		}
		return datasets.DayOf(t), nil
	}
	p.asOf, p.to = today, today
	if req.To != "" {
		if p.to, err = day("to", req.To); err != nil {
			return req, p, err
		}
	}
	if p.to > today {
		return req, p, fmt.Errorf("%w: the period ends %s, after the issue date %s", ErrInvalid, p.to, today)
	}
	if req.From != "" {
		if p.from, err = day("from", req.From); err != nil {
			return req, p, err
		}
	} else {
		t := p.to.Time()
		p.from = datasets.DayOf(t.AddDate(0, -purpose.DefaultMonths(), 1))
	}
	if p.from > p.to {
		return req, p, fmt.Errorf("%w: the period starts %s, after its end %s", ErrInvalid, p.from, p.to)
	}
	if p.to.Time().AddDate(0, -maxPeriodMonths, 0).After(p.from.Time()) {
		return req, p, fmt.Errorf("%w: the period %s to %s is longer than %d months", ErrInvalid, p.from, p.to, maxPeriodMonths)
	}
	req.From, req.To = p.from.String(), p.to.String()
	return req, p, nil
}

// actionFor is the access action under which p asks about a company: an account
// of the enterprise institution acts for its own company; everyone else assesses
// it. internal/access decides whether either is allowed.
func actionFor(p access.Principal) (access.Action, string) {
	if p.InstitutionKind == access.KindEnterprise {
		return access.ActionActForCompany, "company"
	}
	switch p.InstitutionKind {
	case access.KindRegulator:
		return access.ActionAssess, "regulator"
	case access.KindGuarantor:
		return access.ActionAssess, "guarantor"
	}
	return access.ActionAssess, "bank"
}

// authorize asks internal/access whether p may have reports of company.
func (s *Service) authorize(ctx context.Context, p access.Principal, company, operation string) (string, error) {
	action, as := actionFor(p)
	res := access.Resource{Kind: "company", ID: company, Scope: access.ScopeCreditAssessment, Operation: operation}
	return as, s.opts.Authorizer.Authorize(ctx, p, action, res)
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID(now time.Time) (string, error) {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "XYR-" + now.In(cst).Format("20060102") + "-" + idEncoding.EncodeToString(b[:]), nil
}

// Issue builds, renders, signs and records a report for p, and returns it with
// the signed PDF. The issuance and its refusals are audited.
func (s *Service) Issue(ctx context.Context, p access.Principal, req Request) (*Report, []byte, error) {
	now := s.opts.Now().UTC().Truncate(time.Second)
	req, per, err := parseRequest(req, datasets.DayOf(now.In(cst)))
	if err != nil {
		return nil, nil, err
	}
	as, err := s.authorize(ctx, p, req.Company, ActionIssue)
	if err != nil {
		return nil, nil, err
	}
	id, err := newID(now)
	if err != nil {
		return nil, nil, err
	}
	// The PDF names the user and institution; the audit record also names the key.
	r := &Report{ID: id, Company: req.Company, Purpose: req.Purpose, From: req.From, To: req.To, IssuedAt: now, IssuedBy: p.User + "@" + p.Institution,
		RequestedAs: as, VerifyURL: s.VerifyURL(id), KeyID: s.opts.Signer.ID, Status: StatusIssued}
	if err := s.fill(ctx, r, per); err != nil {
		return nil, nil, err
	}
	if r.CompanyName == "" {
		err := fmt.Errorf("%w: no record of %s arrived by %s", ErrUnknownCompany, r.Company, per.asOf)
		return nil, nil, s.opts.Authorizer.Refused(ctx, p, access.ActionAssess, access.Resource{Kind: "company", ID: r.Company, Operation: ActionIssue}, err)
	}
	font, err := loadFont(s.opts.FontPath)
	if err != nil {
		return nil, nil, err
	}
	doc, err := render(r, font)
	if err != nil {
		return nil, nil, err
	}
	file, digest, err := s.opts.Signer.Sign(doc, id)
	if err != nil {
		return nil, nil, err
	}
	r.Digest = digest
	js, err := json.Marshal(r)
	if err != nil {
		return nil, nil, err
	}
	err = s.db.Tx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO reports_issued (id, company_code, purpose, issued_at_ns, issued_by, institution_id, key_id,
			sha256, content, pdf) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Company, string(r.Purpose), now.UnixNano(), r.IssuedBy,
			p.InstitutionID, r.KeyID, digest, string(js), file); err != nil {
			return err
		}
		_, err := s.opts.Audit.AppendTx(ctx, tx, audit.Entry{Actor: p.Actor(), Action: ActionIssue, Subject: "report:" + r.ID,
			After: map[string]any{"company": r.Company, "purpose": r.Purpose, "from": r.From, "to": r.To, "sha256": digest,
				"key": r.KeyID, "requested_as": as}})
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: record report %s: %v", ErrUnavailable, r.ID, err)
	}
	return r, file, nil
}

// fill writes the content of r: the company's name, the rating and a section
// per department of the purpose.
func (s *Service) fill(ctx context.Context, r *Report, per period) error {
	ids := purposeDepartments[r.Purpose]
	c := &content{store: s.opts.Store, code: r.Company, p: per}
	if err := c.load(ctx, ids); err != nil {
		return err
	}
	r.CompanyName, r.CompanyStatus = c.companyName, c.companyStatus
	for _, id := range ids {
		r.Sections = append(r.Sections, c.section(departmentByID(id)))
	}
	if s.opts.Scores == nil {
		return nil
	}
	pts, err := s.opts.Scores.History(ctx, r.Company)
	if err != nil {
		return fmt.Errorf("%w: score history of %s: %v", ErrUnavailable, r.Company, err)
	}
	// The latest scored date on or before the issue date.
	for i := len(pts) - 1; i >= 0; i-- {
		pt := pts[i]
		if pt.AsOf > per.asOf.String() {
			continue
		}
		r.Rating = &Rating{AsOf: pt.AsOf, Rating: pt.Rating, Colour: pt.Colour, Models: pt.Models, PolicyVersion: pt.Policy}
		break
	}
	return nil
}

// stored is one row of the reports table.
type stored struct {
	r           Report
	institution int64
	pdf         []byte
}

func (s *Service) load(ctx context.Context, id string) (*stored, error) {
	if !idRE.MatchString(id) {
		return nil, fmt.Errorf("%w: %q is not a report number", ErrNotFound, id)
	}
	var st stored
	var js string
	var revokedNS int64
	var revokedBy, reason string
	err := metadb.ScanOne(s.db.QueryRow(ctx, `SELECT content, institution_id, pdf, revoked_at_ns, revoked_by, revoke_reason
		FROM reports_issued WHERE id = ?`, id), &js, &st.institution, &st.pdf, &revokedNS, &revokedBy, &reason)
	if errors.Is(err, metadb.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read report %s: %v", ErrUnavailable, id, err)
	}
	if err := json.Unmarshal([]byte(js), &st.r); err != nil {
		return nil, fmt.Errorf("reports: stored report %s does not parse: %w", id, err)
	}
	if revokedNS != 0 {
		st.r.Status, st.r.RevokedAt, st.r.RevokedBy, st.r.RevokeReason = StatusRevoked, time.Unix(0, revokedNS).UTC(), revokedBy, reason
	}
	return &st, nil
}

// Get returns report id and its signed PDF to p, under the rule of issuing one
// for its company now.
func (s *Service) Get(ctx context.Context, p access.Principal, id string) (*Report, []byte, error) {
	st, err := s.load(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.authorize(ctx, p, st.r.Company, ActionRead); err != nil {
		return nil, nil, err
	}
	return &st.r, st.pdf, nil
}

// Revoke withdraws report id; reason is required. Platform administrators only
// (access.ActionRevokeReport).
func (s *Service) Revoke(ctx context.Context, p access.Principal, id, reason string) (*Report, error) {
	reason = strings.TrimSpace(reason)
	res := access.Resource{Kind: "report", ID: id}
	if err := s.opts.Authorizer.Authorize(ctx, p, access.ActionRevokeReport, res); err != nil {
		return nil, err
	}
	if reason == "" || len(reason) > 1000 {
		return nil, fmt.Errorf("%w: a revocation needs a reason of 1 to 1000 bytes", ErrInvalid)
	}
	st, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.r.Status == StatusRevoked {
		return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionRevokeReport, res,
			fmt.Errorf("%w: report %s was revoked at %s", ErrConflict, id, st.r.RevokedAt.Format(time.RFC3339)))
	}
	now := s.opts.Now().UTC()
	err = s.db.Tx(ctx, func(tx *metadb.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE reports_issued SET revoked_at_ns = ?, revoked_by = ?, revoke_reason = ? WHERE id = ? AND revoked_at_ns = 0`,
			now.UnixNano(), p.Actor(), reason, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("%w: report %s was revoked meanwhile", ErrConflict, id)
		}
		_, err = s.opts.Audit.AppendTx(ctx, tx, audit.Entry{Actor: p.Actor(), Action: string(access.ActionRevokeReport), Subject: "report:" + id,
			Reason: reason, Before: map[string]any{"status": StatusIssued}, After: map[string]any{"status": StatusRevoked, "company": st.r.Company}})
		return err
	})
	if errors.Is(err, ErrConflict) {
		return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionRevokeReport, res, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: revoke report %s: %v", ErrUnavailable, id, err)
	}
	st.r.Status, st.r.RevokedAt, st.r.RevokedBy, st.r.RevokeReason = StatusRevoked, now, p.Actor(), reason
	return &st.r, nil
}

// Verify checks an uploaded report file: its signature under one of the
// service's keys, that the report was issued here with that very digest, and
// that it is not revoked. actor names the caller in the audit log; every answer
// that is not valid is audited as a refused verification. The error is nil when
// the verification could be done, whatever its outcome; v says the outcome.
func (s *Service) Verify(ctx context.Context, actor string, file []byte) (*Verification, error) {
	sig, err := VerifyFile(file, s.keys...)
	v := &Verification{ReportID: sig.ReportID, KeyID: sig.KeyID}
	if err == nil {
		v.Digest = hex.EncodeToString(sig.Digest[:])
		err = s.check(ctx, v, sig.ReportID, v.Digest)
	}
	return s.outcome(ctx, actor, v, err)
}

// VerifyID checks report id as the platform holds it (the QR code's address):
// issued here, its stored file's signature good, and not revoked.
func (s *Service) VerifyID(ctx context.Context, actor, id string) (*Verification, error) {
	v := &Verification{ReportID: id}
	st, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("%w: %v", ErrNotIssued, err)
	}
	if err == nil {
		var sig Signature
		sig, err = VerifyFile(st.pdf, s.keys...)
		v.KeyID = sig.KeyID
		if err == nil {
			v.Digest = hex.EncodeToString(sig.Digest[:])
			err = s.check(ctx, v, id, v.Digest)
		}
	}
	return s.outcome(ctx, actor, v, err)
}

// check compares a verified signature with the record of the report.
func (s *Service) check(ctx context.Context, v *Verification, id, digest string) error {
	st, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: no report %s was issued here", ErrNotIssued, id)
	}
	if err != nil {
		return err
	}
	v.Company, v.Purpose, v.IssuedAt = st.r.Company, st.r.Purpose, st.r.IssuedAt
	if st.r.Digest != digest {
		return fmt.Errorf("%w: report %s was issued with digest %s, the file has %s", ErrNotIssued, id, st.r.Digest, digest)
	}
	if st.r.Status == StatusRevoked {
		v.RevokedAt, v.RevokeReason = st.r.RevokedAt, st.r.RevokeReason
		return fmt.Errorf("%w: report %s was revoked at %s: %s", ErrRevoked, id, st.r.RevokedAt.Format(time.RFC3339), st.r.RevokeReason)
	}
	return nil
}

func (s *Service) outcome(ctx context.Context, actor string, v *Verification, err error) (*Verification, error) {
	if errors.Is(err, ErrUnavailable) {
		return nil, err
	}
	if err == nil {
		v.Valid, v.Status = true, StatusIssued
		return v, nil
	}
	v.Status, v.Reason = errStatus(err), err.Error()
	if v.Status == "error" {
		return nil, err
	}
	subject := "report"
	if v.ReportID != "" && idRE.MatchString(v.ReportID) {
		subject = "report:" + v.ReportID
	}
	if _, aerr := s.opts.Audit.Append(context.WithoutCancel(ctx), audit.Entry{Actor: actor, Action: ActionVerify, Subject: subject,
		Outcome: audit.OutcomeRefused, Reason: err.Error(), After: map[string]any{"status": v.Status, "key": v.KeyID}}); aerr != nil {
		return nil, fmt.Errorf("%w: audit of a refused verification: %v", ErrUnavailable, aerr)
	}
	return v, nil
}
