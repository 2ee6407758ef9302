package main

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

var testAUC = regexp.MustCompile(`test auc ([0-9.]+)`)

func trainedAUC(t *testing.T, args ...string) (float64, string) {
	t.Helper()
	out, errOut, code := run(t, append([]string{"train"}, args...)...)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, out, errOut)
	}
	m := testAUC.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no test auc in %q", out)
	}
	auc, _ := strconv.ParseFloat(m[1], 64)
	return auc, errOut
}

// pairAUC is the AUC by counting pairs: an implementation independent of the trainer's.
func pairAUC(score, label []float64) float64 {
	var num, pairs float64
	for i := range score {
		if label[i] != 1 {
			continue
		}
		for j := range score {
			if label[j] != 0 {
				continue
			}
			pairs++
			switch {
			case score[i] > score[j]:
				num++
			case score[i] == score[j]:
				num += 0.5
			}
		}
	}
	return num / pairs
}

// TestTrainOwnFileFindsCategorySignal trains on a TSV whose only signal is a
// set of categories of a text column that are not neighbours in any order the
// loader could pick (frequency, name); the model reaches the AUC of the true
// probabilities within 0.02.
func TestTrainOwnFileFindsCategorySignal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "own.tsv")
	cats := []string{"A11", "A12", "A13", "A14", "A15", "A16", "A17", "A18"}
	risky := map[string]bool{"A12": true, "A15": true, "A17": true}
	var b strings.Builder
	b.WriteString("\uFEFFid\tstatus\tnoise\tbad\n")
	var prob, label []float64
	x := uint64(12345)
	next := func() float64 { x = x*6364136223846793005 + 1442695040888963407; return float64(x>>11) / (1 << 53) }
	for i := 0; i < 6000; i++ {
		c := cats[int(next()*float64(len(cats)))]
		p := 0.1
		if risky[c] {
			p = 0.6
		}
		y := "否"
		l := 0.0
		if next() < p {
			y, l = "是", 1
		}
		prob, label = append(prob, p), append(label, l)
		fmt.Fprintf(&b, "c%d\t%s\t%.4f\t%s\n", i, c, next(), y)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want := pairAUC(prob, label)
	got, errOut := trainedAUC(t, "--data", path, "--target", "bad", "--id", "id", "--test-fraction", "0.3", "--valid-fraction", "0",
		"--rounds", "30", "--out", filepath.Join(dir, "m.txt"))
	if !strings.Contains(errOut, "label 是 → 1, 否 → 0") || !strings.Contains(errOut, "column status: 8 categories") {
		t.Errorf("messages %q lack the label mapping or the category count", errOut)
	}
	if math.Abs(got-want) > 0.02 {
		t.Errorf("test auc %.4f, want within 0.02 of the true probabilities' %.4f", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.card.categories.json")); err != nil {
		t.Errorf("category codes not written: %v", err)
	}
}

// TestTrainOwnFileTaiwanWords writes the Taiwan file's SEX, EDUCATION and
// MARRIAGE as words and trains on it and on the numeric original with the same
// split: the test AUCs agree within 0.005.
func TestTrainOwnFileTaiwanWords(t *testing.T) {
	wd, _ := os.Getwd()
	src := filepath.Join(wd, "..", "..", "..", "shared", "data", "taiwan", "UCI_Credit_Card.csv")
	f, err := os.Open(src)
	if err != nil {
		t.Skipf("Taiwan file absent: %v", err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	words := map[string]map[string]string{
		"SEX":       {"1": "male", "2": "female"},
		"EDUCATION": {"0": "unknown0", "1": "graduate school", "2": "university", "3": "high school", "4": "others", "5": "unknown5", "6": "unknown6"},
		"MARRIAGE":  {"0": "unknown", "1": "married", "2": "single", "3": "others"},
	}
	for j, h := range recs[0] {
		w, ok := words[h]
		if !ok {
			continue
		}
		for _, r := range recs[1:] {
			if r[j] = w[r[j]]; r[j] == "" {
				t.Fatalf("%s: a code without a word", h)
			}
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "taiwan-words.csv")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(out)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	out.Close()
	common := []string{"--target", "default.payment.next.month", "--id", "ID", "--test-fraction", "0.2", "--valid-fraction", "0", "--seed", "42"}
	num, _ := trainedAUC(t, append([]string{"--data", src, "--out", filepath.Join(dir, "num.txt")}, common...)...)
	txt, errOut := trainedAUC(t, append([]string{"--data", path, "--out", filepath.Join(dir, "txt.txt")}, common...)...)
	t.Logf("test auc numeric %.4f, words %.4f", num, txt)
	if math.Abs(num-txt) > 0.005 {
		t.Errorf("test auc with words %.4f, numeric %.4f: more than 0.005 apart", txt, num)
	}
	for _, c := range []string{"SEX", "EDUCATION", "MARRIAGE"} {
		if !strings.Contains(errOut, "column "+c+":") {
			t.Errorf("%s not read as categories: %q", c, errOut)
		}
	}
}

// TestTrainOwnFileRefuses checks the CLI's refusals of a file of one's own.
func TestTrainOwnFileRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.csv")
	if err := os.WriteFile(path, []byte("a,y\n1,good\n2,bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(dir, "m.txt")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--data", path, "--out", m}, "needs --target"},
		{[]string{"--data", path, "--target", "y", "--out", m}, `label values "bad", "good" are not a binary coding`},
		{[]string{"--data", path, "--target", "y", "--weight", "a", "--out", m}, "no row weights"},
		{[]string{"--data", path, "--format", "taiwan", "--time", "a", "--out", m}, "go with a file of your own"},
	}
	for _, tt := range tests {
		_, errOut, code := run(t, append([]string{"train"}, tt.args...)...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("train %s: exit %d, stderr %q, want %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}
	if _, err := os.Stat(m); err == nil {
		t.Error("a refused run wrote a model")
	}
}

type ownParquetRow struct {
	X      float64 `parquet:"x"`
	Sector string  `parquet:"sector"`
	Bad    string  `parquet:"bad"`
}

// TestTrainOwnParquet trains on a Parquet file whose label is yes/no.
func TestTrainOwnParquet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "own.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[ownParquetRow](f)
	var rows []ownParquetRow
	var score, label []float64
	for i := 0; i < 1000; i++ {
		r := ownParquetRow{X: float64(i % 100), Sector: []string{"C", "F", "K"}[i%3], Bad: "no"}
		s, l := 0.0, 0.0
		if i%100 >= 70 {
			s = 1
		}
		if i%100 >= 70 != (i%7 == 0) {
			r.Bad, l = "yes", 1
		}
		rows = append(rows, r)
		score, label = append(score, s), append(label, l)
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, errOut := trainedAUC(t, "--data", path, "--target", "bad", "--test-fraction", "0.3", "--valid-fraction", "0", "--rounds", "20", "--out", filepath.Join(dir, "m.txt"))
	if !strings.Contains(errOut, "parquet; label yes → 1, no → 0") {
		t.Errorf("messages %q lack the format or the label mapping", errOut)
	}
	// x ≥ 70 is bad except every 7th row flipped: the first split is x at 69.5
	// and the test AUC is not far below the rule's (the later trees chase the flips).
	if want := pairAUC(score, label); got < want-0.1 {
		t.Errorf("test auc %.4f, want no less than 0.1 below the rule's %.4f", got, want)
	}
	model, err := os.ReadFile(filepath.Join(dir, "m.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tree0 := string(model[strings.Index(string(model), "Tree=0"):])
	if !strings.Contains(tree0, "split_feature=0 ") || !strings.Contains(tree0, "threshold=69.5 ") {
		t.Errorf("first tree does not split x at 69.5 first:\n%.300s", tree0)
	}
}
