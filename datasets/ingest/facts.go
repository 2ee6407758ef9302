package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Fact is one stored row of a raw table as the platform keeps it: what a
// department delivered (or a retraction or end of publicity of it) and when.
type Fact struct {
	// Key is the text of the contract's key columns, in the contract's order
	// (dates as YYYY-MM-DD).
	Key []string `json:"key"`
	// Values holds every contract column by its platform name, as text (dates as
	// YYYY-MM-DD, numbers in the platform's unit).
	Values   map[string]string `json:"values"`
	Revision int32             `json:"revision"`
	Arrival  datasets.Day      `json:"arrival_date"`
	Kind     datasets.RowKind  `json:"row_kind"`
	// InForce reports whether this row is its key's revision in force as of the
	// date asked: of the rows with event and arrival at or before it, the highest
	// revision (the latest arrival among equals). At most one row of a key is in
	// force; when it is a retraction or end of publicity the fact does not count.
	InForce bool `json:"in_force"`
}

// MarshalJSON writes the arrival as YYYY-MM-DD and the kind by its name
// (record, retraction, end_of_publicity).
func (f Fact) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Key      []string          `json:"key"`
		Values   map[string]string `json:"values"`
		Revision int32             `json:"revision"`
		Arrival  string            `json:"arrival_date"`
		Kind     string            `json:"row_kind"`
		InForce  bool              `json:"in_force"`
	}{f.Key, f.Values, f.Revision, f.Arrival.String(), f.Kind.String(), f.InForce})
}

// Counts reports whether the fact counts as of the date asked: its row is in
// force and is a record.
func (f *Fact) Counts() bool { return f.InForce && !f.Kind.Void() }

// Facts lists every stored row of a source for one company (the code column),
// visible batches and generated parts alike, sorted by key, then revision, then
// arrival, each marked in force or not as of asof. Files without row_kind read
// as records. It reads every part of the source: meant for objections and credit
// reports on one company, not for bulk work.
func Facts(ctx context.Context, store blob.Store, source, code string, asof datasets.Day) ([]Fact, error) {
	info, err := newSourceInfo(source)
	if err != nil {
		return nil, err
	}
	prefix := info.src.Prefix()
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("ingest: list %s: %w", prefix, err)
	}
	if infos, err = datasets.VisibleParts(ctx, store, info.src.Name, infos); err != nil {
		return nil, err
	}
	type found struct {
		fact  Fact
		key   string
		event int32
	}
	var rows []found
	row := make([]parquet.Value, info.ncols)
	cols := info.contract.Columns
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".parquet") || !strings.Contains(in.Key, "/month=") {
			continue
		}
		data, _, err := blob.ReadAll(ctx, store, in.Key)
		if err != nil {
			return nil, fmt.Errorf("ingest: read %s: %w", in.Key, err)
		}
		err = eachRow(data, in.Key, info, row, func(row []parquet.Value) {
			if string(row[info.codeLeaf].ByteArray()) != code {
				return
			}
			f := Fact{Values: make(map[string]string, len(cols)), Revision: row[info.revLeaf].Int32(),
				Arrival: datasets.Day(row[info.arrLeaf].Int32()), Kind: datasets.RowKind(row[info.kindLeaf].Int32())}
			for ci := range cols {
				date := cols[ci].Type == datasets.TypeDate || cols[ci].Type == datasets.TypeMonthEnd
				f.Values[cols[ci].Name] = valueText(row[info.leaf[ci]], date)
			}
			for _, k := range info.contract.Key {
				f.Key = append(f.Key, f.Values[k])
			}
			rows = append(rows, found{fact: f, key: info.keyOf(row), event: row[info.dateLeaf].Int32()})
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(rows, func(a, b found) int {
		if c := slices.Compare(a.fact.Key, b.fact.Key); c != 0 {
			return c
		}
		if c := cmp.Compare(a.fact.Revision, b.fact.Revision); c != 0 {
			return c
		}
		return cmp.Compare(a.fact.Arrival, b.fact.Arrival)
	})
	out := make([]Fact, len(rows))
	cand := -1
	for i := range rows {
		if i > 0 && rows[i].key != rows[i-1].key {
			if cand >= 0 {
				out[cand].InForce = true
			}
			cand = -1
		}
		out[i] = rows[i].fact
		if rows[i].event <= int32(asof) && int32(rows[i].fact.Arrival) <= int32(asof) {
			cand = i
		}
	}
	if cand >= 0 {
		out[cand].InForce = true
	}
	return out, nil
}
