package training

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/xinyi-platform/xinyi/gbdt"
)

// Result describes a finished training run.
type Result struct {
	// Rounds is the number of trees in the model (the best round when early
	// stopping stopped the run).
	Rounds int
	// RoundsRun is the number of rounds trained before stopping.
	RoundsRun int
	// EarlyStopped says whether early stopping ended the run.
	EarlyStopped bool
	// Metric names the validation metric; BestValid is its value at Rounds
	// (NaN without a validation set).
	Metric    string
	BestValid float64
	// History holds one entry per round run.
	History []Round
	// InitScore is the margin every prediction starts from (model BaseScore).
	InitScore float64
	// SplitImportance counts the splits on each feature; GainImportance sums
	// their gains. Both are indexed like Dataset.Features and cover the trees
	// kept in the model.
	SplitImportance []int
	GainImportance  []float64
	// Bins is the number of value bins found for each feature.
	Bins []int
	// Params are the parameters used, defaults filled in (Progress dropped).
	Params Params
	// Elapsed is the wall time of the whole run, binning included.
	Elapsed time.Duration
}

// Train fits a gradient-boosted tree ensemble on train. valid, when not nil,
// is scored every round for Params.Progress and early stopping. Training stops
// early with ctx's error when ctx is cancelled.
func Train(ctx context.Context, train *Dataset, valid *Dataset, params Params) (*gbdt.Model, *Result, error) {
	start := time.Now()
	p := params
	if err := train.Validate(p.Objective); err != nil {
		return nil, nil, fmt.Errorf("training set: %w", err)
	}
	nf := len(train.Features)
	if err := p.validate(nf); err != nil {
		return nil, nil, err
	}
	if valid != nil {
		if err := valid.Validate(p.Objective); err != nil {
			return nil, nil, fmt.Errorf("validation set: %w", err)
		}
		if !slices.Equal(valid.Features, train.Features) {
			return nil, nil, fmt.Errorf("%w: validation features %v differ from training features %v", ErrInvalidData, valid.Features, train.Features)
		}
	}
	if valid != nil && p.Metric == MetricAUC {
		pos := 0
		for _, y := range valid.Label {
			pos += int(y)
		}
		if err := needBothClasses(pos, valid.Rows()); err != nil {
			return nil, nil, fmt.Errorf("validation set for metric auc: %w", err)
		}
	}
	if p.EarlyStoppingRounds > 0 && valid == nil {
		return nil, nil, fmt.Errorf("%w: EarlyStoppingRounds %d needs a validation set", ErrInvalidParams, p.EarlyStoppingRounds)
	}
	if err := train.checkCategorical(p.Categorical); err != nil {
		return nil, nil, fmt.Errorf("training set: %w", err)
	}
	threads := p.Threads
	n := train.Rows()
	bd := newBinnedData(train, p.Categorical, p.MaxBins, p.BinSampleRows, p.Seed, threads)
	var vbd *binnedData
	if valid != nil {
		vbd = bd.applyBins(valid, threads)
	}
	gr := newGrower(&p, bd)
	rng := rand.New(rand.NewPCG(p.Seed, 0x7261696e))

	// Initial score from the (weighted) label mean.
	y := train.Label
	weight := func(i int) float64 {
		if p.Objective == gbdt.Binary && y[i] == 1 {
			return p.ScalePosWeight
		}
		return 1
	}
	var sw, swy float64
	for i := range n {
		w := weight(i)
		sw += w
		swy += w * y[i]
	}
	init := swy / sw
	if p.BaseScore != nil {
		init = *p.BaseScore
	}
	switch p.Objective {
	case gbdt.Binary:
		pm := min(max(init, 1e-15), 1-1e-15)
		init = math.Log(pm / (1 - pm))
	case gbdt.Gamma:
		init = math.Log(init) // labels and BaseScore are > 0 (checked)
	}
	score := make([]float64, n)
	for i := range score {
		score[i] = init
	}
	var vscore []float64
	if valid != nil {
		vscore = make([]float64, valid.Rows())
		for i := range vscore {
			vscore[i] = init
		}
	}

	model := &gbdt.Model{Objective: p.Objective, Sigmoid: 1, BaseScore: init,
		FeatureNames: slices.Clone(train.Features), Source: "xinyi-trainer"}
	if p.Monotone != nil {
		model.Monotone = slices.Clone(p.Monotone)
	}
	res := &Result{Metric: p.Metric, BestValid: math.NaN(), InitScore: init, Bins: make([]int, nf)}
	for j := range nf {
		res.Bins[j] = bd.mappers[j].numBins()
	}
	higherBetter := p.Metric == MetricAUC
	bestRound := 0
	allFeatures := make([]int, 0, nf)
	for j := range nf {
		if bd.mappers[j].numBins() > 1 || hasMissing(bd.cols[j], bd.mappers[j].missingBin()) {
			allFeatures = append(allFeatures, j)
		}
	}
	inBag := make([]bool, n)
	var tauc, vauc aucScratch // ranking buffers of the training and validation metric
	for it := 1; it <= p.NumRounds; it++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("training: round %d: %w", it, err)
		}
		gr.gradients(score, y)
		// Rows of this round.
		nrows := n
		if p.BaggingFraction < 1 {
			nrows = max(1, int(math.Round(p.BaggingFraction*float64(n))))
			sample := sampleSorted(rng, n, nrows)
			clear(inBag)
			for k, r := range sample {
				gr.indices[k] = uint32(r)
				inBag[r] = true
			}
		} else {
			for i := range n {
				gr.indices[i] = uint32(i)
			}
		}
		// Features of this round.
		gr.used = allFeatures
		if p.FeatureFraction < 1 && len(allFeatures) > 1 {
			k := max(1, int(math.Round(p.FeatureFraction*float64(len(allFeatures)))))
			pick := sampleSorted(rng, len(allFeatures), k)
			gr.used = make([]int, k)
			for i, q := range pick {
				gr.used[i] = allFeatures[q]
			}
		}
		tree, bnodes, leaves := gr.grow(nrows)
		model.Trees = append(model.Trees, tree)
		// Leaves hold disjoint rows, so they can be updated in parallel.
		leafThreads := threads
		if nrows < 1<<15 {
			leafThreads = 1
		}
		parallelFor(len(leaves), leafThreads, func(k int) {
			lf := leaves[k]
			v := bnodes[lf.node].value
			for _, r := range gr.indices[lf.begin:lf.end] {
				score[r] += v
			}
		})
		if nrows < n {
			parallelChunks(n, threads, 8192, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if !inBag[i] {
						score[i] += scoreBinned(bnodes, bd.cols, i)
					}
				}
			})
		}
		if vbd != nil {
			vcols := vbd.cols
			parallelChunks(len(vscore), threads, 8192, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					vscore[i] += scoreBinned(bnodes, vcols, i)
				}
			})
		}
		rd := Round{Iteration: it, Total: p.NumRounds, Metric: p.Metric, Train: math.NaN(), Valid: math.NaN(), HasValidSet: valid != nil}
		if valid != nil {
			rd.Valid = evalMetric(&vauc, threads, p.Metric, p.Objective, valid.Label, vscore)
			if bestRound == 0 || (higherBetter && rd.Valid > res.BestValid) || (!higherBetter && rd.Valid < res.BestValid) {
				res.BestValid = rd.Valid
				bestRound = it
			}
			rd.BestValid, rd.BestRound = res.BestValid, bestRound
		}
		if p.Progress != nil {
			rd.Train = evalMetric(&tauc, threads, p.Metric, p.Objective, y, score)
		}
		res.History = append(res.History, rd)
		res.RoundsRun = it
		if p.Progress != nil {
			p.Progress(rd)
		}
		if p.EarlyStoppingRounds > 0 && it-bestRound >= p.EarlyStoppingRounds {
			res.EarlyStopped = it < p.NumRounds
			break
		}
	}
	if p.EarlyStoppingRounds > 0 && bestRound > 0 {
		model.Trees = model.Trees[:bestRound]
	}
	res.Rounds = len(model.Trees)
	res.SplitImportance, res.GainImportance = Importance(model)
	p.Progress = nil
	res.Params = p
	res.Elapsed = time.Since(start)
	return model, res, nil
}

func hasMissing(col []uint8, miss int) bool {
	for _, b := range col {
		if int(b) == miss {
			return true
		}
	}
	return false
}

// sampleSorted draws k of 0..n-1 without replacement, in ascending order.
func sampleSorted(rng *rand.Rand, n, k int) []int {
	// Selection sampling (Knuth's Algorithm S): one pass, already sorted.
	out := make([]int, 0, k)
	for i := 0; i < n && len(out) < k; i++ {
		if rng.IntN(n-i) < k-len(out) {
			out = append(out, i)
		}
	}
	return out
}

// gradients fills gr.gh from the current scores.
func (gr *grower) gradients(score, y []float64) {
	if gr.gh == nil {
		gr.gh = make([]gradPair, len(score))
	}
	gh := gr.gh
	obj := gr.p.Objective
	spw := gr.p.ScalePosWeight
	parallelChunks(len(score), gr.p.Threads, 16384, func(lo, hi int) {
		switch obj {
		case gbdt.Binary:
			logLossGradients(gh[lo:hi], score[lo:hi], y[lo:hi], spw)
		case gbdt.Gamma:
			gammaGradients(gh[lo:hi], score[lo:hi], y[lo:hi])
		default:
			l2Gradients(gh[lo:hi], score[lo:hi], y[lo:hi])
		}
	})
}

// logLossGradients fills gh with the gradient p-y and hessian p(1-p) of the
// log loss at p = sigmoid(score), positives weighted by spw.
func logLossGradients(gh []gradPair, score, y []float64, spw float64) {
	score, y = score[:len(gh)], y[:len(gh)]
	for i := range gh {
		pr := 1 / (1 + math.Exp(-score[i]))
		g, h := pr-y[i], pr*(1-pr)
		if h < 1e-16 {
			h = 1e-16
		}
		if y[i] == 1 {
			g, h = g*spw, h*spw
		}
		gh[i] = gradPair{g, h}
	}
}

// l2Gradients fills gh with the gradient and hessian of the squared error.
func l2Gradients(gh []gradPair, score, y []float64) {
	score, y = score[:len(gh)], y[:len(gh)]
	for i := range gh {
		gh[i] = gradPair{score[i] - y[i], 1}
	}
}

// gammaGradients fills gh with the gradient 1 - y·exp(-f) and hessian
// y·exp(-f) of the gamma deviance with a log link at margin f (the negative
// log-likelihood y·exp(-f) + f up to terms free of f, as LightGBM's and
// XGBoost's gamma objectives). Labels are > 0 (checked).
func gammaGradients(gh []gradPair, score, y []float64) {
	score, y = score[:len(gh)], y[:len(gh)]
	for i := range gh {
		r := y[i] * math.Exp(-score[i])
		h := r
		if h < 1e-16 {
			h = 1e-16
		}
		gh[i] = gradPair{1 - r, h}
	}
}

// evalMetric computes a metric from labels and margins.
// AUC's inputs were checked (labels 0/1, both classes, no NaN margins from
// finite data), so sc ranks them directly.
func evalMetric(sc *aucScratch, threads int, metric string, obj gbdt.Objective, y, margin []float64) float64 {
	switch metric {
	case MetricAUC:
		return sc.aucRadix(y, margin, threads)
	case MetricLogLoss:
		var s float64
		for i, m := range margin {
			s += logLossOne(y[i], sigmoid(m))
		}
		return s / float64(len(y))
	case MetricRMSELog:
		// Gamma only: the margin is the log of the prediction; labels are > 0.
		var s float64
		for i, m := range margin {
			d := m - math.Log(y[i])
			s += d * d
		}
		return math.Sqrt(s / float64(len(y)))
	default:
		var s float64
		for i, m := range margin {
			pred := m
			switch obj {
			case gbdt.Binary:
				pred = sigmoid(m)
			case gbdt.Gamma:
				pred = math.Exp(m)
			}
			d := pred - y[i]
			s += d * d
		}
		return s / float64(len(y))
	}
}

func sigmoid(m float64) float64 { return 1 / (1 + math.Exp(-m)) }

// Importance returns the number of splits on each feature of m and the sum of
// their gains.
func Importance(m *gbdt.Model) (splits []int, gains []float64) {
	splits = make([]int, m.NumFeatures())
	gains = make([]float64, m.NumFeatures())
	for _, t := range m.Trees {
		for _, nd := range t.Nodes {
			if !nd.Leaf && nd.Feature >= 0 && nd.Feature < len(splits) {
				splits[nd.Feature]++
				gains[nd.Feature] += nd.Gain
			}
		}
	}
	return splits, gains
}
