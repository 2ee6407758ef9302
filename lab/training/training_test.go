package training

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/lab"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	xtraining "github.com/xinyi-platform/xinyi/training"
)

func dataDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	if _, err := filepath.Glob(filepath.Join(d, "taiwan", "*.csv")); err != nil {
		t.Skip(err)
	}
	return d
}

func TestSamplesMatchTheDataREADME(t *testing.T) {
	tr := New(Options{Data: PublicDataSets(dataDir(t))})
	defer tr.Close()
	got, err := tr.Samples(context.Background())
	if err != nil {
		t.Skipf("shared data not readable: %v", err)
	}
	// /work/shared/data/README.md: rows and positive rates.
	want := map[string]struct {
		rows int64
		rate float64
	}{"lightgbm-binary": {7000, -1}, "taiwan": {30000, 0.221}, "gmsc": {150000, 0.067}}
	for _, s := range got {
		w := want[s.Name]
		if s.Rows != w.rows || w.rate >= 0 && math.Abs(s.PositiveRate()-w.rate) > 0.0005 {
			t.Fatalf("%s: %d rows, positive rate %.4f; README says %d, %.3f", s.Name, s.Rows, s.PositiveRate(), w.rows, w.rate)
		}
	}
	sets := SampleFeatureSets(PublicDataSets(dataDir(t)), xregistry.StaticFeatureSets{"pd": {1: {"a"}}})
	_, cols, err := sets.FeatureSet(context.Background(), features.SetRef{Name: "taiwan", Version: 1})
	if err != nil || len(cols) != 23 { // README of datasets.LoadTaiwan: 23 features
		t.Fatalf("taiwan columns %d, %v", len(cols), err)
	}
	if _, cols, err := sets.FeatureSet(context.Background(), features.SetRef{Name: "pd", Version: 1}); err != nil || len(cols) != 1 {
		t.Fatalf("fallback: %v %v", cols, err)
	}
	if _, _, err := sets.FeatureSet(context.Background(), features.SetRef{Name: "taiwan", Version: 2}); err == nil {
		t.Fatal("unknown version served")
	}
}

func TestStartTrainingRefusesBadInput(t *testing.T) {
	tr := New(Options{Data: PublicDataSets(dataDir(t))})
	defer tr.Close()
	for _, req := range []lab.TrainingRequest{{Sample: "nope", Preset: "quick"}, {Sample: "taiwan", Preset: "fastest"}} {
		if _, err := tr.StartTraining(context.Background(), req); err == nil {
			t.Fatalf("%+v accepted", req)
		}
	}
	if _, err := tr.RegisterTraining(context.Background(), "t1", "m", lab.Principal{}); err == nil {
		t.Fatal("registered without a model library")
	}
}

// TestEarlyStoppingReportsTheRoundsRun: a run that early stopping ends before the
// preset's rounds reports the rounds it ran as done and total, one curve point
// per round, not the preset's 300/300.
func TestEarlyStoppingReportsTheRoundsRun(t *testing.T) {
	var data []DataSet
	for _, d := range PublicDataSets(dataDir(t)) {
		if d.Name == "lightgbm-binary" {
			data = append(data, d)
		}
	}
	tr := New(Options{Data: data, Threads: 2})
	defer tr.Close()
	ctx := context.Background()
	id, err := tr.StartTraining(ctx, lab.TrainingRequest{Sample: "lightgbm-binary", Preset: "conservative"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	j, err := tr.Wait(wctx, id)
	if err != nil || j.State != lab.JobDone {
		t.Fatalf("job %+v, %v", j, err)
	}
	if j.Done >= 300 || j.Done != j.Total || int64(len(j.Valid)) != j.Done || j.BestRound >= int(j.Done) {
		t.Fatalf("progress %d/%d with %d validation points, best round %d; want the rounds run of the rounds run, under 300", j.Done, j.Total, len(j.Valid), j.BestRound)
	}
	res, err := tr.Run(ctx, lab.TrainingRequest{Sample: "lightgbm-binary", Preset: "conservative"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if int64(res.RoundsRun) != j.Done || res.Planned != 300 || !strings.Contains(res.Note, "of 300 rounds") {
		t.Errorf("Run: ran %d of %d, note %q; the background job ran %d", res.RoundsRun, res.Planned, res.Note, j.Done)
	}
}

// TestDataSetRunCard: a run on a public data set keeps the card training.NewCard
// gives for its model on the same train and validation rows, as xinyi train
// --format names the data, and ROC and KS curves that agree with the card's
// AUC and KS (computed apart, by training.AUC and training.KS).
func TestDataSetRunCard(t *testing.T) {
	var data []DataSet
	for _, d := range PublicDataSets(dataDir(t)) {
		if d.Name == "lightgbm-binary" {
			data = append(data, d)
		}
	}
	tr := New(Options{Data: data, Threads: 2})
	defer tr.Close()
	res, err := tr.Run(context.Background(), lab.TrainingRequest{Sample: "lightgbm-binary", Preset: "quick"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Card
	if got == nil || got.Data.Name != "lightgbm-binary:binary.train" || got.Data.Target != "label" || got.Objective != gbdt.Binary {
		t.Fatalf("card %+v", got)
	}
	if res.LineageNote != data[0].Lineage {
		t.Errorf("lineage note %q, want the data set's %q", res.LineageNote, data[0].Lineage)
	}

	// The same rows, split as the options say, and the model as the run wrote it.
	tab, err := data[0].Load(data[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	all, err := xtraining.FromArrow(tab.Record, tab.Features, tab.Target)
	tab.Release()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{}
	o.EnsureDefaults()
	tri, vai, err := xtraining.StratifiedSplit(all.Label, o.ValidFraction, o.Seed)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gbdt.Parse(res.Model, gbdt.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	want, err := xtraining.NewCard(xtraining.CardInput{DataName: got.Data.Name, Target: "label", Model: m,
		Result: &xtraining.Result{Params: got.Params, Rounds: got.Training.Rounds, RoundsRun: got.Training.RoundsRun, BestValid: math.NaN()},
		Train:  all.Subset(tri), Valid: all.Subset(vai)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data.TrainRows != 5600 || got.Data.ValidRows != 1400 || len(got.Metrics) != 2 {
		t.Errorf("card rows %d + %d in %d splits; want 5,600 training and 1,400 validation rows of 7,000", got.Data.TrainRows, got.Data.ValidRows, len(got.Metrics))
	}
	for split, w := range want.Metrics {
		gj, _ := json.Marshal(got.Metrics[split])
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s metrics:\n got %s\nwant %s", split, gj, wj)
		}
	}
	if !reflect.DeepEqual(got.Importance, want.Importance) {
		t.Errorf("importance %+v, want %+v", got.Importance, want.Importance)
	}

	// The curves in the card: the area under the (thinned) ROC curve is its AUC
	// to within the thinning, and the largest gap of the KS curve is its KS.
	e := got.Metrics["valid"]
	c := e.Curves
	if c == nil || res.Curves != nil {
		t.Fatalf("card curves %+v, curves beside it %+v", c, res.Curves)
	}
	var area, gap float64
	for i := 1; i < len(c.FPR); i++ {
		area += (c.FPR[i] - c.FPR[i-1]) * (c.TPR[i] + c.TPR[i-1]) / 2
	}
	for i := range c.Share {
		gap = max(gap, math.Abs(c.CumPos[i]-c.CumNeg[i]))
	}
	if math.Abs(area-e.AUC) > 0.005 || math.Abs(gap-e.KS) > 1e-12 {
		t.Errorf("ROC area %.4f and KS gap %.6f; the card says AUC %.4f, KS %.6f", area, gap, e.AUC, e.KS)
	}
}
