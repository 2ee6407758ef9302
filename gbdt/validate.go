package gbdt

import (
	"math"
	"strings"
)

// Validate checks the invariants every consumer of a Model relies on:
//   - the objective is Binary (with Sigmoid > 0), Regression or Gamma, BaseScore is finite;
//   - there is at least one feature, names are non-empty, unique and free of
//     whitespace and '=' (they become LightGBM's feature_names line);
//   - Monotone is empty or has one entry in {-1, 0, +1} per feature;
//   - every tree is non-empty and is a proper binary tree rooted at Nodes[0]:
//     each node except the root is the child of exactly one node, every node is
//     reachable, children indices are in range;
//   - splits name an existing feature, numerical thresholds are finite,
//     categorical splits have a non-empty bitset, missing types are known;
//   - leaf values are finite; Cover, Count and Weight are not negative or NaN.
//
// Parsers return only models that pass Validate; the trainer should call it
// before handing a model on.
func (m *Model) Validate() error {
	switch m.Objective {
	case Binary:
		if !(m.Sigmoid > 0) || math.IsInf(m.Sigmoid, 0) {
			return invalidf("binary objective needs a positive finite sigmoid, got %v", m.Sigmoid)
		}
	case Regression, Gamma:
	default:
		return invalidf("objective %q (want %q, %q or %q)", m.Objective, Binary, Regression, Gamma)
	}
	if math.IsNaN(m.BaseScore) || math.IsInf(m.BaseScore, 0) {
		return invalidf("base score %v is not finite", m.BaseScore)
	}
	if len(m.FeatureNames) == 0 {
		return invalidf("model has no features")
	}
	seen := make(map[string]int, len(m.FeatureNames))
	for i, name := range m.FeatureNames {
		if name == "" {
			return invalidf("feature %d has an empty name", i)
		}
		if strings.ContainsAny(name, " \t\r\n=") {
			return invalidf("feature %d name %q contains whitespace or '='", i, name)
		}
		if j, dup := seen[name]; dup {
			return invalidf("features %d and %d share the name %q", j, i, name)
		}
		seen[name] = i
	}
	if len(m.Monotone) != 0 && len(m.Monotone) != len(m.FeatureNames) {
		return invalidf("monotone has %d entries for %d features", len(m.Monotone), len(m.FeatureNames))
	}
	for i, c := range m.Monotone {
		if c < -1 || c > 1 {
			return invalidf("monotone constraint %d of feature %d (want -1, 0 or 1)", c, i)
		}
	}
	for ti := range m.Trees {
		if err := m.validateTree(ti); err != nil {
			return err
		}
	}
	return nil
}

func (m *Model) validateTree(ti int) error {
	nodes := m.Trees[ti].Nodes
	if len(nodes) == 0 {
		return invalidf("tree %d has no nodes", ti)
	}
	parents := make([]int32, len(nodes))
	for i := range parents {
		parents[i] = -1
	}
	nf := len(m.FeatureNames)
	for i := range nodes {
		n := &nodes[i]
		for _, v := range [...]float64{n.Cover, n.Count, n.Weight} {
			if math.IsNaN(v) || v < 0 {
				return invalidf("tree %d node %d has a negative or NaN cover, count or weight", ti, i)
			}
		}
		if n.Leaf {
			if math.IsNaN(n.Value) || math.IsInf(n.Value, 0) {
				return invalidf("tree %d leaf %d has value %v", ti, i, n.Value)
			}
			continue
		}
		if n.Feature < 0 || n.Feature >= nf {
			return invalidf("tree %d node %d splits on feature %d of %d", ti, i, n.Feature, nf)
		}
		if n.Categorical {
			if len(n.Categories) == 0 {
				return invalidf("tree %d node %d is a categorical split with no categories", ti, i)
			}
		} else {
			if math.IsNaN(n.Threshold) || math.IsInf(n.Threshold, 0) {
				return invalidf("tree %d node %d has threshold %v", ti, i, n.Threshold)
			}
			if n.Missing > MissingNaN {
				return invalidf("tree %d node %d has missing type %d", ti, i, n.Missing)
			}
		}
		for _, c := range [2]int{n.Left, n.Right} {
			if c <= 0 || c >= len(nodes) {
				return invalidf("tree %d node %d has child %d out of range 1..%d", ti, i, c, len(nodes)-1)
			}
			if parents[c] >= 0 {
				return invalidf("tree %d node %d is a child of both node %d and node %d", ti, c, parents[c], i)
			}
			parents[c] = int32(i)
		}
	}
	// Every non-root node has exactly one parent, so the structure is a tree
	// exactly when all nodes are reachable from the root (no cycles apart from it).
	reached := 0
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		reached++
		if reached > len(nodes) {
			break
		}
		if !nodes[i].Leaf {
			stack = append(stack, nodes[i].Left, nodes[i].Right)
		}
	}
	if reached != len(nodes) {
		return invalidf("tree %d: %d of %d nodes are reachable from the root", ti, reached, len(nodes))
	}
	return nil
}

// Depth returns the largest depth of any tree (a single leaf has depth 0).
// It assumes a model that passes Validate.
func (m *Model) Depth() int {
	best := 0
	for ti := range m.Trees {
		if d := treeDepth(m.Trees[ti].Nodes); d > best {
			best = d
		}
	}
	return best
}

// NumLeaves returns the number of leaves over all trees.
func (m *Model) NumLeaves() int {
	n := 0
	for ti := range m.Trees {
		for i := range m.Trees[ti].Nodes {
			if m.Trees[ti].Nodes[i].Leaf {
				n++
			}
		}
	}
	return n
}

func treeDepth(nodes []Node) int {
	if len(nodes) == 0 {
		return 0
	}
	type item struct{ node, depth int }
	best := 0
	stack := []item{{0, 0}}
	for steps := 0; len(stack) > 0 && steps <= len(nodes); steps++ {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		best = max(best, it.depth)
		n := &nodes[it.node]
		if !n.Leaf && n.Left > 0 && n.Left < len(nodes) && n.Right > 0 && n.Right < len(nodes) {
			stack = append(stack, item{n.Left, it.depth + 1}, item{n.Right, it.depth + 1})
		}
	}
	return best
}
