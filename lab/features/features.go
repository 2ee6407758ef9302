// Package features adapts the feature store to the lab console: the indicator
// catalog becomes the indicator library.
//
//	cat, _ := features.DefaultCatalog()
//	srv, _ := lab.New(lab.Options{Indicators: labfeatures.NewIndicators(cat), ...})
package features

import (
	"context"
	"errors"
	"fmt"

	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/lab"
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
	out := lab.Indicator{ID: ind.ID, NameZH: ind.NameZH, NameEN: ind.NameEN, Description: ind.Description,
		Dimension: string(ind.Dimension), Source: ind.Source(), Aggregation: string(ind.Aggregation), Window: ind.Window,
		Unit: ind.Unit, Direction: string(ind.Direction), Sensitivity: string(ind.Sensitivity)}
	if src, ok := a.cat.Source(ind.Source()); ok {
		out.SourceZH, out.Department = src.NameZH, src.Department
	}
	return out
}
