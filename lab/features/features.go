// Package features adapts the feature store to the lab console: the indicator
// catalog becomes the indicator library, and the statistics stored in snapshot
// manifests become the indicator pages' coverage, histogram, IV/AUC, PSI and
// industry averages.
//
//	cat, _ := features.DefaultCatalog()
//	srv, _ := lab.New(lab.Options{Indicators: labfeatures.NewIndicators(cat), ...})
package features

import (
	"context"
	"errors"
	"fmt"
	"github.com/xinyi-platform/xinyi/datasets"
	"math"
	"slices"

	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/lab/svg"
)

// Indicators serves the indicator library from a validated catalog.
type Indicators struct {
	cat *xfeatures.Catalog
}

// NewIndicators wraps cat.
func NewIndicators(cat *xfeatures.Catalog) *Indicators { return &Indicators{cat: cat} }

// Indicators lists every indicator in catalog order.
func (a *Indicators) Indicators(context.Context) ([]lab.Indicator, error) {
	all := a.cat.Indicators()
	out := make([]lab.Indicator, len(all))
	for i, ind := range all {
		out[i] = a.convert(ind)
	}
	return out, nil
}

// Indicator returns one indicator; an unknown id wraps lab.ErrNotFound.
func (a *Indicators) Indicator(_ context.Context, id string) (lab.Indicator, error) {
	ind, err := a.cat.Indicator(id)
	if err != nil {
		if errors.Is(err, xfeatures.ErrUnknownIndicator) {
			return lab.Indicator{}, fmt.Errorf("%w: %w", lab.ErrNotFound, err)
		}
		return lab.Indicator{}, err
	}
	return a.convert(ind), nil
}

func (a *Indicators) convert(ind *xfeatures.Indicator) lab.Indicator {
	out := lab.Indicator{ID: ind.ID, NameZH: ind.NameZH, NameEN: ind.NameEN, Description: ind.Description, DescriptionZH: ind.DefinitionZH(),
		Dimension: string(ind.Dimension), Source: ind.Source(), Aggregation: string(ind.Aggregation), Window: ind.Window,
		Unit: ind.Unit, Direction: string(ind.Direction), Sensitivity: string(ind.Sensitivity)}
	if src, ok := a.cat.Source(ind.Source()); ok {
		out.SourceZH, out.Department = src.NameZH, src.Department
	}
	return out
}

// Statistics reads indicator statistics from the manifests of materialized snapshots
// (features.Manifest.Stats) in the offline store: coverage, histogram and industry
// means from the latest snapshot of the first feature set holding the indicator, IV
// and AUC against the label of every such set, and PSI over that set's last
// MaxPSIPoints snapshots.
type Statistics struct {
	store blob.Store
	cat   *xfeatures.Catalog
}

// MaxPSIPoints bounds the snapshots read for the PSI line.
const MaxPSIPoints = 12

// NewStatistics reads from store, finding sets through cat.
func NewStatistics(store blob.Store, cat *xfeatures.Catalog) *Statistics {
	return &Statistics{store: store, cat: cat}
}

func statOf(m *xfeatures.Manifest, id string) *xfeatures.IndicatorStats {
	for i := range m.Stats {
		if m.Stats[i].ID == id {
			return &m.Stats[i]
		}
	}
	return nil
}

// IndicatorStats returns the statistics of id; an indicator in no materialized
// snapshot wraps lab.ErrNotFound.
func (s *Statistics) IndicatorStats(ctx context.Context, id string) (lab.IndicatorStats, error) {
	var out lab.IndicatorStats
	found := false
	for _, set := range s.cat.Sets() {
		if !slices.Contains(set.Indicators, id) {
			continue
		}
		days, err := xfeatures.ListSnapshots(ctx, s.store, set.Name, set.Version)
		if err != nil {
			return lab.IndicatorStats{}, err
		}
		if len(days) == 0 {
			continue
		}
		m, err := xfeatures.ReadManifest(ctx, s.store, set.Name, set.Version, days[len(days)-1])
		if err != nil {
			return lab.IndicatorStats{}, err
		}
		st := statOf(m, id)
		if st == nil {
			continue
		}
		if st.IV != nil || st.AUC != nil {
			p := lab.Power{Label: set.Key(), IV: math.NaN(), AUC: math.NaN()}
			if m.Label != "" {
				p.Label = m.Label + " (" + set.Key() + ")"
			}
			if st.IV != nil {
				p.IV = *st.IV
			}
			if st.AUC != nil {
				p.AUC = *st.AUC
			}
			out.Power = append(out.Power, p)
		}
		if found {
			continue
		}
		found = true
		out.AsOf, out.Coverage, out.Companies = m.AsOf, st.Coverage, st.Rows
		out.Histogram = Bins(st)
		for _, ind := range sortedKeys(st.IndustryMean) {
			out.Industry = append(out.Industry, lab.IndustryMean{Industry: ind, Name: datasets.IndustryName(ind), NameEN: datasets.IndustryNameEN(ind), Mean: st.IndustryMean[ind]})
		}
		for _, d := range days[max(0, len(days)-MaxPSIPoints):] {
			pm := m
			if d != days[len(days)-1] {
				if pm, err = xfeatures.ReadManifest(ctx, s.store, set.Name, set.Version, d); err != nil {
					return lab.IndicatorStats{}, err
				}
			}
			if ps := statOf(pm, id); ps != nil && ps.PSI != nil {
				out.PSI = append(out.PSI, lab.PSIPoint{AsOf: pm.AsOf, PSI: *ps.PSI})
			}
		}
	}
	if !found {
		return lab.IndicatorStats{}, fmt.Errorf("%w: no materialized snapshot holds %s", lab.ErrNotFound, id)
	}
	return out, nil
}

// Bins turns the equal-width histogram of a statistic (len(Histogram) bins between
// Min and Max) into chart bins. A constant indicator gives one bin of width 1.
func Bins(st *xfeatures.IndicatorStats) []svg.Bin {
	if len(st.Histogram) == 0 || st.Min == nil || st.Max == nil {
		return nil
	}
	lo, hi := *st.Min, *st.Max
	if hi <= lo {
		var n int64
		for _, c := range st.Histogram {
			n += c
		}
		return []svg.Bin{{Lo: lo, Hi: lo + 1, Count: n}}
	}
	w := (hi - lo) / float64(len(st.Histogram))
	out := make([]svg.Bin, len(st.Histogram))
	for i, c := range st.Histogram {
		out[i] = svg.Bin{Lo: lo + float64(i)*w, Hi: lo + float64(i+1)*w, Count: c}
	}
	out[len(out)-1].Hi = hi
	return out
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
