package gbdt

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt/gbdttest"
)

// TestTruncatedFiles cuts every fixture at many points: each prefix must give a
// clear error (never a panic, never a model).
func TestTruncatedFiles(t *testing.T) {
	files := []string{
		filepath.Join(lgbDir, "model_simple.txt"),
		filepath.Join(lgbDir, "lg_dart_breast_cancer.model"),
	}
	for _, name := range xgbFixtures[:2] {
		for _, f := range xgbFormats {
			files = append(files, filepath.Join(xgbDir, name+f.ext))
		}
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data := readFile(t, file)
			step := max(1, len(data)/300)
			for n := 0; n < len(data); n += step {
				m, err := Parse(data[:n], Limits{})
				if err == nil {
					// A LightGBM file cut inside the trailing parameters section is
					// still a whole model; anything else must fail.
					if !strings.Contains(string(data[:n]), "end of trees") {
						t.Fatalf("prefix of %d bytes parsed into %d trees", n, len(m.Trees))
					}
					continue
				}
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrInvalid) {
					t.Fatalf("prefix of %d bytes: error %v is not ErrCorrupt/ErrFormat/ErrInvalid", n, err)
				}
			}
		})
	}
}

func TestXGBoostRefusals(t *testing.T) {
	js := string(readFile(t, filepath.Join(xgbDir, "binary_depthwise.json")))
	bin := readFile(t, filepath.Join(xgbDir, "binary_depthwise.binf.model"))
	ubj := readFile(t, filepath.Join(xgbDir, "binary_depthwise.ubj"))

	// Legacy binary offsets (after the 4-byte "binf"): objective string at 4+136,
	// gbtree parameters after "binary:logistic" and "gbtree".
	gbtreeParam := 4 + 136 + 8 + len("binary:logistic") + 8 + len("gbtree")
	firstTree := gbtreeParam + 160
	patch := func(off int, v uint32) []byte {
		b := append([]byte(nil), bin...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	// A UBJSON typed array whose count claims far more elements than the file has.
	hugeUBJ := []byte("{L\x00\x00\x00\x00\x00\x00\x00\x01a[$d#L\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00}")

	tests := []struct {
		name string
		data []byte
		lim  Limits
		err  error
		says string
	}{
		{"json multiclass", []byte(strings.Replace(js, `"num_class":"0"`, `"num_class":"3"`, 1)), Limits{}, ErrUnsupported, "multiclass"},
		{"json softprob", []byte(strings.Replace(js, `"name":"binary:logistic"`, `"name":"multi:softprob"`, 1)), Limits{}, ErrUnsupported, "multi:softprob"},
		{"json poisson", []byte(strings.Replace(js, `"name":"binary:logistic"`, `"name":"count:poisson"`, 1)), Limits{}, ErrUnsupported, "count:poisson"},
		{"json gblinear", []byte(strings.Replace(js, `"name":"gbtree"`, `"name":"gblinear"`, 1)), Limits{}, ErrUnsupported, "gblinear"},
		{"json huge num_trees", []byte(strings.Replace(js, `"num_trees":"12"`, `"num_trees":"999999999"`, 1)), Limits{}, ErrLimit, "trees"},
		{"json huge num_nodes", []byte(strings.Replace(js, `"num_nodes":"29"`, `"num_nodes":"2000000000"`, 1)), Limits{}, ErrLimit, "nodes"},
		{"json short array", []byte(strings.Replace(js, `"num_nodes":"29"`, `"num_nodes":"30"`, 1)), Limits{}, ErrCorrupt, "num_nodes=30"},
		{"json too many features", []byte(js), Limits{MaxFeatures: 5}, ErrLimit, "features"},
		{"json oversized", []byte(js), Limits{MaxBytes: 1000}, ErrLimit, "bytes"},
		{"json not a model", []byte(`{"hello": 1}`), Limits{}, ErrFormat, "learner"},
		{"ubj huge count", hugeUBJ, Limits{}, ErrCorrupt, "larger than the file"},
		{"ubj count beyond file", []byte("{U\x01a[$d#U\x64" + strings.Repeat("\x00", 120) + "}"), Limits{}, ErrCorrupt, "claims 100 elements"},
		{"ubj control char", []byte("{U\x01a[$C#U\x02\x01\x01}"), Limits{}, ErrCorrupt, "char 0x1 is not printable ASCII"},
		{"ubj too deep", []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)), Limits{}, ErrFormat, ""},
		{"ubj nested too deep", append([]byte("{U\x01a"), []byte(strings.Repeat("[", 100)+strings.Repeat("]", 100)+"}")...), Limits{}, ErrCorrupt, "nested"},
		{"ubj depth", ubj, Limits{MaxDepth: 2}, ErrLimit, "deeper"},
		{"binary huge num_trees", patch(gbtreeParam, 1<<30), Limits{}, ErrLimit, "trees"},
		{"binary num_trees beyond file", patch(gbtreeParam, 9000), Limits{}, ErrCorrupt, "claims 9000 trees"},
		{"binary huge num_nodes", patch(firstTree+4, 1<<30), Limits{}, ErrLimit, "nodes"},
		{"binary num_nodes beyond file", patch(firstTree+4, 200000), Limits{}, ErrCorrupt, "truncated"},
		{"binary multiclass", patch(4+8, 3), Limits{}, ErrUnsupported, "multiclass"},
		{"binary features", patch(4+4, 50000), Limits{}, ErrLimit, "features"},
		{"binary oversized", bin, Limits{MaxBytes: 100}, ErrLimit, "bytes"},
		{"empty", nil, Limits{}, ErrFormat, ""},
		{"garbage", []byte("\x00\x01\x02 hello"), Limits{}, ErrFormat, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data, tc.lim)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

// TestLightGBMNodesAfterLists: a tree that claims the most leaves allowed and
// lists only their values (2 bytes each) must be refused before its 262,143
// nodes (31 MB) are allocated.
func TestLightGBMNodesAfterLists(t *testing.T) {
	const leaves = 1 << 17
	data := []byte("tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\nobjective=regression\n\n" +
		"Tree=0\nnum_leaves=" + strconv.Itoa(leaves) + "\nleaf_value=" + strings.Repeat("0 ", leaves) + "\nshrinkage=1\n\nend of trees\n")
	var err error
	alloc, _ := gbdttest.Cost(func() { _, err = Parse(data, Limits{}) })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no split_feature line") {
		t.Fatalf("error %v, want ErrCorrupt about split_feature", err)
	}
	// The leaf values themselves take 1 MiB and the text a copy of 256 KiB.
	if alloc > 4<<20 {
		t.Errorf("allocated %d bytes refusing a %d-byte file", alloc, len(data))
	}
}
