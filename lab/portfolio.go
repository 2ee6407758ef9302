package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// PortfolioRow is one company of a bank's post-loan view.
type PortfolioRow struct {
	Code, Name, District, Industry string
	// Purpose is the consent's ("loan:7": a borrower); Until its end.
	Purpose string
	Until   time.Time
	Scored  bool
	// The latest scored period and the one before (PrevAsOf "" when none).
	AsOf, PrevAsOf     string
	PD, PrevPD         float64
	Rating, PrevRating string
	Colour, PrevColour string
	Limit, PrevLimit   float64
	Change             string // worse, better, same, new
	OpenWarnings       int
	WorstWarning       string // red, yellow, blue or ""
}

// PortfolioFilter narrows the post-loan view; zero fields take everything.
type PortfolioFilter struct {
	Colour, Rating, Change string
	Warned                 bool
}

// InboxWarning is one open warning of a company in a bank's portfolio.
type InboxWarning struct {
	ID                       int64
	Code, Name               string
	Rule, RuleZH, RuleEN     string
	Severity, Area           string
	OpenedAsOf, LastSeenAsOf string
	AckedBy                  string
}

// Portfolio is a bank's post-loan view (serving/portfolio) and its warnings
// inbox. Optional: without it there are no post-loan and inbox pages.
type Portfolio interface {
	Portfolio(ctx context.Context, p Principal, f PortfolioFilter) ([]PortfolioRow, error)
	PortfolioCSV(ctx context.Context, p Principal, f PortfolioFilter, w io.Writer) error
	Inbox(ctx context.Context, p Principal) ([]InboxWarning, error)
	// Ack acknowledges a warning of a company whose consent the bank holds.
	Ack(ctx context.Context, p Principal, id int64) error
}

// PurposeWords says what the consent was given for, in l's language.
func (r PortfolioRow) PurposeWords(l *Lang) string {
	kind, id, _ := strings.Cut(r.Purpose, ":")
	var key string
	switch kind {
	case "loan":
		key = "pf.loan"
	case "financing_request":
		key = "pf.request"
	case "consent_request":
		key = "pf.consentRequest"
	case "portal":
		return l.T("pf.portal")
	default:
		return l.T("pf.plain")
	}
	if id == "" {
		return l.T(key)
	}
	return l.T(key) + " #" + id
}

type portfolioData struct {
	Rows   []PortfolioRow
	F      PortfolioFilter
	Query  string
	Worse  int
	Warned int
}

func portfolioFilter(q *req) (PortfolioFilter, error) {
	v := q.r.URL.Query()
	f := PortfolioFilter{Colour: v.Get("colour"), Rating: v.Get("rating"), Change: v.Get("change"), Warned: v.Get("warned") == "1"}
	switch f.Colour {
	case "", "blue", "green", "yellow", "red":
	default:
		return f, fmt.Errorf("%w: colour %q", ErrInvalidInput, f.Colour)
	}
	switch f.Rating {
	case "", "A", "B", "C", "D":
	default:
		return f, fmt.Errorf("%w: rating %q", ErrInvalidInput, f.Rating)
	}
	switch f.Change {
	case "", "worse", "better", "same", "new":
	default:
		return f, fmt.Errorf("%w: change %q", ErrInvalidInput, f.Change)
	}
	return f, nil
}

// portfolio shows the bank's borrowers and consented companies, worst first.
func (s *Server) portfolio(q *req) error {
	if s.o.Portfolio == nil {
		return fmt.Errorf("%w: portfolio", ErrNotConnected)
	}
	f, err := portfolioFilter(q)
	if err != nil {
		return err
	}
	rows, err := s.o.Portfolio.Portfolio(q.ctx(), q.principal(), f)
	if err != nil {
		return err
	}
	d := portfolioData{Rows: rows, F: f, Query: q.r.URL.RawQuery}
	for _, r := range rows {
		if r.Change == "worse" {
			d.Worse++
		}
		if r.OpenWarnings > 0 {
			d.Warned++
		}
	}
	return s.render(q, http.StatusOK, "portfolio", "portfolio", q.lang.T("nav.portfolio"), d)
}

// portfolioCSV downloads the view as Excel-friendly CSV.
func (s *Server) portfolioCSV(q *req) error {
	if s.o.Portfolio == nil {
		return fmt.Errorf("%w: portfolio", ErrNotConnected)
	}
	f, err := portfolioFilter(q)
	if err != nil {
		return err
	}
	h := q.w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="portfolio-`+time.Now().Format("20060102")+`.csv"`)
	return s.o.Portfolio.PortfolioCSV(q.ctx(), q.principal(), f, q.w)
}

type inboxData struct {
	Warnings []InboxWarning
	Red      int
	Unacked  int
}

// inbox lists the open warnings of the portfolio's companies.
func (s *Server) inbox(q *req) error {
	if s.o.Portfolio == nil {
		return fmt.Errorf("%w: inbox", ErrNotConnected)
	}
	ws, err := s.o.Portfolio.Inbox(q.ctx(), q.principal())
	if err != nil {
		return err
	}
	d := inboxData{Warnings: ws}
	for _, w := range ws {
		if w.Severity == "red" {
			d.Red++
		}
		if w.AckedBy == "" {
			d.Unacked++
		}
	}
	return s.render(q, http.StatusOK, "inbox", "inbox", q.lang.T("nav.inbox"), d)
}

// ackWarning acknowledges one warning and returns to the inbox.
func (s *Server) ackWarning(q *req) error {
	if s.o.Portfolio == nil {
		return fmt.Errorf("%w: inbox", ErrNotConnected)
	}
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("%w: warning id %q", ErrInvalidInput, q.r.PathValue("id"))
	}
	if err := s.o.Portfolio.Ack(q.ctx(), q.principal(), id); err != nil {
		return err
	}
	http.Redirect(q.w, q.r, s.o.Prefix+"inbox", http.StatusSeeOther)
	return nil
}

// portfolioRoutes registers the post-loan and inbox pages.
func (s *Server) portfolioRoutes() {
	bank := route{action: access.ActionPortfolio}
	s.handle("GET /portfolio", bank, s.portfolio)
	s.handle("GET /portfolio.csv", bank, s.portfolioCSV)
	s.handle("GET /inbox", bank, s.inbox)
	s.handle("POST /inbox/{id}/ack", bank, s.ackWarning)
}

func init() {
	funcs["words"] = strings.Fields
	for k, v := range portfolioMessages {
		messages[k] = v
	}
}

var portfolioMessages = map[string][2]string{
	"nav.portfolio":     {"贷后监测", "Post-loan"},
	"nav.inbox":         {"预警收件箱", "Warning inbox"},
	"home.portfolio":    {"已获授权企业的最新评级、风险色、额度及较上期变化，可筛选、导出", "Latest rating, colour and limit of the companies that granted consent, with the change since the period before; filter and export"},
	"home.inbox":        {"贷后企业未关闭的风险预警，逐条确认", "Open risk warnings of the companies you follow; acknowledge each"},
	"pf.note":           {"列出当前向本机构授予“信用评估”授权的全部企业（含贷款存续期授权与融资申请期授权），按风险由高到低排列。", "Every company whose credit-assessment consent your institution holds now (loan-scoped and request-scoped), worst first."},
	"pf.summary":        {"家企业较上期恶化，", " worse than the period before, "},
	"pf.summaryWarned":  {"家企业有未关闭预警", " with open warnings"},
	"pf.company":        {"企业", "Company"},
	"pf.purpose":        {"授权用途", "Consent"},
	"pf.until":          {"授权截止", "Until"},
	"pf.asof":           {"评估日期", "As of"},
	"pf.pd":             {"违约概率", "PD"},
	"pf.rating":         {"评级", "Rating"},
	"pf.colour":         {"风险色", "Colour"},
	"pf.limit":          {"预授信额度", "Limit"},
	"pf.change":         {"较上期", "Change"},
	"pf.warnings":       {"未关闭预警", "Open warnings"},
	"pf.prev":           {"上期", "Before"},
	"pf.export":         {"导出 CSV（Excel 可直接打开）", "Export CSV (opens in Excel)"},
	"pf.apply":          {"筛选", "Filter"},
	"pf.warnedOnly":     {"仅看有预警的企业", "Only companies with warnings"},
	"pf.notScored":      {"尚未评分", "not scored yet"},
	"pf.loan":           {"贷款", "loan"},
	"pf.request":        {"融资申请", "financing request"},
	"pf.consentRequest": {"授权申请", "consent request"},
	"pf.portal":         {"企业自主授权", "granted in the portal"},
	"pf.plain":          {"书面授权", "signed authorization"},
	"change.worse":      {"恶化", "worse"},
	"change.better":     {"好转", "better"},
	"change.same":       {"持平", "same"},
	"change.new":        {"新纳入", "new"},
	"inbox.note":        {"以下为贷后企业当前未关闭的预警；确认后同一预警在持续期间不再重复提醒，情况消除后自动关闭。", "Open warnings of the companies you follow. An acknowledged warning does not alert again while it lasts; it closes by itself when the condition clears."},
	"inbox.summary":     {"条红色预警，", " red, "},
	"inbox.unacked":     {"条未确认", " not acknowledged"},
	"inbox.rule":        {"预警规则", "Rule"},
	"inbox.severity":    {"级别", "Severity"},
	"inbox.opened":      {"首次出现", "Opened"},
	"inbox.lastSeen":    {"最近一次", "Last seen"},
	"inbox.ack":         {"确认", "Acknowledge"},
	"inbox.acked":       {"已确认", "Acknowledged by"},
	"w.blue":            {"蓝码", "blue"},
	"sev.red":           {"红色预警", "red"},
	"sev.yellow":        {"黄色预警", "yellow"},
	"sev.blue":          {"蓝色预警", "blue"},
}
