package gbdt

import (
	"bufio"
	"fmt"
	"io"
	"math"
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
//   - numbers are written in the shortest form that parses back to the same
//     float64, so thresholds keep their exact value;
//   - leaf_count/internal_count carry Count, leaf_weight/internal_weight carry
//     Weight (or Cover when Weight is zero), so TreeSHAP covers survive a round trip.
//
// The model must pass Validate.
func (m *Model) WriteLightGBM(w io.Writer) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("write LightGBM: %w", err)
	}
	scale := 1.0
	objective := "regression"
	if m.Objective == Binary {
		scale = m.Sigmoid
		objective = "binary sigmoid:1"
	}
	trees := m.Trees
	if len(trees) == 0 {
		trees = []Tree{{Nodes: []Node{{Leaf: true}}}}
	}
	blocks := make([]string, len(trees))
	for ti := range trees {
		bias := 0.0
		if ti == 0 {
			bias = m.BaseScore
		}
		blocks[ti] = "Tree=" + strconv.Itoa(ti) + "\n" + lgbTreeText(trees[ti].Nodes, bias, scale) + "\n"
	}

	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n")
	p("max_feature_idx=%d\n", len(m.FeatureNames)-1)
	p("objective=%s\n", objective)
	p("feature_names=%s\n", strings.Join(m.FeatureNames, " "))
	if hasMonotone(m.Monotone) {
		mc := make([]string, len(m.Monotone))
		for i, c := range m.Monotone {
			mc[i] = strconv.Itoa(int(c))
		}
		p("monotone_constraints=%s\n", strings.Join(mc, " "))
	}
	p("feature_infos=%s\n", strings.Join(featureInfos(m), " "))
	sizes := make([]string, len(blocks))
	for i, b := range blocks {
		sizes[i] = strconv.Itoa(len(b))
	}
	p("tree_sizes=%s\n\n", strings.Join(sizes, " "))
	for _, b := range blocks {
		bw.WriteString(b)
	}
	p("end of trees\n\nfeature_importances:\n")
	for _, fi := range splitImportances(m) {
		p("%s=%d\n", m.FeatureNames[fi.feature], fi.count)
	}
	p("\nparameters:\n[objective: %s]\nend of parameters\n\npandas_categorical:null\n", strings.Fields(objective)[0])
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write LightGBM: %w", err)
	}
	return nil
}

func hasMonotone(c []int8) bool {
	for _, v := range c {
		if v != 0 {
			return true
		}
	}
	return false
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// lgbTreeText renders one tree as LightGBM's Tree::ToString does, ending with a
// blank line. Internal nodes are numbered in order of appearance in nodes (the
// root, nodes[0], is internal node 0), leaves likewise.
func lgbTreeText(nodes []Node, bias, scale float64) string {
	idx := make([]int, len(nodes)) // internal index, or leaf index
	ni, nl := 0, 0
	for i := range nodes {
		if nodes[i].Leaf {
			idx[i] = nl
			nl++
		} else {
			idx[i] = ni
			ni++
		}
	}
	ref := func(c int) string {
		if nodes[c].Leaf {
			return strconv.Itoa(^idx[c])
		}
		return strconv.Itoa(idx[c])
	}
	weight := func(n *Node) float64 {
		if n.Weight == 0 {
			return n.Cover
		}
		return n.Weight
	}
	var feat, gain, thr, dt, lc, rc, ival, iwt, icnt, lval, lwt, lcnt []string
	var catBounds = []string{"0"}
	var catBits []string
	numCat, words := 0, 0
	for i := range nodes {
		n := &nodes[i]
		if n.Leaf {
			lval = append(lval, fmtFloat((n.Value+bias)*scale))
			lwt = append(lwt, fmtFloat(weight(n)))
			lcnt = append(lcnt, fmtFloat(math.Round(n.Count)))
			continue
		}
		feat = append(feat, strconv.Itoa(n.Feature))
		gain = append(gain, fmtFloat(n.Gain))
		d := 0
		if n.Categorical {
			d |= lgbCategoricalBit
			thr = append(thr, strconv.Itoa(numCat))
			numCat++
			for _, b := range n.Categories {
				catBits = append(catBits, strconv.FormatUint(uint64(b), 10))
			}
			words += len(n.Categories)
			catBounds = append(catBounds, strconv.Itoa(words))
		} else {
			thr = append(thr, fmtFloat(n.Threshold))
		}
		if n.DefaultLeft {
			d |= lgbDefaultLeftBit
		}
		d |= int(n.Missing) << lgbMissingShift
		dt = append(dt, strconv.Itoa(d))
		lc = append(lc, ref(n.Left))
		rc = append(rc, ref(n.Right))
		ival = append(ival, fmtFloat((n.Value+bias)*scale))
		iwt = append(iwt, fmtFloat(weight(n)))
		icnt = append(icnt, fmtFloat(math.Round(n.Count)))
	}
	var b strings.Builder
	line := func(k string, v []string) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strings.Join(v, " "))
		b.WriteByte('\n')
	}
	b.WriteString("num_leaves=" + strconv.Itoa(nl) + "\n")
	b.WriteString("num_cat=" + strconv.Itoa(numCat) + "\n")
	line("split_feature", feat)
	line("split_gain", gain)
	line("threshold", thr)
	line("decision_type", dt)
	line("left_child", lc)
	line("right_child", rc)
	line("leaf_value", lval)
	line("leaf_weight", lwt)
	line("leaf_count", lcnt)
	line("internal_value", ival)
	line("internal_weight", iwt)
	line("internal_count", icnt)
	if numCat > 0 {
		line("cat_boundaries", catBounds)
		line("cat_threshold", catBits)
	}
	b.WriteString("is_linear=0\nshrinkage=1\n\n")
	return b.String()
}

// featureInfos describes each feature as LightGBM's feature_infos does, from what
// the trees show: "[lo:hi]" over the thresholds of a numerical feature, the
// categories of a categorical one separated by ':', "none" when unused.
func featureInfos(m *Model) []string {
	nf := len(m.FeatureNames)
	lo := make([]float64, nf)
	hi := make([]float64, nf)
	used := make([]bool, nf)
	cats := make([]map[int]bool, nf)
	for ti := range m.Trees {
		for i := range m.Trees[ti].Nodes {
			n := &m.Trees[ti].Nodes[i]
			if n.Leaf {
				continue
			}
			f := n.Feature
			if n.Categorical {
				if cats[f] == nil {
					cats[f] = map[int]bool{}
				}
				for w, bits := range n.Categories {
					for bit := 0; bit < 32; bit++ {
						if bits>>uint(bit)&1 != 0 {
							cats[f][w*32+bit] = true
						}
					}
				}
				continue
			}
			if !used[f] {
				lo[f], hi[f], used[f] = n.Threshold, n.Threshold, true
			}
			lo[f] = min(lo[f], n.Threshold)
			hi[f] = max(hi[f], n.Threshold)
		}
	}
	out := make([]string, nf)
	for f := range out {
		switch {
		case cats[f] != nil:
			cs := make([]int, 0, len(cats[f]))
			for c := range cats[f] {
				cs = append(cs, c)
			}
			sort.Ints(cs)
			parts := make([]string, len(cs))
			for i, c := range cs {
				parts[i] = strconv.Itoa(c)
			}
			out[f] = strings.Join(parts, ":")
		case used[f]:
			out[f] = "[" + fmtFloat(lo[f]) + ":" + fmtFloat(hi[f]) + "]"
		default:
			out[f] = "none"
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
