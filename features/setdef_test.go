package features

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseSetDefinition(t *testing.T) {
	known := func(id string) bool { return id == "tax.sales.sum_12m" }
	tests := []struct {
		name, yaml string
		wantErr    string // "" for none
		wantCols   string
	}{
		{"indicators and request features", `
name: bank-a
features:
  - indicator: tax.sales.sum_12m
  - {name: collateral_ratio, type: numeric, unit: ratio, min: 0, max: 5, zh: 抵押率, en: Collateral ratio}
  - {name: grade, type: categorical, categories: [A, B, C]}
`, "", "tax.sales.sum_12m,collateral_ratio,grade"},
		{"unknown field", "name: a\nfeatures: [{name: x, type: numeric}]\nextra: 1\n", "field extra not found", ""},
		{"unknown indicator", "name: a\nfeatures: [{indicator: tax.nope}]\n", `"tax.nope" is not in the catalog`, ""},
		{"indicator with a range", "name: a\nfeatures: [{indicator: tax.sales.sum_12m, min: 1}]\n", "takes no name", ""},
		{"request feature named like an indicator", "name: a\nfeatures: [{name: tax.sales.sum_12m, type: numeric}]\n", "id of a catalog indicator", ""},
		{"bad name", "name: a/v1\nfeatures: [{name: x, type: numeric}]\n", "name must be", ""},
		{"categorical range", "name: a\nfeatures: [{name: x, type: categorical, categories: [a], min: 0}]\n", "has no range", ""},
		{"repeated category", "name: a\nfeatures: [{name: x, type: categorical, categories: [a, a]}]\n", "repeated", ""},
		{"twice", "name: a\nfeatures: [{name: x, type: numeric}, {name: x, type: numeric}]\n", `"x" is listed twice`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseSetDefinition([]byte(tt.yaml), known)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadSetDefinition) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(d.Columns(), ","); got != tt.wantCols {
				t.Fatalf("columns %s, want %s", got, tt.wantCols)
			}
		})
	}
}

func TestSetFeatureValue(t *testing.T) {
	lo, hi := 0.0, 5.0
	num := SetFeature{Name: "r", Type: FeatureNumeric, Min: &lo, Max: &hi}
	cat := SetFeature{Name: "g", Type: FeatureCategorical, Categories: []string{"A", "B", "C"}}
	tests := []struct {
		name  string
		f     SetFeature
		num   float64
		text  string
		isCat bool
		want  float64
		err   string
	}{
		{"in range", num, 2.5, "", false, 2.5, ""},
		{"at the bound", num, 5, "", false, 5, ""},
		{"above", num, 5.01, "", false, 0, "outside [0, 5]"},
		{"text for a number", num, 0, "x", true, 0, "is numeric"},
		{"category index", cat, 0, "C", true, 2, ""},
		{"unknown category", cat, 0, "D", true, 0, `"D" is not one of A, B, C`},
		{"number for a category", cat, 1, "", false, 0, "is categorical"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f.Value(tt.num, tt.text, tt.isCat)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func FuzzParseSetDefinition(f *testing.F) {
	f.Add([]byte("name: a\nfeatures: [{name: x, type: numeric, min: 0, max: 1}, {indicator: k}]\n"))
	f.Add([]byte("name: b\nfeatures: [{name: g, type: categorical, categories: [A, B]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseSetDefinition(data, func(id string) bool { return id == "k" })
		if err != nil {
			if !errors.Is(err, ErrBadSetDefinition) {
				t.Fatalf("error %v does not wrap ErrBadSetDefinition", err)
			}
			return
		}
		if len(d.Features) == 0 || len(d.Features) > MaxSetFeatures {
			t.Fatalf("accepted %d features", len(d.Features))
		}
		if err := d.Validate(func(id string) bool { return id == "k" }); err != nil {
			t.Fatalf("accepted definition fails validation again: %v", err)
		}
	})
}

func TestRequestValues(t *testing.T) {
	d, err := ParseSetDefinition([]byte(`name: bank-a
version: 1
features:
  - indicator: tax.sales.sum_12m
  - {name: ratio, type: numeric, min: 0, max: 5}
  - {name: grade, type: categorical, categories: [A, B, C]}
`), func(id string) bool { return id == "tax.sales.sum_12m" })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   map[string]any
		want map[string]float64
		err  string
	}{
		{"both", map[string]any{"ratio": 1.5, "grade": "B"}, map[string]float64{"ratio": 1.5, "grade": 1}, ""},
		{"json number", map[string]any{"ratio": json.Number("2"), "grade": "A"}, map[string]float64{"ratio": 2, "grade": 0}, ""},
		{"missing", map[string]any{"ratio": 1.0}, nil, `needs request feature "grade"`},
		{"null", map[string]any{"ratio": 1.0, "grade": nil}, nil, `needs request feature "grade"`},
		{"unknown", map[string]any{"ratio": 1.0, "grade": "A", "zeta": 1.0, "alpha": 2.0}, nil, `no request feature "alpha"`},
		{"an indicator", map[string]any{"ratio": 1.0, "grade": "A", "tax.sales.sum_12m": 1.0}, nil, "the platform supplies it"},
		{"out of range", map[string]any{"ratio": 6.0, "grade": "A"}, nil, `"ratio": 6 is outside [0, 5]`},
		{"unknown category", map[string]any{"ratio": 1.0, "grade": "Z"}, nil, `"Z" is not one of A, B, C`},
		{"a bool", map[string]any{"ratio": true, "grade": "A"}, nil, "want a number or a text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.RequestValues(tt.in)
			if tt.err != "" {
				if !errors.Is(err, ErrBadRequestFeatures) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	// A set without request features takes nothing and allocates nothing.
	plain := SetDefinition{Name: "p", Version: 1, Features: []SetFeature{{Indicator: "tax.sales.sum_12m"}}}
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := plain.RequestValues(nil); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("%v allocations for a set without request features", allocs)
	}
	if _, err := plain.RequestValues(map[string]any{"x": 1.0}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("unknown feature for a plain set: %v", err)
	}
}

func BenchmarkRequestValues(b *testing.B) {
	lo, hi := 0.0, 5.0
	d := SetDefinition{Name: "b", Version: 1, Features: []SetFeature{{Indicator: "k"},
		{Name: "ratio", Type: FeatureNumeric, Min: &lo, Max: &hi}, {Name: "grade", Type: FeatureCategorical, Categories: []string{"A", "B", "C"}}}}
	in := map[string]any{"ratio": 1.5, "grade": "C"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.RequestValues(in); err != nil {
			b.Fatal(err)
		}
	}
}
