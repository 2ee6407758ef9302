package gbdt

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// LightGBM text models (src/boosting/gbdt_model_text.cpp, src/io/tree.cpp):
//
//	tree
//	version=v3
//	num_class=1
//	...header key=value lines...
//	tree_sizes=...
//
//	Tree=0
//	num_leaves=3
//	...per-tree arrays...
//	shrinkage=1
//
//	end of trees
//	...feature importances, parameters (ignored)...
//
// Internal node i of a tree with L leaves becomes Nodes[i]; leaf j becomes
// Nodes[L-1+j]. Children are written as internal indices, or ~j for leaf j.

// decision_type bits of a LightGBM split.
const (
	lgbCategoricalBit = 1 << 0
	lgbDefaultLeftBit = 1 << 1
	lgbMissingShift   = 2
)

// lgbLine is one "key=value" line; hasEq tells "key=" from a bare "key".
type lgbSection struct {
	kv    map[string]string
	order []string
}

func (s *lgbSection) set(key, value string) error {
	if _, dup := s.kv[key]; dup {
		return fmt.Errorf("key %q appears twice", key)
	}
	s.kv[key] = value
	s.order = append(s.order, key)
	return nil
}

func (s *lgbSection) get(key string) (string, bool) {
	v, ok := s.kv[key]
	return v, ok
}

// lineReader yields trimmed lines of a text.
type lineReader struct {
	text string
	pos  int
	line int
}

func (r *lineReader) next() (string, bool) {
	if r.pos >= len(r.text) {
		return "", false
	}
	end := strings.IndexByte(r.text[r.pos:], '\n')
	var line string
	if end < 0 {
		line = r.text[r.pos:]
		r.pos = len(r.text)
	} else {
		line = r.text[r.pos : r.pos+end]
		r.pos += end + 1
	}
	r.line++
	return strings.TrimSpace(line), true
}

// parseLightGBM reads a LightGBM text model (version v2, v3 or v4).
func parseLightGBM(data []byte, lim Limits) (*Model, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, limitf("LightGBM model is %d bytes, limit %d", len(data), lim.MaxBytes)
	}
	r := &lineReader{text: strings.TrimPrefix(string(data), "\ufeff")}
	first := ""
	for {
		line, ok := r.next()
		if !ok {
			return nil, corruptf("LightGBM model: empty input")
		}
		if line != "" {
			first = line
			break
		}
	}
	if first != "tree" {
		return nil, fmt.Errorf("%w: LightGBM text models start with the line \"tree\", got %q", ErrFormat, clip(first))
	}
	header := &lgbSection{kv: map[string]string{}}
	var pending string // the first "Tree=" line, if the header ended there
	for {
		line, ok := r.next()
		if !ok {
			return nil, corruptf("LightGBM model: file ends inside the header (line %d)", r.line)
		}
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "Tree=") || line == "end of trees" {
			pending = line
			break
		}
		key, value, _ := strings.Cut(line, "=")
		if err := header.set(key, value); err != nil {
			return nil, corruptf("LightGBM header line %d: %v", r.line, err)
		}
	}
	m, numTrees, err := lgbHeader(header, lim)
	if err != nil {
		return nil, err
	}
	budget := nodeBudget{lim: lim}
	if numTrees >= 0 {
		m.Trees = make([]Tree, 0, numTrees)
	}
	line := pending
	for line != "end of trees" {
		idx, err := strconv.Atoi(strings.TrimPrefix(line, "Tree="))
		if err != nil || !strings.HasPrefix(line, "Tree=") {
			return nil, corruptf("LightGBM model line %d: expected \"Tree=N\" or \"end of trees\", got %q", r.line, clip(line))
		}
		if idx != len(m.Trees) {
			return nil, corruptf("LightGBM model line %d: tree %d where tree %d was expected", r.line, idx, len(m.Trees))
		}
		if len(m.Trees) >= lim.MaxTrees {
			return nil, limitf("LightGBM model has more than %d trees", lim.MaxTrees)
		}
		sec := &lgbSection{kv: map[string]string{}}
		line = ""
		for {
			l, ok := r.next()
			if !ok {
				return nil, corruptf("LightGBM model: file ends inside tree %d (no \"end of trees\" line)", idx)
			}
			if l == "" {
				if len(sec.kv) > 0 {
					break
				}
				continue
			}
			if strings.HasPrefix(l, "Tree=") || l == "end of trees" {
				line = l
				break
			}
			key, value, _ := strings.Cut(l, "=")
			if err := sec.set(key, value); err != nil {
				return nil, corruptf("LightGBM tree %d line %d: %v", idx, r.line, err)
			}
		}
		t, err := lgbTree(sec, idx, len(m.FeatureNames), lim, &budget)
		if err != nil {
			return nil, err
		}
		m.Trees = append(m.Trees, t)
		for line == "" {
			l, ok := r.next()
			if !ok {
				return nil, corruptf("LightGBM model: file ends after tree %d without \"end of trees\"", idx)
			}
			line = l
		}
	}
	if numTrees >= 0 && numTrees != len(m.Trees) {
		return nil, corruptf("LightGBM model: tree_sizes lists %d trees, file has %d", numTrees, len(m.Trees))
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("LightGBM model: %w", err)
	}
	for ti := range m.Trees {
		if d := treeDepth(m.Trees[ti].Nodes); d > lim.MaxDepth {
			return nil, limitf("LightGBM tree %d has depth %d, limit %d", ti, d, lim.MaxDepth)
		}
	}
	return m, nil
}

// lgbHeader builds the model shell from the header; numTrees is the count in
// tree_sizes, or -1 when the header has none.
func lgbHeader(h *lgbSection, lim Limits) (*Model, int, error) {
	version, _ := h.get("version")
	switch version {
	case "v2", "v3", "v4":
	case "":
		return nil, 0, corruptf("LightGBM header has no version line")
	default:
		return nil, 0, unsupportedf("LightGBM model version %q (this reader knows v2, v3, v4)", clip(version))
	}
	m := &Model{Source: "lightgbm-" + version}
	if _, rf := h.get("average_output"); rf {
		return nil, 0, unsupportedf("LightGBM random forest model (average_output); only boosted models are read")
	}
	for _, key := range []string{"num_class", "num_tree_per_iteration"} {
		v, ok := h.get(key)
		if !ok {
			return nil, 0, corruptf("LightGBM header has no %s line", key)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, 0, corruptf("LightGBM header %s=%q is not an integer", key, clip(v))
		}
		if n != 1 {
			return nil, 0, unsupportedf("LightGBM model with %s=%d: multiclass models are not supported", key, n)
		}
	}
	obj, ok := h.get("objective")
	if !ok {
		return nil, 0, corruptf("LightGBM header has no objective line")
	}
	if err := lgbObjective(m, obj); err != nil {
		return nil, 0, err
	}
	mfi, ok := h.get("max_feature_idx")
	if !ok {
		return nil, 0, corruptf("LightGBM header has no max_feature_idx line")
	}
	maxIdx, err := strconv.Atoi(mfi)
	if err != nil || maxIdx < 0 {
		return nil, 0, corruptf("LightGBM header max_feature_idx=%q is not a non-negative integer", clip(mfi))
	}
	if maxIdx >= lim.MaxFeatures {
		return nil, 0, limitf("LightGBM model has %d features, limit %d", maxIdx+1, lim.MaxFeatures)
	}
	nf := maxIdx + 1
	if names, ok := h.get("feature_names"); ok {
		fields := strings.Fields(names)
		if len(fields) != nf {
			return nil, 0, corruptf("LightGBM header lists %d feature names for max_feature_idx=%d", len(fields), maxIdx)
		}
		m.FeatureNames = fields
	} else {
		m.FeatureNames = make([]string, nf)
		for i := range m.FeatureNames {
			m.FeatureNames[i] = "Column_" + strconv.Itoa(i)
		}
	}
	if mc, ok := h.get("monotone_constraints"); ok && strings.TrimSpace(mc) != "" {
		vals, err := parseInts(mc, nf, "monotone_constraints")
		if err != nil {
			return nil, 0, err
		}
		m.Monotone = make([]int8, nf)
		for i, v := range vals {
			if v < -1 || v > 1 {
				return nil, 0, corruptf("LightGBM monotone_constraints value %d (want -1, 0 or 1)", v)
			}
			m.Monotone[i] = int8(v)
		}
	}
	numTrees := -1
	if ts, ok := h.get("tree_sizes"); ok {
		n := len(strings.Fields(ts))
		if n > lim.MaxTrees {
			return nil, 0, limitf("LightGBM model has %d trees, limit %d", n, lim.MaxTrees)
		}
		numTrees = n
	}
	return m, numTrees, nil
}

// lgbObjective sets Objective and Sigmoid from LightGBM's objective line, e.g.
// "binary sigmoid:1", "regression" or "gamma".
func lgbObjective(m *Model, line string) error {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return corruptf("LightGBM objective line is empty")
	}
	switch fields[0] {
	case "binary":
		m.Objective = Binary
		m.Sigmoid = 1
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, ":")
			if k != "sigmoid" {
				continue
			}
			s, err := strconv.ParseFloat(v, 64)
			if err != nil || !(s > 0) || math.IsInf(s, 0) {
				return corruptf("LightGBM objective %q: sigmoid must be a positive number", clip(line))
			}
			m.Sigmoid = s
		}
	case "cross_entropy", "xentropy":
		m.Objective = Binary
		m.Sigmoid = 1
	case "regression", "regression_l2", "l2", "mean_squared_error", "mse":
		for _, f := range fields[1:] {
			if f == "sqrt" {
				return unsupportedf("LightGBM objective %q: regression with reg_sqrt is not supported", clip(line))
			}
		}
		m.Objective = Regression
	case "gamma":
		// LightGBM writes the gamma objective without parameters; its prediction
		// is exp(raw score), as leaves computes it.
		if len(fields) > 1 {
			return unsupportedf("LightGBM objective %q: gamma with parameters is not supported", clip(line))
		}
		m.Objective = Gamma
	default:
		return unsupportedf("LightGBM objective %q (supported: binary, cross_entropy, regression, gamma)", clip(line))
	}
	return nil
}

// lgbTree converts one "Tree=" section.
func lgbTree(s *lgbSection, idx, nf int, lim Limits, budget *nodeBudget) (Tree, error) {
	fail := func(format string, args ...any) (Tree, error) {
		return Tree{}, corruptf("LightGBM tree %d: %s", idx, fmt.Sprintf(format, args...))
	}
	if v, ok := s.get("is_linear"); ok && v != "0" {
		return Tree{}, unsupportedf("LightGBM tree %d is a linear tree (is_linear=%s); linear trees are not supported", idx, clip(v))
	}
	nlStr, ok := s.get("num_leaves")
	if !ok {
		return fail("no num_leaves line")
	}
	L, err := strconv.Atoi(nlStr)
	if err != nil || L < 1 {
		return fail("num_leaves=%q is not a positive integer", clip(nlStr))
	}
	if L > (lim.MaxNodesPerTree+1)/2 {
		return Tree{}, limitf("LightGBM tree %d has %d leaves, limit %d nodes per tree", idx, L, lim.MaxNodesPerTree)
	}
	if err := budget.take(idx, 2*L-1); err != nil {
		return Tree{}, err
	}
	leafValue, err := floatsField(s, "leaf_value", L, true)
	if err != nil {
		return fail("%v", err)
	}
	leafWeight, err := floatsField(s, "leaf_weight", L, false)
	if err != nil {
		return fail("%v", err)
	}
	leafCount, err := floatsField(s, "leaf_count", L, false)
	if err != nil {
		return fail("%v", err)
	}
	// The nodes (120 bytes each) are allocated only once every list that
	// describes them has been read, so a long leaf_value line alone cannot make
	// this reserve memory for nodes the file does not describe.
	leaves := func(nodes []Node) {
		for j := 0; j < L; j++ {
			n := &nodes[L-1+j]
			n.Leaf = true
			n.Value = leafValue[j]
			if leafWeight != nil {
				n.Weight = leafWeight[j]
			}
			if leafCount != nil {
				n.Count = leafCount[j]
			}
		}
	}
	if L == 1 {
		nodes := make([]Node, 1)
		leaves(nodes)
		setCover(nodes)
		return Tree{Nodes: nodes}, nil
	}
	ni := L - 1
	numCat := 0
	if v, ok := s.get("num_cat"); ok {
		numCat, err = strconv.Atoi(v)
		if err != nil || numCat < 0 || numCat > ni {
			return fail("num_cat=%q is not an integer in 0..%d", clip(v), ni)
		}
	}
	splitFeature, err := intsField(s, "split_feature", ni, true)
	if err != nil {
		return fail("%v", err)
	}
	threshold, err := floatsField(s, "threshold", ni, true)
	if err != nil {
		return fail("%v", err)
	}
	decisionType, err := intsField(s, "decision_type", ni, true)
	if err != nil {
		return fail("%v", err)
	}
	left, err := intsField(s, "left_child", ni, true)
	if err != nil {
		return fail("%v", err)
	}
	right, err := intsField(s, "right_child", ni, true)
	if err != nil {
		return fail("%v", err)
	}
	gain, err := floatsField(s, "split_gain", ni, false)
	if err != nil {
		return fail("%v", err)
	}
	ivalue, err := floatsField(s, "internal_value", ni, false)
	if err != nil {
		return fail("%v", err)
	}
	iweight, err := floatsField(s, "internal_weight", ni, false)
	if err != nil {
		return fail("%v", err)
	}
	icount, err := floatsField(s, "internal_count", ni, false)
	if err != nil {
		return fail("%v", err)
	}
	var catBounds, catBits []int
	if numCat > 0 {
		if catBounds, err = intsField(s, "cat_boundaries", numCat+1, true); err != nil {
			return fail("%v", err)
		}
		if catBounds[0] != 0 {
			return fail("cat_boundaries must start at 0")
		}
		for k := 1; k <= numCat; k++ {
			if catBounds[k] <= catBounds[k-1] {
				return fail("cat_boundaries are not increasing")
			}
		}
		if catBits, err = intsField(s, "cat_threshold", catBounds[numCat], true); err != nil {
			return fail("%v", err)
		}
	}
	// Bound the category words before building any split: each categorical split
	// counts the words of its range, as Compile, the explainer and the writer
	// expand them, even though the splits below share the ranges in memory.
	catSplits, catWords := 0, 0
	for i := 0; i < ni; i++ {
		if decisionType[i]&lgbCategoricalBit == 0 {
			continue
		}
		k := threshold[i]
		if k != math.Trunc(k) || k < 0 || k >= float64(numCat) {
			return fail("categorical node %d has threshold %v, not an index below num_cat=%d", i, k, numCat)
		}
		catSplits++
		catWords += catBounds[int(k)+1] - catBounds[int(k)]
	}
	if err := budget.takeCategories(idx, catSplits, catWords); err != nil {
		return Tree{}, err
	}
	// One array holds the tree's cat_threshold words; every split that names a
	// range refers to it (capacity clipped, so an append cannot reach a neighbour).
	var cats []uint32
	if numCat > 0 {
		cats = make([]uint32, len(catBits))
		for w, bits := range catBits {
			if bits < 0 || bits > math.MaxUint32 {
				return fail("cat_threshold word %d is %d, not a 32-bit unsigned integer", w, bits)
			}
			cats[w] = uint32(bits)
		}
	}
	nodes := make([]Node, 2*L-1)
	leaves(nodes)
	child := func(c int) (int, error) {
		if c >= 0 {
			if c >= ni {
				return 0, fmt.Errorf("child %d: only %d internal nodes", c, ni)
			}
			return c, nil
		}
		leaf := ^c
		if leaf >= L {
			return 0, fmt.Errorf("child ~%d: only %d leaves", leaf, L)
		}
		return ni + leaf, nil
	}
	for i := 0; i < ni; i++ {
		n := &nodes[i]
		if splitFeature[i] < 0 || splitFeature[i] >= nf {
			return fail("node %d splits on feature %d of %d", i, splitFeature[i], nf)
		}
		n.Feature = splitFeature[i]
		dt := decisionType[i]
		if dt < 0 || dt > 255 {
			return fail("node %d has decision_type %d", i, dt)
		}
		mt := (dt >> lgbMissingShift) & 3
		if mt > int(MissingNaN) {
			return fail("node %d has missing type %d", i, mt)
		}
		n.Missing = MissingType(mt)
		n.DefaultLeft = dt&lgbDefaultLeftBit != 0
		if dt&lgbCategoricalBit != 0 {
			k := int(threshold[i]) // checked above
			n.Categorical = true
			n.Categories = cats[catBounds[k]:catBounds[k+1]:catBounds[k+1]]
		} else {
			n.Threshold = threshold[i]
		}
		if n.Left, err = child(left[i]); err != nil {
			return fail("node %d left %v", i, err)
		}
		if n.Right, err = child(right[i]); err != nil {
			return fail("node %d right %v", i, err)
		}
		if gain != nil {
			n.Gain = gain[i]
		}
		if ivalue != nil {
			n.Value = ivalue[i]
		}
		if iweight != nil {
			n.Weight = iweight[i]
		}
		if icount != nil {
			n.Count = icount[i]
		}
	}
	setCover(nodes)
	return Tree{Nodes: nodes}, nil
}

// setCover fills Cover with the data counts when every node has one (as
// LightGBM's own SHAP does), else with the hessian weights.
func setCover(nodes []Node) {
	useCount := true
	for i := range nodes {
		if !nodes[i].Leaf && !(nodes[i].Count > 0) {
			useCount = false
			break
		}
	}
	for i := range nodes {
		if useCount {
			nodes[i].Cover = nodes[i].Count
		} else {
			nodes[i].Cover = nodes[i].Weight
		}
	}
}

func floatsField(s *lgbSection, key string, want int, required bool) ([]float64, error) {
	v, ok := s.get(key)
	if !ok {
		if required {
			return nil, fmt.Errorf("no %s line", key)
		}
		return nil, nil
	}
	out := make([]float64, 0, listCap(v, want))
	for tok := range strings.FieldsSeq(v) {
		if len(out) == want {
			return nil, fmt.Errorf("%s has more than %d values", key, want)
		}
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			return nil, fmt.Errorf("%s value %q is not a number", key, clip(tok))
		}
		out = append(out, f)
	}
	if len(out) != want {
		return nil, fmt.Errorf("%s has %d values, want %d", key, len(out), want)
	}
	return out, nil
}

func intsField(s *lgbSection, key string, want int, required bool) ([]int, error) {
	v, ok := s.get(key)
	if !ok {
		if required {
			return nil, fmt.Errorf("no %s line", key)
		}
		return nil, nil
	}
	return parseIntsErr(v, want, key)
}

func parseIntsErr(v string, want int, key string) ([]int, error) {
	out := make([]int, 0, listCap(v, want))
	for tok := range strings.FieldsSeq(v) {
		if len(out) == want {
			return nil, fmt.Errorf("%s has more than %d values", key, want)
		}
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s value %q is not an integer", key, clip(tok))
		}
		out = append(out, int(n))
	}
	if len(out) != want {
		return nil, fmt.Errorf("%s has %d values, want %d", key, len(out), want)
	}
	return out, nil
}

// listCap is the capacity to reserve for a list of want values written in v.
// want comes from the file (num_leaves, or the last cat_boundaries entry for
// cat_threshold) and may be anything; v holds at most (len(v)+1)/2 values (one
// character and one separator each), so the reservation never exceeds what the
// text itself can fill.
func listCap(v string, want int) int {
	return max(0, min(want, (len(v)+1)/2))
}

func parseInts(v string, want int, key string) ([]int, error) {
	out, err := parseIntsErr(v, want, key)
	if err != nil {
		return nil, corruptf("LightGBM header: %v", err)
	}
	return out, nil
}

// clip shortens outside text quoted in error messages.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
