package training_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/training"
)

func TestWriteCSV(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		d    *training.Dataset
		want string
	}{
		{"values and missing", &training.Dataset{Features: []string{"a.x", "b"},
			Columns: [][]float64{{1.5, nan, -2e-9}, {nan, 0.1, 1e21}}, Label: []float64{0, 1, 0}},
			"a.x,b,y\n1.5,,0\n,0.1,1\n-2e-09,1e+21,0\n"},
		{"no rows", &training.Dataset{Features: []string{"a"}, Columns: [][]float64{{}}, Label: []float64{}}, "a,y\n"},
		{"quoted header", &training.Dataset{Features: []string{`x,"y"`}, Columns: [][]float64{{3}}, Label: []float64{1}}, "\"x,\"\"y\"\"\",y\n3,1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := training.WriteCSV(&buf, tt.d, "y"); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("ragged", func(t *testing.T) {
		d := &training.Dataset{Features: []string{"a"}, Columns: [][]float64{{1, 2}}, Label: []float64{1}}
		if err := training.WriteCSV(&bytes.Buffer{}, d, "y"); !errors.Is(err, training.ErrInvalidData) {
			t.Errorf("err = %v, want ErrInvalidData", err)
		}
	})
}

// TestWriteCSVRoundTrip reads the text back with the datasets package's CSV reader.
func TestWriteCSVRoundTrip(t *testing.T) {
	nan := math.NaN()
	d := &training.Dataset{Features: []string{"f0", "f1", "f2"},
		Columns: [][]float64{{0.1, 1.0 / 3, nan, 7}, {math.MaxFloat64, -0.0, 5e-324, nan}, {nan, nan, 2, 3}},
		Label:   []float64{1, 0, 0, 1}}
	var buf bytes.Buffer
	if err := training.WriteCSV(&buf, d, "y"); err != nil {
		t.Fatal(err)
	}
	tab, err := datasets.ReadDelimited(&buf, "roundtrip", datasets.Format{Header: true, Target: "y", BinaryTarget: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Release()
	back, err := training.FromArrow(tab.Record, tab.Features, tab.Target)
	if err != nil {
		t.Fatal(err)
	}
	for j := range d.Columns {
		for i, want := range d.Columns[j] {
			got := back.Columns[j][i]
			if math.IsNaN(want) != math.IsNaN(got) || !math.IsNaN(want) && got != want {
				t.Errorf("%s row %d = %v, want %v", d.Features[j], i, got, want)
			}
		}
	}
	for i, want := range d.Label {
		if back.Label[i] != want {
			t.Errorf("label row %d = %v, want %v", i, back.Label[i], want)
		}
	}
}

func BenchmarkWriteCSV(b *testing.B) {
	const rows, width = 100_000, 50
	d := &training.Dataset{Features: make([]string, width), Columns: make([][]float64, width), Label: make([]float64, rows)}
	for j := range d.Columns {
		d.Features[j] = "f" + string(rune('a'+j%26)) + string(rune('a'+j/26))
		d.Columns[j] = make([]float64, rows)
		for i := range d.Columns[j] {
			d.Columns[j][i] = float64((i*31+j*17)%1000) / 7
			if (i+j)%9 == 0 {
				d.Columns[j][i] = math.NaN()
			}
		}
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := training.WriteCSV(&buf, d, "y"); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportMetric(rows, "rows/op")
}
