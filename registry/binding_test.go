package registry_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/registry"
)

// TestParityGate: the platform's maximum tolerance passes XGBoost's float32
// predictions (probabilities, margins and a regression) and refuses a model off
// by 0.02 in probability, whatever tolerance the upload asks for; a tighter
// tolerance is honoured and recorded.
func TestParityGate(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		e.createModel(t, e.alice, "limit", registry.TaskLimit, false)

		// Probabilities at the platform's default.
		v, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, "binary_lossguide.json", "binary_lossguide"))
		if err != nil {
			t.Fatal(err)
		}
		p := v.Parity
		if p == nil || !p.Passed || p.Rows == 0 || p.Compared != "margin" || p.Tolerance != 1e-4 || p.ToleranceRel != 1e-5 ||
			p.MaxTolerance == nil || p.MaxTolerance.Abs != 1e-4 || !(p.MaxAbsDiff > 0 && p.MaxAbsDiff < 1e-4) {
			t.Fatalf("parity report %+v", p)
		}
		t.Logf("binary_lossguide: %d rows, largest margin difference %.3g", p.Rows, p.MaxAbsDiff)
		got, err := e.reg.Version(ctx, e.alice, "pd", v.Version)
		if err != nil || got.Parity == nil || got.Parity.MaxAbsDiff != p.MaxAbsDiff || got.Parity.Tolerance != p.Tolerance {
			t.Fatalf("stored parity %+v, %v", got.Parity, err)
		}

		// Margins, with a tighter tolerance than the platform's.
		up := xgbUpload(t, "binary_dart.json", "binary_dart")
		up.Parity.Expected, up.Parity.Output = readGolden(t, "binary_dart").Margin, "margin"
		up.Parity.Tolerance, up.Parity.ToleranceRel = 1e-5, 1e-6
		if v, err = e.reg.Register(ctx, e.alice, "pd", up); err != nil {
			t.Fatal(err)
		}
		if v.Parity.Tolerance != 1e-5 || v.Parity.ToleranceRel != 1e-6 || v.Parity.Output != "margin" {
			t.Fatalf("tightened parity %+v", v.Parity)
		}

		// A float32 regression at the default.
		up = xgbUpload(t, "reg_squarederror.json", "reg_squarederror")
		up.FeatureSet = "gmsc-debt"
		if _, err := e.reg.Register(ctx, e.alice, "limit", up); err != nil {
			t.Fatal(err)
		}

		// XGBoost's float32 amounts of a gamma (log-link) model at the default;
		// amounts 1% off (0.01 in margin), or not positive, are refused.
		up = xgbUpload(t, "reg_gamma.json", "reg_gamma")
		up.FeatureSet = "gmsc-debt"
		v, err = e.reg.Register(ctx, e.alice, "limit", up)
		if err != nil {
			t.Fatal(err)
		}
		if v.Objective != "gamma" || !v.Parity.Passed || !(v.Parity.MaxAbsDiff < 1e-4) {
			t.Fatalf("gamma version objective %q parity %+v", v.Objective, v.Parity)
		}
		t.Logf("reg_gamma: %d rows, largest margin difference %.3g", v.Parity.Rows, v.Parity.MaxAbsDiff)
		for name, edit := range map[string]func(float64) float64{"1% off": func(a float64) float64 { return a * 1.01 }, "zero": func(float64) float64 { return 0 }} {
			up := xgbUpload(t, "reg_gamma.json", "reg_gamma")
			up.FeatureSet = "gmsc-debt"
			for i := range up.Parity.Expected {
				up.Parity.Expected[i] = edit(up.Parity.Expected[i])
			}
			var pe *registry.ParityError
			if _, err := e.reg.Register(ctx, e.alice, "limit", up); !errors.As(err, &pe) || pe.Report.Failures != pe.Report.Rows {
				t.Fatalf("gamma amounts %s: %v, want every row to fail", name, err)
			}
		}

		// 0.02 off in probability is refused, at any requested tolerance.
		for _, tol := range []float64{0, 1e-4, 1} {
			up := xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
			for i, p := range up.Parity.Expected {
				if p < 0.5 {
					up.Parity.Expected[i] = p + 0.02
				} else {
					up.Parity.Expected[i] = p - 0.02
				}
			}
			up.Parity.Tolerance = tol
			_, err := e.reg.Register(ctx, e.alice, "pd", up)
			var pe *registry.ParityError
			switch {
			case tol > 1e-4:
				if !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), "platform maximum") {
					t.Fatalf("tolerance %g: %v, want a refusal naming the platform maximum", tol, err)
				}
			case !errors.As(err, &pe) || pe.Report.Failures != pe.Report.Rows || pe.Report.MaxAbsDiff < 0.08:
				t.Fatalf("tolerance %g: %v, want every row to fail by at least 0.08 in margin", tol, err)
			}
		}
		vs, err := e.reg.Versions(ctx, e.alice, "pd")
		if err != nil || len(vs) != 2 {
			t.Fatalf("%d versions after refusals, %v", len(vs), err)
		}
	})
}

// TestProbabilityParityEdges: a saturated float32 probability (exactly 0 or 1)
// and probabilities near the ends are compared within their float32 rounding.
func TestProbabilityParityEdges(t *testing.T) {
	e := newEnv(t, metadbtest.SQLite(t), localStore(t))
	ctx := context.Background()
	g := readGolden(t, "binary_depthwise")
	data := readFile(t, filepath.Join(xgbDir, "binary_depthwise.json"))
	for _, tt := range []struct {
		name string
		edit func(p float64) float64
		ok   bool
	}{
		{"float32 rounding", func(p float64) float64 { return float64(float32(p)) }, true},
		{"two float32 ulps off", func(p float64) float64 { return float64(math.Nextafter32(math.Nextafter32(float32(p), 2), 2)) }, true},
		{"1e-3 off", func(p float64) float64 { return p + 1e-3 }, false},
		{"a probability above 1", func(p float64) float64 { return 1.5 }, false},
		{"NaN", func(p float64) float64 { return math.NaN() }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := registry.ParityInput{Rows: g.Rows, Expected: slices.Clone(g.Prediction)}
			for i := range in.Expected {
				in.Expected[i] = tt.edit(in.Expected[i])
			}
			err := e.reg.ValidateUpload(ctx, registry.TaskPD, registry.Upload{Data: data, FeatureSet: "gmsc", FeatureSetVersion: 1, Parity: &in})
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestCreateAndRegisterLeavesNothing: a model created together with a refused
// first version does not exist afterwards, on either engine; a good upload creates
// both; a taken name is refused before anything is written.
func TestCreateAndRegisterLeavesNothing(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		nm := registry.NewModel{Name: "pd-new", Task: registry.TaskPD, Description: "bank model"}
		for _, tt := range []struct {
			name string
			edit func(*registry.Upload)
		}{
			{"parity off", func(u *registry.Upload) { u.Parity.Expected[3] += 0.02 }},
			{"looser tolerance", func(u *registry.Upload) { u.Parity.Tolerance = 1 }},
			{"unnamed file", func(u *registry.Upload) { u.Data = readFile(t, filepath.Join(xgbDir, "binary_depthwise.binf.model")) }},
			{"unknown feature set", func(u *registry.Upload) { u.FeatureSet = "nope" }},
		} {
			up := xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
			tt.edit(&up)
			if _, _, err := e.reg.CreateAndRegister(ctx, e.alice, nm, up); err == nil {
				t.Fatalf("%s: accepted", tt.name)
			}
			if _, err := e.reg.Model(ctx, e.alice, nm.Name); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("%s: model after refusal: %v", tt.name, err)
			}
			if ms, err := e.reg.Models(ctx, e.root); err != nil || len(ms) != 0 {
				t.Fatalf("%s: models after refusal %v, %v", tt.name, ms, err)
			}
			if objs, err := e.blobs.List(ctx, "models/"); err != nil || len(objs) != 0 {
				t.Fatalf("%s: objects after refusal %v, %v", tt.name, objs, err)
			}
		}
		up := xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
		m, v, err := e.reg.CreateAndRegister(ctx, e.alice, nm, up)
		if err != nil || m.Name != nm.Name || m.ID == 0 || v.Version != 1 || m.Latest != 1 {
			t.Fatalf("create and register: %+v %+v %v", m, v, err)
		}
		if got, err := e.reg.Model(ctx, e.alice, nm.Name); err != nil || got.Latest != 1 || got.Description != nm.Description {
			t.Fatalf("model %+v, %v", got, err)
		}
		before, _ := e.blobs.List(ctx, "models/")
		up = xgbUpload(t, "binary_lossguide.json", "binary_lossguide")
		if _, _, err := e.reg.CreateAndRegister(ctx, e.bob, nm, up); !errors.Is(err, registry.ErrConflict) {
			t.Fatalf("taken name: %v, want ErrConflict", err)
		}
		if after, _ := e.blobs.List(ctx, "models/"); len(after) != len(before) {
			t.Fatalf("a refused taken name wrote %d objects", len(after)-len(before))
		}
	})
}

// TestSubsetInOwnOrder: a model over some columns of a set, in its own order, is
// registered by name; its version records its columns and the set's features; its
// artifact keeps its own order.
func TestSubsetInOwnOrder(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		// wide v2 holds the ten GMSC columns shuffled among three more.
		up := xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
		up.FeatureSet, up.FeatureSetVersion = "wide", 0 // the latest version of "wide"
		v, err := e.reg.Register(ctx, e.alice, "pd", up)
		if err != nil {
			t.Fatal(err)
		}
		if v.FeatureSet != "wide" || v.FeatureSetVersion != 2 {
			t.Fatalf("bound to %s v%d, want the latest, wide v2", v.FeatureSet, v.FeatureSetVersion)
		}
		if !slices.Equal(v.Columns, gmscNames) || len(v.Features) != len(gmscNames)+3 {
			t.Fatalf("columns %v, features %v", v.Columns, v.Features)
		}
		canon, _, err := e.reg.Artifact(ctx, e.alice, "pd", v.Version, false)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(canon), "feature_names="+strings.Join(gmscNames, " ")+"\n") {
			t.Fatal("canonical artifact does not keep the model's own column order")
		}
	})
}

// TestMigrationKeepsOldBindings: a version stored before the model's own column
// order was recorded reads back with the set's order, which its artifact has.
func TestMigrationKeepsOldBindings(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		ms, err := registry.Migrations()
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, "registry", ms[:1]); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO registry_models (name, task, owner_id, description, shared, created_by, created_at_ns) VALUES ('old', 'pd', 1, '', 1, 'x', 0)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO registry_versions (model_id, version, artifact_digest, artifact_size, original_digest, original_size,
			source_format, feature_set, feature_set_version, features_json, objective, num_trees, metrics_json, model_card_json, lineage_json, parity_json,
			created_by, created_at_ns) SELECT id, 1, 'd', 1, 'o', 1, 'lightgbm', 'simple', 1, '["X2","X1"]', 'binary', 1, 'null', 'null', '{}', 'null', 'x', 0
			FROM registry_models WHERE name = 'old'`); err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, db, localStore(t))
		v, err := e.reg.Version(ctx, e.root, "old", 1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v.Columns, []string{"X2", "X1"}) || !slices.Equal(v.Features, v.Columns) {
			t.Fatalf("migrated version: columns %v, features %v", v.Columns, v.Features)
		}
	})
}
