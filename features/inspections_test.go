package features

import (
	"context"
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
)

// TestSampleSeesInspectionResults: a problem found in a recorded inspection is a
// violation label from the day it was recorded (its arrival), and a correction
// retracts it from the correction's arrival on, never before.
func TestSampleSeesInspectionResults(t *testing.T) {
	ctx := context.Background()
	store, cat := sampleStore(t) // snapshots 2025-06-30 (c1, c2) and 2025-07-31 (c1, c2, c3); no violation labels
	src := datasets.InspectionSource()
	// c1: a problem found on 2025-10-10, recorded only on 2026-08-15.
	putRaw(t, store, src.Key(datasets.MonthOf(dd("2025-10-10").Time()), 1), []datasets.InspectionRow{
		{Code: c1, EventDate: dd("2025-10-10"), ArrivalDate: dd("2026-08-15"), InspectionID: "plan-1/" + c1, Outcome: datasets.InspectionProblem, Category: "licence"},
	})
	// c3: ordered to rectify on 2025-11-05 (recorded the next day), corrected to no
	// problem on 2026-08-20.
	putRaw(t, store, src.Key(datasets.MonthOf(dd("2025-11-05").Time()), 2), []datasets.InspectionRow{
		{Code: c3, EventDate: dd("2025-11-05"), ArrivalDate: dd("2025-11-06"), InspectionID: "plan-1/" + c3, Outcome: datasets.InspectionRectify},
	})
	putRaw(t, store, src.Key(datasets.MonthOf(dd("2025-11-05").Time()), 3), []datasets.InspectionRow{
		{Code: c3, EventDate: dd("2025-11-05"), ArrivalDate: dd("2026-08-20"), Revision: 1, InspectionID: "plan-1/" + c3, Outcome: datasets.InspectionNoProblem},
	})
	// c2: no problem found.
	putRaw(t, store, src.Key(datasets.MonthOf(dd("2025-09-01").Time()), 4), []datasets.InspectionRow{
		{Code: c2, EventDate: dd("2025-09-01"), ArrivalDate: dd("2025-09-01"), InspectionID: "plan-1/" + c2, Outcome: datasets.InspectionNoProblem},
	})
	tests := []struct {
		buildAt            string
		trainPos, validPos int64 // June: c1, c2; July: c1, c2, c3
	}{
		{"2026-07-31", 0, 1}, // c3's rectification is known; c1's problem is not yet
		{"2026-08-14", 0, 1}, // the day before c1's result arrives
		{"2026-08-15", 1, 2}, // c1 counts in both windows
		{"2026-08-20", 1, 1}, // c3's correction retracts its violation
	}
	for _, tt := range tests {
		t.Run(tt.buildAt, func(t *testing.T) {
			m, err := BuildSample(ctx, store, SampleOptions{AllCompanies: true, Name: "viol-" + tt.buildAt, Set: "t", Label: "violation_12m", Catalog: cat,
				From: day("2025-01-01").Time(), To: day("2025-12-31").Time(), BuildAt: day(tt.buildAt).Time(),
				ValidFrom: day("2025-07-01").Time(), TestFrom: day("2025-08-01").Time()})
			if err != nil {
				t.Fatal(err)
			}
			tr, va := m.Splits["train"], m.Splits["valid"]
			if tr.Rows != 2 || va.Rows != 3 {
				t.Fatalf("rows train/valid = %d/%d, want 2/3", tr.Rows, va.Rows)
			}
			if tr.Positives != tt.trainPos || va.Positives != tt.validPos {
				t.Errorf("positives train/valid = %d/%d, want %d/%d", tr.Positives, va.Positives, tt.trainPos, tt.validPos)
			}
			n := 0
			for _, f := range m.Labels {
				if len(f.Key) > len(src.Prefix()) && f.Key[:len(src.Prefix())] == src.Prefix() {
					n++
				}
			}
			if n != 4 {
				t.Errorf("lineage names %d inspection files, want 4: %v", n, m.Labels)
			}
		})
	}
}
