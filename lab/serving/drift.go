package serving

import (
	"context"
	"math"
	"slices"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/serving/modeldrift"
)

// Drift shows a model's drift against its training sample (serving/modeldrift)
// on its console page; the page has authorized the reader of the model.
type Drift struct {
	report func(ctx context.Context) (*modeldrift.Report, error)
	cat    *features.Catalog // indicator names; nil: ids only
}

// NewDrift returns the console's view of the drift report gives (the server's
// cache).
func NewDrift(report func(ctx context.Context) (*modeldrift.Report, error), cat *features.Catalog) *Drift {
	return &Drift{report: report, cat: cat}
}

// ModelDrift implements lab.ModelDrift: the points of the model's version in
// production, as one series for the score and one per top indicator.
func (d *Drift) ModelDrift(ctx context.Context, _ lab.Principal, model string) (lab.DriftView, error) {
	var v lab.DriftView
	rep, err := d.report(ctx)
	if err != nil {
		return v, err
	}
	var pts []modeldrift.Point
	for _, p := range rep.Points {
		if p.Model == model {
			pts = append(pts, p)
		}
	}
	if len(pts) == 0 {
		return v, nil
	}
	v.Version, v.Baseline, v.BaselineKind = pts[0].Version, pts[0].Baseline, pts[0].BaselineKind
	for _, p := range pts {
		if !slices.Contains(v.Dates, p.AsOf) {
			v.Dates = append(v.Dates, p.AsOf)
		}
	}
	slices.Sort(v.Dates)
	at := map[string]int{}
	for _, p := range pts {
		k := p.Kind + " " + p.Indicator
		i, ok := at[k]
		if !ok {
			s := lab.DriftSeries{Kind: p.Kind, Indicator: p.Indicator, Gain: p.Gain, PSI: make([]float64, len(v.Dates)), Latest: math.NaN()}
			for j := range s.PSI {
				s.PSI[j] = math.NaN()
			}
			if ind, err := d.indicator(p.Indicator); err == nil && p.Kind == modeldrift.KindIndicator {
				s.NameZH, s.NameEN = ind.NameZH, ind.NameEN
			}
			i = len(v.Series)
			at[k] = i
			v.Series = append(v.Series, s)
		}
		j, _ := slices.BinarySearch(v.Dates, p.AsOf)
		v.Series[i].PSI[j] = p.PSI
		if j == len(v.Dates)-1 {
			v.Series[i].Latest, v.Series[i].Level = p.PSI, p.Level
		}
	}
	slices.SortStableFunc(v.Series, func(a, b lab.DriftSeries) int {
		if (a.Kind == modeldrift.KindScore) != (b.Kind == modeldrift.KindScore) {
			if a.Kind == modeldrift.KindScore {
				return -1
			}
			return 1
		}
		switch {
		case a.Gain > b.Gain:
			return -1
		case a.Gain < b.Gain:
			return 1
		}
		return 0
	})
	return v, nil
}

func (d *Drift) indicator(id string) (*features.Indicator, error) {
	if d.cat == nil {
		return nil, features.ErrUnknownIndicator
	}
	return d.cat.Indicator(id)
}
