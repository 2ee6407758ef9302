package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt"
)

func TestModelInspect(t *testing.T) {
	var out, errb bytes.Buffer
	path := filepath.Join("..", "..", "gbdt", "testdata", "xgboost", "binary_depthwise.json")
	if err := runModelInspect(context.Background(), []string{path}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	// Facts of the fixture from make_xgboost_fixtures.py: 12 rounds of depth 4,
	// base_score 0.3, the 10 GMSC features.
	for _, want := range []string{"format       xgboost-json", "objective    binary", "trees        12", "max depth    4", "features     10", "0.300000003 (probability)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := runModelInspect(context.Background(), []string{filepath.Join("..", "..", "gbdt", "testdata", "lightgbm", "lg_rf_iris.model")}, &out, &errb); err == nil || !strings.Contains(err.Error(), "random forest") {
		t.Errorf("random forest: error %v", err)
	}
}

func TestModelConvert(t *testing.T) {
	in := filepath.Join("..", "..", "gbdt", "testdata", "xgboost", "binary_lossguide.ubj")
	out := filepath.Join(t.TempDir(), "model.txt")
	var stdout, stderr bytes.Buffer
	if err := runModelConvert(context.Background(), []string{in, out}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "converted") {
		t.Errorf("no summary line: %q", stdout.String())
	}
	src, _ := os.ReadFile(in)
	dst, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	a, err := gbdt.Parse(src, gbdt.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := gbdt.Parse(dst, gbdt.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Source != "lightgbm-v3" {
		t.Errorf("output source %q", b.Source)
	}
	row := make([]float64, a.NumFeatures())
	for j := range row {
		row[j] = float64(j)
	}
	pa, _ := a.Predict(row)
	pb, _ := b.Predict(row)
	if d := pa - pb; d > 1e-12 || d < -1e-12 {
		t.Errorf("converted model predicts %v, original %v", pb, pa)
	}
	if err := runModelConvert(context.Background(), []string{in, out}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("overwrite without -force: %v", err)
	}
}
