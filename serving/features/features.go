// Package features adapts the feature store to serving: the online store answers
// serving.FeatureSource (one vector per company and feature set), Stores keeps one
// online store per feature set on the newest snapshot that loads and answers readiness
// (false only while a task's set has no snapshot; a fallback to an older one is ready
// and degraded, with the reason in /v2/health/ready), the indicator catalog
// answers serving.IndicatorCatalog, snapshots become screening populations, and
// per-indicator means of a snapshot serve as the reference averages in reasons.
package features

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	core "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving"
)

// Online is a serving.FeatureSource over one online store per feature set, keyed by
// the set's "name/vN".
type Online struct {
	stores map[string]core.OnlineStore
}

// NewOnline returns a source over stores keyed by feature-set key ("pd/v1").
func NewOnline(stores map[string]core.OnlineStore) *Online {
	return &Online{stores: stores}
}

// Vector returns the company's vector for set, checking that the store holds exactly
// the set's indicators in order.
func (o *Online) Vector(ctx context.Context, set serving.FeatureSet, code string) (serving.Vector, error) {
	st, ok := o.stores[set.Key()]
	if !ok {
		return serving.Vector{}, fmt.Errorf("%w: no online store for feature set %s", serving.ErrUnavailable, set.Key())
	}
	v, err := st.Get(ctx, code)
	switch {
	case err == nil:
	case errors.Is(err, core.ErrUnknownCompany):
		return serving.Vector{}, fmt.Errorf("%w: %w", serving.ErrUnknownCompany, err)
	case errors.Is(err, core.ErrNoSnapshot):
		return serving.Vector{}, fmt.Errorf("%w: %w", serving.ErrNotReady, err)
	default:
		return serving.Vector{}, fmt.Errorf("%w: online store: %w", serving.ErrUnavailable, err)
	}
	if !slices.Equal(v.Names, set.Indicators) {
		return serving.Vector{}, fmt.Errorf("%w: online store for %s holds %s with %d indicators", serving.ErrFeatureSetMismatch, set.Key(), v.Set, len(v.Names))
	}
	return serving.Vector{Values: v.Values, AsOf: v.AsOf, Late: v.Late}, nil
}

// Catalog names indicators from the feature store's catalog.
type Catalog struct {
	cat *core.Catalog
}

// NewCatalog wraps a catalog.
func NewCatalog(cat *core.Catalog) *Catalog { return &Catalog{cat: cat} }

// Indicator implements serving.IndicatorCatalog.
func (c *Catalog) Indicator(id string) (serving.Indicator, bool) {
	ind, err := c.cat.Indicator(id)
	if err != nil {
		return serving.Indicator{}, false
	}
	return serving.Indicator{ID: ind.ID, NameZH: ind.NameZH, NameEN: ind.NameEN, Unit: ind.Unit, Growth: ind.Aggregation == "yoy"}, true
}

// SetFromCatalog returns the serving form of a catalog feature set.
func SetFromCatalog(cat *core.Catalog, name string, version int) (serving.FeatureSet, error) {
	s, err := cat.Set(name, version)
	if err != nil {
		return serving.FeatureSet{}, err
	}
	return serving.FeatureSet{Name: s.Name, Version: s.Version, Indicators: slices.Clone(s.Indicators)}, nil
}

// Averages are per-indicator reference averages.
type Averages map[string]float64

// Average implements serving.Averages.
func (a Averages) Average(id string) (float64, bool) { v, ok := a[id]; return v, ok }

// MeanAverages computes the mean of every indicator over the companies of the
// snapshots that have a value (the regional average, used where no industry split is
// available). An indicator in several snapshots takes the first.
func MeanAverages(snaps ...*core.Snapshot) Averages {
	out := Averages{}
	for _, s := range snaps {
		if s == nil {
			continue
		}
		w := len(s.Names)
		for j, id := range s.Names {
			if _, done := out[id]; done {
				continue
			}
			sum, n := 0.0, 0
			for i := 0; i < len(s.Codes); i++ {
				if v := s.Values[i*w+j]; !math.IsNaN(v) {
					sum += v
					n++
				}
			}
			if n > 0 {
				out[id] = sum / float64(n)
			}
		}
	}
	return out
}

// Population turns a snapshot into a screening population for set, checking the
// snapshot holds the set's indicators in order.
func Population(s *core.Snapshot, set serving.FeatureSet) (*serving.Population, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", serving.ErrInvalidInput, err)
	}
	if !slices.Equal(s.Names, set.Indicators) {
		return nil, fmt.Errorf("%w: snapshot %s has %d indicators, not those of %s", serving.ErrFeatureSetMismatch, s.Set, len(s.Names), set.Key())
	}
	return &serving.Population{Set: set, AsOf: s.AsOf, Codes: s.Codes, Values: s.Values}, nil
}

// Snapshots loads the newest intact snapshot of a feature set from the object store
// as a screening population: a newest snapshot that does not read (a corrupt or
// missing part) is passed over for the one before it, as the online store does, and
// the population carries the as-of date actually used.
type Snapshots struct {
	Store blob.Store
	// Logger hears of every snapshot passed over. Nil: slog.Default().
	Logger *slog.Logger
}

// Population implements serving.PopulationSource.
func (s Snapshots) Population(ctx context.Context, set serving.FeatureSet) (*serving.Population, error) {
	snap, _, skipped, err := core.LatestIntactSnapshot(ctx, s.Store, set.Name, set.Version)
	if err != nil {
		return nil, fmt.Errorf("%w: latest snapshot of %s: %w", serving.ErrUnavailable, set.Key(), err)
	}
	if len(skipped) > 0 {
		log := s.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("screening on an older snapshot: the newer ones do not read", "set", set.Key(), "as_of", snap.AsOf.Format(time.DateOnly),
			"skipped", errors.Join(skipped...).Error())
	}
	return Population(snap, set)
}
