package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var divisionsOut = flag.String("divisions-out", "", "write the generated divisions file here (for testdata/owntrain/xgboost_divisions.py)")

// divisionRanges are the GB/T 4754-2017 sections with their first and last
// division codes (97 divisions in all).
var divisionRanges = []struct {
	section  string
	from, to int
}{
	{"A", 1, 5}, {"B", 6, 12}, {"C", 13, 43}, {"D", 44, 46}, {"E", 47, 50}, {"F", 51, 52}, {"G", 53, 60},
	{"H", 61, 62}, {"I", 63, 65}, {"J", 66, 69}, {"K", 70, 70}, {"L", 71, 72}, {"M", 73, 75}, {"N", 76, 79},
	{"O", 80, 82}, {"P", 83, 83}, {"Q", 84, 85}, {"R", 86, 90}, {"S", 91, 96}, {"T", 97, 97},
}

// writeDivisions writes a company sample with three text columns, the
// district, the industry section and the high-cardinality industry division
// (GB/T 4754 codes such as C13), four numeric columns (x2 missing for a tenth
// of the rows) and a label whose log-odds carry an effect of each division
// that no order of the division codes follows. A "fold" column marks a quarter
// of the rows (1) as the test set. It returns the file's sha256.
func writeDivisions(t *testing.T, path string, n int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(4754, 2017))
	type div struct {
		code, section string
		effect        float64
	}
	var divs []div
	for _, r := range divisionRanges {
		for c := r.from; c <= r.to; c++ {
			divs = append(divs, div{fmt.Sprintf("%s%02d", r.section, c), r.section, 0.8 * rng.NormFloat64()})
		}
	}
	// Frequencies fall with a division's rank, in a shuffled order.
	cum := make([]float64, len(divs))
	order := rng.Perm(len(divs))
	total := 0.0
	for k, i := range order {
		w := 1 / math.Pow(float64(k+1), 0.8)
		total += w
		cum[i] = w
	}
	acc := 0.0
	for i := range cum {
		acc += cum[i] / total
		cum[i] = acc
	}
	districts := []string{"禅城区", "南海区", "顺德区", "高明区", "三水区"}
	distEffect := []float64{0.3, -0.2, 0, 0.4, -0.5}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	w := bufio.NewWriter(f)
	out := func(s string) { w.WriteString(s); h.Write([]byte(s)) }
	out("id,district,industry,division,x1,x2,x3,x4,fold,bad\n")
	for i := range n {
		u := rng.Float64()
		d := 0
		for d < len(cum)-1 && cum[d] < u {
			d++
		}
		k := rng.IntN(len(districts))
		x1, x2, x3, x4 := rng.NormFloat64(), rng.NormFloat64(), rng.Float64(), rng.Float64()
		z := -1.6 + divs[d].effect + distEffect[k] + 0.8*x1 - 0.5*x2 + math.Sin(6*x3)
		x2s := strconv.FormatFloat(x2, 'f', 4, 64)
		if rng.Float64() < 0.1 {
			x2s = ""
		}
		fold := 0
		if rng.Float64() < 0.25 {
			fold = 1
		}
		bad := 0
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			bad = 1
		}
		out(fmt.Sprintf("%d,%s,%s,%s,%.4f,%s,%.4f,%.4f,%d,%d\n", i+1, districts[k], divs[d].section, divs[d].code, x1, x2s, x3, x4, fold, bad))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestTrainOwnFileDivisions trains on the generated divisions file with the
// split and parameters of testdata/owntrain/xgboost_divisions.py: the test
// AUC is within 0.005 of XGBoost 1.7.4's with native categorical support, as
// that script recorded it for this very file (its sha256 is checked), and the
// model splits the division by category sets.
func TestTrainOwnFileDivisions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "divisions.csv")
	if *divisionsOut != "" {
		path = *divisionsOut
	}
	digest := writeDivisions(t, path, 40000)
	rec, err := os.ReadFile(filepath.Join("testdata", "owntrain", "xgboost_divisions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var wantDigest string
	xgbAUC := math.NaN()
	for _, line := range strings.Split(string(rec), "\n") {
		if v, ok := strings.CutPrefix(line, "sha256 "); ok {
			wantDigest = v
		}
		if v, ok := strings.CutPrefix(line, "xgboost 1.7.4 native categorical: test auc "); ok {
			xgbAUC, _ = strconv.ParseFloat(v, 64)
		}
	}
	if digest != wantDigest {
		t.Fatalf("the generated file changed (sha256 %s, XGBoost's figures are for %s): rerun\n  go test -run TestTrainOwnFileDivisions ./cmd/xinyi -args -divisions-out /tmp/divisions.csv\n  /usr/bin/python3 testdata/owntrain/xgboost_divisions.py /tmp/divisions.csv > testdata/owntrain/xgboost_divisions.txt", digest, wantDigest)
	}
	if math.IsNaN(xgbAUC) {
		t.Fatalf("no XGBoost AUC in xgboost_divisions.txt:\n%s", rec)
	}
	model := filepath.Join(dir, "m.txt")
	got, errOut := trainedAUC(t, "--data", path, "--target", "bad", "--id", "id", "--time", "fold", "--test-fraction", "0.25",
		"--valid-fraction", "0", "--l2", "1", "--out", model)
	t.Logf("test auc %.4f, XGBoost native categorical %.4f", got, xgbAUC)
	if got < xgbAUC-0.005 {
		t.Errorf("test auc %.4f, more than 0.005 below XGBoost's %.4f", got, xgbAUC)
	}
	if !strings.Contains(errOut, "column division: 97 categories") {
		t.Errorf("division not read as 97 categories:\n%s", errOut)
	}
	text, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "cat_threshold=") {
		t.Error("model has no category-set split")
	}
}
