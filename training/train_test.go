package training

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// synthetic makes a binary data set with a non-monotone effect of x0, an
// increasing effect of x1, a feature x2 that is missing for a fifth of the
// rows (missing rows default more often) and a noise feature x3.
func synthetic(n int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &Dataset{Features: []string{"x0", "x1", "x2", "x3"}, Columns: make([][]float64, 4), Label: make([]float64, n)}
	for j := range d.Columns {
		d.Columns[j] = make([]float64, n)
	}
	for i := range n {
		x0, x1, x2, x3 := rng.Float64(), rng.Float64(), rng.NormFloat64(), rng.Float64()
		z := 2*math.Sin(6*x0) + 1.5*x1 - 0.7
		if rng.Float64() < 0.2 {
			x2 = math.NaN()
			z += 1.5
		} else {
			z += 0.5 * x2
		}
		d.Columns[0][i], d.Columns[1][i], d.Columns[2][i], d.Columns[3][i] = x0, x1, x2, x3
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			d.Label[i] = 1
		}
	}
	return d
}

func TestTrainHandCalculated(t *testing.T) {
	// Regression on x = 1..4, y = 1, 1, 5, 5: the initial score is the mean 3,
	// residuals are -2, -2, 2, 2; the only useful split is between 2 and 3
	// (threshold 2.5), and with learning rate 1 and no regularization the
	// leaves are the mean residuals -2 and +2.
	reg := &Dataset{Features: []string{"x"}, Columns: [][]float64{{1, 2, 3, 4}}, Label: []float64{1, 1, 5, 5}}
	// Binary on x = 0, 0, 1, 1 with labels 0, 0, 1, 1: initial score
	// logit(0.5) = 0, gradients p-y = 0.5, 0.5, -0.5, -0.5, hessians 0.25 each,
	// so the leaves are -G/H = -1/0.5 = -2 and +2, times the learning rate 0.5.
	bin := &Dataset{Features: []string{"x"}, Columns: [][]float64{{0, 0, 1, 1}}, Label: []float64{0, 0, 1, 1}}
	tests := []struct {
		name       string
		data       *Dataset
		obj        gbdt.Objective
		lr, l2, l1 float64
		base       float64
		thr        float64
		left, righ float64
		gain       float64
	}{
		// gain: G_L^2/H_L + G_R^2/H_R - G^2/H = 16/2 + 16/2 - 0 = 16.
		{"regression", reg, gbdt.Regression, 1, 0, 0, 3, 2.5, -2, 2, 16},
		// l2 = 1: leaves -(-4)/(2+1) scaled, gain 16/3+16/3.
		{"regression-l2", reg, gbdt.Regression, 1, 1, 0, 3, 2.5, -4.0 / 3, 4.0 / 3, 32.0 / 3},
		// l1 = 1: gradient sums 4 and -4 shrink to 3 and -3: leaves -3/2 and
		// 3/2, gain 9/2 + 9/2 - 0.
		{"regression-l1", reg, gbdt.Regression, 1, 0, 1, 3, 2.5, -1.5, 1.5, 9},
		// gain: 1/0.5 + 1/0.5 - 0 = 4.
		{"binary", bin, gbdt.Binary, 0.5, 0, 0, 0, 0.5, -1, 1, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Objective, p.LearningRate, p.LambdaL2, p.LambdaL1 = tc.obj, tc.lr, tc.l2, tc.l1
			p.NumRounds, p.NumLeaves, p.MinDataInLeaf, p.MinSumHessianInLeaf = 1, 2, 1, 0
			m, _, err := Train(context.Background(), tc.data, nil, p)
			if err != nil {
				t.Fatal(err)
			}
			if m.BaseScore != tc.base {
				t.Errorf("base score %v, want %v", m.BaseScore, tc.base)
			}
			nodes := m.Trees[0].Nodes
			if len(nodes) != 3 || nodes[0].Leaf {
				t.Fatalf("tree %+v, want one split", nodes)
			}
			root := nodes[0]
			if root.Threshold != tc.thr {
				t.Errorf("threshold %v, want %v", root.Threshold, tc.thr)
			}
			if got := nodes[root.Left].Value; math.Abs(got-tc.left) > 1e-12 {
				t.Errorf("left leaf %v, want %v", got, tc.left)
			}
			if got := nodes[root.Right].Value; math.Abs(got-tc.righ) > 1e-12 {
				t.Errorf("right leaf %v, want %v", got, tc.righ)
			}
			if math.Abs(root.Gain-tc.gain) > 1e-9 {
				t.Errorf("gain %v, want %v", root.Gain, tc.gain)
			}
			if root.Count != 4 || nodes[root.Left].Count != 2 || nodes[root.Right].Count != 2 {
				t.Errorf("counts %v/%v/%v, want 4/2/2", root.Count, nodes[root.Left].Count, nodes[root.Right].Count)
			}
		})
	}
}

func TestMissingDirection(t *testing.T) {
	// Rows with x missing are all positive, x <= 5 negative, x > 5 positive:
	// the split at 5 must send missing values right.
	const n = 300
	d := &Dataset{Features: []string{"x"}, Columns: [][]float64{make([]float64, n)}, Label: make([]float64, n)}
	for i := range n {
		switch i % 3 {
		case 0:
			d.Columns[0][i] = math.NaN()
			d.Label[i] = 1
		case 1:
			d.Columns[0][i] = float64(i % 5)
		default:
			d.Columns[0][i] = 6 + float64(i%5)
			d.Label[i] = 1
		}
	}
	p := DefaultParams()
	p.NumRounds, p.NumLeaves = 1, 2
	m, _, err := Train(context.Background(), d, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	root := m.Trees[0].Nodes[0]
	if root.Leaf || root.DefaultLeft || root.Missing != gbdt.MissingNaN {
		t.Fatalf("root %+v, want a split sending missing right", root)
	}
	if !(root.Threshold > 4 && root.Threshold < 6) {
		t.Errorf("threshold %v, want between 4 and 6", root.Threshold)
	}
	a, _ := m.Margin([]float64{math.NaN()})
	b, _ := m.Margin([]float64{1})
	if a <= b {
		t.Errorf("margin(NaN) %v <= margin(1) %v", a, b)
	}
}

// monotoneViolations counts pairs of neighbouring grid points where the model
// moves against constraint dir on feature f, over base rows of d. The grid
// holds every threshold of f in the model, a hair either side of each, and
// the data range.
func monotoneViolations(tb testing.TB, m *gbdt.Model, d *Dataset, f int, dir int8, bases int) int {
	grid := []float64{-math.MaxFloat64, -1e300, 1e300, math.MaxFloat64}
	for _, tr := range m.Trees {
		for _, nd := range tr.Nodes {
			if !nd.Leaf && nd.Feature == f {
				th := nd.Threshold
				grid = append(grid, th, math.Nextafter(th, math.Inf(-1)), math.Nextafter(th, math.Inf(1)))
			}
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range d.Columns[f] {
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for k := range 50 {
		grid = append(grid, lo+(hi-lo)*float64(k)/49)
	}
	slices.Sort(grid)
	bad := 0
	row := make([]float64, len(d.Features))
	for b := range bases {
		d.Row(b*(d.Rows()/bases), row)
		prev := math.NaN()
		for _, v := range grid {
			row[f] = v
			cur, err := m.Margin(row)
			if err != nil {
				tb.Fatal(err)
			}
			if !math.IsNaN(prev) && float64(dir)*(cur-prev) < -1e-12 {
				bad++
			}
			prev = cur
		}
	}
	return bad
}

func TestMonotoneConstraints(t *testing.T) {
	d := synthetic(6000, 7)
	cases := []struct {
		name string
		mono []int8
	}{
		// x0 rises and falls, x1 truly increases: constrain both against and with the data.
		{"x0-up", []int8{1, 0, 0, 0}},
		{"x0-down-x1-down", []int8{-1, -1, 0, 0}},
		{"all", []int8{1, 1, -1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.NumRounds, p.MinDataInLeaf = 60, 5
			p.BaggingFraction, p.FeatureFraction = 0.8, 0.75
			p.Monotone = tc.mono
			m, _, err := Train(context.Background(), d, nil, p)
			if err != nil {
				t.Fatal(err)
			}
			for f, dir := range tc.mono {
				if dir == 0 {
					continue
				}
				if v := monotoneViolations(t, m, d, f, dir, 60); v != 0 {
					t.Errorf("feature %d constrained %+d: %d violations on the grid", f, dir, v)
				}
			}
		})
	}
	t.Run("unconstrained-violates", func(t *testing.T) {
		// The check above can fail: without constraints, x0's sine shows.
		p := DefaultParams()
		p.NumRounds, p.MinDataInLeaf = 60, 5
		m, _, err := Train(context.Background(), d, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		if monotoneViolations(t, m, d, 0, 1, 20) == 0 || monotoneViolations(t, m, d, 0, -1, 20) == 0 {
			t.Error("unconstrained model is monotone in x0; the grid check cannot detect violations")
		}
	})
}

func TestEarlyStopping(t *testing.T) {
	tr, va := synthetic(3000, 11), synthetic(2000, 12)
	p := DefaultParams()
	p.NumRounds, p.LearningRate, p.NumLeaves, p.MinDataInLeaf = 500, 0.5, 63, 2
	p.EarlyStoppingRounds = 10
	for _, metric := range []string{MetricAUC, MetricLogLoss} {
		t.Run(metric, func(t *testing.T) {
			p.Metric = metric
			m, res, err := Train(context.Background(), tr, va, p)
			if err != nil {
				t.Fatal(err)
			}
			if !res.EarlyStopped || res.RoundsRun >= p.NumRounds {
				t.Fatalf("ran %d of %d rounds, early stopped %v", res.RoundsRun, p.NumRounds, res.EarlyStopped)
			}
			if res.RoundsRun != res.Rounds+p.EarlyStoppingRounds || len(m.Trees) != res.Rounds {
				t.Errorf("ran %d rounds, kept %d trees (result %d), want run = kept + 10", res.RoundsRun, len(m.Trees), res.Rounds)
			}
			// The kept model, evaluated independently of the trainer's scores,
			// has the best validation metric of the history.
			mg, err := Margins(m, va, 1)
			if err != nil {
				t.Fatal(err)
			}
			var got float64
			if metric == MetricAUC {
				got, _ = AUC(va.Label, mg)
			} else {
				prob := make([]float64, len(mg))
				for i, x := range mg {
					prob[i] = 1 / (1 + math.Exp(-x))
				}
				got, _ = LogLoss(va.Label, prob)
			}
			if math.Abs(got-res.BestValid) > 1e-9 {
				t.Errorf("kept model's %s %v, result says %v", metric, got, res.BestValid)
			}
			for _, h := range res.History {
				if (metric == MetricAUC && h.Valid > res.BestValid) || (metric == MetricLogLoss && h.Valid < res.BestValid) {
					t.Errorf("round %d has %s %v, better than the kept %v", h.Iteration, metric, h.Valid, res.BestValid)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	d := synthetic(5000, 3)
	p := DefaultParams()
	p.NumRounds, p.BaggingFraction, p.FeatureFraction = 20, 0.7, 0.5
	train := func(seed uint64, threads int) *gbdt.Model {
		q := p
		q.Seed, q.Threads = seed, threads
		m, _, err := Train(context.Background(), d, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := train(1, 2), train(1, 2)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed and threads gave different models")
	}
	if c := train(1, 1); !reflect.DeepEqual(a, c) {
		t.Error("1 and 2 threads gave different models")
	}
	if c := train(2, 2); reflect.DeepEqual(a, c) {
		t.Error("different seeds gave the same model (sampling ignored the seed)")
	}
}

func TestScalePosWeight(t *testing.T) {
	// Weighting positives by w moves the initial score to logit(w*P/(w*P+N)).
	d := synthetic(1000, 5)
	pos := 0.0
	for _, y := range d.Label {
		pos += y
	}
	neg := float64(d.Rows()) - pos
	p := DefaultParams()
	p.NumRounds, p.ScalePosWeight = 1, 3
	_, res, err := Train(context.Background(), d, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := math.Log(3 * pos / neg); math.Abs(res.InitScore-want) > 1e-12 {
		t.Errorf("init score %v, want %v", res.InitScore, want)
	}
}

func TestTrainErrors(t *testing.T) {
	good := synthetic(100, 1)
	tests := []struct {
		name  string
		data  *Dataset
		valid *Dataset
		edit  func(*Params)
		want  error
	}{
		{"rounds", good, nil, func(p *Params) { p.NumRounds = 0 }, ErrInvalidParams},
		{"lr", good, nil, func(p *Params) { p.LearningRate = math.NaN() }, ErrInvalidParams},
		{"leaves", good, nil, func(p *Params) { p.NumLeaves = 1 }, ErrInvalidParams},
		{"bins", good, nil, func(p *Params) { p.MaxBins = 256 }, ErrInvalidParams},
		{"bagging", good, nil, func(p *Params) { p.BaggingFraction = 0 }, ErrInvalidParams},
		{"monotone-len", good, nil, func(p *Params) { p.Monotone = []int8{1} }, ErrInvalidParams},
		{"monotone-value", good, nil, func(p *Params) { p.Monotone = []int8{2, 0, 0, 0} }, ErrInvalidParams},
		{"objective", good, nil, func(p *Params) { p.Objective = "poisson" }, ErrInvalidParams},
		{"metric", good, nil, func(p *Params) { p.Metric = "f1" }, ErrInvalidParams},
		{"auc-regression", good, nil, func(p *Params) { p.Objective, p.Metric = gbdt.Regression, MetricAUC }, ErrInvalidParams},
		{"early-no-valid", good, nil, func(p *Params) { p.EarlyStoppingRounds = 5 }, ErrInvalidParams},
		{"no-rows", &Dataset{Features: []string{"a"}, Columns: [][]float64{{}}}, nil, nil, ErrInvalidData},
		{"ragged", &Dataset{Features: []string{"a"}, Columns: [][]float64{{1}}, Label: []float64{0, 1}}, nil, nil, ErrInvalidData},
		{"label", &Dataset{Features: []string{"a"}, Columns: [][]float64{{1, 2}}, Label: []float64{0, 2}}, nil, nil, ErrInvalidData},
		{"inf", &Dataset{Features: []string{"a"}, Columns: [][]float64{{1, math.Inf(1)}}, Label: []float64{0, 1}}, nil, nil, ErrInvalidData},
		{"label-nan", &Dataset{Features: []string{"a"}, Columns: [][]float64{{1, 2}}, Label: []float64{0, math.NaN()}}, nil, func(p *Params) { p.Objective = gbdt.Regression }, ErrInvalidData},
		{"valid-one-class", good, &Dataset{Features: good.Features, Columns: [][]float64{{1}, {1}, {1}, {1}}, Label: []float64{1}}, nil, ErrInvalidData},
		{"valid-features", good, &Dataset{Features: []string{"a"}, Columns: [][]float64{{1}}, Label: []float64{0}}, nil, ErrInvalidData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.NumRounds = 2
			if tc.edit != nil {
				tc.edit(&p)
			}
			_, _, err := Train(context.Background(), tc.data, tc.valid, p)
			if !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, _, err := Train(ctx, good, nil, DefaultParams()); !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	})
}

func TestStratifiedSplit(t *testing.T) {
	y := make([]float64, 1000)
	for i := range 150 {
		y[i*6] = 1
	}
	tr, te, err := StratifiedSplit(y, 0.2, 42)
	if err != nil {
		t.Fatal(err)
	}
	// 150 positives and 850 negatives: round(0.2*150) = 30 and 170 in test.
	pos := 0
	for _, i := range te {
		pos += int(y[i])
	}
	if len(te) != 200 || pos != 30 || len(tr) != 800 {
		t.Errorf("test %d rows with %d positives, train %d rows; want 200, 30, 800", len(te), pos, len(tr))
	}
	seen := make([]bool, len(y))
	for _, i := range slices.Concat(tr, te) {
		if seen[i] {
			t.Fatalf("row %d in both parts", i)
		}
		seen[i] = true
	}
	// SplitMix64 reference values from Vigna's splitmix64.c with state 0:
	// the first output is 0xE220A8397B1DCDAF.
	if got := splitmix64(0); got != 0xE220A8397B1DCDAF {
		t.Errorf("splitmix64(0) = %#x, want 0xE220A8397B1DCDAF", got)
	}
	if _, _, err := StratifiedSplit(y, 1, 1); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("fraction 1: err %v", err)
	}
}

func TestFindBins(t *testing.T) {
	tests := []struct {
		name    string
		vals    []float64
		maxBins int
		want    []float64
	}{
		{"distinct", []float64{3, 1, 2, 2, math.NaN()}, 255, []float64{1.5, 2.5, math.Inf(1)}},
		{"constant", []float64{4, 4}, 255, []float64{math.Inf(1)}},
		{"all-missing", []float64{math.NaN()}, 255, []float64{math.Inf(1)}},
		// 8 distinct values into 4 bins of two values each.
		{"quantile", []float64{1, 2, 3, 4, 5, 6, 7, 8}, 4, []float64{2.5, 4.5, 6.5, math.Inf(1)}},
		// A value holding half the rows gets a bin of its own.
		{"heavy", []float64{0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6}, 3, []float64{0.5, 3.5, math.Inf(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := findBins(slices.Clone(tc.vals), tc.maxBins).upper
			if !slices.Equal(got, tc.want) {
				t.Errorf("upper %v, want %v", got, tc.want)
			}
		})
	}
	m := binMapper{upper: []float64{1.5, 2.5, math.Inf(1)}}
	for v, want := range map[float64]uint8{1: 0, 1.5: 0, 2: 1, 2.5: 1, 3: 2, math.Inf(1): 2, math.Inf(-1): 0} {
		if got := m.bin(v); got != want {
			t.Errorf("bin(%v) = %d, want %d", v, got, want)
		}
	}
	if got := m.bin(math.NaN()); got != 3 {
		t.Errorf("bin(NaN) = %d, want 3", got)
	}
}

func TestModelRoundTrip(t *testing.T) {
	// A trained model is valid, and its canonical LightGBM text parses back to
	// a model with the same predictions as the trainer's own scores.
	d := synthetic(2000, 9)
	p := DefaultParams()
	p.NumRounds, p.Monotone = 15, []int8{0, 1, 0, 0}
	m, _, err := Train(context.Background(), d, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("trained model invalid: %v", err)
	}
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := gbdt.Parse(buf.Bytes(), gbdt.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Margins(m, d, 2)
	got, err := Margins(back, d, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("row %d: margin %v after round trip, %v before", i, got[i], want[i])
		}
	}
}

func TestMakeGroups(t *testing.T) {
	tests := []struct {
		n, threads int
		sizes      []int
	}{
		{10, 2, []int{3, 3, 2, 2}},
		{10, 1, []int{4, 3, 3}},
		{4, 2, []int{2, 2}},
		{1, 2, []int{1}},
		{28, 2, []int{4, 4, 4, 4, 3, 3, 3, 3}},
	}
	for _, tc := range tests {
		used := make([]int, tc.n)
		for i := range used {
			used[i] = i
		}
		var sizes []int
		var all []int
		for _, g := range makeGroups(used, tc.threads) {
			sizes = append(sizes, len(g))
			all = append(all, g...)
		}
		if !slices.Equal(sizes, tc.sizes) || !slices.Equal(all, used) {
			t.Errorf("makeGroups(%d features, %d threads) sizes %v covering %v, want sizes %v", tc.n, tc.threads, sizes, all, tc.sizes)
		}
	}
}

func TestHistogramKernels(t *testing.T) {
	// Every kernel width, on a subset of rows and on all rows, must match a
	// plain per-row sum.
	rng := rand.New(rand.NewPCG(8, 9))
	const n = 1000
	bd := &binnedData{rows: n}
	for range 5 {
		col := make([]uint8, n)
		for i := range col {
			col[i] = uint8(rng.IntN(17))
		}
		bd.cols = append(bd.cols, col)
		bd.mappers = append(bd.mappers, binMapper{upper: make([]float64, 16)})
	}
	p := DefaultParams()
	gr := newGrower(&p, bd)
	gr.gh = make([]gradPair, n)
	for i := range gr.gh {
		gr.gh[i] = gradPair{rng.NormFloat64(), rng.Float64()}
	}
	var rows []uint32
	for i := 0; i < n; i += 3 {
		rows = append(rows, uint32(i))
	}
	for i, r := range rows {
		gr.ordered[i] = gr.gh[r]
	}
	for width := 1; width <= 4; width++ {
		group := []int{4, 0, 2, 1}[:width]
		for _, full := range []bool{false, true} {
			hist := make([]histBin, gr.width)
			sel := rows
			if full {
				sel = nil
				for i := range n {
					sel = append(sel, uint32(i))
				}
			}
			gr.buildHist(hist, group, rows, gr.ordered, full)
			for _, f := range group {
				want := make([]histBin, 17)
				for _, r := range sel {
					b := bd.cols[f][r]
					want[b].g += gr.gh[r].g
					want[b].h += gr.gh[r].h
					want[b].n++
				}
				got := hist[gr.offsets[f] : gr.offsets[f]+17]
				if !slices.Equal(got, want) {
					t.Errorf("width %d full %v feature %d: histogram differs from the per-row sum", width, full, f)
				}
			}
		}
	}
}

func TestTrainingScoresMatchModel(t *testing.T) {
	// The trainer keeps running scores (in-bag rows through their leaves,
	// out-of-bag rows through the binned tree); the training metric it reports
	// must equal the metric of the finished model evaluated from raw values.
	d := synthetic(4000, 31)
	p := DefaultParams()
	p.NumRounds, p.BaggingFraction, p.FeatureFraction, p.Metric = 25, 0.5, 0.75, MetricLogLoss
	var last Round
	p.Progress = func(r Round) { last = r }
	m, _, err := Train(context.Background(), d, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	mg, err := Margins(m, d, 2)
	if err != nil {
		t.Fatal(err)
	}
	prob := make([]float64, len(mg))
	for i, x := range mg {
		prob[i] = 1 / (1 + math.Exp(-x))
	}
	want, _ := LogLoss(d.Label, prob)
	if last.Iteration != 25 || math.Abs(last.Train-want) > 1e-9 {
		t.Errorf("round %d training logloss %v, model's %v", last.Iteration, last.Train, want)
	}
}

func TestTreeLimits(t *testing.T) {
	d := synthetic(5000, 41)
	tests := []struct {
		name                   string
		leaves, depth, minData int
		featureFraction        float64
		wantMaxFeaturesPerTree int
	}{
		{"leaves-7", 7, 0, 20, 1, 4},
		{"depth-2", 31, 2, 20, 1, 4},
		{"min-data-300", 31, 0, 300, 1, 4},
		{"one-feature-per-tree", 31, 0, 20, 0.25, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.NumRounds, p.NumLeaves, p.MaxDepth, p.MinDataInLeaf, p.FeatureFraction = 10, tc.leaves, tc.depth, tc.minData, tc.featureFraction
			m, _, err := Train(context.Background(), d, nil, p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.depth > 0 && m.Depth() > tc.depth {
				t.Errorf("depth %d > MaxDepth %d", m.Depth(), tc.depth)
			}
			for ti, tr := range m.Trees {
				leaves, feats := 0, map[int]bool{}
				for _, nd := range tr.Nodes {
					if nd.Leaf {
						leaves++
						if nd.Count < float64(tc.minData) {
							t.Errorf("tree %d has a leaf of %v rows < MinDataInLeaf %d", ti, nd.Count, tc.minData)
						}
					} else {
						feats[nd.Feature] = true
						l, r := tr.Nodes[nd.Left], tr.Nodes[nd.Right]
						if l.Count+r.Count != nd.Count {
							t.Errorf("tree %d: children count %v+%v != %v", ti, l.Count, r.Count, nd.Count)
						}
					}
				}
				if leaves > tc.leaves {
					t.Errorf("tree %d has %d leaves > NumLeaves %d", ti, leaves, tc.leaves)
				}
				if len(feats) > tc.wantMaxFeaturesPerTree {
					t.Errorf("tree %d splits on %d features, want at most %d", ti, len(feats), tc.wantMaxFeaturesPerTree)
				}
			}
		})
	}
}

func TestBaseScore(t *testing.T) {
	// Four rows, one feature; zero rounds of real learning is not allowed, so
	// check the starting margin, which Train reports before any tree.
	d := &Dataset{Features: []string{"x"}, Columns: [][]float64{{1, 2, 3, 4}}, Label: []float64{0, 0, 0, 1}}
	cases := []struct {
		name string
		obj  gbdt.Objective
		base *float64
		want float64 // by hand
	}{
		{"binary label mean", gbdt.Binary, nil, math.Log(0.25 / 0.75)},
		{"binary 0.5", gbdt.Binary, ptr(0.5), 0},
		{"binary 0.2", gbdt.Binary, ptr(0.2), math.Log(0.2 / 0.8)},
		{"regression 3", gbdt.Regression, ptr(3), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Objective = tc.obj
			p.NumRounds = 1
			p.MinDataInLeaf = 1
			p.BaseScore = tc.base
			_, res, err := Train(context.Background(), d, nil, p)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(res.InitScore-tc.want) > 1e-12 {
				t.Fatalf("init score %v, want %v", res.InitScore, tc.want)
			}
		})
	}
	for _, bad := range []float64{0, 1, -0.1, math.NaN()} {
		p := DefaultParams()
		p.BaseScore = ptr(bad)
		if _, _, err := Train(context.Background(), d, nil, p); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("base score %v: err %v, want ErrInvalidParams", bad, err)
		}
	}
}

func ptr(v float64) *float64 { return &v }
