package gbdt

import "fmt"

// Limits bounds what a parser accepts. Every bound is checked before the memory
// it guards is allocated, so a hostile count in a file header cannot cause a huge
// allocation. A zero field means "use the default" (see DefaultLimits).
type Limits struct {
	// MaxBytes is the largest model file accepted. Default 64 MiB.
	MaxBytes int64
	// MaxTrees is the largest number of trees. Default 10,000.
	MaxTrees int
	// MaxNodesPerTree bounds the nodes (internal + leaves) of one tree.
	// Default 262,143 (LightGBM's largest num_leaves is 131,072).
	MaxNodesPerTree int
	// MaxTotalNodes bounds the nodes of the whole model. Default 8,388,608.
	MaxTotalNodes int
	// MaxDepth bounds the depth of a tree (a single leaf has depth 0). Default 64.
	MaxDepth int
	// MaxFeatures bounds the number of input features. Default 10,000.
	MaxFeatures int
	// MaxCategoryWordsPerTree bounds the category bitset words of one tree's
	// categorical splits, counted per split: a split whose categories span w
	// 32-bit words counts w even when other splits name the same
	// cat_threshold range (parsers share such ranges in memory, but Compile,
	// CompileExplainer and WriteLightGBM hold one copy per split). Default
	// 65,536 words (256 KiB). LightGBM's max_cat_threshold defaults to 32
	// categories per split, and a feature with categories below 4,096 needs at
	// most 128 words, so a 255-leaf tree of such splits needs under 33,000.
	MaxCategoryWordsPerTree int
	// MaxCategoryWords bounds the category bitset words of the whole model,
	// counted the same way. Default 2,097,152 words (8 MiB).
	MaxCategoryWords int
}

// DefaultLimits returns the bounds used when a Limits field is zero.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:        64 << 20,
		MaxTrees:        10_000,
		MaxNodesPerTree: 1<<18 - 1,
		MaxTotalNodes:   1 << 23,
		MaxDepth:        64,
		MaxFeatures:     10_000,

		MaxCategoryWordsPerTree: 1 << 16,
		MaxCategoryWords:        1 << 21,
	}
}

// withDefaults returns l with every zero or negative field replaced by its default.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxTrees <= 0 {
		l.MaxTrees = d.MaxTrees
	}
	if l.MaxNodesPerTree <= 0 {
		l.MaxNodesPerTree = d.MaxNodesPerTree
	}
	if l.MaxTotalNodes <= 0 {
		l.MaxTotalNodes = d.MaxTotalNodes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxFeatures <= 0 {
		l.MaxFeatures = d.MaxFeatures
	}
	if l.MaxCategoryWordsPerTree <= 0 {
		l.MaxCategoryWordsPerTree = d.MaxCategoryWordsPerTree
	}
	if l.MaxCategoryWords <= 0 {
		l.MaxCategoryWords = d.MaxCategoryWords
	}
	return l
}

// nodeBudget tracks the total node count and category words of a model while
// it is parsed.
type nodeBudget struct {
	lim      Limits
	total    int
	catWords int
}

func (b *nodeBudget) take(tree, n int) error {
	if n > b.lim.MaxNodesPerTree {
		return limitf("tree %d has %d nodes, limit %d", tree, n, b.lim.MaxNodesPerTree)
	}
	b.total += n
	if b.total > b.lim.MaxTotalNodes {
		return limitf("model has more than %d nodes in total (at tree %d)", b.lim.MaxTotalNodes, tree)
	}
	return nil
}

// takeCategories counts the category words of tree's splits (words over splits
// categorical splits, each split counted with its own range) against the per-tree
// and per-model bounds. Callers check before building the splits.
func (b *nodeBudget) takeCategories(tree, splits, words int) error {
	if words > b.lim.MaxCategoryWordsPerTree {
		return fmt.Errorf("%w: tree %d has %d categorical splits holding %d category words in all, limit %d per tree",
			ErrCategoryWords, tree, splits, words, b.lim.MaxCategoryWordsPerTree)
	}
	b.catWords += words
	if b.catWords > b.lim.MaxCategoryWords {
		return fmt.Errorf("%w: model holds %d category words in its categorical splits by tree %d, limit %d per model",
			ErrCategoryWords, b.catWords, tree, b.lim.MaxCategoryWords)
	}
	return nil
}
