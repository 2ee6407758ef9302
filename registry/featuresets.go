package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrUnknownFeatureSet is returned by a FeatureSets for a name or version it does
// not know.
var ErrUnknownFeatureSet = errors.New("registry: unknown feature set")

// FeatureSets resolves a feature-set version to its ordered column names. The
// feature store implements it; StaticFeatureSets serves tests and tools.
type FeatureSets interface {
	FeatureSet(ctx context.Context, name string, version int) ([]string, error)
}

// StaticFeatureSets is a fixed map: name -> version -> columns.
type StaticFeatureSets map[string]map[int][]string

// FeatureSet returns a copy of the columns of name at version.
func (s StaticFeatureSets) FeatureSet(_ context.Context, name string, version int) ([]string, error) {
	cols, ok := s[name][version]
	if !ok {
		return nil, fmt.Errorf("%w: %s v%d", ErrUnknownFeatureSet, name, version)
	}
	return slices.Clone(cols), nil
}
