package gbdt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/dmitryikh/leaves"
)

// syntheticModel builds a reproducible Binary model of full trees of the given
// depth over nf features, with consistent covers and NaN-aware splits; the
// size of a typical credit scorecard model (hundreds of trees, 64 leaves).
func syntheticModel(trees, depth, nf int, seed uint64) *Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := &Model{Objective: Binary, Sigmoid: 1, FeatureNames: make([]string, nf), Source: "synthetic"}
	for i := range m.FeatureNames {
		m.FeatureNames[i] = fmt.Sprintf("x%d", i)
	}
	for range trees {
		var nodes []Node
		var build func(d int, cover float64) int
		build = func(d int, cover float64) int {
			idx := len(nodes)
			nodes = append(nodes, Node{Cover: cover, Count: math.Round(cover), Weight: cover})
			if d == depth {
				nodes[idx].Leaf = true
				nodes[idx].Value = rng.NormFloat64() * 0.1
				return idx
			}
			frac := 0.2 + 0.6*rng.Float64()
			n := Node{Feature: rng.IntN(nf), Threshold: rng.NormFloat64(), Missing: MissingNaN, DefaultLeft: rng.IntN(2) == 0, Cover: cover, Count: math.Round(cover), Weight: cover}
			n.Left = build(d+1, cover*frac)
			n.Right = build(d+1, cover*(1-frac))
			nodes[idx] = n
			return idx
		}
		build(0, 10000)
		m.Trees = append(m.Trees, Tree{Nodes: nodes})
	}
	return m
}

func syntheticRows(n, nf int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	rows := make([]float64, n*nf)
	for i := range rows {
		if rng.Float64() < 0.05 {
			rows[i] = math.NaN()
		} else {
			rows[i] = rng.NormFloat64()
		}
	}
	return rows
}

type benchModel struct {
	name string
	m    *Model
	rows []float64
}

func benchModels(b *testing.B) []benchModel {
	bc := mustParse(b, readFile(b, filepath.Join(lgbDir, "lg_breast_cancer.txt")))
	var bcRows []float64
	for _, r := range readMatrix(b, filepath.Join(lgbDir, "lg_breast_cancer_data.txt")) {
		bcRows = append(bcRows, r...)
	}
	syn := syntheticModel(300, 6, 40, 42)
	return []benchModel{
		{"lightgbm-breast-cancer-39x", bc, bcRows},
		{"synthetic-300trees-depth6", syn, syntheticRows(1000, 40, 7)},
	}
}

// BenchmarkPredictBatch measures single-thread batch prediction per row: gbdt's
// compiled Predictor, the Node-walking Model.Predict, and leaves on the
// canonical LightGBM text of the same model.
func BenchmarkPredictBatch(b *testing.B) {
	for _, bm := range benchModels(b) {
		nf := bm.m.NumFeatures()
		nrows := len(bm.rows) / nf
		out := make([]float64, nrows)
		b.Run(bm.name+"/gbdt-predictor", func(b *testing.B) {
			p, err := bm.m.Compile()
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuTime(b)
			for b.Loop() {
				if err := p.PredictBatch(bm.rows, out); err != nil {
					b.Fatal(err)
				}
			}
			perRow(b, nrows, cpu0)
		})
		b.Run(bm.name+"/gbdt-model", func(b *testing.B) {
			cpu0 := cpuTime(b)
			for b.Loop() {
				for r := range nrows {
					if _, err := bm.m.Predict(bm.rows[r*nf : (r+1)*nf]); err != nil {
						b.Fatal(err)
					}
				}
			}
			perRow(b, nrows, cpu0)
		})
		b.Run(bm.name+"/leaves", func(b *testing.B) {
			var buf bytes.Buffer
			if err := bm.m.WriteLightGBM(&buf); err != nil {
				b.Fatal(err)
			}
			e, err := leaves.LGEnsembleFromReader(bufio.NewReader(&buf), true)
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuTime(b)
			for b.Loop() {
				if err := e.PredictDense(bm.rows, nrows, nf, out, 0, 1); err != nil {
					b.Fatal(err)
				}
			}
			perRow(b, nrows, cpu0)
		})
	}
}

func BenchmarkContributions(b *testing.B) {
	for _, bm := range benchModels(b) {
		b.Run(bm.name, func(b *testing.B) {
			nf := bm.m.NumFeatures()
			out := make([]float64, nf)
			nrows := len(bm.rows) / nf
			r := 0
			for b.Loop() {
				if _, err := bm.m.Contributions(bm.rows[r*nf:(r+1)*nf], out); err != nil {
					b.Fatal(err)
				}
				r = (r + 1) % nrows
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	files := []string{
		filepath.Join(lgbDir, "lg_breast_cancer.txt"),
		filepath.Join(xgbDir, "binary_depthwise.json"),
		filepath.Join(xgbDir, "binary_depthwise.ubj"),
		filepath.Join(xgbDir, "binary_depthwise.binf.model"),
	}
	for _, f := range files {
		data := readFile(b, f)
		b.Run(filepath.Base(f), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(data, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteLightGBM(b *testing.B) {
	m := syntheticModel(300, 6, 40, 42)
	for b.Loop() {
		if err := m.WriteLightGBM(&bytes.Buffer{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSyntheticModelAgreesWithLeaves checks the benchmark model itself: gbdt
// and leaves on its canonical text agree on every benchmark row.
func TestSyntheticModelAgreesWithLeaves(t *testing.T) {
	m := syntheticModel(50, 6, 40, 42)
	rows := syntheticRows(200, 40, 7)
	lv := loadLeaves(t, canonical(t, m), true)
	for r := range 200 {
		row := rows[r*40 : (r+1)*40]
		want := leavesPredict(t, lv, row)
		got, err := m.Predict(row)
		if err != nil {
			t.Fatal(err)
		}
		if !relClose(got, want, 1e-12, 1e-15) {
			t.Fatalf("row %d: gbdt %v, leaves %v", r, got, want)
		}
	}
}

// TestMixedSplitsAgreeWithLeaves builds trees with every kind of split
// (categorical bitsets, MissingNone, MissingZero, MissingNaN, both default
// directions) and checks Model, Predictor and leaves (an independent
// implementation of LightGBM's rules, on the canonical text) agree on rows full
// of NaN, zeros, tiny values, negatives and small integers.
func TestMixedSplitsAgreeWithLeaves(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const nf = 6
	m := syntheticModel(40, 5, nf, 9)
	for ti := range m.Trees {
		for i := range m.Trees[ti].Nodes {
			n := &m.Trees[ti].Nodes[i]
			if n.Leaf {
				continue
			}
			n.Threshold = float64(rng.IntN(5)) - 1.5
			switch rng.IntN(4) {
			case 0:
				n.Missing = MissingNone
			case 1:
				n.Missing = MissingZero
				n.Threshold = float64(rng.IntN(3)) - 1
			case 2:
				n.Missing = MissingNaN
			case 3:
				n.Categorical = true
				n.Categories = []uint32{rng.Uint32() | 1, rng.Uint32()}
			}
		}
	}
	values := []float64{math.NaN(), 0, math.Copysign(0, -1), 1e-36, -1e-36, 1e-30, -0.5, 0.5, 1, 2, 3, -1, -2, 7, 31, 32, 33, 40, 63, 64, 100, 1.5, -1.5}
	p, err := m.Compile()
	if err != nil {
		t.Fatal(err)
	}
	lv := loadLeaves(t, canonical(t, m), false)
	row := make([]float64, nf)
	for r := range 3000 {
		for j := range row {
			row[j] = values[rng.IntN(len(values))]
		}
		want := leavesPredict(t, lv, row)
		got, err := m.Margin(row)
		if err != nil {
			t.Fatal(err)
		}
		pm, _ := p.Margin(row)
		if !relClose(got, want, 1e-12, 1e-15) || pm != got {
			t.Fatalf("row %d %v: Model %v, Predictor %v, leaves %v", r, row, got, pm, want)
		}
	}
}

// cpuTime is the user+system CPU time of this process. On a shared machine a
// single-thread benchmark's CPU time per row is stable where wall time is not.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perRow reports wall and CPU nanoseconds per row of a benchmark loop.
func perRow(b *testing.B, rows int, cpu0 time.Duration) {
	n := float64(b.N * rows)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/row")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/n, "cpu-ns/row")
}

// gmscBench is the optional benchmark model made by make_bench_model.py.
type gmscBench struct {
	m      *Model
	rows   []float64
	margin []float64
	meta   struct {
		Rows           int     `json:"rows"`
		Features       int     `json:"features"`
		XGBoostPredict float64 `json:"xgboost_predict_ns_per_row"`
		XGBoostInplace float64 `json:"xgboost_inplace_predict_ns_per_row"`
	}
}

func loadGMSCBench(b *testing.B) *gmscBench {
	dir := filepath.Join("testdata", "bench")
	metaJSON, err := os.ReadFile(filepath.Join(dir, "gmsc.meta.json"))
	if err != nil {
		b.Skip("no benchmark model: run /usr/bin/python3 gbdt/testdata/make_bench_model.py ../shared/data/gmsc/cs-training.csv")
	}
	g := &gmscBench{}
	if err := json.Unmarshal(metaJSON, &g.meta); err != nil {
		b.Fatal(err)
	}
	g.m = mustParse(b, readFile(b, filepath.Join(dir, "gmsc.ubj")))
	raw := readFile(b, filepath.Join(dir, "gmsc.rows.f32"))
	if len(raw) != 4*g.meta.Rows*g.meta.Features || g.meta.Features != g.m.NumFeatures() {
		b.Fatalf("rows file has %d bytes for %d x %d", len(raw), g.meta.Rows, g.meta.Features)
	}
	g.rows = make([]float64, len(raw)/4)
	for i := range g.rows {
		g.rows[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
	}
	mraw := readFile(b, filepath.Join(dir, "gmsc.margin.f64"))
	g.margin = make([]float64, len(mraw)/8)
	for i := range g.margin {
		g.margin[i] = math.Float64frombits(binary.LittleEndian.Uint64(mraw[8*i:]))
	}
	return g
}

// BenchmarkPredictGMSC times single-thread batch prediction of an XGBoost model
// of 300 depth-6 trees trained on GMSC, on 10,000 held-out rows: gbdt's
// Predictor and leaves on the canonical text. Both are first checked against
// XGBoost's own margins; XGBoost's own single-thread time (measured by the
// script) is logged beside them.
func BenchmarkPredictGMSC(b *testing.B) {
	g := loadGMSCBench(b)
	nf, n := g.meta.Features, g.meta.Rows
	out := make([]float64, n)
	p, err := g.m.Compile()
	if err != nil {
		b.Fatal(err)
	}
	if err := p.MarginBatch(g.rows, out); err != nil {
		b.Fatal(err)
	}
	worst := 0.0
	for i := range out {
		worst = max(worst, math.Abs(out[i]-g.margin[i])/max(math.Abs(g.margin[i]), 1))
	}
	if worst > 1e-5 {
		b.Fatalf("gbdt margins differ from XGBoost's by up to %.3g", worst)
	}
	var buf bytes.Buffer
	if err := g.m.WriteLightGBM(&buf); err != nil {
		b.Fatal(err)
	}
	e, err := leaves.LGEnsembleFromReader(bufio.NewReader(&buf), false)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("XGBoost 1.7.4 single thread (CPU time): predict %.0f ns/row, inplace_predict %.0f ns/row; gbdt vs XGBoost margins: max relative difference %.3g",
		g.meta.XGBoostPredict, g.meta.XGBoostInplace, worst)
	b.Run("gbdt-predictor", func(b *testing.B) {
		cpu0 := cpuTime(b)
		for b.Loop() {
			if err := p.MarginBatch(g.rows, out); err != nil {
				b.Fatal(err)
			}
		}
		perRow(b, n, cpu0)
	})
	b.Run("leaves", func(b *testing.B) {
		cpu0 := cpuTime(b)
		for b.Loop() {
			if err := e.PredictDense(g.rows, n, nf, out, 0, 1); err != nil {
				b.Fatal(err)
			}
		}
		perRow(b, n, cpu0)
	})
}

// TestMarginBatchMatchesMargin checks the batch path (rows walked four at a
// time, tree by tree) against the one-row path, on balanced and unbalanced
// trees, with and without slow splits, and batch sizes that leave remainders.
func TestMarginBatchMatchesMargin(t *testing.T) {
	lossguide := mustParse(t, readFile(t, filepath.Join(lgbDir, "lg_breast_cancer.txt")))
	categorical := mustParse(t, readFile(t, filepath.Join(lgbDir, "model_simple.txt")))
	xgb := mustParse(t, readFile(t, filepath.Join(xgbDir, "binary_lossguide.json")))
	models := []struct {
		name string
		m    *Model
	}{
		{"synthetic balanced", syntheticModel(30, 5, 12, 5)},
		{"lightgbm leaf-wise", lossguide},
		{"lightgbm categorical", categorical},
		{"xgboost lossguide", xgb},
	}
	for _, tc := range models {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.m.Compile()
			if err != nil {
				t.Fatal(err)
			}
			nf := tc.m.NumFeatures()
			for _, n := range []int{1, 3, 4, 63, 64, 65, 131} {
				rows := syntheticRows(n, nf, uint64(n))
				for i := range rows {
					if i%7 == 3 {
						rows[i] = float64(i % 5) // small integers for categorical splits
					}
				}
				out := make([]float64, n)
				if err := p.MarginBatch(rows, out); err != nil {
					t.Fatal(err)
				}
				for r := range n {
					want, err := tc.m.Margin(rows[r*nf : (r+1)*nf])
					if err != nil {
						t.Fatal(err)
					}
					if out[r] != want {
						t.Fatalf("batch of %d, row %d: %.17g, Margin %.17g", n, r, out[r], want)
					}
				}
			}
		})
	}
}
