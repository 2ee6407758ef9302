package features

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// ExportOptions configure ExportSample.
type ExportOptions struct {
	// Clearance is the reader's (access.ClearanceOf): indicators of a higher
	// sensitivity are left out of the file. Required.
	Clearance string
	// Names names each company in the file (access.Pseudonyms.Name: the code of
	// a company that consented to the reader's institution, a pseudonym
	// otherwise). Nil: every code is written as it is, for the platform's own
	// exports only.
	Names func(code string) string
	// Catalog is the indicator library the sensitivities come from. Default
	// DefaultCatalog().
	Catalog *Catalog
}

// ExportReport says what an export left out.
type ExportReport struct {
	Rows int `json:"rows"`
	// Columns are the indicators written; Withheld those above the clearance.
	Columns  []string `json:"columns"`
	Withheld []string `json:"withheld"`
	// Pseudonymised counts the rows whose company is named by a pseudonym.
	Pseudonymised int `json:"pseudonymised"`
}

// ExportSample writes every split of sample m (read from store) as one CSV
// file: split, company, asof, the indicators at or below opts.Clearance in the
// manifest's order (empty = missing) and the label. An indicator the catalog
// does not know is withheld (its sensitivity is unknown). Nothing is written
// when the options are unusable.
func ExportSample(ctx context.Context, store blob.Store, m *SampleManifest, w io.Writer, opts ExportOptions) (*ExportReport, error) {
	if access.SensitivityRank(opts.Clearance) == 0 {
		return nil, fmt.Errorf("%w: clearance %q is not public, restricted or confidential", ErrInvalidOptions, opts.Clearance)
	}
	if opts.Catalog == nil {
		c, err := DefaultCatalog()
		if err != nil {
			return nil, err
		}
		opts.Catalog = c
	}
	rep := &ExportReport{Columns: []string{}, Withheld: []string{}}
	var keep []int // positions among m.Indicators
	for i, id := range m.Indicators {
		ind, err := opts.Catalog.Indicator(id)
		if err == nil && access.ClearanceAllows(opts.Clearance, string(ind.Sensitivity)) {
			keep = append(keep, i)
			rep.Columns = append(rep.Columns, id)
		} else {
			rep.Withheld = append(rep.Withheld, id)
		}
	}
	cw := csv.NewWriter(w)
	header := append(append([]string{"split", "company", "asof"}, rep.Columns...), m.Label.Name)
	if err := cw.Write(header); err != nil {
		return nil, err
	}
	row := make([]string, len(header))
	for _, split := range SampleSplits {
		if _, ok := m.Splits[split]; !ok {
			continue
		}
		rec, err := ReadSampleSplit(ctx, store, m, split)
		if err != nil {
			return nil, err
		}
		codes, asofs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
		label := rec.Column(int(rec.NumCols()) - 1).(*array.Float64)
		for r := 0; r < int(rec.NumRows()); r++ {
			code := codes.Value(r)
			name := code
			if opts.Names != nil {
				name = opts.Names(code)
			}
			if name != code {
				rep.Pseudonymised++
			}
			row[0], row[1], row[2] = split, name, asofs.Value(r)
			for k, i := range keep {
				col := rec.Column(2 + i).(*array.Float64)
				if col.IsNull(r) {
					row[3+k] = ""
				} else {
					row[3+k] = strconv.FormatFloat(col.Value(r), 'g', -1, 64)
				}
			}
			row[len(row)-1] = strconv.FormatFloat(label.Value(r), 'g', -1, 64)
			if err := cw.Write(row); err != nil {
				rec.Release()
				return nil, err
			}
			rep.Rows++
		}
		rec.Release()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	cw.Flush()
	return rep, cw.Error()
}
