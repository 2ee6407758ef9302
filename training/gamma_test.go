package training

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/dmitryikh/leaves"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// TestGammaGradients checks the gamma gradients against numerical derivatives
// of the loss they come from, L(f) = y·exp(-f) + f (the gamma negative
// log-likelihood with a log link, up to terms free of the margin f).
func TestGammaGradients(t *testing.T) {
	loss := func(y, f float64) float64 { return y*math.Exp(-f) + f }
	for _, y := range []float64{0.5, 1, 10000, 3.7e6, 8.9e8} {
		for _, d := range []float64{-3, -0.5, 0, 0.7, 4} {
			f := math.Log(y) + d
			gh := make([]gradPair, 1)
			gammaGradients(gh, []float64{f}, []float64{y})
			const h = 1e-4
			g := (loss(y, f+h) - loss(y, f-h)) / (2 * h)
			hess := (loss(y, f+h) - 2*loss(y, f) + loss(y, f-h)) / (h * h)
			if math.Abs(gh[0].g-g) > 1e-6*max(1, math.Abs(g)) {
				t.Errorf("y %g f %g: gradient %v, numerical %v", y, f, gh[0].g, g)
			}
			if math.Abs(gh[0].h-hess) > 1e-4*max(1, hess) {
				t.Errorf("y %g f %g: hessian %v, numerical %v", y, f, gh[0].h, hess)
			}
			// By hand: at f = log y + d, y·exp(-f) = exp(-d).
			if r := math.Exp(-d); math.Abs(gh[0].g-(1-r)) > 1e-12 || math.Abs(gh[0].h-r) > 1e-12*r {
				t.Errorf("y %g f %g: (g, h) = (%v, %v), want (%v, %v)", y, f, gh[0].g, gh[0].h, 1-r, r)
			}
		}
	}
}

// TestGammaHandCalculated checks one round of the gamma objective by hand. On x =
// 1..4 with y = 1, 1, 4, 4 the base score is log(mean y) = log 2.5, so y·exp(-f)
// is 0.4, 0.4, 1.6, 1.6: gradients 0.6, 0.6, -0.6, -0.6 and hessians 0.4, 0.4,
// 1.6, 1.6. The split at 2.5 gives the Newton steps -G/H = -1.2/0.8 = -1.5 and
// 1.2/3.2 = 0.375, gain 1.2²/0.8 + 1.2²/3.2 - 0 = 2.25. With the default
// MaxDeltaStep of 1 the left leaf is -1 and its share of the gain -(2·1.2·(-1) +
// 0.8·1²) = 1.6, so the gain is 1.6 + 0.45 = 2.05.
func TestGammaHandCalculated(t *testing.T) {
	d := &Dataset{Features: []string{"x"}, Columns: [][]float64{{1, 2, 3, 4}}, Label: []float64{1, 1, 4, 4}}
	for _, tc := range []struct {
		name              string
		maxDelta          float64
		left, right, gain float64
	}{
		{"newton", -1, -1.5, 0.375, 2.25},
		{"default step bound", 0, -1, 0.375, 2.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Objective, p.LearningRate, p.MaxDeltaStep = gbdt.Gamma, 1, tc.maxDelta
			p.NumRounds, p.NumLeaves, p.MinDataInLeaf, p.MinSumHessianInLeaf = 1, 2, 1, 0
			m, res, err := Train(context.Background(), d, nil, p)
			if err != nil {
				t.Fatal(err)
			}
			if m.Objective != gbdt.Gamma || m.BaseScore != math.Log(2.5) || res.InitScore != math.Log(2.5) || res.Metric != MetricRMSELog {
				t.Fatalf("objective %s, base %v, init %v, metric %s; want gamma, log 2.5, rmse_log", m.Objective, m.BaseScore, res.InitScore, res.Metric)
			}
			nodes := m.Trees[0].Nodes
			if len(nodes) != 3 || nodes[0].Threshold != 2.5 {
				t.Fatalf("tree %+v, want one split at 2.5", nodes)
			}
			l, r := nodes[nodes[0].Left].Value, nodes[nodes[0].Right].Value
			if math.Abs(l-tc.left) > 1e-12 || math.Abs(r-tc.right) > 1e-12 || math.Abs(nodes[0].Gain-tc.gain) > 1e-9 {
				t.Errorf("leaves %v, %v gain %v; want %v, %v, %v", l, r, nodes[0].Gain, tc.left, tc.right, tc.gain)
			}
			// The prediction is exp(margin): 2.5·exp(left) and 2.5·exp(right).
			for x, want := range map[float64]float64{1: 2.5 * math.Exp(tc.left), 4: 2.5 * math.Exp(tc.right)} {
				got, err := m.Predict([]float64{x})
				if err != nil || math.Abs(got-want) > 1e-12*want {
					t.Errorf("x %v: prediction %v, %v; want %v", x, got, err, want)
				}
			}
		})
	}
}

// TestGammaRefusesBadLabels: a label of 0 or less, in training or validation,
// is refused with the row named; so are a gamma base score of 0 and rmse_log
// for another objective.
func TestGammaRefusesBadLabels(t *testing.T) {
	good := &Dataset{Features: []string{"x"}, Columns: [][]float64{{1, 2, 3}}, Label: []float64{10, 20, 30}}
	tests := []struct {
		name       string
		train, val *Dataset
		edit       func(*Params)
		want       error
		says       string
	}{
		{"zero", &Dataset{Features: []string{"x"}, Columns: [][]float64{{1, 2, 3}}, Label: []float64{10, 0, 30}}, nil, nil,
			ErrInvalidData, "training set: training: invalid data: label of row 1 is 0, the gamma objective (log link) needs a positive value"},
		{"negative", &Dataset{Features: []string{"x"}, Columns: [][]float64{{1, 2, 3}}, Label: []float64{10, 20, -5}}, nil, nil,
			ErrInvalidData, "label of row 2 is -5"},
		{"validation zero", good, &Dataset{Features: []string{"x"}, Columns: [][]float64{{1, 2}}, Label: []float64{3, 0}}, nil,
			ErrInvalidData, "validation set: training: invalid data: label of row 1 is 0"},
		{"base score", good, nil, func(p *Params) { p.BaseScore = ptr(0) }, ErrInvalidParams, "> 0 for gamma"},
		{"max delta step", good, nil, func(p *Params) { p.MaxDeltaStep = math.NaN() }, ErrInvalidParams, "MaxDeltaStep NaN"},
		{"rmse_log binary", &Dataset{Features: []string{"x"}, Columns: [][]float64{{1, 2}}, Label: []float64{0, 1}}, nil,
			func(p *Params) { p.Objective, p.Metric = gbdt.Binary, MetricRMSELog }, ErrInvalidParams, `metric "rmse_log" needs the gamma objective`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Objective, p.NumRounds, p.MinDataInLeaf = gbdt.Gamma, 2, 1
			if tc.edit != nil {
				tc.edit(&p)
			}
			_, _, err := Train(context.Background(), tc.train, tc.val, p)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
}

// limitSample makes a credit-limit-like data set: limit = 0.3 × annual sales ×
// (1 - pd) × a lognormal factor (σ 0.3), rounded to 10,000 yuan, with sales
// lognormal around 3 million yuan (σ 1.5), so limits run from tens of thousands
// to billions of yuan; sales and pd are features, with two noise features.
func limitSample(n int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 2))
	d := &Dataset{Features: []string{"sales", "pd", "age", "noise"}, Columns: make([][]float64, 4), Label: make([]float64, n)}
	for j := range d.Columns {
		d.Columns[j] = make([]float64, n)
	}
	for i := range n {
		sales := math.Exp(15 + 1.5*rng.NormFloat64())
		pd := 0.3 * rng.Float64()
		d.Columns[0][i], d.Columns[1][i], d.Columns[2][i], d.Columns[3][i] = sales, pd, float64(rng.IntN(240)), rng.NormFloat64()
		d.Label[i] = max(1e4, math.Round(0.3*sales*(1-pd)*math.Exp(0.3*rng.NormFloat64())/1e4)*1e4)
	}
	return d
}

// medianAPE is the median of |pred - y| / y, computed here without the package.
func medianAPE(pred, y []float64) float64 {
	a := make([]float64, len(y))
	for i := range y {
		a[i] = math.Abs(pred[i]-y[i]) / y[i]
	}
	sort.Float64s(a)
	if len(a)%2 == 1 {
		return a[len(a)/2]
	}
	return (a[len(a)/2-1] + a[len(a)/2]) / 2
}

// TestGammaLimitBeatsL2 trains the limit both ways on the same generated sample
// and the same parameters: the gamma objective and L2 on yuan. Predictions come
// from leaves reading each model's canonical LightGBM text (leaves applies exp to
// objective=gamma itself); the median absolute percentage error on a test set
// is computed here. The gamma model must do clearly better: L2 on yuan spends its
// trees on the largest limits and misses the small ones by multiples.
func TestGammaLimitBeatsL2(t *testing.T) {
	train, valid, test := limitSample(6000, 1), limitSample(2000, 2), limitSample(3000, 3)
	mdape := map[gbdt.Objective]float64{}
	for _, obj := range []gbdt.Objective{gbdt.Regression, gbdt.Gamma} {
		p := DefaultParams()
		p.Objective, p.NumRounds, p.EarlyStoppingRounds, p.Threads = obj, 300, 20, 2
		m, _, err := Train(context.Background(), train, valid, p)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := m.WriteLightGBM(&buf); err != nil {
			t.Fatal(err)
		}
		if want := "\nobjective=" + map[gbdt.Objective]string{gbdt.Regression: "regression", gbdt.Gamma: "gamma"}[obj] + "\n"; !strings.Contains(buf.String(), want) {
			t.Fatalf("%s model text lacks %q", obj, want)
		}
		ens, err := leaves.LGEnsembleFromReader(bufio.NewReader(&buf), true)
		if err != nil {
			t.Fatalf("leaves refuses the %s model: %v", obj, err)
		}
		pred := make([]float64, test.Rows())
		row := make([]float64, len(test.Features))
		for i := range pred {
			test.Row(i, row)
			pred[i] = ens.PredictSingle(row, 0)
			mine, err := m.Predict(row)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(pred[i]-mine) > 1e-12*math.Abs(mine) {
				t.Fatalf("%s row %d: leaves %.17g, trainer's model %.17g", obj, i, pred[i], mine)
			}
			if obj == gbdt.Gamma {
				mg, _ := m.Margin(row)
				if math.Abs(pred[i]-math.Exp(mg)) > 1e-12*pred[i] {
					t.Fatalf("row %d: leaves %.17g, exp(margin) %.17g", i, pred[i], math.Exp(mg))
				}
			}
		}
		mdape[obj] = medianAPE(pred, test.Label)
		ev, err := Evaluate(m, test, EvalOptions{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		if ev.MdAPE == nil || math.Abs(*ev.MdAPE-mdape[obj]) > 1e-12 {
			t.Errorf("%s: Evaluate's MdAPE %v, computed here %v", obj, ev.MdAPE, mdape[obj])
		}
		if (ev.RMSELog != nil) != (obj == gbdt.Gamma) {
			t.Errorf("%s: RMSELog %v", obj, ev.RMSELog)
		}
	}
	t.Logf("median absolute percentage error on the test set: L2 on yuan %.1f%%, gamma %.1f%%", 100*mdape[gbdt.Regression], 100*mdape[gbdt.Gamma])
	if !(mdape[gbdt.Gamma] < 0.5*mdape[gbdt.Regression]) {
		t.Errorf("gamma MdAPE %.3f is not below half of L2's %.3f", mdape[gbdt.Gamma], mdape[gbdt.Regression])
	}
}
