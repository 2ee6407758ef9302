package gbdt

import (
	"testing"
)

// shapBenchModels are the models TreeSHAP is timed on: LightGBM's
// breast-cancer model, the synthetic 300-tree depth-6 model and, when
// make_bench_model.py has been run, the XGBoost GMSC model of 300 depth-6 trees.
func shapBenchModels(b *testing.B) []benchModel {
	models := benchModels(b)
	b.Run("gmsc-load", func(b *testing.B) {
		g := loadGMSCBench(b)
		models = append(models, benchModel{"gmsc-300trees-depth6", g.m, g.rows[:1000*g.meta.Features]})
		b.SkipNow()
	})
	return models
}

// BenchmarkSHAP times TreeSHAP of one row at a time, single thread, cycling
// through the benchmark rows: Model.Contributions (checks the trees on every
// call, no precomputation) and a compiled Explainer.
func BenchmarkSHAP(b *testing.B) {
	for _, bm := range shapBenchModels(b) {
		nf := bm.m.NumFeatures()
		nrows := len(bm.rows) / nf
		out := make([]float64, nf)
		b.Run(bm.name+"/model", func(b *testing.B) {
			b.ReportAllocs()
			r := 0
			cpu0 := cpuTime(b)
			for b.Loop() {
				if _, err := bm.m.Contributions(bm.rows[r*nf:(r+1)*nf], out); err != nil {
					b.Fatal(err)
				}
				r = (r + 1) % nrows
			}
			perRow(b, 1, cpu0)
		})
		b.Run(bm.name+"/explainer", func(b *testing.B) {
			e, err := bm.m.CompileExplainer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			r := 0
			cpu0 := cpuTime(b)
			for b.Loop() {
				if _, err := e.Contributions(bm.rows[r*nf:(r+1)*nf], out); err != nil {
					b.Fatal(err)
				}
				r = (r + 1) % nrows
			}
			perRow(b, 1, cpu0)
		})
	}
}

// BenchmarkSHAPCompile times CompileExplainer, paid once per model version.
func BenchmarkSHAPCompile(b *testing.B) {
	for _, bm := range shapBenchModels(b) {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bm.m.CompileExplainer(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
