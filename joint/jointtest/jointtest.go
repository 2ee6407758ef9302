// Package jointtest makes a generated region and a bank's label file over it
// for the tests of joint modelling (package joint, the console).
package jointtest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Labels is a bank's label file over a generated region.
type Labels struct {
	File  []byte   // CSV: code, date, label, loan_id
	Codes []string // the file's companies, in file order
}

// Region generates a region of companies over 36 months from 2023-01 into
// store, materializes the pd set quarterly through 2024 and writes a label file
// of one loan per company for rows companies, each observed 20 days after a
// snapshot, with the outcome the platform's own default label gives it (a
// public sample of the region, pd-public). A bank lends to more of the risky
// firms than the region holds: the companies that defaulted come first, each
// observed after one of the snapshots it defaulted after.
func Region(ctx context.Context, store blob.Store, companies, rows int) (*Labels, error) {
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: companies, Months: 36, Seed: 7}); err != nil {
		return nil, err
	}
	var asof []time.Time
	for _, d := range []string{"2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"} {
		t, _ := time.Parse(time.DateOnly, d)
		asof = append(asof, t)
	}
	if _, err := features.Materialize(ctx, store, features.Options{Set: "pd", AsOf: asof}); err != nil {
		return nil, err
	}
	m, err := features.BuildSample(ctx, store, features.SampleOptions{Name: "pd-public", Set: "pd", AllCompanies: true,
		From: asof[0], To: asof[len(asof)-1], BuildAt: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		return nil, err
	}
	r := &Labels{}
	// Each company's label at each snapshot date it is in.
	labelAt := map[string]map[string]float64{}
	var order []string
	for _, split := range features.SampleSplits {
		rec, err := features.ReadSampleSplit(ctx, store, m, split)
		if err != nil {
			return nil, err
		}
		codes, asofs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
		labels := rec.Column(int(rec.NumCols()) - 1).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			c := codes.Value(i)
			if labelAt[c] == nil {
				labelAt[c] = map[string]float64{}
				order = append(order, c)
			}
			labelAt[c][asofs.Value(i)] = labels.Value(i)
		}
		rec.Release()
	}
	// A bank lends to more of the risky firms than the region holds: every
	// company that defaulted after some snapshot comes first, observed after
	// one of those snapshots (the k-th company the (k mod n)-th of its n). Company
	// k is observed after the snapshot k mod 4 (or the first it is in), so every
	// split has rows.
	k := 0
	defaulted := func(c string) (string, bool) {
		var ds []string
		for _, d := range asof {
			if labelAt[c][d.Format(time.DateOnly)] == 1 {
				ds = append(ds, d.Format(time.DateOnly))
			}
		}
		if len(ds) == 0 {
			return "", false
		}
		return ds[k%len(ds)], true
	}
	slices.SortStableFunc(order, func(a, b string) int {
		_, da := defaulted(a)
		_, db := defaulted(b)
		switch {
		case da && !db:
			return -1
		case db && !da:
			return 1
		}
		return 0
	})
	var buf bytes.Buffer
	buf.WriteString("code,date,label,loan_id\n")
	for i, c := range order {
		if len(r.Codes) == rows {
			break
		}
		k = i
		date := asof[k%len(asof)].Format(time.DateOnly)
		if d, ok := defaulted(c); ok {
			date = d
		}
		y, ok := labelAt[c][date]
		if !ok {
			for _, d := range asof {
				if y, ok = labelAt[c][d.Format(time.DateOnly)]; ok {
					date = d.Format(time.DateOnly)
					break
				}
			}
		}
		d, _ := time.Parse(time.DateOnly, date)
		fmt.Fprintf(&buf, "%s,%s,%.0f,L%05d\n", c, d.AddDate(0, 0, 20).Format(time.DateOnly), y, len(r.Codes))
		r.Codes = append(r.Codes, c)
	}
	if len(r.Codes) < rows {
		return nil, fmt.Errorf("the public sample has %d companies, want %d", len(r.Codes), rows)
	}
	r.File = buf.Bytes()
	return r, nil
}
