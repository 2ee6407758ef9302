package serving

import (
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
)

func TestField(t *testing.T) {
	amount := datasets.Column{Name: "amount", Unit: "元"}
	severity := datasets.Column{Name: "severity", Codes: map[string]string{"警告": "1", "罚款": "2"}}
	for _, c := range []struct {
		col   *datasets.Column
		v     string
		value string
		money bool
		yuan  float64
	}{
		{&amount, "12345678", "12345678", true, 12345678},
		{&amount, "", "", false, 0},
		{&severity, "2", "罚款", false, 0},
		{&severity, "9", "9", false, 0},
	} {
		got := field(c.col, c.v)
		if got.Value != c.value || got.Money != c.money || got.Amount != c.yuan {
			t.Errorf("field(%s, %q) = %+v", c.col.Name, c.v, got)
		}
	}
}
