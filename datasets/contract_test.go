package datasets

import (
	"errors"
	"strings"
	"testing"
)

func TestContractsCoverDepartmentTables(t *testing.T) {
	all, err := Contracts()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range Sources() {
		if s.Kind != Label {
			want = append(want, s.Name)
		}
	}
	var got []string
	for _, c := range all {
		got = append(got, c.Name)
		// Every column of the row struct is in the contract or stamped by the platform.
		if n := len(c.Columns) + 2; n != len(c.Source().Columns()) {
			t.Errorf("%s: %d contract columns + 2 stamped, row struct has %d", c.Name, n-2, len(c.Source().Columns()))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("contracts %v, department tables %v", got, want)
	}
}

func TestParseContractsRefusesDisagreement(t *testing.T) {
	base := `
sources:
  - name: customs
    name_zh: 海关
    department: 海关 customs
    kind: monthly
    key: [code, event_date]
    delivery: incremental
    cadence: monthly
    cadence_days: 31
    columns:
      - {name: code, type: code, required: true}
      - {name: event_date, type: month_end, required: true}
      - {name: imports, type: float, unit: 元}
      - {name: exports, type: float, unit: 元}
      - {name: declarations, type: int}
`
	if _, err := ParseContracts([]byte(base)); err != nil {
		t.Fatalf("valid contract refused: %v", err)
	}
	tests := []struct{ name, old, new, want string }{
		{"column order", "{name: imports, type: float, unit: 元}\n      - {name: exports, type: float, unit: 元}",
			"{name: exports, type: float, unit: 元}\n      - {name: imports, type: float, unit: 元}", "schema.go has"},
		{"type", "{name: declarations, type: int}", "{name: declarations, type: float}", "row struct field is int32"},
		{"kind", "kind: monthly", "kind: event", "schema.go says monthly"},
		{"key", "key: [code, event_date]", "key: [code, declarations]", "not a required column"},
		{"unit", "{name: imports, type: float, unit: 元}", "{name: imports, type: float, unit: 元, dept_unit: 吨}", "cannot be converted"},
		{"unknown field", "cadence_days: 31", "cadence_days: 31\n    colour: red", "colour"},
		{"delivery", "delivery: incremental", "delivery: sometimes", "neither incremental nor full"},
		{"omitted", "delivery: incremental", "delivery: incremental\n    omitted: withdrawn", "needs delivery: full"},
		{"omitted value", "delivery: incremental", "delivery: full\n    omitted: sometimes", "neither untouched nor withdrawn"},
		{"header twice", "{name: exports, type: float, unit: 元}", "{name: exports, type: float, unit: 元, name_zh: imports}", "names both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(base, tt.old, tt.new, 1)
			if doc == base {
				t.Fatal("replacement did not apply")
			}
			_, err := ParseContracts([]byte(doc))
			if !errors.Is(err, ErrContract) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrContract mentioning %q", err, tt.want)
			}
		})
	}
}

func TestUnitShift(t *testing.T) {
	tests := []struct {
		from, to string
		want     int
		ok       bool
	}{
		{"万元", "元", 4, true}, {"元", "元", 0, true}, {"亿元", "万元", 4, true}, {"千元", "元", 3, true},
		{"万千瓦时", "kWh", 4, true}, {"吨", "元", 0, false}, {"斤", "吨", 0, false},
	}
	for _, tt := range tests {
		got, err := UnitShift(tt.from, tt.to)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("UnitShift(%s, %s) = %d, %v; want %d, ok %v", tt.from, tt.to, got, err, tt.want, tt.ok)
		}
	}
}

func TestHeaderKey(t *testing.T) {
	tests := []struct{ in, name, unit string }{
		{"销售额（万元）", "销售额", "万元"},
		{"Tax Paid (CNY)", "taxpaid", "CNY"},
		{" tax_paid ", "taxpaid", ""},
		{"(2024)", "(2024)", ""},
	}
	for _, tt := range tests {
		if got := HeaderKey(tt.in); got != tt.name {
			t.Errorf("HeaderKey(%q) = %q, want %q", tt.in, got, tt.name)
		}
		if _, u := SplitHeaderUnit(tt.in); u != tt.unit {
			t.Errorf("SplitHeaderUnit(%q) unit = %q, want %q", tt.in, u, tt.unit)
		}
	}
}

func TestRepaymentIsBankPrivate(t *testing.T) {
	c, err := ContractOf(SourceRepayment)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.Key, ","), "loan_id,event_date"; got != want {
		t.Errorf("repayment key %s, want %s", got, want)
	}
	if c.Delivery != Incremental || c.Kind != Monthly {
		t.Errorf("repayment delivery %s kind %s, want incremental monthly", c.Delivery, c.Kind)
	}
	public, err := Contracts()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range public {
		if p.Name == SourceRepayment {
			t.Fatal("repayment is among the public department contracts")
		}
	}
	priv, err := PrivateContracts()
	if err != nil {
		t.Fatal(err)
	}
	if len(priv) != 1 || priv[0].Name != SourceRepayment {
		t.Fatalf("private contracts %v, want [repayment]", priv)
	}
	bad := "sources:\n  - name: repayment\n    name_zh: x\n    department: participating banks (own loans, private)\n    kind: monthly\n    key: [loan_id]\n    delivery: incremental\n    cadence: monthly\n    cadence_days: 31\n    columns: []\n"
	if _, err := ParseContracts([]byte(bad)); !errors.Is(err, ErrContract) || !strings.Contains(err.Error(), "bank-private") {
		t.Fatalf("repayment among public sources: %v", err)
	}
}
