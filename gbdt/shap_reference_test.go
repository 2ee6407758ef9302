package gbdt

import "fmt"

// referenceContributions is the plain recursive form of Algorithm 2 of
// Lundberg, Erion and Lee (2018), "Consistent individualized feature
// attribution for tree ensembles": EXTEND, UNWIND and the unwound sum on a
// path copied at every level. It is the oracle the fast TreeSHAP of
// Model.Contributions and Explainer is tested against; it is slow
// (O(T·L·D²) with a copy per node) and kept only for that.
func referenceContributions(m *Model, row, out []float64) (float64, error) {
	nf := len(m.FeatureNames)
	if len(row) != nf || len(out) != nf {
		return 0, fmt.Errorf("%w: reference: row %d, out %d, features %d", ErrRowLength, len(row), len(out), nf)
	}
	for i := range out {
		out[i] = 0
	}
	depth := 0
	for ti := range m.Trees {
		visits := 0
		d, err := shapCheck(m.Trees[ti].Nodes, 0, &visits, nf)
		if err != nil {
			return 0, fmt.Errorf("tree %d: %w", ti, err)
		}
		depth = max(depth, d)
	}
	s := refState{
		row:   row,
		phi:   out,
		paths: make([]refPathElem, (depth+2)*(depth+3)/2),
	}
	expected := m.BaseScore
	for ti := range m.Trees {
		s.nodes = m.Trees[ti].Nodes
		expected += s.meanValue(0)
		s.recurse(0, s.paths, 0, 1, 1, -1)
	}
	return expected, nil
}

// refPathElem is one feature on the unique path from the root: the fraction of
// "zero" paths (feature unknown: cover-weighted) and "one" paths (feature known:
// the row's own direction) that flow through, and the permutation weight.
type refPathElem struct {
	feature   int
	zero, one float64
	weight    float64
}

type refState struct {
	nodes []Node
	row   []float64
	phi   []float64
	paths []refPathElem
}

// meanValue is the cover-weighted mean leaf value under node i.
func (s *refState) meanValue(i int) float64 {
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
func (s *refState) recurse(i int, parent []refPathElem, depth int, pz, po float64, pf int) {
	path := parent[depth+1:]
	copy(path, parent[:depth+1])
	refExtendPath(path, depth, pz, po, pf)
	n := &s.nodes[i]
	if n.Leaf {
		for k := 1; k <= depth; k++ {
			w := refUnwoundSum(path, depth, k)
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
			refUnwindPath(path, depth, k)
			depth--
			break
		}
	}
	s.recurse(hot, path, depth+1, iz*s.nodes[hot].Cover/n.Cover, io, n.Feature)
	s.recurse(cold, path, depth+1, iz*s.nodes[cold].Cover/n.Cover, 0, n.Feature)
}

// refExtendPath is EXTEND: it appends feature f with fractions pz, po to a path of
// depth used elements (indices 0..depth-1) and updates the permutation weights.
func refExtendPath(p []refPathElem, depth int, pz, po float64, f int) {
	w := 0.0
	if depth == 0 {
		w = 1
	}
	p[depth] = refPathElem{feature: f, zero: pz, one: po, weight: w}
	d1 := float64(depth + 1)
	for k := depth - 1; k >= 0; k-- {
		p[k+1].weight += po * p[k].weight * float64(k+1) / d1
		p[k].weight = pz * p[k].weight * float64(depth-k) / d1
	}
}

// refUnwindPath is UNWIND: it removes element k from a path whose last element is
// at index depth, undoing its effect on the weights.
func refUnwindPath(p []refPathElem, depth, k int) {
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

// refUnwoundSum is the total permutation weight the path would have with element
// k unwound, without modifying it.
func refUnwoundSum(p []refPathElem, depth, k int) float64 {
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
