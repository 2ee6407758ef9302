package reports_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/reports"
	"github.com/xinyi-platform/xinyi/reports/scorehistory"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// cst is China Standard Time, where the platform counts days.
var cst = time.FixedZone("CST", 8*3600)

// issueTime is when the fixture's reports are issued: 2026-12-06 in Shaoxing.
var issueTime = time.Date(2026, 12, 6, 10, 0, 0, 0, cst)

func mustCode(tb testing.TB, body string) string {
	tb.Helper()
	c, err := creditcode.New('9', '1', "330604", body)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func day(s string) datasets.Day {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return datasets.DayOf(t)
}

// penaltyRowKind is a penalty row with the row_kind column (0 record, 1
// retraction, 2 end of publicity).
type penaltyRowKind struct {
	datasets.PenaltyRow
	RowKind int32 `parquet:"row_kind"`
}

// writePart writes rows as part number part of month m of source.
func writePart[T any](tb testing.TB, store blob.Store, source string, m datasets.Month, part int, rows []T) {
	tb.Helper()
	src, err := datasets.SourceByName(source)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf)
	if _, err := w.Write(rows); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if _, err := blob.PutBytes(context.Background(), store, src.Key(m, part), buf.Bytes()); err != nil {
		tb.Fatal(err)
	}
}

// fixture is a small region: company A's records over 2024-2026 as described in
// each table's comment, company B's beside them, and the platform's people.
type fixture struct {
	store blob.Store
	db    *metadb.DB
	acc   *access.Store
	log   *audit.Log
	svc   *reports.Service
	key   *reports.Key
	a, b  string

	bank, bankNoConsent, regulator, admin access.Principal
}

func newFixture(tb testing.TB, db *metadb.DB) *fixture {
	tb.Helper()
	ctx := context.Background()
	store, err := blob.OpenLocal(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{store: store, db: db, a: mustCode(tb, "MA4UJ7K2"), b: mustCode(tb, "MA2BX3Y4")}
	a, b := f.a, f.b
	writeRegion(tb, store, a, b)

	// Utilities arrive through ingestion on 2026-11-20 (the batch history's
	// date), with months up to 2026-10: their data runs through 2026-10-31.
	csv := "code,event_date,kwh,water_tons,gas_m3,bill,arrears\n" +
		a + ",2026-09,1000,10,5,800,0\n" + a + ",2026-10,1100,11,5,850,0\n" + b + ",2026-10,50,1,0,60,0\n"
	if _, err := ingest.New(store).Ingest(ctx, datasets.SourceUtilities, []ingest.Input{{Name: "utilities.csv", R: strings.NewReader(csv)}},
		ingest.Options{Now: func() time.Time { return time.Date(2026, 11, 20, 9, 0, 0, 0, cst) }, TempDir: tb.TempDir()}); err != nil {
		tb.Fatal(err)
	}

	// Scores: A rated B/yellow as of 2026-09-30; a run dated after the issue day
	// is not the report's.
	models := []serving.ModelVersion{{Task: serving.TaskPD, Name: "pd-smb", Version: "3"}}
	for _, run := range []struct {
		asOf   time.Time
		rating string
		colour string
	}{{time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), "C", "red"}, {time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), "B", "yellow"},
		{time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), "A", "green"}} {
		ds := []*serving.Decision{{Company: a, AsOf: run.asOf, Rating: policy.Rating(run.rating), Colour: policy.Colour(run.colour),
			Models: models, PolicyVersion: "policy-v2"}}
		if _, err := scores.Write(ctx, store, ds, run.asOf.Add(24*time.Hour)); err != nil {
			tb.Fatal(err)
		}
	}

	f.acc, f.log = accesstest.Open(tb, db)
	_, f.bank = accesstest.User(tb, f.acc, "Shaoxing Bank", access.KindBank, "officer", access.RoleBank)
	_, f.bankNoConsent = accesstest.User(tb, f.acc, "Other Bank", access.KindBank, "other", access.RoleBank)
	_, f.regulator = accesstest.User(tb, f.acc, "Market Supervision", access.KindRegulator, "inspector", access.RoleRegulator)
	_, f.admin = accesstest.User(tb, f.acc, "Platform", access.KindPlatform, "root", access.RoleAdmin)
	if _, err := f.acc.GrantConsent(ctx, "setup", access.ConsentGrant{CompanyCode: a, BankID: f.bank.InstitutionID,
		Scope: access.ScopeCreditAssessment, ExpiresAt: time.Now().AddDate(1, 0, 0)}); err != nil {
		tb.Fatal(err)
	}
	if f.key, err = reports.GenerateKey(); err != nil {
		tb.Fatal(err)
	}
	f.svc, err = reports.Open(ctx, db, reports.Options{Store: store, Signer: f.key, Authorizer: access.NewAuthorizer(f.acc, f.log),
		Audit: f.log, Scores: scorehistory.New(scores.NewReader(store, 0)), BaseURL: "https://credit.example.gov.cn/",
		FontPath: fontPath(tb), Now: func() time.Time { return issueTime }})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// writeRegion writes the raw tables other than utilities.
func writeRegion(tb testing.TB, store blob.Store, a, b string) {
	m := func(s string) datasets.Month {
		mo, err := datasets.ParseMonth(s)
		if err != nil {
			tb.Fatal(err)
		}
		return mo
	}
	writePart(tb, store, datasets.SourceCompanies, m("2020-01"), 0, []datasets.CompanyRow{
		{Code: a, EventDate: day("2015-03-01"), ArrivalDate: day("2020-01-31"), Name: "绍兴越城甲乙机械有限公司", Industry: "C", District: "330602",
			LegalForm: "有限责任公司", Status: datasets.StatusActive},
		{Code: b, EventDate: day("2018-05-01"), ArrivalDate: day("2020-01-31"), Name: "绍兴丙丁贸易有限公司", Industry: "F", District: "330602",
			LegalForm: "有限责任公司", Status: datasets.StatusActive},
	})
	// Penalties (their data runs through 2026-11-28, B's latest):
	//   P1 A tax bureau 2025-03-10: listed under the tax bureau;
	//   P2 A market regulation 2024-06-01, publicity ended in 2025 (row_kind 2): left out;
	//   P3 A environment 2025-08-15, retracted (row_kind 1): left out;
	//   P5 A market regulation 2023-05-02: before the period;
	//   P4, P7 B's.
	pen := func(code, id, dept string, event, arrival string, rev, kind int32) penaltyRowKind {
		return penaltyRowKind{PenaltyRow: datasets.PenaltyRow{Code: code, EventDate: day(event), ArrivalDate: day(arrival), Revision: rev,
			PenaltyID: id, Department: dept, Severity: 2, Amount: 5000}, RowKind: kind}
	}
	writePart(tb, store, datasets.SourcePenalty, m("2023-05"), 0, []penaltyRowKind{pen(a, "P5", "市场监管局", "2023-05-02", "2023-05-10", 0, 0)})
	writePart(tb, store, datasets.SourcePenalty, m("2024-06"), 0, []penaltyRowKind{
		pen(a, "P2", "市场监管局", "2024-06-01", "2024-06-10", 0, 0), pen(a, "P2", "市场监管局", "2024-06-01", "2025-01-05", 1, 2)})
	writePart(tb, store, datasets.SourcePenalty, m("2025-03"), 0, []penaltyRowKind{pen(a, "P1", "税务局", "2025-03-10", "2025-03-20", 0, 0)})
	writePart(tb, store, datasets.SourcePenalty, m("2025-08"), 0, []penaltyRowKind{
		pen(a, "P3", "生态环境局", "2025-08-15", "2025-08-20", 0, 0), pen(a, "P3", "生态环境局", "2025-08-15", "2025-09-01", 1, 1)})
	writePart(tb, store, datasets.SourcePenalty, m("2026-02"), 0, []penaltyRowKind{pen(b, "P4", "市场监管局", "2026-02-03", "2026-02-10", 0, 0)})
	// A part without the row_kind column: every row a record.
	writePart(tb, store, datasets.SourcePenalty, m("2026-11"), 0, []datasets.PenaltyRow{{Code: b, EventDate: day("2026-11-20"),
		ArrivalDate: day("2026-11-28"), PenaltyID: "P7", Department: "市场监管局", Severity: 1}})

	// Tax: A every month 2024-01..2026-10, arriving 10 days after the month
	// (the last, 2026-11-10; the data runs through the last month, 2026-10-31);
	// 2024-09's arrears of 300 corrected to 0.
	// Social insurance: A 2024-01..2026-06 arriving 15 days after (the last
	// 2026-07-15; runs through 2026-06-30, earlier than the others); arrears of
	// 1200 in 2025-05.
	// Loan: A 2024-01..2026-10 arriving 20 days after (runs through 2026-10-31);
	// 35 days overdue in 2026-02.
	for mo := m("2024-01"); mo <= m("2026-10"); mo++ {
		end := mo.LastDay()
		tax := []datasets.TaxRow{{Code: a, EventDate: end, ArrivalDate: end + 10, CreditGrade: "B", Sales: 1e6}}
		if mo == m("2024-09") {
			tax[0].Arrears = 300
			tax = append(tax, datasets.TaxRow{Code: a, EventDate: end, ArrivalDate: end + 40, Revision: 1, CreditGrade: "B", Sales: 1e6})
		}
		writePart(tb, store, datasets.SourceTax, mo, 0, tax)
		loan := datasets.LoanRow{Code: a, EventDate: end, ArrivalDate: end + 20, Lenders: 1, CreditLine: 1e6, Balance: 5e5}
		if mo == m("2026-02") {
			loan.OverdueDays, loan.OverdueAmount = 35, 20000
		}
		writePart(tb, store, datasets.SourceLoan, mo, 0, []datasets.LoanRow{loan})
		if mo <= m("2026-06") {
			si := datasets.SocialInsuranceRow{Code: a, EventDate: end, ArrivalDate: end + 15, Insured: 40, Contribution: 60000}
			if mo == m("2025-05") {
				si.Arrears = 1200
			}
			writePart(tb, store, datasets.SourceSocialInsurance, mo, 0, []datasets.SocialInsuranceRow{si})
		}
	}
	// Court: A defendant in C1 filed 2025-07-01, listed as a dishonest debtor at
	// the enforcement stage (revision 1, arrived 2025-12-01: the court data runs
	// through that day). No housing fund nor real-estate data at all.
	writePart(tb, store, datasets.SourceCourt, m("2025-07"), 0, []datasets.CourtRow{
		{Code: a, EventDate: day("2025-07-01"), ArrivalDate: day("2025-07-05"), CaseID: "(2025)浙0602民初123号", Role: "defendant",
			CaseType: "contract", Amount: 80000, Stage: "filed"},
		{Code: a, EventDate: day("2025-07-01"), ArrivalDate: day("2025-12-01"), Revision: 1, CaseID: "(2025)浙0602民初123号", Role: "defendant",
			CaseType: "contract", Amount: 80000, Stage: "enforcement", Enforcement: true, Dishonest: true},
	})
}

// fontPath is the CJK font, or a skip when it and the poppler tools are absent
// outside CI (under CI the Makefile installs them and the test must run).
func fontPath(tb testing.TB) string {
	tb.Helper()
	needTools(tb)
	return reports.DefaultFontPath
}

func needTools(tb testing.TB) {
	tb.Helper()
	var missing []string
	if _, err := os.Stat(reports.DefaultFontPath); err != nil {
		missing = append(missing, reports.DefaultFontPath+" (fonts-droid-fallback)")
	}
	for _, tool := range []string{"pdftoppm", "pdftotext"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" (poppler-utils)")
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, ", ") + "; run scripts/report-tools.sh"
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// artifacts is where a test keeps files for people to look at: $XINYI_ARTIFACTS/reports
// or a temporary folder.
func artifacts(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("XINYI_ARTIFACTS")
	if dir == "" {
		return tb.TempDir()
	}
	dir = filepath.Join(dir, "reports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}
