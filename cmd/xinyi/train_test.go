package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTrainOnSample runs the bank flow through the CLI on a generated universe:
// materialize, build samples, train on them with the catalog's constraints and
// register the models with the samples as lineage.
func TestTrainOnSample(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "u")
	setup := [][]string{
		{"generate", "--companies", "1500", "--months", "36", "--seed", "7", "--out", store, "--quiet"},
		{"features", "materialize", "--store", store, "--set", "pd", "--asof", "2023-09-30,2023-12-31,2024-03-31,2024-06-30,2024-09-30,2024-12-31"},
		{"features", "sample", "--store", store, "--set", "pd", "--name", "pd-q", "--from", "2023-09-30", "--to", "2024-12-31", "--build-at", "2025-12-31"},
		{"features", "sample", "--store", store, "--set", "pd", "--label", "limit", "--name", "lim-q", "--from", "2023-09-30", "--to", "2024-12-31", "--build-at", "2025-12-31"},
	}
	for _, args := range setup {
		if out, errOut, code := run(t, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args[:2], " "), code, out, errOut)
		}
	}
	key, _, code := run(t, "access", "user", "-store", store, "-institution", "Bank A", "-kind", "bank", "-user", "alice", "-roles", "data_scientist")
	if code != 0 {
		t.Fatalf("access user: exit %d", code)
	}
	key = strings.TrimSpace(key)
	keyB, _, code := run(t, "access", "user", "-store", store, "-institution", "Bank B", "-kind", "bank", "-user", "bob", "-roles", "data_scientist")
	if code != 0 {
		t.Fatalf("access user: exit %d", code)
	}
	keyB = strings.TrimSpace(keyB)
	train := func(extra ...string) []string {
		return append([]string{"train", "--store", store, "--rounds", "30", "--threads", "2"}, extra...)
	}
	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"register pd", train("--sample", "pd-q", "--out", filepath.Join(dir, "pd.txt"), "--register", "pd-store", "--key", key, "--code-version", "abc123"), 0,
			[]string{"sample pd-q/v1: trained", "; test auc 0.", "; registered pd-store v1"}},
		{"register limit", train("--sample", "lim-q/v1", "--out", filepath.Join(dir, "lim.txt"), "--register", "lim-store", "--key", key), 0,
			[]string{"sample lim-q/v1: trained", "; valid rmse of log 0.", "; test median error ", "%, rmse of log ", " yuan; ", " rows with a limit of 0 left out", "; registered lim-store v1"}},
		{"limit with L2 on yuan", train("--sample", "lim-q/v1", "--objective", "regression", "--out", filepath.Join(dir, "lim-l2.txt")), 0,
			[]string{"; valid rmse ", " yuan; test rmse ", " yuan; model "}},
		{"limit as binary", train("--sample", "lim-q/v1", "--objective", "binary", "--out", filepath.Join(dir, "x.txt")), 1,
			[]string{"--objective binary: ", "label limit of sample lim-q/v1, which needs gamma"}},
		{"name of another bank", train("--sample", "pd-q", "--out", filepath.Join(dir, "b.txt"), "--register", "pd-store", "--key", keyB), 1,
			[]string{`the model name "pd-store" is taken by another institution`, "choose another, e.g. --register pd-store-bank-b"}},
		{"shared without register", train("--sample", "pd-q", "--out", filepath.Join(dir, "x.txt"), "--shared"), 1, []string{"--shared goes with --register"}},
		{"no constraints", train("--sample", "pd-q", "--out", filepath.Join(dir, "free.txt"), "--monotone", "none"), 0, []string{"test auc"}},
		{"own constraints", train("--sample", "pd-q", "--out", filepath.Join(dir, "own.txt"), "--monotone", "company.age_months=-1"), 0, []string{"test auc"}},
		{"export", []string{"train", "--store", store, "--sample", "pd-q", "--export-csv", filepath.Join(dir, "pd-q")}, 0, []string{"pd-q.test.csv"}},
		{"unknown sample", train("--sample", "nope", "--out", filepath.Join(dir, "x.txt")), 1, []string{`unknown sample: no sample named "nope"`}},
		{"unknown version", train("--sample", "pd-q/v7", "--out", filepath.Join(dir, "x.txt")), 1, []string{"pd-q has no version 7 (versions v1)"}},
		{"sample and data", train("--sample", "pd-q", "--data", "x.csv", "--format", "gmsc", "--out", filepath.Join(dir, "x.txt")), 1, []string{"not both"}},
		{"wrong objective", train("--sample", "pd-q", "--objective", "regression", "--out", filepath.Join(dir, "x.txt")), 1, []string{"needs binary"}},
		{"register a file", []string{"train", "--data", "x.csv", "--format", "gmsc", "--out", filepath.Join(dir, "x.txt"), "--register", "m"}, 1, []string{"--register needs --sample"}},
		{"bad key", train("--sample", "pd-q", "--out", filepath.Join(dir, "x.txt"), "--register", "m", "--key", "xy_nope"), 1, []string{"unauthenticated"}},
		{"unknown indicator", train("--sample", "pd-q", "--out", filepath.Join(dir, "x.txt"), "--monotone", "age=-1"), 1, []string{"age"}},
	}
	for _, s := range steps {
		out, errOut, code := run(t, s.args...)
		for _, want := range s.want {
			if code != s.wantCode || !strings.Contains(out+errOut, want) {
				t.Fatalf("%s: exit %d (want %d), output lacks %q:\n%s%s", s.name, code, s.wantCode, want, out, errOut)
			}
		}
	}

	// The registered version's lineage is the sample, with the digest of its manifest
	// computed here from the file (the local store writes one header line before it).
	file, err := os.ReadFile(filepath.Join(store, "samples", "pd-q", "v1", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, manifest, ok := bytes.Cut(file, []byte("\n"))
	if !ok {
		t.Fatal("manifest file has no header line")
	}
	sum := sha256.Sum256(manifest)
	out, errOut, code := run(t, "model", "show", "-store", store, "-key", key, "-name", "pd-store", "-version", "1")
	if code != 0 {
		t.Fatalf("model show: exit %d: %s", code, errOut)
	}
	var v struct {
		FeatureSet        string             `json:"feature_set"`
		FeatureSetVersion int                `json:"feature_set_version"`
		Metrics           map[string]float64 `json:"metrics"`
		ModelCard         json.RawMessage    `json:"model_card"`
		Lineage           map[string]any     `json:"lineage"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("model show output: %v\n%s", err, out)
	}
	wantLineage := map[string]any{"kind": "trained", "sample": "pd-q", "sample_version": 1.0, "sample_manifest": "samples/pd-q/v1/manifest.json",
		"sample_manifest_sha256": hex.EncodeToString(sum[:]), "code_version": "abc123"}
	for k, want := range wantLineage {
		if v.Lineage[k] != want {
			t.Errorf("lineage %s = %v, want %v", k, v.Lineage[k], want)
		}
	}
	if note, _ := v.Lineage["note"].(string); !strings.HasPrefix(note, "label default_12m: 1 when a default event occurs within 12 months") ||
		!strings.Contains(note, "built as of 2025-12-31") {
		t.Errorf("lineage note = %q", note)
	}
	if v.FeatureSet != "pd" || v.FeatureSetVersion != 1 || v.Metrics["test_auc"] <= 0.5 || len(v.ModelCard) == 0 {
		t.Errorf("version bound to %s/v%d, metrics %v", v.FeatureSet, v.FeatureSetVersion, v.Metrics)
	}

	// The limit model is a gamma model in its file, and the registry holds its
	// relative errors, those of the card.
	if text, err := os.ReadFile(filepath.Join(dir, "lim.txt")); err != nil || !strings.Contains(string(text), "\nobjective=gamma\n") {
		t.Errorf("lim.txt is not a gamma model (%v)", err)
	}
	out, errOut, code = run(t, "model", "show", "-store", store, "-key", key, "-name", "lim-store", "-version", "1")
	if code != 0 {
		t.Fatalf("model show: exit %d: %s", code, errOut)
	}
	var lim struct {
		Objective string             `json:"objective"`
		Metrics   map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &lim); err != nil {
		t.Fatalf("model show output: %v\n%s", err, out)
	}
	var limCard struct {
		Metrics map[string]struct {
			MdAPE   float64 `json:"mdape"`
			RMSELog float64 `json:"rmse_log"`
		} `json:"metrics"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lim.card.json")); err != nil || json.Unmarshal(b, &limCard) != nil {
		t.Fatalf("lim.card.json: %v", err)
	}
	if lim.Objective != "gamma" || lim.Metrics["test_mdape"] != limCard.Metrics["test"].MdAPE || !(lim.Metrics["test_mdape"] > 0) ||
		lim.Metrics["valid_rmse_log"] != limCard.Metrics["valid"].RMSELog || !(lim.Metrics["valid_rmse_log"] > 0) {
		t.Errorf("limit version objective %q metrics %v, card %+v", lim.Objective, lim.Metrics, limCard.Metrics)
	}

	// The constraints: catalog/indicators.yaml has company.age_months higher_better
	// (-1 for default risk) and customs.imports.sum_12m none.
	direction := func(card string, feature string) (int, bool) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, card))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Monotonicity []struct {
				Feature   string `json:"feature"`
				Direction int    `json:"direction"`
				OK        bool   `json:"ok"`
			} `json:"monotonicity"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		for _, m := range c.Monotonicity {
			if !m.OK {
				t.Errorf("%s: constraint on %s violated", card, m.Feature)
			}
			if m.Feature == feature {
				return m.Direction, true
			}
		}
		return 0, false
	}
	for _, tc := range []struct {
		card, feature string
		want          int
		constrained   bool
	}{
		{"pd.card.json", "company.age_months", -1, true},
		{"lim.card.json", "company.age_months", +1, true}, // a larger limit for an older company
		{"pd.card.json", "customs.imports.sum_12m", 0, false},
		{"free.card.json", "company.age_months", 0, false},
		{"own.card.json", "company.age_months", -1, true},
		{"own.card.json", "court.amount.count_24m", 0, false},
	} {
		if got, ok := direction(tc.card, tc.feature); ok != tc.constrained || got != tc.want {
			t.Errorf("%s: %s constrained %v direction %+d, want %v %+d", tc.card, tc.feature, ok, got, tc.constrained, tc.want)
		}
	}

	// The export has the header and one line per row of each split.
	head := regexp.MustCompile(`\(([0-9]+) rows\)`)
	out, _, _ = run(t, "train", "--store", store, "--sample", "pd-q", "--export-csv", filepath.Join(dir, "pd-q"))
	counts := head.FindAllStringSubmatch(out, -1)
	for i, split := range []string{"train", "valid", "test"} {
		b, err := os.ReadFile(filepath.Join(dir, "pd-q."+split+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(counts) != 3 || counts[i][1] != strconv.Itoa(len(lines)-1) {
			t.Errorf("%s: %d data lines, summary %q", split, len(lines)-1, out)
		}
		if fields := strings.Split(lines[0], ","); fields[len(fields)-1] != "default_12m" || fields[0] != "tax.sales.sum_12m" {
			t.Errorf("%s header = %s", split, lines[0])
		}
	}
}
