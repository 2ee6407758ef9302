package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

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
	through datasets.Day // the date its data runs through (0: nothing delivered)
	facts   []T          // the company's facts in force as of the report date, records only
}

// maxPartBytes bounds one raw part read into memory.
const maxPartBytes = 1 << 30

// readFacts reads source's parts of months lo..hi and keeps code's facts in force
// as of asOf: per key (the id column of an event table, the event date of a monthly
// one) the highest revision arrived by asOf, left out when that revision is a
// retraction or an end of publicity. through is the later of the source's newest
// committed batch and the latest arrival_date read (capped at asOf).
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
		if d := datasets.DayOf(r.AcceptedAt.UTC()); d > out.through {
			out.through = d
		}
	}
	infos, err := store.List(ctx, src.Prefix())
	if err != nil {
		return out, fmt.Errorf("%w: list %s: %v", ErrUnavailable, src.Prefix(), err)
	}
	if infos, err = datasets.VisibleParts(ctx, store, source, infos); err != nil {
		return out, fmt.Errorf("%w: %s: %v", ErrUnavailable, source, err)
	}
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
		if err != nil || m < lo || m > hi {
			continue
		}
		rows, maxArrival, err := readPart[T](ctx, store, in.Key, code, asOf)
		if err != nil {
			return out, err
		}
		if maxArrival > out.through {
			out.through = maxArrival
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
	for _, k := range order {
		r := inForce[k]
		if _, _, _, _, kind, _ := meta(&r); kind == rowRecord {
			out.facts = append(out.facts, r)
		}
	}
	return out, nil
}

// readPart reads one raw part and returns code's rows that arrived by asOf, and
// the latest arrival_date of any row arrived by asOf. A damaged part is an error
// naming it, never a crash.
func readPart[T fact](ctx context.Context, store blob.Store, key, code string, asOf datasets.Day) (rows []T, maxArrival datasets.Day, err error) {
	rc, info, err := store.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: read %s: %v", ErrUnavailable, key, err)
	}
	defer rc.Close()
	if info.Size > maxPartBytes {
		return nil, 0, fmt.Errorf("%w: %s is %d bytes, more than %d", datasets.ErrCorrupt, key, info.Size, maxPartBytes)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxPartBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: read %s: %v", ErrUnavailable, key, err)
	}
	defer func() {
		if r := recover(); r != nil {
			rows, maxArrival, err = nil, 0, fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, key, r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, key, err)
	}
	if n := f.NumRows(); n < 0 || n > int64(len(data))*8+1024 {
		return nil, 0, fmt.Errorf("%w: %s: implausible row count %d", datasets.ErrCorrupt, key, n)
	}
	r := parquet.NewGenericReader[T](f)
	defer r.Close()
	buf := make([]T, 1024)
	for {
		n, err := r.Read(buf)
		for i := range buf[:n] {
			c, _, arrival, _, _, _ := meta(&buf[i])
			if arrival > asOf {
				continue
			}
			if arrival > maxArrival {
				maxArrival = arrival
			}
			if c == code {
				rows = append(rows, buf[i])
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, key, err)
		}
		if n == 0 {
			break
		}
	}
	return rows, maxArrival, nil
}
