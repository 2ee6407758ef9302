package financing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Sentinel errors, wrapped with context.
var (
	// ErrInvalid: bad input (amount, term, rule, reason code, …). HTTP 400.
	ErrInvalid = errors.New("financing: invalid input")
	// ErrNotFound: no such request, offer, product, loan or proposal visible to
	// the caller. HTTP 404.
	ErrNotFound = errors.New("financing: not found")
	// ErrState: the thing is not in a state that allows the step (a closed
	// request, an offer already decided). HTTP 409.
	ErrState = errors.New("financing: not allowed in this state")
	// ErrExpired: the offer or request is past its expiry. HTTP 410.
	ErrExpired = errors.New("financing: expired")
	// ErrFourEyes: the proposer of a product change tried to approve it. It wraps
	// access.ErrForbidden. HTTP 403.
	ErrFourEyes = fmt.Errorf("%w: four eyes: the proposer of a change cannot approve it", access.ErrForbidden)
	// ErrUnavailable: a dependency (assessment, consent store, object store)
	// failed; the caller may retry. HTTP 503.
	ErrUnavailable = errors.New("financing: unavailable")
)

// Guarantee is a request's or loan's collateral or guarantee type.
type Guarantee string

// The guarantee types.
const (
	Credit     Guarantee = "credit"    // unsecured (信用)
	Guaranteed Guarantee = "guarantee" // a guarantor (保证)
	Mortgage   Guarantee = "mortgage"  // real estate (抵押)
	Pledge     Guarantee = "pledge"    // receivables, equity, IP (质押)
)

// ParseGuarantee checks a guarantee type.
func ParseGuarantee(s string) (Guarantee, error) {
	switch g := Guarantee(s); g {
	case Credit, Guaranteed, Mortgage, Pledge:
		return g, nil
	}
	return "", fmt.Errorf("%w: guarantee type %q (one of credit, guarantee, mortgage, pledge)", ErrInvalid, s)
}

// DeclineReason is one code of the fixed list a bank declines with.
type DeclineReason struct {
	Code   string `json:"code"`
	NameZH string `json:"name_zh"`
	NameEN string `json:"name_en"`
}

// DeclineReasons is the fixed list of reason codes.
var DeclineReasons = []DeclineReason{
	{"credit_risk", "信用风险过高", "credit risk too high"},
	{"insufficient_history", "经营年限或数据不足", "insufficient operating history or data"},
	{"over_limit", "超出可授信额度", "amount above the credit limit"},
	{"industry_policy", "行业政策限制", "industry policy"},
	{"region", "不在服务区域", "outside the bank's region"},
	{"collateral", "担保或抵押不足", "insufficient collateral or guarantee"},
	{"term", "期限不符", "term not offered"},
	{"overdue", "存在逾期或不良记录", "overdue or non-performing record"},
	{"legal_risk", "涉诉或被执行", "litigation or enforcement"},
	{"other", "其他", "other"},
}

func checkReasons(codes []string) error {
	if len(codes) == 0 {
		return fmt.Errorf("%w: a decline needs at least one reason code", ErrInvalid)
	}
	if len(codes) > len(DeclineReasons) {
		return fmt.Errorf("%w: %d reason codes, at most %d", ErrInvalid, len(codes), len(DeclineReasons))
	}
outer:
	for _, c := range codes {
		for _, r := range DeclineReasons {
			if r.Code == c {
				continue outer
			}
		}
		return fmt.Errorf("%w: unknown decline reason %q", ErrInvalid, c)
	}
	return nil
}

// Company is what the platform knows of a company for matching and statistics.
type Company struct {
	Code     string
	Industry string    // GB/T 4754 section letter
	District string    // 6-digit division code
	Size     string    // micro, small, medium, large
	Founded  time.Time // zero when unknown
	// HadLoan reports a loan before the platform's records (from the loan
	// source); with the platform's own loans it decides a first loan (首贷).
	HadLoan bool
}

// Directory looks companies up. Nil in Options: attributes are unknown ("").
type Directory interface {
	Company(ctx context.Context, code string) (Company, error)
}

// Assessment is the platform's assessment of a company as a bank's inbox shows it.
type Assessment struct {
	PD      float64  `json:"pd"`
	Rating  string   `json:"rating"`
	Colour  string   `json:"colour"`
	Limit   float64  `json:"limit"`
	Reasons []string `json:"reasons"`
	// ReasonsZH and ReasonsEN say the reasons in words, in the order of Reasons.
	ReasonsZH     []string `json:"reasons_zh,omitempty"`
	ReasonsEN     []string `json:"reasons_en,omitempty"`
	Models        []string `json:"models"` // "task:name/version"
	PolicyVersion string   `json:"policy_version"`
}

// Assessor assesses a company on behalf of p, who must be allowed to see it
// (access.ActionAssess): the company's own account when it posts a request
// (auto-approval), a bank named in a request (it holds the request-scoped
// consent) for its inbox, a bank with the company's consent for a pre-credit
// push, and Options.Service for renewal notices. Every assessment is thus
// authorized and audited where serving assesses. The server wires an adapter
// over serving.Service.
type Assessor interface {
	Assess(ctx context.Context, p access.Principal, code string) (Assessment, error)
}

// ChampionScorer is the optional ability to score a company with a bank's own
// champion model; ok is false when the bank has none.
type ChampionScorer interface {
	ChampionScore(ctx context.Context, bankID int64, code string) (score float64, model string, ok bool, err error)
}

// Grant is a consent the financing loop asks for on the company's behalf.
type Grant struct {
	Company     string
	Institution int64
	Scope       string
	Purpose     string // "financing_request:<id>", "loan:<id>"
	ExpiresAt   time.Time
}

// Consents grants and revokes consents; AccessConsents adapts *access.Store.
type Consents interface {
	GrantConsent(ctx context.Context, actor string, g Grant) (id int64, err error)
	RevokeConsent(ctx context.Context, actor string, id int64) error
}

// Notice is a message to a company or an institution: a renewal reminder with a
// fresh assessment, or a warning that a request went unanswered.
type Notice struct {
	Kind        string      `json:"kind"` // NoticeRenewal, NoticeUnanswered
	Institution int64       `json:"institution_id,omitempty"`
	Company     string      `json:"company_code"`
	RequestID   int64       `json:"request_id,omitempty"`
	LoanID      int64       `json:"loan_id,omitempty"`
	Due         time.Time   `json:"due"`
	Assessment  *Assessment `json:"assessment,omitempty"`
}

// Notice kinds.
const (
	NoticeRenewal    = "financing.renewal"
	NoticeUnanswered = "financing.unanswered"
)

// Notifier delivers notices (the server wires it to webhook and warning
// delivery). Nil in Options: notices are only audited.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Authorizer is the one authority (access.Authorizer implements it).
type Authorizer interface {
	Authorize(ctx context.Context, p access.Principal, action access.Action, res access.Resource) error
	Refused(ctx context.Context, p access.Principal, action access.Action, res access.Resource, err error) error
}

// Options configure a Store.
type Options struct {
	// Authorizer decides every step. Required.
	Authorizer Authorizer
	// Audit receives a record of every change, in the change's transaction.
	// Required.
	Audit *audit.Log
	// Consents grants request- and loan-scoped consents. Required.
	Consents Consents
	// Assessor assesses companies for inboxes, auto-approval, pre-credit and
	// renewal. Required.
	Assessor Assessor
	// Directory gives industry, district, size and age. Nil: unknown.
	Directory Directory
	// Champions scores with a bank's own champion. Nil: none.
	Champions ChampionScorer
	// Service is the principal periodic jobs assess as (renewal notices): a
	// service account allowed ActionAssess on every company, such as one with the
	// regulator role at the supervising regulator. Zero: renewal notices carry no
	// assessment.
	Service access.Principal
	// Notifier delivers renewal and unanswered notices. Nil: audited only.
	Notifier Notifier
	// Blob is the object store; each bank's repayments and labels are kept under
	// banks/<id>/ of it. Required for repayments and labels.
	Blob blob.Store
	// RequestTTL is how long a request stays open. Default 30 days.
	RequestTTL time.Duration
	// OfferTTL is how long an answer to a request may be accepted. Default 7 days.
	OfferTTL time.Duration
	// PreCreditTTL is how long a pushed pre-credit offer may be accepted. Default
	// 30 days.
	PreCreditTTL time.Duration
	// RenewalWindow extends the lending bank's loan consent past maturity.
	// Default 90 days.
	RenewalWindow time.Duration
	// RenewalNotice is how long before maturity the company and the bank are
	// notified. Default 30 days.
	RenewalNotice time.Duration
	// AnswerDeadline is how long a named bank may leave a request unanswered
	// before a warning. Default 3 days.
	AnswerDeadline time.Duration
	// MaxBatch bounds the companies of one pre-credit push, the loans of one
	// guarantee batch and the codes of one list. Default 10,000.
	MaxBatch int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives failures that do not fail a call. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields.
func (o *Options) EnsureDefaults() {
	if o.RequestTTL <= 0 {
		o.RequestTTL = 30 * 24 * time.Hour
	}
	if o.OfferTTL <= 0 {
		o.OfferTTL = 7 * 24 * time.Hour
	}
	if o.PreCreditTTL <= 0 {
		o.PreCreditTTL = 30 * 24 * time.Hour
	}
	if o.RenewalWindow <= 0 {
		o.RenewalWindow = 90 * 24 * time.Hour
	}
	if o.RenewalNotice <= 0 {
		o.RenewalNotice = 30 * 24 * time.Hour
	}
	if o.AnswerDeadline <= 0 {
		o.AnswerDeadline = 3 * 24 * time.Hour
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}
