package datasets

import (
	_ "embed"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// ErrContract reports a source contract that is inconsistent (an unknown type, a key
// column that does not exist, an enumeration its own code list does not map into).
var ErrContract = errors.New("datasets: invalid source contract")

//go:embed contracts.yaml
var contractsYAML []byte

// ColumnType is the type of a contract column as a department delivers it.
type ColumnType string

// Column types.
const (
	TypeCode     ColumnType = "code"      // unified social credit code, check digit verified
	TypeString   ColumnType = "string"    // text
	TypeDate     ColumnType = "date"      // a calendar date
	TypeMonthEnd ColumnType = "month_end" // a date; a bare "YYYY-MM" is the month's last day
	TypeFloat    ColumnType = "float"     // a decimal number
	TypeInt      ColumnType = "int"       // a 32-bit integer
	TypeBool     ColumnType = "bool"      // true/false, 1/0, 是/否
)

// Delivery says what a batch of a source holds.
type Delivery string

// Deliveries.
const (
	// Incremental: a batch holds new and changed facts.
	Incremental Delivery = "incremental"
	// Full: a batch holds every fact of the source; a key it omits means what the
	// contract's Omitted says.
	Full Delivery = "full"
)

// Column is one column of a source contract.
type Column struct {
	Name     string     `yaml:"name"`
	Type     ColumnType `yaml:"type"`
	NameZh   string     `yaml:"name_zh"`
	NameEn   string     `yaml:"name_en"`
	Aliases  []string   `yaml:"aliases"`
	Unit     string     `yaml:"unit"`      // the platform's unit
	DeptUnit string     `yaml:"dept_unit"` // the unit the department delivers in; default Unit
	Required bool       `yaml:"required"`
	Min      *float64   `yaml:"min"`
	Max      *float64   `yaml:"max"`
	// NotFuture refuses a date after the day the batch arrives.
	NotFuture bool              `yaml:"not_future"`
	Enum      []string          `yaml:"enum"`
	Codes     map[string]string `yaml:"codes"` // department code -> platform value
	// LabelsEn names platform values in English where the value itself is not a
	// word ("1" -> "warning"); pages in English show them.
	LabelsEn map[string]string `yaml:"labels_en"`
	Pattern  string            `yaml:"pattern"`

	pattern *regexp.Regexp
}

// Match returns the compiled Pattern (nil when there is none).
func (c *Column) Match() *regexp.Regexp { return c.pattern }

// Names returns every header spelling that maps to the column: the platform name,
// the department's Chinese and English names and the aliases.
func (c *Column) Names() []string {
	out := []string{c.Name}
	for _, n := range append([]string{c.NameZh, c.NameEn}, c.Aliases...) {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Contract is the agreement between a department and the platform about one raw
// table: what the department delivers (its header names, units and codes), what
// the platform stores (Source's row struct), which columns identify a fact, and
// how often deliveries are expected. Columns are every stored column in file
// order except arrival_date and revision, which the platform stamps (as it stamps
// row_kind, which the row structs do not hold: see StoredSchema).
type Contract struct {
	Name        string   `yaml:"name"`
	NameZh      string   `yaml:"name_zh"`
	Department  string   `yaml:"department"`
	KindName    string   `yaml:"kind"`
	Key         []string `yaml:"key"`
	Delivery    Delivery `yaml:"delivery"`
	Cadence     string   `yaml:"cadence"`
	CadenceDays int      `yaml:"cadence_days"`
	Columns     []Column `yaml:"columns"`
	// Omitted is what a full delivery means for a key in force it omits:
	// untouched (default) or withdrawn (the batch retracts it).
	Omitted Omitted `yaml:"omitted"`

	// Kind is KindName parsed.
	Kind Kind `yaml:"-"`
	// RowKind is the optional row_kind column every source shares (the contracts'
	// top-level row_kind), nil when the contracts define none. A retraction or
	// end-of-publicity row needs only the key columns.
	RowKind *Column `yaml:"-"`
}

// Column returns the column called name.
func (c *Contract) Column(name string) (*Column, bool) {
	for i := range c.Columns {
		if c.Columns[i].Name == name {
			return &c.Columns[i], true
		}
	}
	return nil, false
}

// Source returns the raw table the contract describes.
func (c *Contract) Source() Source {
	s, _ := SourceByName(c.Name) // checked when the contracts are loaded
	return s
}

var (
	contractsOnce sync.Once
	contracts     []*Contract
	private       []*Contract
	contractsErr  error
)

func loadContracts() {
	contracts, private, contractsErr = parseContractFile(contractsYAML)
}

// Contracts returns the contract of every department table (not the labels) in the
// order of Sources. The contracts are parsed once and must not be modified.
func Contracts() ([]*Contract, error) {
	contractsOnce.Do(loadContracts)
	return contracts, contractsErr
}

// PrivateContracts returns the contracts of the sources private to one bank
// (bank_private in contracts.yaml: repayment), ingested only under the bank's own
// folder of the object store.
func PrivateContracts() ([]*Contract, error) {
	contractsOnce.Do(loadContracts)
	return private, contractsErr
}

// ContractOf returns the contract of the source called name.
func ContractOf(name string) (*Contract, error) {
	all, err := Contracts()
	if err != nil {
		return nil, err
	}
	for _, c := range append(all[:len(all):len(all)], private...) {
		if c.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: no contract for source %q", ErrSourceMissing, name)
}

// ParseContracts parses and checks contracts in the form of contracts.yaml: every
// source exists in Sources with the same kind and department, its columns are the
// row struct's columns in order (less arrival_date and revision) with matching
// types, and key columns, enumerations and code lists are consistent.
func ParseContracts(data []byte) ([]*Contract, error) {
	public, _, err := parseContractFile(data)
	return public, err
}

// parseContractFile parses and checks the department sources and the bank-private
// ones of a contracts file.
func parseContractFile(data []byte) (public, bankPrivate []*Contract, err error) {
	var doc struct {
		RowKind     *Column     `yaml:"row_kind"`
		Sources     []*Contract `yaml:"sources"`
		BankPrivate []*Contract `yaml:"bank_private"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrContract, err)
	}
	for _, c := range doc.Sources {
		if c.Name == SourceRepayment {
			return nil, nil, fmt.Errorf("%w: source %q is bank-private: list it under bank_private", ErrContract, c.Name)
		}
	}
	if doc.RowKind != nil {
		if err := checkRowKind(doc.RowKind); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrContract, err)
		}
	}
	seen := map[string]bool{}
	for _, c := range append(doc.Sources[:len(doc.Sources):len(doc.Sources)], doc.BankPrivate...) {
		c.RowKind = doc.RowKind
		if err := c.check(); err != nil {
			return nil, nil, fmt.Errorf("%w: source %q: %v", ErrContract, c.Name, err)
		}
		if seen[c.Name] {
			return nil, nil, fmt.Errorf("%w: source %q twice", ErrContract, c.Name)
		}
		seen[c.Name] = true
	}
	for _, c := range doc.BankPrivate {
		if c.Name != SourceRepayment {
			return nil, nil, fmt.Errorf("%w: source %q is not a bank-private source", ErrContract, c.Name)
		}
	}

	order := map[string]int{}
	for i, s := range Sources() {
		order[s.Name] = i
	}
	slices.SortFunc(doc.Sources, func(a, b *Contract) int { return order[a.Name] - order[b.Name] })
	return doc.Sources, doc.BankPrivate, nil
}

func (c *Contract) check() error {
	src, err := SourceByName(c.Name)
	if err != nil || src.Kind == Label {
		return fmt.Errorf("not a department table of schema.go")
	}
	for k := Static; k <= Label; k++ {
		if k.String() == c.KindName {
			c.Kind = k
		}
	}
	if c.Kind != src.Kind {
		return fmt.Errorf("kind %q, schema.go says %s", c.KindName, src.Kind)
	}
	if c.Department != src.Department {
		return fmt.Errorf("department %q, schema.go says %q", c.Department, src.Department)
	}
	if c.Delivery != Incremental && c.Delivery != Full {
		return fmt.Errorf("delivery %q is neither incremental nor full", c.Delivery)
	}
	switch {
	case c.Omitted == "":
		c.Omitted = OmittedUntouched
	case c.Omitted != OmittedUntouched && c.Omitted != OmittedWithdrawn:
		return fmt.Errorf("omitted %q is neither untouched nor withdrawn", c.Omitted)
	case c.Omitted == OmittedWithdrawn && c.Delivery != Full:
		return fmt.Errorf("omitted: withdrawn needs delivery: full")
	}
	if c.CadenceDays < 1 {
		return fmt.Errorf("cadence_days %d is not positive", c.CadenceDays)
	}
	// Columns: the row struct's, less the two the platform stamps.
	var want []string
	for _, n := range src.Columns() {
		if n != "arrival_date" && n != "revision" {
			want = append(want, n)
		}
	}
	var got []string
	for _, col := range c.Columns {
		got = append(got, col.Name)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("columns %v, schema.go has %v", got, want)
	}
	rt := reflect.TypeOf(src.Row)
	headers := map[string]string{}
	for i := range c.Columns {
		col := &c.Columns[i]
		f := rt.Field(fieldIndex(rt, col.Name))
		if err := col.check(f.Type); err != nil {
			return fmt.Errorf("column %s: %v", col.Name, err)
		}
		for _, n := range col.Names() {
			k := HeaderKey(n)
			if prev, dup := headers[k]; dup && prev != col.Name {
				return fmt.Errorf("header name %q names both %s and %s", n, prev, col.Name)
			}
			headers[k] = col.Name
		}
	}
	if c.RowKind != nil {
		for _, n := range c.RowKind.Names() {
			if prev, dup := headers[HeaderKey(n)]; dup {
				return fmt.Errorf("header name %q names both %s and the shared %s", n, prev, RowKindColumn)
			}
		}
	}
	if len(c.Key) == 0 {
		return fmt.Errorf("no key")
	}
	for _, k := range c.Key {
		col, ok := c.Column(k)
		if !ok || !col.Required {
			return fmt.Errorf("key column %q is not a required column", k)
		}
	}
	return nil
}

func fieldIndex(t reflect.Type, column string) int {
	for i := range t.NumField() {
		name, _, _ := cutComma(t.Field(i).Tag.Get("parquet"))
		if name == column {
			return i
		}
	}
	return -1
}

func (col *Column) check(goType reflect.Type) error {
	wantKind := map[ColumnType]reflect.Kind{
		TypeCode: reflect.String, TypeString: reflect.String, TypeDate: reflect.Int32, TypeMonthEnd: reflect.Int32,
		TypeFloat: reflect.Float64, TypeInt: reflect.Int32, TypeBool: reflect.Bool,
	}
	k, ok := wantKind[col.Type]
	if !ok {
		return fmt.Errorf("unknown type %q", col.Type)
	}
	if goType.Kind() != k {
		return fmt.Errorf("type %s, the row struct field is %s", col.Type, goType)
	}
	if (col.Type == TypeDate || col.Type == TypeMonthEnd) != (goType == reflect.TypeOf(Day(0))) {
		return fmt.Errorf("type %s, the row struct field is %s", col.Type, goType)
	}
	if col.DeptUnit != "" {
		if _, err := UnitShift(col.DeptUnit, col.Unit); err != nil {
			return err
		}
	}
	for from, to := range col.Codes {
		if len(col.Enum) > 0 && !slices.Contains(col.Enum, to) {
			return fmt.Errorf("code %q maps to %q, not one of %v", from, to, col.Enum)
		}
	}
	if col.Pattern != "" {
		re, err := regexp.Compile(col.Pattern)
		if err != nil {
			return fmt.Errorf("pattern: %v", err)
		}
		col.pattern = re
	}
	if col.Min != nil && col.Max != nil && *col.Min > *col.Max {
		return fmt.Errorf("min %g above max %g", *col.Min, *col.Max)
	}
	return nil
}

// unitScale is the power of ten of a unit relative to its base unit.
var unitScale = map[string]struct {
	base string
	exp  int
}{
	"元": {"元", 0}, "yuan": {"元", 0}, "CNY": {"元", 0}, "RMB": {"元", 0},
	"千元": {"元", 3}, "万元": {"元", 4}, "百万元": {"元", 6}, "亿元": {"元", 8},
	"kWh": {"kWh", 0}, "度": {"kWh", 0}, "千瓦时": {"kWh", 0}, "万千瓦时": {"kWh", 4}, "MWh": {"kWh", 3},
	"吨": {"吨", 0}, "t": {"吨", 0}, "千吨": {"吨", 3}, "万吨": {"吨", 4},
	"立方米": {"立方米", 0}, "m3": {"立方米", 0}, "m³": {"立方米", 0}, "万立方米": {"立方米", 4},
}

// UnitShift returns the power of ten that turns a value in unit from into unit to
// (万元 -> 元 is 4). A unit the platform does not know, or units of different
// quantities, give an error. Powers of ten keep conversion exact: the decimal
// point of the delivered text moves before it is parsed.
func UnitShift(from, to string) (int, error) {
	f, ok1 := unitScale[strings.TrimSpace(from)]
	t, ok2 := unitScale[strings.TrimSpace(to)]
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("unknown unit %q or %q", from, to)
	}
	if f.base != t.base {
		return 0, fmt.Errorf("unit %q cannot be converted to %q", from, to)
	}
	return f.exp - t.exp, nil
}

// HeaderKey is the form header names are compared in: case folded, with spaces,
// underscores, hyphens and a trailing unit in parentheses removed ("Tax Paid
// (万元)" and "tax_paid" compare equal).
func HeaderKey(s string) string {
	s, _ = SplitHeaderUnit(s)
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '_', '-', '\t', '\u3000':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// SplitHeaderUnit splits a header such as "销售额（万元）" or "Sales (CNY)" into
// the name and the unit in its trailing parentheses ("" when there is none).
func SplitHeaderUnit(h string) (name, unit string) {
	h = strings.TrimSpace(h)
	for _, p := range [][2]string{{"(", ")"}, {"（", "）"}, {"[", "]"}} {
		if strings.HasSuffix(h, p[1]) {
			if i := strings.LastIndex(h, p[0]); i > 0 {
				return strings.TrimSpace(h[:i]), strings.TrimSpace(h[i+len(p[0]) : len(h)-len(p[1])])
			}
		}
	}
	return h, ""
}
