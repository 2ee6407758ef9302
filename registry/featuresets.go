package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xinyi-platform/xinyi/features"
)

// ErrUnknownFeatureSet is returned by a FeatureSets for a name or version it does
// not know.
var ErrUnknownFeatureSet = errors.New("registry: unknown feature set")

// FeatureSets resolves a feature-set reference to the exact version it names (a
// bare name is the latest version, see features.SetRef) and that version's
// feature names in the set's order. The feature store implements it;
// StaticFeatureSets serves tests and tools.
type FeatureSets interface {
	FeatureSet(ctx context.Context, ref features.SetRef) (features.SetRef, []string, error)
}

// StaticFeatureSets is a fixed map: name -> version -> columns.
type StaticFeatureSets map[string]map[int][]string

// FeatureSet returns the exact reference and a copy of the columns of ref.
func (s StaticFeatureSets) FeatureSet(_ context.Context, ref features.SetRef) (features.SetRef, []string, error) {
	if ref.Version == 0 {
		for v := range s[ref.Name] {
			ref.Version = max(ref.Version, v)
		}
	}
	cols, ok := s[ref.Name][ref.Version]
	if !ok || ref.Version <= 0 {
		return features.SetRef{}, nil, fmt.Errorf("%w: %s", ErrUnknownFeatureSet, ref)
	}
	return ref, slices.Clone(cols), nil
}

// Definitions lists the sets as definitions of indicators, by name and version
// (BuiltInSets).
func (s StaticFeatureSets) Definitions() []features.SetDefinition {
	var out []features.SetDefinition
	for name, vs := range s {
		for v, cols := range vs {
			d := features.SetDefinition{Name: name, Version: v, Shared: true, BuiltIn: true}
			for _, c := range cols {
				d.Features = append(d.Features, features.SetFeature{Indicator: c})
			}
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b features.SetDefinition) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return out
}
