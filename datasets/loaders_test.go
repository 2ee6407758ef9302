package datasets

import (
	"bufio"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"
)

// sharedData returns ../shared/data relative to the module root, or skips the
// test when the folder is absent.
func sharedData(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("module root (go.mod) not found; cannot locate ../shared/data")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		tb.Skipf("real data sets not present at %s: %v", data, err)
	}
	return data
}

// rawCounts scans a delimited file as plain text, independently of the loader:
// data rows, rows whose target field is "1", and per-column counts of the
// missing token.
func rawCounts(t *testing.T, path string, sep string, header bool, targetCol int, missing string) (rows, positives int, nulls map[int]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	nulls = map[int]int{}
	first := true
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if first && header {
			first = false
			continue
		}
		if line == "" {
			continue
		}
		fields := strings.Split(line, sep)
		rows++
		if fields[targetCol] == "1" {
			positives++
		}
		for i, v := range fields {
			if missing != "" && v == missing {
				nulls[i]++
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows, positives, nulls
}

func TestLoadRealDataSets(t *testing.T) {
	data := sharedData(t)
	tests := []struct {
		name         string
		load         func(string) (*Table, error)
		file         string
		sep          string
		header       bool
		targetCol    int    // target position in the raw file
		missing      string // missing token in the raw file
		firstFeature int    // raw column of the first feature
		wantRows     int    // from ../shared/data/README.md
		wantRate     float64
		rateTol      float64
		wantFeatures int
		wantTarget   string
		notFeature   string
	}{
		{"taiwan", LoadTaiwan, "taiwan/UCI_Credit_Card.csv", ",", true, 24, "nan", 1, 30000, 0.221, 0.0005, 23, "default.payment.next.month", "ID"},
		{"gmsc", LoadGMSC, "gmsc/cs-training.csv", ",", true, 1, "NA", 2, 150000, 0.067, 0.0005, 10, "SeriousDlqin2yrs", ""},
		{"lightgbm-train", LoadLightGBMBinary, "lightgbm-binary/binary.train", "\t", false, 0, "", 1, 7000, -1, 0, 28, "label", ""},
		{"lightgbm-test", LoadLightGBMBinary, "lightgbm-binary/binary.test", "\t", false, 0, "", 1, 500, -1, 0, 28, "label", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(data, tc.file)
			tab, err := tc.load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer tab.Release()
			if got := tab.Rows(); got != tc.wantRows {
				t.Errorf("rows = %d, want %d", got, tc.wantRows)
			}
			if got := len(tab.Features); got != tc.wantFeatures {
				t.Errorf("features = %d, want %d", got, tc.wantFeatures)
			}
			if got := int(tab.Record.NumCols()); got != tc.wantFeatures+1 {
				t.Errorf("record columns = %d, want %d", got, tc.wantFeatures+1)
			}
			if tab.Target != tc.wantTarget || tab.Record.ColumnName(int(tab.Record.NumCols())-1) != tc.wantTarget {
				t.Errorf("target = %q (last column %q), want %q", tab.Target, tab.Record.ColumnName(int(tab.Record.NumCols())-1), tc.wantTarget)
			}
			for _, f := range tab.Features {
				if f == tc.notFeature || f == tc.wantTarget {
					t.Errorf("column %q must not be a feature", f)
				}
			}
			rows, pos, nulls := rawCounts(t, path, tc.sep, tc.header, tc.targetCol, tc.missing)
			if rows != tc.wantRows {
				t.Errorf("raw file has %d rows, README says %d", rows, tc.wantRows)
			}
			y := tab.TargetColumn()
			sum := 0.0
			for i := range y.Len() {
				sum += y.Value(i)
			}
			if int(sum) != pos {
				t.Errorf("positives = %v, raw file has %d", sum, pos)
			}
			rate := sum / float64(tab.Rows())
			if tc.wantRate >= 0 && math.Abs(rate-tc.wantRate) > tc.rateTol {
				t.Errorf("positive rate = %.4f, want %.3f (README)", rate, tc.wantRate)
			}
			// Nulls appear exactly where the raw file has its missing token.
			totalNulls := 0
			for j := range tab.Features {
				col := tab.Record.Column(j).(*array.Float64)
				want := nulls[tc.firstFeature+j]
				if col.NullN() != want {
					t.Errorf("feature %q: %d nulls, raw file has %d %q", tab.Features[j], col.NullN(), want, tc.missing)
				}
				totalNulls += col.NullN()
			}
			if tc.name == "gmsc" && totalNulls == 0 {
				t.Error("gmsc: expected missing MonthlyIncome and NumberOfDependents values")
			}
		})
	}
}

func TestGMSCMissingColumns(t *testing.T) {
	data := sharedData(t)
	tab, err := LoadGMSC(filepath.Join(data, "gmsc/cs-training.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Release()
	for j, name := range tab.Features {
		n := tab.Record.Column(j).NullN()
		wantSome := name == "MonthlyIncome" || name == "NumberOfDependents"
		if wantSome != (n > 0) {
			t.Errorf("%s: %d nulls; want nulls only in MonthlyIncome and NumberOfDependents", name, n)
		}
	}
}

func TestReadDelimitedErrors(t *testing.T) {
	base := Format{Header: true, Target: "y", BinaryTarget: true}
	tests := []struct {
		name  string
		input string
		f     Format
		want  string // substring of the error
	}{
		{"short line", "a,b,y\n1,2,0\n3,1\n", base, "line 3 has 2 fields, want 3"},
		{"long line", "a,b,y\n1,2,0\n3,1,0,9\n", base, "line 3 has 4 fields, want 3"},
		{"not a number", "a,b,y\n1,2,0\n1,x2,1\n", base, `line 3: column "b" is "x2"`},
		{"bad target", "a,b,y\n1,2,0\n1,2,7\n", base, `line 3: target "y" is "7", want 0 or 1`},
		{"missing target value", "a,b,y\n1,2,\n", base, `line 2: target "y"`},
		{"no target column", "a,b,c\n1,2,0\n", base, `no target column "y"`},
		{"empty file", "", base, "empty file"},
		{"header only", "a,b,y\n", base, "no data rows"},
		{"duplicate column", "a,a,y\n1,2,0\n", base, `column "a" appears twice`},
		{"bare quote", "a,b,y\n1,\"2,0\n", base, "line 2"},
		{"tsv short", "0\t1\t2\n1\t3\n", Format{Comma: '\t', Names: []string{"y", "a", "b"}, Target: "y"}, "line 2 has 2 fields, want 3"},
		{"no target in format", "a,y\n1,0\n", Format{Header: true}, "no target column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := ReadDelimited(strings.NewReader(tc.input), "t", tc.f)
			if err == nil {
				tab.Release()
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("error %v does not wrap ErrFormat or ErrInvalidOptions", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestReadDelimitedValues(t *testing.T) {
	in := ",y,a,b\n1,1,0.5,NA\n2,0,,-3e2\n"
	tab, err := ReadDelimited(strings.NewReader(in), "small", Format{Header: true, Target: "y", Drop: []string{""}})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Release()
	if got, want := strings.Join(tab.Features, ","), "a,b"; got != want {
		t.Fatalf("features = %s, want %s", got, want)
	}
	a := tab.Record.Column(0).(*array.Float64)
	b := tab.Record.Column(1).(*array.Float64)
	y := tab.TargetColumn()
	if a.Value(0) != 0.5 || !a.IsNull(1) || !b.IsNull(0) || b.Value(1) != -300 || y.Value(0) != 1 || y.Value(1) != 0 {
		t.Errorf("values: a=%v b=%v y=%v", a, b, y)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := LoadTaiwan(filepath.Join(t.TempDir(), "nope.csv"))
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.csv") {
		t.Errorf("err = %v, want a not-exist error naming the file", err)
	}
}

func FuzzReadDelimited(f *testing.F) {
	f.Add("a,b,y\n1,2,0\n3,NA,1\n", false)
	f.Add(",y,x\n1,1,NA\n", false)
	f.Add("1\t0.5\t-1\n0\t2\t3\n", true)
	f.Add("a,b,y\n1,\"2\",0\n", false)
	f.Add("y\n1e309\n", false)
	f.Fuzz(func(t *testing.T, in string, tsv bool) {
		fm := Format{Header: true, Target: "y", Drop: []string{""}, BinaryTarget: true}
		if tsv {
			fm = Format{Comma: '\t', Names: []string{"y", "a", "b"}, Target: "y", BinaryTarget: true}
		}
		tab, err := ReadDelimited(strings.NewReader(in), "fuzz", fm)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("error %v wraps neither ErrFormat nor ErrInvalidOptions", err)
			}
			return
		}
		defer tab.Release()
		if int(tab.Record.NumCols()) != len(tab.Features)+1 {
			t.Fatalf("%d columns for %d features", tab.Record.NumCols(), len(tab.Features))
		}
		y := tab.TargetColumn()
		if y.NullN() != 0 {
			t.Fatal("target has nulls")
		}
		for i := range y.Len() {
			if v := y.Value(i); v != 0 && v != 1 {
				t.Fatalf("target %v", v)
			}
		}
	})
}

func BenchmarkLoadGMSC(b *testing.B) {
	data := sharedData(b)
	path := filepath.Join(data, "gmsc/cs-training.csv")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		tab, err := LoadGMSC(path)
		if err != nil {
			b.Fatal(err)
		}
		tab.Release()
	}
}

func TestLoadTruncatedRealFile(t *testing.T) {
	data := sharedData(t)
	raw, err := os.ReadFile(filepath.Join(data, "taiwan/UCI_Credit_Card.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// Cut the file in the middle of its 11th line (the 10th data row).
	lines := 0
	cut := 0
	for i, c := range raw {
		if c == '\n' {
			lines++
			if lines == 10 {
				cut = i + 12
				break
			}
		}
	}
	path := filepath.Join(t.TempDir(), "UCI_Credit_Card.csv")
	if err := os.WriteFile(path, raw[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadTaiwan(path)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "line 11 has") || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want ErrFormat naming the file and line 11", err)
	}
}
