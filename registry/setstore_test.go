package registry_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/registry"
)

// bankSet is a set of bank A's own request features: the GMSC columns, in an
// order of its own.
func bankSet(shared bool) features.SetDefinition {
	d := features.SetDefinition{Name: "bank-a-sme", Description: "bank A's own features", Shared: shared}
	for i := len(gmscNames) - 1; i >= 0; i-- {
		lo := 0.0
		d.Features = append(d.Features, features.SetFeature{Name: gmscNames[i], Type: features.FeatureNumeric, Min: &lo, En: gmscNames[i]})
	}
	return d
}

// TestPublishedSetTakesModels: a bank publishes a set of its own features; a
// model in XGBoost JSON, UBJSON and legacy binary (with its column list) is
// registered against it by name; another bank neither sees the private set nor
// registers against it, and is told it is unknown; versions only grow.
func TestPublishedSetTakesModels(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		d, err := e.reg.PublishFeatureSet(ctx, e.alice, bankSet(false))
		if err != nil || d.Version != 1 || d.Owner != e.alice.InstitutionID {
			t.Fatalf("publish: %+v, %v", d, err)
		}
		// A refused first version of a new model over the bank's set leaves no
		// model, no version and no object.
		up := xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
		up.FeatureSet, up.FeatureSetVersion = "bank-a-sme", 1
		up.Parity.Expected[0] += 0.02
		if _, _, err := e.reg.CreateAndRegister(ctx, e.alice, registry.NewModel{Name: "pd-refused", Task: registry.TaskPD}, up); !errors.Is(err, registry.ErrValidation) {
			t.Fatalf("parity off by 0.02: %v", err)
		}
		var models, versions int
		if err := e.db.QueryRow(ctx, "SELECT (SELECT COUNT(*) FROM registry_models), (SELECT COUNT(*) FROM registry_versions)").Scan(&models, &versions); err != nil || models+versions != 0 {
			t.Fatalf("after a refused registration: %d models, %d versions, %v", models, versions, err)
		}
		if objs, err := e.blobs.List(ctx, "models/"); err != nil || len(objs) != 0 {
			t.Fatalf("objects after refusal %v, %v", objs, err)
		}

		for i, file := range []string{"binary_depthwise.json", "binary_depthwise.ubj", "binary_depthwise.binf.model"} {
			up := xgbUpload(t, file, "binary_depthwise")
			up.FeatureSet, up.FeatureSetVersion = "bank-a-sme", 0
			if filepath.Ext(file) == ".model" {
				up.Columns = gmscNames // the legacy binary does not name its columns
			}
			name := []string{"pd-json", "pd-ubj", "pd-binf"}[i]
			e.createModel(t, e.alice, name, registry.TaskPD, false)
			v, err := e.reg.Register(ctx, e.alice, name, up)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if v.FeatureSet != "bank-a-sme" || v.FeatureSetVersion != 1 || !slices.Equal(v.Columns, gmscNames) || v.Parity == nil || !v.Parity.Passed {
				t.Fatalf("%s: version %+v", file, v)
			}
		}

		// Bank B: the private set is unknown, for reading and for binding.
		if _, err := e.reg.FeatureSetDefinition(ctx, e.bob, features.MustSetRef("bank-a-sme/v1")); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("bob reads a private set: %v", err)
		}
		e.createModel(t, e.bob, "pd-b", registry.TaskPD, false)
		up = xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
		up.FeatureSet, up.FeatureSetVersion = "bank-a-sme", 1
		if _, err := e.reg.Register(ctx, e.bob, "pd-b", up); !errors.Is(err, registry.ErrUnknownFeatureSet) {
			t.Fatalf("bob binds to a private set: %v", err)
		}
		if sets, err := e.reg.FeatureSetDefinitions(ctx, e.bob); err != nil || slices.ContainsFunc(sets, func(s features.SetDefinition) bool { return s.Name == "bank-a-sme" }) {
			t.Fatalf("bob's listing %v, %v", sets, err)
		}
		// ... nor publish under the name.
		if _, err := e.reg.PublishFeatureSet(ctx, e.bob, bankSet(true)); !errors.Is(err, registry.ErrConflict) {
			t.Fatalf("bob takes alice's name: %v", err)
		}
		recs, err := e.log.List(ctx, audit.Filter{Subject: "feature_set:bank-a-sme", Action: "featureset.publish"})
		if err != nil || len(recs) != 1 || recs[0].Outcome != audit.OutcomeRefused {
			t.Fatalf("audit of the refusal: %+v, %v", recs, err)
		}

		// A new version, shared: bob sees it, v1 stays as it was.
		d2, err := e.reg.PublishFeatureSet(ctx, e.alice, bankSet(true))
		if err != nil || d2.Version != 2 {
			t.Fatalf("v2: %+v, %v", d2, err)
		}
		stale := bankSet(true)
		stale.Version = 2
		if _, err := e.reg.PublishFeatureSet(ctx, e.alice, stale); !errors.Is(err, registry.ErrConflict) {
			t.Fatalf("republish v2: %v, want ErrConflict", err)
		}
		got, err := e.reg.FeatureSetDefinition(ctx, e.bob, features.MustSetRef("bank-a-sme"))
		if err != nil || got.Version != 2 || !got.Shared || !slices.Equal(got.Columns(), d2.Columns()) {
			t.Fatalf("bob reads the latest: %+v, %v", got, err)
		}
		if _, err := e.reg.FeatureSetDefinition(ctx, e.bob, features.MustSetRef("bank-a-sme/v1")); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("bob reads private v1: %v", err)
		}
		if _, err := e.reg.Register(ctx, e.bob, "pd-b", up); !errors.Is(err, registry.ErrUnknownFeatureSet) {
			t.Fatalf("bob binds to private v1: %v", err)
		}
		up.FeatureSetVersion = 2
		if _, err := e.reg.Register(ctx, e.bob, "pd-b", up); err != nil {
			t.Fatalf("bob binds to shared v2: %v", err)
		}
	})
}

// TestPublishRefusals: bad definitions, a built-in name and a caller without the
// role are refused and nothing is stored.
func TestPublishRefusals(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		lo, hi := 2.0, 1.0
		for _, tt := range []struct {
			name string
			edit func(*features.SetDefinition)
			want error
		}{
			{"no features", func(d *features.SetDefinition) { d.Features = nil }, registry.ErrInvalid},
			{"twice", func(d *features.SetDefinition) { d.Features = append(d.Features, d.Features[0]) }, registry.ErrInvalid},
			{"min above max", func(d *features.SetDefinition) { d.Features[0].Min, d.Features[0].Max = &lo, &hi }, registry.ErrInvalid},
			{"bad type", func(d *features.SetDefinition) { d.Features[0].Type = "text" }, registry.ErrInvalid},
			{"categorical without categories", func(d *features.SetDefinition) {
				d.Features[0].Type, d.Features[0].Min = features.FeatureCategorical, nil
			}, registry.ErrInvalid},
			{"unknown indicator", func(d *features.SetDefinition) { d.Features[0] = features.SetFeature{Indicator: "tax.nope"} }, registry.ErrInvalid},
			{"built-in name", func(d *features.SetDefinition) { d.Name = "gmsc" }, registry.ErrConflict},
		} {
			d := bankSet(false)
			tt.edit(&d)
			if _, err := e.reg.PublishFeatureSet(ctx, e.alice, d); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
		if _, err := e.reg.PublishFeatureSet(ctx, e.carol, bankSet(false)); !errors.Is(err, registry.ErrForbidden) {
			t.Errorf("approver publishes: %v, want ErrForbidden", err)
		}
		sets, err := e.reg.FeatureSetDefinitions(ctx, e.root)
		if err != nil || slices.ContainsFunc(sets, func(s features.SetDefinition) bool { return !s.BuiltIn }) {
			t.Fatalf("after refusals: %v, %v", sets, err)
		}
	})
}
