package training_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/dmitryikh/leaves"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/training"
)

var (
	universeOnce sync.Once
	universeDir  string
	universeErr  error
)

// sampleUniverse is a generated universe of 1,500 companies over 2023-01..2025-12
// with pd materialized at the quarter ends of 2023-09..2024-12 and two samples built
// as of 2025-12-31: pd-q (default_12m) and lim-q (limit). It is built once per test
// binary; tests only read it.
func sampleUniverse(t *testing.T) blob.Store {
	t.Helper()
	universeOnce.Do(func() {
		ctx := context.Background()
		universeDir, universeErr = os.MkdirTemp("", "xinyi-sample-universe-*")
		if universeErr != nil {
			return
		}
		store, err := blob.OpenLocal(universeDir)
		if err != nil {
			universeErr = err
			return
		}
		if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 1500, Months: 36, Seed: 7, Workers: 2}); err != nil {
			universeErr = err
			return
		}
		var asof []time.Time
		for _, d := range []string{"2023-09-30", "2023-12-31", "2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"} {
			tm, _ := time.Parse(time.DateOnly, d)
			asof = append(asof, tm)
		}
		if _, err := features.Materialize(ctx, store, features.Options{Set: "pd", AsOf: asof, Workers: 2}); err != nil {
			universeErr = err
			return
		}
		buildAt, _ := time.Parse(time.DateOnly, "2025-12-31")
		for name, label := range map[string]string{"pd-q": "", "lim-q": "limit"} {
			if _, err := features.BuildSample(ctx, store, features.SampleOptions{Name: name, Set: "pd", Label: label,
				From: asof[0], To: asof[len(asof)-1], BuildAt: buildAt}); err != nil {
				universeErr = err
				return
			}
		}
	})
	if universeErr != nil {
		t.Fatalf("sample universe: %v", universeErr)
	}
	store, err := blob.OpenLocal(universeDir)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func TestMain(m *testing.M) {
	code := m.Run()
	if universeDir != "" {
		os.RemoveAll(universeDir)
	}
	os.Exit(code)
}

// indexOf returns the position of id in the sample's indicators, failing if absent.
func indexOf(t *testing.T, s *training.Sample, id string) int {
	t.Helper()
	i := slices.Index(s.Manifest.Indicators, id)
	if i < 0 {
		t.Fatalf("sample %s lacks %s", s.Manifest.Ref(), id)
	}
	return i
}

func TestLoadSample(t *testing.T) {
	ctx := context.Background()
	store := sampleUniverse(t)
	// Directions from catalog/indicators.yaml: company.age_months higher_better,
	// court.amount.count_24m higher_worse, loan.balance.last_3m none.
	ids := []string{"company.age_months", "court.amount.count_24m", "loan.balance.last_3m"}
	tests := []struct {
		ref       string
		objective gbdt.Objective
		task      string
		monotone  []int8 // for ids
	}{
		{"pd-q", gbdt.Binary, "pd", []int8{-1, +1, 0}},
		{"lim-q/v1", gbdt.Gamma, "limit", []int8{+1, -1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			s, err := training.LoadSample(ctx, store, tt.ref, training.SampleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m := s.Manifest
			if s.Objective != tt.objective {
				t.Errorf("objective = %s, want %s", s.Objective, tt.objective)
			}
			if task, err := s.Task(); err != nil || task != tt.task {
				t.Errorf("task = %q, %v, want %q", task, err, tt.task)
			}
			for i, id := range ids {
				if got := s.Monotone[indexOf(t, s, id)]; got != tt.monotone[i] {
					t.Errorf("monotone %s = %+d, want %+d", id, got, tt.monotone[i])
				}
			}
			for _, sp := range []struct {
				name string
				d    *training.Dataset
			}{{"train", s.Train}, {"valid", s.Valid}, {"test", s.Test}} {
				want := m.Splits[sp.name]
				if sp.d == nil {
					t.Fatalf("split %s not loaded (manifest: %d rows)", sp.name, want.Rows)
				}
				// A gamma sample leaves out the rows whose limit is 0 (a refusal),
				// counted here from the split file itself.
				var nonPositive int64
				if s.Objective == gbdt.Gamma {
					rec, err := features.ReadSampleSplit(ctx, store, m, sp.name)
					if err != nil {
						t.Fatal(err)
					}
					for _, y := range rec.Column(int(rec.NumCols()) - 1).(*array.Float64).Float64Values() {
						if y <= 0 {
							nonPositive++
						}
					}
					rec.Release()
					if nonPositive == 0 {
						t.Errorf("split %s has no limit of 0: the test shows nothing", sp.name)
					}
					for i, y := range sp.d.Label {
						if y <= 0 {
							t.Fatalf("split %s row %d has label %v", sp.name, i, y)
						}
					}
				}
				if int64(s.LeftOut[sp.name]) != nonPositive {
					t.Errorf("split %s: %d rows left out, %d limits of 0 or less in the file", sp.name, s.LeftOut[sp.name], nonPositive)
				}
				if int64(sp.d.Rows()) != want.Rows-nonPositive || !slices.Equal(sp.d.Features, m.Indicators) {
					t.Errorf("split %s: %d rows of %d features, manifest %d rows (%d left out) of %d", sp.name, sp.d.Rows(), len(sp.d.Features), want.Rows, nonPositive, len(m.Indicators))
				}
				if s.Objective == gbdt.Binary {
					var pos int64
					for _, y := range sp.d.Label {
						if y == 1 {
							pos++
						}
					}
					if pos != want.Positives {
						t.Errorf("split %s: %d positives, manifest %d", sp.name, pos, want.Positives)
					}
				}
			}
		})
	}
	t.Run("limit with L2", func(t *testing.T) {
		s, err := training.LoadSample(ctx, store, "lim-q", training.SampleOptions{Objective: gbdt.Regression})
		if err != nil {
			t.Fatal(err)
		}
		if s.Objective != gbdt.Regression || s.LeftOut != nil || int64(s.Train.Rows()) != s.Manifest.Splits["train"].Rows {
			t.Errorf("objective %s, left out %v, %d train rows of %d", s.Objective, s.LeftOut, s.Train.Rows(), s.Manifest.Splits["train"].Rows)
		}
		if _, err := training.LoadSample(ctx, store, "lim-q", training.SampleOptions{Objective: gbdt.Binary}); !errors.Is(err, training.ErrInvalidParams) ||
			!strings.Contains(err.Error(), "objective binary does not fit label limit of sample lim-q/v1, which needs gamma") {
			t.Errorf("binary objective on a limit sample: err %v", err)
		}
	})
	t.Run("no monotone", func(t *testing.T) {
		s, err := training.LoadSample(ctx, store, "pd-q", training.SampleOptions{NoMonotone: true})
		if err != nil {
			t.Fatal(err)
		}
		if s.Monotone != nil {
			t.Errorf("monotone = %v, want none", s.Monotone)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		for _, ref := range []string{"nope", "pd-q/v2"} {
			if _, err := training.LoadSample(ctx, store, ref, training.SampleOptions{}); !errors.Is(err, features.ErrUnknownSample) {
				t.Errorf("%s: err = %v, want ErrUnknownSample", ref, err)
			}
		}
	})
}

// TestTrainSample trains on a sample of the feature store with the catalog's
// constraints: they hold on the test split, and the card's figures are the metrics.
func TestTrainSample(t *testing.T) {
	ctx := context.Background()
	store := sampleUniverse(t)
	s, err := training.LoadSample(ctx, store, "pd-q", training.SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := training.DefaultParams()
	p.Objective, p.Monotone, p.NumRounds, p.EarlyStoppingRounds, p.Threads = s.Objective, s.Monotone, 40, 10, 2
	model, res, err := training.Train(ctx, s.Train, s.Valid, p)
	if err != nil {
		t.Fatal(err)
	}
	card, err := training.NewCard(training.CardInput{Name: "pd-store", DataName: s.DataName(), Target: s.Manifest.Label.Name,
		Model: model, Result: res, Train: s.Train, Valid: s.Valid, Test: s.Test, MonotoneRows: 50})
	if err != nil {
		t.Fatal(err)
	}
	constrained := 0
	for _, d := range s.Monotone {
		if d != 0 {
			constrained++
		}
	}
	if constrained == 0 || len(card.Monotonicity) != constrained {
		t.Fatalf("%d monotonicity checks, want one per constrained indicator (%d)", len(card.Monotonicity), constrained)
	}
	for _, c := range card.Monotonicity {
		if !c.OK {
			t.Errorf("constraint %s %+d violated on the test split: %+v", c.Feature, c.Direction, c)
		}
	}

	metrics := training.CardMetrics(card)
	want := map[string]float64{"valid_auc": card.Metrics["valid"].AUC, "valid_ks": card.Metrics["valid"].KS,
		"valid_gini": card.Metrics["valid"].Gini, "valid_logloss": card.Metrics["valid"].LogLoss,
		"test_auc": card.Metrics["test"].AUC, "test_ks": card.Metrics["test"].KS,
		"test_gini": card.Metrics["test"].Gini, "test_logloss": card.Metrics["test"].LogLoss}
	if len(metrics) != len(want) {
		t.Errorf("metrics = %v, want %v", metrics, want)
	}
	for k, v := range want {
		if metrics[k] != v {
			t.Errorf("metric %s = %v, want the card's %v", k, metrics[k], v)
		}
	}
	wantNote := "label default_12m: 1 when a default event occurs within 12 months after the as-of date; " +
		"companies whose default was known by the as-of date left out; only companies with loan.balance.last_3m > 0; " +
		"snapshots 2023-09-30..2024-12-31 of pd/v1, built as of 2025-12-31"
	if got := s.LabelNote(); got != wantNote {
		t.Errorf("note = %q, want %q", got, wantNote)
	}
}

// TestTrainLimitSample trains the limit model on a sample of the feature store
// with the objective that follows its label (gamma): the card and the registry's
// figures say how far the limits are off in relative terms, and the lineage note
// says which rows were left out.
func TestTrainLimitSample(t *testing.T) {
	ctx := context.Background()
	store := sampleUniverse(t)
	s, err := training.LoadSample(ctx, store, "lim-q", training.SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// xinyi train's defaults for a sample: 100 rounds, early stopping after 20.
	p := training.DefaultParams()
	p.Objective, p.Monotone, p.NumRounds, p.EarlyStoppingRounds, p.Threads = s.Objective, s.Monotone, 100, 20, 2
	model, res, err := training.Train(ctx, s.Train, s.Valid, p)
	if err != nil {
		t.Fatal(err)
	}
	if model.Objective != gbdt.Gamma || res.Metric != training.MetricRMSELog {
		t.Fatalf("objective %s metric %s, want gamma and rmse_log", model.Objective, res.Metric)
	}
	card, err := training.NewCard(training.CardInput{Name: "lim-store", DataName: s.DataName(), Target: s.Manifest.Label.Name,
		Model: model, Result: res, Train: s.Train, Valid: s.Valid, Test: s.Test, MonotoneRows: 50})
	if err != nil {
		t.Fatal(err)
	}
	metrics := training.CardMetrics(card)
	for _, split := range []string{"valid", "test"} {
		e := card.Metrics[split]
		if e.RMSELog == nil || e.MdAPE == nil {
			t.Fatalf("%s: rmse_log %v mdape %v", split, e.RMSELog, e.MdAPE)
		}
		want := map[string]float64{split + "_rmse": e.RMSE, split + "_rmse_log": *e.RMSELog, split + "_mdape": *e.MdAPE}
		for k, v := range want {
			if got, ok := metrics[k]; !ok || got != v {
				t.Errorf("metric %s = %v (%v), want the card's %v", k, got, ok, v)
			}
		}
	}
	if len(metrics) != 6 {
		t.Errorf("metrics = %v, want rmse, rmse_log and mdape of valid and test", metrics)
	}
	if best := *card.Training.BestValid; math.Abs(best-*card.Metrics["valid"].RMSELog) > 1e-12 {
		// The validation metric of training is the card's RMSE of log on valid.
		t.Errorf("best validation rmse_log %v, card's %v", best, *card.Metrics["valid"].RMSELog)
	}
	var md strings.Builder
	if err := card.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "Objective `gamma`") || !strings.Contains(md.String(), "| RMSE of log | typical factor |") {
		t.Errorf("card:\n%s", md.String())
	}
	// The same sample and parameters with L2 on yuan (its zeros kept), both
	// models scored by leaves from their LightGBM text on the limits granted in
	// the test split: the gamma model misses by less at the median.
	l2s, err := training.LoadSample(ctx, store, "lim-q", training.SampleOptions{Objective: gbdt.Regression})
	if err != nil {
		t.Fatal(err)
	}
	p.Objective = gbdt.Regression
	l2, _, err := training.Train(ctx, l2s.Train, l2s.Valid, p)
	if err != nil {
		t.Fatal(err)
	}
	gammaErr, l2Err := leavesMdAPE(t, model, s.Test), leavesMdAPE(t, l2, s.Test)
	t.Logf("median absolute percentage error on %d limits granted in the test split: gamma %.1f%%, L2 on yuan %.1f%%", s.Test.Rows(), 100*gammaErr, 100*l2Err)
	if !(gammaErr < l2Err) || math.Abs(gammaErr-*card.Metrics["test"].MdAPE) > 1e-12 {
		t.Errorf("gamma MdAPE %v (card %v), L2 on yuan %v", gammaErr, *card.Metrics["test"].MdAPE, l2Err)
	}
	left := s.LeftOut["train"] + s.LeftOut["valid"] + s.LeftOut["test"]
	if note := s.LabelNote(); left == 0 || !strings.Contains(note, fmt.Sprintf("; %d rows with a limit of 0 or less left out (a refusal, which the PD model and the policy decide; gamma learns the size of a limit granted)", left)) {
		t.Errorf("note = %q (%d left out)", note, left)
	}
}

// leavesMdAPE is the median over the rows of d of |prediction - label| / label,
// with the predictions of leaves reading m's canonical LightGBM text.
func leavesMdAPE(t *testing.T, m *gbdt.Model, d *training.Dataset) float64 {
	t.Helper()
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		t.Fatal(err)
	}
	ens, err := leaves.LGEnsembleFromReader(bufio.NewReader(&buf), true)
	if err != nil {
		t.Fatal(err)
	}
	ape := make([]float64, d.Rows())
	row := make([]float64, len(d.Features))
	for i := range ape {
		pred := ens.PredictSingle(d.Row(i, row), 0)
		ape[i] = math.Abs(pred-d.Label[i]) / d.Label[i]
	}
	sort.Float64s(ape)
	if n := len(ape); n%2 == 0 {
		return (ape[n/2-1] + ape[n/2]) / 2
	}
	return ape[len(ape)/2]
}

func TestSampleTask(t *testing.T) {
	tests := []struct {
		label string
		want  string
	}{
		{"default_12m", "pd"},
		{"violation_12m", "violation"},
		{"limit", "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			def, err := features.LabelByName(tt.label)
			if err != nil {
				t.Fatal(err)
			}
			s := &training.Sample{Manifest: &features.SampleManifest{Name: "s", Version: 1, Label: def}}
			if got, err := s.Task(); err != nil || got != tt.want {
				t.Errorf("task = %q, %v, want %q", got, err, tt.want)
			}
		})
	}
	s := &training.Sample{Manifest: &features.SampleManifest{Name: "s", Version: 1, Label: features.LabelDef{Name: "x", Kind: "fraud"}}}
	if _, err := s.Task(); !errors.Is(err, training.ErrInvalidData) {
		t.Errorf("fraud label: err = %v, want ErrInvalidData", err)
	}
}
