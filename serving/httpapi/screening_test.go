package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/screencompare"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

type population struct{ pop *serving.Population }

func (p population) Population(context.Context, serving.FeatureSet) (*serving.Population, error) {
	return p.pop, nil
}

func TestScreeningJobs(t *testing.T) {
	var screener *serving.Screener
	f := newFixture(t, func(o *Options) {
		store, err := blob.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		pop := &serving.Population{Set: servingtest.Set, AsOf: time.Now(), Codes: []string{"A", "B"}, Values: []float64{150, 0, 0, 80, 1, 1}}
		screener, err = serving.NewScreener(serving.ScreenerOptions{Service: o.Service, Source: population{pop}, Store: store})
		if err != nil {
			t.Fatal(err)
		}
		o.Screener = screener
	})
	if s, b := f.do(t, "POST", "/v1/screenings", servingtest.BankKey, `{"task":"violation"}`); s != 403 || errCode(b) != "forbidden" {
		t.Fatalf("bank: %d %v", s, b)
	}
	if s, b := f.do(t, "POST", "/v1/screenings", servingtest.RegulatorKey, `{"task":"limit"}`); s != 400 {
		t.Fatalf("limit task: %d %v", s, b)
	}
	s, b := f.do(t, "POST", "/v1/screenings", servingtest.RegulatorKey, `{"task":"violation"}`)
	if s != 202 || b["state"] != "running" {
		t.Fatalf("start: %d %v", s, b)
	}
	id := b["id"].(string)
	screener.Wait()
	s, b = f.do(t, "GET", "/v1/screenings/"+id, servingtest.RegulatorKey, "")
	if s != 200 || b["state"] != "done" || b["done"].(float64) != 2 || len(b["objects"].([]any)) != 2 {
		t.Fatalf("job: %d %v", s, b)
	}
	res := b["result"].(map[string]any)
	if res["companies"].(float64) != 2 || res["tier_counts"].(map[string]any)["high"].(float64) != 1 {
		t.Fatalf("result %v", res)
	}
	if s, _ := f.do(t, "GET", "/v1/screenings/nope", servingtest.RegulatorKey, ""); s != 404 {
		t.Fatalf("unknown job: %d", s)
	}
}

// swapping is a population source that hands out its populations in turn.
type swapping struct {
	mu   sync.Mutex
	pops []*serving.Population
	next int
}

func (s *swapping) Population(context.Context, serving.FeatureSet) (*serving.Population, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pops[min(s.next, len(s.pops)-1)]
	s.next++
	return p, nil
}

// TestScreeningCompare runs two screenings over populations whose companies
// move, then compares them over HTTP; the expected table is counted again here
// from the two stored rankings.
func TestScreeningCompare(t *testing.T) {
	var screener *serving.Screener
	f := newFixture(t, func(o *Options) {
		store, err := blob.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		src := &swapping{pops: []*serving.Population{
			{Set: servingtest.Set, AsOf: now, Codes: []string{"A", "B", "C", "D"}, Values: []float64{150, 0, 0, 80, 1, 1, 120, 0, 1, 60, 1, 0}},
			{Set: servingtest.Set, AsOf: now, Codes: []string{"A", "B", "C", "E"}, Values: []float64{80, 1, 1, 150, 0, 0, 120, 0, 1, 150, 0, 0}},
		}}
		screener, err = serving.NewScreener(serving.ScreenerOptions{Service: o.Service, Source: src, Store: store})
		if err != nil {
			t.Fatal(err)
		}
		o.Screener = screener
		if o.Compare, err = screencompare.New(screencompare.Options{Jobs: screener}); err != nil {
			t.Fatal(err)
		}
	})
	var ids []string
	for range 2 {
		s, b := f.do(t, "POST", "/v1/screenings", servingtest.RegulatorKey, `{"task":"violation"}`)
		if s != 202 {
			t.Fatalf("start: %d %v", s, b)
		}
		ids = append(ids, b["id"].(string))
		screener.Wait()
	}
	// The table counted from the stored rankings, independently of the package.
	tiers := map[string]map[string]string{}
	for _, id := range ids {
		j, err := screener.Get(context.Background(), servingtest.Regulator, id)
		if err != nil {
			t.Fatal(err)
		}
		tiers[id] = map[string]string{}
		for _, r := range j.Result.Rows {
			tiers[id][r.Company] = r.Tier
		}
	}
	want := map[string]float64{}
	for code, from := range tiers[ids[0]] {
		if to, ok := tiers[ids[1]][code]; ok {
			want[from+">"+to]++
		}
	}
	s, b := f.do(t, "GET", "/v1/screenings/"+ids[0]+"/compare/"+ids[1]+"?limit=5", servingtest.RegulatorKey, "")
	if s != 200 || b["in_both"].(float64) != 3 || b["new"].(float64) != 1 || b["gone"].(float64) != 1 {
		t.Fatalf("compare: %d %v", s, b)
	}
	var total float64
	for _, tr := range b["transitions"].([]any) {
		m := tr.(map[string]any)
		k := m["from"].(string) + ">" + m["to"].(string)
		if m["count"].(float64) != want[k] {
			t.Errorf("%s: %v, want %v", k, m["count"], want[k])
		}
		total += m["count"].(float64)
	}
	if total != 3 {
		t.Errorf("the table counts %v companies, want the 3 in both", total)
	}
	// A bank may not read the regulator's screenings: unknown to it, the refusal audited.
	before := len(f.env.Audit.Entries())
	if s, b := f.do(t, "GET", "/v1/screenings/"+ids[0]+"/compare/"+ids[1], servingtest.BankKey, ""); s != 404 || errCode(b) != "unknown_job" {
		t.Fatalf("bank: %d %v", s, b)
	}
	es := f.env.Audit.Entries()
	if len(es) != before+1 || es[len(es)-1].Outcome != audit.OutcomeRefused {
		t.Fatalf("the bank's refusal is not audited: %+v", es[before:])
	}
	for path, code := range map[string]string{
		"/v1/screenings/" + ids[0] + "/compare/" + ids[0]:              "invalid_input",
		"/v1/screenings/" + ids[0] + "/compare/" + ids[1] + "?limit=0": "invalid_input",
		"/v1/screenings/" + ids[0] + "/compare/nope":                   "unknown_job",
	} {
		if _, b := f.do(t, "GET", path, servingtest.RegulatorKey, ""); errCode(b) != code {
			t.Errorf("%s: %v, want %s", path, b, code)
		}
	}
}
