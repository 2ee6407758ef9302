package warnings

import (
	"context"
	"fmt"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// monthOfFirings is a month of 120,000 companies with three firings each (the
// rate of the generated universe); shift moves a third of them to other rules,
// so applying the next month updates two thirds, opens a third and closes a third.
func monthOfFirings(asof string, shift int) *Evaluation {
	ev := &Evaluation{AsOf: asof, Version: "b", Companies: 120_000}
	for c := range 120_000 {
		for k := range 3 {
			rule := k
			if k == 2 {
				rule += shift
			}
			ev.Firings = append(ev.Firings, Firing{Rule: fmt.Sprintf("rule.%d", rule), Severity: Yellow, Area: "tax", Company: fmt.Sprintf("C%08d", c),
				Evidence: Evidence{AsOf: asof, Values: []Value{{Name: "tax.arrears.max_12m", Now: float64(c % 7), Before: float64(c % 7)}}}})
		}
	}
	return ev
}

// BenchmarkApply120k applies a month of 360,000 firings over a month already
// applied (two thirds lasting, a third opened, a third closed).
//
//	go test ./serving/warnings -run '^$' -bench Apply120k -benchtime 1x
func BenchmarkApply120k(b *testing.B) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *metadb.DB
	}{{"sqlite", metadbtest.SQLite}, {"postgres", metadbtest.Postgres}} {
		b.Run(engine.name, func(b *testing.B) {
			ctx := context.Background()
			st, err := Open(ctx, engine.open(b))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.Apply(ctx, monthOfFirings("2000-01-31", 0)); err != nil {
				b.Fatal(err)
			}
			month := 0
			for b.Loop() {
				month++
				ev := monthOfFirings(fmt.Sprintf("%04d-01-31", 2000+month), month)
				ch, err := st.Apply(ctx, ev)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(ch.Opened)), "opened")
				b.ReportMetric(float64(len(ch.Closed)), "closed")
			}
		})
	}
}
