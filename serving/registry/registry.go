// Package registry adapts the model registry to serving.ModelSource and
// serving.ChangeWaiter: aliases resolve to immutable versions, artifacts are read from
// the object store and verified against their sha256, and the registry's change feed
// wakes the follower as soon as an alias moves. Serving only reads the registry.
package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	core "github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/serving"
)

// Source reads the registry on behalf of Principal (an identity that can see the
// served models, e.g. a platform administrator's service key).
type Source struct {
	Registry  *core.Registry
	Principal access.Principal
}

// New returns a Source.
func New(r *core.Registry, p access.Principal) *Source { return &Source{Registry: r, Principal: p} }

func wrap(err error, what string) error {
	if errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("%w: %s: %w", serving.ErrUnknownModel, what, err)
	}
	return fmt.Errorf("%w: %s: %w", serving.ErrUnavailable, what, err)
}

// Resolve returns the version an alias points at.
func (s *Source) Resolve(ctx context.Context, model, alias string) (serving.ModelRef, error) {
	v, err := s.Registry.Resolve(ctx, s.Principal, model, alias)
	if err != nil {
		return serving.ModelRef{}, wrap(err, "resolve "+model+"@"+alias)
	}
	m, err := s.Registry.Model(ctx, s.Principal, model)
	if err != nil {
		return serving.ModelRef{}, wrap(err, "model "+model)
	}
	return serving.ModelRef{Name: v.Model, Version: strconv.Itoa(v.Version), SHA256: v.ArtifactDigest,
		FeatureSet: v.FeatureSet, FeatureSetVersion: v.FeatureSetVersion, Owner: m.OwnerID, Shared: m.Shared}, nil
}

// Artifact returns the canonical model text of a version, verified against its digest.
func (s *Source) Artifact(ctx context.Context, ref serving.ModelRef) ([]byte, error) {
	n, err := strconv.Atoi(ref.Version)
	if err != nil {
		return nil, fmt.Errorf("%w: version %q of %s is not a number", serving.ErrUnknownModel, ref.Version, ref.Name)
	}
	data, v, err := s.Registry.Artifact(ctx, s.Principal, ref.Name, n, false)
	if err != nil {
		return nil, wrap(err, "artifact of "+ref.String())
	}
	if ref.SHA256 != "" && v.ArtifactDigest != ref.SHA256 {
		return nil, fmt.Errorf("%w: %s artifact digest %s, resolved %s", serving.ErrInvalidModel, ref, v.ArtifactDigest, ref.SHA256)
	}
	return data, nil
}

// WaitChange blocks until the change feed moves past after or wait passes.
func (s *Source) WaitChange(ctx context.Context, after int64, wait time.Duration) (int64, error) {
	_, last, err := s.Registry.WaitChanges(ctx, s.Principal, after, 100, wait)
	if err != nil {
		return after, wrap(err, "change feed")
	}
	return last, nil
}

// FeatureSet returns the feature set a resolved version is bound to, built-in or
// published at run time, as serving binds a scorer to it: its features (catalog
// indicators and request features) in the set's published order.
func (s *Source) FeatureSet(ctx context.Context, ref serving.ModelRef) (serving.FeatureSet, error) {
	d, err := s.Registry.FeatureSetDefinition(ctx, s.Principal, features.SetRef{Name: ref.FeatureSet, Version: ref.FeatureSetVersion})
	if err != nil {
		return serving.FeatureSet{}, wrap(err, "feature set of "+ref.String())
	}
	return serving.FeatureSet{Name: d.Name, Version: d.Version, Indicators: d.Columns(), Requests: d.RequestFeatures()}, nil
}

// TrainingSample returns the training sample a version's lineage names
// ("name/vN"), or "" when it names none (modeldrift.Samples).
func (s *Source) TrainingSample(ctx context.Context, ref serving.ModelRef) (string, error) {
	n, err := strconv.Atoi(ref.Version)
	if err != nil {
		return "", fmt.Errorf("%w: version %q of %s is not a number", serving.ErrUnknownModel, ref.Version, ref.Name)
	}
	v, err := s.Registry.Version(ctx, s.Principal, ref.Name, n)
	if err != nil {
		return "", wrap(err, "version "+ref.String())
	}
	if v.Lineage.Sample == "" || v.Lineage.SampleVersion <= 0 {
		return "", nil
	}
	return v.Lineage.Sample + "/v" + strconv.Itoa(v.Lineage.SampleVersion), nil
}
