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
	"github.com/xinyi-platform/xinyi/lab/svg"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	xtraining "github.com/xinyi-platform/xinyi/training"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestCurves(t *testing.T) {
	// Scores high to low: 0.9(+) 0.8(-) 0.8(+) 0.3(-) 0.1(-). P=2, N=3.
	// Distinct-score steps: after 0.9: tp=1 fp=0; after the tied 0.8s: tp=2 fp=1;
	// after 0.3: fp=2; after 0.1: fp=3.
	y := []float64{1, 0, 1, 0, 0}
	score := []float64{0.9, 0.8, 0.8, 0.3, 0.1}
	roc, ks := Curves(y, score)
	wantROC := []svg.Point{{X: 0, Y: 0}, {X: 0, Y: 0.5}, {X: 1.0 / 3, Y: 1}, {X: 2.0 / 3, Y: 1}, {X: 1, Y: 1}}
	if len(roc) != len(wantROC) {
		t.Fatalf("ROC %v", roc)
	}
	for i := range roc {
		if !near(roc[i].X, wantROC[i].X) || !near(roc[i].Y, wantROC[i].Y) {
			t.Fatalf("ROC %v, want %v", roc, wantROC)
		}
	}
	wantFrac := []float64{0, 0.2, 0.6, 0.8, 1}
	for i := range wantFrac {
		if !near(ks.Fraction[i], wantFrac[i]) {
			t.Fatalf("fractions %v, want %v", ks.Fraction, wantFrac)
		}
	}
	// Largest gap: after the 0.8s, 1 - 1/3.
	best := 0.0
	for i := range ks.Fraction {
		best = max(best, math.Abs(ks.CumPos[i]-ks.CumNeg[i]))
	}
	if !near(best, 2.0/3) {
		t.Fatalf("KS gap %v", best)
	}
	if r, k := Curves([]float64{1, 1}, []float64{0.2, 0.3}); r != nil || k != nil {
		t.Fatal("curves for a single class")
	}
}

func TestCurvesThinKeepsTheKSPoint(t *testing.T) {
	n := 5000
	y := make([]float64, n)
	score := make([]float64, n)
	for i := range n {
		score[i] = float64(n-i) / float64(n)
		if (i*7919)%10 < 3 {
			y[i] = 1
		}
	}
	roc, ks := Curves(y, score)
	if len(roc) > maxCurvePoints+3 || len(ks.Fraction) != len(roc) {
		t.Fatalf("%d ROC points, %d KS points", len(roc), len(ks.Fraction))
	}
	// The statistic over every row, computed directly (scores are distinct).
	var P, N, tp, fp, full float64
	for _, v := range y {
		if v == 1 {
			P++
		} else {
			N++
		}
	}
	for i := range y {
		if y[i] == 1 {
			tp++
		} else {
			fp++
		}
		full = max(full, math.Abs(tp/P-fp/N))
	}
	got := 0.0
	for i := range ks.Fraction {
		got = max(got, math.Abs(ks.CumPos[i]-ks.CumNeg[i]))
	}
	if !near(got, full) {
		t.Fatalf("thinned KS %v, full %v", got, full)
	}
}

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

func BenchmarkCurves(b *testing.B) {
	n := 100000
	y := make([]float64, n)
	score := make([]float64, n)
	for i := range n {
		score[i] = float64((i*7919)%n) / float64(n)
		if (i*31)%10 < 2 {
			y[i] = 1
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		Curves(y, score)
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

	// The curves: the area under the (thinned) ROC curve is the card's AUC to
	// within the thinning, and the largest gap of the KS curve is its KS.
	c := res.Curves
	if c == nil || c.Split != "valid" || c.KS == nil {
		t.Fatalf("curves %+v", c)
	}
	var area, gap float64
	for i := 1; i < len(c.ROC); i++ {
		area += (c.ROC[i].X - c.ROC[i-1].X) * (c.ROC[i].Y + c.ROC[i-1].Y) / 2
	}
	for i := range c.KS.Fraction {
		gap = max(gap, math.Abs(c.KS.CumPos[i]-c.KS.CumNeg[i]))
	}
	e := got.Metrics["valid"]
	if math.Abs(area-e.AUC) > 0.005 || math.Abs(gap-e.KS) > 1e-12 {
		t.Errorf("ROC area %.4f and KS gap %.6f; the card says AUC %.4f, KS %.6f", area, gap, e.AUC, e.KS)
	}
}
