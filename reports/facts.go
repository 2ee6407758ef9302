package reports

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Row kinds of the raw tables' row_kind column; a file without the column holds
// records only.
const (
	rowRecord     = 0 // a record
	rowRetraction = 1 // the department withdrew the fact
	rowEndOfPub   = 2 // the fact's publicity ended (repaired, or its period ran out)
)

// The columns a section reads of each raw table, with row_kind. A file lacking a
// column reads it as zero (parquet-go converts the file's schema to these).
type (
	penaltyFact struct {
		Code        string       `parquet:"code"`
		EventDate   datasets.Day `parquet:"event_date,date"`
		ArrivalDate datasets.Day `parquet:"arrival_date,date"`
		Revision    int32        `parquet:"revision"`
		RowKind     int32        `parquet:"row_kind"`
		PenaltyID   string       `parquet:"penalty_id"`
		Department  string       `parquet:"department"`
		Severity    int32        `parquet:"severity"`
		Amount      float64      `parquet:"amount"`
	}
	courtFact struct {
		Code        string       `parquet:"code"`
		EventDate   datasets.Day `parquet:"event_date,date"`
		ArrivalDate datasets.Day `parquet:"arrival_date,date"`
		Revision    int32        `parquet:"revision"`
		RowKind     int32        `parquet:"row_kind"`
		CaseID      string       `parquet:"case_id"`
		Role        string       `parquet:"role"`
		CaseType    string       `parquet:"case_type"`
		Amount      float64      `parquet:"amount"`
		Stage       string       `parquet:"stage"`
		Enforcement bool         `parquet:"enforcement"`
		Dishonest   bool         `parquet:"dishonest"`
		Restricted  bool         `parquet:"restricted"`
	}
	realEstateFact struct {
		Code        string       `parquet:"code"`
		EventDate   datasets.Day `parquet:"event_date,date"`
		ArrivalDate datasets.Day `parquet:"arrival_date,date"`
		Revision    int32        `parquet:"revision"`
		RowKind     int32        `parquet:"row_kind"`
		RecordID    string       `parquet:"record_id"`
		Kind        string       `parquet:"kind"`
		Amount      float64      `parquet:"amount"`
	}
	// monthFact is a monthly table's arrears: Arrears (tax, social insurance,
	// utilities), ArrearsMonths (housing fund), OverdueAmount and OverdueDays (loan).
	monthFact struct {
		Code          string       `parquet:"code"`
		EventDate     datasets.Day `parquet:"event_date,date"`
		ArrivalDate   datasets.Day `parquet:"arrival_date,date"`
		Revision      int32        `parquet:"revision"`
		RowKind       int32        `parquet:"row_kind"`
		Arrears       float64      `parquet:"arrears"`
		ArrearsMonths int32        `parquet:"arrears_months"`
		OverdueAmount float64      `parquet:"overdue_amount"`
		OverdueDays   int32        `parquet:"overdue_days"`
	}
	companyFact struct {
		Code        string       `parquet:"code"`
		EventDate   datasets.Day `parquet:"event_date,date"`
		ArrivalDate datasets.Day `parquet:"arrival_date,date"`
		Revision    int32        `parquet:"revision"`
		RowKind     int32        `parquet:"row_kind"`
		Name        string       `parquet:"name"`
		Status      string       `parquet:"status"`
		StatusDate  datasets.Day `parquet:"status_date,date"`
	}
)

// fact is what every row type gives the in-force selection.
type fact interface {
	penaltyFact | courtFact | realEstateFact | monthFact | companyFact
}

func meta[T fact](r *T) (code string, event, arrival datasets.Day, revision, kind int32, id string) {
	switch r := any(r).(type) {
	case *penaltyFact:
		return r.Code, r.EventDate, r.ArrivalDate, r.Revision, r.RowKind, r.PenaltyID
	case *courtFact:
		return r.Code, r.EventDate, r.ArrivalDate, r.Revision, r.RowKind, r.CaseID
	case *realEstateFact:
		return r.Code, r.EventDate, r.ArrivalDate, r.Revision, r.RowKind, r.RecordID
	case *monthFact:
		return r.Code, r.EventDate, r.ArrivalDate, r.Revision, r.RowKind, ""
	case *companyFact:
		return r.Code, r.EventDate, r.ArrivalDate, r.Revision, r.RowKind, "registry"
	}
	return "", 0, 0, 0, 0, ""
}

// sourceFacts is what one raw table holds of a company over the period.
type sourceFacts[T fact] struct {
	present bool         // the table has committed parts at all
	since   datasets.Day // the first day of its earliest month delivered (0: nothing delivered)
	through datasets.Day // the date its data runs through (0: nothing delivered)
	facts   []T          // the company's facts in force as of the report date, records only
}

// maxPartBytes bounds one raw part read into memory.
const maxPartBytes = 1 << 30

// readFacts reads source's parts of months lo..hi and keeps code's facts in force
// as of asOf: per key (the id column of an event table, the event date of a monthly
// one) the highest revision arrived by asOf, left out when that revision is a
// retraction or an end of publicity. through is the later of the source's newest
// committed batch and the latest arrival_date of any part (capped at asOf; for a
// monthly table, at the last day of the latest month delivered).
func readFacts[T fact](ctx context.Context, store blob.Store, source string, lo, hi datasets.Month, code string, asOf datasets.Day) (sourceFacts[T], error) {
	var out sourceFacts[T]
	src, err := datasets.SourceByName(source)
	if err != nil {
		return out, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	reps, err := ingest.History(ctx, store, source)
	if err != nil {
		return out, fmt.Errorf("%w: %s batches: %v", ErrUnavailable, source, err)
	}
	for _, r := range reps {
		// The batch's arrival day, as ingestion counts it (China Standard Time).
		d := datasets.DayOf(r.AcceptedAt.In(ingest.ChinaStandardTime))
		if t, err := time.Parse(time.DateOnly, r.Arrival); err == nil {
			d = datasets.DayOf(t)
		}
		out.through = max(out.through, d)
	}
	infos, err := store.List(ctx, src.Prefix())
	if err != nil {
		return out, fmt.Errorf("%w: list %s: %v", ErrUnavailable, src.Prefix(), err)
	}
	if infos, err = datasets.VisibleParts(ctx, store, source, infos); err != nil {
		return out, fmt.Errorf("%w: %s: %v", ErrUnavailable, source, err)
	}
	var lastEvent datasets.Day // last day of the latest month with a row arrived by asOf
	inForce := map[string]T{}
	var order []string
	for _, in := range infos {
		rest := strings.TrimPrefix(in.Key, src.Prefix())
		dir, file, ok := strings.Cut(rest, "/")
		if !ok || !strings.HasPrefix(dir, "month=") || !strings.HasSuffix(file, ".parquet") {
			continue
		}
		out.present = true
		m, err := datasets.ParseMonth(strings.TrimPrefix(dir, "month="))
		if err != nil {
			return out, fmt.Errorf("%w: %s: bad month folder %q", datasets.ErrCorrupt, in.Key, dir)
		}
		// A part outside the period holds none of its facts, but its arrivals
		// still say how far the source's data runs.
		part := code
		if m < lo || m > hi {
			part = ""
		}
		rows, maxArrival, err := readPart[T](ctx, store, in.Key, part, asOf)
		if err != nil {
			return out, err
		}
		if maxArrival > out.through {
			out.through = maxArrival
		}
		if maxArrival > 0 {
			lastEvent = max(lastEvent, m.LastDay())
			if out.since == 0 || m.FirstDay() < out.since {
				out.since = m.FirstDay()
			}
		}
		for _, r := range rows {
			_, event, _, rev, _, id := meta(&r)
			key := id
			if key == "" {
				key = event.String()
			}
			cur, seen := inForce[key]
			if !seen {
				order = append(order, key)
			}
			if _, _, _, crev, _, _ := meta(&cur); !seen || rev >= crev {
				inForce[key] = r
			}
		}
	}
	if out.through > asOf {
		out.through = asOf
	}
	// A monthly table describes months: its data runs no further than the last
	// month delivered, however late that month arrived.
	if src.Kind == datasets.Monthly {
		out.through = min(out.through, lastEvent)
	}
	for _, k := range order {
		r := inForce[k]
		if _, _, _, _, kind, _ := meta(&r); kind == rowRecord {
			out.facts = append(out.facts, r)
		}
	}
	return out, nil
}

// readPart reads one raw part and returns code's rows that arrived by asOf (none
// when code is empty), and the latest arrival_date of any row arrived by asOf. It scans the code and
// arrival_date columns alone and decodes whole rows only for code's, so a part of
// a whole region costs little more than its two columns. A damaged part is an
// error naming it, never a crash.
func readPart[T fact](ctx context.Context, store blob.Store, key, code string, asOf datasets.Day) (rows []T, maxArrival datasets.Day, err error) {
	rc, info, err := store.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: read %s: %v", ErrUnavailable, key, err)
	}
	defer rc.Close()
	if info.Size > maxPartBytes {
		return nil, 0, fmt.Errorf("%w: %s is %d bytes, more than %d", datasets.ErrCorrupt, key, info.Size, maxPartBytes)
	}
	data := bytes.NewBuffer(make([]byte, 0, max(info.Size, 0)+bytes.MinRead))
	_, err = data.ReadFrom(io.LimitReader(rc, maxPartBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: read %s: %v", ErrUnavailable, key, err)
	}
	defer func() {
		if r := recover(); r != nil { // parquet-go panics on some malformed input
			rows, maxArrival, err = nil, 0, fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, key, r)
		}
	}()
	size := int64(data.Len())
	f, err := parquet.OpenFile(bytes.NewReader(data.Bytes()), size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, key, err)
	}
	n := f.NumRows()
	if n < 0 || n > size*8+1024 {
		return nil, 0, fmt.Errorf("%w: %s: implausible row count %d", datasets.ErrCorrupt, key, n)
	}
	want, maxArrival, err := rowsOf(f, int(n), code, asOf)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, key, err)
	}
	if len(want) == 0 || code == "" {
		return nil, maxArrival, nil
	}
	r := parquet.NewGenericReader[T](f)
	defer r.Close()
	buf := make([]T, 256)
	for i := 0; i < len(want); {
		j := i + 1 // a run of consecutive rows (a part is sorted by code)
		for j < len(want) && want[j] == want[j-1]+1 && j-i < len(buf) {
			j++
		}
		if err := r.SeekToRow(int64(want[i])); err != nil {
			return nil, 0, fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, key, err)
		}
		got, err := r.Read(buf[:j-i])
		if got != j-i {
			return nil, 0, fmt.Errorf("%w: %s: read %d of %d rows at %d: %v", datasets.ErrCorrupt, key, got, j-i, want[i], err)
		}
		for k := range buf[:got] {
			if _, _, arrival, _, _, _ := meta(&buf[k]); arrival <= asOf {
				rows = append(rows, buf[k])
			}
		}
		i = j
	}
	return rows, maxArrival, nil
}

// rowsOf finds the rows of code in f (whatever their arrival) and the latest
// arrival_date of any row arrived by asOf. The latest arrival comes from the
// column chunks' statistics when they show every row arrived by asOf; otherwise
// the column is scanned. The code column is read only in the pages whose index
// bounds may hold code.
func rowsOf(f *parquet.File, n int, code string, asOf datasets.Day) (want []int, maxArrival datasets.Day, err error) {
	if maxArrival, ok := arrivalStats(f, asOf); ok {
		if code == "" {
			return nil, maxArrival, nil
		}
		want, err := codeRows(f, n, code)
		return want, maxArrival, err
	}
	codes, err := scanColumn(f, "code", n, func(v parquet.Value) int32 {
		if !v.IsNull() && string(v.ByteArray()) == code {
			return 1
		}
		return 0
	})
	if err != nil {
		return nil, 0, fmt.Errorf("column code: %v", err)
	}
	arrivals, err := scanColumn(f, "arrival_date", n, func(v parquet.Value) int32 { return v.Int32() })
	if err != nil {
		return nil, 0, fmt.Errorf("column arrival_date: %v", err)
	}
	for i, a := range arrivals {
		if datasets.Day(a) > asOf {
			continue
		}
		maxArrival = max(maxArrival, datasets.Day(a))
		if codes[i] == 1 {
			want = append(want, i)
		}
	}
	return want, maxArrival, nil
}

// arrivalStats is the latest arrival_date of f by its column chunk statistics,
// when every row group has them and none goes past asOf.
func arrivalStats(f *parquet.File, asOf datasets.Day) (datasets.Day, bool) {
	leaf, ok := f.Schema().Lookup("arrival_date")
	if !ok || leaf.Node.Type().Kind() != parquet.Int32 {
		return 0, false
	}
	var out datasets.Day
	for _, rg := range f.Metadata().RowGroups {
		if leaf.ColumnIndex >= len(rg.Columns) {
			return 0, false
		}
		mx := rg.Columns[leaf.ColumnIndex].MetaData.Statistics.MaxValue
		if len(mx) != 4 {
			return 0, false
		}
		d := datasets.Day(int32(binary.LittleEndian.Uint32(mx)))
		if d > asOf {
			return 0, false
		}
		out = max(out, d)
	}
	return out, true
}

// codeRows returns the rows whose code is code. With a page index it reads only
// the pages whose bounds may hold code (a part is sorted by code, so one or two);
// a bound may be a truncated prefix, so a page whose maximum is a prefix of code
// is read too.
func codeRows(f *parquet.File, n int, code string) ([]int, error) {
	leaf, ok := f.Schema().Lookup("code")
	if !ok {
		return nil, fmt.Errorf("no column code")
	}
	var out []int
	base := 0
	buf := make([]parquet.Value, 1024)
	for _, rg := range f.RowGroups() {
		rows := int(rg.NumRows())
		if base+rows > n {
			return nil, fmt.Errorf("row groups hold more than the %d rows", n)
		}
		cc := rg.ColumnChunks()[leaf.ColumnIndex]
		ci, err1 := cc.ColumnIndex()
		oi, err2 := cc.OffsetIndex()
		indexed := err1 == nil && err2 == nil && ci != nil && oi != nil && ci.NumPages() == oi.NumPages() && ci.NumPages() > 0
		pages := cc.Pages()
		err := func() error {
			defer pages.Close()
			at := 0 // row of the row group the next value is
			for p := 0; ; p++ {
				if indexed {
					if p >= ci.NumPages() {
						return nil
					}
					if ci.NullPage(p) {
						continue
					}
					lo, hi := string(ci.MinValue(p).ByteArray()), string(ci.MaxValue(p).ByteArray())
					if code < lo || (code > hi && !strings.HasPrefix(code, hi)) {
						continue
					}
					if at = int(oi.FirstRowIndex(p)); at < 0 || at >= rows {
						return fmt.Errorf("page %d starts at row %d of %d", p, at, rows)
					}
					if err := pages.SeekToRow(int64(at)); err != nil {
						return err
					}
				}
				page, err := pages.ReadPage()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				vr := page.Values()
				for {
					k, err := vr.ReadValues(buf)
					if at+k > rows {
						parquet.Release(page)
						return fmt.Errorf("more values than the row group's %d rows", rows)
					}
					for i, v := range buf[:k] {
						if !v.IsNull() && string(v.ByteArray()) == code {
							out = append(out, base+at+i)
						}
					}
					at += k
					if errors.Is(err, io.EOF) || k == 0 {
						break
					}
					if err != nil {
						parquet.Release(page)
						return err
					}
				}
				parquet.Release(page)
			}
		}()
		if err != nil {
			return nil, err
		}
		base += rows
	}
	return out, nil
}

// scanColumn maps every value of column name through fn, in row order.
func scanColumn(f *parquet.File, name string, n int, fn func(parquet.Value) int32) ([]int32, error) {
	leaf, ok := f.Schema().Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no column %q", name)
	}
	out := make([]int32, 0, n)
	buf := make([]parquet.Value, 1024)
	for _, rg := range f.RowGroups() {
		pages := rg.ColumnChunks()[leaf.ColumnIndex].Pages()
		for {
			p, err := pages.ReadPage()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				pages.Close()
				return nil, err
			}
			vr := p.Values()
			for {
				k, err := vr.ReadValues(buf)
				if len(out)+k > n {
					parquet.Release(p)
					pages.Close()
					return nil, fmt.Errorf("more values than the %d rows", n)
				}
				for _, v := range buf[:k] {
					out = append(out, fn(v))
				}
				if errors.Is(err, io.EOF) || k == 0 {
					break
				}
				if err != nil {
					parquet.Release(p)
					pages.Close()
					return nil, err
				}
			}
			parquet.Release(p)
		}
		pages.Close()
	}
	if len(out) != n {
		return nil, fmt.Errorf("read %d of %d values", len(out), n)
	}
	return out, nil
}
