package lab

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// ReportSection is one department's statement in a credit report.
type ReportSection struct {
	NameZH, NameEN           string
	Covered                  bool
	Through                  string // the day the department's data runs through ("": none)
	StatementZH, StatementEN string
	Records                  int
}

// IssuedReport is a signed credit report as the console shows it.
type IssuedReport struct {
	ID, Company, CompanyName string
	Purpose, From, To        string
	IssuedAt                 time.Time
	Rating, Colour, RatedAt  string // "" when no score is on record
	VerifyURL                string
	Sections                 []ReportSection
}

// Reports issues signed PDF credit reports (reports/). Optional. Issue decides
// who may ask: the company's bound account, a bank with consent, a regulator.
type Reports interface {
	Issue(ctx context.Context, p Principal, company, purpose, from, to string) (IssuedReport, error)
	// PDF returns an issued report's signed file, to those who may see it.
	PDF(ctx context.Context, p Principal, id string) ([]byte, error)
}

type reportsData struct {
	Company  string
	Purposes []string
	R        *IssuedReport
}

var reportPurposes = []string{"financing", "bidding", "listing", "honours"}

// reportsPage shows the form; ?company= fills it.
func (s *Server) reportsPage(q *req) error {
	if s.o.Reports == nil {
		return fmt.Errorf("%w: reports", ErrNotConnected)
	}
	return s.render(q, http.StatusOK, "reports", "reports", q.lang.T("nav.reports"),
		reportsData{Company: creditcode.Normalize(q.r.URL.Query().Get("company")), Purposes: reportPurposes})
}

// issueReport issues a report and shows what it says.
func (s *Server) issueReport(q *req) error {
	if s.o.Reports == nil {
		return fmt.Errorf("%w: reports", ErrNotConnected)
	}
	code := creditcode.Normalize(q.r.PostFormValue("company"))
	if err := creditcode.Validate(code); err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.Pick("统一社会信用代码有误："+err.Error(), "company code: "+err.Error()))
	}
	r, err := s.o.Reports.Issue(q.ctx(), q.principal(), code, q.r.PostFormValue("purpose"),
		strings.TrimSpace(q.r.PostFormValue("from")), strings.TrimSpace(q.r.PostFormValue("to")))
	if err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "reports", "reports", q.lang.T("nav.reports"), reportsData{Company: code, Purposes: reportPurposes, R: &r})
}

// reportPDF sends an issued report's file.
func (s *Server) reportPDF(q *req) error {
	if s.o.Reports == nil {
		return fmt.Errorf("%w: reports", ErrNotConnected)
	}
	id := q.r.PathValue("id")
	b, err := s.o.Reports.PDF(q.ctx(), q.principal(), id)
	if err != nil {
		return err
	}
	h := q.w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="`+strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 32 {
			return -1
		}
		return r
	}, id)+`.pdf"`)
	_, err = q.w.Write(b)
	return err
}

func (s *Server) reportRoutes() {
	// Issue decides who may ask for which company (and audits refusals).
	signedIn := route{action: access.ActionBrowseLibrary}
	s.handle("GET /reports", signedIn, s.reportsPage)
	s.handle("POST /reports", signedIn, s.issueReport)
	s.handle("GET /reports/{id}/pdf", signedIn, s.reportPDF)
}

func init() {
	for k, v := range reportMessages {
		messages[k] = v
	}
}

var reportMessages = map[string][2]string{
	"nav.reports":            {"信用报告", "Credit reports"},
	"rep.note":               {"信用报告按用途汇总各部门在所选期间的记录，可替代各部门分别出具的合规证明；每个部门只就平台所掌握数据的截止日之前作出陈述。报告以平台密钥签名，扫描二维码或上传文件即可核验。", "A credit report gathers each department's records over the period for a purpose and can stand in for the departments' separate compliance certificates; each department speaks only up to the day the platform's data runs through. Reports are signed by the platform; scan the QR code or upload the file to verify it."},
	"rep.company":            {"统一社会信用代码", "Unified social credit code"},
	"rep.purpose":            {"用途", "Purpose"},
	"rep.from":               {"起始日期（可空，默认按用途）", "From (optional; the purpose's default)"},
	"rep.to":                 {"截止日期（可空，默认今日）", "To (optional; default today)"},
	"rep.issue":              {"开具报告", "Issue report"},
	"rep.number":             {"报告编号", "Report number"},
	"rep.period":             {"期间", "Period"},
	"rep.issuedAt":           {"出具时间", "Issued"},
	"rep.rating":             {"信用评级与风险色", "Rating and colour"},
	"rep.ratedAt":            {"评估日期", "as of"},
	"rep.noRating":           {"暂无评分记录", "no score on record"},
	"rep.verify":             {"核验地址", "Verification"},
	"rep.download":           {"下载签名 PDF", "Download the signed PDF"},
	"rep.department":         {"部门", "Department"},
	"rep.through":            {"数据截至", "Data through"},
	"rep.statement":          {"陈述", "Statement"},
	"rep.records":            {"记录数", "Records"},
	"rep.notCovered":         {"未接入", "not covered"},
	"rep.purposes.financing": {"融资", "financing"},
	"rep.purposes.bidding":   {"招投标", "bidding"},
	"rep.purposes.listing":   {"上市", "listing"},
	"rep.purposes.honours":   {"评优评先", "honours"},
}
