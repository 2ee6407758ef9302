package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/text/encoding/simplifiedchinese"
)

func TestReadTrainFile(t *testing.T) {
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("id\t行业\tx\t违约\nA\t制造业\t1.5\t是\nB\t金融业\tNA\t否\nC\t制造业\t\t是\n")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in  string
		opts      TrainFileOptions
		wantFeat  []string
		wantLabel []float64
		wantNote  string
		wantCol0  []float64 // NaN as -1
		wantCats  []string
		wantDelim byte
	}{
		{"csv with bom, labels 1/2", "\uFEFFa,target\n3,2\nnull,1\n5,2\n", TrainFileOptions{Target: "target"},
			[]string{"a"}, []float64{1, 0, 1}, "label 2 → 1, 1 → 0", []float64{3, -1, 5}, nil, ','},
		{"tsv gbk 是/否 with id", gbk, TrainFileOptions{Target: "违约", ID: "id"},
			[]string{"行业", "x"}, []float64{1, 0, 1}, "label 是 → 1, 否 → 0", []float64{0, 1, 0}, []string{"制造业", "金融业"}, '\t'},
		{"semicolon yes/no, forced categorical", "k;y\n7;Yes\n8;no\n7;yes\n", TrainFileOptions{Target: "y", Categorical: []string{"k"}},
			[]string{"k"}, []float64{1, 0, 1}, "label Yes → 1, no → 0", []float64{0, 1, 0}, []string{"7", "8"}, ';'},
		{"true/false, only one class present", "a,t\n1,TRUE\n2,TRUE\n", TrainFileOptions{Target: "t"},
			[]string{"a"}, []float64{1, 1}, "label TRUE → 1", []float64{1, 2}, nil, ','},
		{"rare categories merged", "c,t\na,0\na,1\nb,0\nb,1\nc,0\nd,1\nNaN,0\n", TrainFileOptions{Target: "t", MaxCategories: 3},
			[]string{"c"}, []float64{0, 1, 0, 1, 0, 1, 0}, "label 1 → 1, 0 → 0", []float64{0, 0, 1, 1, 2, 2, -1}, []string{"a", "b", OtherCategory}, ','},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tf, err := ReadTrainFile(strings.NewReader(tt.in), -1, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(tf.Features, "|"); got != strings.Join(tt.wantFeat, "|") {
				t.Errorf("features %s, want %s", got, strings.Join(tt.wantFeat, "|"))
			}
			if tf.LabelNote != tt.wantNote {
				t.Errorf("note %q, want %q", tf.LabelNote, tt.wantNote)
			}
			if tf.Delimiter != tt.wantDelim {
				t.Errorf("delimiter %q, want %q", tf.Delimiter, tt.wantDelim)
			}
			for i, want := range tt.wantLabel {
				if tf.Label[i] != want {
					t.Errorf("label[%d] %v, want %v", i, tf.Label[i], want)
				}
			}
			for i, want := range tt.wantCol0 {
				got := tf.Columns[0][i]
				if math.IsNaN(got) {
					got = -1
				}
				if got != want {
					t.Errorf("col0[%d] %v, want %v", i, got, want)
				}
			}
			if got := strings.Join(tf.Categories[tf.Features[0]], "|"); got != strings.Join(tt.wantCats, "|") {
				t.Errorf("categories %s, want %s", got, strings.Join(tt.wantCats, "|"))
			}
		})
	}
}

func TestReadTrainFileRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		size     int64
		opts     TrainFileOptions
		want     string
	}{
		{"unknown label values", "a,t\n1,good\n2,bad\n3,ugly\n", -1, TrainFileOptions{Target: "t"}, `label values "bad", "good", "ugly" are not a binary coding`},
		{"two unknown label values", "a,t\n1,good\n2,bad\n", -1, TrainFileOptions{Target: "t"}, `label values "bad", "good"`},
		{"ragged row", "a,b,t\n1,2,0\n1,1\n", -1, TrainFileOptions{Target: "t"}, "line 3 has 2 fields, the header has 3"},
		{"1 GB claimed", "a,t\n1,0\n", 1 << 30, TrainFileOptions{Target: "t", MaxCells: 1000}, "the file has 1073741824 bytes"},
		{"cells over bound", "a,b,t\n1,2,0\n1,2,1\n1,2,1\n", -1, TrainFileOptions{Target: "t", MaxCells: 7}, "exceeds the bound of 7 cells"},
		{"no target column", "a,b\n1,2\n", -1, TrainFileOptions{Target: "t"}, `target column "t" is not in the file (columns: a, b)`},
		{"missing label", "a,t\n1,\n", -1, TrainFileOptions{Target: "t"}, "line 2: the label"},
		{"header only", "a,t\n", -1, TrainFileOptions{Target: "t"}, "no rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadTrainFile(strings.NewReader(tt.in), tt.size, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !errors.Is(err, ErrTrainFile) && !errors.Is(err, ErrFormat) {
				t.Errorf("error %v is neither ErrTrainFile nor ErrFormat", err)
			}
		})
	}
}

func FuzzReadTrainFile(f *testing.F) {
	f.Add([]byte("a,target\n1,0\n2,1\n"))
	f.Add([]byte("\uFEFFc\tt\n\"x\ty\"\tyes\nNA\tno\n"))
	f.Add([]byte("a;t\n\"unclosed;1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		tf, err := ReadTrainFile(bytes.NewReader(in), int64(len(in)), TrainFileOptions{Target: "t", MaxCells: 10000, MaxCategories: 4})
		if err != nil {
			return
		}
		for j, c := range tf.Columns {
			if len(c) != len(tf.Label) {
				t.Fatalf("column %d has %d rows, label %d", j, len(c), len(tf.Label))
			}
			if cats, ok := tf.Categories[tf.Features[j]]; ok {
				if len(cats) > 4 {
					t.Fatalf("%d categories over the bound 4", len(cats))
				}
				for _, v := range c {
					if !math.IsNaN(v) && (v < 0 || int(v) >= len(cats)) {
						t.Fatalf("code %v outside %d categories", v, len(cats))
					}
				}
			}
		}
		for _, l := range tf.Label {
			if l != 0 && l != 1 {
				t.Fatalf("label %v", l)
			}
		}
	})
}

type trainParquetRow struct {
	Income   *float64 `parquet:"income,optional"`
	Industry string   `parquet:"industry"`
	Bad      int32    `parquet:"bad"`
}

func trainParquet(t testing.TB) []byte {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[trainParquetRow](&buf)
	v := 2.5
	rows := []trainParquetRow{{&v, "制造业", 2}, {nil, "金融业", 1}, {&v, "制造业", 2}}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadTrainParquet(t *testing.T) {
	data := trainParquet(t)
	tf, err := ReadTrainParquet(bytes.NewReader(data), int64(len(data)), TrainFileOptions{Target: "bad"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(tf.Features, "|"), "income|industry"; got != want {
		t.Fatalf("features %s, want %s", got, want)
	}
	if got, want := tf.LabelNote, "label 2 → 1, 1 → 0"; got != want {
		t.Errorf("note %q, want %q", got, want)
	}
	inc := tf.Columns[0]
	if inc[0] != 2.5 || !math.IsNaN(inc[1]) || inc[2] != 2.5 {
		t.Errorf("income %v, want [2.5 NaN 2.5]", inc)
	}
	if got, want := strings.Join(tf.Categories["industry"], "|"), "制造业|金融业"; got != want {
		t.Errorf("categories %s, want %s", got, want)
	}
	if got := tf.Label; got[0] != 1 || got[1] != 0 || got[2] != 1 {
		t.Errorf("label %v, want [1 0 1]", got)
	}
}

func FuzzReadTrainParquet(f *testing.F) {
	f.Add(trainParquet(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		tf, err := ReadTrainParquet(bytes.NewReader(in), int64(len(in)), TrainFileOptions{Target: "bad", MaxCells: 10000})
		if err != nil {
			return
		}
		for j, c := range tf.Columns {
			if len(c) != len(tf.Label) {
				t.Fatalf("column %d has %d rows, label %d", j, len(c), len(tf.Label))
			}
		}
	})
}

func BenchmarkReadTrainFile(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("id,income,industry,district,bad\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&buf, "c%d,%d.5,%s,d%d,%d\n", i, i%977, []string{"制造业", "金融业", "批发和零售业"}[i%3], i%40, i%5/4)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ReadTrainFile(bytes.NewReader(data), int64(len(data)), TrainFileOptions{Target: "bad", ID: "id"}); err != nil {
			b.Fatal(err)
		}
	}
}
