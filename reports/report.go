package reports

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors of the package; transports map them to a status once.
var (
	// ErrInvalid: a request or a file is malformed (the message names what).
	ErrInvalid = errors.New("reports: invalid input")
	// ErrNotFound: no report with that id was issued here.
	ErrNotFound = errors.New("reports: no such report")
	// ErrUnknownCompany: the business registry holds no record of the company, so
	// a report could only say nothing was recorded of a company the platform does
	// not know.
	ErrUnknownCompany = errors.New("reports: company not in the business registry")
	// ErrConflict: the report is already revoked.
	ErrConflict = errors.New("reports: conflict")
	// ErrUnsigned: the file carries no signature line.
	ErrUnsigned = errors.New("reports: file is not signed")
	// ErrBadSignature: the signature does not match the file (a changed byte, another key).
	ErrBadSignature = errors.New("reports: signature does not verify")
	// ErrUnknownKey: the file is signed under a key id this verifier does not hold.
	ErrUnknownKey = errors.New("reports: unknown signing key")
	// ErrRevoked: the report verifies but has been revoked.
	ErrRevoked = errors.New("reports: report revoked")
	// ErrNotIssued: the file verifies but no such report is on record (or its digest differs).
	ErrNotIssued = errors.New("reports: report not on record")
	// ErrUnavailable: a store could not be read or written; the caller may retry.
	ErrUnavailable = errors.New("reports: unavailable")
)

// Purpose is what a report is for; it selects the sections and the wording.
type Purpose string

// The purposes.
const (
	Financing Purpose = "financing" // 融资授信: banks, guarantors
	Bidding   Purpose = "bidding"   // 招标投标: tender offices
	Listing   Purpose = "listing"   // 上市: exchanges, sponsors
	Honours   Purpose = "honours"   // 评优评先: awards and honours
)

// Purposes lists every purpose in a fixed order.
func Purposes() []Purpose { return []Purpose{Financing, Bidding, Listing, Honours} }

// ParsePurpose parses a purpose name.
func ParsePurpose(s string) (Purpose, error) {
	p := Purpose(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Purposes(), p) {
		return p, nil
	}
	return "", fmt.Errorf("%w: purpose %q is not one of financing, bidding, listing, honours", ErrInvalid, s)
}

// purposeText is how a report names its purpose and what it is accepted for.
var purposeText = map[Purpose][2]string{
	Financing: {"融资授信专用：用于向金融机构申请融资、授信与担保", "For financing: loan, credit line and guarantee applications to financial institutions"},
	Bidding:   {"招标投标专用：用于参加招标投标活动时证明无违法违规记录", "For bidding: evidence of the compliance record in public tenders"},
	Listing:   {"上市专用：用于首次公开发行及上市审核中的合规证明", "For listing: compliance evidence in an initial public offering and listing review"},
	Honours:   {"评优评先专用：用于申报评优评先、资质荣誉", "For honours: applications for awards, titles and qualifications"},
}

// DefaultMonths is the period a purpose covers when the request names none.
func (p Purpose) DefaultMonths() int {
	if p == Honours {
		return 12
	}
	return 36
}

// Status of an issued report.
const (
	StatusIssued  = "issued"
	StatusRevoked = "revoked"
)

// Report is one issued credit report: what the PDF says, and its identity.
type Report struct {
	ID          string `json:"id"` // the report number, e.g. XYR-20261206-7F3K9Q2M
	Company     string `json:"company_code"`
	CompanyName string `json:"company_name,omitempty"`
	// CompanyStatus is the registry status on the issue day: 存续 (in operation),
	// 吊销 (licence revoked) or 注销 (closed).
	CompanyStatus string    `json:"company_status,omitempty"`
	Purpose       Purpose   `json:"purpose"`
	From          string    `json:"from"` // first day of the period, YYYY-MM-DD
	To            string    `json:"to"`   // last day of the period
	IssuedAt      time.Time `json:"issued_at"`
	IssuedBy      string    `json:"issued_by"`    // the actor who asked for it
	RequestedAs   string    `json:"requested_as"` // company, bank or regulator: the access rule that allowed it
	Sections      []Section `json:"sections"`
	Rating        *Rating   `json:"rating,omitempty"` // nil: no score on record
	VerifyURL     string    `json:"verify_url"`
	KeyID         string    `json:"key_id"`
	Digest        string    `json:"sha256,omitempty"` // of the PDF bytes before the signature line

	Status       string    `json:"status"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	RevokedBy    string    `json:"revoked_by,omitempty"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
}

// Section is one department's part of a report.
type Section struct {
	Department string   `json:"department"` // id, e.g. "tax"
	NameZh     string   `json:"name_zh"`
	NameEn     string   `json:"name_en"`
	Covered    bool     `json:"covered"`           // the platform receives this department's records
	Sources    []string `json:"sources,omitempty"` // the raw tables read
	// Since and Through are the first and last days the department's data held
	// here covers ("" when it has delivered nothing); ClaimedFrom and ClaimedTo
	// are the days the statement speaks for: the period cut to that span (""
	// when none of the period is covered).
	Since       string   `json:"since,omitempty"`
	Through     string   `json:"through,omitempty"`
	ClaimedFrom string   `json:"claimed_from,omitempty"`
	ClaimedTo   string   `json:"claimed_to,omitempty"`
	StatementZh string   `json:"statement_zh"`
	StatementEn string   `json:"statement_en"`
	Records     []Record `json:"records"`
}

// Record is one fact a section lists.
type Record struct {
	Date     string  `json:"date"`
	KindZh   string  `json:"kind_zh"`
	KindEn   string  `json:"kind_en"`
	Ref      string  `json:"ref,omitempty"` // the department's number (decision, case)
	Amount   float64 `json:"amount,omitempty"`
	DetailZh string  `json:"detail_zh,omitempty"`
	DetailEn string  `json:"detail_en,omitempty"`
}

// Rating is the latest scored figures of the company at issue time.
type Rating struct {
	AsOf          string   `json:"as_of"`
	Rating        string   `json:"rating"`
	Colour        string   `json:"colour"`
	Models        []string `json:"models"` // task=name@version
	PolicyVersion string   `json:"policy_version"`
}

// colourZh names a four-colour code in Chinese.
var colourZh = map[string]string{"blue": "蓝", "green": "绿", "yellow": "黄", "red": "红"}

// Request asks for a report.
type Request struct {
	Company string  `json:"company_code"`
	Purpose Purpose `json:"purpose"`
	// From and To bound the period (YYYY-MM-DD); default the purpose's
	// DefaultMonths ending on the issue date.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Verification is the answer of a verification.
type Verification struct {
	Valid    bool      `json:"valid"`  // signature good, report on record and not revoked
	Status   string    `json:"status"` // issued, revoked, not_issued, bad_signature, unsigned, unknown_key
	ReportID string    `json:"report_id,omitempty"`
	KeyID    string    `json:"key_id,omitempty"`
	Company  string    `json:"company_code,omitempty"`
	Purpose  Purpose   `json:"purpose,omitempty"`
	IssuedAt time.Time `json:"issued_at,omitzero"`
	Digest   string    `json:"sha256,omitempty"`

	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
	Reason       string    `json:"reason,omitempty"` // why it is not valid
}
