package lab

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// RecordField is one column of a record: its names from the source contract and
// its value as people read it.
type RecordField struct {
	NameZh, NameEn, Value string
	// ValueEn is the value in English when it differs ("" : Value).
	ValueEn string
	// Money marks an amount in 元 (Amount), shown as people read money in
	// the page's language.
	Money  bool
	Amount float64
}

// Shown is the field's value in l's language.
func (f RecordField) Shown(l *Lang) string {
	if f.Money {
		return l.Money(f.Amount)
	}
	if l.Code == "en" && f.ValueEn != "" {
		return f.ValueEn
	}
	return f.Value
}

// RepairTerms are the rule table's terms for a penalty record: its class, the
// first day repair may be asked and the day publicity ends by itself.
type RepairTerms struct {
	ClassZh, ClassEn string
	Publicised       bool
	From, Until      time.Time
}

// RecordView is one department record of a company as its own account sees it.
type RecordView struct {
	Source, SourceZh, SourceEn string
	Key                        string // the record's key without the company ("penalty_id=…")
	Event                      time.Time
	Fields                     []RecordField
	Disputed                   bool  // under an open objection (异议中)
	Case                       int64 // the objection when disputed
	Ended                      bool  // withdrawn by its department or its publicity ended
	RepairID                   string
	Repair                     *RepairTerms // penalty records only
}

// CaseRecords lists a company's own records for its bound account. The Cases
// backend implements it optionally; the service decides and audits who reads.
type CaseRecords interface {
	// CompanyRecords returns the company's name ("" when unknown) and records.
	CompanyRecords(ctx context.Context, p Principal, code string) (string, []RecordView, error)
}

// CaseDeadlines lets the reviewing department set a case's deadline. The
// Cases backend implements it optionally.
type CaseDeadlines interface {
	SetDeadline(ctx context.Context, p Principal, id int64, deadline time.Time, note string) error
}

// setDeadline reads the posted day (China Standard Time, the end of that day)
// and sets it as the case's deadline.
func (s *Server) setDeadline(q *req, id int64) error {
	cd, ok := s.o.Cases.(CaseDeadlines)
	if !ok {
		return fmt.Errorf("%w: case deadlines", ErrNotConnected)
	}
	cst := time.FixedZone("CST", 8*3600)
	day, err := time.ParseInLocation(time.DateOnly, q.r.PostFormValue("deadline"), cst)
	if err != nil {
		return fmt.Errorf("%w: deadline %q is not a date", ErrInvalidInput, q.r.PostFormValue("deadline"))
	}
	return cd.SetDeadline(q.ctx(), q.principal(), id, day.Add(24*time.Hour-time.Second), q.r.PostFormValue("note"))
}

type recordsData struct {
	Code, Name string
	Records    []RecordView
	Today      time.Time
}

func (s *Server) companyRecords(q *req) error {
	cr, ok := s.o.Cases.(CaseRecords)
	if !ok {
		return fmt.Errorf("%w: records", ErrNotConnected)
	}
	code, err := companyCode(q, "")
	if err != nil {
		return err
	}
	name, rs, err := cr.CompanyRecords(q.ctx(), q.principal(), code)
	if err != nil {
		return inWords(q, err, caseKinds...)
	}
	d := recordsData{Code: code, Name: name, Records: rs, Today: time.Now()}
	return s.render(q, http.StatusOK, "records", "portal", q.lang.T("nav.records"), d)
}

func (s *Server) recordsRoutes() {
	s.handle("GET /portal/companies/{code}/records", route{action: access.ActionBrowseLibrary}, s.companyRecords)
}

func init() {
	for k, v := range recordMessages {
		messages[k] = v
	}
}

var recordMessages = map[string][2]string{
	"case.setDeadline":         {"设定处理期限", "Set the deadline"},
	"nav.records":              {"我的信用记录", "My records"},
	"rec.note":                 {"本企业在各部门的记录。对记录有异议可提出异议，核查期间标注“异议中”；行政处罚记录在最短公示期满后可申请信用修复。公示期已结束或已撤销的记录标注“已结束公示”，不再共享和使用。", "This company's records at each department. Dispute a record you believe wrong; while under review it is marked disputed. A penalty record may be repaired after its minimum publicity. Records whose publicity ended or that were withdrawn are marked so and are no longer shared or used."},
	"rec.date":                 {"日期", "Date"},
	"rec.record":               {"记录", "Record"},
	"rec.disputed":             {"异议中", "disputed"},
	"rec.ended":                {"已结束公示", "publicity ended"},
	"rec.class":                {"失信行为类别", "Class"},
	"rec.repairFrom":           {"最早可申请修复日期", "Repair possible from"},
	"rec.until":                {"公示期届满", "Publicity ends"},
	"rec.notPublicised":        {"不予公示，无需修复", "not publicised: nothing to repair"},
	"rec.tooEarly":             {"最短公示期未满", "before the minimum publicity"},
	"rec.obligations":          {"义务履行情况（罚款缴纳、整改完成等）", "Obligations fulfilled (fine paid, conduct corrected)"},
	"rec.accept":               {"本企业作出上述信用承诺", "We make this credit commitment"},
	"rec.none":                 {"没有记录。", "No records."},
	"rec.case":                 {"案件 %d", "case %d"},
	"rec.src.penalty":          {"行政处罚", "Administrative penalty"},
	"rec.src.court":            {"法院诉讼", "Court case"},
	"rec.src.tax":              {"税务", "Tax"},
	"rec.src.social_insurance": {"社保", "Social insurance"},
	"rec.src.utilities":        {"水电气", "Utilities"},
	"rec.src.housing_fund":     {"公积金", "Housing fund"},
}
