package gbdt

import (
	"bytes"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt/gbdttest"
)

// TestLightGBMTextSize checks the predicted size against the written text, and
// each tree_sizes entry against the block it names (LightGBM seeks to trees by
// these sizes), on the fixtures and on a model with shared category ranges.
func TestLightGBMTextSize(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(lgbDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(xgbDir, "binary_dart.json"), filepath.Join(xgbDir, "reg_squarederror.json"))
	models := map[string]*Model{"shared categories": mustParse(t, gbdttest.CategoricalBomb(300, 20))}
	for _, f := range files {
		if m, err := Parse(readFile(t, f), Limits{}); err == nil {
			models[filepath.Base(f)] = m
		}
	}
	if len(models) < 5 {
		t.Fatalf("only %d models to check", len(models))
	}
	for name, m := range models {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := m.WriteLightGBM(&buf); err != nil {
				t.Fatal(err)
			}
			size, err := m.LightGBMTextSize()
			if err != nil {
				t.Fatal(err)
			}
			if size != int64(buf.Len()) {
				t.Fatalf("predicted %d bytes, wrote %d", size, buf.Len())
			}
			text := buf.String()
			_, rest, _ := strings.Cut(text, "\ntree_sizes=")
			line, _, _ := strings.Cut(rest, "\n")
			start := strings.Index(text, "\nTree=0\n") + 1
			end := strings.Index(text, "\nend of trees\n") + 1
			for i, f := range strings.Fields(line) {
				n, err := strconv.Atoi(f)
				if err != nil || start+n > end {
					t.Fatalf("tree_sizes entry %d is %q, %d bytes of trees left", i, f, end-start)
				}
				if want := "Tree=" + strconv.Itoa(i) + "\n"; !strings.HasPrefix(text[start:], want) {
					t.Fatalf("tree %d block does not start at the offset tree_sizes gives", i)
				}
				start += n
			}
			if start != end {
				t.Fatalf("tree_sizes add up to %d bytes short of \"end of trees\"", end-start)
			}
		})
	}
}

// TestWriteLightGBMTextBound: a model whose canonical text would exceed what
// Parse reads back is refused before anything is written. Its splits share one
// bitset (cheap in memory) that the text must repeat per split.
func TestWriteLightGBMTextBound(t *testing.T) {
	const words = 1 << 20
	shared := make([]uint32, words)
	for i := range shared {
		shared[i] = 1 << 31 // "2147483648": 11 bytes a word with its separator
	}
	// 7 splits × 1 Mi words: about 77 MB of cat_threshold, counted exactly.
	m := sharedCategoryModel(7, shared)
	var buf bytes.Buffer
	var err error
	alloc, elapsed := gbdttest.Cost(func() { err = m.WriteLightGBM(&buf) })
	if !errors.Is(err, ErrTextSize) || !errors.Is(err, ErrLimit) {
		t.Fatalf("error %v, want ErrTextSize", err)
	}
	for _, says := range []string{"would be 89831072 bytes", "1 trees", "7340032 category words", "limit 67108864"} {
		if !strings.Contains(err.Error(), says) {
			t.Errorf("error %q does not say %q", err, says)
		}
	}
	t.Logf("refused in %v after allocating %d bytes: %v", elapsed, alloc, err)
	if alloc > 16<<20 {
		t.Errorf("allocated %d bytes predicting the size", alloc)
	}
	// 70 splits × 1 Mi words take at least 140 MiB at two bytes a word: refused
	// before any rendering.
	m = sharedCategoryModel(70, shared)
	if err := m.WriteLightGBM(&buf); !errors.Is(err, ErrTextSize) || !strings.Contains(err.Error(), "more than 146800640 bytes") {
		t.Errorf("error %v, want ErrTextSize from the lower bound", err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written before the refusals", buf.Len())
	}
	// Within the bound the same kind of model is written in full.
	m = sharedCategoryModel(3, shared)
	if err := m.WriteLightGBM(&buf); err != nil {
		t.Fatal(err)
	}
	if size, _ := m.LightGBMTextSize(); size != int64(buf.Len()) {
		t.Fatalf("predicted %d bytes, wrote %d", size, buf.Len())
	}
}

// sharedCategoryModel is one balanced tree of splits categorical splits that
// all hold the same bitset.
func sharedCategoryModel(splits int, cats []uint32) *Model {
	nodes := make([]Node, 2*splits+1)
	for i := range splits {
		// Heap layout: node i has children 2i+1 and 2i+2; the last splits+1 are leaves.
		nodes[i] = Node{Categorical: true, Categories: cats, Left: 2*i + 1, Right: 2*i + 2}
	}
	for i := splits; i < len(nodes); i++ {
		nodes[i] = Node{Leaf: true}
	}
	return &Model{Objective: Binary, Sigmoid: 1, FeatureNames: []string{"f0"}, Trees: []Tree{{Nodes: nodes}}}
}
