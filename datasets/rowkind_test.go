package datasets

import (
	"slices"
	"strings"
	"testing"
)

func TestRowKindContract(t *testing.T) {
	all, err := Contracts()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if c.RowKind == nil || c.RowKind != all[0].RowKind {
			t.Fatalf("%s: the shared row_kind column is missing", c.Name)
		}
		if c.Omitted != OmittedUntouched && c.Omitted != OmittedWithdrawn {
			t.Errorf("%s: omitted %q", c.Name, c.Omitted)
		}
		// The stored schema is the row struct's columns, then row_kind.
		src := c.Source()
		var got []string
		for _, p := range src.StoredSchema().Columns() {
			got = append(got, strings.Join(p, "."))
		}
		if want := append(src.Columns(), RowKindColumn); !slices.Equal(got, want) {
			t.Errorf("%s: stored columns %v, want %v", c.Name, got, want)
		}
	}
	col := all[0].RowKind
	for code, want := range map[string]RowKind{"正常": RowRecord, "撤销": RowRetraction, "停止公示": RowEndOfPublicity} {
		k, err := ParseRowKind(col.Codes[code])
		if err != nil || k != want {
			t.Errorf("%s: %v %v, want %v", code, k, err, want)
		}
	}
	for k := RowRecord; k <= RowEndOfPublicity; k++ {
		if got, err := ParseRowKind(k.String()); err != nil || got != k {
			t.Errorf("%v: parsed back as %v, %v", k, got, err)
		}
	}
	if _, err := ParseRowKind("withdrawn"); err == nil {
		t.Error("ParseRowKind accepted a department code")
	}
}
