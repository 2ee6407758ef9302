package gbdt

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/dmitryikh/leaves"
)

// readMatrix reads whitespace-separated numbers, one row per non-empty line.
func readMatrix(t testing.TB, path string) [][]float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float64
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		row := make([]float64, len(fields))
		for i, f := range fields {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			row[i] = v
		}
		out = append(out, row)
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, data []byte) *Model {
	t.Helper()
	m, err := Parse(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// relClose reports whether got is within rel of want, relative to |want|, with
// an absolute floor abs for values near zero.
func relClose(got, want, rel, abs float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+abs
}

// canonical writes m as canonical LightGBM text.
func canonical(t testing.TB, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// loadLeaves loads LightGBM text with leaves; transform selects leaves' own
// sigmoid for binary models.
func loadLeaves(t testing.TB, text []byte, transform bool) *leaves.Ensemble {
	t.Helper()
	e, err := leaves.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(text)), transform)
	if err != nil {
		t.Fatalf("leaves rejects the canonical text: %v", err)
	}
	return e
}

func leavesPredict(t testing.TB, e *leaves.Ensemble, row []float64) float64 {
	t.Helper()
	if e.NFeatures() != len(row) {
		t.Fatalf("leaves model has %d features, row %d", e.NFeatures(), len(row))
	}
	out := make([]float64, 1)
	if err := e.Predict(row, 0, out); err != nil {
		t.Fatal(err)
	}
	return out[0]
}
