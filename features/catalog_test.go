package features

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestDefaultCatalog(t *testing.T) {
	c, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Indicators()); got < 80 {
		t.Errorf("indicators = %d, want >= 80", got)
	}
	perDim := map[Dimension]int{}
	for _, ind := range c.Indicators() {
		perDim[ind.Dimension]++
	}
	for _, d := range Dimensions {
		if perDim[d] == 0 {
			t.Errorf("dimension %s has no indicator", d)
		}
	}
	for _, name := range []string{"pd", "violation", "limit"} {
		s, err := c.Set(name, 1)
		if err != nil {
			t.Errorf("set %s: %v", name, err)
			continue
		}
		if s.Label == "" {
			t.Errorf("set %s has no label", name)
		}
	}
	if _, err := c.Set("pd/v1", 0); err != nil {
		t.Errorf("Set(pd/v1): %v", err)
	}
	if _, err := c.Set("pd", 9); !errors.Is(err, ErrUnknownSet) {
		t.Errorf("Set(pd, 9) err = %v, want ErrUnknownSet", err)
	}
	if _, err := c.Set("nope", 0); !errors.Is(err, ErrUnknownSet) {
		t.Errorf("Set(nope) err = %v, want ErrUnknownSet", err)
	}
	if _, err := c.Indicator("tax.sales.sum_5m"); !errors.Is(err, ErrUnknownIndicator) || !strings.Contains(err.Error(), "tax.sales.sum_5m") {
		t.Errorf("Indicator(unknown) err = %v", err)
	}
	ind, err := c.Indicator("tax.sales.sum_12m")
	if err != nil {
		t.Fatal(err)
	}
	if ind.Window != 12 || ind.Aggregation != AggSum || ind.Source() != "tax" || ind.NameZH != "近12个月开票销售额合计" {
		t.Errorf("tax.sales.sum_12m = %+v", ind)
	}
}

const testSources = `sources:
  - name: tax
    kind: monthly
    columns: [sales]
  - name: guarantee
    kind: relation
    id_column: guarantee_id
    columns: [amount]
`

func indicatorYAML(id, source, column, agg string, window int) string {
	return "  - id: " + id + "\n" +
		"    name_zh: 测试\n    name_en: test\n    dimension: operating\n" +
		"    sources: [" + source + "]\n    column: " + column + "\n    aggregation: " + agg + "\n" +
		"    window: " + strconv.Itoa(window) + "\n    unit: x\n    direction: none\n    sensitivity: public\n"
}

func TestCatalogErrors(t *testing.T) {
	// Each indicator entry is 11 lines; the file starts with "indicators:", so the
	// first entry sits on line 2 and the second on line 13.
	good := indicatorYAML("a.one", "tax", "sales", "sum", 12)
	tests := []struct {
		name    string
		inds    string
		sets    string
		wantMsg string // substring, includes file:line
	}{
		{"unknown source", good + indicatorYAML("a.two", "customs", "sales", "sum", 12), "", `ind.yaml:13: indicator "a.two": unknown source "customs"`},
		{"unknown column", good + indicatorYAML("a.two", "tax", "revenue", "sum", 12), "", `ind.yaml:13: indicator "a.two": unknown column "revenue"`},
		{"duplicate id", good + indicatorYAML("a.one", "tax", "sales", "mean", 12), "", `ind.yaml:13: duplicate indicator id "a.one" (first at ind.yaml:2)`},
		{"bad window", good + indicatorYAML("a.two", "tax", "sales", "sum", 5), "", `ind.yaml:13: indicator "a.two": bad window 5`},
		{"window on graph", good + indicatorYAML("a.two", "guarantee", "in_circle", "graph", 3), "", `ind.yaml:13: indicator "a.two": bad window 3`},
		{"unknown aggregation", good + indicatorYAML("a.two", "tax", "sales", "median", 12), "", `ind.yaml:13: indicator "a.two": unknown aggregation "median"`},
		{"unknown measure", good + indicatorYAML("a.two", "guarantee", "pagerank", "graph", 0), "", `ind.yaml:13: indicator "a.two": unknown network measure "pagerank"`},
		{"unknown field", good + "  - id: a.two\n    colour: red\n", "", `ind.yaml:14: unknown field "colour"`},
		{"set unknown indicator", good, "sets:\n  - name: pd\n    version: 1\n    indicators: [a.one, a.zzz]\n", `sets.yaml:2: feature set pd/v1: unknown indicator "a.zzz"`},
		{"duplicate set", good, "sets:\n  - name: pd\n    version: 1\n    indicators: [a.one]\n  - name: pd\n    version: 1\n    indicators: [a.one]\n", `sets.yaml:5: duplicate feature set pd/v1`},
		{"not yaml", good + "  - id: [\n", "", `ind.yaml`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{
				"src.yaml": []byte(testSources),
				"ind.yaml": []byte("indicators:\n" + tt.inds),
			}
			if tt.sets != "" {
				files["sets.yaml"] = []byte(tt.sets)
			}
			_, err := ParseCatalog(files)
			if !errors.Is(err, ErrCatalog) {
				t.Fatalf("err = %v, want ErrCatalog", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		c, err := ParseCatalog(map[string][]byte{"src.yaml": []byte(testSources), "ind.yaml": []byte("indicators:\n" + good)})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Indicators()) != 1 {
			t.Errorf("indicators = %d, want 1", len(c.Indicators()))
		}
	})
}

func FuzzParseCatalog(f *testing.F) {
	f.Add([]byte("indicators:\n" + indicatorYAML("a.one", "tax", "sales", "sum", 12)))
	f.Add([]byte("sets:\n  - name: pd\n    version: 1\n    indicators: [a.one]\n"))
	f.Add([]byte("- [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog(map[string][]byte{"src.yaml": []byte(testSources), "x.yaml": data})
		if err == nil && c == nil {
			t.Fatal("nil catalog without error")
		}
		if err != nil && !errors.Is(err, ErrCatalog) {
			t.Fatalf("error %v does not wrap ErrCatalog", err)
		}
	})
}

func TestDefinitionZH(t *testing.T) {
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	latin := regexp.MustCompile(`[A-Za-z]`)
	for _, ind := range cat.Indicators() {
		d := ind.DefinitionZH()
		if d == ind.NameZH || latin.MatchString(d) || strings.Contains(d, "近 0 个月") {
			t.Errorf("%s: Chinese definition %q", ind.ID, d)
		}
	}
	for id, want := range map[string]string{
		"tax.sales.sum_3m":       "近 3 个月开票销售额逐月相加。只计观察日前已报送到平台的数据。",
		"court.amount.count_12m": "近 12 个月内发生、且在观察日前已报送到平台的涉诉记录条数。",
	} {
		ind, err := cat.Indicator(id)
		if err != nil {
			t.Fatal(err)
		}
		if got := ind.DefinitionZH(); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
}
