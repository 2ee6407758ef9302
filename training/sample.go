package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/blob"
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
	// Objective overrides the objective that follows the label: gbdt.Regression
	// trains a limit model with L2 on yuan, as before the gamma objective, for
	// comparison. It must fit the label (binary for a binary label, regression
	// or gamma for an amount). Default "": follow the label.
	Objective gbdt.Objective
}

// Sample is a point-in-time sample of the feature store ready for training: the
// train split for fitting, valid for early stopping and test for the model card.
type Sample struct {
	Manifest *features.SampleManifest
	// Train always has rows; Valid and Test are nil when their split is empty.
	Train, Valid, Test *Dataset
	// Objective follows the label: binary for default and violation, gamma (log
	// link, the prediction in yuan) for limit.
	Objective gbdt.Objective
	// LeftOut counts, per split, the rows a gamma objective cannot take: a limit
	// of 0 is a refusal of credit, which the PD model and the decision policy
	// decide (rating D, red), not the limit model; the limit model learns the
	// size of a limit granted. Nil when no row was left out.
	LeftOut map[string]int
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
		s.Objective = gbdt.Gamma
	}
	switch o := opts.Objective; {
	case o == "" || o == s.Objective:
	case m.Label.Regression && o == gbdt.Regression:
		s.Objective = o
	default:
		return nil, fmt.Errorf("%w: objective %s does not fit label %s of sample %s, which needs %s",
			ErrInvalidParams, o, m.Label.Name, m.Ref(), s.Objective)
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
		if s.Objective == gbdt.Gamma {
			keep := make([]int, 0, d.Rows())
			for i, y := range d.Label {
				if y > 0 {
					keep = append(keep, i)
				}
			}
			if out := d.Rows() - len(keep); out > 0 {
				if s.LeftOut == nil {
					s.LeftOut = map[string]int{}
				}
				s.LeftOut[sp.name] = out
				d = d.Subset(keep)
			}
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

// Task returns the model task of the sample's label, as the registry names tasks: pd
// for default, violation for violation, limit for limit.
func (s *Sample) Task() (string, error) {
	switch k := s.Manifest.Label.Kind; k {
	case "default":
		return "pd", nil
	case "violation", "limit":
		return k, nil
	}
	return "", fmt.Errorf("%w: label %s of kind %q has no model task", ErrInvalidData, s.Manifest.Label.Name, s.Manifest.Label.Kind)
}

// LabelNote describes the sample's label, its population and its knowledge date in
// words, for lineage.
func (s *Sample) LabelNote() string {
	m := s.Manifest
	what := "1 when a " + m.Label.Kind + " event occurs"
	if m.Label.Regression {
		what = "the amount of the first " + m.Label.Kind + " outcome"
	}
	var population string
	if m.Label.PerformingOnly {
		population += "; companies whose " + m.Label.Kind + " was known by the as-of date left out"
	}
	if m.Label.Exposure != "" {
		population += "; only companies with " + m.Label.Exposure + " > 0"
	}
	if n := s.LeftOut["train"] + s.LeftOut["valid"] + s.LeftOut["test"]; n > 0 {
		population += fmt.Sprintf("; %d rows with a %s of 0 or less left out (a refusal, which the PD model and the policy decide; %s learns the size of a %s granted)",
			n, m.Label.Kind, s.Objective, m.Label.Kind)
	}
	if m.Population == features.PopulationLabelFile {
		population += "; the rows of a label file, each company as of the newest snapshot on or before its observation date"
	}
	return fmt.Sprintf("label %s: %s within %d months after the as-of date%s; snapshots %s..%s of %s/v%d, built as of %s",
		m.Label.Name, what, m.Label.Horizon, population, m.From, m.To, m.Set, m.SetVersion, m.BuildAt)
}

// CardMetrics returns the headline figures of a card for a registry: those of the
// valid and test splits, named valid_auc, test_auc, test_ks, test_gini, test_logloss
// (binary) or valid_rmse, test_rmse (in the label's unit), valid_mdape, test_mdape
// (median absolute percentage error, a share) and, for gamma, valid_rmse_log,
// test_rmse_log (regression). Figures that are not defined or not finite (the AUC
// of a split with one class) are left out.
func CardMetrics(c *Card) map[string]float64 {
	out := map[string]float64{}
	if c == nil {
		return out
	}
	for _, split := range []string{"valid", "test"} {
		e := c.Metrics[split]
		if e == nil {
			continue
		}
		if c.Objective == gbdt.Binary {
			out[split+"_auc"], out[split+"_ks"], out[split+"_gini"], out[split+"_logloss"] = e.AUC, e.KS, e.Gini, e.LogLoss
		} else {
			out[split+"_rmse"] = e.RMSE
			if e.RMSELog != nil {
				out[split+"_rmse_log"] = *e.RMSELog
			}
			if e.MdAPE != nil {
				out[split+"_mdape"] = *e.MdAPE
			}
		}
	}
	for k, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(out, k)
		}
	}
	return out
}

// DataName names the sample in a model card: "sample pd-q/v2 (pd/v1, default_12m)".
func (s *Sample) DataName() string {
	m := s.Manifest
	return fmt.Sprintf("sample %s (%s/v%d, %s)", m.Ref(), m.Set, m.SetVersion, strings.TrimSpace(m.Label.Name))
}
