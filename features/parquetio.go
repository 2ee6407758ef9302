package features

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/xinyi-platform/xinyi/datasets"
)

// ErrCorruptRaw reports a raw or snapshot Parquet file that cannot be decoded or lacks a
// column the feature store needs; the error names the file.
var ErrCorruptRaw = errors.New("features: corrupt Parquet file")

// column is one decoded column: exactly one of the slices is set, by physical type.
type column struct {
	f64   []float64 // DOUBLE (and FLOAT, widened); nulls are NaN
	i32   []int32   // INT32 (DATE included); nulls are 0
	bytes []int32   // BYTE_ARRAY: index into dict
	dict  []string
}

// float returns the column as float64 (INT32 and BOOLEAN widened; BYTE_ARRAY as 1).
func (c *column) float() []float64 {
	switch {
	case c.f64 != nil:
		return c.f64
	case c.i32 != nil:
		out := make([]float64, len(c.i32))
		for i, v := range c.i32 {
			out[i] = float64(v)
		}
		return out
	case c.bytes != nil:
		out := make([]float64, len(c.bytes))
		for i := range out {
			out[i] = 1
		}
		return out
	}
	return nil
}

// rowKindCol is the optional raw column of the row kinds (datasets.RowKindColumn):
// files written before it existed, and the generator's, lack it and read as records.
const rowKindCol = datasets.RowKindColumn + "?"

// voidRows returns, for the decoded row_kind column c, whether each of the n rows
// voids its fact (a retraction or an end of publicity), or nil when none does (the
// column is absent or all records), so that the common case costs nothing.
func voidRows(c *column, n int) []bool {
	var out []bool
	for i, k := range c.i32 {
		if datasets.RowKind(k).Void() {
			if out == nil {
				out = make([]bool, n)
			}
			out[i] = true
		}
	}
	return out
}

// readColumns decodes the named columns of a Parquet file held in memory, reading only
// those columns' pages. A damaged file or a missing column is an error wrapping
// ErrCorruptRaw that names the file; a name ending in "?" is optional and reads as a
// column with no values when the file lacks it (see rowKindCol).
func readColumns(data []byte, name string, cols []string) (out []column, rows int, err error) {
	return readColumnsWith(data, name, cols, "", nil)
}

// readColumnsWith is readColumns, and when key is set it checks that the
// string column key holds exactly want, in order, without decoding it into
// strings: the parts of one shard of a snapshot are checked to hold the same
// companies this way.
func readColumnsWith(data []byte, name string, cols []string, key string, want []string) (out []column, rows int, err error) {
	defer func() {
		if r := recover(); r != nil { // parquet-go panics on some malformed input
			out, rows, err = nil, 0, fmt.Errorf("%w: %s: %v", ErrCorruptRaw, name, r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrCorruptRaw, name, err)
	}
	n := f.NumRows()
	if n < 0 || n > int64(len(data))*64+1024 {
		return nil, 0, fmt.Errorf("%w: %s: implausible row count %d", ErrCorruptRaw, name, n)
	}
	if key != "" {
		if err := sameStrings(f, key, want); err != nil {
			return nil, 0, fmt.Errorf("%w: %s: column %s: %v", ErrCorruptRaw, name, key, err)
		}
	}
	out = make([]column, len(cols))
	for ci, cname := range cols {
		cname, optional := strings.CutSuffix(cname, "?")
		leaf, ok := f.Schema().Lookup(cname)
		if !ok && optional {
			continue
		}
		if !ok {
			return nil, 0, fmt.Errorf("%w: %s: no column %q", ErrCorruptRaw, name, cname)
		}
		c, err := readColumn(f, leaf.ColumnIndex, leaf.Node.Type().Kind(), leaf.MaxDefinitionLevel, int(n))
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %s: column %s: %v", ErrCorruptRaw, name, cname, err)
		}
		out[ci] = c
	}
	return out, int(n), nil
}

// sameStrings checks that the string column key of f holds want, in order.
func sameStrings(f *parquet.File, key string, want []string) error {
	leaf, ok := f.Schema().Lookup(key)
	if !ok {
		return errors.New("missing")
	}
	if k := leaf.Node.Type().Kind(); k != parquet.ByteArray && k != parquet.FixedLenByteArray {
		return errors.New("not a string")
	}
	if f.NumRows() != int64(len(want)) {
		return fmt.Errorf("%d rows, %d expected", f.NumRows(), len(want))
	}
	row := 0
	var tmp column
	dictIndex := map[string]int32{}
	buf := make([]parquet.Value, 1024)
	// differs builds the error of a value that is not the one wanted (the
	// comparison itself makes no string of a page's bytes).
	differs := func(got string) error {
		if row >= len(want) {
			return fmt.Errorf("more than %d values", len(want))
		}
		return fmt.Errorf("row %d holds %q, the shard's first part %q", row, got, want[row])
	}
	err := eachPage(f, leaf.ColumnIndex, func(p parquet.Page) error {
		if b, offs, ok := plainStrings(p); ok {
			for i := range len(offs) - 1 {
				v := b[offs[i]:offs[i+1]]
				if row >= len(want) || string(v) != want[row] {
					return differs(string(v))
				}
				row++
			}
			return nil
		}
		tmp.bytes, tmp.dict = tmp.bytes[:0], tmp.dict[:0]
		clear(dictIndex)
		if err := readPage(&tmp, p, parquet.ByteArray, leaf.MaxDefinitionLevel, buf, dictIndex); err != nil {
			return err
		}
		for _, id := range tmp.bytes {
			if row >= len(want) || tmp.dict[id] != want[row] {
				return differs(tmp.dict[id])
			}
			row++
		}
		return nil
	})
	if err == nil && row != len(want) {
		err = fmt.Errorf("%d of %d values", row, len(want))
	}
	return err
}

// readRowsOf decodes the named columns of the rows of a Parquet file held in
// memory whose first column, a string (a company code), is in keep: only those
// rows' values are kept, a page at a time. It returns the columns, the rows
// kept and the rows of the file. Errors are those of readColumns.
func readRowsOf(data []byte, name string, cols []string, keep map[string]bool) (out []column, rows, total int, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, rows, total, err = nil, 0, 0, fmt.Errorf("%w: %s: %v", ErrCorruptRaw, name, r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %s: %v", ErrCorruptRaw, name, err)
	}
	n := f.NumRows()
	if n < 0 || n > int64(len(data))*64+1024 {
		return nil, 0, 0, fmt.Errorf("%w: %s: implausible row count %d", ErrCorruptRaw, name, n)
	}
	leaves := make([]parquet.LeafColumn, len(cols))
	for ci, cname := range cols {
		cname, optional := strings.CutSuffix(cname, "?")
		leaf, ok := f.Schema().Lookup(cname)
		if !ok && optional {
			leaves[ci].ColumnIndex = -1
			continue
		}
		if !ok {
			return nil, 0, 0, fmt.Errorf("%w: %s: no column %q", ErrCorruptRaw, name, cname)
		}
		leaves[ci] = leaf
	}
	if k := leaves[0].Node.Type().Kind(); leaves[0].ColumnIndex < 0 || (k != parquet.ByteArray && k != parquet.FixedLenByteArray) {
		return nil, 0, 0, fmt.Errorf("%w: %s: column %s is not a string", ErrCorruptRaw, name, cols[0])
	}
	// The rows kept, by the first column.
	var sel []int32
	out = make([]column, len(cols))
	codes := &out[0]
	codes.bytes = []int32{}
	codeIndex := map[string]int32{}
	var tmp column
	dictIndex := map[string]int32{}
	buf := make([]parquet.Value, 1024)
	row := 0
	sieve := newCodeSieve(keep)
	err = eachPage(f, leaves[0].ColumnIndex, func(p parquet.Page) error {
		if b, offs, ok := plainStrings(p); ok {
			for i := range len(offs) - 1 {
				if v := b[offs[i]:offs[i+1]]; may(sieve, v) && keep[string(v)] {
					sel = append(sel, int32(row+i))
					appendString(codes, v, codeIndex)
				}
			}
			row += len(offs) - 1
			return nil
		}
		tmp.bytes, tmp.dict = tmp.bytes[:0], tmp.dict[:0]
		clear(dictIndex)
		if err := readPage(&tmp, p, parquet.ByteArray, leaves[0].MaxDefinitionLevel, buf, dictIndex); err != nil {
			return err
		}
		for i, id := range tmp.bytes {
			if s := tmp.dict[id]; may(sieve, s) && keep[s] {
				sel = append(sel, int32(row+i))
				appendString(codes, s, codeIndex)
			}
		}
		row += len(tmp.bytes)
		return nil
	})
	if err == nil && row != int(n) {
		err = fmt.Errorf("read %d of %d values", row, n)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %s: column %s: %v", ErrCorruptRaw, name, cols[0], err)
	}
	for ci, leaf := range leaves {
		if ci == 0 || leaf.ColumnIndex < 0 {
			continue
		}
		c, err := pickRows(f, leaf, sel, int(n), buf)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: %s: column %s: %v", ErrCorruptRaw, name, cols[ci], err)
		}
		out[ci] = c
	}
	return out, len(sel), int(n), nil
}

// codeSieve answers "not in the set" for most strings outside a small set of
// strings without hashing them as a map does: a bitmap of a cheap hash of their
// last eight bytes (company codes differ most there). A string it may hold is
// then looked up in the set itself.
type codeSieve struct {
	bits [1 << 10]uint64
}

func newCodeSieve(keep map[string]bool) *codeSieve {
	s := new(codeSieve)
	for k := range keep {
		h := sieveHash(k)
		s.bits[h>>6] |= 1 << (h & 63)
	}
	return s
}

func sieveHash[T string | []byte](b T) uint64 {
	var x uint64
	if n := len(b); n >= 8 {
		x = uint64(b[n-8]) | uint64(b[n-7])<<8 | uint64(b[n-6])<<16 | uint64(b[n-5])<<24 |
			uint64(b[n-4])<<32 | uint64(b[n-3])<<40 | uint64(b[n-2])<<48 | uint64(b[n-1])<<56
	} else {
		for i := range len(b) {
			x = x<<8 | uint64(b[i])
		}
	}
	x ^= uint64(len(b)) << 56
	return (x * 0x9E3779B97F4A7C15) >> 48
}

// may reports whether b may be in the set (false: it is not).
func may[T string | []byte](s *codeSieve, b T) bool {
	h := sieveHash(b)
	return s.bits[h>>6]&(1<<(h&63)) != 0
}

// pickRows decodes the rows sel (increasing) of one column of n rows.
func pickRows(f *parquet.File, leaf parquet.LeafColumn, sel []int32, n int, buf []parquet.Value) (column, error) {
	kind := leaf.Node.Type().Kind()
	var c, tmp column
	var dictIndex, outIndex map[string]int32
	switch kind {
	case parquet.Double, parquet.Float, parquet.Int64:
		c.f64 = make([]float64, 0, len(sel))
	case parquet.Int32, parquet.Boolean:
		c.i32 = make([]int32, 0, len(sel))
	case parquet.ByteArray, parquet.FixedLenByteArray:
		c.bytes = make([]int32, 0, len(sel))
		dictIndex, outIndex = map[string]int32{}, map[string]int32{}
	default:
		return c, fmt.Errorf("unsupported type %v", kind)
	}
	row, next := 0, 0
	err := eachPage(f, leaf.ColumnIndex, func(p parquet.Page) error {
		tmp.f64, tmp.i32, tmp.bytes, tmp.dict = tmp.f64[:0], tmp.i32[:0], tmp.bytes[:0], tmp.dict[:0]
		clear(dictIndex)
		if next == len(sel) {
			row += int(p.NumRows())
			return nil
		}
		if b, offs, ok := plainStrings(p); ok && c.bytes != nil {
			k := len(offs) - 1
			for ; next < len(sel) && int(sel[next]) < row+k; next++ {
				i := int(sel[next]) - row
				appendString(&c, b[offs[i]:offs[i+1]], outIndex)
			}
			row += k
			return nil
		}
		if err := readPage(&tmp, p, kind, leaf.MaxDefinitionLevel, buf, dictIndex); err != nil {
			return err
		}
		k := tmp.len()
		for ; next < len(sel) && int(sel[next]) < row+k; next++ {
			i := int(sel[next]) - row
			switch {
			case c.f64 != nil:
				c.f64 = append(c.f64, tmp.f64[i])
			case c.i32 != nil:
				c.i32 = append(c.i32, tmp.i32[i])
			default:
				appendString(&c, tmp.dict[tmp.bytes[i]], outIndex)
			}
		}
		row += k
		return nil
	})
	if err != nil {
		return c, err
	}
	if row != n || next != len(sel) {
		return c, fmt.Errorf("read %d of %d values", row, n)
	}
	return c, nil
}

// appendString appends a value to a BYTE_ARRAY column, numbered in the
// column's own dictionary (index: each value's number); a value is copied
// only the first time.
func appendString[T string | []byte](c *column, v T, index map[string]int32) {
	id, ok := index[string(v)]
	if !ok {
		id = int32(len(c.dict))
		s := string(v)
		c.dict = append(c.dict, s)
		index[s] = id
	}
	c.bytes = append(c.bytes, id)
}

// plainStrings returns the values of a page of byte arrays without nulls or
// dictionary, with their offsets checked, and false for any other page.
func plainStrings(p parquet.Page) ([]byte, []uint32, bool) {
	if p.Dictionary() != nil || p.NumNulls() != 0 || len(p.RepetitionLevels()) != 0 {
		return nil, nil, false
	}
	data := p.Data()
	if data.Kind() != encoding.ByteArray {
		return nil, nil, false
	}
	b, offs := data.ByteArray()
	if len(offs) != int(p.NumValues())+1 {
		return nil, nil, false
	}
	for i := 1; i < len(offs); i++ {
		if offs[i] < offs[i-1] || int(offs[i]) > len(b) {
			return nil, nil, false
		}
	}
	return b, offs, true
}

// eachPage calls fn with every page of column idx, in order.
func eachPage(f *parquet.File, idx int, fn func(parquet.Page) error) error {
	for _, rg := range f.RowGroups() {
		pages := rg.ColumnChunks()[idx].Pages()
		for {
			p, err := pages.ReadPage()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				pages.Close()
				return err
			}
			err = fn(p)
			parquet.Release(p)
			if err != nil {
				pages.Close()
				return err
			}
		}
		pages.Close()
	}
	return nil
}

func readColumn(f *parquet.File, idx int, kind parquet.Kind, maxDef int, n int) (column, error) {
	var c column
	var dictIndex map[string]int32
	switch kind {
	case parquet.Double, parquet.Float:
		c.f64 = make([]float64, 0, n)
	case parquet.Int32, parquet.Boolean:
		c.i32 = make([]int32, 0, n)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		c.bytes = make([]int32, 0, n)
		dictIndex = make(map[string]int32, min(n, 1<<16))
	case parquet.Int64:
		c.f64 = make([]float64, 0, n)
	default:
		return c, fmt.Errorf("unsupported type %v", kind)
	}
	buf := make([]parquet.Value, 1024)
	if err := eachPage(f, idx, func(p parquet.Page) error { return readPage(&c, p, kind, maxDef, buf, dictIndex) }); err != nil {
		return c, err
	}
	if l := c.len(); l != n {
		return c, fmt.Errorf("read %d of %d values", l, n)
	}
	return c, nil
}

func (c *column) len() int {
	switch {
	case c.f64 != nil:
		return len(c.f64)
	case c.i32 != nil:
		return len(c.i32)
	}
	return len(c.bytes)
}

func readPage(c *column, p parquet.Page, kind parquet.Kind, maxDef int, buf []parquet.Value, dictIndex map[string]int32) error {
	if ok, err := readPageData(c, p, kind, maxDef, dictIndex); ok || err != nil {
		return err
	}
	vr := p.Values()
	// Fast paths for pages without nulls.
	if p.NumNulls() == 0 {
		switch r := vr.(type) {
		case parquet.DoubleReader:
			if kind == parquet.Double {
				return readAll(&c.f64, int(p.NumValues()), r.ReadDoubles)
			}
		case parquet.Int32Reader:
			if kind == parquet.Int32 {
				return readAll(&c.i32, int(p.NumValues()), r.ReadInt32s)
			}
		}
	}
	for {
		k, err := vr.ReadValues(buf)
		for _, v := range buf[:k] {
			switch kind {
			case parquet.Double, parquet.Float, parquet.Int64:
				if v.IsNull() {
					c.f64 = append(c.f64, math.NaN())
				} else if kind == parquet.Double {
					c.f64 = append(c.f64, v.Double())
				} else if kind == parquet.Float {
					c.f64 = append(c.f64, float64(v.Float()))
				} else {
					c.f64 = append(c.f64, float64(v.Int64()))
				}
			case parquet.Int32:
				c.i32 = append(c.i32, v.Int32())
			case parquet.Boolean:
				var b int32
				if !v.IsNull() && v.Boolean() {
					b = 1
				}
				c.i32 = append(c.i32, b)
			default:
				appendString(c, v.ByteArray(), dictIndex)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if k == 0 {
			return nil
		}
	}
}

// readPageData reads the plain values of a page held in memory without going
// through parquet.Value: optional doubles (snapshot columns), scattered by
// their definition levels, and byte arrays without nulls. It reports false,
// reading nothing, for any other page (dictionary indexes, repeated values).
func readPageData(c *column, p parquet.Page, kind parquet.Kind, maxDef int, dictIndex map[string]int32) (bool, error) {
	if p.Dictionary() != nil || len(p.RepetitionLevels()) != 0 {
		return false, nil
	}
	n := int(p.NumValues())
	data := p.Data()
	switch {
	case kind == parquet.Double && data.Kind() == encoding.Double:
		vals := data.Double()
		def := p.DefinitionLevels()
		if len(def) == 0 {
			if len(vals) != n {
				return true, fmt.Errorf("page holds %d of %d values", len(vals), n)
			}
			c.f64 = append(c.f64, vals...)
			return true, nil
		}
		if len(def) != n {
			return false, nil
		}
		start := len(c.f64)
		c.f64 = slices.Grow(c.f64, n)[:start+n]
		out, k := c.f64[start:], 0
		for i, d := range def {
			if int(d) == maxDef {
				if k == len(vals) {
					return true, fmt.Errorf("page holds %d values, its levels more", len(vals))
				}
				out[i] = vals[k]
				k++
			} else {
				out[i] = math.NaN()
			}
		}
		if k != len(vals) {
			return true, fmt.Errorf("page holds %d values, its levels %d", len(vals), k)
		}
		return true, nil
	case kind == parquet.ByteArray || kind == parquet.FixedLenByteArray:
		b, offs, ok := plainStrings(p)
		if !ok {
			return false, nil
		}
		for i := range n {
			appendString(c, b[offs[i]:offs[i+1]], dictIndex)
		}
		return true, nil
	}
	return false, nil
}

func readAll[T any](dst *[]T, n int, read func([]T) (int, error)) error {
	start := len(*dst)
	*dst = append(*dst, make([]T, n)...)
	got := 0
	for got < n {
		k, err := read((*dst)[start+got:])
		got += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if k == 0 {
			break
		}
	}
	if got != n {
		return fmt.Errorf("page holds %d of %d values", got, n)
	}
	return nil
}

// SnapshotRecord builds the Arrow record of a snapshot batch: a "code" string column,
// then one nullable float64 column per indicator (null where the value is NaN). The
// caller releases it.
func SnapshotRecord(names, codes []string, values []float64) arrow.Record {
	fields := make([]arrow.Field, 0, len(names)+1)
	fields = append(fields, arrow.Field{Name: "code", Type: arrow.BinaryTypes.String})
	for _, n := range names {
		fields = append(fields, arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(codes, nil)
	width := len(names)
	valid := make([]bool, len(codes))
	col := make([]float64, len(codes))
	for j := range names {
		for i := range codes {
			v := values[i*width+j]
			col[i], valid[i] = v, !math.IsNaN(v)
			if !valid[i] {
				col[i] = 0
			}
		}
		b.Field(j+1).(*array.Float64Builder).AppendValues(col, valid)
	}
	return b.NewRecord()
}

// writeRecordParquet encodes an Arrow snapshot record (see SnapshotRecord) as Parquet:
// "code" as a string column and every float64 column as an optional DOUBLE.
func writeRecordParquet(w io.Writer, rec arrow.Record) error {
	sch := rec.Schema()
	group := parquet.Group{}
	for _, f := range sch.Fields() {
		switch f.Type.ID() {
		case arrow.STRING:
			// Codes come sorted: stored as their differences from the one
			// before, the column of every part of a shard stays small.
			group[f.Name] = parquet.Encoded(parquet.String(), &parquet.DeltaByteArray)
		case arrow.FLOAT64:
			group[f.Name] = parquet.Optional(parquet.Leaf(parquet.DoubleType))
		default:
			return fmt.Errorf("features: column %s has type %s, want string or float64", f.Name, f.Type)
		}
	}
	schema := parquet.NewSchema("snapshot", group)
	// A Group orders its columns by name: map every leaf back to its record column.
	colOf := make([]int, len(schema.Columns()))
	for li, path := range schema.Columns() {
		idx := sch.FieldIndices(path[0])
		if len(idx) != 1 {
			return fmt.Errorf("features: column %s appears %d times", path[0], len(idx))
		}
		colOf[li] = idx[0]
	}
	pw := parquet.NewWriter(w, schema, parquet.Compression(&parquet.Snappy), parquet.CreatedBy("xinyi", "features", "1"))
	// Column by column: far cheaper than assembling rows.
	n := int(rec.NumRows())
	writers := pw.ColumnWriters()
	buf := make([]parquet.Value, 0, 8192)
	for li, ci := range colOf {
		for lo := 0; lo < n; lo += cap(buf) {
			hi := min(lo+cap(buf), n)
			buf = buf[:0]
			switch a := rec.Column(ci).(type) {
			case *array.String:
				for i := lo; i < hi; i++ {
					buf = append(buf, parquet.ByteArrayValue([]byte(a.Value(i))).Level(0, 0, li))
				}
			case *array.Float64:
				for i := lo; i < hi; i++ {
					if a.IsNull(i) {
						buf = append(buf, parquet.NullValue().Level(0, 0, li))
					} else {
						buf = append(buf, parquet.DoubleValue(a.Value(i)).Level(0, 1, li))
					}
				}
			}
			if _, err := writers[li].WriteRowValues(buf); err != nil {
				return err
			}
		}
	}
	return pw.Close()
}
