package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

func ingestText(t *testing.T, g *Ingester, source, name, data string, opts Options) *Report {
	t.Helper()
	rep, err := g.Ingest(context.Background(), source, []Input{{Name: name, R: strings.NewReader(data)}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// factsOf returns the facts of a company by key text, revisions in order.
func factsOf(t *testing.T, store blob.Store, source, code, asof string) map[string][]Fact {
	t.Helper()
	tm, err := time.Parse(time.DateOnly, asof)
	if err != nil {
		t.Fatal(err)
	}
	d := datasets.DayOf(tm)
	fs, err := Facts(context.Background(), store, source, code, d)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]Fact{}
	for _, f := range fs {
		k := strings.Join(f.Key, " ")
		out[k] = append(out[k], f)
	}
	return out
}

// describe is a fact's history as "rev:kind:arrival[*]" with * on the one in force.
func describe(fs []Fact) string {
	var parts []string
	for _, f := range fs {
		s := fmt.Sprintf("%d:%s:%s", f.Revision, f.Kind, f.Arrival)
		if f.InForce {
			s += "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestIngestRowKinds(t *testing.T) {
	store := openStore(t)
	g := New(store)
	c0, c1, c9 := testCode(t, 0), testCode(t, 1), testCode(t, 9)
	sales := func(i int) string { return fmt.Sprintf("%d.5", i+1) }
	rep := ingestText(t, g, "tax", "tax.csv", taxCSV(t, 3, "2025-02", sales), Options{Now: clock("2025-03-05")})
	if rep.New != 3 {
		t.Fatalf("first batch: %s", rep.Summary())
	}

	// Retraction and end of publicity by key only; an unknown key is refused with a reason.
	withdraw := "纳税人识别号,所属期,记录类型\n" +
		c0 + ",2025-02,撤销\n" +
		c1 + ",2025-02,end_of_publicity\n" +
		c9 + ",2025-02,撤销\n"
	rep = ingestText(t, g, "tax", "withdraw.csv", withdraw, Options{Now: clock("2025-04-10"), MaxBad: 0.5})
	if rep.Retracted != 1 || rep.Unpublished != 1 || rep.Rejected != 1 || rep.Reasons[ReasonUnknownKey] != 1 || rep.Corrected != 0 {
		t.Fatalf("withdrawal batch: %s", rep.Summary())
	}
	if ex := rep.Examples[0]; ex.Reason != ReasonUnknownKey || !strings.Contains(ex.Detail, c9) || ex.Line != 4 {
		t.Fatalf("rejection %+v", ex)
	}

	// Resent under another batch id: nothing new.
	again := "纳税人识别号,所属期,记录类型\n" + c0 + ",2025-02,撤销\n" + c1 + ",2025-02,停止公示\n"
	rep = ingestText(t, g, "tax", "withdraw-again.csv", again, Options{Now: clock("2025-04-20"), BatchID: "again"})
	if rep.Unchanged != 2 || rep.Retracted+rep.Unpublished != 0 || len(rep.Parts) != 0 {
		t.Fatalf("resent withdrawal: %s", rep.Summary())
	}

	// Company 0 delivered again as before: revived, next revision.
	rep = ingestText(t, g, "tax", "revive.csv", taxCSV(t, 1, "2025-02", sales), Options{Now: clock("2025-05-06")})
	if rep.Corrected != 1 || rep.New != 0 {
		t.Fatalf("revival: %s", rep.Summary())
	}

	tests := []struct {
		asof, code, want string
	}{
		{"2025-04-09", c0, "0:record:2025-03-05* 1:retraction:2025-04-10 2:record:2025-05-06"},
		{"2025-04-10", c0, "0:record:2025-03-05 1:retraction:2025-04-10* 2:record:2025-05-06"},
		{"2025-05-06", c0, "0:record:2025-03-05 1:retraction:2025-04-10 2:record:2025-05-06*"},
		{"2025-06-30", c1, "0:record:2025-03-05 1:end_of_publicity:2025-04-10*"},
		{"2025-03-04", c1, "0:record:2025-03-05 1:end_of_publicity:2025-04-10"},
	}
	for _, tt := range tests {
		got := factsOf(t, store, "tax", tt.code, tt.asof)[tt.code+" 2025-02-28"]
		if d := describe(got); d != tt.want {
			t.Errorf("%s as of %s: %s, want %s", tt.code[14:], tt.asof, d, tt.want)
		}
	}
	// A retraction carries the values it voids (by hand: 1.5 万元 = 15000 元, B级 = B).
	f := factsOf(t, store, "tax", c0, "2025-04-10")[c0+" 2025-02-28"][1]
	if f.Values["sales"] != "15000" || f.Values["credit_grade"] != "B" || f.Values["vat_paid"] != "500" || f.Counts() {
		t.Errorf("retraction values %v, counts %v", f.Values, f.Counts())
	}
	if b, err := json.Marshal(f); err != nil || !strings.Contains(string(b), `"arrival_date":"2025-04-10","row_kind":"retraction","in_force":true`) {
		t.Errorf("fact as JSON: %s, %v", b, err)
	}
	// The generator's row struct still reads the ingested parts.
	feb, _ := datasets.ParseMonth("2025-02")
	if rows := visibleTax(t, store, feb); len(rows) != 6 {
		t.Errorf("%d tax rows visible, want 6", len(rows))
	}
}

func TestIngestRowKindNeedsRequiredValuesOfRecords(t *testing.T) {
	store := openStore(t)
	g := New(store)
	c0 := testCode(t, 0)
	// A record row in a file with row_kind still needs its required values.
	data := "纳税人识别号,所属期,记录类型,销售额\n" + c0 + ",2025-02,正常,3\n" + c0 + ",2025-03,bogus,3\n"
	rep, err := g.Ingest(context.Background(), "tax", []Input{{Name: "x.csv", R: strings.NewReader(data)}}, Options{Now: clock("2025-04-01")})
	if err == nil {
		t.Fatalf("batch of bad rows accepted: %s", rep.Summary())
	}
	if rep.Reasons[ReasonMissing] != 1 || rep.Reasons[ReasonRowKind] != 1 {
		t.Fatalf("reasons %v", rep.Reasons)
	}
}

func TestIngestFullDeliveryWithdrawn(t *testing.T) {
	base, err := datasets.ContractOf("tax")
	if err != nil {
		t.Fatal(err)
	}
	full := *base
	full.Delivery, full.Omitted = datasets.Full, datasets.OmittedWithdrawn
	defer func(f func(string) (*datasets.Contract, error)) { contractOf = f }(contractOf)
	contractOf = func(name string) (*datasets.Contract, error) {
		if name == "tax" {
			return &full, nil
		}
		return datasets.ContractOf(name)
	}
	store := openStore(t)
	g := New(store)
	sales := func(i int) string { return fmt.Sprintf("%d", i+1) }
	both := taxCSV(t, 3, "2025-01", sales) + strings.SplitN(taxCSV(t, 3, "2025-02", sales), "\n", 2)[1]
	if rep := ingestText(t, g, "tax", "all.csv", both, Options{Now: clock("2025-03-05")}); rep.New != 6 || rep.Withdrawn != 0 {
		t.Fatalf("first delivery: %s", rep.Summary())
	}
	// January of companies 0 and 1 only: company 2's January and all of February
	// (a month the delivery omits whole) are withdrawn.
	rep := ingestText(t, g, "tax", "less.csv", taxCSV(t, 2, "2025-01", sales), Options{Now: clock("2025-04-05")})
	if rep.Withdrawn != 4 || rep.Unchanged != 2 || rep.Retracted != 0 {
		t.Fatalf("second delivery: %s", rep.Summary())
	}
	want := map[string]string{
		testCode(t, 0) + " 2025-01-31": "0:record:2025-03-05*",
		testCode(t, 2) + " 2025-01-31": "0:record:2025-03-05 1:retraction:2025-04-05*",
		testCode(t, 1) + " 2025-02-28": "0:record:2025-03-05 1:retraction:2025-04-05*",
	}
	for key, w := range want {
		code := key[:18]
		if got := describe(factsOf(t, store, "tax", code, "2025-04-05")[key]); got != w {
			t.Errorf("%s: %s, want %s", key, got, w)
		}
	}
	// Delivered again: the withdrawn keys stay withdrawn, nothing is written.
	rep = ingestText(t, g, "tax", "less-again.csv", taxCSV(t, 2, "2025-01", sales), Options{Now: clock("2025-04-06"), BatchID: "again"})
	if rep.Withdrawn != 0 || len(rep.Parts) != 0 {
		t.Fatalf("repeated delivery: %s", rep.Summary())
	}
	// A delivery with a rejected row withdraws nothing, and says why.
	bad := taxCSV(t, 1, "2025-01", sales) + "not-a-code,2025-01,1,0,0,0,0,0,0,B级\n"
	rep = ingestText(t, g, "tax", "bad.csv", bad, Options{Now: clock("2025-04-07"), MaxBad: 0.9})
	if rep.Withdrawn != 0 || rep.Note == "" {
		t.Fatalf("delivery with a bad row: %s (note %q)", rep.Summary(), rep.Note)
	}
}

func FuzzParseRowKind(f *testing.F) {
	c, err := datasets.ContractOf("tax")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "撤销", "停止公示", "正常", "Retraction", " end_of_publicity ", "2", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseRowKind(c.RowKind, s)
		if err != nil {
			if !strings.Contains(err.Error(), "not a row kind") {
				t.Fatalf("error %v", err)
			}
			return
		}
		if k < datasets.RowRecord || k > datasets.RowEndOfPublicity {
			t.Fatalf("%q: kind %d", s, k)
		}
		if strings.TrimSpace(s) == "" && k != datasets.RowRecord {
			t.Fatalf("empty is %v", k)
		}
	})
}

// TestEndOfPublicityByID ends a penalty's publicity by its id alone (the key of
// an event source holds no date): the row finds its fact in its event month,
// takes its values and is written there, as revision 1.
func TestEndOfPublicityByID(t *testing.T) {
	store := openStore(t)
	g := New(store)
	c0 := testCode(t, 0)
	rec := "code,event_date,penalty_id,department,severity,amount\n" +
		c0 + ",2024-03-05,P-1,绍兴市市场监管局,2,20000\n" + c0 + ",2024-07-01,P-2,绍兴市市场监管局,3,800\n"
	if rep := ingestText(t, g, "penalty", "p.csv", rec, Options{Now: clock("2024-07-03")}); rep.New != 2 {
		t.Fatalf("records: %s", rep.Summary())
	}
	rep := ingestText(t, g, "penalty", "end.csv", "penalty_id,row_kind\nP-1,停止公示\nP-9,停止公示\n", Options{Now: clock("2024-10-15"), MaxBad: 0.5})
	if rep.Unpublished != 1 || rep.Reasons[ReasonUnknownKey] != 1 {
		t.Fatalf("end of publicity: %s", rep.Summary())
	}
	if len(rep.Parts) != 1 || !strings.Contains(rep.Parts[0].Key, "/month=2024-03/") {
		t.Fatalf("parts %+v, want one in month 2024-03", rep.Parts)
	}
	got := factsOf(t, store, "penalty", c0, "2024-10-31")
	if d := describe(got["P-1"]); d != "0:record:2024-07-03 1:end_of_publicity:2024-10-15*" {
		t.Errorf("P-1: %s", d)
	}
	if f := got["P-1"][1]; f.Values["amount"] != "20000" || f.Values["event_date"] != "2024-03-05" {
		t.Errorf("the end of publicity carries %v", f.Values)
	}
	if d := describe(got["P-2"]); d != "0:record:2024-07-03*" {
		t.Errorf("P-2: %s", d)
	}
}
