package lab

import (
	"errors"
	"fmt"
	"testing"
)

func exploreRows(n int) []ExploreRow {
	rows := make([]ExploreRow, n)
	for i := range rows {
		tier := []string{"high", "medium", "low"}[min(2, i*3/n)]
		rows[i] = ExploreRow{Rank: i + 1, Code: fmt.Sprintf("CODE%06d", i), Name: fmt.Sprintf("企业%06d", n-i),
			District: fmt.Sprintf("D%d", i%7), Industry: string(rune('A' + i%20)), Tier: tier, Probability: 1 - float64(i)/float64(n)}
	}
	return rows
}

func TestPageOf(t *testing.T) {
	rows := exploreRows(1000)
	f := FacetsOf(rows, nil)
	if len(f.Districts) != 7 || len(f.Industries) != 20 || len(f.Tiers) != 3 || f.Districts[0].Count != 143 {
		t.Fatalf("facets %+v", f.Districts)
	}
	// District D3 and the high tier: i%7 == 3 and i < 334 (by hand: 3, 10, …, 332 → 48 rows; the 41st is i = 3 + 40·7).
	p, err := PageOf(rows, f, ExploreQuery{District: "D3", Tier: "high", PerPage: 20, Page: 3})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 48 || p.Pages != 3 || len(p.Rows) != 8 || p.Rows[0].Rank != 40*7+3+1 {
		t.Fatalf("page: total %d pages %d rows %d first %+v", p.Total, p.Pages, len(p.Rows), p.Rows[0])
	}
	// Least risky first; by name (names run backwards from the ranks).
	if p, _ := PageOf(rows, f, ExploreQuery{Sort: "-rank", PerPage: 1}); p.Rows[0].Rank != 1000 {
		t.Fatalf("-rank first %+v", p.Rows[0])
	}
	if p, _ := PageOf(rows, f, ExploreQuery{Sort: "name", PerPage: 1}); p.Rows[0].Name != "企业000001" {
		t.Fatalf("name first %+v", p.Rows[0])
	}
	if p, _ := PageOf(rows, f, ExploreQuery{Text: "code000999"}); p.Total != 1 || p.Rows[0].Rank != 1000 {
		t.Fatalf("text search %+v", p)
	}
	if p, _ := PageOf(rows, f, ExploreQuery{Page: 99}); len(p.Rows) != 0 || p.Total != 1000 {
		t.Fatalf("page past the end %+v", p)
	}
	for _, q := range []ExploreQuery{{Sort: "colour"}, {PerPage: 501}} {
		if _, err := PageOf(rows, f, q); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%+v: %v, want ErrInvalidInput", q, err)
		}
	}
}

// BenchmarkPageOf120k: one filtered, sorted page of a 120,000-company screening
// (the explorer's target is 200 ms).
func BenchmarkPageOf120k(b *testing.B) {
	rows := exploreRows(120000)
	f := FacetsOf(rows, nil)
	for b.Loop() {
		if _, err := PageOf(rows, f, ExploreQuery{District: "D2", Sort: "name", Page: 5}); err != nil {
			b.Fatal(err)
		}
	}
}
