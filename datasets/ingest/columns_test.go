package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// referenceRows reads a Parquet file through parquet-go's generic row reader and
// returns every row as its values by column name.
func referenceRows(t *testing.T, data []byte) []map[string]parquet.Value {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(f.Schema().Columns()))
	for i, p := range f.Schema().Columns() {
		names[i] = strings.Join(p, ".")
	}
	r := parquet.NewReader(f)
	defer r.Close()
	var out []map[string]parquet.Value
	buf := make([]parquet.Row, 100)
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			m := map[string]parquet.Value{}
			for _, v := range row {
				m[names[v.Column()]] = v.Clone()
			}
			out = append(out, m)
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// checkEachRow compares eachRow with the reference reader on one file.
func checkEachRow(t *testing.T, info *sourceInfo, name string, data []byte) int {
	t.Helper()
	want := referenceRows(t, data)
	cols := info.schema.Columns()
	row := make([]parquet.Value, info.ncols)
	i := 0
	err := eachRow(data, name, info, row, func(row []parquet.Value) {
		if i >= len(want) {
			i++
			return
		}
		for l, v := range row {
			col := strings.Join(cols[l], ".")
			w, ok := want[i][col]
			if !ok && l == info.kindLeaf {
				w = parquet.Int32Value(int32(datasets.RowRecord))
			}
			if v.Kind() != w.Kind() || !bytes.Equal(appendValue(nil, v), appendValue(nil, w)) {
				t.Errorf("%s row %d column %s: got %v, want %v", name, i, col, v, w)
			}
			if v.Column() != l {
				t.Errorf("%s row %d column %s: value of column index %d", name, i, col, v.Column())
			}
		}
		i++
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if i != len(want) {
		t.Fatalf("%s: %d rows, want %d", name, i, len(want))
	}
	return i
}

// TestEachRowByColumns checks the column reader of stored parts against
// parquet-go's row reader: the generator's files of every source, and files
// cut into small pages and row groups, with dictionaries on numbers, a string
// column written plain and row_kind present.
func TestEachRowByColumns(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	opts := datasets.DefaultGenerateOptions()
	opts.Companies, opts.Months, opts.Start = 300, 3, datasets.Month(2024*12)
	if _, err := datasets.Generate(ctx, store, opts); err != nil {
		t.Fatal(err)
	}
	contracts, err := datasets.Contracts()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range contracts {
		t.Run(c.Name, func(t *testing.T) {
			info, err := newSourceInfo(c.Name)
			if err != nil {
				t.Fatal(err)
			}
			infos, err := store.List(ctx, info.src.Prefix())
			if err != nil {
				t.Fatal(err)
			}
			var all []parquet.Row
			for _, in := range infos {
				if !strings.HasSuffix(in.Key, ".parquet") {
					continue
				}
				data, _, err := blob.ReadAll(ctx, store, in.Key)
				if err != nil {
					t.Fatal(err)
				}
				checkEachRow(t, info, in.Key, data)
				row := make([]parquet.Value, info.ncols)
				eachRow(data, in.Key, info, row, func(r []parquet.Value) {
					r[info.kindLeaf] = parquet.Int32Value(int32(len(all)%3)).Level(0, 0, info.kindLeaf)
					all = append(all, parquet.Row(r).Clone())
				})
			}
			if len(all) == 0 {
				t.Skip("no rows generated")
			}
			// The same rows in small pages and row groups, every column but the
			// first string one dictionary encoded, row_kind present.
			group := parquet.Group{}
			plain := ""
			for _, f := range info.schema.Fields() {
				n := parquet.Node(f)
				if plain == "" && f.Type().Kind() == parquet.ByteArray {
					plain = f.Name()
					n = parquet.Encoded(parquet.Leaf(f.Type()), &parquet.Plain)
				} else if f.Type().Kind() != parquet.Boolean {
					n = parquet.Encoded(parquet.Leaf(f.Type()), &parquet.RLEDictionary)
				}
				group[f.Name()] = n
			}
			schema := parquet.NewSchema("stored", group)
			// The writer's schema orders columns by name: rows are given by name.
			var buf bytes.Buffer
			w := parquet.NewWriter(&buf, schema, parquet.PageBufferSize(512), parquet.MaxRowsPerRowGroup(97),
				parquet.Compression(&parquet.Snappy))
			paths := info.schema.Columns()
			for _, r := range all {
				out := make(parquet.Row, len(schema.Columns()))
				for l, v := range r {
					leaf, ok := schema.Lookup(paths[l]...)
					if !ok {
						t.Fatalf("no column %v", paths[l])
					}
					out[leaf.ColumnIndex] = v.Level(0, 0, leaf.ColumnIndex)
				}
				if _, err := w.WriteRows([]parquet.Row{out}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if n := checkEachRow(t, info, fmt.Sprintf("%s re-encoded (plain %s)", c.Name, plain), buf.Bytes()); n != len(all) {
				t.Fatalf("%d rows re-encoded, %d read", len(all), n)
			}
		})
	}
}

// TestEachRowCorrupt checks that a damaged page of a stored part is an error
// naming the part, not a panic.
func TestEachRowCorrupt(t *testing.T) {
	info, err := newSourceInfo(datasets.SourceTax)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, info.schema, parquet.Compression(&parquet.Snappy))
	row := make(parquet.Row, info.ncols)
	for l, p := range info.schema.Columns() {
		leaf, _ := info.schema.Lookup(p...)
		switch leaf.Node.Type().Kind() {
		case parquet.ByteArray:
			row[l] = parquet.ByteArrayValue([]byte("91330604MA0000000X")).Level(0, 0, l)
		case parquet.Double:
			row[l] = parquet.DoubleValue(1.5).Level(0, 0, l)
		default:
			row[l] = parquet.Int32Value(3).Level(0, 0, l)
		}
	}
	for range 1000 {
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	for _, at := range []int{8, len(data) / 3, len(data) / 2} {
		bad := bytes.Clone(data)
		for i := at; i < at+64 && i < len(bad)-8; i++ {
			bad[i] ^= 0x5a
		}
		err := eachRow(bad, "part-x.parquet", info, make([]parquet.Value, info.ncols), func([]parquet.Value) {})
		if err == nil {
			continue // the damage may fall on bytes a reader does not check
		}
		if !errors.Is(err, datasets.ErrCorrupt) || !strings.Contains(err.Error(), "part-x.parquet") {
			t.Errorf("damage at %d: %v, want ErrCorrupt naming the part", at, err)
		}
	}
}
