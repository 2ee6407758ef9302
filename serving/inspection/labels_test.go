package inspection

import (
	"context"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving"
)

// sampleLabels builds a violation sample of the snapshot as of 2023-06-30 known by
// buildAt and returns each company's label.
func sampleLabels(t *testing.T, e *env, name string, buildAt time.Time) map[string]float64 {
	t.Helper()
	ctx := context.Background()
	m, err := features.BuildSample(ctx, e.store, features.SampleOptions{Name: name, Set: "violation/v1", From: time.Date(2023, 6, 30, 0, 0, 0, 0, time.UTC),
		To: time.Date(2023, 6, 30, 0, 0, 0, 0, time.UTC), BuildAt: buildAt, Now: func() time.Time { return buildAt }})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := features.ReadSampleSplit(ctx, e.store, m, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	codes := rec.Column(0).(*array.String)
	y := rec.Column(int(rec.NumCols()) - 1).(*array.Float64)
	out := map[string]float64{}
	for i := 0; i < int(rec.NumRows()); i++ {
		out[codes.Value(i)] = y.Value(i)
	}
	return out
}

// TestResultsBecomeLabels runs the loop on a generated region: a plan drawn from a
// screening of the snapshot as of 2023-06-30, results recorded on 2024-07-01 for
// inspections of 2023-07-15. A violation sample built on 2024-06-30 does not see
// them; one built on 2024-07-01 sees each problem found as a violation within the
// snapshot's 12-month window, and nothing else changes.
func TestResultsBecomeLabels(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, metadbtest.SQLite(t))
	if _, err := datasets.Generate(ctx, e.store, datasets.GenerateOptions{Companies: 400, Months: 24, Seed: 7, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	asof := time.Date(2023, 6, 30, 0, 0, 0, 0, time.UTC)
	if _, err := features.Materialize(ctx, e.store, features.Options{Set: "violation/v1", AsOf: []time.Time{asof}, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	snap, _, err := features.ReadSnapshot(ctx, e.store, "violation", 1, features.DayOf(asof))
	if err != nil {
		t.Fatal(err)
	}
	// A screening of every company: a made-up probability from the code's hash
	// (the loop does not depend on the model), tiers at the default policy's ratios.
	var rows []serving.ScreenRow
	for _, c := range snap.Codes {
		h := fnv.New32a()
		h.Write([]byte(c))
		p := float64(h.Sum32()%1000) / 1000
		tier, ratio := "low", 0.1
		switch {
		case p >= 0.9:
			tier, ratio = "high", 1.0
		case p >= 0.6:
			tier, ratio = "medium", 0.3
		}
		rows = append(rows, serving.ScreenRow{Company: c, Probability: p, Tier: tier, SamplingRatio: ratio})
	}
	res := &serving.ScreenResult{ID: "1-gen", Task: serving.TaskViolation, AsOf: asof, Rows: rows}
	if _, err := serving.WriteScreening(ctx, e.store, res); err != nil {
		t.Fatal(err)
	}
	res.Rows = nil
	e.jobs["1-gen"] = serving.Job{ID: "1-gen", State: serving.JobDone, InstitutionID: e.reg.InstitutionID, Result: res}
	e.now = time.Date(2023, 7, 1, 9, 0, 0, 0, time.UTC)
	plan, err := e.svc.Draw(ctx, e.reg, "1-gen", DrawOptions{Inspectors: staff, Seed: seedOf(99)})
	if err != nil {
		t.Fatal(err)
	}
	// The export names the firms from the generated business registry.
	csv, _, err := e.svc.Export(ctx, e.reg, plan.ID, "csv")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := datasets.LoadDirectory(ctx, e.store, datasets.DayOf(e.now))
	if err != nil {
		t.Fatal(err)
	}
	reg, ok := dir.Company(plan.Items[0].Company)
	if !ok || reg.Name == "" || reg.Address == "" || !strings.Contains(string(csv), "\r\n"+plan.Items[0].Company+","+reg.Name+","+reg.Address+","+reg.DistrictName+",") {
		t.Errorf("the export does not name and place %s %q at %q", plan.Items[0].Company, reg.Name, reg.Address)
	}
	before := sampleLabels(t, e, "before", time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC))
	if len(before) != len(snap.Codes) {
		t.Fatalf("sample has %d rows, want %d", len(before), len(snap.Codes))
	}
	// Record: a problem found at the first firms whose label is 0, a rectification
	// at the next, no problem at the next two.
	e.now = time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	outcomes := []string{datasets.InspectionProblem, datasets.InspectionProblem, datasets.InspectionRectify, datasets.InspectionNoProblem, datasets.InspectionNoProblem}
	found := map[string]bool{}
	clean := map[string]bool{}
	k := 0
	for _, it := range plan.Items {
		if k == len(outcomes) {
			break
		}
		if before[it.Company] != 0 {
			continue
		}
		in := ResultInput{Company: it.Company, Outcome: outcomes[k], Date: "2023-07-15", Inspector: it.Inspectors[0]}
		if in.Outcome == datasets.InspectionProblem {
			in.Category = "product_quality"
		}
		if _, err := e.svc.Record(ctx, e.reg, plan.ID, in); err != nil {
			t.Fatal(err)
		}
		if datasets.InspectionFoundProblem(in.Outcome) {
			found[it.Company] = true
		} else {
			clean[it.Company] = true
		}
		k++
	}
	if k != len(outcomes) {
		t.Fatalf("only %d firms of the plan have label 0", k)
	}
	asBefore := sampleLabels(t, e, "as-of-before", time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC))
	after := sampleLabels(t, e, "after", time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	changed := 0
	for c, y := range before {
		if asBefore[c] != y {
			t.Errorf("%s: a sample as of 2024-06-30 built after the results changed from %v to %v", c, y, asBefore[c])
		}
		switch {
		case found[c]:
			if after[c] != 1 {
				t.Errorf("%s: a problem found is label %v, want 1", c, after[c])
			}
			changed++
		case clean[c]:
			if after[c] != 0 {
				t.Errorf("%s: no problem found is label %v, want 0", c, after[c])
			}
		default:
			// Generated outcomes arriving on 2024-07-01 may change other labels 0 → 1,
			// never 1 → 0.
			if y == 1 && after[c] != 1 {
				t.Errorf("%s: label fell from 1 to %v", c, after[c])
			}
		}
	}
	if changed != 3 {
		t.Errorf("%d labels came from the results, want 3", changed)
	}
}
