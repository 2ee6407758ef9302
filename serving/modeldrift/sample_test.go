package modeldrift_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/modeldrift"
	"github.com/xinyi-platform/xinyi/serving/scores"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

type sampleRow struct {
	Code      string   `parquet:"code"`
	AsOf      string   `parquet:"asof"`
	Tax       *float64 `parquet:"tax.paid.sum_12m,optional"`
	Dishonest *float64 `parquet:"court.dishonest_debtor,optional"`
	Circle    *float64 `parquet:"network.circle_defaulted,optional"`
	Label     float64  `parquet:"default_12m"`
}

// putSample stores a training sample of servingtest.Set (train split only)
// with tax values tax(i) for n rows.
func putSample(t *testing.T, store blob.Store, name string, n int, tax func(i int) float64) {
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[sampleRow](&buf)
	for i := range n {
		v, d, c := tax(i), float64(i%2), 0.0
		if _, err := w.Write([]sampleRow{{Code: fmt.Sprintf("c%d", i), AsOf: "2024-06-30", Tax: &v, Dishonest: &d, Circle: &c, Label: float64(i % 7 / 6)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	key := features.SamplePrefix(name, 1) + "train.parquet"
	info, err := store.Put(ctx, key, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m := features.SampleManifest{Name: name, Version: 1, Set: servingtest.Set.Name, SetVersion: servingtest.Set.Version, Indicators: servingtest.Set.Indicators,
		Label:  features.LabelDef{Name: "default_12m", Kind: "default", Horizon: 12},
		Splits: map[string]features.SampleSplit{"train": {FileRef: features.FileRef{Key: key, SHA256: info.SHA256, Size: info.Size, Rows: int64(n)}}}}
	mb, _ := json.Marshal(m)
	if _, err := store.Put(ctx, features.SampleManifestKey(name, 1), bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
}

type samples map[string]string

func (s samples) TrainingSample(_ context.Context, ref serving.ModelRef) (string, error) {
	return s[ref.Name], nil
}

// TestTrainingSampleBaseline: a model whose lineage names its training sample
// is compared with it, indicators and score alike. The tax indicator's PSI is
// checked against a hand calculation on known bins: the sample's 1,000 values
// 0…999 cut at its deciles 100, 200, …, 900 give ten bins of 10%; the scored
// date puts 5% in each of the two lowest bins, 20% in the top one and 10% in
// the rest, so PSI = 2·(0.05−0.1)·ln(0.05/0.1) + (0.2−0.1)·ln(0.2/0.1) =
// 0.2·ln 2 ≈ 0.1386, "watch". A model without a sample keeps its first
// production date as baseline.
func TestTrainingSampleBaseline(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	putSample(t, store, "pd-train", 1000, func(i int) float64 { return float64(i) })
	var codes []string
	for i := range 1000 {
		c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, c)
	}
	// 50 values in [0,100), 50 in [100,200), 100 in each of the next seven
	// bins, 200 in [900, ∞).
	cur := func(i int) float64 {
		switch {
		case i < 50:
			return float64(i)
		case i < 100:
			return float64(100 + i - 50)
		case i < 800:
			return float64(200 + (i - 100))
		default:
			return float64(900 + (i-800)/2)
		}
	}
	putSnapshot(t, store, "2025-01-31", codes, cur)
	scorers := servingtest.Scorers(t, "v1", nil)
	snap := &serving.Snapshot{PD: scorers[0], Violation: scorers[1], Limit: scorers[2]}
	at, _ := time.Parse(time.DateOnly, "2025-01-31")
	var ds []*serving.Decision
	for _, c := range codes[:10] {
		ds = append(ds, &serving.Decision{Company: c, AsOf: at, PD: 0.1, Rating: "B", Colour: "green", PolicyVersion: "p",
			Models: []serving.ModelVersion{{Task: serving.TaskPD, Name: "xinyi-pd", Version: "v1"}, {Task: serving.TaskViolation, Name: scorers[1].Ref().Name, Version: "v1"}}})
	}
	if _, err := scores.Write(ctx, store, ds, at); err != nil {
		t.Fatal(err)
	}
	rep, err := modeldrift.Compute(ctx, store, snap, modeldrift.Options{Samples: samples{"xinyi-pd": "pd-train/v1"}})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]modeldrift.Point{}
	for _, p := range rep.Points {
		byKey[string(p.Task)+" "+p.Kind+" "+p.Indicator] = p
	}
	tax, ok := byKey["pd indicator tax.paid.sum_12m"]
	if want := 0.2 * math.Ln2; !ok || math.Abs(tax.PSI-want) > 1e-12 || tax.Level != "watch" ||
		tax.Baseline != "pd-train/v1" || tax.BaselineKind != modeldrift.BaselineSample {
		t.Fatalf("tax drift against the sample %+v, want PSI %v (watch)", tax, want)
	}
	// The score: the model run on the sample's rows and on the date's, binned
	// by psi (the test's own PSI).
	sc := scorers[0]
	score := func(taxv, dishonest float64) float64 {
		row := make([]float64, sc.NumColumns())
		for k, name := range sc.Columns() {
			switch name {
			case "tax.paid.sum_12m":
				row[k] = taxv
			case "court.dishonest_debtor":
				row[k] = dishonest
			}
		}
		p, err := sc.PredictColumns(row)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var base, now []float64
	for i := range 1000 {
		base = append(base, score(float64(i), float64(i%2)))
		now = append(now, score(cur(i), float64(i%2)))
	}
	sp, ok := byKey["pd score score"]
	if want := psi(base, now); !ok || math.Abs(sp.PSI-want) > 1e-12 || sp.Level != modeldrift.LevelOf(want) || sp.BaselineKind != modeldrift.BaselineSample {
		t.Fatalf("score drift %+v, want PSI %v", sp, want)
	}
	// The violation model has no sample: its baseline is its first (and only)
	// production date, against which nothing moved.
	v, ok := byKey["violation score score"]
	if !ok || v.BaselineKind != modeldrift.BaselineFirstDate || v.Baseline != "2025-01-31" || v.PSI != 0 {
		t.Fatalf("violation model without a sample: %+v", v)
	}
	// A lineage naming a sample the store lacks falls back to the first date.
	rep, err = modeldrift.Compute(ctx, store, snap, modeldrift.Options{Samples: samples{"xinyi-pd": "gone/v3"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Points {
		if p.BaselineKind != modeldrift.BaselineFirstDate {
			t.Fatalf("a point against a missing sample: %+v", p)
		}
	}
}
