package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// ErrFourEyes: the proposer of a product change tried to approve it.
var ErrFourEyes = fmt.Errorf("%w: four eyes: the proposer of a change cannot approve it", ErrForbidden)

// ErrExpired: an offer or request of the financing loop is past its time.
var ErrExpired = fmt.Errorf("%w: expired", ErrConflict)

// FinBank is a participating bank a company may address.
type FinBank struct {
	ID   int64
	Name string
}

// FinProposal is a product change waiting for a second approver.
type FinProposal struct {
	ID, ProductID int64
	Product       string
	Proposer      string
	AutoApprove   *bool
	AutoCap       *float64
	Rule          *string
	// Mine: the reader proposed it and so cannot approve it.
	Mine bool
}

// FinLoan is an accepted offer: a loan, and the consent its bank holds.
type FinLoan struct {
	ID                    int64
	Company, CompanyName  string
	Bank                  string
	Amount, Rate          float64
	Term                  int
	Guarantee             string
	FirstLoan             bool
	AcceptedAt, Disbursed time.Time
	Maturity              time.Time
	ConsentID             int64
	ConsentUntil          time.Time
	Status                string
	DaysOverdue           int
}

// FinLabels is a bank's outcome label file as built from its repayments.
type FinLabels struct {
	Rows, Positives, Excluded int
	// CSV is the file: code, date (disbursement), label, loan_id.
	CSV []byte
}

// FinancingDesk is the bank's side of the loop beyond the inbox and the
// company's loans.
type FinancingDesk interface {
	Banks(ctx context.Context) ([]FinBank, error)
	// CompanyName names a company ("" when unknown).
	CompanyName(code string) string
	CompanyLoans(ctx context.Context, p Principal, code string) ([]FinLoan, error)
	Products(ctx context.Context, p Principal) ([]FinProduct, []FinProposal, error)
	// ProposeAuto switches auto-approval of a product on (under autoCap 元) or
	// off; proposed is true when the change waits for a second approver.
	ProposeAuto(ctx context.Context, p Principal, product int64, on bool, autoCap float64) (proposed bool, err error)
	// ProposeRule changes a product's eligibility rule; proposed is true when
	// the change waits for a second approver (the product auto-approves).
	ProposeRule(ctx context.Context, p Principal, product int64, rule string) (proposed bool, err error)
	Approve(ctx context.Context, p Principal, proposal int64) error
	BankLoans(ctx context.Context, p Principal) ([]FinLoan, error)
	// Disburse records a disbursement on day at (zero: today).
	Disburse(ctx context.Context, p Principal, loan int64, at time.Time) error
	UploadRepayments(ctx context.Context, p Principal, name string, r io.Reader) (rows int, err error)
	Labels(ctx context.Context, p Principal) (FinLabels, error)
	StatsCSV(ctx context.Context, p Principal, by string, w io.Writer) error
}

type finProductsData struct {
	Products  []FinProduct
	Proposals []FinProposal
	Flash     string
}

func (s *Server) finProductsPage(q *req, flash string) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	ps, props, err := s.o.Financing.Products(q.ctx(), q.principal())
	if err != nil {
		return finRefusal(q, err)
	}
	return s.render(q, http.StatusOK, "finproducts", "fininbox", q.lang.T("fin.products"), finProductsData{Products: ps, Proposals: props, Flash: flash})
}

func (s *Server) finProducts(q *req) error { return s.finProductsPage(q, "") }

// finProductsPost proposes an auto-approval change or approves a proposal.
func (s *Server) finProductsPost(q *req) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	p := q.principal()
	switch q.r.PostFormValue("op") {
	case "propose":
		id, err := postedID(q, "product")
		if err != nil {
			return err
		}
		on := q.r.PostFormValue("auto") == "on"
		var capWan float64
		if on && q.r.PostFormValue("rule") == "" {
			if capWan, err = formFloat(q, "cap_wan"); err != nil {
				return err
			}
		}
		var proposed bool
		if rule := strings.TrimSpace(q.r.PostFormValue("rule")); rule != "" {
			proposed, err = s.o.Financing.ProposeRule(q.ctx(), p, id, rule)
		} else {
			proposed, err = s.o.Financing.ProposeAuto(q.ctx(), p, id, on, capWan*1e4)
		}
		if err != nil {
			return finRefusal(q, err)
		}
		if proposed {
			return s.finProductsPage(q, q.lang.T("fin.proposed"))
		}
		return s.finProductsPage(q, q.lang.T("fin.changed"))
	case "approve":
		id, err := postedID(q, "proposal")
		if err != nil {
			return err
		}
		if err := s.o.Financing.Approve(q.ctx(), p, id); err != nil {
			return finRefusal(q, err)
		}
		return s.finProductsPage(q, q.lang.T("fin.approved"))
	}
	return fmt.Errorf("%w: unknown operation %q", ErrInvalidInput, q.r.PostFormValue("op"))
}

type finLoansData struct {
	Loans  []FinLoan
	Labels *FinLabels
	Flash  string
}

func (s *Server) finLoansPage(q *req, flash string, lf *FinLabels) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	ls, err := s.o.Financing.BankLoans(q.ctx(), q.principal())
	if err != nil {
		return finRefusal(q, err)
	}
	return s.render(q, http.StatusOK, "finloans", "fininbox", q.lang.T("fin.loansTitle"), finLoansData{Loans: ls, Labels: lf, Flash: flash})
}

func (s *Server) finLoans(q *req) error { return s.finLoansPage(q, "", nil) }

// finLoansPost records a disbursement, takes a repayment file or builds the
// label file.
func (s *Server) finLoansPost(q *req) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	p := q.principal()
	switch q.r.FormValue("op") {
	case "disburse":
		id, err := postedID(q, "loan")
		if err != nil {
			return err
		}
		var at time.Time
		if v := strings.TrimSpace(q.r.FormValue("date")); v != "" {
			if at, err = time.Parse(time.DateOnly, v); err != nil {
				return fmt.Errorf("%w: date %q is not YYYY-MM-DD", ErrInvalidInput, v)
			}
		}
		if err := s.o.Financing.Disburse(q.ctx(), p, id, at); err != nil {
			return finRefusal(q, err)
		}
		return s.finLoansPage(q, fmt.Sprintf(q.lang.T("fin.disbursed"), id), nil)
	case "repayments":
		f := q.r.MultipartForm
		if f == nil || len(f.File["file"]) != 1 || f.File["file"][0].Size == 0 {
			return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.T("fin.chooseFile"))
		}
		fh := f.File["file"][0]
		r, err := fh.Open()
		if err != nil {
			return fmt.Errorf("%w: read repayment file: %v", ErrInvalidInput, err)
		}
		defer r.Close()
		n, err := s.o.Financing.UploadRepayments(q.ctx(), p, fh.Filename, r)
		if err != nil {
			return finRefusal(q, err)
		}
		return s.finLoansPage(q, fmt.Sprintf(q.lang.T("fin.repaid"), n), nil)
	case "labels":
		lf, err := s.o.Financing.Labels(q.ctx(), p)
		if err != nil {
			return finRefusal(q, err)
		}
		return s.finLoansPage(q, "", &lf)
	}
	return fmt.Errorf("%w: unknown operation %q", ErrInvalidInput, q.r.FormValue("op"))
}

// finLabelsCSV builds the bank's outcome label file and sends it.
func (s *Server) finLabelsCSV(q *req) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	lf, err := s.o.Financing.Labels(q.ctx(), q.principal())
	if err != nil {
		return finRefusal(q, err)
	}
	h := q.w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="financing-labels.csv"`)
	_, err = q.w.Write(lf.CSV)
	return err
}

// finStatsCSV exports the regulator's view.
func (s *Server) finStatsCSV(q *req) error {
	if s.o.Financing == nil {
		return fmt.Errorf("%w: financing", ErrNotConnected)
	}
	by := statsBy(q.r.URL.Query().Get("by"))
	var b strings.Builder
	if err := s.o.Financing.StatsCSV(q.ctx(), q.principal(), by, &b); err != nil {
		return finRefusal(q, err)
	}
	h := q.w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="financing-`+by+`-`+time.Now().UTC().Format("20060102")+`.csv"`)
	_, err := io.WriteString(q.w, b.String())
	return err
}

func statsBy(v string) string {
	switch v {
	case "industry", "size":
		return v
	}
	return "district"
}

func (s *Server) deskRoutes() {
	bank := route{action: access.ActionFinancingBank}
	s.handle("GET /financing/products", bank, s.finProducts)
	s.handle("POST /financing/products", bank, s.finProductsPost)
	s.handle("GET /financing/loans", bank, s.finLoans)
	s.handle("POST /financing/loans", bank, s.finLoansPost)
	s.handle("GET /financing/labels.csv", bank, s.finLabelsCSV)
	s.handle("GET /financing/stats.csv", route{action: access.ActionFinancingStats}, s.finStatsCSV)
}

func init() {
	for k, v := range finDeskMessages {
		messages[k] = v
	}
}

var finDeskMessages = map[string][2]string{
	"fin.refuse.fourEyes": {"双人复核：变更的提议人不能自己批准，须由本机构另一位审批人批准。", "Four eyes: the proposer of a change cannot approve it; another approver of the bank must"},
	"fin.refuse.expired":  {"报价或申请已过期，不能再接受；可请银行重新报价。", "This offer or request has expired and can no longer be accepted; ask the bank for a new offer"},
	"fin.amountCol":       {"金额", "Amount"},
	"fin.capShort":        {"上限", "cap"},
	"fin.ruleChange":      {"修改规则", "Change the rule"},
	"fin.ruleTo":          {"准入规则改为", "eligibility rule becomes"},
	"fin.repaymentsTitle": {"还款记录", "Repayments"},
	"fin.labelsTitle":     {"标签文件", "Label file"},
	"fin.labelsAbout":     {"由本行的还款记录自动生成：放款后 12 个月内出现逾期 90 天以上或违约记为 1，否则为 0；仅本行可见，用于联合建模。", "Built from your bank's repayments: 1 when a loan is 90+ days overdue or in default within 12 months of disbursement, else 0; visible to your bank only, for joint modelling."},
	"fin.size.micro":      {"微型企业", "micro"},
	"fin.size.small":      {"小型企业", "small"},
	"fin.size.medium":     {"中型企业", "medium"},
	"fin.size.large":      {"大型企业", "large"},
	"fin.size.unknown":    {"规模未登记", "size not recorded"},
	"fin.acceptedOffer":   {"已接受报价：贷款已生成，该银行的授权转为贷款期限。", "Offer accepted: the loan is recorded and that bank's consent now runs with it."},
	"fin.declinedOffer":   {"已谢绝报价。", "Offer declined."},
	"fin.products":        {"融资产品", "Products"},
	"fin.loansTitle":      {"贷款与还款", "Loans and repayments"},
	"fin.banks":           {"发给", "Send to"},
	"fin.allBanks":        {"全部参与银行（不勾选即为全部）", "all participating banks (none ticked means all)"},
	"fin.loans":           {"贷款笔数", "Loans"},
	"fin.myLoans":         {"本企业的贷款及银行授权", "This company's loans and the consent each bank holds"},
	"fin.bank":            {"银行", "Bank"},
	"fin.maturity":        {"到期日", "Maturity"},
	"fin.consent":         {"授权", "Consent"},
	"fin.consentUntil":    {"授权 #%d，至 %s（到期后续贷观察期）", "consent #%d until %s (maturity plus the renewal window)"},
	"fin.first":           {"首贷", "first loan"},
	"fin.rule":            {"准入规则", "Eligibility rule"},
	"fin.cap":             {"额度上限", "Limit cap"},
	"fin.maxTerm":         {"最长期限（月）", "Longest term (months)"},
	"fin.autoState":       {"自动审批", "Auto-approval"},
	"fin.autoOn":          {"已开启，%s以内", "on, up to %s"},
	"fin.autoOff":         {"未开启", "off"},
	"fin.propose":         {"提议变更", "Propose a change"},
	"fin.autoSwitch":      {"开启自动审批", "switch auto-approval on"},
	"fin.autoSwitchOff":   {"关闭自动审批", "switch auto-approval off"},
	"fin.capWan":          {"自动审批上限（万元）", "Auto-approval cap (10,000 yuan)"},
	"fin.pending":         {"待复核的变更（双人复核）", "Changes awaiting a second approver (four-eyes)"},
	"fin.proposer":        {"提议人", "Proposed by"},
	"fin.change":          {"变更内容", "Change"},
	"fin.approve":         {"批准", "Approve"},
	"fin.mine":            {"您是提议人，不能自己批准：须由本机构另一位审批人批准。", "You proposed this change, so you cannot approve it: another approver of your bank must."},
	"fin.proposed":        {"变更已提交，待另一位审批人批准后生效。", "Change proposed; it takes effect once another approver approves it."},
	"fin.changed":         {"变更已生效。", "Change applied."},
	"fin.approved":        {"变更已批准并生效。", "Change approved and applied."},
	"fin.disburse":        {"登记放款", "Record disbursement"},
	"fin.disbursed":       {"贷款 %d 已登记放款。", "Loan %d disbursed."},
	"fin.disbursedAt":     {"放款日", "Disbursed"},
	"fin.overdue":         {"逾期天数", "Days overdue"},
	"fin.repayments":      {"上传还款记录（CSV 文件，列名如下）", "Upload repayments (a CSV file with these columns)"},
	"fin.upload":          {"上传", "Upload"},
	"fin.chooseFile":      {"请选择一个非空的 CSV 文件", "choose one non-empty CSV file"},
	"fin.repaid":          {"已记录 %d 行还款记录。", "%d repayment rows recorded."},
	"fin.labelsBuild":     {"生成标签文件", "Build the label file"},
	"fin.labelsLink":      {"下载标签文件（CSV）", "Download the label file (CSV)"},
	"fin.labelsNote":      {"标签文件：%d 笔贷款，其中 %d 笔违约，%d 笔未满 12 个月不计入。", "Label file: %d loans, %d defaulted, %d not yet 12 months old and left out."},
	"fin.export":          {"导出 CSV", "Export CSV"},
	"fin.bySize":          {"按企业规模", "by firm size"},
	"fin.reasons":         {"评估依据", "Why"},
	"fin.ls.accepted":     {"待放款", "awaiting disbursement"},
	"fin.ls.performing":   {"正常", "performing"},
	"fin.ls.overdue":      {"逾期", "overdue"},
	"fin.ls.default":      {"违约", "default"},
	"fin.ls.repaid":       {"已结清", "repaid"},
}
