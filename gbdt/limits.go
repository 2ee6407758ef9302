package gbdt

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
	return l
}

// nodeBudget tracks the total node count of a model while it is parsed.
type nodeBudget struct {
	lim   Limits
	total int
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
