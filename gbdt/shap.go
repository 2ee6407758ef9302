package gbdt

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// Contributions computes exact path-dependent TreeSHAP values (Lundberg, Erion
// and Lee 2018, "Consistent individualized feature attribution for tree
// ensembles") of one row on the margin scale. It writes one value per feature
// into out (len(out) must be NumFeatures()) and returns the expected value:
// BaseScore plus, for every tree, the mean of its leaf values weighted by
// Cover. Local accuracy holds: sum(out) + expected == Margin(row), up to
// float64 rounding.
//
// Node.Cover says how training data split at each node; every internal node
// needs a positive Cover. Missing values follow the same rules as Margin.
//
// Contributions checks every tree on each call and walks the Nodes directly;
// it allocates nothing in the steady state. To explain many rows of one model,
// CompileExplainer does the checks and the per-tree work once and is faster.
// See shapLeaf for the method.
func (m *Model) Contributions(row []float64, out []float64) (float64, error) {
	nf := len(m.FeatureNames)
	if len(row) != nf {
		return 0, rowLengthError(len(row), nf)
	}
	if len(out) != nf {
		return 0, fmt.Errorf("%w: contributions buffer has %d values, model has %d features", ErrRowLength, len(out), nf)
	}
	// First pass: check each tree's structure (children in range, no cycles,
	// positive covers, features in range) and find the deepest tree, without
	// allocating; the walk below then needs no checks.
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
	for i := range out {
		out[i] = 0
	}
	rules, err := shapRuleFor(depth, nf)
	if err != nil {
		return 0, err
	}
	s := getShapScratch(depth)
	s.rules = rules
	defer shapScratchPool.Put(s)
	w := shapWalker{row: row, phi: out, s: s}
	expected := m.BaseScore
	for ti := range m.Trees {
		w.nodes = m.Trees[ti].Nodes
		expected += w.walk(0, 0, 1)
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

// shapWalker walks one tree of a Model depth-first, keeping the unique
// features of the current path in s.feat[:d] with their cover fraction s.z
// and whether the row follows the path at every split on them, s.on.
type shapWalker struct {
	nodes []Node
	row   []float64
	phi   []float64
	s     *shapScratch
}

// walk visits the subtree at node i whose path has d unique features and
// reaches i with probability frac (the product of the cover fractions of its
// splits); it adds the subtree's contributions to phi and returns its share of
// the tree's cover-weighted mean leaf value.
func (w *shapWalker) walk(i, d int, frac float64) float64 {
	n := &w.nodes[i]
	if n.Leaf {
		shapLeaf(n.Value, w.s.feat[:d], w.s.z[:d], w.s.on[:d], w.phi, w.s)
		return frac * n.Value
	}
	s := w.s
	var left uint8
	if goesLeft(n, w.row[n.Feature]) {
		left = 1
	}
	f := int32(n.Feature)
	slot := d
	for k := range d {
		if s.feat[k] == f {
			slot = k
			break
		}
	}
	if l, r := &w.nodes[n.Left], &w.nodes[n.Right]; l.Leaf && r.Leaf && (d < 8 || (slot < d && d <= 8)) {
		// Two sibling leaves: one quadrature for both (see shapPair4).
		zl, zr := l.Cover/n.Cover, r.Cover/n.Cover
		vh, zh, vc, zc := l.Value, zl, r.Value, zr
		if left == 0 {
			vh, zh, vc, zc = vc, zc, vh, zh
		}
		mean := frac * (zl*l.Value + zr*r.Value)
		if slot == d {
			shapPair(vh, zh, vc, zc, f, s.feat[:d], s.z[:d], s.on[:d], w.phi, s)
			return mean
		}
		// The feature is on the path already: move its slot last.
		last := d - 1
		s.feat[slot], s.feat[last] = s.feat[last], s.feat[slot]
		s.z[slot], s.z[last] = s.z[last], s.z[slot]
		s.on[slot], s.on[last] = s.on[last], s.on[slot]
		if s.on[last] == 0 {
			shapLeaf(vh*zh+vc*zc, s.feat[:d], s.z[:d], s.on[:d], w.phi, s)
		} else {
			shapPair(vh, s.z[last]*zh, vc, s.z[last]*zc, f, s.feat[:last], s.z[:last], s.on[:last], w.phi, s)
		}
		s.feat[slot], s.feat[last] = s.feat[last], s.feat[slot]
		s.z[slot], s.z[last] = s.z[last], s.z[slot]
		s.on[slot], s.on[last] = s.on[last], s.on[slot]
		return mean
	}
	mean := 0.0
	for _, c := range [2]int{n.Left, n.Right} {
		cf := w.nodes[c].Cover / n.Cover
		hot := left
		if c == n.Right {
			hot ^= 1
		}
		if slot < d {
			// The feature is already on the path: the two splits merge into
			// one element, as UNWIND followed by EXTEND does in Algorithm 2.
			z, on := s.z[slot], s.on[slot]
			s.z[slot] = z * cf
			s.on[slot] = on & hot
			mean += w.walk(c, d, frac*cf)
			s.z[slot], s.on[slot] = z, on
		} else {
			s.feat[d], s.z[d], s.on[d] = f, cf, hot
			mean += w.walk(c, d+1, frac*cf)
		}
	}
	return mean
}

// shapLeaf adds the contributions of one leaf of value v to phi. The leaf's
// path has len(feat) unique features; feature j has cover fraction z[j] (the
// product over its splits on the path of child cover / parent cover) and
// on[j] says whether the row takes the path's side at all of them.
//
// With o_j = 1 when on[j] and 0 otherwise, the path-dependent value function
// of the leaf is v·Π_{j∈S} o_j·Π_{j∉S} z_j for a set S of known features. It
// is a product, so its Harsanyi dividend on a set T is v·Π_{j∈T}(o_j − z_j)·
// Π_{j∉T} z_j, and the Shapley value of feature i, the sum over T ∋ i of the
// dividends divided by |T|, is (the form Linear TreeShap, Yu et al. 2022,
// builds on)
//
//	phi_i = v·(o_i − z_i)·∫₀¹ Π_{j≠i} (z_j + (o_j − z_j)·y) dy,
//
// since ∫₀¹ y^(t−1) dy = 1/t. Summed over the leaves this is exactly what
// Algorithm 2 of Lundberg et al. computes.
//
// The integrand is a polynomial of degree d−1, so Gauss–Legendre quadrature
// with ceil(d/2) nodes integrates it exactly; its values are products of
// non-negative factors, so the sum has no cancellation. Splitting the path
// into P (o_j = 1) and the rest (m features, product of fractions Zp) gives
//
//	phi_i = −v·Zp·∫ Π_{j∈P} a_j(y)·(1−y)^(m−1) dy        for i ∉ P (the same for all),
//	phi_i =  v·(1−z_i)·Zp·∫ Π_{j∈P, j≠i} a_j(y)·(1−y)^m dy  for i ∈ P,
//
// with a_j(y) = z_j + (1−z_j)·y. This is O(d²/2) per leaf, as Algorithm 2's
// O(d²), but with multiplications only.
func shapLeaf(v float64, feat []int32, z []float64, on []uint8, phi []float64, s *shapScratch) {
	d := len(feat)
	if d == 0 || v == 0 {
		return
	}
	if d <= 6 {
		shapLeaf3(v, feat, z, on, phi, s)
		return
	}
	if d <= 8 {
		shapLeaf4(v, feat, z, on, phi, s)
		return
	}
	pz, _, zp := s.onPath(feat, z, on)
	if zp == 0 {
		return
	}
	p := len(pz)
	m := d - p
	q := &s.rules[(d+1)/2]
	k := len(q.y)
	if m > 0 {
		// Features off the row's path: one integral for all of them.
		off := 0.0
		wm := q.w[(m-1)*k : m*k]
		for t, y := range q.y {
			g := wm[t]
			for j := range p {
				g *= s.pz[j] + (1-s.pz[j])*y
			}
			off += g
		}
		c := -v * zp * off
		for j := range d {
			if on[j] == 0 {
				phi[feat[j]] += c
			}
		}
	}
	if p == 0 {
		return
	}
	// Features on the row's path: the product leaving one factor out, from
	// prefix products (s.pre) and a running suffix product.
	acc := s.acc[:p]
	for j := range acc {
		acc[j] = 0
	}
	wm := q.w[m*k : (m+1)*k]
	pre := s.pre[:p+1]
	for t, y := range q.y {
		pre[0] = wm[t]
		for j := range p {
			pre[j+1] = pre[j] * (s.pz[j] + (1-s.pz[j])*y)
		}
		suf := 1.0
		for j := p - 1; j >= 0; j-- {
			acc[j] += pre[j] * suf
			suf *= s.pz[j] + (1-s.pz[j])*y
		}
	}
	c := v * zp
	for j := range p {
		phi[s.pf[j]] += c * (1 - s.pz[j]) * acc[j]
	}
}

// onPath splits a leaf's path: the zero fractions pz and features pf of the
// splits the row follows (kept in s), and zp, the product of the zero fractions of
// the others. Branch-free: which features the row follows is data, not a pattern
// the branch predictor can learn.
func (s *shapScratch) onPath(feat []int32, z []float64, on []uint8) (pz []float64, pf []int32, zp float64) {
	d := len(feat)
	pz, pf = s.pz[:d], s.pf[:d]
	zp = 1.0
	p := 0
	for j, o := range on[:d] {
		zj := z[j]
		pz[p] = zj
		pf[p] = feat[j]
		p += int(o)
		if o != 0 {
			zj = 1
		}
		zp *= zj
	}
	return pz[:p], pf[:p], zp
}

// shapLeaf4 is shapLeaf for paths of up to 8 unique features, with the
// 4-node rule (exact for integrands of degree up to 7): the four nodes are
// four independent chains of multiplications kept in registers.
func shapLeaf4(v float64, feat []int32, z []float64, on []uint8, phi []float64, s *shapScratch) {
	pz, pf, zp := s.onPath(feat, z, on)
	if zp == 0 {
		return
	}
	p := len(pz)
	m := len(feat) - p
	q := &s.rules[4]
	y0, y1, y2, y3 := q.y[0], q.y[1], q.y[2], q.y[3]
	if m > 0 {
		w := q.w[(m-1)*4 : m*4 : m*4]
		g0, g1, g2, g3 := w[0], w[1], w[2], w[3]
		for _, a := range pz {
			b := 1 - a
			g0 *= a + b*y0
			g1 *= a + b*y1
			g2 *= a + b*y2
			g3 *= a + b*y3
		}
		c := -v * zp * ((g0 + g1) + (g2 + g3))
		for j, o := range on {
			phi[feat[j]] += c * float64(1-o) // adds 0 for followed features
		}
	}
	if p == 0 {
		return
	}
	w := q.w[m*4 : (m+1)*4 : (m+1)*4]
	p0, p1, p2, p3 := w[0], w[1], w[2], w[3]
	pre := s.pre4[:p]
	for j, a := range pz {
		pre[j] = [4]float64{p0, p1, p2, p3}
		b := 1 - a
		p0 *= a + b*y0
		p1 *= a + b*y1
		p2 *= a + b*y2
		p3 *= a + b*y3
	}
	c := v * zp
	s0, s1, s2, s3 := 1.0, 1.0, 1.0, 1.0
	for j := p - 1; j >= 0; j-- {
		a := pz[j]
		b := 1 - a
		pr := &pre[j]
		phi[pf[j]] += c * b * ((pr[0]*s0 + pr[1]*s1) + (pr[2]*s2 + pr[3]*s3))
		s0 *= a + b*y0
		s1 *= a + b*y1
		s2 *= a + b*y2
		s3 *= a + b*y3
	}
}

// shapLeaf3 is shapLeaf4 with the 3-node rule, for paths of up to 6 unique
// features (integrands of degree up to 5).
func shapLeaf3(v float64, feat []int32, z []float64, on []uint8, phi []float64, s *shapScratch) {
	pz, pf, zp := s.onPath(feat, z, on)
	if zp == 0 {
		return
	}
	p := len(pz)
	m := len(feat) - p
	q := &s.rules[3]
	y0, y1, y2 := q.y[0], q.y[1], q.y[2]
	if m > 0 {
		w := q.w[(m-1)*3 : m*3 : m*3]
		g0, g1, g2 := w[0], w[1], w[2]
		for _, a := range pz {
			b := 1 - a
			g0 *= a + b*y0
			g1 *= a + b*y1
			g2 *= a + b*y2
		}
		c := -v * zp * (g0 + g1 + g2)
		for j, o := range on {
			phi[feat[j]] += c * float64(1-o) // adds 0 for followed features
		}
	}
	if p == 0 {
		return
	}
	w := q.w[m*3 : (m+1)*3 : (m+1)*3]
	p0, p1, p2 := w[0], w[1], w[2]
	pre := s.pre4[:p]
	for j, a := range pz {
		pre[j] = [4]float64{p0, p1, p2, 0}
		b := 1 - a
		p0 *= a + b*y0
		p1 *= a + b*y1
		p2 *= a + b*y2
	}
	c := v * zp
	s0, s1, s2 := 1.0, 1.0, 1.0
	for j := p - 1; j >= 0; j-- {
		a := pz[j]
		b := 1 - a
		pr := &pre[j]
		phi[pf[j]] += c * b * (pr[0]*s0 + pr[1]*s1 + pr[2]*s2)
		s0 *= a + b*y0
		s1 *= a + b*y1
		s2 *= a + b*y2
	}
}

// shapScratch is the working memory of one TreeSHAP call, sized for paths of
// up to len(feat) unique features; pooled so that calls do not allocate.
type shapScratch struct {
	feat []int32      // path features (walk)
	z    []float64    // their cover fractions (walk)
	on   []uint8      // 1 when the row follows them (walk, Explainer)
	pf   []int32      // features of P (shapLeaf)
	pz   []float64    // their fractions (shapLeaf)
	pre  []float64    // prefix products (shapLeaf)
	acc  []float64    // integrals (shapLeaf)
	pre4 [][4]float64 // prefix products at four nodes (shapLeaf4)
	left []uint8      // per split of a tree, 1 when the row goes left (Explainer)
	// rules are the quadrature rules, indexed by node count.
	rules []glRule
}

var shapScratchPool sync.Pool

// getShapScratch returns pooled scratch for paths of up to depth features.
func getShapScratch(depth int) *shapScratch {
	s, _ := shapScratchPool.Get().(*shapScratch)
	if s == nil {
		s = &shapScratch{}
	}
	if len(s.feat) < depth+1 {
		n := depth + 1
		s.feat, s.z, s.on = make([]int32, n), make([]float64, n), make([]uint8, n)
		s.pf, s.pz = make([]int32, n), make([]float64, n)
		s.pre, s.acc = make([]float64, n+1), make([]float64, n)
		s.pre4 = make([][4]float64, n)
	}
	return s
}

// glRule is a Gauss–Legendre rule on [0, 1] with k nodes y; w[m*k+t] is the
// weight of node t times (1−y_t)^m, for m = 0..2k.
type glRule struct {
	y []float64
	w []float64
}

// maxShapRule is the largest quadrature rule: TreeSHAP handles paths of up to
// 2·maxShapRule unique features (trees from files are at most 64 deep).
const maxShapRule = 64

var (
	glRules  atomic.Pointer[[]glRule]
	glRuleMu sync.Mutex
)

// shapRules returns Gauss–Legendre rules up to k nodes, indexed by node count,
// building them on first use.
func shapRules(k int) []glRule {
	if r := glRules.Load(); r != nil && len(*r) > k {
		return *r
	}
	glRuleMu.Lock()
	defer glRuleMu.Unlock()
	if r := glRules.Load(); r != nil && len(*r) > k {
		return *r
	}
	r := makeGaussLegendre(max(k, 8))
	glRules.Store(&r)
	return r
}

// shapRuleFor checks that paths of up to depth splits over nf features fit
// the quadrature rules and returns the rules they need.
func shapRuleFor(depth, nf int) ([]glRule, error) {
	d := min(depth, nf)
	if d > 2*maxShapRule {
		return nil, limitf("TreeSHAP handles paths of up to %d distinct features, a tree has %d", 2*maxShapRule, d)
	}
	return shapRules((d + 1) / 2), nil
}

func makeGaussLegendre(kmax int) []glRule {
	rules := make([]glRule, kmax+1)
	for k := 1; k <= kmax; k++ {
		y, w := legendreNodes(k)
		r := glRule{y: y, w: make([]float64, (2*k+1)*k)}
		for t := range k {
			pw := w[t]
			for m := 0; m <= 2*k; m++ {
				r.w[m*k+t] = pw
				pw *= 1 - y[t]
			}
		}
		rules[k] = r
	}
	return rules
}

// legendreNodes returns the k Gauss–Legendre nodes and weights on [0, 1],
// found by Newton's method on the Legendre polynomial P_k (Golub–Welsch would
// do as well; Newton from Tricomi's initial guesses converges in a few steps
// to full float64 precision).
func legendreNodes(k int) (y, w []float64) {
	y, w = make([]float64, k), make([]float64, k)
	for i := range k {
		x := math.Cos(math.Pi * (float64(i) + 0.75) / (float64(k) + 0.5))
		var dp float64
		for range 100 {
			p0, p1 := 1.0, x // P_{j-1}, P_j at j = 1
			for j := 2; j <= k; j++ {
				p0, p1 = p1, ((2*float64(j)-1)*x*p1-(float64(j)-1)*p0)/float64(j)
			}
			dp = float64(k) * (x*p1 - p0) / (x*x - 1)
			dx := p1 / dp
			x -= dx
			if math.Abs(dx) < 1e-16 {
				break
			}
		}
		// Map [-1, 1] to [0, 1]: node (1+x)/2, weight 2/((1-x²)P'(x)²)/2.
		y[i] = (1 + x) / 2
		w[i] = 1 / ((1 - x*x) * dp * dp)
	}
	return y, w
}
