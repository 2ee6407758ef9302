package labtest

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EvaluationCSV is a labelled evaluation file of the breast-cancer test rows,
// repeated four times: the outcome is 1 when LightGBM's prediction is above
// 0.5, flipped in the fourth copy (testdata is lab/testdata). It returns the file and the AUC of
// LightGBM's own predictions on it, counted by pairs.
func EvaluationCSV(t testing.TB, testdata string) ([]byte, float64) {
	t.Helper()
	feats, err := os.ReadFile(filepath.Join(testdata, "breast_cancer_test.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	preds, err := os.ReadFile(filepath.Join(testdata, "lg_dart_breast_cancer_true_predictions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fl := strings.Split(strings.TrimSpace(string(feats)), "\n")
	pl := strings.Split(strings.TrimSpace(string(preds)), "\n")
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	var score, label []float64
	for copyN := range 4 {
		for i := range fl {
			f := strings.Split(strings.TrimRight(fl[i], "\t\r"), "\t")
			var p float64
			fmt.Sscan(pl[i], &p)
			y := 0.0
			if (p > 0.5) != (copyN == 3) {
				y = 1
			}
			_ = w.Write(append(f[:30], fmt.Sprint(y)))
			score, label = append(score, p), append(label, y)
		}
	}
	w.Flush()
	var num, pairs float64
	for i := range score {
		for j := range score {
			if label[i] == 1 && label[j] == 0 {
				pairs++
				switch {
				case score[i] > score[j]:
					num++
				case score[i] == score[j]:
					num += 0.5
				}
			}
		}
	}
	return buf.Bytes(), num / pairs
}
