package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/registry"
)

// ErrEmptySplit reports a sample split without rows where training needs some.
var ErrEmptySplit = errors.New("training: sample split has no rows")

// SampleOptions configure LoadSample.
type SampleOptions struct {
	// Catalog gives the indicators' monotone directions. Default features.DefaultCatalog().
	Catalog *features.Catalog
	// NoMonotone leaves Sample.Monotone nil (no constraints). Default false: the
	// catalog's directions become constraints (see features.SampleMonotone).
	NoMonotone bool
}

// Sample is a point-in-time sample of the feature store ready for training: the
// train split for fitting, valid for early stopping and test for the model card.
type Sample struct {
	Manifest *features.SampleManifest
	// Train always has rows; Valid and Test are nil when their split is empty.
	Train, Valid, Test *Dataset
	// Objective follows the label: binary for default and violation, regression for limit.
	Objective gbdt.Objective
	// Monotone holds one constraint per indicator (nil with NoMonotone).
	Monotone []int8
}

// LoadSample opens the sample ref ("name" for the latest version, or "name/vN") in
// store and reads its splits with features.ReadSampleSplit, so every file is checked
// against the manifest. The columns are the manifest's indicators in order, and the
// target is the label.
func LoadSample(ctx context.Context, store blob.Store, ref string, opts SampleOptions) (*Sample, error) {
	if opts.Catalog == nil && !opts.NoMonotone {
		c, err := features.DefaultCatalog()
		if err != nil {
			return nil, err
		}
		opts.Catalog = c
	}
	m, err := features.OpenSample(ctx, store, ref)
	if err != nil {
		return nil, err
	}
	s := &Sample{Manifest: m, Objective: gbdt.Binary}
	if m.Label.Regression {
		s.Objective = gbdt.Regression
	}
	if !opts.NoMonotone {
		if s.Monotone, err = features.SampleMonotone(opts.Catalog, m); err != nil {
			return nil, err
		}
	}
	for _, sp := range []struct {
		name string
		dst  **Dataset
	}{{"train", &s.Train}, {"valid", &s.Valid}, {"test", &s.Test}} {
		if _, ok := m.Splits[sp.name]; !ok && sp.name != "train" {
			continue
		}
		rec, err := features.ReadSampleSplit(ctx, store, m, sp.name)
		if err != nil {
			return nil, err
		}
		d, err := FromArrow(rec, m.Indicators, m.Label.Name)
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("sample %s split %s: %w", m.Ref(), sp.name, err)
		}
		if d.Rows() > 0 {
			*sp.dst = d
		}
	}
	if s.Train == nil {
		return nil, fmt.Errorf("%w: sample %s split train", ErrEmptySplit, m.Ref())
	}
	return s, nil
}

// Task returns the registry task of the sample's label: pd for default, violation
// for violation, limit for limit.
func (s *Sample) Task() (registry.Task, error) {
	switch s.Manifest.Label.Kind {
	case "default":
		return registry.TaskPD, nil
	case "violation":
		return registry.TaskViolation, nil
	case "limit":
		return registry.TaskLimit, nil
	}
	return "", fmt.Errorf("%w: label %s of kind %q has no registry task", ErrInvalidData, s.Manifest.Label.Name, s.Manifest.Label.Kind)
}

// LabelNote describes the sample's label and knowledge date in words, for lineage.
func (s *Sample) LabelNote() string {
	m := s.Manifest
	what := "1 when a " + m.Label.Kind + " event occurs"
	if m.Label.Regression {
		what = "the amount of the first " + m.Label.Kind + " outcome"
	}
	return fmt.Sprintf("label %s: %s within %d months after the as-of date; snapshots %s..%s of %s/v%d, built as of %s",
		m.Label.Name, what, m.Label.Horizon, m.From, m.To, m.Set, m.SetVersion, m.BuildAt)
}

// Upload assembles the registry upload of a model trained on the sample: bound to the
// sample's feature-set version, with the card (JSON) and its headline metrics, and the
// sample as lineage (name, version, manifest key, whose digest the registry records,
// and the label definition in the note). The metrics are the test split's when the
// card has them, else the validation split's, named test_auc, valid_auc and so on.
func (s *Sample) Upload(c *Card, codeVersion string) (registry.Upload, error) {
	m := s.Manifest
	up := registry.Upload{FeatureSet: m.Set, FeatureSetVersion: m.SetVersion, Metrics: map[string]float64{},
		Lineage: registry.Lineage{Kind: "trained", Sample: m.Name, SampleVersion: m.Version, SampleManifest: m.ManifestKey(),
			CodeVersion: codeVersion, Note: s.LabelNote()}}
	if c != nil {
		b, err := json.Marshal(c)
		if err != nil {
			return registry.Upload{}, fmt.Errorf("encode model card: %w", err)
		}
		up.ModelCard = b
		for _, split := range []string{"valid", "test"} {
			e := c.Metrics[split]
			if e == nil {
				continue
			}
			if s.Objective == gbdt.Binary {
				up.Metrics[split+"_auc"], up.Metrics[split+"_ks"], up.Metrics[split+"_gini"] = e.AUC, e.KS, e.Gini
				up.Metrics[split+"_logloss"] = e.LogLoss
			} else {
				up.Metrics[split+"_rmse"] = e.RMSE
			}
		}
		for k, v := range up.Metrics {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				delete(up.Metrics, k) // e.g. the AUC of a split with one class
			}
		}
	}
	return up, nil
}

// DataName names the sample in a model card: "sample pd-q/v2 (pd/v1, default_12m)".
func (s *Sample) DataName() string {
	m := s.Manifest
	return fmt.Sprintf("sample %s (%s/v%d, %s)", m.Ref(), m.Set, m.SetVersion, strings.TrimSpace(m.Label.Name))
}
