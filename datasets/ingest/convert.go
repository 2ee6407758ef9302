package ingest

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// Reasons a row is rejected (the keys of Report.Reasons).
const (
	ReasonColumns      = "column_count"  // more fields than the header
	ReasonMissing      = "missing_value" // a required cell is empty
	ReasonCode         = "bad_code"      // not a valid unified social credit code
	ReasonDate         = "bad_date"      // not a date
	ReasonFutureDate   = "future_date"   // a date after the day of arrival
	ReasonNumber       = "bad_number"    // not a number of the column's type
	ReasonRange        = "out_of_range"  // outside the contract's min..max (a negative amount)
	ReasonEnum         = "not_in_enum"   // not one of the contract's values or department codes
	ReasonFormat       = "bad_format"    // does not match the contract's pattern
	ReasonDuplicateKey = "duplicate_key" // the key of an earlier row of the batch
	ReasonRecord       = "bad_record"    // a record that cannot be split (quotes, JSON)
	ReasonRowKind      = "bad_row_kind"  // a row_kind that is not one of the contract's kinds or codes
	ReasonUnknownKey   = "unknown_key"   // a retraction or end of publicity of a key never stored
)

// rowError is why one row is rejected.
type rowError struct {
	reason, column, detail string
}

// binding maps the fields of a file's header to contract columns.
type binding struct {
	contract *datasets.Contract
	leaf     []int // contract column -> leaf column of the Parquet schema
	// per header position: contract column (-1 ignored) and decimal shift
	col     []int
	shift   []int
	present []bool // per contract column
	ignored []string

	kindPos  int              // header position of row_kind, -1 when absent
	kindCol  *datasets.Column // the contracts' shared row_kind column
	kindLeaf int
	isKey    []bool // per contract column
}

func (s *sourceInfo) bind(hdr []string, file string, lenient bool) (*binding, error) {
	b := &binding{contract: s.contract, leaf: s.leaf, present: make([]bool, len(s.contract.Columns)),
		kindPos: -1, kindCol: s.contract.RowKind, kindLeaf: s.kindLeaf, isKey: s.isKey}
	for pos, h := range hdr {
		name, unit := datasets.SplitHeaderUnit(h)
		hk := datasets.HeaderKey(strings.TrimPrefix(name, "\ufeff"))
		if s.kindHdr[hk] {
			if b.kindPos >= 0 {
				return nil, fmt.Errorf("%w: %s: columns %q and another both map to %s", ErrFormat, file, h, datasets.RowKindColumn)
			}
			b.kindPos = pos
			b.col = append(b.col, -1)
			b.shift = append(b.shift, 0)
			continue
		}
		ci, ok := s.headers[hk]
		if !ok {
			b.col = append(b.col, -1)
			b.shift = append(b.shift, 0)
			if strings.TrimSpace(h) != "" {
				b.ignored = append(b.ignored, h)
			}
			continue
		}
		col := &s.contract.Columns[ci]
		if b.present[ci] {
			return nil, fmt.Errorf("%w: %s: columns %q and another both map to %s", ErrFormat, file, h, col.Name)
		}
		b.present[ci] = true
		shift := 0
		from := unit
		if from == "" {
			from = col.DeptUnit
		}
		if from != "" && col.Unit != "" {
			var err error
			if shift, err = datasets.UnitShift(from, col.Unit); err != nil {
				return nil, fmt.Errorf("%w: %s: column %q: %v (the contract's unit of %s is %s)", ErrFormat, file, h, err, col.Name, col.Unit)
			}
		}
		b.col = append(b.col, ci)
		b.shift = append(b.shift, shift)
	}
	if !lenient {
		// With a row_kind column a file may hold retractions only: its header needs
		// the key columns; a record row still needs every required value.
		var missing []string
		for ci, col := range s.contract.Columns {
			if col.Required && !b.present[ci] && (b.kindPos < 0 || s.isKey[ci]) {
				missing = append(missing, fmt.Sprintf("%s (%s)", col.NameZh, col.Name))
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: %s: header lacks required columns %s; it has %q", ErrFormat, file, strings.Join(missing, ", "), hdr)
		}
	}
	return b, nil
}

// convert turns the fields of one record into the values of a row of the
// source's stored schema, in leaf order (arrival_date and revision left as they
// are; levels and column indexes not set: the row is encoded for the spill). A retraction or end of
// publicity converts only its key columns; its other values are zero until the
// batch fills them from the fact in force.
// The byte arrays of the row are appended to *scratch when it is not nil (the
// row is then valid until *scratch is reused).
func (b *binding) convert(fields []string, row []parquet.Value, arrival datasets.Day, xlsx bool, scratch *[]byte) *rowError {
	if len(fields) > len(b.col) {
		for _, f := range fields[len(b.col):] {
			if strings.TrimSpace(f) != "" {
				return &rowError{ReasonColumns, "", fmt.Sprintf("%d fields, the header has %d", len(fields), len(b.col))}
			}
		}
	}
	kind := datasets.RowRecord
	if b.kindPos >= 0 && b.kindPos < len(fields) {
		k, err := parseRowKind(b.kindCol, fields[b.kindPos])
		if err != nil {
			return &rowError{ReasonRowKind, datasets.RowKindColumn, err.Error()}
		}
		kind = k
	}
	row[b.kindLeaf] = parquet.Int32Value(int32(kind))
	void := kind.Void()
	cols := b.contract.Columns
	// Absent columns read as zero values (required ones are checked below).
	// convert runs on several goroutines at once: its scratch is its own.
	var stack [64]bool
	seen := stack[:0]
	if len(cols) <= len(stack) {
		seen = stack[:len(cols)]
	} else {
		seen = make([]bool, len(cols))
	}
	for i, ci := range b.col {
		if ci < 0 || void && !b.isKey[ci] {
			continue
		}
		text := ""
		if i < len(fields) {
			text = fields[i]
		}
		v, err := convertCell(&cols[ci], text, b.shift[i], arrival, xlsx, scratch)
		if err != nil {
			return err
		}
		row[b.leaf[ci]] = v
		seen[ci] = true
	}
	for ci := range cols {
		if !seen[ci] {
			if cols[ci].Required && (!void || b.isKey[ci]) {
				return &rowError{ReasonMissing, cols[ci].Name, "required column absent"}
			}
			row[b.leaf[ci]] = zeroValue(cols[ci].Type)
		}
	}
	return nil
}

// zeroValue is what an empty cell of an optional column of type t reads as.
func zeroValue(t datasets.ColumnType) parquet.Value {
	switch t {
	case datasets.TypeFloat:
		return parquet.DoubleValue(0)
	case datasets.TypeInt, datasets.TypeDate, datasets.TypeMonthEnd:
		return parquet.Int32Value(0)
	case datasets.TypeBool:
		return parquet.BooleanValue(false)
	}
	return parquet.ByteArrayValue(nil)
}

// parseRowKind reads a delivered row kind: empty is a record; otherwise a
// department code of the shared column (as delivered, then in lower case) or a
// platform name (record, retraction, end_of_publicity).
func parseRowKind(col *datasets.Column, text string) (datasets.RowKind, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return datasets.RowRecord, nil
	}
	name := strings.ToLower(text)
	if col != nil {
		if to, ok := col.Codes[text]; ok {
			name = to
		} else if to, ok := col.Codes[name]; ok {
			name = to
		}
	}
	k, err := datasets.ParseRowKind(name)
	if err != nil {
		return 0, fmt.Errorf("%q is not a row kind (record, retraction, end_of_publicity or a department code of them)", clip(text))
	}
	return k, nil
}

// bytesValue is s as a byte array value, its bytes appended to *scratch when
// it is not nil.
func bytesValue(s string, scratch *[]byte) parquet.Value {
	if scratch == nil {
		return parquet.ByteArrayValue([]byte(s))
	}
	start := len(*scratch)
	*scratch = append(*scratch, s...)
	return parquet.ByteArrayValue((*scratch)[start:len(*scratch):len(*scratch)])
}

func convertCell(col *datasets.Column, text string, shift int, arrival datasets.Day, xlsx bool, scratch *[]byte) (parquet.Value, *rowError) {
	text = strings.TrimSpace(text)
	if col.Codes != nil {
		if to, ok := col.Codes[text]; ok {
			text = to
		}
	}
	if text == "" {
		if col.Required {
			return parquet.Value{}, &rowError{ReasonMissing, col.Name, "empty"}
		}
		return zeroValue(col.Type), nil
	}
	bad := func(reason, format string, args ...any) (parquet.Value, *rowError) {
		return parquet.Value{}, &rowError{reason, col.Name, fmt.Sprintf(format, args...)}
	}
	switch col.Type {
	case datasets.TypeCode:
		code := creditcode.Normalize(text)
		if err := creditcode.Validate(code); err != nil {
			return bad(ReasonCode, "%q: %v", clip(text), err)
		}
		return bytesValue(code, scratch), nil
	case datasets.TypeString:
		if len(col.Enum) > 0 && !slices.Contains(col.Enum, text) {
			return bad(ReasonEnum, "%q is not one of %v", clip(text), col.Enum)
		}
		if re := col.Match(); re != nil && !re.MatchString(text) {
			return bad(ReasonFormat, "%q does not match %s", clip(text), col.Pattern)
		}
		return bytesValue(text, scratch), nil
	case datasets.TypeDate, datasets.TypeMonthEnd:
		d, ok := parseDate(text, col.Type == datasets.TypeMonthEnd, xlsx)
		if !ok {
			return bad(ReasonDate, "%q is not a date (YYYY-MM-DD)", clip(text))
		}
		if col.NotFuture && d > arrival {
			return bad(ReasonFutureDate, "%s is after the day of arrival %s", d, arrival)
		}
		return parquet.Int32Value(int32(d)), nil
	case datasets.TypeFloat:
		s, ok := shiftDecimal(strings.ReplaceAll(text, ",", ""), shift)
		if !ok {
			return bad(ReasonNumber, "%q is not a number", clip(text))
		}
		f, ok := parseDecimal(s)
		var err error
		if !ok {
			f, err = strconv.ParseFloat(s, 64)
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return bad(ReasonNumber, "%q is not a finite number", clip(text))
		}
		if r := checkRange(col, f); r != nil {
			return parquet.Value{}, r
		}
		return parquet.DoubleValue(f), nil
	case datasets.TypeInt:
		n, err := strconv.ParseInt(strings.ReplaceAll(text, ",", ""), 10, 32)
		if err != nil {
			return bad(ReasonNumber, "%q is not a whole number", clip(text))
		}
		if r := checkRange(col, float64(n)); r != nil {
			return parquet.Value{}, r
		}
		return parquet.Int32Value(int32(n)), nil
	case datasets.TypeBool:
		switch strings.ToLower(text) {
		case "1", "true", "t", "y", "yes", "是":
			return parquet.BooleanValue(true), nil
		case "0", "false", "f", "n", "no", "否":
			return parquet.BooleanValue(false), nil
		}
		return bad(ReasonEnum, "%q is not a yes/no value", clip(text))
	}
	return bad(ReasonFormat, "column type %s", col.Type)
}

func checkRange(col *datasets.Column, f float64) *rowError {
	if col.Min != nil && f < *col.Min {
		return &rowError{ReasonRange, col.Name, fmt.Sprintf("%v is below the minimum %v", f, *col.Min)}
	}
	if col.Max != nil && f > *col.Max {
		return &rowError{ReasonRange, col.Name, fmt.Sprintf("%v is above the maximum %v", f, *col.Max)}
	}
	return nil
}

// clip shortens a cell quoted in a message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:61] + "..."
}

var dateLayouts = []string{"2006-01-02", "2006/01/02", "20060102", "2006.01.02", "2006/1/2", "2006-1-2", "2006年1月2日"}
var monthLayouts = []string{"2006-01", "2006/01", "200601", "2006.01", "2006年1月", "2006-1", "2006/1"}

// parseDate reads a calendar date; a month-end column also takes a bare month,
// and an Excel workbook's serial day numbers are taken as dates.
func parseDate(s string, monthEnd, xlsx bool) (datasets.Day, bool) {
	// The common forms first, without time.Parse and its error values.
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, m, d := digits4(s[:4]), digits2(s[5:7]), digits2(s[8:])
		if y < 0 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
			return 0, false
		}
		return checkYear(civilDay(y, m, d))
	}
	if monthEnd && len(s) == 7 && s[4] == '-' {
		if y, m := digits4(s[:4]), digits2(s[5:]); y >= 0 && m >= 1 && m <= 12 {
			return checkYear(civilDay(y, m+1, 1) - 1)
		}
	}
	if len(s) > 10 && (s[10] == 'T' || s[10] == ' ') {
		s = s[:10] // a timestamp: its date
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return checkYear(datasets.DayOf(t))
		}
	}
	if monthEnd {
		for _, l := range monthLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return checkYear(datasets.MonthOf(t).LastDay())
			}
		}
	}
	if xlsx {
		if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 1 && n < 200000 && n == math.Trunc(n) {
			// Excel's day 0 is 1899-12-30 (with the 1900 leap-year bug folded in).
			return checkYear(datasets.DayOf(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)) + datasets.Day(n))
		}
	}
	return 0, false
}

func checkYear(d datasets.Day) (datasets.Day, bool) {
	y := d.Time().Year()
	return d, y >= 1900 && y <= 2200
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseDecimal reads the common form of an amount (an optional sign, at most 15
// significant digits and a decimal point) as strconv.ParseFloat does: the
// digits make an integer a float64 holds exactly, and dividing it by an exact
// power of ten is rounded correctly (the fast path of Clinger's algorithm,
// strconv's own). It reports false for any other text, left to ParseFloat.
func parseDecimal(s string) (float64, bool) {
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, i = s[0] == '-', 1
	}
	var m uint64
	digits, frac, point, any := 0, 0, false, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			if m != 0 { // leading zeros do not count
				digits++
			}
			if digits > 15 {
				return 0, false
			}
			any = true
			if point {
				frac++
			}
		case c == '.' && !point:
			point = true
		default:
			return 0, false
		}
	}
	if !any || frac >= len(exactPow10) {
		return 0, false
	}
	f := float64(m) / exactPow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// shiftDecimal moves the decimal point of a plain decimal number k places to the
// right (k may be negative), so that a unit conversion by a power of ten is
// exact: "1.234567" shifted 4 is "12345.67". Exponent notation is adjusted in
// its exponent. It reports false for text that is not a decimal number.
func shiftDecimal(s string, k int) (string, bool) {
	if s == "" {
		return "", false
	}
	if k == 0 {
		return s, true
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return "", false
		}
		return s[:i] + "e" + strconv.Itoa(e+k), true
	}
	sign := ""
	if s[0] == '-' || s[0] == '+' {
		sign, s = s[:1], s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return "", false
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	digits := intPart + frac
	point := len(intPart) + k
	for point > len(digits) {
		digits += "0"
	}
	for point < 0 {
		digits = "0" + digits
		point++
	}
	out := strings.TrimLeft(digits[:point], "0")
	if out == "" {
		out = "0"
	}
	if point < len(digits) {
		out += "." + digits[point:]
	}
	return sign + out, true
}

func digits4(s string) int {
	if len(s) != 4 {
		return -1
	}
	n := 0
	for i := range 4 {
		c := s[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func digits2(s string) int {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return -1
	}
	return int(s[0]-'0')*10 + int(s[1]-'0')
}

// civilDay is the day number of y-m-d (m may be 13: January of the next year),
// by Howard Hinnant's days_from_civil.
func civilDay(y, m, d int) datasets.Day {
	if m > 12 {
		y, m = y+1, m-12
	}
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return datasets.Day(era*146097 + doe - 719468)
}

func daysIn(y, m int) int {
	return int(civilDay(y, m+1, 1) - civilDay(y, m, 1))
}
