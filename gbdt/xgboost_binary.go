package gbdt

import (
	"encoding/binary"
	"math"
	"strings"
)

// XGBoost's legacy binary model (1.x save_model to a name not ending in .json or
// .ubj, and save_raw("deprecated")), little-endian, as read by XGBoost's
// Learner::LoadModel, GBTreeModel::Load and RegTree::Load:
//
//	["binf"]                         optional 4-byte header (1.x writes it)
//	LearnerModelParamLegacy          136 bytes: base_score f32, num_feature u32,
//	                                 num_class i32, contain_extra_attrs i32,
//	                                 contain_eval_metrics i32, major u32, minor u32, reserved
//	objective, booster               strings: u64 length + bytes
//	GBTreeModelParam                 160 bytes: num_trees i32, num_parallel_tree i32,
//	                                 ..., size_leaf_vector i32 at 28, reserved
//	per tree: TreeParam              148 bytes: num_nodes i32 at 4, size_leaf_vector i32 at 20
//	          nodes                  num_nodes × 20: parent i32, left i32, right i32,
//	                                 sindex u32 (bit 31 = default left), split_cond/leaf f32
//	          stats                  num_nodes × 16: loss_chg f32, sum_hess f32,
//	                                 base_weight f32, leaf_child_cnt i32
//	tree_info                        num_trees × i32 (output group of each tree)
//	[weight_drop]                    DART only: u64 count + f32 weights
//	...attributes, metrics           ignored
const (
	xgbLearnerParamSize = 136
	xgbGBTreeParamSize  = 160
	xgbTreeParamSize    = 148
	xgbNodeSize         = 20
	xgbStatSize         = 16
	xgbMaxNameLen       = 256 // objective and booster names
)

type binReader struct {
	b   []byte
	pos int
}

func (r *binReader) take(n int, what string) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos {
		return nil, corruptf("XGBoost binary model: truncated in %s (need %d bytes at offset %d, %d left)", what, n, r.pos, len(r.b)-r.pos)
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s, nil
}

func (r *binReader) str(what string) (string, error) {
	s, err := r.take(8, what)
	if err != nil {
		return "", err
	}
	n := binary.LittleEndian.Uint64(s)
	if n > xgbMaxNameLen {
		return "", corruptf("XGBoost binary model: %s has length %d (at most %d expected)", what, n, xgbMaxNameLen)
	}
	b, err := r.take(int(n), what)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// skipStrings skips a vector of count-prefixed groups of per strings.
func (r *binReader) skipStrings(per int, what string) error {
	cb, err := r.take(8, what)
	if err != nil {
		return err
	}
	n := binary.LittleEndian.Uint64(cb)
	if n > uint64(len(r.b)-r.pos)/uint64(8*per) {
		return corruptf("XGBoost binary model: %s claims %d entries but only %d bytes are left", what, n, len(r.b)-r.pos)
	}
	for i := uint64(0); i < n*uint64(per); i++ {
		lb, err := r.take(8, what)
		if err != nil {
			return err
		}
		l := binary.LittleEndian.Uint64(lb)
		if l > uint64(len(r.b)-r.pos) {
			return corruptf("XGBoost binary model: truncated in %s", what)
		}
		r.pos += int(l)
	}
	return nil
}

// looksLikeLegacyXGBoost reports whether data, without a "binf" header, starts
// with a learner parameter block followed by a plausible objective name.
func looksLikeLegacyXGBoost(data []byte) bool {
	if len(data) < xgbLearnerParamSize+8 {
		return false
	}
	n := binary.LittleEndian.Uint64(data[xgbLearnerParamSize:])
	if n == 0 || n > 64 || uint64(len(data)) < xgbLearnerParamSize+8+n {
		return false
	}
	name := string(data[xgbLearnerParamSize+8 : xgbLearnerParamSize+8+n])
	for _, prefix := range []string{"binary:", "reg:", "multi:", "rank:", "count:", "survival:"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

func parseXGBoostBinary(data []byte, lim Limits) (*Model, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, limitf("XGBoost binary model is %d bytes, limit %d", len(data), lim.MaxBytes)
	}
	r := &binReader{b: data}
	source := "xgboost-binary"
	if strings.HasPrefix(string(data[:min(4, len(data))]), "binf") {
		r.pos = 4
	}
	lp, err := r.take(xgbLearnerParamSize, "learner parameters")
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	baseScore := math.Float32frombits(le.Uint32(lp[0:]))
	nf := le.Uint32(lp[4:])
	numClass := int32(le.Uint32(lp[8:]))
	hasAttrs := le.Uint32(lp[12:]) != 0
	hasMetrics := le.Uint32(lp[16:]) != 0
	if nf == 0 {
		return nil, corruptf("XGBoost binary model has num_feature=0")
	}
	if uint64(nf) > uint64(lim.MaxFeatures) {
		return nil, limitf("XGBoost binary model has %d features, limit %d", nf, lim.MaxFeatures)
	}
	if numClass > 1 {
		return nil, unsupportedf("XGBoost binary model with num_class=%d: multiclass models are not supported", numClass)
	}
	objective, err := r.str("objective name")
	if err != nil {
		return nil, err
	}
	booster, err := r.str("booster name")
	if err != nil {
		return nil, err
	}
	m := &Model{Source: source}
	if err := xgbObjective(m, objective, baseScore); err != nil {
		return nil, err
	}
	switch booster {
	case "gbtree", "dart":
	case "gblinear":
		return nil, unsupportedf("XGBoost linear booster (gblinear); only tree models are read")
	default:
		return nil, unsupportedf("XGBoost booster %q", clip(booster))
	}
	m.FeatureNames, _ = xgbFeatureNames(nil, int(nf))
	gp, err := r.take(xgbGBTreeParamSize, "gbtree parameters")
	if err != nil {
		return nil, err
	}
	numTrees := int32(le.Uint32(gp[0:]))
	if numTrees < 0 {
		return nil, corruptf("XGBoost binary model has num_trees=%d", numTrees)
	}
	if int(numTrees) > lim.MaxTrees {
		return nil, limitf("XGBoost binary model has %d trees, limit %d", numTrees, lim.MaxTrees)
	}
	if slv := int32(le.Uint32(gp[28:])); slv != 0 {
		return nil, unsupportedf("XGBoost binary model with vector leaves (size_leaf_vector=%d)", slv)
	}
	// Each tree takes at least a TreeParam and one node: refuse counts the file
	// cannot hold before allocating for them.
	if int(numTrees) > (len(data)-r.pos)/(xgbTreeParamSize+xgbNodeSize+xgbStatSize) {
		return nil, corruptf("XGBoost binary model claims %d trees but has only %d bytes left", numTrees, len(data)-r.pos)
	}
	budget := nodeBudget{lim: lim}
	raw := make([][]xgbNode, 0, numTrees)
	for ti := 0; ti < int(numTrees); ti++ {
		tp, err := r.take(xgbTreeParamSize, "tree parameters")
		if err != nil {
			return nil, err
		}
		nn := int32(le.Uint32(tp[4:]))
		if nn <= 0 {
			return nil, corruptf("XGBoost binary tree %d has num_nodes=%d", ti, nn)
		}
		if int(nn) > lim.MaxNodesPerTree {
			return nil, limitf("XGBoost binary tree %d has %d nodes, limit %d", ti, nn, lim.MaxNodesPerTree)
		}
		if slv := int32(le.Uint32(tp[20:])); slv != 0 {
			return nil, unsupportedf("XGBoost binary tree %d has vector leaves (size_leaf_vector=%d)", ti, slv)
		}
		nb, err := r.take(int(nn)*xgbNodeSize, "tree nodes")
		if err != nil {
			return nil, err
		}
		sb, err := r.take(int(nn)*xgbStatSize, "tree statistics")
		if err != nil {
			return nil, err
		}
		xs := make([]xgbNode, nn)
		for i := range xs {
			n := nb[i*xgbNodeSize:]
			s := sb[i*xgbStatSize:]
			sindex := le.Uint32(n[12:])
			xs[i] = xgbNode{
				left:        int64(int32(le.Uint32(n[4:]))),
				right:       int64(int32(le.Uint32(n[8:]))),
				feature:     int64(sindex & (1<<31 - 1)),
				defaultLeft: sindex>>31 != 0,
				cond:        math.Float32frombits(le.Uint32(n[16:])),
				gain:        math.Float32frombits(le.Uint32(s[0:])),
				hess:        math.Float32frombits(le.Uint32(s[4:])),
				weight:      math.Float32frombits(le.Uint32(s[8:])),
			}
		}
		raw = append(raw, xs)
	}
	info, err := r.take(int(numTrees)*4, "tree_info")
	if err != nil {
		return nil, err
	}
	for ti := 0; ti < int(numTrees); ti++ {
		if g := int32(le.Uint32(info[ti*4:])); g != 0 {
			return nil, unsupportedf("XGBoost binary tree %d belongs to output group %d: multiclass models are not supported", ti, g)
		}
	}
	weights := make([]float64, numTrees)
	for i := range weights {
		weights[i] = 1
	}
	if booster == "dart" && numTrees > 0 {
		cb, err := r.take(8, "DART weights")
		if err != nil {
			return nil, err
		}
		if c := le.Uint64(cb); c != uint64(numTrees) {
			return nil, corruptf("XGBoost binary DART model has %d weights for %d trees", c, numTrees)
		}
		wb, err := r.take(int(numTrees)*4, "DART weights")
		if err != nil {
			return nil, err
		}
		for i := range weights {
			weights[i] = float64(math.Float32frombits(le.Uint32(wb[i*4:])))
		}
	}
	// Learner attributes (pairs of strings) and evaluation metric names follow;
	// they are skipped, but must be whole so a truncated file is not taken as a
	// model.
	if hasAttrs {
		if err := r.skipStrings(2, "attributes"); err != nil {
			return nil, err
		}
	}
	if hasMetrics {
		if err := r.skipStrings(1, "metric names"); err != nil {
			return nil, err
		}
	}
	if r.pos != len(data) {
		return nil, corruptf("XGBoost binary model: %d unexpected bytes after the model", len(data)-r.pos)
	}
	m.Trees = make([]Tree, 0, numTrees)
	for ti, xs := range raw {
		t, err := xgbBuildTree(xs, ti, int(nf), weights[ti], lim, &budget)
		if err != nil {
			return nil, err
		}
		m.Trees = append(m.Trees, t)
	}
	if err := m.Validate(); err != nil {
		return nil, corruptf("XGBoost binary model: %v", err)
	}
	return m, nil
}
