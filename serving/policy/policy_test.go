package policy

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const testYAML = `
version: "t1"
score: {offset: 600, pdo: 20}
ratings:
  - {rating: A, max_pd: 0.02}
  - {rating: B, max_pd: 0.05}
  - {rating: C, max_pd: 0.15}
  - {rating: D, max_pd: 1}
colours:
  - {colour: blue, min_score: 680}
  - {colour: green, min_score: 650}
  - {colour: yellow, min_score: 620}
  - {colour: red}
rules:
  - {id: dishonest, indicator: court.dishonest_debtor, op: ">=", threshold: 1, colour: red}
  - {id: circle, indicator: network.circle_defaulted, op: ">=", threshold: 1, colour: yellow}
  - {id: tax_arrears, indicator: tax.arrears, op: ">", threshold: 0, colour: yellow}
limit:
  rating_scale: {A: 1, B: 0.8, C: 0.5, D: 0}
  cap: 2000000
  round: 10000
  indicator_caps: [{indicator: tax.sales.sum_12m, multiple: 0.3}]
  products: {working_capital: 1, tax_loan: 0.3}
inspection:
  - {tier: high, min_probability: 0.3, sampling_ratio: 1}
  - {tier: medium, min_probability: 0.1, sampling_ratio: 0.3}
  - {tier: low, min_probability: 0, sampling_ratio: 0.1}
`

func mustParse(t *testing.T, s string) *Policy {
	t.Helper()
	p, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func values(m map[string]float64) Lookup {
	return func(id string) (float64, bool) { v, ok := m[id]; return v, ok }
}

func TestScore(t *testing.T) {
	p := mustParse(t, testYAML)
	// factor = 20/ln 2; score = 600 - factor*ln(pd/(1-pd)).
	tests := []struct {
		pd, want float64
	}{
		{0.5, 600},     // even odds
		{0.2, 640},     // odds 1/4 = two halvings: +2×20
		{1.0 / 9, 660}, // odds 1/8: +3×20
		{1 / (1 + math.Exp(3)), 686.5617024533378}, // ln odds = -3: 600 + 3×28.853900817779268
		{2.0 / 3, 580}, // odds 2: -20
	}
	for _, tt := range tests {
		got, err := p.Score(tt.pd)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Score(%v) = %v, want %v", tt.pd, got, tt.want)
		}
	}
	for _, bad := range []float64{-0.1, 1.1, math.NaN()} {
		if _, err := p.Score(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Score(%v): err %v, want ErrInvalid", bad, err)
		}
	}
	if s, err := p.Score(0); err != nil || math.IsInf(s, 0) {
		t.Errorf("Score(0) = %v, %v; want a finite score", s, err)
	}
}

func TestScoreClamp(t *testing.T) {
	p := mustParse(t, strings.Replace(testYAML, "score: {offset: 600, pdo: 20}", "score: {offset: 600, pdo: 20, min: 590, max: 650}", 1))
	for pd, want := range map[float64]float64{0.5: 600, 1.0 / 9: 650, 2.0 / 3: 590} {
		if got, _ := p.Score(pd); math.Abs(got-want) > 1e-9 {
			t.Errorf("Score(%v) = %v, want %v", pd, got, want)
		}
	}
}

func TestRating(t *testing.T) {
	p := mustParse(t, testYAML)
	for _, tt := range []struct {
		pd   float64
		want Rating
	}{{0, A}, {0.02, A}, {0.0200001, B}, {0.05, B}, {0.15, C}, {0.1500001, D}, {1, D}} {
		got, err := p.Rating(tt.pd)
		if err != nil || got != tt.want {
			t.Errorf("Rating(%v) = %v, %v; want %v", tt.pd, got, err, tt.want)
		}
	}
}

func TestColour(t *testing.T) {
	p := mustParse(t, testYAML)
	tests := []struct {
		name      string
		score     float64
		values    map[string]float64
		want      Colour
		wantRules []string
	}{
		{"blue", 686.56, nil, Blue, nil},
		{"band edge is inclusive", 650, nil, Green, nil},
		{"yellow", 640, nil, Yellow, nil},
		{"red", 600, nil, Red, nil},
		{"circle makes blue yellow", 686.56, map[string]float64{"network.circle_defaulted": 1}, Yellow, []string{"circle"}},
		{"rule cannot improve red", 600, map[string]float64{"network.circle_defaulted": 1}, Red, []string{"circle"}},
		{"dishonest debtor is red", 700, map[string]float64{"court.dishonest_debtor": 1, "tax.arrears": 5}, Red, []string{"dishonest", "tax_arrears"}},
		{"missing value fires nothing", 700, map[string]float64{"court.dishonest_debtor": math.NaN()}, Blue, nil},
		{"zero arrears fires nothing", 700, map[string]float64{"tax.arrears": 0}, Blue, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rules := p.Colour(tt.score, values(tt.values))
			if got != tt.want || strings.Join(rules, ",") != strings.Join(tt.wantRules, ",") {
				t.Errorf("got %s %v, want %s %v", got, rules, tt.want, tt.wantRules)
			}
		})
	}
}

func TestLimit(t *testing.T) {
	p := mustParse(t, testYAML)
	tests := []struct {
		name   string
		model  float64
		rating Rating
		colour Colour
		values map[string]float64
		want   float64
	}{
		{"A takes the model", 1200000, A, Blue, nil, 1200000},
		{"B scaled 0.8 after the sales cap", 1200000, B, Green, map[string]float64{"tax.sales.sum_12m": 3000000}, 720000}, // min(1.2M, 0.3×3M)=0.9M ×0.8
		{"C halves and rounds down", 1234567, C, Yellow, nil, 610000},                                                     // 617283.5 → 610000
		{"capped", 3000000, A, Blue, nil, 2000000},
		{"negative model output", -5, A, Blue, nil, 0},
		{"missing sales does not cap", 1200000, A, Blue, map[string]float64{"tax.sales.sum_12m": math.NaN()}, 1200000},
		{"D is zero", 1200000, D, Green, nil, 0},
		{"red is zero", 1200000, A, Red, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Limit(tt.model, tt.rating, tt.colour, values(tt.values))
			if err != nil || got != tt.want {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := p.Limit(math.NaN(), A, Blue, values(nil)); !errors.Is(err, ErrInvalid) {
		t.Errorf("NaN model output: err %v", err)
	}
}

func TestProducts(t *testing.T) {
	p := mustParse(t, testYAML)
	got, err := p.Products([]string{"tax_loan"})
	if err != nil || len(got) != 1 || got["tax_loan"] != 0.3 {
		t.Errorf("got %v, %v", got, err)
	}
	if all, _ := p.Products(nil); len(all) != 2 {
		t.Errorf("all products: %v", all)
	}
	if _, err := p.Products([]string{"mortgage"}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "mortgage") {
		t.Errorf("unknown product: %v", err)
	}
}

func TestInspection(t *testing.T) {
	p := mustParse(t, testYAML)
	for _, tt := range []struct {
		prob  float64
		tier  Tier
		ratio float64
	}{{0.95, High, 1}, {0.3, High, 1}, {0.2999, Medium, 0.3}, {0.1, Medium, 0.3}, {0.05, Low, 0.1}, {0, Low, 0.1}} {
		tier, ratio, err := p.Inspection(tt.prob)
		if err != nil || tier != tt.tier || ratio != tt.ratio {
			t.Errorf("Inspection(%v) = %s %v %v; want %s %v", tt.prob, tier, ratio, err, tt.tier, tt.ratio)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, from, to, mention string
	}{
		{"unknown field", "version: \"t1\"", "version: \"t1\"\nfoo: 1", "foo"},
		{"no version", "version: \"t1\"", "version: \"\"", "version"},
		{"zero pdo", "pdo: 20", "pdo: 0", "pdo"},
		{"wrong type", "pdo: 20", "pdo: twenty", "twenty"},
		{"ratings out of order", "max_pd: 0.05}", "max_pd: 0.01}", "ratings[1]"},
		{"last rating not D", "{rating: D, max_pd: 1}", "{rating: D, max_pd: 0.9}", "last band"},
		{"unknown rating", "{rating: C,", "{rating: E,", "E"},
		{"colour bands not falling", "min_score: 650}", "min_score: 690}", "colours[1]"},
		{"unknown colour", "{colour: green,", "{colour: purple,", "purple"},
		{"bad rule op", `op: ">=", threshold: 1, colour: red`, `op: "~", threshold: 1, colour: red`, "op"},
		{"rule makes green", "threshold: 0, colour: yellow", "threshold: 0, colour: green", "tax_arrears"},
		{"scale above 10", "B: 0.8", "B: 80", "rating_scale[B]"},
		{"missing scale", "C: 0.5, ", "", "rating C"},
		{"negative cap", "cap: 2000000", "cap: -1", "cap"},
		{"product share above 1", "tax_loan: 0.3", "tax_loan: 3", "tax_loan"},
		{"low tier sampled more", "sampling_ratio: 0.1}", "sampling_ratio: 0.5}", "inspection[2]"},
		{"last tier not at 0", "min_probability: 0, sampling_ratio", "min_probability: 0.01, sampling_ratio", "last tier"},
		{"not yaml", "version: \"t1\"", "version: [", "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(testYAML, tt.from) {
				t.Fatalf("test setup: %q not in policy", tt.from)
			}
			_, err := Parse([]byte(strings.Replace(testYAML, tt.from, tt.to, 1)))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestDefaultAndJSON(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if p.Version == "" || len(p.Rules) == 0 {
		t.Fatalf("default policy %+v", p)
	}
	j := `{"version":"j1","score":{"offset":600,"pdo":20},"ratings":[{"rating":"D","max_pd":1}],
	"colours":[{"colour":"red"}],"limit":{"rating_scale":{"D":0},"cap":1},
	"inspection":[{"tier":"low","min_probability":0,"sampling_ratio":0.1}]}`
	pj := mustParse(t, j)
	if r, _ := pj.Rating(0.01); r != D {
		t.Errorf("one-band policy rated %s", r)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(testYAML))
	f.Add(DefaultYAML())
	f.Add([]byte(`{"version":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		for _, pd := range []float64{0, 0.01, 0.5, 1} {
			s, err := p.Score(pd)
			if err != nil || math.IsNaN(s) {
				t.Fatalf("valid policy: Score(%v) = %v, %v", pd, s, err)
			}
			if _, err := p.Rating(pd); err != nil {
				t.Fatal(err)
			}
			if _, _, err := p.Inspection(pd); err != nil {
				t.Fatal(err)
			}
			r, _ := p.Rating(pd)
			c, _ := p.Colour(s, func(string) (float64, bool) { return 1, true })
			if l, err := p.Limit(1e6, r, c, func(string) (float64, bool) { return 1e7, true }); err != nil || l < 0 || l > p.Limits.Cap {
				t.Fatalf("limit %v, %v", l, err)
			}
		}
	})
}

func BenchmarkDecide(b *testing.B) {
	p, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	vals := map[string]float64{"tax.sales.sum_12m": 5e6, "network.defaulted_neighbours": 0}
	look := values(vals)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := p.Score(0.03)
		r, _ := p.Rating(0.03)
		c, _ := p.Colour(s, look)
		_, _ = p.Limit(1.5e6, r, c, look)
		_, _, _ = p.Inspection(0.12)
	}
}
