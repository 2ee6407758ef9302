package riskindex

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// Validation says how well one date's cells ranked the defaults that followed.
type Validation struct {
	AsOf string `json:"as_of"`
	// Cells are the cells compared (not suppressed); Defaults the companies of
	// those cells with a default in the months after AsOf.
	Cells, Defaults int
	// Spearman is the rank correlation between the cells' index and their
	// default rate over the following months (NaN with fewer than 3 cells).
	Spearman float64 `json:"spearman"`
}

// Validate compares, for every scored date whose following months the labels
// cover, each cell's index with the share of its companies that defaulted in
// the next months (a default event after the date and within the window).
func Validate(ctx context.Context, store blob.Store, level Level, m Method, months int) ([]Validation, error) {
	if !allLevels[level] {
		return nil, fmt.Errorf("riskindex: level %q is not region, district, industry or district_industry", level)
	}
	defaults, last, err := defaultEvents(ctx, store)
	if err != nil {
		return nil, err
	}
	var out []Validation
	err = eachRun(ctx, store, func(run *scores.Manifest, rows []scores.Row, dir *datasets.Directory) error {
		t, err := time.Parse(time.DateOnly, run.AsOf)
		if err != nil {
			return err
		}
		from, to := datasets.DayOf(t), datasets.DayOf(t.AddDate(0, months, 0))
		if to > last {
			return nil // the labels do not cover the window yet
		}
		bad := map[key]int{}
		for _, r := range rows {
			k, ok := cellOf(dir, r.Company, level)
			if ok && slices.ContainsFunc(defaults[r.Company], func(e datasets.Day) bool { return e > from && e <= to }) {
				bad[k]++
			}
		}
		var xs, ys []float64
		v := Validation{AsOf: run.AsOf}
		for _, c := range group(run.AsOf, rows, dir, level, m) {
			if c.Suppressed {
				continue
			}
			n := bad[key{c.District, c.Industry}]
			xs, ys = append(xs, c.Index), append(ys, float64(n)/float64(c.Companies))
			v.Defaults += n
		}
		v.Cells, v.Spearman = len(xs), spearman(xs, ys)
		out = append(out, v)
		return nil
	})
	return out, err
}

// defaultEvents reads every default event by company, and the last event date
// the labels hold.
func defaultEvents(ctx context.Context, store blob.Store) (map[string][]datasets.Day, datasets.Day, error) {
	infos, err := store.List(ctx, "labels/")
	if err != nil {
		return nil, 0, fmt.Errorf("riskindex: list labels/: %w", err)
	}
	out := map[string][]datasets.Day{}
	var last datasets.Day
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".parquet") {
			continue
		}
		b, _, err := blob.ReadAll(ctx, store, in.Key)
		if err != nil {
			return nil, 0, err
		}
		rows, err := parquet.Read[datasets.LabelRow](bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, 0, fmt.Errorf("riskindex: %s: %w", in.Key, err)
		}
		for _, r := range rows {
			last = max(last, r.EventDate)
			if r.Kind == datasets.LabelDefault {
				out[r.Code] = append(out[r.Code], r.EventDate)
			}
		}
	}
	return out, last, nil
}

// spearman is the rank correlation of xs and ys (average ranks for ties).
func spearman(xs, ys []float64) float64 {
	if len(xs) < 3 {
		return math.NaN()
	}
	rx, ry := ranks(xs), ranks(ys)
	var mx, my float64
	for i := range rx {
		mx += rx[i]
		my += ry[i]
	}
	mx /= float64(len(rx))
	my /= float64(len(ry))
	var sxy, sxx, syy float64
	for i := range rx {
		dx, dy := rx[i]-mx, ry[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}
