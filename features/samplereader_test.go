package features

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// violationStore is the hand universe materialized as of 2025-06-30 and 2025-07-31,
// with two violation outcomes: c2 on 2025-09-10 (known 2025-09-12), c1 on 2026-07-15
// but known only on 2026-09-01. (violation_12m counts every company of the snapshot.)
func violationStore(t *testing.T) (blob.Store, *Catalog) {
	t.Helper()
	store := handUniverse(t)
	cat := testCatalog(t)
	putRaw(t, store, "labels/month=2025-09/part-00000.parquet", []datasets.LabelRow{
		{Code: c2, EventDate: dd("2025-09-10"), ArrivalDate: dd("2025-09-12"), Kind: "violation"},
	})
	putRaw(t, store, "labels/month=2026-07/part-00000.parquet", []datasets.LabelRow{
		{Code: c1, EventDate: dd("2026-07-15"), ArrivalDate: dd("2026-09-01"), Kind: "violation"},
	})
	opts := Options{Set: "t", Catalog: cat, AsOf: []time.Time{day("2025-06-30").Time(), day("2025-07-31").Time()}}
	if _, err := Materialize(context.Background(), store, opts); err != nil {
		t.Fatal(err)
	}
	return store, cat
}

// builtSample is violationStore with one sample "pd" of violation_12m built as of
// 2026-09-01: train is the June snapshot (c1, c2), valid July (c1, c2, c3), no test rows.
func builtSample(t *testing.T) (blob.Store, *SampleManifest) {
	t.Helper()
	store, cat := violationStore(t)
	m, err := BuildSample(context.Background(), store, SampleOptions{Name: "pd", Set: "t", Label: "violation_12m", Catalog: cat,
		From: day("2025-01-01").Time(), To: day("2025-12-31").Time(), BuildAt: day("2026-09-01").Time(),
		ValidFrom: day("2025-07-01").Time(), TestFrom: day("2025-08-01").Time()})
	if err != nil {
		t.Fatal(err)
	}
	return store, m
}

// rowsOf returns the record as code@asof → column name → value (NaN = null).
func rowsOf(t *testing.T, rec arrow.Record) map[string]map[string]float64 {
	t.Helper()
	out := map[string]map[string]float64{}
	code, asof := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
	for i := 0; i < int(rec.NumRows()); i++ {
		vals := map[string]float64{}
		for j := 2; j < int(rec.NumCols()); j++ {
			c := rec.Column(j).(*array.Float64)
			v := math.NaN()
			if !c.IsNull(i) {
				v = c.Value(i)
			}
			vals[rec.ColumnName(j)] = v
		}
		out[code.Value(i)+"@"+asof.Value(i)] = vals
	}
	return out
}

func TestReadSampleSplit(t *testing.T) {
	ctx := context.Background()
	store, built := builtSample(t)
	m, err := OpenSample(ctx, store, "pd")
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.Name != "pd" || !slices.Equal(m.Indicators, built.Indicators) {
		t.Fatalf("opened %s with %v, want pd/v1 with %v", m.Ref(), m.Indicators, built.Indicators)
	}
	nan := math.NaN()
	// Values from TestMaterializePointInTime's hand calculation. Labels: c2's violation
	// of 2025-09-10 is inside both 12-month windows; c1's of 2026-07-15 (known
	// 2026-09-01) is inside July's window only.
	cols := []string{"tax.sales.sum_6m", "penalty.amount.count_12m", "company.age_months", "network.in_circle",
		"network.contagion", "network.defaulted_neighbours", "violation_12m"}
	tests := []struct {
		split string
		want  map[string][]float64 // values of cols
	}{
		{"train", map[string][]float64{
			c1 + "@2025-06-30": {170, 1, 65, 1, 0.5, 1, 0},
			c2 + "@2025-06-30": {nan, 0, 3, 1, 1, 0, 1},
		}},
		{"valid", map[string][]float64{
			c1 + "@2025-07-31": {200, 2, 66, 1, 0.5, 1, 1},
			c2 + "@2025-07-31": {nan, 0, 4, 1, 1, 0, 1},
			c3 + "@2025-07-31": {nan, 0, 3, 0, 0, 0, 0},
		}},
		{"test", map[string][]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.split, func(t *testing.T) {
			rec, err := ReadSampleSplit(ctx, store, m, tt.split)
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			wantCols := append(append([]string{"code", "asof"}, m.Indicators...), "violation_12m")
			var gotCols []string
			for _, f := range rec.Schema().Fields() {
				gotCols = append(gotCols, f.Name)
			}
			if !slices.Equal(gotCols, wantCols) {
				t.Fatalf("columns = %v, want %v", gotCols, wantCols)
			}
			if rec.Schema().Field(2).Type.ID() != arrow.FLOAT64 || !rec.Schema().Field(2).Nullable || rec.Schema().Field(len(wantCols)-1).Nullable {
				t.Errorf("schema = %v, want nullable float64 indicators and a non-null label", rec.Schema())
			}
			got := rowsOf(t, rec)
			if len(got) != len(tt.want) {
				t.Fatalf("rows = %v, want %v", got, tt.want)
			}
			for k, w := range tt.want {
				g, ok := got[k]
				if !ok {
					t.Fatalf("row %s missing from %v", k, got)
				}
				for j, col := range cols {
					if v, ok := g[col]; !ok || !same(v, w[j]) {
						t.Errorf("%s column %s = %v (present %v), want %v", k, col, v, ok, w[j])
					}
				}
			}
		})
	}
}

func TestOpenSampleVersions(t *testing.T) {
	ctx := context.Background()
	store, cat := violationStore(t)
	o := SampleOptions{Name: "pd", Set: "t", Label: "violation_12m", Catalog: cat, From: day("2025-01-01").Time(), To: day("2025-12-31").Time(), BuildAt: day("2026-09-01").Time()}
	for range 2 {
		if _, err := BuildSample(ctx, store, o); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ref     string
		version int
		want    error
		msg     string
	}{
		{"pd", 2, nil, ""},
		{"pd/v1", 1, nil, ""},
		{"pd/v2", 2, nil, ""},
		{"pd/v3", 0, ErrUnknownSample, "pd has no version 3 (versions v1, v2)"},
		{"nope", 0, ErrUnknownSample, `no sample named "nope"`},
		{"pd/3", 0, ErrUnknownSample, `version "3"`},
		{"pd/v0", 0, ErrUnknownSample, `version "v0"`},
		{"", 0, ErrUnknownSample, "sample reference"},
		{"pd/v1/x", 0, ErrUnknownSample, "sample reference"},
		{"..", 0, ErrUnknownSample, "sample reference"},
		{".hidden/v1", 0, ErrUnknownSample, "sample reference"},
		{"a\\b", 0, ErrUnknownSample, "sample reference"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			m, err := OpenSample(ctx, store, tt.ref)
			if tt.want != nil {
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("err = %v, want %v naming %q", err, tt.want, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != tt.version {
				t.Errorf("version = %d, want %d", m.Version, tt.version)
			}
		})
	}
}

func TestSampleCorruption(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		damage func(t *testing.T, store blob.Store, m *SampleManifest) *SampleManifest
		split  string
		want   error
		msg    string
	}{
		{"missing split", func(t *testing.T, store blob.Store, m *SampleManifest) *SampleManifest {
			delete(m.Splits, "test")
			return m
		}, "test", ErrUnknownSample, `pd/v1 has no split "test" (splits train, valid)`},
		{"unknown split", nil, "holdout", ErrUnknownSample, `no split "holdout"`},
		{"file deleted", func(t *testing.T, store blob.Store, m *SampleManifest) *SampleManifest {
			if err := store.Delete(ctx, m.Splits["train"].Key); err != nil {
				t.Fatal(err)
			}
			return m
		}, "train", ErrCorruptSample, "train.parquet is missing"},
		{"file replaced", func(t *testing.T, store blob.Store, m *SampleManifest) *SampleManifest {
			b, _, err := blob.ReadAll(ctx, store, m.Splits["valid"].Key)
			if err != nil {
				t.Fatal(err)
			}
			// A valid Parquet file, but not the one the manifest recorded.
			if _, err := blob.PutBytes(ctx, store, m.Splits["train"].Key, b); err != nil {
				t.Fatal(err)
			}
			return m
		}, "train", ErrCorruptSample, "the manifest recorded"},
		{"truncated", func(t *testing.T, store blob.Store, m *SampleManifest) *SampleManifest {
			b, _, err := blob.ReadAll(ctx, store, m.Splits["train"].Key)
			if err != nil {
				t.Fatal(err)
			}
			b = b[:len(b)/2]
			info, err := blob.PutBytes(ctx, store, m.Splits["train"].Key, b)
			if err != nil {
				t.Fatal(err)
			}
			sp := m.Splits["train"]
			sp.SHA256 = info.SHA256 // a manifest that agrees with the damaged file
			m.Splits["train"] = sp
			return m
		}, "train", ErrCorruptSample, "sample pd/v1 split train"},
		{"row count", func(t *testing.T, store blob.Store, m *SampleManifest) *SampleManifest {
			sp := m.Splits["valid"]
			sp.Rows = 4
			m.Splits["valid"] = sp
			return m
		}, "valid", ErrCorruptSample, "3 rows, the manifest recorded 4"},
		{"indicator list", func(t *testing.T, store blob.Store, m *SampleManifest) *SampleManifest {
			m.Indicators = append(m.Indicators, "tax.sales.sum_12m")
			return m
		}, "train", ErrCorruptSample, `no column "tax.sales.sum_12m"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, m := builtSample(t)
			if tt.damage != nil {
				m = tt.damage(t, store, m)
			}
			rec, err := ReadSampleSplit(ctx, store, m, tt.split)
			if err == nil {
				rec.Release()
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v naming %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestOpenSampleBadManifest(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(m map[string]any)
		raw    []byte
		msg    string
	}{
		{"not json", nil, []byte("{not json"), "manifest samples/pd/v1/manifest.json"},
		{"other name", func(m map[string]any) { m["name"] = "other" }, nil, "manifest names other/v1"},
		{"no indicators", func(m map[string]any) { m["indicators"] = []string{} }, nil, "no indicator"},
		{"split elsewhere", func(m map[string]any) {
			m["splits"].(map[string]any)["train"].(map[string]any)["key"] = "samples/x/v1/train.parquet"
		}, nil, `split train is stored at "samples/x/v1/train.parquet"`},
		{"label without kind", func(m map[string]any) { m["label"].(map[string]any)["Kind"] = "" }, nil, "lacks a name, an outcome kind or a horizon"},
		{"label without horizon", func(m map[string]any) { delete(m["label"].(map[string]any), "Horizon") }, nil, "lacks a name, an outcome kind or a horizon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, m := builtSample(t)
			b := tt.raw
			if b == nil {
				orig, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				var raw map[string]any
				if err := json.Unmarshal(orig, &raw); err != nil {
					t.Fatal(err)
				}
				tt.change(raw)
				if b, err = json.Marshal(raw); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := blob.PutBytes(ctx, store, m.ManifestKey(), b); err != nil {
				t.Fatal(err)
			}
			_, err := OpenSample(ctx, store, "pd")
			if !errors.Is(err, ErrCorruptSample) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want ErrCorruptSample naming %q", err, tt.msg)
			}
		})
	}
}

func TestSampleMonotone(t *testing.T) {
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	// Directions as written in catalog/indicators.yaml.
	inds := []string{"company.age_months", "court.amount.count_12m", "customs.imports.sum_12m"}
	tests := []struct {
		label string
		want  []int8
	}{
		{"default_12m", []int8{-1, +1, 0}},
		{"violation_12m", []int8{-1, +1, 0}},
		{"limit", []int8{+1, -1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			def, err := LabelByName(tt.label)
			if err != nil {
				t.Fatal(err)
			}
			got, err := SampleMonotone(cat, &SampleManifest{Name: "s", Version: 1, Indicators: inds, Label: def})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("constraints = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("unknown indicator", func(t *testing.T) {
		_, err := SampleMonotone(cat, &SampleManifest{Name: "s", Version: 1, Indicators: []string{"no.such"}, Label: Labels[0]})
		if !errors.Is(err, ErrUnknownIndicator) {
			t.Errorf("err = %v, want ErrUnknownIndicator", err)
		}
	})
}

// FuzzReadSampleSplit feeds arbitrary bytes as a split file whose digest and row count
// the manifest agrees with: decoding must fail with ErrCorruptSample or produce a
// record of the manifest's shape, never panic.
func FuzzReadSampleSplit(f *testing.F) {
	store, err := blob.OpenLocal(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	var good bytes.Buffer
	rec := SnapshotRecord([]string{"a", "default_12m"}, []string{"c1", "c2"}, []float64{1.5, 0, math.NaN(), 1})
	if err := writeRecordParquet(&good, withAsOf(f, rec)); err != nil {
		f.Fatal(err)
	}
	rec.Release()
	f.Add(good.Bytes(), int64(2))
	f.Add([]byte("PAR1garbagePAR1"), int64(0))
	f.Add(good.Bytes()[:good.Len()/2], int64(2))
	f.Fuzz(func(t *testing.T, data []byte, rows int64) {
		ctx := context.Background()
		info, err := blob.PutBytes(ctx, store, "samples/f/v1/train.parquet", data)
		if err != nil {
			t.Fatal(err)
		}
		m := &SampleManifest{Name: "f", Version: 1, Indicators: []string{"a"}, Label: Labels[0],
			Splits: map[string]SampleSplit{"train": {FileRef: FileRef{Key: "samples/f/v1/train.parquet", SHA256: info.SHA256, Rows: rows}}}}
		out, err := ReadSampleSplit(ctx, store, m, "train")
		if err != nil {
			if !errors.Is(err, ErrCorruptSample) {
				t.Fatalf("err = %v, want ErrCorruptSample", err)
			}
			return
		}
		defer out.Release()
		if out.NumRows() != rows || out.NumCols() != 4 {
			t.Fatalf("record %d×%d, manifest says %d rows of 4 columns", out.NumRows(), out.NumCols(), rows)
		}
	})
}

func BenchmarkReadSampleSplit(b *testing.B) {
	ctx := context.Background()
	store, err := blob.OpenLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	const rows, width = 100_000, 40
	m := &SampleManifest{Name: "bench", Version: 1, Label: Labels[0], Splits: map[string]SampleSplit{}}
	bld := make([]string, 0, width)
	for j := 0; j < width; j++ {
		bld = append(bld, "ind"+string(rune('a'+j%26))+string(rune('a'+j/26)))
	}
	m.Indicators = bld
	codes := make([]string, rows)
	values := make([]float64, rows*(width+1))
	for i := range codes {
		codes[i] = "c" + string(rune('a'+i%26))
		for j := 0; j <= width; j++ {
			values[i*(width+1)+j] = float64((i*31 + j*7) % 97)
		}
		values[i*(width+1)+width] = float64(i % 2)
	}
	rec := SnapshotRecord(append(slices.Clone(bld), "default_12m"), codes, values)
	var buf bytes.Buffer
	// SnapshotRecord has no asof column: the benchmark file adds it as code's twin.
	err = writeRecordParquet(&buf, withAsOf(b, rec))
	rec.Release()
	if err != nil {
		b.Fatal(err)
	}
	info, err := blob.PutBytes(ctx, store, "samples/bench/v1/train.parquet", buf.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	m.Splits["train"] = SampleSplit{FileRef: FileRef{Key: info.Key, SHA256: info.SHA256, Rows: rows}}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		out, err := ReadSampleSplit(ctx, store, m, "train")
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	b.ReportMetric(float64(rows), "rows/op")
}

// withAsOf returns rec with a string column asof after code.
func withAsOf(tb testing.TB, rec arrow.Record) arrow.Record {
	tb.Helper()
	cols := rec.Columns()
	fields := rec.Schema().Fields()
	newFields := append([]arrow.Field{fields[0], {Name: "asof", Type: arrow.BinaryTypes.String}}, fields[1:]...)
	newCols := append([]arrow.Array{cols[0], cols[0]}, cols[1:]...)
	return array.NewRecord(arrow.NewSchema(newFields, nil), newCols, rec.NumRows())
}

// FuzzOpenSample stores arbitrary bytes as the manifest of samples/f/v1 and opens
// arbitrary references: the result is a checked manifest or an error wrapping
// ErrUnknownSample or ErrCorruptSample, never a panic.
func FuzzOpenSample(f *testing.F) {
	store, err := blob.OpenLocal(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	good, err := json.Marshal(&SampleManifest{Name: "f", Version: 1, Set: "t", SetVersion: 1, Indicators: []string{"a"}, Label: Labels[1],
		Splits: map[string]SampleSplit{"train": {FileRef: FileRef{Key: "samples/f/v1/train.parquet", SHA256: strings.Repeat("0", 64), Rows: 1}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "f")
	f.Add(good, "f/v1")
	f.Add([]byte(`{"name":"f","version":1}`), "f/v2")
	f.Add([]byte("{"), "f/v01")
	f.Add([]byte("null"), "../f")
	f.Fuzz(func(t *testing.T, manifest []byte, ref string) {
		ctx := context.Background()
		if _, err := blob.PutBytes(ctx, store, "samples/f/v1/manifest.json", manifest); err != nil {
			t.Fatal(err)
		}
		m, err := OpenSample(ctx, store, ref)
		if err != nil {
			if !errors.Is(err, ErrUnknownSample) && !errors.Is(err, ErrCorruptSample) {
				t.Fatalf("OpenSample(%q) = %v, want ErrUnknownSample or ErrCorruptSample", ref, err)
			}
			return
		}
		if m.Name != "f" || m.Version != 1 || len(m.Indicators) == 0 || len(m.Splits) == 0 {
			t.Fatalf("OpenSample(%q) accepted %+v", ref, m)
		}
	})
}
