package gbdt

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
)

// WriteLightGBM writes the model as canonical LightGBM text, version=v3, that
// LightGBM and github.com/dmitryikh/leaves load and that predicts exactly what
// Margin and Predict do (up to float64 rounding of one addition per row):
//
//   - BaseScore is folded into the leaves of the first tree (LightGBM text has no
//     global bias); a model without trees gets one single-leaf tree holding it;
//   - a Binary model with Sigmoid != 1 has its leaf values scaled by Sigmoid and
//     is written as "binary sigmoid:1" (leaves accepts no other sigmoid), so its
//     raw LightGBM score is Sigmoid times Margin and its probability is unchanged;
//   - a Gamma model is written as "objective=gamma", which LightGBM and leaves
//     both turn into exp(raw score);
//   - numbers are written in the shortest form that parses back to the same
//     float64, so thresholds keep their exact value;
//   - leaf_count/internal_count carry Count, leaf_weight/internal_weight carry
//     Weight (or Cover when Weight is zero), so TreeSHAP covers survive a round trip;
//   - every categorical split gets its own cat_threshold range, as LightGBM
//     writes them, even where the model shares one bitset among splits.
//
// The model must pass Validate. The size of the text is predicted exactly
// first (see LightGBMTextSize): a model whose text would be larger than
// DefaultLimits().MaxBytes, which Parse would refuse to read back, is refused
// with ErrTextSize before anything is written. The text is then streamed tree by
// tree, so writing holds no more than one tree's index table in memory.
func (m *Model) WriteLightGBM(w io.Writer) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("write LightGBM: %w", err)
	}
	c := newCanonical(m)
	limit := DefaultLimits().MaxBytes
	// Every category word takes at least two bytes ("0 "): a model far beyond
	// the bound is refused without rendering it even once.
	if words := c.catWords(); 2*words > limit {
		return fmt.Errorf("write LightGBM: %w: would be more than %d bytes (%d trees, %d category words), limit %d",
			ErrTextSize, 2*words, len(c.trees), words, limit)
	}
	size := c.size()
	if size > limit {
		return fmt.Errorf("write LightGBM: %w: would be %d bytes (%d trees, %d category words), limit %d",
			ErrTextSize, size, len(c.trees), c.catWords(), limit)
	}
	bw := bufio.NewWriter(w)
	t := &lgbText{w: bw}
	c.head(t)
	for ti := range c.trees {
		c.tree(t, ti)
	}
	c.tail(t)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write LightGBM: %w", err)
	}
	if t.n != size {
		// The same code renders both passes; a difference is a bug here.
		return fmt.Errorf("write LightGBM: wrote %d bytes, predicted %d", t.n, size)
	}
	return nil
}

// LightGBMTextSize returns the exact number of bytes WriteLightGBM writes for
// m, computed without building the text (no allocation beyond one bitset per
// categorical feature). m must pass Validate.
func (m *Model) LightGBMTextSize() (int64, error) {
	if err := m.Validate(); err != nil {
		return 0, fmt.Errorf("LightGBM text size: %w", err)
	}
	return newCanonical(m).size(), nil
}

// lgbText renders text to w, or only counts its bytes when w is nil; n is the
// number of bytes so far. Both passes of the writer run the same rendering code,
// so the predicted size is the written size.
type lgbText struct {
	w       *bufio.Writer
	n       int64
	scratch [32]byte
}

func (t *lgbText) str(s string) {
	t.n += int64(len(s))
	if t.w != nil {
		t.w.WriteString(s)
	}
}

func (t *lgbText) bytes(b []byte) {
	t.n += int64(len(b))
	if t.w != nil {
		t.w.Write(b)
	}
}

func (t *lgbText) byte(c byte) {
	t.n++
	if t.w != nil {
		t.w.WriteByte(c)
	}
}

func (t *lgbText) int(v int64) {
	if t.w == nil {
		if v < 0 {
			t.n++
			v = -v // -MinInt64 stays negative; no count, index or word is that small
		}
		t.n += int64(decimalDigits(uint64(v)))
		return
	}
	t.bytes(strconv.AppendInt(t.scratch[:0], v, 10))
}

func (t *lgbText) uint(v uint64) {
	if t.w == nil {
		t.n += int64(decimalDigits(v))
		return
	}
	t.bytes(strconv.AppendUint(t.scratch[:0], v, 10))
}

// decimalDigits is the length of v in decimal.
func decimalDigits(v uint64) int {
	d := 1
	for v >= 10 {
		v /= 10
		d++
	}
	return d
}

func (t *lgbText) float(v float64) { t.bytes(strconv.AppendFloat(t.scratch[:0], v, 'g', -1, 64)) }

// lgbCanon is what the writer derives from a model before rendering it.
type lgbCanon struct {
	m         *Model
	trees     []Tree
	scale     float64
	objective string
	infos     []featureInfo
	imps      []featureCount
	sizes     []int64 // byte size of each tree's block, set by size
	idx       []int   // per-node internal or leaf index of the tree being rendered
}

func newCanonical(m *Model) *lgbCanon {
	c := &lgbCanon{m: m, trees: m.Trees, scale: 1, objective: "regression"}
	switch m.Objective {
	case Binary:
		c.scale = m.Sigmoid
		c.objective = "binary sigmoid:1"
	case Gamma:
		// Exactly "gamma": leaves maps only the whole line "gamma" (and "poisson",
		// "tweedie") to exp; LightGBM writes its gamma models so.
		c.objective = "gamma"
	}
	if len(c.trees) == 0 {
		c.trees = []Tree{{Nodes: []Node{{Leaf: true}}}}
	}
	c.infos = featureInfos(m)
	c.imps = splitImportances(m)
	return c
}

// size counts the text, filling c.sizes on the way.
func (c *lgbCanon) size() int64 {
	c.sizes = make([]int64, len(c.trees))
	var total int64
	for ti := range c.trees {
		t := &lgbText{}
		c.tree(t, ti)
		c.sizes[ti] = t.n
		total += t.n
	}
	t := &lgbText{}
	c.head(t)
	c.tail(t)
	return total + t.n
}

// catWords is the number of category words the text holds (one range per split).
func (c *lgbCanon) catWords() int64 {
	var n int64
	for ti := range c.trees {
		for i := range c.trees[ti].Nodes {
			if nd := &c.trees[ti].Nodes[i]; !nd.Leaf && nd.Categorical {
				n += int64(len(nd.Categories))
			}
		}
	}
	return n
}

func (c *lgbCanon) head(t *lgbText) {
	m := c.m
	t.str("tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n")
	t.str("max_feature_idx=")
	t.int(int64(len(m.FeatureNames) - 1))
	t.str("\nobjective=" + c.objective + "\nfeature_names=")
	for i, name := range m.FeatureNames {
		if i > 0 {
			t.byte(' ')
		}
		t.str(name)
	}
	t.byte('\n')
	if hasMonotone(m.Monotone) {
		t.str("monotone_constraints=")
		for i, v := range m.Monotone {
			if i > 0 {
				t.byte(' ')
			}
			t.int(int64(v))
		}
		t.byte('\n')
	}
	t.str("feature_infos=")
	for f := range c.infos {
		if f > 0 {
			t.byte(' ')
		}
		c.infos[f].render(t)
	}
	t.str("\ntree_sizes=")
	for i, s := range c.sizes {
		if i > 0 {
			t.byte(' ')
		}
		t.int(s)
	}
	t.str("\n\n")
}

func (c *lgbCanon) tail(t *lgbText) {
	t.str("end of trees\n\nfeature_importances:\n")
	for _, fi := range c.imps {
		t.str(c.m.FeatureNames[fi.feature])
		t.byte('=')
		t.int(int64(fi.count))
		t.byte('\n')
	}
	obj, _, _ := strings.Cut(c.objective, " ")
	t.str("\nparameters:\n[objective: " + obj + "]\nend of parameters\n\npandas_categorical:null\n")
}

func hasMonotone(c []int8) bool {
	for _, v := range c {
		if v != 0 {
			return true
		}
	}
	return false
}

// tree renders block ti ("Tree=N", the tree as LightGBM's Tree::ToString
// writes it, a blank line) and a separating blank line. Internal nodes are
// numbered in order of appearance in nodes (the root, nodes[0], is internal
// node 0), leaves likewise.
func (c *lgbCanon) tree(t *lgbText, ti int) {
	nodes := c.trees[ti].Nodes
	bias := 0.0
	if ti == 0 {
		bias = c.m.BaseScore
	}
	scale := c.scale
	if cap(c.idx) < len(nodes) {
		c.idx = make([]int, len(nodes))
	}
	idx := c.idx[:len(nodes)]
	ni, nl, numCat := 0, 0, 0
	for i := range nodes {
		switch {
		case nodes[i].Leaf:
			idx[i] = nl
			nl++
		default:
			idx[i] = ni
			ni++
			if nodes[i].Categorical {
				numCat++
			}
		}
	}
	weight := func(n *Node) float64 {
		if n.Weight == 0 {
			return n.Cover
		}
		return n.Weight
	}
	ref := func(ch int) int64 {
		if nodes[ch].Leaf {
			return int64(^idx[ch])
		}
		return int64(idx[ch])
	}
	// line writes "key=v v v\n" over the leaves (leaves) or the internal nodes.
	line := func(key string, leaves bool, value func(n *Node)) {
		t.str(key)
		t.byte('=')
		first := true
		for i := range nodes {
			n := &nodes[i]
			if n.Leaf != leaves {
				continue
			}
			if !first {
				t.byte(' ')
			}
			first = false
			value(n)
		}
		t.byte('\n')
	}
	t.str("Tree=")
	t.int(int64(ti))
	t.str("\nnum_leaves=")
	t.int(int64(nl))
	t.str("\nnum_cat=")
	t.int(int64(numCat))
	t.byte('\n')
	line("split_feature", false, func(n *Node) { t.int(int64(n.Feature)) })
	line("split_gain", false, func(n *Node) { t.float(n.Gain) })
	cat := 0
	line("threshold", false, func(n *Node) {
		if n.Categorical {
			t.int(int64(cat))
			cat++
			return
		}
		t.float(n.Threshold)
	})
	line("decision_type", false, func(n *Node) {
		d := int64(n.Missing) << lgbMissingShift
		if n.Categorical {
			d |= lgbCategoricalBit
		}
		if n.DefaultLeft {
			d |= lgbDefaultLeftBit
		}
		t.int(d)
	})
	line("left_child", false, func(n *Node) { t.int(ref(n.Left)) })
	line("right_child", false, func(n *Node) { t.int(ref(n.Right)) })
	line("leaf_value", true, func(n *Node) { t.float((n.Value + bias) * scale) })
	line("leaf_weight", true, func(n *Node) { t.float(weight(n)) })
	line("leaf_count", true, func(n *Node) { t.float(math.Round(n.Count)) })
	line("internal_value", false, func(n *Node) { t.float((n.Value + bias) * scale) })
	line("internal_weight", false, func(n *Node) { t.float(weight(n)) })
	line("internal_count", false, func(n *Node) { t.float(math.Round(n.Count)) })
	if numCat > 0 {
		t.str("cat_boundaries=0")
		var words int64
		for i := range nodes {
			if n := &nodes[i]; !n.Leaf && n.Categorical {
				words += int64(len(n.Categories))
				t.byte(' ')
				t.int(words)
			}
		}
		t.str("\ncat_threshold=")
		first := true
		for i := range nodes {
			n := &nodes[i]
			if n.Leaf || !n.Categorical {
				continue
			}
			for _, b := range n.Categories {
				if !first {
					t.byte(' ')
				}
				first = false
				t.uint(uint64(b))
			}
		}
		t.byte('\n')
	}
	t.str("is_linear=0\nshrinkage=1\n\n\n")
}

// featureInfo is what LightGBM's feature_infos says of one feature, from what
// the trees show: the union of the categories of its categorical splits, else
// the range of its numerical thresholds, else nothing.
type featureInfo struct {
	cats   []uint32 // union bitset, nil when the feature has no categorical split
	lo, hi float64
	used   bool
}

// render writes the categories separated by ':' in increasing order, or
// "[lo:hi]", or "none".
func (fi *featureInfo) render(t *lgbText) {
	switch {
	case fi.cats != nil:
		first := true
		for w, word := range fi.cats {
			for word != 0 {
				bit := bits.TrailingZeros32(word)
				word &= word - 1
				if !first {
					t.byte(':')
				}
				first = false
				t.int(int64(w)*32 + int64(bit))
			}
		}
	case fi.used:
		t.byte('[')
		t.float(fi.lo)
		t.byte(':')
		t.float(fi.hi)
		t.byte(']')
	default:
		t.str("none")
	}
}

// featureInfos collects each feature's featureInfo in time linear in the nodes
// and category words of the model.
func featureInfos(m *Model) []featureInfo {
	out := make([]featureInfo, len(m.FeatureNames))
	for ti := range m.Trees {
		for i := range m.Trees[ti].Nodes {
			n := &m.Trees[ti].Nodes[i]
			if n.Leaf {
				continue
			}
			fi := &out[n.Feature]
			if n.Categorical {
				if len(fi.cats) < len(n.Categories) {
					fi.cats = append(fi.cats, make([]uint32, len(n.Categories)-len(fi.cats))...)
				}
				if fi.cats == nil { // a non-nil marker even for an all-zero bitset
					fi.cats = []uint32{}
				}
				for w, word := range n.Categories {
					fi.cats[w] |= word
				}
				continue
			}
			if !fi.used {
				fi.lo, fi.hi, fi.used = n.Threshold, n.Threshold, true
			}
			fi.lo = min(fi.lo, n.Threshold)
			fi.hi = max(fi.hi, n.Threshold)
		}
	}
	return out
}

type featureCount struct{ feature, count int }

// splitImportances counts the splits per feature, most used first; unused
// features are left out, as LightGBM does.
func splitImportances(m *Model) []featureCount {
	counts := make([]int, len(m.FeatureNames))
	for ti := range m.Trees {
		for i := range m.Trees[ti].Nodes {
			if n := &m.Trees[ti].Nodes[i]; !n.Leaf {
				counts[n.Feature]++
			}
		}
	}
	var out []featureCount
	for f, c := range counts {
		if c > 0 {
			out = append(out, featureCount{f, c})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].count > out[j].count })
	return out
}
