package cases

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// Ingester delivers rows into a raw source; *ingest.Ingester implements it.
type Ingester interface {
	Ingest(ctx context.Context, source string, inputs []ingest.Input, opts ingest.Options) (*ingest.Report, error)
}

// Bounds of what a company or a reviewer writes.
const (
	maxText   = 8000 // bytes of a statement, evidence, commitment or note
	maxValues = 64   // corrected columns
)

// Service runs the cases: every act is authorized by internal/access (refusals
// audited), written with its audit record, and every change to a record goes in
// through ingestion.
type Service struct {
	opts Options
}

// New returns the service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Ingest == nil || opts.Records == nil || opts.Authorizer == nil || opts.Audit == nil || opts.Owner == nil {
		return nil, fmt.Errorf("%w: cases need Store, Ingest, Records, Authorizer, Audit and Owner", ErrInvalid)
	}
	if err := opts.EnsureDefaults(); err != nil {
		return nil, err
	}
	return &Service{opts: opts}, nil
}

// Rules returns the repair rule table in use.
func (s *Service) Rules() *Rules { return s.opts.Rules }

// Objection is what a company files to dispute a record.
type Objection struct {
	Company string    `json:"company"`
	Record  RecordRef `json:"record"`
	// Statement says what is wrong with the record.
	Statement string `json:"statement"`
}

// Application is what a company files to repair a penalty record.
type Application struct {
	Company   string    `json:"company"`
	Record    RecordRef `json:"record"`
	Statement string    `json:"statement"`
	// Fulfilled declares the penalty's obligations fulfilled; Evidence says how
	// (receipt numbers, the rectification report).
	Fulfilled bool   `json:"fulfilled"`
	Evidence  string `json:"evidence"`
	// Commitment is the company's public credit commitment (信用承诺).
	Commitment string `json:"commitment"`
}

func checkText(what, s string, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case required && s == "":
		return "", fmt.Errorf("%w: %s is required", ErrInvalid, what)
	case len(s) > maxText:
		return "", fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, what, maxText)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%w: %s is not UTF-8 text", ErrInvalid, what)
	}
	return s, nil
}

// companyResource is the resource of acting for company.
func companyResource(code, op string) access.Resource {
	return access.Resource{Kind: "company", ID: code, Operation: op}
}

// opened checks the company, authorizes acting for it and finds the record,
// which must be the company's own and still in force; every refusal is audited.
func (s *Service) opened(ctx context.Context, p access.Principal, company string, ref RecordRef, op string) (Fact, access.Resource, error) {
	code := creditcode.Normalize(company)
	res := companyResource(code, op)
	if err := creditcode.Validate(code); err != nil {
		return Fact{}, res, s.opts.Authorizer.Refused(ctx, p, access.ActionActForCompany, res, fmt.Errorf("%w: company %q: %v", ErrInvalid, company, err))
	}
	if err := s.opts.Authorizer.Authorize(ctx, p, access.ActionActForCompany, res); err != nil {
		return Fact{}, res, err
	}
	refuse := func(err error) (Fact, access.Resource, error) {
		return Fact{}, res, s.opts.Authorizer.Refused(ctx, p, access.ActionActForCompany, res, err)
	}
	ref, err := ParseRecordRef(ref)
	if err != nil {
		return refuse(err)
	}
	f, err := s.opts.Records.Fact(ctx, ref)
	if errors.Is(err, ErrUnknownRecord) {
		return refuse(err)
	}
	if err != nil {
		return Fact{}, res, err
	}
	if f.Company != code {
		// Name neither the other company nor anything of its record.
		return refuse(fmt.Errorf("%w: %s is not a record of %s", ErrNotOwnRecord, ref, code))
	}
	if !f.Counts() {
		return refuse(fmt.Errorf("%w: %s no longer counts (withdrawn by its department or its publicity ended)", ErrState, ref))
	}
	return f, res, nil
}

// deadline is the review deadline of a case of source opened at now.
func (s *Service) deadline(source string, now time.Time) time.Time {
	days := s.opts.ReviewDays
	if d, ok := s.opts.SourceReviewDays[source]; ok && d > 0 {
		days = d
	}
	return now.AddDate(0, 0, days)
}

// owner finds the reviewing department of source.
func (s *Service) owner(ctx context.Context, source string) (int64, error) {
	id, err := s.opts.Owner(ctx, source)
	if err != nil {
		return 0, fmt.Errorf("cases: owner of %s: %w", source, err)
	}
	if id == 0 {
		return 0, fmt.Errorf("%w: no department is configured as the owner of source %s, so nobody could review the case", ErrInvalid, source)
	}
	return id, nil
}

// Object files an objection: the company disputes one of its records. The case
// goes to the department owning the record's source with the review deadline,
// and the record is marked disputed until the case ends.
func (s *Service) Object(ctx context.Context, p access.Principal, o Objection) (*Case, error) {
	op := "case.objection.open"
	f, res, err := s.opened(ctx, p, o.Company, o.Record, op)
	if err != nil {
		return nil, err
	}
	stmt, err := checkText("statement", o.Statement, true)
	if err != nil {
		return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionActForCompany, res, err)
	}
	owner, err := s.owner(ctx, f.Ref.Source)
	if err != nil {
		return nil, s.refuseInvalid(ctx, p, res, err)
	}
	now := s.opts.Now().UTC()
	c := &Case{Kind: KindObjection, State: StateReview, Company: f.Company, Record: f.Ref, Owner: owner,
		OpenedBy: p.Actor(), OpenedAt: now, Deadline: s.deadline(f.Ref.Source, now), Statement: stmt,
		Original: f.Values, Revision: f.Revision,
		Steps: []Entry{{Step: StepOpen, State: StateReview, By: p.Actor(), UserID: p.UserID, At: now}}}
	if err := s.opts.Store.Insert(ctx, c); err != nil {
		return nil, s.refuseInvalid(ctx, p, res, err)
	}
	return s.opts.Store.Get(ctx, c.ID)
}

// refuseInvalid audits err as a refusal when it is one (bad input, a state
// conflict) and returns it.
func (s *Service) refuseInvalid(ctx context.Context, p access.Principal, res access.Resource, err error) error {
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrState) {
		return s.opts.Authorizer.Refused(ctx, p, access.ActionActForCompany, res, err)
	}
	return err
}

// Apply files a credit repair application for an administrative-penalty
// record: the record's class must be publicised, its minimum publicity passed and
// its maximum not, the obligations declared fulfilled with evidence, and a
// credit commitment made. A court dishonest-debtor listing is refused: only the
// court ends it.
func (s *Service) Apply(ctx context.Context, p access.Principal, a Application) (*Case, error) {
	op := "case.repair.open"
	f, res, err := s.opened(ctx, p, a.Company, a.Record, op)
	if err != nil {
		return nil, err
	}
	refuse := func(err error) (*Case, error) {
		return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionActForCompany, res, err)
	}
	now := s.opts.Now().UTC()
	rep, err := s.repairTerms(f, now)
	if err != nil {
		return refuse(err)
	}
	if !a.Fulfilled {
		return refuse(fmt.Errorf("%w: repair needs the penalty's obligations fulfilled (declare fulfilled, with evidence)", ErrInvalid))
	}
	if rep.Evidence, err = checkText("evidence of the fulfilled obligations", a.Evidence, true); err != nil {
		return refuse(err)
	}
	if rep.Commitment, err = checkText("credit commitment (信用承诺)", a.Commitment, true); err != nil {
		return refuse(err)
	}
	stmt, err := checkText("statement", a.Statement, false)
	if err != nil {
		return refuse(err)
	}
	rep.Fulfilled = true
	owner, err := s.owner(ctx, f.Ref.Source)
	if err != nil {
		return nil, s.refuseInvalid(ctx, p, res, err)
	}
	c := &Case{Kind: KindRepair, State: StateReview, Company: f.Company, Record: f.Ref, Owner: owner,
		OpenedBy: p.Actor(), OpenedAt: now, Deadline: s.deadline(f.Ref.Source, now), Statement: stmt,
		Original: f.Values, Revision: f.Revision, Repair: rep,
		Steps: []Entry{{Step: StepOpen, State: StateReview, By: p.Actor(), UserID: p.UserID, At: now}}}
	if err := s.opts.Store.Insert(ctx, c); err != nil {
		return nil, s.refuseInvalid(ctx, p, res, err)
	}
	return s.opts.Store.Get(ctx, c.ID)
}

// repairTerms applies the rule table to a fact at now.
func (s *Service) repairTerms(f Fact, now time.Time) (*Repair, error) {
	switch f.Ref.Source {
	case datasets.SourcePenalty:
	case datasets.SourceCourt:
		if f.Values["dishonest"] == "true" {
			return nil, fmt.Errorf("%w: %s is a court dishonest-debtor listing (失信被执行人), which only the court ends through the court source", ErrNotRepairable, f.Ref)
		}
		return nil, fmt.Errorf("%w: court records are ended by the court, not repaired", ErrNotRepairable)
	default:
		return nil, fmt.Errorf("%w: credit repair applies to administrative-penalty records (source penalty), not %s", ErrNotRepairable, f.Ref.Source)
	}
	sev, err := strconv.Atoi(f.Values["severity"])
	if err != nil {
		return nil, fmt.Errorf("%w: %s has no severity", ErrNotRepairable, f.Ref)
	}
	class, err := s.opts.Rules.ClassOfSeverity(sev)
	if err != nil {
		return nil, err
	}
	if !class.Publicised {
		return nil, fmt.Errorf("%w: %s is of class %s (%s), which is not publicised: there is nothing to repair", ErrPeriod, f.Ref, class.ID, class.NameZh)
	}
	decided := f.Event.Time()
	rep := &Repair{RulesVersion: s.opts.Rules.Version, Class: class.ID, RepairFrom: class.RepairFrom(decided), Until: class.PublicityUntil(decided)}
	day := datasets.DayOf(now.In(ingest.ChinaStandardTime)).Time()
	if day.Before(rep.RepairFrom) {
		return nil, fmt.Errorf("%w: %s (class %s, decided %s) may be repaired from %s, after at least %d months of publicity",
			ErrPeriod, f.Ref, class.ID, f.Event, rep.RepairFrom.Format(time.DateOnly), class.RepairAfterMonths)
	}
	if !day.Before(rep.Until) {
		return nil, fmt.Errorf("%w: the publicity of %s ended by itself on %s (%d months); there is nothing to repair",
			ErrPeriod, f.Ref, rep.Until.Format(time.DateOnly), class.PublicityMonths)
	}
	return rep, nil
}

// loaded reads case id and authorizes p's step on it: the owning department
// while a case is under review, the credit authority once a repair awaits it,
// the company itself for withdrawing. A refusal is audited.
func (s *Service) loaded(ctx context.Context, p access.Principal, id int64, step Step) (*Case, error) {
	c, err := s.opts.Store.Get(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionCaseReview, caseResource(id, 0, step), err)
		}
		return nil, err
	}
	action := access.ActionCaseReview
	res := caseResource(id, c.Owner, step)
	switch {
	case step == StepWithdraw:
		action = access.ActionActForCompany
	case c.State == StateAuthority && (step == StepFinal || step == StepReject):
		action = access.ActionCaseAuthority
	case !c.State.Open() && c.Kind == KindRepair && !decides(p, access.ActionCaseReview, res) && decides(p, access.ActionCaseAuthority, res):
		// A decided repair: the authority is told it is decided, like the department.
		action = access.ActionCaseAuthority
	}
	res.Operation = "case." + string(c.Kind) + "." + string(step)
	if action == access.ActionActForCompany {
		res = companyResource(c.Company, res.Operation)
	}
	if err := s.opts.Authorizer.Authorize(ctx, p, action, res); err != nil {
		return nil, err
	}
	if _, err := Next(c.Kind, c.State, step); err != nil {
		return nil, s.opts.Authorizer.Refused(ctx, p, action, res, err)
	}
	return c, nil
}

func caseResource(id, owner int64, step Step) access.Resource {
	return access.Resource{Kind: "case", ID: strconv.FormatInt(id, 10), Owner: owner, Operation: "case." + string(step)}
}

// advance moves c by step, audited; a concurrent step by someone else gives
// ErrState.
func (s *Service) advance(ctx context.Context, p access.Principal, c *Case, e Entry, deadline time.Time) (*Case, error) {
	to, err := Next(c.Kind, c.State, e.Step)
	if err != nil {
		return nil, err
	}
	e.State, e.By, e.UserID = to, p.Actor(), p.UserID
	if e.At.IsZero() {
		e.At = s.opts.Now().UTC()
	}
	return s.opts.Store.Advance(ctx, c.ID, c.State, e, deadline)
}

// SetDeadline lets the reviewing department set the review deadline of an open
// case (not in the past).
func (s *Service) SetDeadline(ctx context.Context, p access.Principal, id int64, deadline time.Time, note string) (*Case, error) {
	c, err := s.loaded(ctx, p, id, StepDeadline)
	if err != nil {
		return nil, err
	}
	res := caseResource(id, c.Owner, StepDeadline)
	if now := s.opts.Now(); !deadline.After(now) {
		return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionCaseReview, res,
			fmt.Errorf("%w: deadline %s is not after now (%s)", ErrInvalid, deadline.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	if note, err = checkText("note", note, false); err != nil {
		return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionCaseReview, res, err)
	}
	return s.advance(ctx, p, c, Entry{Step: StepDeadline, Note: note}, deadline.UTC())
}

// Reject ends a case with the reviewer's reasons: the department while it
// reviews, the credit authority at a repair's second step.
func (s *Service) Reject(ctx context.Context, p access.Principal, id int64, reasons string) (*Case, error) {
	c, err := s.loaded(ctx, p, id, StepReject)
	if err != nil {
		return nil, err
	}
	if reasons, err = checkText("reasons", reasons, true); err != nil {
		action := access.ActionCaseReview
		if c.State == StateAuthority {
			action = access.ActionCaseAuthority
		}
		return nil, s.opts.Authorizer.Refused(ctx, p, action, caseResource(id, c.Owner, StepReject), err)
	}
	return s.advance(ctx, p, c, Entry{Step: StepReject, Note: reasons}, time.Time{})
}

// Withdraw ends an open case at the company's request.
func (s *Service) Withdraw(ctx context.Context, p access.Principal, id int64, note string) (*Case, error) {
	c, err := s.loaded(ctx, p, id, StepWithdraw)
	if err != nil {
		return nil, err
	}
	if note, err = checkText("note", note, false); err != nil {
		return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionActForCompany, companyResource(c.Company, "case.withdraw"), err)
	}
	return s.advance(ctx, p, c, Entry{Step: StepWithdraw, Note: note}, time.Time{})
}

// Correct decides an objection for the company: the department's corrected
// values of the record go in through ingestion as its next revision, arriving
// now (the decision time); the original stays in the history. Key columns,
// the company and the event date cannot be corrected (that is another record:
// the department retracts this one through its own delivery).
func (s *Service) Correct(ctx context.Context, p access.Principal, id int64, values map[string]string, note string) (*Case, error) {
	c, err := s.loaded(ctx, p, id, StepCorrect)
	if err != nil {
		return nil, err
	}
	res := caseResource(id, c.Owner, StepCorrect)
	refuse := func(err error) (*Case, error) {
		return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionCaseReview, res, err)
	}
	if note, err = checkText("note", note, false); err != nil {
		return refuse(err)
	}
	contract, err := datasets.ContractOf(c.Record.Source)
	if err != nil {
		return nil, err
	}
	if len(values) == 0 || len(values) > maxValues {
		return refuse(fmt.Errorf("%w: a correction names between 1 and %d corrected columns", ErrInvalid, maxValues))
	}
	// The correction applies to the record as it stands now (the department may
	// have delivered a revision since the case was opened).
	cur, err := s.opts.Records.Fact(ctx, c.Record)
	if err != nil {
		return nil, err
	}
	if !cur.Counts() {
		return refuse(fmt.Errorf("%w: %s no longer counts (withdrawn or no longer public); reject the objection instead", ErrState, c.Record))
	}
	row := make(map[string]string, len(contract.Columns))
	for k, v := range cur.Values {
		row[k] = v
	}
	changed := map[string]string{}
	for k, v := range values {
		col, ok := contract.Column(k)
		switch {
		case !ok:
			return refuse(fmt.Errorf("%w: %s has no column %q", ErrInvalid, contract.Name, k))
		case slices.Contains(contract.Key, k) || k == "code" || k == "event_date":
			return refuse(fmt.Errorf("%w: %s identifies the record and cannot be corrected", ErrInvalid, k))
		case len(v) > maxKeyValue || !utf8.ValidString(v):
			return refuse(fmt.Errorf("%w: value of %s is longer than %d bytes or not UTF-8", ErrInvalid, k, maxKeyValue))
		}
		v = strings.TrimSpace(v)
		if v != row[col.Name] {
			changed[col.Name] = v
		}
		row[col.Name] = v
	}
	if len(changed) == 0 {
		return refuse(fmt.Errorf("%w: the corrected values equal the stored record; reject the objection instead", ErrInvalid))
	}
	now := s.opts.Now().UTC()
	batch, err := s.deliver(ctx, contract, []map[string]string{row}, datasets.RowRecord, fmt.Sprintf("case-%d-correct", id), now)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return refuse(err)
		}
		return nil, err
	}
	out, err := s.advance(ctx, p, c, Entry{Step: StepCorrect, Note: note, Values: changed, Batch: batch, At: now}, time.Time{})
	if err != nil {
		return nil, err
	}
	s.refresh(ctx, c.Company, c.Record.Source, now)
	return out, nil
}

// Approve takes the next approval step of a repair: the owning department's
// (first), then the credit authority's (final) by another person. The final
// approval ends the record's publicity: an end-of-publicity row goes in through
// ingestion arriving now, so indicators change from this day on only.
func (s *Service) Approve(ctx context.Context, p access.Principal, id int64, note string) (*Case, error) {
	c, err := s.opts.Store.Get(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionCaseReview, caseResource(id, 0, StepApprove), err)
		}
		return nil, err
	}
	step := StepApprove
	if c.State == StateAuthority {
		step = StepFinal
	}
	if c, err = s.loaded(ctx, p, id, step); err != nil {
		return nil, err
	}
	action := access.ActionCaseReview
	if step == StepFinal {
		action = access.ActionCaseAuthority
	}
	res := caseResource(id, c.Owner, step)
	if note, err = checkText("note", note, false); err != nil {
		return nil, s.opts.Authorizer.Refused(ctx, p, action, res, err)
	}
	if step == StepApprove {
		return s.advance(ctx, p, c, Entry{Step: StepApprove, Note: note}, time.Time{})
	}
	for _, e := range c.Steps {
		if e.Step == StepApprove && (e.UserID == p.UserID || e.By == p.Actor()) {
			return nil, s.opts.Authorizer.Refused(ctx, p, action, res,
				fmt.Errorf("%w: %s took the department's step of case %d", ErrSamePerson, e.By, id))
		}
	}
	contract, err := datasets.ContractOf(c.Record.Source)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	batch, err := s.deliver(ctx, contract, []map[string]string{c.Original}, datasets.RowEndOfPublicity, fmt.Sprintf("case-%d-repair", id), now)
	if err != nil {
		return nil, err
	}
	out, err := s.advance(ctx, p, c, Entry{Step: StepFinal, Note: note, Batch: batch, At: now}, time.Time{})
	if err != nil {
		return nil, err
	}
	s.refresh(ctx, c.Company, c.Record.Source, now)
	return out, nil
}

func (s *Service) refresh(ctx context.Context, company, source string, from time.Time) {
	if s.opts.Refresher == nil {
		return
	}
	if err := s.opts.Refresher.Refresh(context.WithoutCancel(ctx), company, source, from); err != nil {
		s.opts.Logger.Error("cases: recomputation not requested", "company", company, "source", source, "err", err)
	}
}

// deliver ingests rows of kind into the contract's source, arriving at now, as
// one batch whose id is prefix and the digest of its content (a retry of the
// same decision is the same batch). A record carries every contract column; a
// retraction or end of publicity only the key (ingestion gives it the values of
// the fact in force). A row ingestion refuses is ErrInvalid with its reason.
func (s *Service) deliver(ctx context.Context, c *datasets.Contract, rows []map[string]string, kind datasets.RowKind, prefix string, now time.Time) (string, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	var header []string
	if kind.Void() {
		header = append(slices.Clone(c.Key), datasets.RowKindColumn)
	} else {
		for _, col := range c.Columns {
			header = append(header, col.Name)
		}
	}
	_ = w.Write(header)
	rec := make([]string, len(header))
	for _, r := range rows {
		for i, name := range header {
			rec[i] = r[name]
		}
		if kind.Void() {
			rec[len(rec)-1] = kind.String()
		}
		_ = w.Write(rec)
	}
	w.Flush()
	sum := sha256.Sum256(buf.Bytes())
	id := prefix + "-" + hex.EncodeToString(sum[:8])
	rep, err := s.opts.Ingest.Ingest(ctx, c.Name, []ingest.Input{{Name: id + ".csv", R: bytes.NewReader(buf.Bytes())}},
		ingest.Options{BatchID: id, MaxBad: -1, Now: func() time.Time { return now }, Format: ingest.FormatCSV, Encoding: "utf-8"})
	if errors.Is(err, ingest.ErrRefused) && rep != nil {
		why := rep.Refused
		if len(rep.Examples) > 0 {
			ex := rep.Examples[0]
			why = fmt.Sprintf("%s %s: %s", ex.Column, ex.Reason, ex.Detail)
		}
		return "", fmt.Errorf("%w: the department's source refuses the row: %s", ErrInvalid, why)
	}
	if err != nil {
		return "", fmt.Errorf("cases: deliver to %s: %w", c.Name, err)
	}
	return rep.ID, nil
}

// Get returns case id to the company it is about, the department reviewing it
// or, for a repair, the credit authority.
func (s *Service) Get(ctx context.Context, p access.Principal, id int64) (*Case, error) {
	c, err := s.opts.Store.Get(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionActForCompany, caseResource(id, 0, "view"), err)
		}
		return nil, err
	}
	c.Late = c.Overdue(s.opts.Now())
	res := caseResource(id, c.Owner, "view")
	switch {
	case decides(p, access.ActionCaseReview, res):
		return c, nil
	case c.Kind == KindRepair && decides(p, access.ActionCaseAuthority, res):
		return c, nil
	}
	if err := s.opts.Authorizer.Authorize(ctx, p, access.ActionActForCompany, companyResource(c.Company, "case.view")); err != nil {
		return nil, err
	}
	return c, nil
}

func decides(p access.Principal, action access.Action, res access.Resource) bool {
	_, err := access.Decide(p, action, res)
	return err == nil
}

// Queue names a reviewer's list of cases.
type Queue string

// Queues.
const (
	// QueueReview: the cases about records of the caller's department.
	QueueReview Queue = "review"
	// QueueAuthority: the repairs awaiting the credit authority.
	QueueAuthority Queue = "authority"
)

// ListRequest selects cases: one company's own (Company), or a reviewer's queue.
type ListRequest struct {
	Company string
	Queue   Queue
	// Open keeps only cases still waiting for someone.
	Open  bool
	Kind  Kind
	Limit int
}

// List returns the cases a company or a reviewer may see, newest first.
func (s *Service) List(ctx context.Context, p access.Principal, r ListRequest) ([]*Case, error) {
	f := Filter{Kind: r.Kind, Limit: r.Limit}
	if r.Open {
		f.States = []State{StateReview, StateAuthority}
	}
	switch {
	case r.Company != "" && r.Queue == "":
		code := creditcode.Normalize(r.Company)
		res := companyResource(code, "case.list")
		if err := creditcode.Validate(code); err != nil {
			return nil, s.opts.Authorizer.Refused(ctx, p, access.ActionActForCompany, res, fmt.Errorf("%w: company %q: %v", ErrInvalid, r.Company, err))
		}
		if err := s.opts.Authorizer.Authorize(ctx, p, access.ActionActForCompany, res); err != nil {
			return nil, err
		}
		f.Company = code
	case r.Company == "" && r.Queue == QueueReview:
		res := access.Resource{Kind: "cases", ID: string(QueueReview), Owner: p.InstitutionID, Operation: "case.list"}
		if err := s.opts.Authorizer.Authorize(ctx, p, access.ActionCaseReview, res); err != nil {
			return nil, err
		}
		f.Owner = p.InstitutionID
	case r.Company == "" && r.Queue == QueueAuthority:
		res := access.Resource{Kind: "cases", ID: string(QueueAuthority), Operation: "case.list"}
		if err := s.opts.Authorizer.Authorize(ctx, p, access.ActionCaseAuthority, res); err != nil {
			return nil, err
		}
		f.Kind = KindRepair
		if r.Open {
			f.States = []State{StateAuthority}
		}
	default:
		return nil, fmt.Errorf("%w: list one company's cases (company) or a queue (review or authority), not both or neither", ErrInvalid)
	}
	cs, err := s.opts.Store.List(ctx, f)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	for _, c := range cs {
		c.Late = c.Overdue(now)
	}
	return cs, nil
}

// Disputed lists the records of company under an open objection, for every
// surface that shows them (profile, reports) to mark as disputed (异议标注). It
// does not authorize: the caller shows the records only to whom it may.
func (s *Service) Disputed(ctx context.Context, company string) ([]Dispute, error) {
	return s.opts.Store.Disputed(ctx, creditcode.Normalize(company))
}
