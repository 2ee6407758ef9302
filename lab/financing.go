package lab

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// FinOffer is an offer a bank made on a request, or pushed.
type FinOffer struct {
	ID, BankID   int64
	Bank         string
	Amount, Rate float64
	Term         int
	Status       string // open, accepted, declined, expired, withdrawn
	Automated    bool
	ExpiresAt    time.Time
}

// FinRequest is a company's financing request.
type FinRequest struct {
	ID                   int64
	Company, CompanyName string
	Amount               float64
	Term                 int
	Purpose, Guarantee   string
	Status               string
	CreatedAt, Deadline  time.Time
	Offers               []FinOffer
}

// FinInboxItem is a request in a bank's inbox with the platform's assessment.
type FinInboxItem struct {
	Request        FinRequest
	Answered       bool
	PD, Limit      float64
	Rating, Colour string
	// ReasonsZH and ReasonsEN are the assessment's reasons in words.
	ReasonsZH, ReasonsEN []string
	Products             []FinProduct
}

// FinProduct is a bank's product.
type FinProduct struct {
	ID          int64
	Name, Rule  string
	LimitCap    float64
	MaxTerm     int
	Rate        float64
	AutoApprove bool
	AutoCap     float64
}

// FinReason is a decline reason code with its names.
type FinReason struct{ Code, NameZH, NameEN string }

// FinStatsRow is one group of the regulator's view.
type FinStatsRow struct {
	Key                          string
	KeyEN                        string // the key in English where it differs
	Requests, Answered, Approved int
	Demand, Granted              float64
	ApprovalRate, HoursToDecide  float64
	Loans, FirstLoans            int
	UnsecuredShare               float64
}

// FinStats is the regulator's financing view.
type FinStats struct {
	By         string
	Rows       []FinStatsRow
	Total      FinStatsRow
	Unanswered int
}

// Financing is the bank–company financing loop (financing/). Optional. The
// store decides who may take each step and audits refusals.
type Financing interface {
	CompanyRequests(ctx context.Context, p Principal, code string) ([]FinRequest, error)
	// PostRequest posts to the banks named (none: every participating bank).
	PostRequest(ctx context.Context, p Principal, code string, amount float64, term int, purpose, guarantee string, banks []int64) (FinRequest, error)
	AcceptOffer(ctx context.Context, p Principal, id int64) error
	DeclineOffer(ctx context.Context, p Principal, id int64) error
	Inbox(ctx context.Context, p Principal) ([]FinInboxItem, error)
	MakeOffer(ctx context.Context, p Principal, request, product int64, amount, rate float64, term int) error
	Decline(ctx context.Context, p Principal, request int64, reason string) error
	Reasons() []FinReason
	Stats(ctx context.Context, p Principal, by string) (FinStats, error)
	FinancingDesk
}

type companyFinData struct {
	Code     string
	Name     string
	Requests []FinRequest
	Banks    []FinBank
	Loans    []FinLoan
	Flash    string
}

func (s *Server) companyFinPage(q *req, flash string) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	code, err := companyCode(q, "")
	if err != nil {
		return err
	}
	rs, err := s.o.Financing.CompanyRequests(q.ctx(), q.principal(), code)
	if err != nil {
		return err
	}
	banks, err := s.o.Financing.Banks(q.ctx())
	if err != nil {
		return err
	}
	loans, err := s.o.Financing.CompanyLoans(q.ctx(), q.principal(), code)
	if err != nil {
		return finRefusal(q, err)
	}
	return s.render(q, http.StatusOK, "companyfin", "portal", q.lang.T("nav.financing"), companyFinData{Code: code, Name: s.o.Financing.CompanyName(code), Requests: rs, Banks: banks, Loans: loans, Flash: flash})
}

func (s *Server) companyFin(q *req) error { return s.companyFinPage(q, "") }

func formFloat(q *req, name string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(q.r.PostFormValue(name)), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not a number", ErrInvalidInput, name, q.r.PostFormValue(name))
	}
	return v, nil
}

func formInt(q *req, name string) (int, error) {
	v, err := strconv.Atoi(strings.TrimSpace(q.r.PostFormValue(name)))
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not a whole number", ErrInvalidInput, name, q.r.PostFormValue(name))
	}
	return v, nil
}

// finKinds tell the refusals of financing steps in words.
var finKinds = []kindKey{{ErrFourEyes, "fin.refuse.fourEyes"}, {ErrExpired, "fin.refuse.expired"}, {ErrNotFound, "fin.refuse.notFound"}, {ErrForbidden, "fin.refuse.forbidden"}, {ErrConflict, "fin.refuse.conflict"}, {ErrInvalidInput, "fin.refuse.invalid"}}

// finRefusal says a refused step in the reader's language, keeping its kind.
func finRefusal(q *req, err error) error { return inWords(q, err, finKinds...) }

// companyFinPost posts a request, or accepts or declines an offer.
func (s *Server) companyFinPost(q *req) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	code, err := companyCode(q, "")
	if err != nil {
		return err
	}
	p, f := q.principal(), q.r.PostFormValue
	var flash string
	switch f("op") {
	case "request":
		wan, err := formFloat(q, "amount_wan")
		if err != nil {
			return err
		}
		term, err := formInt(q, "term")
		if err != nil {
			return err
		}
		var banks []int64
		for _, v := range q.r.PostForm["bank"] {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%w: bank %q", ErrInvalidInput, v)
			}
			banks = append(banks, id)
		}
		r, err := s.o.Financing.PostRequest(q.ctx(), p, code, wan*1e4, term, f("purpose"), f("guarantee"), banks)
		if err != nil {
			return inWords(q, err, finKinds...)
		}
		flash = fmt.Sprintf(q.lang.T("fin.posted"), r.ID)
	case "accept", "decline":
		id, err := postedID(q, "offer")
		if err != nil {
			return err
		}
		if f("op") == "accept" {
			err = s.o.Financing.AcceptOffer(q.ctx(), p, id)
		} else {
			err = s.o.Financing.DeclineOffer(q.ctx(), p, id)
		}
		if err != nil {
			return inWords(q, err, finKinds...)
		}
		flash = q.lang.T("fin.declinedOffer")
		if f("op") == "accept" {
			flash = q.lang.T("fin.acceptedOffer")
		}
	default:
		return fmt.Errorf("%w: unknown operation %q", ErrInvalidInput, f("op"))
	}
	return s.companyFinPage(q, flash)
}

type finInboxData struct {
	Items   []FinInboxItem
	Reasons []FinReason
	Flash   string
}

func (s *Server) finInboxPage(q *req, flash string) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	items, err := s.o.Financing.Inbox(q.ctx(), q.principal())
	if err != nil {
		return inWords(q, err, finKinds...)
	}
	return s.render(q, http.StatusOK, "fininbox", "fininbox", q.lang.T("nav.finInbox"), finInboxData{Items: items, Reasons: s.o.Financing.Reasons(), Flash: flash})
}

func (s *Server) finInbox(q *req) error { return s.finInboxPage(q, "") }

// finInboxPost makes an offer on a request or declines it.
func (s *Server) finInboxPost(q *req) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	id, err := postedID(q, "request")
	if err != nil {
		return err
	}
	p, f := q.principal(), q.r.PostFormValue
	switch f("op") {
	case "offer":
		var product int64
		var wan, rate float64
		var term int
		product, err = postedID(q, "product")
		if err != nil {
			return err
		}
		if wan, err = formFloat(q, "amount_wan"); err != nil {
			return err
		}
		if rate, err = formFloat(q, "rate_pct"); err != nil {
			return err
		}
		if term, err = formInt(q, "term"); err != nil {
			return err
		}
		err = s.o.Financing.MakeOffer(q.ctx(), p, id, product, wan*1e4, rate/100, term)
	case "decline":
		err = s.o.Financing.Decline(q.ctx(), p, id, f("reason"))
	default:
		err = fmt.Errorf("%w: unknown operation %q", ErrInvalidInput, f("op"))
	}
	if err != nil {
		return inWords(q, err, finKinds...)
	}
	return s.finInboxPage(q, fmt.Sprintf(q.lang.T("fin.done"), id))
}

type finStatsData struct{ S FinStats }

func (s *Server) finStats(q *req) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	by := statsBy(q.r.URL.Query().Get("by"))
	st, err := s.o.Financing.Stats(q.ctx(), q.principal(), by)
	if err != nil {
		return inWords(q, err, finKinds...)
	}
	return s.render(q, http.StatusOK, "finstats", "finstats", q.lang.T("nav.finStats"), finStatsData{S: st})
}

func (s *Server) financingRoutes() {
	signedIn := route{action: access.ActionBrowseLibrary} // the store decides each step
	s.handle("GET /portal/companies/{code}/financing", signedIn, s.companyFin)
	s.handle("POST /portal/companies/{code}/financing", signedIn, s.companyFinPost)
	s.handle("GET /financing/inbox", route{action: access.ActionFinancingBank}, s.finInbox)
	s.handle("POST /financing/inbox", route{action: access.ActionFinancingBank}, s.finInboxPost)
	s.handle("GET /financing/stats", route{action: access.ActionFinancingStats}, s.finStats)
	s.deskRoutes()
}

func init() {
	// An interest rate in percent with two decimals (4.35%).
	funcs["rate"] = func(v float64) string { return strconv.FormatFloat(100*v, 'f', 2, 64) + "%" }
	for k, v := range finMessages {
		messages[k] = v
	}
}

var finMessages = map[string][2]string{
	"nav.financing":        {"融资", "Financing"},
	"nav.finInbox":         {"融资需求", "Financing requests"},
	"nav.finStats":         {"融资监测", "Financing statistics"},
	"fin.note":             {"向参与银行发布融资需求：被选中的银行在申请有效期内获得本企业的评估授权；接受某家银行的报价后，该银行的授权转为贷款期限（到期后再延 90 天，用于贷后与续贷），其他银行的授权随申请结束。", "Post a financing request to the participating banks: each bank it names may assess the company while the request is open; once the company accepts an offer, that bank's consent runs to the loan's maturity plus 90 days (post-loan and renewal), and the others' end with the request."},
	"fin.post":             {"发布融资需求", "Post a request"},
	"fin.amount":           {"金额（万元）", "Amount (10,000 yuan)"},
	"fin.term":             {"期限（月）", "Term (months)"},
	"fin.months":           {"个月", "months"},
	"fin.purpose":          {"用途", "Purpose"},
	"fin.guarantee":        {"担保方式", "Guarantee"},
	"fin.g.credit":         {"信用", "credit (unsecured)"},
	"fin.g.guarantee":      {"保证", "guarantee"},
	"fin.g.mortgage":       {"抵押", "mortgage"},
	"fin.g.pledge":         {"质押", "pledge"},
	"fin.submit":           {"发布", "Post"},
	"fin.requests":         {"本企业的融资申请", "This company's requests"},
	"fin.status":           {"状态", "State"},
	"fin.deadline":         {"有效期至", "Open until"},
	"fin.offers":           {"银行报价", "Offers"},
	"fin.rate":             {"年利率", "Rate"},
	"fin.accept":           {"接受", "Accept"},
	"fin.decline":          {"谢绝", "Decline"},
	"fin.expires":          {"报价有效至", "valid until"},
	"fin.auto":             {"自动审批", "automated"},
	"fin.posted":           {"融资需求已发布，编号 %d。", "Request %d posted."},
	"fin.answered":         {"已答复报价。", "Answered."},
	"fin.done":             {"申请 %d 已处理。", "Request %d answered."},
	"fin.inboxNote":        {"发给贵机构、且符合贵机构产品准入规则的融资需求，附平台评估（评级、风险色、违约概率、预授信额度）。", "Requests addressed to your institution that match your products' rules, with the platform's assessment (rating, colour, PD, pre-credit limit)."},
	"fin.company":          {"企业", "Company"},
	"fin.request":          {"需求", "Request"},
	"fin.assessment":       {"平台评估", "Assessment"},
	"fin.product":          {"产品", "Product"},
	"fin.ratePct":          {"年利率（%）", "Rate (%)"},
	"fin.offer":            {"报价", "Offer"},
	"fin.reason":           {"谢绝理由", "Reason"},
	"fin.statsNote":        {"融资需求与实际授信的汇总；仅含汇总数，不含任何一家银行的单笔贷款表现。", "Financing demand against credit granted, in aggregates only: no bank's individual loans are shown."},
	"fin.by":               {"分组", "By"},
	"fin.byDistrict":       {"按区县", "by district"},
	"fin.byIndustry":       {"按行业", "by industry"},
	"fin.group":            {"分组", "Group"},
	"fin.nRequests":        {"申请数", "Requests"},
	"fin.demand":           {"需求金额", "Demand"},
	"fin.granted":          {"已授信", "Granted"},
	"fin.approvalRate":     {"获批率", "Approval rate"},
	"fin.hours":            {"平均答复时长（小时）", "Hours to decide"},
	"fin.loans":            {"贷款笔数", "Loans"},
	"fin.firstLoans":       {"首贷", "First loans"},
	"fin.unsecured":        {"信用贷款占比", "Unsecured share"},
	"fin.total":            {"合计", "Total"},
	"fin.unanswered":       {"超期未答复的申请：%s 笔", "Requests unanswered past the deadline: %s"},
	"fin.refuse.notFound":  {"没有这笔融资申请、报价或贷款，或它不是发给贵机构的、不属于贵机构。", "No such request, offer or loan, or it is not addressed to or held by your institution"},
	"fin.refuse.forbidden": {"无权办理：申请不是发给贵机构的、贷款或产品不属于贵机构，或账户未绑定该企业。", "Not yours to take: the request is not addressed to you, the loan or product is another institution's, or the account is not bound to the company"},
	"fin.refuse.conflict":  {"报价已过期、已被处理，或申请已关闭。", "The offer expired or was answered, or the request is closed"},
	"fin.refuse.invalid":   {"填写有误：金额、期限、用途、日期、规则或上传的文件不符合要求。", "The form is not filled in as required (amount, term, purpose, date, rule or the uploaded file)"},
	"fin.st.open":          {"待答复", "open"},
	"fin.st.offered":       {"已报价", "offered"},
	"fin.st.accepted":      {"已接受", "accepted"},
	"fin.st.declined":      {"已谢绝", "declined"},
	"fin.st.expired":       {"已过期", "expired"},
	"fin.st.withdrawn":     {"已撤回", "withdrawn"},
	"fin.st.closed":        {"已关闭", "closed"},
}
