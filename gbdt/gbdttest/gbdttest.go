// Package gbdttest builds hostile model files for the tests of every surface that
// reads models (gbdt's parsers and fuzz seeds, the CLI, the registry API, the
// console upload), so each surface is tested against the same bytes without
// committing large files.
//
//	data := gbdttest.CategoricalBomb(gbdttest.BombSplits, gbdttest.BombWords)
//	_, err := gbdt.Parse(data, gbdt.Limits{}) // errors.Is(err, gbdt.ErrLimit)
package gbdttest

import (
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The size of the categorical bomb used by the regression tests: about 200 KB of
// text that expands to BombSplits × BombWords = 250 million bitset words (1 GB)
// when every split gets its own copy of the shared range.
const (
	BombSplits = 5_000
	BombWords  = 50_000
)

// What every surface's regression test allows for refusing the bomb: well above
// the few megabytes a bounded parser needs, far below the gigabytes an
// expanding one takes.
const (
	BombMaxAlloc = 50 << 20
	BombMaxTime  = time.Second
)

// CategoricalBomb returns a LightGBM text model of one balanced tree with splits
// internal nodes, every one a categorical split on the first feature pointing at
// the same cat_threshold range of words 32-bit words. Apart from its size the
// model is well formed (depth about log2(splits), valid children, one range), so
// only a bound on category words refuses it. features names the model's columns
// (default one column, "f0").
func CategoricalBomb(splits, words int, features ...string) []byte {
	if len(features) == 0 {
		features = []string{"f0"}
	}
	splits = max(splits, 1)
	words = max(words, 1)
	var b strings.Builder
	b.Grow(splits*24 + words*2 + 512)
	b.WriteString("tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n")
	b.WriteString("max_feature_idx=" + strconv.Itoa(len(features)-1) + "\n")
	b.WriteString("objective=binary sigmoid:1\n")
	b.WriteString("feature_names=" + strings.Join(features, " ") + "\n")
	b.WriteString("tree_sizes=0\n\nTree=0\n")
	b.WriteString("num_leaves=" + strconv.Itoa(splits+1) + "\nnum_cat=1\n")
	list := func(key string, n int, item func(i int) string) {
		b.WriteString(key)
		b.WriteByte('=')
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(item(i))
		}
		b.WriteByte('\n')
	}
	zero := func(int) string { return "0" }
	// Heap layout: node i has children 2i+1 and 2i+2; positions from splits on
	// are the leaves, written as ~(position - splits).
	child := func(c int) string {
		if c < splits {
			return strconv.Itoa(c)
		}
		return strconv.Itoa(^(c - splits))
	}
	list("split_feature", splits, zero)
	list("threshold", splits, zero)
	list("decision_type", splits, func(int) string { return "1" })
	list("left_child", splits, func(i int) string { return child(2*i + 1) })
	list("right_child", splits, func(i int) string { return child(2*i + 2) })
	list("leaf_value", splits+1, zero)
	b.WriteString("cat_boundaries=0 " + strconv.Itoa(words) + "\n")
	list("cat_threshold", words, func(int) string { return "1" })
	b.WriteString("shrinkage=1\n\nend of trees\n")
	return []byte(b.String())
}

// HugeCatBoundaries returns a LightGBM text model of about 300 bytes whose last
// cat_boundaries entry claims n cat_threshold words while the file holds one.
func HugeCatBoundaries(n int64) []byte {
	return []byte("tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n" +
		"max_feature_idx=0\nobjective=binary sigmoid:1\nfeature_names=f0\ntree_sizes=0\n\n" +
		"Tree=0\nnum_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=0\ndecision_type=1\n" +
		"left_child=-1\nright_child=-2\nleaf_value=0 0\n" +
		"cat_boundaries=0 " + strconv.FormatInt(n, 10) + "\ncat_threshold=1\nshrinkage=1\n\nend of trees\n")
}

// Cost runs f and returns the bytes the process allocated meanwhile (the
// change in runtime.MemStats.TotalAlloc, which counts every allocation however
// short-lived, unlike the resident size) and the wall time f took.
func Cost(f func()) (allocated uint64, elapsed time.Duration) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	elapsed = time.Since(start)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, elapsed
}
