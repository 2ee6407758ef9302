// Package features binds the registry to the feature store's catalog: Catalog
// implements registry.FeatureSets over a *features.Catalog, so a model is checked
// against the indicator list of the feature-set version it is bound to.
package features

import (
	"context"
	"errors"
	"fmt"
	"slices"

	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/registry"
)

// Catalog adapts a feature catalog to registry.FeatureSets.
type Catalog struct{ cat *xfeatures.Catalog }

// New returns the adapter over cat.
func New(cat *xfeatures.Catalog) *Catalog { return &Catalog{cat: cat} }

// FeatureSet resolves ref (a bare name: the latest version) and returns the exact
// reference with the indicator ids of that version in order, or an error wrapping
// registry.ErrUnknownFeatureSet.
func (c *Catalog) FeatureSet(_ context.Context, ref xfeatures.SetRef) (xfeatures.SetRef, []string, error) {
	if ref.Version < 0 {
		return xfeatures.SetRef{}, nil, fmt.Errorf("%w: %s v%d: versions start at 1", registry.ErrUnknownFeatureSet, ref.Name, ref.Version)
	}
	s, err := c.cat.Resolve(ref)
	if errors.Is(err, xfeatures.ErrUnknownSet) {
		return xfeatures.SetRef{}, nil, fmt.Errorf("%w: %w", registry.ErrUnknownFeatureSet, err)
	}
	if err != nil {
		return xfeatures.SetRef{}, nil, fmt.Errorf("registry/features: %s: %w", ref, err)
	}
	return s.Ref(), slices.Clone(s.Indicators), nil
}

// Known reports whether id is an indicator of the catalog
// (registry.IndicatorCatalog).
func (c *Catalog) Known(id string) bool {
	_, err := c.cat.Indicator(id)
	return err == nil
}

// Definitions returns the built-in sets as definitions (registry.BuiltInSets).
func (c *Catalog) Definitions() []xfeatures.SetDefinition {
	sets := c.cat.Sets()
	out := make([]xfeatures.SetDefinition, 0, len(sets))
	for _, s := range sets {
		d := xfeatures.SetDefinition{Name: s.Name, Version: s.Version, Description: s.Description, Shared: true, BuiltIn: true,
			Features: make([]xfeatures.SetFeature, len(s.Indicators))}
		for i, id := range s.Indicators {
			d.Features[i] = xfeatures.SetFeature{Indicator: id}
		}
		out = append(out, d)
	}
	return out
}
