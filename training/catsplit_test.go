package training

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dmitryikh/leaves"
)

// TestCatSplitFindsBestPartition checks the ordered categorical search
// against every subset of categories. Without smoothing, extra L2 or group
// and size limits, the gain G_L²/H_L + G_R²/H_R is maximised by a split of the
// categories sorted by G/H (Fisher, 1958), so the search must reach the
// brute-force optimum.
func TestCatSplitFindsBestPartition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 200 {
		k := 2 + rng.IntN(9)
		p := DefaultParams()
		p.MinDataInLeaf, p.MinSumHessianInLeaf = 1, 0
		p.MaxCatToOnehot, p.MaxCatThreshold, p.CatSmooth, p.CatL2, p.MinDataPerGroup = 0, 64, 0, 0, 1
		p.LambdaL2 = []float64{0, 1}[trial%2]
		hist := make([]histBin, k+1) // the missing bin stays empty
		lf := &leaf{lo: math.Inf(-1), hi: math.Inf(1)}
		for b := range k {
			n := 1 + rng.IntN(50)
			h := float64(n) * (0.05 + 0.2*rng.Float64())
			hist[b] = histBin{g: h * (rng.Float64()*2 - 1), h: h, n: int64(n)}
			lf.g += hist[b].g
			lf.h += hist[b].h
			lf.end += n
		}
		gr := &grower{p: &p, bd: &binnedData{mappers: []binMapper{{upper: make([]float64, k), cat: true}}},
			offsets: []int{0}, mono: []int8{0}}
		lf.out = gr.output(lf.g, lf.h, lf.lo, lf.hi)
		lf.hist = hist
		var got splitInfo
		gr.bestSplit(lf, 0, &got)

		parent := gr.objective(lf.g, lf.h, lf.out)
		want := math.Inf(-1)
		for mask := 1; mask < 1<<k-1; mask++ {
			var lg, lh float64
			for b := range k {
				if mask>>b&1 == 1 {
					lg += hist[b].g
					lh += hist[b].h
				}
			}
			rg, rh := lf.g-lg, lf.h-lh
			gain := gr.objective(lg, lh, gr.output(lg, lh, lf.lo, lf.hi)) + gr.objective(rg, rh, gr.output(rg, rh, lf.lo, lf.hi)) - parent
			want = max(want, gain)
		}
		if want <= 1e-9 {
			continue
		}
		if !got.ok || !got.cat {
			t.Fatalf("trial %d: no categorical split found, brute force gains %v", trial, want)
		}
		if math.Abs(got.gain-want) > 1e-9*math.Max(1, want) {
			t.Fatalf("trial %d (%d categories): gain %v, brute force %v", trial, k, got.gain, want)
		}
		// The split's own sums agree with its set.
		var lg float64
		for b := range k {
			if got.set.has(uint8(b)) {
				lg += hist[b].g
			}
		}
		if math.Abs(lg-got.lg) > 1e-9 {
			t.Fatalf("trial %d: left gradient %v, set sums to %v", trial, got.lg, lg)
		}
	}
}

// scattered makes a data set whose label depends on whether the category
// code c is in a scattered set (no interval of codes separates it) and on a
// numeric x. The category column has 40 codes and some missing rows.
func scattered(n int, seed uint64) (*Dataset, map[int]bool) {
	risky := map[int]bool{1: true, 4: true, 6: true, 9: true, 13: true, 17: true, 22: true, 30: true, 35: true}
	rng := rand.New(rand.NewPCG(seed, 3))
	d := &Dataset{Features: []string{"cat", "x"}, Columns: [][]float64{make([]float64, n), make([]float64, n)}, Label: make([]float64, n)}
	for i := range n {
		c := float64(rng.IntN(40))
		x := rng.Float64()
		z := -1.5 + 1.2*x
		switch {
		case rng.Float64() < 0.05:
			c = math.NaN()
			z += 0.5
		case risky[int(c)]:
			z += 2
		}
		d.Columns[0][i], d.Columns[1][i] = c, x
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			d.Label[i] = 1
		}
	}
	return d, risky
}

// TestCategoricalTraining trains on a scattered category set: the model
// splits by category sets, beats the same trees on the codes as numbers, and
// leaves (an independent LightGBM reader) scores its text as the trainer's
// model does, for seen, missing, negative and unseen categories alike.
func TestCategoricalTraining(t *testing.T) {
	train, _ := scattered(20000, 1)
	test, _ := scattered(10000, 2)
	p := DefaultParams()
	p.NumRounds, p.NumLeaves, p.Threads = 5, 4, 2
	plain := p
	p.Categorical = []bool{true, false}
	m, _, err := Train(context.Background(), train, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	mn, _, err := Train(context.Background(), train, nil, plain)
	if err != nil {
		t.Fatal(err)
	}
	cats := 0
	for _, tr := range m.Trees {
		for _, nd := range tr.Nodes {
			if !nd.Leaf && nd.Categorical {
				cats++
			}
		}
	}
	if cats == 0 {
		t.Fatal("no categorical split in the model")
	}
	aucOf := func(m interface {
		Predict([]float64) (float64, error)
	}) float64 {
		score := make([]float64, test.Rows())
		row := make([]float64, 2)
		for i := range score {
			var err error
			if score[i], err = m.Predict(test.Row(i, row)); err != nil {
				t.Fatal(err)
			}
		}
		a, err := AUC(test.Label, score)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	as, an := aucOf(m), aucOf(mn)
	t.Logf("test auc: category sets %.4f, codes as numbers %.4f", as, an)
	if as < an+0.02 {
		t.Errorf("test auc with category sets %.4f, want at least 0.02 above the codes as numbers' %.4f", as, an)
	}

	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "cat_threshold=") {
		t.Fatal("written model has no cat_threshold")
	}
	ens, err := leaves.LGEnsembleFromReader(bufio.NewReader(&buf), true)
	if err != nil {
		t.Fatalf("leaves refuses the model: %v", err)
	}
	probe := [][]float64{{math.NaN(), 0.5}, {-3, 0.5}, {39, 0.2}, {40, 0.2}, {200, 0.9}, {254, 0.1}, {4.7, 0.3}}
	row := make([]float64, 2)
	for i := range test.Rows() {
		probe = append(probe, append([]float64(nil), test.Row(i, row)...))
	}
	for _, r := range probe {
		want, err := m.Predict(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := ens.PredictSingle(r, 0); math.Abs(got-want) > 1e-12 {
			t.Fatalf("row %v: leaves %v, trainer's model %v", r, got, want)
		}
	}
}

func TestCategoricalRefusals(t *testing.T) {
	d, _ := scattered(500, 1)
	base := DefaultParams()
	base.NumRounds = 1
	cases := []struct {
		name   string
		edit   func(*Params, *Dataset)
		errIs  error
		phrase string
	}{
		{"wrong length", func(p *Params, _ *Dataset) { p.Categorical = []bool{true} }, ErrInvalidParams, "Categorical has 1 entries for 2 features"},
		{"monotone", func(p *Params, _ *Dataset) {
			p.Categorical = []bool{true, false}
			p.Monotone = []int8{1, 0}
		}, ErrInvalidParams, "feature 0 is categorical and has a monotone constraint"},
		{"fraction", func(p *Params, d *Dataset) { p.Categorical = []bool{true, false}; d.Columns[0][3] = 2.5 }, ErrInvalidData, `categorical feature "cat" of row 3 is 2.5`},
		{"negative", func(p *Params, d *Dataset) { p.Categorical = []bool{true, false}; d.Columns[0][4] = -1 }, ErrInvalidData, `row 4 is -1`},
		{"too large", func(p *Params, d *Dataset) { p.Categorical = []bool{true, false}; d.Columns[0][5] = 255 }, ErrInvalidData, `row 5 is 255 (want a category code 0..254`},
		{"threshold", func(p *Params, _ *Dataset) { p.Categorical = []bool{true, false}; p.MaxCatThreshold = 0 }, ErrInvalidParams, "MaxCatThreshold 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base
			dd := &Dataset{Features: d.Features, Columns: [][]float64{append([]float64(nil), d.Columns[0]...), d.Columns[1]}, Label: d.Label}
			c.edit(&p, dd)
			_, _, err := Train(context.Background(), dd, nil, p)
			if !errors.Is(err, c.errIs) || !strings.Contains(err.Error(), c.phrase) {
				t.Fatalf("got %v, want %v with %q", err, c.errIs, c.phrase)
			}
		})
	}
}
