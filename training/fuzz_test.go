package training

import (
	"context"
	"encoding/binary"
	"math"
	"testing"
)

// datasetFromBytes decodes fuzz input into a small data set: the first byte
// picks the feature count, then each row takes one byte of label and eight
// bytes per feature (any float64 bit pattern: NaN, Inf, subnormals).
func datasetFromBytes(b []byte) *Dataset {
	if len(b) < 1 {
		return nil
	}
	nf := int(b[0]%4) + 1
	b = b[1:]
	rowLen := 1 + 8*nf
	n := len(b) / rowLen
	d := &Dataset{Features: make([]string, nf), Columns: make([][]float64, nf), Label: make([]float64, n)}
	for j := range nf {
		d.Features[j] = string(rune('a' + j))
		d.Columns[j] = make([]float64, n)
	}
	for i := range n {
		r := b[i*rowLen:]
		d.Label[i] = float64(r[0] & 1)
		for j := range nf {
			d.Columns[j][i] = math.Float64frombits(binary.LittleEndian.Uint64(r[1+8*j:]))
		}
	}
	return d
}

// FuzzTrain feeds arbitrary matrices to the trainer: it must either refuse
// them with an error or return a valid model whose predictions are finite and
// that honours its monotone constraints.
func FuzzTrain(f *testing.F) {
	seed := make([]byte, 1+40*9)
	for i := range 40 {
		seed[1+i*9] = byte(i % 2)
		binary.LittleEndian.PutUint64(seed[2+i*9:], math.Float64bits(float64(i%7)))
	}
	f.Add(seed)
	nanSeed := append([]byte(nil), seed...)
	binary.LittleEndian.PutUint64(nanSeed[2:], math.Float64bits(math.NaN()))
	f.Add(nanSeed)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := datasetFromBytes(b)
		if d == nil {
			return
		}
		p := DefaultParams()
		p.NumRounds, p.MinDataInLeaf, p.NumLeaves, p.Threads = 3, 1, 4, 2
		p.Monotone = make([]int8, len(d.Features))
		p.Monotone[0] = 1
		m, _, err := Train(context.Background(), d, nil, p)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("invalid model: %v", err)
		}
		mg, err := Margins(m, d, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range mg {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("row %d margin %v", i, v)
			}
		}
		checks, err := CheckMonotone(m, d, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range checks {
			if !c.OK {
				t.Fatalf("monotone constraint violated: %+v", c)
			}
		}
	})
}

// FuzzMetrics checks that the metrics accept or refuse any label/score pair
// cleanly, and that AUC stays within [0, 1] and equals (1+Gini)/2.
func FuzzMetrics(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 10, 20, 20, 30})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := len(b) / 2
		y, s := make([]float64, n), make([]float64, n)
		for i := range n {
			y[i] = float64(b[i] & 1)
			s[i] = float64(b[n+i]) / 255
		}
		auc, err := AUC(y, s)
		if err != nil {
			return
		}
		if auc < 0 || auc > 1 {
			t.Fatalf("AUC %v", auc)
		}
		g, _ := Gini(y, s)
		if math.Abs(g-(2*auc-1)) > 1e-12 {
			t.Fatalf("Gini %v, AUC %v", g, auc)
		}
		ks, err := KS(y, s)
		if err != nil || ks < 0 || ks > 1 {
			t.Fatalf("KS %v %v", ks, err)
		}
		if _, err := PSI(s, y, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := Lift(y, s); err != nil {
			t.Fatal(err)
		}
		if _, err := LogLoss(y, s); err != nil {
			t.Fatal(err)
		}
	})
}
