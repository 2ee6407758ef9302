package warnings

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
)

// TestContagion: when one member of a circle turns red, every other member gets
// the contagion warning at that date only; members stay warned of red members
// while it lasts; companies outside the circle are not warned.
func TestContagion(t *testing.T) {
	lib, err := DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ind := range cat.Indicators() {
		names = append(names, ind.ID)
	}
	codes := []string{"a", "b", "c", "d", "e"}
	dishonest := slices.Index(names, "court.dishonest.max_24m")
	snap := func(month time.Month, red ...string) *features.Snapshot {
		s := &features.Snapshot{Set: "full/v1", AsOf: time.Date(2025, month+1, 0, 0, 0, 0, 0, time.UTC), Names: names, Codes: codes,
			Values: make([]float64, len(codes)*len(names))}
		for i := range s.Values {
			s.Values[i] = math.NaN()
		}
		for i, c := range codes {
			s.Values[i*len(names)+dishonest] = 0
			if slices.Contains(red, c) {
				s.Values[i*len(names)+dishonest] = 1
			}
		}
		return s
	}
	circles, err := NewCircles([][]string{{"a", "b", "c"}, {"d", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCircles([][]string{{"a", "b"}, {"b", "c"}}); err == nil {
		t.Error("a company in two circles was accepted")
	}
	months := []*features.Snapshot{snap(1), snap(2, "a", "d"), snap(3, "a", "d"), snap(4)}
	want := []map[string][]string{
		{},
		{"network.circle.contagion": {"b", "c"}, "network.circle.red_members": {"b", "c"}},
		{"network.circle.red_members": {"b", "c"}},
		{},
	}
	for i, s := range months {
		in := Input{Now: s, Circles: circles}
		if i > 0 {
			in.Prev = months[i-1]
		}
		ev, err := lib.Evaluate(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, f := range ev.Firings {
			if r, _ := lib.Rule(f.Rule); r.network {
				got[f.Rule] = append(got[f.Rule], f.Company)
				if f.Rule == "network.circle.contagion" && (len(f.Evidence.Values) != 1 || f.Evidence.Values[0].Name != "circle_red_new" || f.Evidence.Values[0].Now != 1) {
					t.Errorf("month %d: contagion evidence %+v", i+1, f.Evidence)
				}
			}
		}
		for rule, cs := range want[i] {
			if !slices.Equal(got[rule], cs) {
				t.Errorf("month %d: %s fired for %v, want %v", i+1, rule, got[rule], cs)
			}
		}
		for rule, cs := range got {
			if _, ok := want[i][rule]; !ok {
				t.Errorf("month %d: %s fired for %v, want none", i+1, rule, cs)
			}
		}
	}
}
