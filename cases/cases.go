package cases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
)

// Errors of the package, wrapped with what was wrong.
var (
	// ErrInvalid: bad input (an unknown source, a malformed key, missing
	// obligations or commitment, a correction of a key column). HTTP 400.
	ErrInvalid = errors.New("cases: invalid input")
	// ErrNotFound: no such case. HTTP 404.
	ErrNotFound = errors.New("cases: not found")
	// ErrUnknownRecord: the record disputed or to repair is not stored. HTTP 404.
	ErrUnknownRecord = errors.New("cases: unknown record")
	// ErrNotOwnRecord: the record belongs to another company. HTTP 403.
	ErrNotOwnRecord = errors.New("cases: record of another company")
	// ErrState: the case is not in a state the step applies to (decided,
	// withdrawn, awaiting the other reviewer), or an open case of the record
	// exists. HTTP 409.
	ErrState = errors.New("cases: not allowed in this state")
	// ErrPeriod: the repair period rules refuse (the minimum publicity has not
	// passed, the maximum has, the record is not publicised). HTTP 422.
	ErrPeriod = errors.New("cases: outside the repair period")
	// ErrNotRepairable: the record cannot be repaired by the platform (a court
	// dishonest-debtor listing, a record of another source, one no longer in
	// force). HTTP 422.
	ErrNotRepairable = errors.New("cases: record cannot be repaired here")
	// ErrSamePerson: the second approval step is taken by the person who took the
	// first. HTTP 403.
	ErrSamePerson = errors.New("cases: the two approval steps need two different people")
)

// Kind is the kind of a case.
type Kind string

// Case kinds.
const (
	// KindObjection: a company disputes one record (异议).
	KindObjection Kind = "objection"
	// KindRepair: a company applies to repair one administrative-penalty record
	// (信用修复).
	KindRepair Kind = "repair"
)

// ParseKind checks s names a case kind.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case KindObjection, KindRepair:
		return k, nil
	}
	return "", fmt.Errorf("%w: unknown case kind %q (want objection or repair)", ErrInvalid, s)
}

// State is where a case stands.
type State string

// States. An objection goes from review to corrected, rejected or withdrawn; a
// repair from review (the owning department) to authority (the credit
// authority) to repaired, or to rejected at either step, or withdrawn before the
// end.
const (
	StateReview    State = "review"
	StateAuthority State = "authority"
	StateCorrected State = "corrected"
	StateRepaired  State = "repaired"
	StateRejected  State = "rejected"
	StateWithdrawn State = "withdrawn"
)

// Open reports whether a case in state s still waits for someone.
func (s State) Open() bool { return s == StateReview || s == StateAuthority }

// Step names an act on a case (its audit action is "case." + the step).
type Step string

// Steps.
const (
	StepOpen     Step = "open"     // the company files the case
	StepDeadline Step = "deadline" // the department sets the review deadline
	StepCorrect  Step = "correct"  // the department corrects the record (objection)
	StepReject   Step = "reject"   // the reviewer rejects, with reasons
	StepWithdraw Step = "withdraw" // the company withdraws
	StepApprove  Step = "approve"  // the department approves a repair (first step)
	StepFinal    Step = "final"    // the credit authority approves a repair (second step)
)

// transitions lists, per kind and state, the steps allowed and the state each
// leads to.
var transitions = map[Kind]map[State]map[Step]State{
	KindObjection: {
		StateReview: {StepDeadline: StateReview, StepCorrect: StateCorrected, StepReject: StateRejected, StepWithdraw: StateWithdrawn},
	},
	KindRepair: {
		StateReview:    {StepDeadline: StateReview, StepApprove: StateAuthority, StepReject: StateRejected, StepWithdraw: StateWithdrawn},
		StateAuthority: {StepFinal: StateRepaired, StepReject: StateRejected, StepWithdraw: StateWithdrawn},
	},
}

// Next returns the state step leads to from a case's state, or an error
// wrapping ErrState naming the steps that are allowed.
func Next(kind Kind, from State, step Step) (State, error) {
	to, ok := transitions[kind][from][step]
	if ok {
		return to, nil
	}
	var allowed []string
	for s := range transitions[kind][from] {
		allowed = append(allowed, string(s))
	}
	slices.Sort(allowed)
	if len(allowed) == 0 {
		return "", fmt.Errorf("%w: %s case is %s: nothing more can be done", ErrState, kind, from)
	}
	return "", fmt.Errorf("%w: %s of a %s case that is %s (allowed: %v)", ErrState, step, kind, from, allowed)
}

// Case is one objection or repair application.
type Case struct {
	ID      int64     `json:"id"`
	Kind    Kind      `json:"kind"`
	State   State     `json:"state"`
	Company string    `json:"company"`
	Record  RecordRef `json:"record"`
	// Owner is the department institution that owns the record's source and
	// reviews the case.
	Owner    int64     `json:"owner"`
	OpenedBy string    `json:"opened_by"`
	OpenedAt time.Time `json:"opened_at"`
	Deadline time.Time `json:"deadline"`
	// Statement is the company's case: why the record is wrong (objection), or
	// how the obligations were fulfilled (repair).
	Statement string `json:"statement"`
	// Original is the record's values when the case was opened.
	Original map[string]string `json:"original"`
	Revision int32             `json:"revision"`
	// Repair is set for repair cases.
	Repair    *Repair   `json:"repair,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	Steps     []Entry   `json:"steps"`
	// Late is set by the Service when the case is open past its deadline.
	Late bool `json:"overdue,omitempty"`
}

// Overdue says whether an open case is past its deadline at now.
func (c *Case) Overdue(now time.Time) bool { return c.State.Open() && now.After(c.Deadline) }

// Repair is what a repair application declares and what the rules said.
type Repair struct {
	// Fulfilled is the company's declaration that the obligations of the
	// penalty (fine paid, conduct corrected) are fulfilled; Evidence says how.
	Fulfilled bool   `json:"fulfilled"`
	Evidence  string `json:"evidence"`
	// Commitment is the public credit commitment (信用承诺), stored as made.
	Commitment   string    `json:"commitment"`
	RulesVersion string    `json:"rules_version"`
	Class        string    `json:"class"`
	RepairFrom   time.Time `json:"repair_from"`
	Until        time.Time `json:"publicity_until"`
}

// Entry is one step taken on a case.
type Entry struct {
	Step   Step      `json:"step"`
	State  State     `json:"state"`
	By     string    `json:"by"`
	UserID int64     `json:"user_id"`
	At     time.Time `json:"at"`
	Note   string    `json:"note,omitempty"`
	// Values are the corrected values of a correction.
	Values map[string]string `json:"values,omitempty"`
	// Batch is the ingestion batch a correction or end of publicity went in as.
	Batch string `json:"batch,omitempty"`
}

// Dispute marks a record under objection (异议标注), for every surface that
// shows the record.
type Dispute struct {
	Record   RecordRef `json:"record"`
	Case     int64     `json:"case"`
	Since    time.Time `json:"since"`
	Deadline time.Time `json:"deadline"`
}

// Authorizer decides and audits refusals; *access.Authorizer implements it.
type Authorizer interface {
	Authorize(ctx context.Context, p access.Principal, action access.Action, res access.Resource) error
	Refused(ctx context.Context, p access.Principal, action access.Action, res access.Resource, err error) error
}

// Auditor records every step; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Record, error)
}

// Refresher recomputes what a changed record affects (materialization of the
// snapshots from the day of the change, scores, warnings) — the server enqueues
// the jobs. company is "" when records of several companies changed at once
// (publicity expiry). An error is logged; the change stands.
type Refresher interface {
	Refresh(ctx context.Context, company, source string, from time.Time) error
}

// Options configure a Service. Store, Ingest, Records, Authorizer, Audit and
// Owner are required.
type Options struct {
	Store *Store
	// Ingest delivers corrections and ends of publicity; *ingest.Ingester
	// implements it.
	Ingest     Ingester
	Records    Records
	Authorizer Authorizer
	Audit      Auditor
	// Owner returns the department institution that owns a source, as ingestion
	// is configured (ingest's httpapi.OwnersByName); 0: none, so no department
	// can review cases of it.
	Owner func(ctx context.Context, source string) (int64, error)
	// Rules is the repair rule table. Default DefaultRules().
	Rules *Rules
	// ReviewDays is the review deadline, in days, of a case whose department set
	// none. Default 15.
	ReviewDays int
	// SourceReviewDays sets a department's own deadline per source (days).
	SourceReviewDays map[string]int
	// Refresher, when set, is told of every record a case changed.
	Refresher Refresher
	// Now is the clock: case times and the arrival of corrections. Default
	// time.Now.
	Now func() time.Time
	// Logger. Default: none.
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields.
func (o *Options) EnsureDefaults() error {
	if o.Rules == nil {
		r, err := DefaultRules()
		if err != nil {
			return err
		}
		o.Rules = r
	}
	if o.ReviewDays <= 0 {
		o.ReviewDays = 15
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
