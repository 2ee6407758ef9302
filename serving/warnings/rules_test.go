package warnings

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/features"
)

func TestDefaultLibraryLoads(t *testing.T) {
	lib, err := DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	if lib.Version == "" {
		t.Error("no version")
	}
	if len(lib.Rules) < 49 {
		t.Errorf("%d rules, want at least 49", len(lib.Rules))
	}
	areas := map[string]int{}
	sev := map[Severity]int{}
	for _, r := range lib.Rules {
		if r.program == nil {
			t.Errorf("rule %s is not compiled", r.ID)
		}
		areas[r.Area]++
		sev[r.Severity]++
	}
	for _, a := range []string{"tax", "social_insurance", "utilities", "housing_fund", "loan", "court", "penalty", "licence", "score", "network"} {
		if areas[a] == 0 {
			t.Errorf("no rule of area %s", a)
		}
	}
	for _, s := range []Severity{Red, Yellow, Blue} {
		if sev[s] == 0 {
			t.Errorf("no %s rule", s)
		}
	}
	t.Logf("%d rules, version %s, by area %v, by severity %v", len(lib.Rules), lib.Version, areas, sev)
}

func TestLoadRefuses(t *testing.T) {
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	rule := func(kind, when string) string {
		return `version: "1"
rules:
- id: r1
  area: tax
  name_zh: 测试
  name_en: test
  rationale_zh: 测试
  rationale_en: test
  severity: red
  department: tax
  kind: ` + kind + `
  when: '` + when + `'
`
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown indicator", rule("state", `v("tax.arrears.max_99m") > 0`), `rule r1 reads unknown indicator "tax.arrears.max_99m"`},
		{"state reads prev", rule("state", `prev("tax.arrears.max_12m") > 0`), "rule r1 is a state rule but reads the previous date"},
		{"state reads prev figure", rule("state", `prev_rating == "D"`), "rule r1 is a state rule"},
		{"not a literal", rule("event", `v("tax." + "x") > 0`), "rule r1: v() takes one indicator id as a string literal"},
		{"unknown identifier", rule("state", `ratingz == "D"`), "rule r1: unknown name ratingz"},
		{"not boolean", rule("state", `v("tax.arrears.max_12m")`), "rule r1:"},
		{"bad severity", strings.Replace(rule("state", `rating == "D"`), "severity: red", "severity: pink", 1), `severity "pink"`},
		{"bad kind", rule("lasting", `rating == "D"`), `kind "lasting"`},
		{"no version", strings.Replace(rule("state", `rating == "D"`), `version: "1"`, "", 1), "no version"},
		{"unknown field", strings.Replace(rule("state", `rating == "D"`), "area: tax", "area: tax\n  colour: red", 1), "field colour not found"},
		{"on_batch unknown column", rule("state", `rating == "D"`) + "  on_batch:\n    source: court\n    when: 'verdict == \"guilty\"'\n", "rule r1: on_batch condition: unknown name verdict"},
		{"on_batch wrong type", rule("state", `rating == "D"`) + "  on_batch:\n    source: court\n    when: 'amount == \"big\"'\n", "rule r1: on_batch condition"},
		{"on_batch unknown source", rule("state", `rating == "D"`) + "  on_batch:\n    source: horoscope\n    when: new\n", "rule r1: on_batch source"},
		{"on_batch static source", rule("state", `rating == "D"`) + "  on_batch:\n    source: companies\n    when: new\n", "not events or monthly figures"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml), cat)
			if !errors.Is(err, ErrRule) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrRule containing %q", err, tc.want)
			}
		})
	}
}

func TestConditionReadsColumns(t *testing.T) {
	lib, err := DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := lib.Rule("tax.arrears.new")
	if got := r.Indicators(); len(got) != 1 || got[0] != "tax.arrears.max_12m" {
		t.Fatalf("indicators %v", got)
	}
	k := lib.column["tax.arrears.max_12m"]
	env := &Env{Now: nan(len(lib.columns)), Prev: nan(len(lib.columns))}
	for _, tc := range []struct {
		now, prev float64
		want      bool
	}{{5, math.NaN(), true}, {5, 0, true}, {5, 3, false}, {0, 0, false}, {math.NaN(), math.NaN(), false}} {
		env.Now[k], env.Prev[k] = tc.now, tc.prev
		got, err := run(r, env, nil)
		if err != nil || got != tc.want {
			t.Errorf("now %v prev %v: got %v, %v; want %v", tc.now, tc.prev, got, err, tc.want)
		}
	}
}

func nan(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

func TestRedact(t *testing.T) {
	lib, err := DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	ev := []byte(`{"as_of":"2025-01-31","values":[{"name":"court.dishonest.max_24m","now":1,"before":0},{"name":"tax.arrears.max_12m","now":5,"before":0},{"name":"rating","now":"D","before":"B"}]}`)
	for _, tc := range []struct {
		clearance string
		want      string
	}{
		{"public", `{"as_of":"2025-01-31","values":[{"name":"court.dishonest.max_24m","now":1,"before":0},{"name":"tax.arrears.max_12m","now":null,"before":null,"withheld":true},{"name":"rating","now":null,"before":null,"withheld":true}]}`},
		{"restricted", `{"as_of":"2025-01-31","values":[{"name":"court.dishonest.max_24m","now":1,"before":0},{"name":"tax.arrears.max_12m","now":null,"before":null,"withheld":true},{"name":"rating","now":"D","before":"B"}]}`},
		{"confidential", string(ev)},
	} {
		got, err := lib.Redact(ev, tc.clearance)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s, %v\nwant %s", tc.clearance, got, err, tc.want)
		}
	}
	if _, err := lib.Redact(ev, "secret"); !errors.Is(err, ErrInput) {
		t.Errorf("unknown clearance: %v", err)
	}
}
