package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving"
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
