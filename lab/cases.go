package lab

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// CaseStep is one step of a case.
type CaseStep struct {
	At          time.Time
	By, Step    string
	Note, State string
}

// CaseView is an objection or a credit repair application as the console shows
// it.
type CaseView struct {
	ID                   int64
	Kind, State          string // objection or repair; review, authority, corrected, repaired, rejected, withdrawn
	Company, CompanyName string
	Source, Key          string // the record: its source and key ("penalty_id=…")
	Statement            string
	Original             string        // the record's values when the case was opened, "column=value; …"
	Fields               []RecordField // the same values named by the source contract, as people read them
	OpenedAt, Deadline   time.Time
	Overdue, Open        bool
	Steps                []CaseStep
}

// Cases are the companies' objections and credit repair (cases/). Optional.
// The service decides who may take each step and audits refusals.
type Cases interface {
	CompanyCases(ctx context.Context, p Principal, code string) ([]CaseView, error)
	// Dispute opens an objection to a record of the company; key names the
	// record ("penalty_id=…", or "event_date=2024-06" for a monthly source).
	Dispute(ctx context.Context, p Principal, code, source, key, statement string) (CaseView, error)
	// ApplyRepair opens a repair application for a penalty record.
	ApplyRepair(ctx context.Context, p Principal, code, penaltyID, statement, evidence, commitment string) (CaseView, error)
	Withdraw(ctx context.Context, p Principal, id int64) error
	// Queue is a reviewer's queue: review (a department's records) or authority
	// (repairs awaiting the credit authority).
	Queue(ctx context.Context, p Principal, queue string) ([]CaseView, error)
	// Correct corrects the disputed record: values are "column=value" lines.
	Correct(ctx context.Context, p Principal, id int64, values, note string) error
	Reject(ctx context.Context, p Principal, id int64, reasons string) error
	Approve(ctx context.Context, p Principal, id int64, note string) error
}

type companyCasesData struct {
	Code, Name string
	Cases      []CaseView
	Flash      string
	Sources    []string
}

// disputable are the sources whose records a company may dispute from the
// console, the key a form names.
var disputable = []string{"penalty", "court", "tax", "social_insurance", "utilities", "housing_fund"}

func (s *Server) companyCasesPage(q *req, flash string) error {
	if s.o.Cases == nil {
		return fmt.Errorf("%w: cases", ErrNotConnected)
	}
	code, err := companyCode(q, "")
	if err != nil {
		return err
	}
	cs, err := s.o.Cases.CompanyCases(q.ctx(), q.principal(), code)
	if err != nil {
		return err
	}
	d := companyCasesData{Code: code, Cases: cs, Flash: flash, Sources: disputable}
	for _, c := range cs {
		if c.CompanyName != "" {
			d.Name = c.CompanyName
		}
	}
	return s.render(q, http.StatusOK, "companycases", "portal", q.lang.T("nav.cases"), d)
}

func (s *Server) companyCases(q *req) error { return s.companyCasesPage(q, "") }

// caseKinds tell the refusals of case steps in words.
var caseKinds = []kindKey{{ErrNotFound, "case.refuse.notFound"}, {ErrForbidden, "case.refuse.forbidden"}, {ErrInvalidInput, "case.refuse.invalid"}}

// companyCasesPost opens a dispute or a repair application, or withdraws a case.
func (s *Server) companyCasesPost(q *req) error {
	if s.o.Cases == nil {
		return fmt.Errorf("%w: cases", ErrNotConnected)
	}
	code, err := companyCode(q, "")
	if err != nil {
		return err
	}
	p, f := q.principal(), q.r.PostFormValue
	var flash string
	switch f("op") {
	case "dispute":
		c, err := s.o.Cases.Dispute(q.ctx(), p, code, f("source"), f("key"), f("statement"))
		if err != nil {
			return inWords(q, err, caseKinds...)
		}
		flash = fmt.Sprintf(q.lang.T("case.opened"), c.ID, c.Deadline.Format(time.DateOnly))
	case "repair":
		c, err := s.o.Cases.ApplyRepair(q.ctx(), p, code, f("penalty_id"), f("statement"), f("evidence"), f("commitment"))
		if err != nil {
			return inWords(q, err, caseKinds...)
		}
		flash = fmt.Sprintf(q.lang.T("case.opened"), c.ID, c.Deadline.Format(time.DateOnly))
	case "withdraw":
		id, err := postedID(q, "case")
		if err != nil {
			return err
		}
		if err := s.o.Cases.Withdraw(q.ctx(), p, id); err != nil {
			return inWords(q, err, caseKinds...)
		}
		flash = q.lang.T("case.withdrawn")
	default:
		return fmt.Errorf("%w: unknown operation %q", ErrInvalidInput, f("op"))
	}
	return s.companyCasesPage(q, flash)
}

type caseQueueData struct {
	Queue string
	Cases []CaseView
	Flash string
}

func (s *Server) caseQueuePage(q *req, queue, flash string) error {
	if s.o.Cases == nil {
		return fmt.Errorf("%w: cases", ErrNotConnected)
	}
	if queue != "authority" {
		queue = "review"
	}
	cs, err := s.o.Cases.Queue(q.ctx(), q.principal(), queue)
	if err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "casequeue", "cases", q.lang.T("nav.cases"), caseQueueData{Queue: queue, Cases: cs, Flash: flash})
}

func (s *Server) caseQueue(q *req) error { return s.caseQueuePage(q, q.r.URL.Query().Get("queue"), "") }

// caseQueuePost takes a reviewer's step on a case.
func (s *Server) caseQueuePost(q *req) error {
	if s.o.Cases == nil {
		return fmt.Errorf("%w: cases", ErrNotConnected)
	}
	id, err := postedID(q, "case")
	if err != nil {
		return err
	}
	p, f := q.principal(), q.r.PostFormValue
	switch f("op") {
	case "correct":
		err = s.o.Cases.Correct(q.ctx(), p, id, f("values"), f("note"))
	case "reject":
		err = s.o.Cases.Reject(q.ctx(), p, id, f("reasons"))
	case "approve":
		err = s.o.Cases.Approve(q.ctx(), p, id, f("note"))
	case "deadline":
		err = s.setDeadline(q, id)
	default:
		err = fmt.Errorf("%w: unknown operation %q", ErrInvalidInput, f("op"))
	}
	if err != nil {
		return inWords(q, err, caseKinds...)
	}
	return s.caseQueuePage(q, f("queue"), fmt.Sprintf(q.lang.T("case.done"), id))
}

func (s *Server) caseRoutes() {
	// The case service decides each step (the company's bound account, the
	// owning department, the credit authority) and audits refusals.
	signedIn := route{action: access.ActionBrowseLibrary}
	s.handle("GET /portal/companies/{code}/cases", signedIn, s.companyCases)
	s.handle("POST /portal/companies/{code}/cases", signedIn, s.companyCasesPost)
	s.handle("GET /cases", signedIn, s.caseQueue)
	s.handle("POST /cases", signedIn, s.caseQueuePost)
}

// casesLink is the console path of a company's cases.
func casesLink(prefix, code string) string {
	return prefix + "portal/companies/" + url.PathEscape(creditcode.Normalize(code)) + "/cases"
}

func init() {
	funcs["casesLink"] = casesLink
	for k, v := range caseMessages {
		messages[k] = v
	}
}

var caseMessages = map[string][2]string{
	"nav.cases":             {"异议与修复", "Objections and repair"},
	"case.note":             {"企业可对本企业的某条记录提出异议，由记录所属部门在期限内核查：更正（作为新版本记入，原记录保留）、驳回或由企业撤回；核查期间该记录标注“异议中”。行政处罚记录在最短公示期满后可申请信用修复，经所属部门和信用主管部门两人先后审核通过后停止公示。法院失信被执行人名单只能由法院移除。", "A company disputes one of its records; the department that owns it reviews it by a deadline: corrected (a new revision; the original stays in the history), rejected, or withdrawn by the company; meanwhile the record is marked disputed. After the minimum publicity a penalty record may be repaired: the owning department, then the credit authority, two different people, approve, and its publicity ends. Court dishonest-debtor listings are ended by the court only."},
	"case.dispute":          {"提出异议", "Dispute a record"},
	"case.source":           {"数据来源", "Source"},
	"case.key":              {"记录标识（如 penalty_id=…，或按月记录的 event_date=2024-06）", "Record (penalty_id=…, or event_date=2024-06 for a monthly record)"},
	"case.statement":        {"说明", "Statement"},
	"case.repair":           {"申请信用修复", "Apply for credit repair"},
	"case.penaltyID":        {"处罚决定书文号", "Penalty decision number"},
	"case.evidence":         {"已履行义务的证明（缴款凭证、整改报告等）", "Evidence the obligations are fulfilled (receipts, rectification report)"},
	"case.commitment":       {"信用承诺", "Credit commitment"},
	"case.commitText":       {"本企业承诺已纠正失信行为、履行相关义务，所提交材料真实有效，并自愿接受社会监督。", "We have corrected the conduct and fulfilled the obligations, the documents are true, and we accept public oversight."},
	"case.submit":           {"提交", "Submit"},
	"case.list":             {"本企业的案件", "This company's cases"},
	"case.id":               {"编号", "No."},
	"case.kind":             {"类型", "Kind"},
	"case.record":           {"记录", "Record"},
	"case.state":            {"状态", "State"},
	"case.deadline":         {"处理期限", "Deadline"},
	"case.overdue":          {"已超期", "overdue"},
	"case.withdraw":         {"撤回", "Withdraw"},
	"case.opened":           {"已受理，案件编号 %d，处理期限 %s。", "Opened as case %d, to be decided by %s."},
	"case.withdrawn":        {"案件已撤回。", "The case was withdrawn."},
	"case.done":             {"案件 %d 已处理。", "Case %d is done."},
	"case.queue":            {"待办", "Queue"},
	"case.qreview":          {"部门核查", "Department review"},
	"case.qauthority":       {"信用主管部门审核", "Credit authority"},
	"case.company":          {"企业", "Company"},
	"case.original":         {"原记录", "Record as opened"},
	"case.values":           {"更正后的值（每行 列名=值）", "Corrected values (column=value, one a line)"},
	"case.correct":          {"更正", "Correct"},
	"case.reasons":          {"驳回理由", "Reasons"},
	"case.reject":           {"驳回", "Reject"},
	"case.approve":          {"审核通过", "Approve"},
	"case.refuse.notFound":  {"本平台没有这条记录或案件，请核对数据来源与记录标识。", "No such record or case here; check the source and the record's key"},
	"case.refuse.forbidden": {"无权办理：记录不属于本企业、账户未绑定该企业、不是记录所属部门，或两步审核须由两人分别完成。", "Not yours to take: the record is another company's, the account is not bound to the company, the department does not own the record, or the two approvals need two people"},
	"case.refuse.invalid":   {"申请不符合规则（最短公示期未满、最长公示期已过、记录不可修复、案件状态不允许此操作，或填写有误）。", "The rules refuse it (before the minimum publicity, after the maximum, a record that cannot be repaired, a case in another state, or a form filled in wrongly)"},
	"case.kind.objection":   {"异议", "objection"},
	"case.kind.repair":      {"信用修复", "credit repair"},
	"case.state.review":     {"待部门核查", "under department review"},
	"case.state.authority":  {"待信用主管部门审核", "awaiting the credit authority"},
	"case.state.corrected":  {"已更正", "corrected"},
	"case.state.repaired":   {"已修复", "repaired"},
	"case.state.rejected":   {"已驳回", "rejected"},
	"case.state.withdrawn":  {"已撤回", "withdrawn"},
}
