package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// writeStumpModel writes a one-split LightGBM model over the pd/v1 indicators in
// reverse order: margin -0.4 when the last pd/v1 indicator is <= 0.5 (or
// missing), +0.7 otherwise.
func writeStumpModel(t *testing.T, path string) int {
	t.Helper()
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range cat.Sets() {
		if s.Name == "pd" && s.Version == 1 {
			names = slices.Clone(s.Indicators)
		}
	}
	slices.Reverse(names)
	m := &gbdt.Model{Objective: gbdt.Binary, Sigmoid: 1, FeatureNames: names, Trees: []gbdt.Tree{{Nodes: []gbdt.Node{
		{Feature: 0, Threshold: 0.5, Left: 1, Right: 2, Missing: gbdt.MissingNaN, DefaultLeft: true, Count: 100, Cover: 100},
		{Leaf: true, Value: -0.4, Count: 60, Cover: 60}, {Leaf: true, Value: 0.7, Count: 40, Cover: 40}}}}}
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return len(names)
}

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestRegistryCommands(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	model := filepath.Join(dir, "pd.txt")
	n := writeStumpModel(t, model)
	// Golden rows in the file's column order; expected probabilities by hand:
	// 1/(1+exp(0.4)) = 0.401312339887548, 1/(1+exp(-0.7)) = 0.668187772168166.
	row := func(v any) []any {
		r := make([]any, n)
		for i := range r {
			r[i] = 0.0
		}
		r[0] = v
		return r
	}
	golden := map[string]any{"rows": []any{row(0.2), row(3.0), row(nil)}, "expected": []float64{0.401312339887548, 0.668187772168166, 0.401312339887548}}
	bad := map[string]any{"rows": []any{row(0.2)}, "expected": []float64{0.5}}
	// A 12-column XGBoost model over pd/v1 in its own order, saved without names,
	// with XGBoost's own predictions (serving/httpapi/testdata).
	subset := filepath.Join("..", "..", "serving", "httpapi", "testdata", "pd_subset.binf.model")
	var perm map[string]struct {
		Columns    []string  `json:"columns"`
		Rows       []any     `json:"rows"`
		Prediction []float64 `json:"prediction"`
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "serving", "httpapi", "testdata", "permuted.golden.json"))
	if err != nil || json.Unmarshal(b, &perm) != nil {
		t.Fatalf("permuted.golden.json: %v", err)
	}
	sub := perm["pd_subset"]
	for name, v := range map[string]any{"golden.json": golden, "bad.json": bad, "subset.json": map[string]any{"rows": sub.Rows, "expected": sub.Prediction}} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	alice, _, code := run(t, "access", "user", "-store", store, "-institution", "Bank A", "-kind", "bank", "-user", "alice", "-roles", "data_scientist")
	carol, _, code2 := run(t, "access", "user", "-store", store, "-institution", "Bank A", "-user", "carol", "-roles", "approver")
	if code != 0 || code2 != 0 {
		t.Fatalf("access user: %d %d", code, code2)
	}
	alice, carol = strings.TrimSpace(alice), strings.TrimSpace(carol)

	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"register", []string{"model", "register", "-store", store, "-key", alice, "-name", "pd-smb", "-task", "pd", "-file", model, "-set", "pd/v1", "-parity", filepath.Join(dir, "golden.json"), "-metrics", "auc=0.8"}, 0, "registered pd-smb version 1"},
		{"parity failure", []string{"model", "register", "-store", store, "-key", alice, "-name", "pd-smb", "-file", model, "-set", "pd/v1", "-parity", filepath.Join(dir, "bad.json")}, 1, "parity check failed"},
		{"wrong features", []string{"model", "register", "-store", store, "-key", alice, "-name", "pd-smb", "-file", filepath.Join("..", "..", "gbdt", "testdata", "xgboost", "binary_depthwise.json"), "-set", "pd/v1"}, 1, `not in the set ["RevolvingUtilizationOfUnsecuredLines"`},
		{"bad key", []string{"model", "list", "-store", store, "-key", "xy_nope"}, 1, "unauthenticated"},
		{"request champion", []string{"model", "alias", "-store", store, "-key", alice, "-name", "pd-smb", "-alias", "champion", "-version", "1"}, 0, "promotion request 1"},
		{"self approval", []string{"model", "approve", "-store", store, "-key", alice, "-id", "1"}, 1, "approver role"},
		{"approve", []string{"model", "approve", "-store", store, "-key", carol, "-id", "1"}, 0, "promotion 1 approved by carol"},
		{"list", []string{"model", "list", "-store", store, "-key", alice}, 0, "champion=1"},
		{"show", []string{"model", "show", "-store", store, "-key", alice, "-name", "pd-smb"}, 0, "51/51"},
		{"show parity", []string{"model", "show", "-store", store, "-key", alice, "-name", "pd-smb"}, 0, "3 rows, max margin diff"},
		{"history", []string{"model", "history", "-store", store, "-key", alice, "-name", "pd-smb"}, 0, "model.promotion.approve"},
		{"verify", []string{"audit", "verify", "-store", store}, 0, "audit log intact"},
		{"cleanup", []string{"model", "cleanup", "-store", store, "-grace", "0s"}, 0, "1 referenced, 0 young orphans kept, 0 orphans removed"}, // the file is canonical text already: one object
		{"looser tolerance", []string{"model", "register", "-store", store, "-key", alice, "-name", "pd-smb", "-file", model, "-set", "pd/v1", "-parity", filepath.Join(dir, "golden.json"), "-tolerance", "1"}, 1, "platform maximum 0.0001"},
		{"refused new model", []string{"model", "register", "-store", store, "-key", alice, "-name", "pd-new", "-task", "pd", "-file", model, "-set", "pd", "-parity", filepath.Join(dir, "bad.json")}, 1, "parity check failed"},
		{"no model left behind", []string{"model", "show", "-store", store, "-key", alice, "-name", "pd-new"}, 1, "not found"},
		{"unnamed file", []string{"model", "register", "-store", store, "-key", alice, "-name", "vio-sub", "-task", "violation", "-file", subset, "-set", "pd/v1"}, 1, "does not name its columns"},
		{"unnamed file with columns", []string{"model", "register", "-store", store, "-key", alice, "-name", "vio-sub", "-task", "violation", "-file", subset, "-set", "pd",
			"-columns", strings.Join(sub.Columns, ","), "-parity", filepath.Join(dir, "subset.json")}, 0, "12 of 51 features of pd/v1 in its own column order"},
		{"show subset", []string{"model", "show", "-store", store, "-key", alice, "-name", "vio-sub"}, 0, "12/51"},
	}
	for _, s := range steps {
		out, errOut, code := run(t, s.args...)
		if code != s.wantCode || !strings.Contains(out+errOut, s.want) {
			t.Fatalf("%s: exit %d (want %d), output lacks %q:\n%s%s", s.name, code, s.wantCode, s.want, out, errOut)
		}
	}

	// A killed upload's temporary file goes once stale; a write in progress stays.
	killed, live := filepath.Join(store, ".tmp", "put-killed"), filepath.Join(store, ".tmp", "put-live")
	for _, p := range []string{killed, live} {
		if err := os.WriteFile(p, make([]byte, 3000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-45 * time.Minute) // younger than the hour after which opening the store removes it
	if err := os.Chtimes(killed, then, then); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "model", "cleanup", "-store", store, "-temp-grace", "30m")
	if code != 0 || !strings.Contains(out, "1 stale temporary upload files removed (3000 bytes), 1 recent ones kept") || !strings.Contains(errOut, "put-killed") {
		t.Fatalf("cleanup of temporary files: exit %d:\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(killed); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a recent temporary file was removed: %v", err)
	}
	if _, errOut, code := run(t, "model", "cleanup", "-store", store, "-temp-grace", "0s"); code == 0 || !strings.Contains(errOut, "-temp-grace") {
		t.Errorf("-temp-grace 0s: exit %d, %s", code, errOut)
	}

	// Edit one audit record behind the log's back: verify names it.
	db, err := metadb.Open(context.Background(), filepath.Join(store, ".xinyi", "xinyi.db"), metadb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(context.Background(), "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, errOut, code := run(t, "audit", "verify", "-store", store); code != 1 || !strings.Contains(errOut, "seq 3") {
		t.Fatalf("verify after tampering: exit %d, %s", code, errOut)
	}
}
