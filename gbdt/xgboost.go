package gbdt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// XGBoost models (JSON schema doc/model.schema in the XGBoost repository):
//
//	{"learner": {
//	   "feature_names": [...], "feature_types": [...],
//	   "learner_model_param": {"base_score": "5E-1", "num_class": "0", "num_feature": "10", ...},
//	   "objective": {"name": "binary:logistic", ...},
//	   "gradient_booster": {"name": "gbtree", "model": {
//	       "gbtree_model_param": {"num_trees": "12", ...},
//	       "tree_info": [0, ...],
//	       "trees": [{"tree_param": {"num_nodes": "29", ...},
//	                  "left_children": [...], "right_children": [...], "parents": [...],
//	                  "split_indices": [...], "split_conditions": [...], "split_type": [...],
//	                  "default_left": [...], "base_weights": [...], "sum_hessian": [...],
//	                  "loss_changes": [...], "categories": [...], ...}]}}},
//	 "version": [1, 7, 4]}
//
// A DART booster ({"name": "dart", "gbtree": {...}, "weight_drop": [...]}) scales
// each tree's leaves by its weight. UBJSON files hold the same document.
//
// XGBoost sends a row left when float32(x) < split_condition (a float32), and a
// missing value (NaN) to the default side. Both become LightGBM semantics exactly
// (see xgbThreshold): Missing = MissingNaN, Threshold = the largest float64 t
// with x <= t iff float32(x) < split_condition.

type xgbDoc struct {
	Learner *struct {
		FeatureNames      []string       `json:"feature_names"`
		FeatureTypes      []string       `json:"feature_types"`
		GradientBooster   *xgbBooster    `json:"gradient_booster"`
		LearnerModelParam map[string]any `json:"learner_model_param"`
		Objective         *struct {
			Name string `json:"name"`
		} `json:"objective"`
	} `json:"learner"`
	Version []int `json:"version"`
}

type xgbBooster struct {
	Name       string      `json:"name"`
	Model      *xgbGBTree  `json:"model"`
	GBTree     *xgbBooster `json:"gbtree"`
	WeightDrop []float64   `json:"weight_drop"`
}

type xgbGBTree struct {
	Param    map[string]any  `json:"gbtree_model_param"`
	TreeInfo []int64         `json:"tree_info"`
	Trees    json.RawMessage `json:"trees"`
}

type xgbTree struct {
	TreeParam       map[string]any `json:"tree_param"`
	LeftChildren    []int64        `json:"left_children"`
	RightChildren   []int64        `json:"right_children"`
	SplitIndices    []int64        `json:"split_indices"`
	SplitConditions []float64      `json:"split_conditions"`
	SplitType       flexInts       `json:"split_type"`
	DefaultLeft     flexInts       `json:"default_left"`
	BaseWeights     []float64      `json:"base_weights"`
	SumHessian      []float64      `json:"sum_hessian"`
	LossChanges     []float64      `json:"loss_changes"`
}

// flexInts decodes an array of integers or booleans (XGBoost versions differ).
// The arrays hold one entry per node, so it reads them directly into one
// []int64 sized by the number of commas: 8 bytes an element, no more than four
// times the text (decoding through []any took 16 to 24 bytes of text each).
type flexInts []int64

func (f *flexInts) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*f = nil
		return nil
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return errors.New("want an array of integers or booleans")
	}
	// b is one valid JSON value (the decoder checked it): without strings or
	// containers inside, the elements are exactly the comma-separated tokens.
	body := b[1 : len(b)-1]
	if bytes.ContainsAny(body, "\"[{") {
		return errors.New("want an array of integers or booleans, found a string or container")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		*f = flexInts{}
		return nil
	}
	out := make([]int64, 0, bytes.Count(body, []byte{','})+1)
	for tok := range bytes.SplitSeq(body, []byte{','}) {
		tok = bytes.TrimSpace(tok)
		switch string(tok) {
		case "true":
			out = append(out, 1)
			continue
		case "false":
			out = append(out, 0)
			continue
		}
		if n, err := strconv.ParseInt(string(tok), 10, 64); err == nil {
			out = append(out, n)
			continue
		}
		v, err := strconv.ParseFloat(string(tok), 64) // an integer written as 1.0 or 1e0
		if err != nil || v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return fmt.Errorf("element %d is %q, not an integer or boolean", len(out), clip(string(tok)))
		}
		out = append(out, int64(v))
	}
	*f = out
	return nil
}

// paramInt reads an integer parameter that XGBoost stores as a string ("12") or,
// in some writers, as a number.
func paramInt(p map[string]any, key string, def int64) (int64, error) {
	v, ok := p[key]
	if !ok {
		return def, nil
	}
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s=%q is not an integer", key, clip(x))
		}
		return n, nil
	case float64:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("%s=%v is not an integer", key, x)
		}
		return int64(x), nil
	}
	return 0, fmt.Errorf("%s has type %T", key, v)
}

func parseXGBoostJSON(data []byte, lim Limits) (*Model, error) {
	return decodeXGBoostDoc(data, lim, "xgboost-json")
}

func decodeXGBoostDoc(data []byte, lim Limits, source string) (*Model, error) {
	lim = lim.withDefaults()
	var doc xgbDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, corruptf("XGBoost %s: %v", source, err)
	}
	if doc.Learner == nil {
		return nil, fmt.Errorf("%w: JSON document has no \"learner\" object; not an XGBoost model", ErrFormat)
	}
	l := doc.Learner
	if l.Objective == nil || l.Objective.Name == "" {
		return nil, corruptf("XGBoost model has no objective name")
	}
	if l.LearnerModelParam == nil {
		return nil, corruptf("XGBoost model has no learner_model_param")
	}
	p := l.LearnerModelParam
	nf, err := paramInt(p, "num_feature", -1)
	if err != nil {
		return nil, corruptf("XGBoost learner_model_param: %v", err)
	}
	if nf <= 0 {
		return nil, corruptf("XGBoost learner_model_param has no positive num_feature")
	}
	if nf > int64(lim.MaxFeatures) {
		return nil, limitf("XGBoost model has %d features, limit %d", nf, lim.MaxFeatures)
	}
	for _, key := range []string{"num_class", "num_target"} {
		n, err := paramInt(p, key, 0)
		if err != nil {
			return nil, corruptf("XGBoost learner_model_param: %v", err)
		}
		if n > 1 {
			return nil, unsupportedf("XGBoost model with %s=%d: multiclass and multi-target models are not supported", key, n)
		}
	}
	bsText, _ := p["base_score"].(string)
	bsText = strings.Trim(strings.TrimSpace(bsText), "[]")
	if bsText == "" {
		return nil, corruptf("XGBoost learner_model_param has no base_score")
	}
	bs, err := strconv.ParseFloat(bsText, 32)
	if err != nil {
		return nil, corruptf("XGBoost base_score %q is not a number", clip(bsText))
	}
	m := &Model{Source: source}
	if err := xgbObjective(m, l.Objective.Name, float32(bs)); err != nil {
		return nil, err
	}
	m.FeatureNames, err = xgbFeatureNames(l.FeatureNames, int(nf))
	if err != nil {
		return nil, err
	}
	for _, ft := range l.FeatureTypes {
		if ft == "c" {
			return nil, unsupportedf("XGBoost model with categorical features (feature_types \"c\")")
		}
	}
	b := l.GradientBooster
	if b == nil {
		return nil, corruptf("XGBoost model has no gradient_booster")
	}
	var weights []float64
	switch b.Name {
	case "gbtree":
	case "dart":
		weights = b.WeightDrop
		b = b.GBTree
		if b == nil {
			return nil, corruptf("XGBoost DART booster has no gbtree")
		}
	case "gblinear":
		return nil, unsupportedf("XGBoost linear booster (gblinear); only tree models are read")
	default:
		return nil, unsupportedf("XGBoost booster %q", clip(b.Name))
	}
	if b.Model == nil {
		return nil, corruptf("XGBoost gradient_booster has no model")
	}
	gm := b.Model
	numTrees, err := paramInt(gm.Param, "num_trees", -1)
	if err != nil {
		return nil, corruptf("XGBoost gbtree_model_param: %v", err)
	}
	if numTrees < 0 {
		return nil, corruptf("XGBoost gbtree_model_param has no num_trees")
	}
	if numTrees > int64(lim.MaxTrees) {
		return nil, limitf("XGBoost model has %d trees, limit %d", numTrees, lim.MaxTrees)
	}
	if slv, err := paramInt(gm.Param, "size_leaf_vector", 0); err != nil || slv > 1 {
		return nil, unsupportedf("XGBoost model with vector leaves (size_leaf_vector=%d)", slv)
	}
	if weights != nil && int64(len(weights)) != numTrees {
		return nil, corruptf("XGBoost DART model has %d tree weights for %d trees", len(weights), numTrees)
	}
	if int64(len(gm.TreeInfo)) != numTrees {
		return nil, corruptf("XGBoost model has %d tree_info entries for %d trees", len(gm.TreeInfo), numTrees)
	}
	for i, g := range gm.TreeInfo {
		if g != 0 {
			return nil, unsupportedf("XGBoost tree %d belongs to output group %d: multiclass models are not supported", i, g)
		}
	}
	m.Trees = make([]Tree, 0, numTrees)
	budget := nodeBudget{lim: lim}
	dec := json.NewDecoder(bytes.NewReader(gm.Trees))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, corruptf("XGBoost model: \"trees\" is not an array")
	}
	for dec.More() {
		ti := len(m.Trees)
		if int64(ti) >= numTrees {
			return nil, corruptf("XGBoost model has more trees than num_trees=%d", numTrees)
		}
		var xt xgbTree
		if err := dec.Decode(&xt); err != nil {
			return nil, corruptf("XGBoost tree %d: %v", ti, err)
		}
		w := 1.0
		if weights != nil {
			w = float64(float32(weights[ti])) // float32 in XGBoost, as in the binary format
		}
		t, err := xgbJSONTree(&xt, ti, int(nf), w, lim, &budget)
		if err != nil {
			return nil, err
		}
		m.Trees = append(m.Trees, t)
	}
	if int64(len(m.Trees)) != numTrees {
		return nil, corruptf("XGBoost model has %d trees, num_trees=%d", len(m.Trees), numTrees)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("XGBoost model: %w", err)
	}
	return m, nil
}

// xgbObjective sets the objective and the margin-scale base score.
func xgbObjective(m *Model, name string, baseScore float32) error {
	switch name {
	case "binary:logistic", "reg:logistic":
		if !(baseScore > 0 && baseScore < 1) {
			return corruptf("XGBoost %s model has base_score %v outside (0, 1)", name, baseScore)
		}
		m.Objective = Binary
		m.Sigmoid = 1
		// XGBoost's ProbToMargin, in float32 as XGBoost computes it.
		t := float32(1)/baseScore - float32(1)
		m.BaseScore = float64(float32(-math.Log(float64(t))))
	case "reg:squarederror", "reg:linear":
		m.Objective = Regression
		m.BaseScore = float64(baseScore)
	case "reg:gamma":
		if !(baseScore > 0) {
			return corruptf("XGBoost reg:gamma model has base_score %v, which must be positive", baseScore)
		}
		m.Objective = Gamma
		// XGBoost's GammaRegression::ProbToMargin: std::log of the float32 base_score.
		m.BaseScore = float64(float32(math.Log(float64(baseScore))))
	default:
		return unsupportedf("XGBoost objective %q (supported: binary:logistic, reg:logistic, reg:squarederror, reg:gamma)", clip(name))
	}
	if math.IsNaN(m.BaseScore) || math.IsInf(m.BaseScore, 0) {
		return corruptf("XGBoost base_score %v gives a non-finite margin", baseScore)
	}
	return nil
}

// xgbFeatureNames returns the model's names, made safe for LightGBM text, or
// f0, f1, ... (XGBoost's own default) when the model has none.
func xgbFeatureNames(names []string, nf int) ([]string, error) {
	out := make([]string, nf)
	if len(names) == 0 {
		for i := range out {
			out[i] = "f" + strconv.Itoa(i)
		}
		return out, nil
	}
	if len(names) != nf {
		return nil, corruptf("XGBoost model has %d feature names for num_feature=%d", len(names), nf)
	}
	seen := make(map[string]bool, nf)
	for i, n := range names {
		n = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '=' {
				return '_'
			}
			return r
		}, n)
		if n == "" || seen[n] {
			n = "f" + strconv.Itoa(i)
		}
		if seen[n] {
			return nil, corruptf("XGBoost feature name %q appears twice", clip(n))
		}
		seen[n] = true
		out[i] = n
	}
	return out, nil
}

// xgbNode is one node in XGBoost's own numbering, before reindexing.
type xgbNode struct {
	left, right int64
	feature     int64
	cond        float32
	defaultLeft bool
	hess        float32
	weight      float32
	gain        float32
}

func xgbJSONTree(xt *xgbTree, ti, nf int, w float64, lim Limits, budget *nodeBudget) (Tree, error) {
	nn, err := paramInt(xt.TreeParam, "num_nodes", -1)
	if err != nil {
		return Tree{}, corruptf("XGBoost tree %d tree_param: %v", ti, err)
	}
	if nn <= 0 {
		return Tree{}, corruptf("XGBoost tree %d has no positive num_nodes", ti)
	}
	if nn > int64(lim.MaxNodesPerTree) {
		return Tree{}, limitf("XGBoost tree %d has %d nodes, limit %d", ti, nn, lim.MaxNodesPerTree)
	}
	n := int(nn)
	lengths := map[string]int{
		"left_children": len(xt.LeftChildren), "right_children": len(xt.RightChildren),
		"split_indices": len(xt.SplitIndices), "split_conditions": len(xt.SplitConditions),
		"default_left": len(xt.DefaultLeft), "sum_hessian": len(xt.SumHessian),
	}
	for k, got := range lengths {
		if got != n {
			return Tree{}, corruptf("XGBoost tree %d: %s has %d entries for num_nodes=%d", ti, k, got, n)
		}
	}
	for i, st := range xt.SplitType {
		if st != 0 && i < n && xt.LeftChildren[i] != -1 {
			return Tree{}, unsupportedf("XGBoost tree %d node %d is a categorical split; categorical XGBoost models are not supported", ti, i)
		}
	}
	nodes := make([]xgbNode, n)
	for i := range nodes {
		x := &nodes[i]
		x.left, x.right = xt.LeftChildren[i], xt.RightChildren[i]
		x.feature = xt.SplitIndices[i]
		x.cond = float32(xt.SplitConditions[i])
		x.defaultLeft = xt.DefaultLeft[i] != 0
		x.hess = float32(xt.SumHessian[i])
		if len(xt.BaseWeights) == n {
			x.weight = float32(xt.BaseWeights[i])
		}
		if len(xt.LossChanges) == n {
			x.gain = float32(xt.LossChanges[i])
		}
	}
	return xgbBuildTree(nodes, ti, nf, w, lim, budget)
}

// xgbBuildTree reindexes XGBoost's nodes in depth-first order from the root,
// dropping unreachable (deleted) nodes, and converts split semantics.
func xgbBuildTree(xs []xgbNode, ti, nf int, w float64, lim Limits, budget *nodeBudget) (Tree, error) {
	n := len(xs)
	fail := func(format string, args ...any) (Tree, error) {
		return Tree{}, corruptf("XGBoost tree %d: %s", ti, fmt.Sprintf(format, args...))
	}
	// Leaf value / base weight ratio: the learning rate (and DART weight) that
	// XGBoost applied to the leaves; used to put internal nodes on the same scale.
	eta := 1.0
	for i := range xs {
		if xs[i].left == -1 && xs[i].weight != 0 {
			eta = float64(xs[i].cond) / float64(xs[i].weight)
			break
		}
	}
	out := make([]Node, 0, n)
	visited := make([]bool, n)
	type item struct {
		src    int64
		parent int // index in out, -1 for the root
		left   bool
		depth  int
	}
	stack := []item{{src: 0, parent: -1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.src < 0 || it.src >= int64(n) {
			return fail("child %d out of range 0..%d", it.src, n-1)
		}
		if visited[it.src] {
			return fail("node %d is reached twice", it.src)
		}
		visited[it.src] = true
		if it.depth > lim.MaxDepth {
			return Tree{}, limitf("XGBoost tree %d is deeper than %d", ti, lim.MaxDepth)
		}
		x := &xs[it.src]
		idx := len(out)
		node := Node{Cover: float64(x.hess), Weight: float64(x.hess), Gain: float64(x.gain)}
		switch {
		case x.left == -1:
			if x.right != -1 {
				return fail("node %d has a left leaf marker but right child %d", it.src, x.right)
			}
			node.Leaf = true
			node.Value = float64(x.cond) * w
			if math.IsNaN(node.Value) || math.IsInf(node.Value, 0) {
				return fail("leaf %d has value %v", it.src, node.Value)
			}
		default:
			if x.feature < 0 || x.feature >= int64(nf) {
				return fail("node %d splits on feature %d of %d", it.src, x.feature, nf)
			}
			if math.IsNaN(float64(x.cond)) {
				return fail("node %d has a NaN split condition", it.src)
			}
			node.Feature = int(x.feature)
			node.Threshold = xgbThreshold(x.cond)
			node.Missing = MissingNaN
			node.DefaultLeft = x.defaultLeft
			node.Value = float64(x.weight) * eta * w
		}
		out = append(out, node)
		if it.parent >= 0 {
			if it.left {
				out[it.parent].Left = idx
			} else {
				out[it.parent].Right = idx
			}
		}
		if !node.Leaf {
			// Right first so the left child comes next in out (depth-first order).
			stack = append(stack, item{x.right, idx, false, it.depth + 1}, item{x.left, idx, true, it.depth + 1})
		}
	}
	if err := budget.take(ti, len(out)); err != nil {
		return Tree{}, err
	}
	return Tree{Nodes: out}, nil
}

// xgbThreshold converts XGBoost's float32 rule "float32(x) < t" into LightGBM's
// "x <= thr" on float64 x. float32(x) rounds to nearest, ties to even, so
// float32(x) < t exactly when x is below the midpoint between t and the float32
// just below it, or equal to the midpoint when that tie rounds down (t's last
// mantissa bit is odd). The midpoint of two float32 values is exact in float64.
// For inputs that are float32 values already this is x <= nextafter32(t, -inf).
func xgbThreshold(t float32) float64 {
	if math.IsInf(float64(t), 1) {
		return math.MaxFloat64
	}
	if math.IsInf(float64(t), -1) {
		return -math.MaxFloat64
	}
	prev := math.Nextafter32(t, float32(math.Inf(-1)))
	var mid float64
	if math.IsInf(float64(prev), -1) { // t is -MaxFloat32: half an ulp below it
		ulp := float64(math.Nextafter32(t, 0)) - float64(t)
		mid = float64(t) - ulp/2
	} else {
		mid = float64(prev) + (float64(t)-float64(prev))/2
	}
	if math.Float32bits(t)&1 == 1 {
		return mid // the tie rounds to prev, which is < t
	}
	return math.Nextafter(mid, math.Inf(-1))
}
