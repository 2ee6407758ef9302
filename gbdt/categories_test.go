package gbdt

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt/gbdttest"
)

// TestCategoricalBomb parses about 200 KB of LightGBM text whose 5,000
// categorical splits all name one range of 50,000 words: copied per split that
// is 1 GB, so it must be refused by the category-word bound, quickly and
// without allocating for the expansion.
func TestCategoricalBomb(t *testing.T) {
	data := gbdttest.CategoricalBomb(gbdttest.BombSplits, gbdttest.BombWords)
	if len(data) > 250_000 {
		t.Fatalf("the bomb is %d bytes; it should stay near 200 KB", len(data))
	}
	var err error
	alloc, elapsed := gbdttest.Cost(func() { _, err = Parse(data, Limits{}) })
	if !errors.Is(err, ErrCategoryWords) || !errors.Is(err, ErrLimit) {
		t.Fatalf("error %v, want ErrCategoryWords (an ErrLimit)", err)
	}
	for _, says := range []string{"tree 0", "5000 categorical splits", "250000000 category words", "limit 65536 per tree"} {
		if !strings.Contains(err.Error(), says) {
			t.Errorf("error %q does not say %q", err, says)
		}
	}
	t.Logf("refused %d bytes in %v after allocating %d bytes: %v", len(data), elapsed, alloc, err)
	if alloc > gbdttest.BombMaxAlloc {
		t.Errorf("allocated %d bytes refusing the bomb, limit %d", alloc, gbdttest.BombMaxAlloc)
	}
	if elapsed > gbdttest.BombMaxTime {
		t.Errorf("took %v refusing the bomb, limit %v", elapsed, gbdttest.BombMaxTime)
	}
}

// TestCategoryWordLimits checks both bounds on a model within and beyond them:
// a split counts its range's words even when other splits share it.
func TestCategoryWordLimits(t *testing.T) {
	simple := readFile(t, filepath.Join(lgbDir, "model_simple.txt")) // 2 trees, 1 split of 4 words each
	shared := gbdttest.CategoricalBomb(100, 10)                      // 1 tree, 100 splits × 10 words
	tests := []struct {
		name string
		data []byte
		lim  Limits
		says string // "" when the model is accepted
	}{
		{"simple within", simple, Limits{MaxCategoryWordsPerTree: 4, MaxCategoryWords: 8}, ""},
		{"simple per tree", simple, Limits{MaxCategoryWordsPerTree: 3}, "tree 0 has 1 categorical splits holding 4 category words in all, limit 3 per tree"},
		{"simple per model", simple, Limits{MaxCategoryWords: 7}, "model holds 8 category words in its categorical splits by tree 1, limit 7 per model"},
		{"shared within", shared, Limits{MaxCategoryWordsPerTree: 1000}, ""},
		{"shared counted per split", shared, Limits{MaxCategoryWordsPerTree: 999}, "100 categorical splits holding 1000 category words"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.data, tc.lim)
			if tc.says == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkParsed(t, m)
				return
			}
			if !errors.Is(err, ErrCategoryWords) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v, want ErrCategoryWords saying %q", err, tc.says)
			}
		})
	}
}

// TestSharedCategoryRanges checks that splits naming one cat_threshold range
// share its words in memory, and that the shared slice cannot be grown into a
// neighbouring range.
func TestSharedCategoryRanges(t *testing.T) {
	m, err := Parse(gbdttest.CategoricalBomb(500, 100), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var first *uint32
	splits := 0
	for _, n := range m.Trees[0].Nodes {
		if n.Leaf {
			continue
		}
		splits++
		if !n.Categorical || len(n.Categories) != 100 || cap(n.Categories) != 100 {
			t.Fatalf("split has %d categories (cap %d), want a categorical split of 100 words", len(n.Categories), cap(n.Categories))
		}
		if first == nil {
			first = &n.Categories[0]
		} else if &n.Categories[0] != first {
			t.Fatal("two splits naming the same range hold different copies")
		}
	}
	if splits != 500 {
		t.Fatalf("%d splits, want 500", splits)
	}
}

// TestHugeCatBoundaries: the last cat_boundaries entry sets how many
// cat_threshold words to read; a count the text cannot hold must be refused
// without reserving memory for it (it once reserved 32 GB for 4e9 and panicked
// on 9e18).
func TestHugeCatBoundaries(t *testing.T) {
	for _, n := range []int64{2, 4_000_000_000, 9_000_000_000_000_000_000} {
		data := gbdttest.HugeCatBoundaries(n)
		var err error
		alloc, _ := gbdttest.Cost(func() { _, err = Parse(data, Limits{}) })
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "cat_threshold has 1 values") {
			t.Fatalf("cat_boundaries end %d: error %v, want ErrCorrupt about cat_threshold", n, err)
		}
		if alloc > 1<<20 {
			t.Errorf("cat_boundaries end %d: allocated %d bytes for a %d-byte file", n, alloc, len(data))
		}
	}
	if _, err := Parse(gbdttest.HugeCatBoundaries(1), Limits{}); err != nil {
		t.Fatalf("the same file with a true count: %v", err)
	}
}

// BenchmarkRefuseCategoricalBomb measures the refusal of the 193 KB bomb
// (before the category-word bound: 8.2 s and 1.0 GB resident to accept it).
func BenchmarkRefuseCategoricalBomb(b *testing.B) {
	data := gbdttest.CategoricalBomb(gbdttest.BombSplits, gbdttest.BombWords)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, Limits{}); !errors.Is(err, ErrCategoryWords) {
			b.Fatalf("error %v, want ErrCategoryWords", err)
		}
	}
}
