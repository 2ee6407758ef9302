package warnings

import (
	"context"
	"errors"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

func fire(rule, company string, sev Severity, x float64) Firing {
	return Firing{Rule: rule, Severity: sev, Area: "tax", Company: company,
		Evidence: Evidence{Values: []Value{{Name: "tax.arrears.max_12m", Now: x}}}}
}

func eval(asof string, fs ...Firing) *Evaluation {
	for i := range fs {
		fs[i].Evidence.AsOf = asof
	}
	return &Evaluation{AsOf: asof, Version: "t1", Companies: 3, Firings: fs}
}

func keys(ws []*Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Rule+"/"+w.Company)
	}
	return out
}

func sameKeys(t *testing.T, what string, ws []*Warning, want ...string) {
	t.Helper()
	got := keys(ws)
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	seen := map[string]bool{}
	for _, k := range got {
		seen[k] = true
	}
	for _, k := range want {
		if !seen[k] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

func TestLifecycle(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		st, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		apply := func(ev *Evaluation) *Changes {
			t.Helper()
			ch, err := st.Apply(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			return ch
		}
		// Month 1: two warnings open.
		ch := apply(eval("2025-01-31", fire("r1", "c1", Red, 1), fire("r2", "c1", Yellow, 1)))
		sameKeys(t, "opened 1", ch.Opened, "r1/c1", "r2/c1")
		first := ch.Opened[0].ID
		// Month 2: r1 lasts (same values: no update alert), r2 clears, r3 opens.
		ch = apply(eval("2025-02-28", fire("r1", "c1", Red, 1), fire("r3", "c2", Blue, 7)))
		sameKeys(t, "opened 2", ch.Opened, "r3/c2")
		sameKeys(t, "updated 2", ch.Updated)
		sameKeys(t, "closed 2", ch.Closed, "r2/c1")
		if ch.Seen != 1 {
			t.Errorf("seen %d, want 1", ch.Seen)
		}
		// The same month again changes nothing; an older one is refused.
		if ch := apply(eval("2025-02-28")); !ch.Already || len(ch.Closed) != 0 {
			t.Fatalf("re-applying: %+v", ch)
		}
		if _, err := st.Apply(ctx, eval("2025-01-31")); !errors.Is(err, ErrOutOfOrder) {
			t.Fatalf("older month: %v", err)
		}
		// r3/c2 is acknowledged: its changes are silent, r1's are alerted.
		open, err := st.List(ctx, Filter{Company: "c2", State: StateOpen})
		if err != nil || len(open) != 1 {
			t.Fatalf("open of c2: %v %v", open, err)
		}
		w, err := st.Ack(ctx, open[0].ID, "officer@bank")
		if err != nil || w.AckedBy != "officer@bank" || w.AckedAt == nil {
			t.Fatalf("ack: %+v %v", w, err)
		}
		if _, err := st.Ack(ctx, 999999, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ack of a missing warning: %v", err)
		}
		ch = apply(eval("2025-03-31", fire("r1", "c1", Red, 2), fire("r3", "c2", Blue, 8)))
		sameKeys(t, "updated 3", ch.Updated, "r1/c1")
		sameKeys(t, "opened 3", ch.Opened)
		// A lasting condition is one warning: r1/c1 opened in January, seen in March.
		all, err := st.List(ctx, Filter{Rule: "r1"})
		if err != nil || len(all) != 1 || all[0].ID != first || all[0].OpenedAsOf != "2025-01-31" || all[0].LastSeenAsOf != "2025-03-31" {
			t.Fatalf("r1 warnings: %+v %v", all, err)
		}
		// Month 4: everything clears; month 5: r1 again is a new warning.
		ch = apply(eval("2025-04-30"))
		sameKeys(t, "closed 4", ch.Closed, "r1/c1", "r3/c2")
		ch = apply(eval("2025-05-31", fire("r1", "c1", Red, 3)))
		sameKeys(t, "opened 5", ch.Opened, "r1/c1")
		if ch.Opened[0].ID == first {
			t.Fatal("a warning that came back reused the closed one")
		}
		// Filters.
		for _, tc := range []struct {
			f    Filter
			want int
		}{
			{Filter{}, 4}, {Filter{Severity: Red}, 2}, {Filter{State: StateClosed}, 3}, {Filter{State: StateOpen, Severity: Red}, 1},
			{Filter{Companies: []string{"c1", "c2"}}, 4}, {Filter{Company: "c2"}, 1}, {Filter{Limit: 2}, 2},
		} {
			got, err := st.List(ctx, tc.f)
			if err != nil || len(got) != tc.want {
				t.Errorf("list %+v: %d warnings (%v), want %d", tc.f, len(got), err, tc.want)
			}
		}
		if _, err := st.List(ctx, Filter{Severity: "pink"}); !errors.Is(err, ErrInput) {
			t.Errorf("bad severity: %v", err)
		}
		dates, err := st.Applied(ctx)
		if err != nil || len(dates) != 5 {
			t.Errorf("applied %v %v", dates, err)
		}
	})
}

// TestCounts: a region's open warnings counted by severity, district,
// industry and rule equal a tally of the firings made in the test, and the
// newest-first list pages through every warning once.
func TestCounts(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		st, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		rules := []struct {
			id  string
			sev Severity
		}{{"r1", Red}, {"r2", Yellow}, {"r3", Blue}}
		districts, industries := []string{"d1", "d2", "d3"}, []string{"C", "F"}
		var fs []Firing
		want := map[Count]int{}
		for i := range 60 {
			r := rules[i*7%3]
			f := fire(r.id, "c"+string(rune('A'+i%26))+string(rune('a'+i/26)), r.sev, float64(i))
			f.District, f.Industry = districts[i%3], industries[i*5%2]
			fs = append(fs, f)
			want[Count{Severity: r.sev, District: f.District, Industry: f.Industry, Rule: r.id}]++
		}
		if _, err := st.Apply(ctx, eval("2025-01-31", fs...)); err != nil {
			t.Fatal(err)
		}
		got, err := st.Counts(ctx, Filter{State: StateOpen})
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, c := range got {
			n := c.N
			c.N = 0
			if want[c] != n {
				t.Errorf("%+v: %d, want %d", c, n, want[c])
			}
			delete(want, c)
			total += n
		}
		if len(want) != 0 || total != 60 {
			t.Fatalf("counts miss %v; total %d, want 60", want, total)
		}
		red, err := st.Counts(ctx, Filter{State: StateOpen, Severity: Red, District: "d2"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range red {
			if c.Severity != Red || c.District != "d2" {
				t.Fatalf("filtered counts hold %+v", c)
			}
		}
		if _, err := st.Counts(ctx, Filter{Severity: "purple"}); !errors.Is(err, ErrInput) {
			t.Fatalf("unknown severity: %v", err)
		}
		// Newest first, 25 at a time.
		var ids []int64
		before := int64(0)
		for {
			page, err := st.List(ctx, Filter{State: StateOpen, Newest: true, BeforeID: before, Limit: 25})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, w := range page {
				ids = append(ids, w.ID)
			}
			before = page[len(page)-1].ID
		}
		if len(ids) != 60 {
			t.Fatalf("paged %d warnings, want 60", len(ids))
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] >= ids[i-1] {
				t.Fatalf("not newest first at %d: %v", i, ids)
			}
		}
	})
}
