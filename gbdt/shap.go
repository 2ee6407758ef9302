package gbdt

import (
	"fmt"
	"math"
)

// Contributions computes exact path-dependent TreeSHAP values (Lundberg, Erion
// and Lee 2018, "Consistent individualized feature attribution for tree
// ensembles", Algorithm 2) of one row on the margin scale. It writes one value
// per feature into out (len(out) must be NumFeatures()) and returns the
// expected value: BaseScore plus, for every tree, the mean of its leaf values
// weighted by Cover. Local accuracy holds: sum(out) + expected == Margin(row),
// up to float64 rounding.
//
// Node.Cover says how training data split at each node; every internal node
// needs a positive Cover. Missing values follow the same rules as Margin.
func (m *Model) Contributions(row []float64, out []float64) (float64, error) {
	nf := len(m.FeatureNames)
	if len(row) != nf {
		return 0, rowLengthError(len(row), nf)
	}
	if len(out) != nf {
		return 0, fmt.Errorf("%w: contributions buffer has %d values, model has %d features", ErrRowLength, len(out), nf)
	}
	for i := range out {
		out[i] = 0
	}
	// First pass: check each tree's structure (children in range, no cycles,
	// positive covers, features in range) and find the deepest tree, without
	// allocating; the recursion below then needs no checks.
	depth := 0
	for ti := range m.Trees {
		nodes := m.Trees[ti].Nodes
		if len(nodes) == 0 {
			return 0, invalidf("tree %d has no nodes", ti)
		}
		visits := 0
		d, err := shapCheck(nodes, 0, &visits, nf)
		if err != nil {
			return 0, fmt.Errorf("tree %d: %w", ti, err)
		}
		depth = max(depth, d)
	}
	// One path of up to depth+2 elements per recursion level, as in the paper.
	s := shapState{
		row:   row,
		phi:   out,
		paths: make([]pathElem, (depth+2)*(depth+3)/2),
	}
	expected := m.BaseScore
	for ti := range m.Trees {
		s.nodes = m.Trees[ti].Nodes
		expected += s.meanValue(0)
		s.recurse(0, s.paths, 0, 1, 1, -1)
	}
	return expected, nil
}

// shapCheck returns the depth of the subtree at node i, or an error when a
// child is out of range, a node is reached twice (so the nodes do not form a
// tree; this also stops cycles), a feature is out of range or an internal node
// has no positive Cover. visits counts the nodes reached so far.
func shapCheck(nodes []Node, i int, visits *int, nf int) (int, error) {
	*visits++
	if *visits > len(nodes) {
		return 0, invalidf("a node is reached twice: the nodes do not form a tree")
	}
	n := &nodes[i]
	if n.Leaf {
		return 0, nil
	}
	if n.Left <= 0 || n.Left >= len(nodes) || n.Right <= 0 || n.Right >= len(nodes) {
		return 0, invalidf("node %d has children %d, %d out of range", i, n.Left, n.Right)
	}
	if n.Feature < 0 || n.Feature >= nf {
		return 0, invalidf("node %d splits on feature %d of %d", i, n.Feature, nf)
	}
	if !(n.Cover > 0) || math.IsInf(n.Cover, 0) {
		return 0, invalidf("node %d has cover %v; TreeSHAP needs positive covers on internal nodes", i, n.Cover)
	}
	dl, err := shapCheck(nodes, n.Left, visits, nf)
	if err != nil {
		return 0, err
	}
	dr, err := shapCheck(nodes, n.Right, visits, nf)
	if err != nil {
		return 0, err
	}
	return 1 + max(dl, dr), nil
}

// pathElem is one feature on the unique path from the root: the fraction of
// "zero" paths (feature unknown: cover-weighted) and "one" paths (feature known:
// the row's own direction) that flow through, and the permutation weight.
type pathElem struct {
	feature   int
	zero, one float64
	weight    float64
}

type shapState struct {
	nodes []Node
	row   []float64
	phi   []float64
	paths []pathElem
}

// meanValue is the cover-weighted mean leaf value under node i.
func (s *shapState) meanValue(i int) float64 {
	n := &s.nodes[i]
	if n.Leaf {
		return n.Value
	}
	l, r := &s.nodes[n.Left], &s.nodes[n.Right]
	return (s.meanValue(n.Left)*l.Cover + s.meanValue(n.Right)*r.Cover) / n.Cover
}

// recurse is RECURSE of Algorithm 2. parent holds the unique path of the
// caller (depth+1 used elements, of which depth are real features: element 0
// is the root placeholder); this level's path is stored right after it.
func (s *shapState) recurse(i int, parent []pathElem, depth int, pz, po float64, pf int) {
	path := parent[depth+1:]
	copy(path, parent[:depth+1])
	extendPath(path, depth, pz, po, pf)
	n := &s.nodes[i]
	if n.Leaf {
		for k := 1; k <= depth; k++ {
			w := unwoundSum(path, depth, k)
			e := &path[k]
			s.phi[e.feature] += w * (e.one - e.zero) * n.Value
		}
		return
	}
	hot, cold := n.Right, n.Left
	if goesLeft(n, s.row[n.Feature]) {
		hot, cold = n.Left, n.Right
	}
	iz, io := 1.0, 1.0
	for k := 1; k <= depth; k++ {
		if path[k].feature == n.Feature {
			iz, io = path[k].zero, path[k].one
			unwindPath(path, depth, k)
			depth--
			break
		}
	}
	s.recurse(hot, path, depth+1, iz*s.nodes[hot].Cover/n.Cover, io, n.Feature)
	s.recurse(cold, path, depth+1, iz*s.nodes[cold].Cover/n.Cover, 0, n.Feature)
}

// extendPath is EXTEND: it appends feature f with fractions pz, po to a path of
// depth used elements (indices 0..depth-1) and updates the permutation weights.
func extendPath(p []pathElem, depth int, pz, po float64, f int) {
	w := 0.0
	if depth == 0 {
		w = 1
	}
	p[depth] = pathElem{feature: f, zero: pz, one: po, weight: w}
	d1 := float64(depth + 1)
	for k := depth - 1; k >= 0; k-- {
		p[k+1].weight += po * p[k].weight * float64(k+1) / d1
		p[k].weight = pz * p[k].weight * float64(depth-k) / d1
	}
}

// unwindPath is UNWIND: it removes element k from a path whose last element is
// at index depth, undoing its effect on the weights.
func unwindPath(p []pathElem, depth, k int) {
	one, zero := p[k].one, p[k].zero
	next := p[depth].weight
	d1 := float64(depth + 1)
	for j := depth - 1; j >= 0; j-- {
		if one != 0 {
			tmp := p[j].weight
			p[j].weight = next * d1 / (float64(j+1) * one)
			next = tmp - p[j].weight*zero*float64(depth-j)/d1
		} else {
			p[j].weight = p[j].weight * d1 / (zero * float64(depth-j))
		}
	}
	for j := k; j < depth; j++ {
		p[j].feature, p[j].zero, p[j].one = p[j+1].feature, p[j+1].zero, p[j+1].one
	}
}

// unwoundSum is the total permutation weight the path would have with element
// k unwound, without modifying it.
func unwoundSum(p []pathElem, depth, k int) float64 {
	one, zero := p[k].one, p[k].zero
	next := p[depth].weight
	d1 := float64(depth + 1)
	total := 0.0
	for j := depth - 1; j >= 0; j-- {
		switch {
		case one != 0:
			tmp := next * d1 / (float64(j+1) * one)
			total += tmp
			next = p[j].weight - tmp*zero*float64(depth-j)/d1
		case zero != 0:
			total += p[j].weight / zero * d1 / float64(depth-j)
		}
	}
	return total
}
