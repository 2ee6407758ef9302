package cases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// RecordRef names one department record: its source and the values of the
// source's key columns (datasets/contracts.yaml), e.g. penalty {penalty_id} or
// tax {code, event_date}.
type RecordRef struct {
	Source string            `json:"source"`
	Key    map[string]string `json:"key"`
}

// Limits of a reference, checked before anything is looked up.
const (
	maxKeyValue = 200
)

// ParseRecordRef checks ref against its source's contract — a known source,
// exactly the key columns, each value of the column's type — and returns it
// normalised (trimmed, codes upper-case, dates YYYY-MM-DD, a bare month of a
// monthly period as the month's last day).
func ParseRecordRef(ref RecordRef) (RecordRef, error) {
	c, err := datasets.ContractOf(ref.Source)
	if err != nil {
		return RecordRef{}, fmt.Errorf("%w: unknown source %q", ErrInvalid, ref.Source)
	}
	for k := range ref.Key {
		if !slices.Contains(c.Key, k) {
			return RecordRef{}, fmt.Errorf("%w: %q is not a key column of %s (its key is %s)", ErrInvalid, k, c.Name, strings.Join(c.Key, ", "))
		}
	}
	out := RecordRef{Source: c.Name, Key: make(map[string]string, len(c.Key))}
	for _, k := range c.Key {
		v, ok := ref.Key[k]
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return RecordRef{}, fmt.Errorf("%w: record of %s needs %s (its key is %s)", ErrInvalid, c.Name, k, strings.Join(c.Key, ", "))
		}
		if len(v) > maxKeyValue {
			return RecordRef{}, fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, k, maxKeyValue)
		}
		col, _ := c.Column(k)
		switch col.Type {
		case datasets.TypeCode:
			v = creditcode.Normalize(v)
			if err := creditcode.Validate(v); err != nil {
				return RecordRef{}, fmt.Errorf("%w: %s %q: %v", ErrInvalid, k, v, err)
			}
		case datasets.TypeDate, datasets.TypeMonthEnd:
			d, err := parseDay(v, col.Type == datasets.TypeMonthEnd)
			if err != nil {
				return RecordRef{}, fmt.Errorf("%w: %s %q: %v", ErrInvalid, k, v, err)
			}
			v = d.String()
		case datasets.TypeInt:
			if _, err := strconv.ParseInt(v, 10, 32); err != nil {
				return RecordRef{}, fmt.Errorf("%w: %s %q is not an integer", ErrInvalid, k, v)
			}
		}
		out.Key[k] = v
	}
	return out, nil
}

func parseDay(s string, monthEnd bool) (datasets.Day, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return datasets.DayOf(t), nil
	}
	if monthEnd {
		if m, err := datasets.ParseMonth(s); err == nil {
			return m.LastDay(), nil
		}
	}
	return 0, errors.New("not a date (YYYY-MM-DD)")
}

// String is the reference as one line, key columns in contract order:
// "penalty:penalty_id=PEN-1", "tax:code=9133…,event_date=2024-05-31".
func (r RecordRef) String() string {
	var b strings.Builder
	b.WriteString(r.Source)
	b.WriteByte(':')
	keys := r.keyOrder()
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(r.Key[k])
	}
	return b.String()
}

func (r RecordRef) keyOrder() []string {
	if c, err := datasets.ContractOf(r.Source); err == nil {
		return c.Key
	}
	keys := make([]string, 0, len(r.Key))
	for k := range r.Key {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Fact is the stored state of one record: its latest revision and its values as
// text in the platform's units (what a correction file would carry).
type Fact struct {
	Ref      RecordRef         `json:"record"`
	Company  string            `json:"company"`
	Event    datasets.Day      `json:"-"`
	Arrival  datasets.Day      `json:"-"`
	Revision int32             `json:"revision"`
	Kind     datasets.RowKind  `json:"row_kind"`
	Values   map[string]string `json:"values"`
}

// Counts says whether the fact in force still counts (it is a record, not a
// retraction or an end of publicity).
func (f Fact) Counts() bool { return !f.Kind.Void() }

// Records finds department records. RawRecords implements it over the raw
// tables.
type Records interface {
	// Fact returns the latest revision of the record ref names; an error
	// wrapping ErrUnknownRecord when there is none.
	Fact(ctx context.Context, ref RecordRef) (Fact, error)
	// Each calls fn with the latest revision of every record of source.
	Each(ctx context.Context, source string, fn func(Fact) error) error
}

// RawRecords reads facts from the raw tables in object storage (committed
// batches and generated parts, as every reader sees them). A source whose key
// holds its event date is read one month; an event source keyed by an id is
// read whole.
type RawRecords struct {
	Store blob.Store
}

// Fact implements Records.
func (r RawRecords) Fact(ctx context.Context, ref RecordRef) (Fact, error) {
	ref, err := ParseRecordRef(ref)
	if err != nil {
		return Fact{}, err
	}
	var found *Fact
	err = r.scan(ctx, ref.Source, ref, func(f Fact) error {
		if found == nil || newer(f, *found) {
			found = &f
		}
		return nil
	})
	if err != nil {
		return Fact{}, err
	}
	if found == nil {
		return Fact{}, fmt.Errorf("%w: no record %s", ErrUnknownRecord, ref)
	}
	return *found, nil
}

// Each implements Records.
func (r RawRecords) Each(ctx context.Context, source string, fn func(Fact) error) error {
	latest := map[string]Fact{}
	var order []string
	err := r.scan(ctx, source, RecordRef{}, func(f Fact) error {
		k := f.Ref.String()
		cur, ok := latest[k]
		if !ok {
			order = append(order, k)
		}
		if !ok || newer(f, cur) {
			latest[k] = f
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range order {
		if err := fn(latest[k]); err != nil {
			return err
		}
	}
	return nil
}

func newer(a, b Fact) bool {
	return a.Revision > b.Revision || a.Revision == b.Revision && a.Arrival > b.Arrival
}

// scan calls fn with every stored row of source matching want (all rows when
// want has no key).
func (r RawRecords) scan(ctx context.Context, source string, want RecordRef, fn func(Fact) error) error {
	c, err := datasets.ContractOf(source)
	if err != nil {
		return fmt.Errorf("%w: unknown source %q", ErrInvalid, source)
	}
	src := c.Source()
	months, err := datasets.Months(ctx, r.Store, src)
	if errors.Is(err, datasets.ErrSourceMissing) {
		return nil
	}
	if err != nil {
		return err
	}
	if ev, ok := want.Key["event_date"]; ok {
		d, err := parseDay(ev, false)
		if err != nil {
			return fmt.Errorf("%w: event_date %q", ErrInvalid, ev)
		}
		months = slices.DeleteFunc(months, func(m datasets.Month) bool { return m != d.Month() })
	}
	for _, m := range months {
		infos, err := r.Store.List(ctx, src.MonthPrefix(m))
		if err != nil {
			return fmt.Errorf("cases: list %s: %w", src.MonthPrefix(m), err)
		}
		if infos, err = datasets.VisibleParts(ctx, r.Store, src.Name, infos); err != nil {
			return err
		}
		for _, in := range infos {
			if !strings.HasSuffix(in.Key, ".parquet") {
				continue
			}
			data, _, err := blob.ReadAll(ctx, r.Store, in.Key)
			if err != nil {
				return fmt.Errorf("cases: read %s: %w", in.Key, err)
			}
			if err := eachFact(data, in.Key, c, want, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// eachFact decodes the rows of one raw Parquet file by column name.
func eachFact(data []byte, name string, c *datasets.Contract, want RecordRef, fn func(Fact) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, name, r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, name, err)
	}
	leaf := func(col string) int {
		if l, ok := f.Schema().Lookup(col); ok {
			return l.ColumnIndex
		}
		return -1
	}
	cols := make([]int, len(c.Columns))
	for i, col := range c.Columns {
		if cols[i] = leaf(col.Name); cols[i] < 0 {
			return fmt.Errorf("%w: %s: no column %s", datasets.ErrCorrupt, name, col.Name)
		}
	}
	arrL, revL, kindL := leaf("arrival_date"), leaf("revision"), leaf(datasets.RowKindColumn)
	if arrL < 0 || revL < 0 {
		return fmt.Errorf("%w: %s: no arrival_date or revision", datasets.ErrCorrupt, name)
	}
	keyIdx := make([]int, len(c.Key))
	for i, k := range c.Key {
		keyIdx[i] = slices.IndexFunc(c.Columns, func(col datasets.Column) bool { return col.Name == k })
	}
	rd := parquet.NewReader(f)
	defer rd.Close()
	rows := make([]parquet.Row, 256)
	byCol := make([]parquet.Value, len(f.Schema().Columns()))
	for {
		n, rerr := rd.ReadRows(rows)
		for _, fr := range rows[:n] {
			for _, v := range fr {
				if ci := v.Column(); ci >= 0 && ci < len(byCol) {
					byCol[ci] = v
				}
			}
			match := true
			for i, k := range c.Key {
				if w, ok := want.Key[k]; ok && text(&c.Columns[keyIdx[i]], byCol[cols[keyIdx[i]]]) != w {
					match = false
					break
				}
			}
			if !match {
				continue
			}
			fact := Fact{Ref: RecordRef{Source: c.Name, Key: map[string]string{}}, Values: make(map[string]string, len(c.Columns)),
				Arrival: datasets.Day(byCol[arrL].Int32()), Revision: byCol[revL].Int32()}
			if kindL >= 0 {
				fact.Kind = datasets.RowKind(byCol[kindL].Int32())
			}
			for i := range c.Columns {
				col := &c.Columns[i]
				v := text(col, byCol[cols[i]])
				fact.Values[col.Name] = v
				switch col.Name {
				case "code":
					fact.Company = v
				case "event_date":
					fact.Event = datasets.Day(byCol[cols[i]].Int32())
				}
			}
			for _, k := range c.Key {
				fact.Ref.Key[k] = fact.Values[k]
			}
			if err := fn(fact); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) || (rerr == nil && n == 0) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, name, rerr)
		}
	}
}

// text formats a stored value as a correction file would carry it.
func text(col *datasets.Column, v parquet.Value) string {
	if v.IsNull() {
		return ""
	}
	switch col.Type {
	case datasets.TypeDate, datasets.TypeMonthEnd:
		return datasets.Day(v.Int32()).String()
	case datasets.TypeFloat:
		return strconv.FormatFloat(v.Double(), 'f', -1, 64)
	case datasets.TypeInt:
		return strconv.FormatInt(v.Int64(), 10)
	case datasets.TypeBool:
		return strconv.FormatBool(v.Boolean())
	}
	return string(v.ByteArray())
}
