package training

import (
	"bufio"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/gbdt"
)

// BenchmarkTrainGMSC trains the benchmark configuration (31 leaves, 100
// rounds, 255 bins, 2 threads) on the GMSC training split, 120,000 rows. It
// reports the test AUC and the process's peak resident memory; bench/training.sh
// runs it beside XGBoost 1.7 hist.
func BenchmarkTrainGMSC(b *testing.B) {
	tr, te := realData(b, "gmsc")
	p := benchParams()
	p.Threads = 2
	var m *gbdt.Model
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for b.Loop() {
		var err error
		if m, _, err = Train(context.Background(), tr, nil, p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	mg, err := Margins(m, te, 2)
	if err != nil {
		b.Fatal(err)
	}
	auc, _ := AUC(te.Label, mg)
	b.ReportMetric(auc, "test-auc")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB") // Linux reports KiB
	}
}

// cpuSeconds is the user plus system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkTrainThreads trains 20 rounds on a synthetic 200,000-row set with 1
// and 2 threads.
func BenchmarkTrainThreads(b *testing.B) {
	d := synthetic(200000, 1)
	for _, th := range []int{1, 2} {
		b.Run(map[int]string{1: "1", 2: "2"}[th], func(b *testing.B) {
			p := DefaultParams()
			p.NumRounds, p.Threads = 20, th
			for b.Loop() {
				if _, _, err := Train(context.Background(), d, nil, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHistogram builds one feature's histogram over half of 1M rows, the
// inner loop of training.
func BenchmarkHistogram(b *testing.B) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(1, 2))
	bd := &binnedData{rows: n, cols: [][]uint8{make([]uint8, n)}, mappers: []binMapper{{upper: make([]float64, 255)}}}
	for i := range bd.cols[0] {
		bd.cols[0][i] = uint8(rng.IntN(256))
	}
	p := DefaultParams()
	gr := newGrower(&p, bd)
	gr.gh = make([]gradPair, n)
	rows := make([]uint32, 0, n/2)
	for i := 0; i < n; i += 2 {
		rows = append(rows, uint32(i))
	}
	for i, r := range rows {
		gr.ordered[i] = gr.gh[r]
	}
	hist := gr.getHist()
	b.SetBytes(int64(len(rows)))
	for b.Loop() {
		gr.buildHist(hist, []int{0}, rows, gr.ordered, false)
	}
}

// BenchmarkAUC ranks 1,000,000 scores, a training set's metric every round.
func BenchmarkAUC(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	y, s := make([]float64, 1000000), make([]float64, 1000000)
	for i := range y {
		s[i] = rng.Float64()
		if rng.Float64() < s[i] {
			y[i] = 1
		}
	}
	for b.Loop() {
		if _, err := AUC(y, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBinning finds bins for and bins a 200,000-row, 4-feature set.
func BenchmarkBinning(b *testing.B) {
	d := synthetic(200000, 5)
	for b.Loop() {
		newBinnedData(d, nil, 255, 200000, 1, 1)
	}
}

// BenchmarkTrainCSV trains the benchmark configuration on the CSV file named
// by XINYI_TRAIN_BENCH_CSV (header, target "y", empty = missing; see
// bench/xgb_peer.py --make-synthetic), split 80/20 like the shared data sets.
// bench/training.sh runs it on a 1,000,000-row synthetic file beside XGBoost.
func BenchmarkTrainCSV(b *testing.B) {
	path := os.Getenv("XINYI_TRAIN_BENCH_CSV")
	if path == "" {
		b.Skip("XINYI_TRAIN_BENCH_CSV not set")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	tab, err := datasets.ReadDelimited(bufio.NewReaderSize(f, 1<<20), "csv", datasets.Format{Header: true, Target: "y", BinaryTarget: true})
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	d, err := FromArrow(tab.Record, tab.Features, tab.Target)
	tab.Release()
	if err != nil {
		b.Fatal(err)
	}
	trRows, teRows, err := StratifiedSplit(d.Label, 0.2, 42)
	if err != nil {
		b.Fatal(err)
	}
	tr, te := d.Subset(trRows), d.Subset(teRows)
	d = nil
	runtime.GC()
	p := benchParams()
	p.Threads = 2
	var m *gbdt.Model
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for b.Loop() {
		if m, _, err = Train(context.Background(), tr, nil, p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	mg, err := Margins(m, te, 2)
	if err != nil {
		b.Fatal(err)
	}
	auc, _ := AUC(te.Label, mg)
	b.ReportMetric(auc, "test-auc")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB")
	}
}

// BenchmarkGradients computes binary log-loss gradients for 1M rows on 2 threads.
func BenchmarkGradients(b *testing.B) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(5, 6))
	score, y := make([]float64, n), make([]float64, n)
	for i := range score {
		score[i] = rng.NormFloat64()
		if rng.Float64() < 0.1 {
			y[i] = 1
		}
	}
	p := DefaultParams()
	p.Threads = 2
	gr := &grower{p: &p}
	b.SetBytes(n)
	for b.Loop() {
		gr.gradients(score, y)
	}
}

// BenchmarkTrainSplits trains the benchmark configuration with a validation
// set scored every round on the CSV splits PREFIX.train.csv and
// PREFIX.valid.csv, PREFIX named by XINYI_TRAIN_BENCH_SPLITS (as written by
// `xinyi train --export-csv PREFIX`, the label in the last column; see
// bench/training_universe.sh with KEEP=1), on XINYI_TRAIN_BENCH_THREADS
// goroutines (default 2), with the monotone constraints
// XINYI_TRAIN_BENCH_MONOTONE (comma-separated -1/0/+1 per feature, as
// bench/training_universe.sh writes to monotone.txt; default none). It
// reports the validation AUC of the last round.
func BenchmarkTrainSplits(b *testing.B) {
	prefix := os.Getenv("XINYI_TRAIN_BENCH_SPLITS")
	if prefix == "" {
		b.Skip("XINYI_TRAIN_BENCH_SPLITS not set")
	}
	load := func(split string) *Dataset {
		path := prefix + "." + split + ".csv"
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		br := bufio.NewReaderSize(f, 1<<20)
		head, err := br.Peek(1 << 16)
		if len(head) == 0 {
			b.Fatalf("%s: %v", path, err)
		}
		line := string(head)
		if k := strings.IndexByte(line, '\n'); k >= 0 {
			line = line[:k]
		}
		cols := strings.Split(strings.TrimRight(line, "\r"), ",")
		tab, err := datasets.ReadDelimited(br, split, datasets.Format{Header: true, Target: cols[len(cols)-1], BinaryTarget: true})
		if err != nil {
			b.Fatal(err)
		}
		defer tab.Release()
		d, err := FromArrow(tab.Record, tab.Features, tab.Target)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	tr, va := load("train"), load("valid")
	runtime.GC()
	p := benchParams()
	p.Threads = 2
	if th, err := strconv.Atoi(os.Getenv("XINYI_TRAIN_BENCH_THREADS")); err == nil && th > 0 {
		p.Threads = th
	}
	if mono := os.Getenv("XINYI_TRAIN_BENCH_MONOTONE"); mono != "" {
		for _, v := range strings.Split(mono, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				b.Fatalf("XINYI_TRAIN_BENCH_MONOTONE: %v", err)
			}
			p.Monotone = append(p.Monotone, int8(c))
		}
	}
	p.Progress = func(Round) {} // as the CLI does: the training metric is computed every round
	var res *Result
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for b.Loop() {
		var err error
		if _, res, err = Train(context.Background(), tr, va, p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(res.History[len(res.History)-1].Valid, "valid-auc")
}

// BenchmarkBinColumn bins 1,000,000 heavy-tailed values with a third of them
// zero into 255 bins, the per-value cost of binning a training set.
func BenchmarkBinColumn(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	col := make([]float64, 1000000)
	for i := range col {
		if rng.IntN(3) > 0 {
			col[i] = math.Exp(rng.NormFloat64() * 2)
		}
	}
	m := findBins(slices.Clone(col), 255)
	b.SetBytes(int64(len(col)))
	for b.Loop() {
		binColumn(&m, col)
	}
}

// BenchmarkAUCTraining ranks 1,000,000 margins with 3% positives on 2
// goroutines with reused buffers, as Train does for its per-round training
// metric.
func BenchmarkAUCTraining(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	y, s := make([]float64, 1000000), make([]float64, 1000000)
	for i := range y {
		s[i] = rng.NormFloat64() - 3.5
		if rng.Float64() < 0.03 {
			y[i] = 1
			s[i] += 0.7
		}
	}
	var sc aucScratch
	for b.Loop() {
		sc.aucRadix(y, s, 2)
	}
}
