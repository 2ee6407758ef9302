package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
	"github.com/xinyi-platform/xinyi/serving/scores"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// TestSmallFirmsOverHTTP: the small-firm topic answers a regulator with the
// package's report, refuses a bank (audited) and bad parameters, and says so
// before anything is scored.
func TestSmallFirmsOverHTTP(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := newFixture(t, func(o *Options) { o.SmallFirms = riskindex.NewSmallFirmTopic(store, riskindex.V1) })
	if s, b := f.do(t, "GET", "/v1/topics/small-firms", servingtest.RegulatorKey, ""); s != 503 {
		t.Fatalf("nothing scored: %d %v", s, b)
	}
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 500, Months: 4, Seed: 9, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	d := time.Date(2023, 4, 30, 0, 0, 0, 0, time.UTC)
	dir, err := datasets.LoadDirectory(ctx, store, datasets.DayOf(d))
	if err != nil {
		t.Fatal(err)
	}
	var ds []*serving.Decision
	for i, code := range dir.Codes() {
		ds = append(ds, &serving.Decision{Company: code, AsOf: d, PD: float64(i%30) / 100, Colour: policy.Colour([]string{"green", "red", "yellow"}[i%3]),
			Rating: "B", InspectionTier: "low", Models: []serving.ModelVersion{{Task: serving.TaskPD, Name: "pd", Version: "1"}}, PolicyVersion: "p"})
	}
	if _, err := scores.Write(ctx, store, ds, d); err != nil {
		t.Fatal(err)
	}
	want, err := riskindex.SmallFirms(ctx, store, riskindex.V1, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	s, b := f.do(t, "GET", "/v1/topics/small-firms?limit=3", servingtest.RegulatorKey, "")
	if s != 200 || b["small"].(float64) != float64(want.Small) || b["clusters"].(float64) != float64(want.Clusters) || len(b["top"].([]any)) != len(want.Top) {
		t.Fatalf("report: %d %v, want %+v", s, b, want)
	}
	if top := b["top"].([]any)[0].(map[string]any); top["district"] != want.Top[0].District || top["index"] != want.Top[0].Index {
		t.Fatalf("top cluster %v, want %+v", top, want.Top[0])
	}
	before := len(f.env.Audit.Entries())
	if s, b := f.do(t, "GET", "/v1/topics/small-firms", servingtest.BankKey, ""); s != 403 || errCode(b) != "forbidden" {
		t.Fatalf("bank: %d %v", s, b)
	}
	if es := f.env.Audit.Entries(); len(es) != before+1 || es[len(es)-1].Outcome != audit.OutcomeRefused {
		t.Fatalf("the bank's refusal is not audited")
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?headcount=-3", "?headcount=100000"} {
		if s, b := f.do(t, "GET", "/v1/topics/small-firms"+q, servingtest.RegulatorKey, ""); s != 400 || errCode(b) != "invalid_input" {
			t.Errorf("%s: %d %v", q, s, b)
		}
	}
}
