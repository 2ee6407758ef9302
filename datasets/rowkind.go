package datasets

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// RowKindColumn is the raw column, stamped by the platform next to arrival_date and
// revision, that says what a stored row is. Files without it (the generator's, and
// parts ingested before it existed) read as RowRecord everywhere.
const RowKindColumn = "row_kind"

// RowKind is what a stored row of a raw table says about its fact (the values of
// the row_kind column, an int32).
type RowKind int32

// Row kinds. A retraction or an end of publicity carries the values of the fact it
// voids (the fact in force when it arrived) and takes the key's next revision; from
// its arrival on, the fact does not count in any snapshot. A later record of the
// key revives it.
const (
	// RowRecord is a fact as delivered (0, the value of files without the column).
	RowRecord RowKind = 0
	// RowRetraction withdraws the fact: the department says it should not have been
	// recorded.
	RowRetraction RowKind = 1
	// RowEndOfPublicity ends the fact's publicity: it stays true but is no longer
	// shared or used (credit repair, 信用修复).
	RowEndOfPublicity RowKind = 2
)

// Void reports whether a row of kind k stops its fact from counting.
func (k RowKind) Void() bool { return k != RowRecord }

// String is the platform's name of the kind: record, retraction or end_of_publicity.
func (k RowKind) String() string {
	switch k {
	case RowRecord:
		return "record"
	case RowRetraction:
		return "retraction"
	case RowEndOfPublicity:
		return "end_of_publicity"
	}
	return fmt.Sprintf("row_kind(%d)", int32(k))
}

// ParseRowKind parses a platform name of a row kind (as String writes it).
func ParseRowKind(s string) (RowKind, error) {
	for k := RowRecord; k <= RowEndOfPublicity; k++ {
		if s == k.String() {
			return k, nil
		}
	}
	return 0, fmt.Errorf("datasets: unknown row kind %q (record, retraction or end_of_publicity)", s)
}

// StoredSchema returns the Parquet schema ingestion writes the source's parts in:
// the row struct's columns in order, then row_kind (int32).
func (s Source) StoredSchema() *parquet.Schema {
	t := reflect.TypeOf(s.Row)
	fields := make([]reflect.StructField, 0, t.NumField()+1)
	for f := range t.Fields() {
		fields = append(fields, f)
	}
	fields = append(fields, reflect.StructField{
		Name: "PlatformRowKind", Type: reflect.TypeOf(int32(0)), Tag: reflect.StructTag(`parquet:"` + RowKindColumn + `"`),
	})
	return parquet.SchemaOf(reflect.New(reflect.StructOf(fields)).Elem().Interface())
}

// Omitted says what a full delivery means for a key in force that it omits.
type Omitted string

// Meanings of an omitted key.
const (
	// OmittedUntouched leaves the fact as it is (the default).
	OmittedUntouched Omitted = "untouched"
	// OmittedWithdrawn retracts the fact: the batch stores a retraction for it.
	OmittedWithdrawn Omitted = "withdrawn"
)

func checkRowKind(col *Column) error {
	if col == nil || col.Name != RowKindColumn || col.Type != TypeString {
		return fmt.Errorf("row_kind: the shared column must be named %s, of type string", RowKindColumn)
	}
	for _, e := range col.Enum {
		if _, err := ParseRowKind(e); err != nil {
			return fmt.Errorf("row_kind: %v", err)
		}
	}
	if len(col.Enum) != int(RowEndOfPublicity)+1 {
		return fmt.Errorf("row_kind: enum %v must list every kind", col.Enum)
	}
	for from, to := range col.Codes {
		if strings.TrimSpace(from) == "" {
			return fmt.Errorf("row_kind: empty department code for %s", to)
		}
	}
	return col.check(reflect.TypeOf(""))
}
