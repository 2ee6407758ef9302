package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestStatusCollector: the source metrics follow the committed batches; the
// expected values are the batches' own counts and dates, written out by hand.
func TestStatusCollector(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	g := New(store)
	// 5 good rows and one with a bad code: accepted 5, rejected 1.
	data := taxCSV(t, 5, "2024-03", func(i int) string { return fmt.Sprintf("%d.5", i+1) }) +
		"91330604MA0000000X,2024-03,1,0,0,0,0,1,0,B级\n"
	if _, err := g.Ingest(ctx, "tax", []Input{{Name: "tax.csv", R: strings.NewReader(data)}}, Options{Now: clock("2024-04-15"), MaxBad: 0.5}); err != nil {
		t.Fatal(err)
	}
	c := NewStatusCollector(store, time.Hour, nil)
	now, _ := time.Parse(time.DateOnly, "2024-04-20")
	c.now = func() time.Time { return now }
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	arrival := float64(clock("2024-04-15")().Unix())
	for _, c := range []struct {
		name, source, outcome string
		want                  float64
	}{
		{"xinyi_source_batches", "tax", "", 1},
		{"xinyi_source_rows", "tax", "accepted", 5},
		{"xinyi_source_rows", "tax", "rejected", 1},
		{"xinyi_source_reject_ratio", "tax", "", 1.0 / 6},
		{"xinyi_source_last_arrival_timestamp_seconds", "tax", "", arrival},
		{"xinyi_source_cadence_seconds", "tax", "", float64(cadenceDays(t, "tax")) * 86400},
		// Five days after a delivery the tax source is on time; a source never
		// delivered is late.
		{"xinyi_source_late", "tax", "", 0},
		{"xinyi_source_late", "court", "", 1},
		{"xinyi_source_batches", "court", "", 0},
	} {
		if got, ok := gauge(t, reg, c.name, c.source, c.outcome); !ok || got != c.want {
			t.Errorf("%s{source=%q,outcome=%q} = %v (present %v), want %v", c.name, c.source, c.outcome, got, ok, c.want)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// TestStatusCollectorLate: as the online store's freshness, the collector calls
// a source late once its newest batch is older than its cadence (days counted by
// hand from the batch's arrival), and never judges a source with no batch.
func TestStatusCollectorLate(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	if _, err := New(store).Ingest(ctx, "tax", []Input{{Name: "tax.csv", R: strings.NewReader(taxCSV(t, 3, "2024-03", func(i int) string { return "1.5" }))}},
		Options{Now: clock("2024-04-15")}); err != nil {
		t.Fatal(err)
	}
	c := NewStatusCollector(store, time.Hour, nil)
	now, _ := time.Parse(time.DateOnly, "2024-04-20")
	c.now = func() time.Time { return now }
	// The first lookup has nothing read yet: it judges nothing and starts a read.
	if c.Late("tax", now) {
		t.Fatal("late before any status was read")
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.table.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the background read never finished")
		}
		time.Sleep(5 * time.Millisecond)
	}
	arrived := clock("2024-04-15")()
	cadence := time.Duration(cadenceDays(t, "tax")) * 24 * time.Hour
	for _, tc := range []struct {
		source string
		at     time.Time
		want   bool
	}{
		{"tax", arrived.Add(cadence), false},
		{"tax", arrived.Add(cadence + time.Second), true},
		{"court", arrived.Add(1000 * 24 * time.Hour), false}, // never delivered: not judged
		{"nosuch", now, false},
	} {
		if got := c.Late(tc.source, tc.at); got != tc.want {
			t.Errorf("Late(%s, %s) = %v, want %v", tc.source, tc.at.Format(time.RFC3339), got, tc.want)
		}
	}
}

func cadenceDays(t *testing.T, source string) int {
	st, err := Status(context.Background(), openStore(t), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Source == source {
			return s.CadenceDays
		}
	}
	t.Fatalf("no source %s", source)
	return 0
}

// gauge returns the value of one series.
func gauge(t *testing.T, reg *prometheus.Registry, name, source, outcome string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if (l.GetName() == "source" && l.GetValue() != source) || (l.GetName() == "outcome" && l.GetValue() != outcome) {
					continue series
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}
