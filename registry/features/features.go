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

// FeatureSet returns the indicator ids of a feature-set version in order, or an
// error wrapping registry.ErrUnknownFeatureSet.
func (c *Catalog) FeatureSet(_ context.Context, name string, version int) ([]string, error) {
	if version <= 0 {
		return nil, fmt.Errorf("%w: %s v%d: versions start at 1", registry.ErrUnknownFeatureSet, name, version)
	}
	s, err := c.cat.Set(name, version)
	if errors.Is(err, xfeatures.ErrUnknownSet) {
		return nil, fmt.Errorf("%w: %w", registry.ErrUnknownFeatureSet, err)
	}
	if err != nil {
		return nil, fmt.Errorf("registry/features: %s v%d: %w", name, version, err)
	}
	return slices.Clone(s.Indicators), nil
}
