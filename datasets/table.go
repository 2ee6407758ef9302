package datasets

import (
	"errors"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// Sentinel errors of the package, wrapped with the file, line or field involved.
var (
	// ErrFormat reports a data file that does not follow its expected layout:
	// a short or long line, a value that is not a number, a missing header column.
	ErrFormat = errors.New("datasets: malformed data file")
	// ErrInvalidOptions reports options that cannot be used (for example zero companies).
	ErrInvalidOptions = errors.New("datasets: invalid options")
	// ErrSourceMissing reports a raw source (or month of it) absent from the store.
	ErrSourceMissing = errors.New("datasets: raw source missing")
	// ErrCorrupt reports a raw Parquet file that cannot be decoded (truncated, wrong schema).
	ErrCorrupt = errors.New("datasets: raw file corrupt")
)

// Table is an in-memory labelled data set for training and evaluation.
//
// Record holds one nullable float64 column per feature, in Features order (a null
// is a missing value), followed by the target column named Target (float64, never
// null). The caller owns the Record and must call Release when done.
type Table struct {
	Name     string
	Record   arrow.Record
	Target   string
	Features []string
}

// Release frees the Arrow memory of the table. It is safe to call more than once.
func (t *Table) Release() {
	if t == nil || t.Record == nil {
		return
	}
	t.Record.Release()
	t.Record = nil
}

// Rows returns the number of rows of the table.
func (t *Table) Rows() int {
	if t == nil || t.Record == nil {
		return 0
	}
	return int(t.Record.NumRows())
}

// TargetColumn returns the target values (the last column of Record).
func (t *Table) TargetColumn() *array.Float64 {
	return t.Record.Column(int(t.Record.NumCols()) - 1).(*array.Float64)
}

// tableBuilder accumulates float64 columns row by row.
type tableBuilder struct {
	name     string
	target   string
	features []string
	cols     []*array.Float64Builder
}

func newTableBuilder(name, target string, features []string) *tableBuilder {
	mem := memory.DefaultAllocator
	b := &tableBuilder{name: name, target: target, features: features}
	for range len(features) + 1 {
		b.cols = append(b.cols, array.NewFloat64Builder(mem))
	}
	return b
}

func (b *tableBuilder) release() {
	for _, c := range b.cols {
		c.Release()
	}
}

func (b *tableBuilder) finish() *Table {
	fields := make([]arrow.Field, 0, len(b.cols))
	for _, f := range b.features {
		fields = append(fields, arrow.Field{Name: f, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: b.target, Type: arrow.PrimitiveTypes.Float64})
	schema := arrow.NewSchema(fields, nil)
	arrs := make([]arrow.Array, len(b.cols))
	for i, c := range b.cols {
		arrs[i] = c.NewArray()
	}
	n := int64(0)
	if len(arrs) > 0 {
		n = int64(arrs[0].Len())
	}
	rec := array.NewRecord(schema, arrs, n)
	for _, a := range arrs {
		a.Release()
	}
	b.release()
	return &Table{Name: b.name, Record: rec, Target: b.target, Features: b.features}
}
