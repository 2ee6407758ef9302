package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/lab"
	labregistry "github.com/xinyi-platform/xinyi/lab/registry"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	regfeatures "github.com/xinyi-platform/xinyi/registry/features"
	xtraining "github.com/xinyi-platform/xinyi/training"
)

// storeWithSamples generates 1,000 companies over 2023-01..2025-12 into dir,
// materializes pd at the quarter ends of 2023-09..2024-12 and builds the samples pd-q
// (default_12m) and lim-q (limit) as of 2025-12-31.
func storeWithSamples(t *testing.T, dir string) blob.Store {
	t.Helper()
	ctx := context.Background()
	store, err := blob.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 1000, Months: 36, Seed: 11, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	var asof []time.Time
	for _, d := range []string{"2023-09-30", "2023-12-31", "2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"} {
		tm, _ := time.Parse(time.DateOnly, d)
		asof = append(asof, tm)
	}
	if _, err := features.Materialize(ctx, store, features.Options{Set: "pd", AsOf: asof, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	buildAt, _ := time.Parse(time.DateOnly, "2025-12-31")
	for name, label := range map[string]string{"pd-q": "", "lim-q": "limit"} {
		if _, err := features.BuildSample(ctx, store, features.SampleOptions{Name: name, Set: "pd", Label: label,
			From: asof[0], To: asof[len(asof)-1], BuildAt: buildAt}); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// registryOn opens a registry over store with a data scientist of Bank A.
func registryOn(t *testing.T, store blob.Store) (*xregistry.Registry, lab.Principal) {
	t.Helper()
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := xregistry.Open(ctx, db, store, regfeatures.New(cat), log, xregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, p := accesstest.User(t, acc, "Bank A", access.KindBank, "alice", access.RoleDataScientist)
	return reg, lab.Principal{Principal: p}
}

func TestTrainOnStoreSample(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := storeWithSamples(t, dir)
	reg, alice := registryOn(t, store)
	tr := New(Options{Store: store, Models: labregistry.New(reg), Threads: 2, CodeVersion: "test"})
	defer tr.Close()

	// The manifest's digest, from the file itself (after the local store's header line).
	file, err := os.ReadFile(filepath.Join(dir, "samples", "pd-q", "v1", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, raw, _ := bytes.Cut(file, []byte("\n"))
	manifestSHA := blob.SHA256Hex(raw)

	tests := []struct {
		sample, model string
		wantSample    string
		task          xregistry.Task
		objective     gbdt.Objective
		metric        string
		note          []string
	}{
		{"pd-q", "pd-lab", "pd-q/v1", xregistry.TaskPD, gbdt.Binary, "test_auc",
			[]string{"label default_12m: 1 when a default event occurs within 12 months"}},
		{"lim-q/v1", "lim-lab", "lim-q/v1", xregistry.TaskLimit, gbdt.Gamma, "test_mdape",
			[]string{"label limit: the amount of the first limit outcome within 12 months", "rows with a limit of 0 or less left out"}},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			id, err := tr.StartTraining(ctx, lab.TrainingRequest{Sample: tt.sample, Preset: "quick", By: alice})
			if err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 50*time.Second)
			defer cancel()
			j, err := tr.Wait(wctx, id)
			if err != nil || j.State != lab.JobDone {
				t.Fatalf("job %+v, %v", j, err)
			}
			if j.Sample != tt.wantSample {
				t.Errorf("job sample = %q, want %q", j.Sample, tt.wantSample)
			}
			ref, err := tr.RegisterTraining(ctx, id, tt.model, alice)
			if err != nil {
				t.Fatal(err)
			}
			if ref != tt.model+":v1" {
				t.Errorf("registered as %q, want %s:v1", ref, tt.model)
			}
			m, err := reg.Model(ctx, alice.Principal, tt.model)
			if err != nil || m.Task != tt.task {
				t.Fatalf("model %+v, %v, want task %s", m, err, tt.task)
			}
			v, err := reg.Version(ctx, alice.Principal, tt.model, 1)
			if err != nil {
				t.Fatal(err)
			}
			l := v.Lineage
			name, _, _ := strings.Cut(tt.wantSample, "/v")
			if v.FeatureSet != "pd" || v.FeatureSetVersion != 1 || l.Kind != "trained" || l.Sample+"/v"+strconv.Itoa(l.SampleVersion) != tt.wantSample ||
				l.SampleManifest != "samples/"+name+"/v1/manifest.json" || l.SampleManifestSHA256 == "" {
				t.Errorf("version bound to %s/v%d with lineage %+v", v.FeatureSet, v.FeatureSetVersion, l)
			}
			if name == "pd-q" && l.SampleManifestSHA256 != manifestSHA {
				t.Errorf("registry recorded manifest sha256 %s, the stored manifest has %s", l.SampleManifestSHA256, manifestSHA)
			}
			if _, ok := v.Metrics[tt.metric]; !ok {
				t.Errorf("metrics %v lack %s", v.Metrics, tt.metric)
			}
			for _, want := range tt.note {
				if !strings.Contains(l.Note, want) {
					t.Errorf("lineage note lacks %q: %s", want, l.Note)
				}
			}
			// The card is a training.Card, equal in its figures to what
			// training.NewCard gives for the registered model on the sample.
			var got xtraining.Card
			if err := json.Unmarshal(v.ModelCard, &got); err != nil {
				t.Fatalf("model card is not a training.Card: %v\n%s", err, v.ModelCard)
			}
			if got.Objective != tt.objective {
				t.Errorf("card objective %s, want %s", got.Objective, tt.objective)
			}
			want := cardOf(t, reg, alice, tt.model, store, tt.wantSample, got)
			if l.Note != want.note {
				t.Errorf("lineage note %q, want the sample's label note %q", l.Note, want.note)
			}
			sameCard(t, &got, want.card)
			if m := xtraining.CardMetrics(want.card); !maps.Equal(v.Metrics, m) {
				t.Errorf("registry metrics %v, want the card's %v", v.Metrics, m)
			}
		})
	}

	t.Run("public data set by version", func(t *testing.T) {
		tw := New(Options{Data: []DataSet{{Name: "taiwan", Path: filepath.Join(dataDir(t), "taiwan", "UCI_Credit_Card.csv"), Load: datasets.LoadTaiwan}}, Store: store, Threads: 2})
		defer tw.Close()
		id, err := tw.StartTraining(ctx, lab.TrainingRequest{Sample: "taiwan/v1", Preset: "quick", By: alice})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 50*time.Second)
		defer cancel()
		if j, err := tw.Wait(wctx, id); err != nil || j.State != lab.JobDone || j.Sample != "taiwan" {
			t.Fatalf("job %+v, %v, want taiwan done", j, err)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct{ sample, msg string }{
			{"nope", `no sample named "nope"`},
			{"pd-q/v4", "pd-q has no version 4"},
		} {
			if _, err := tr.StartTraining(ctx, lab.TrainingRequest{Sample: tc.sample, Preset: "quick", By: alice}); !errors.Is(err, lab.ErrInvalidInput) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: err = %v, want ErrInvalidInput naming %q", tc.sample, err, tc.msg)
			}
		}
		plain := New(Options{})
		defer plain.Close()
		if _, err := plain.StartTraining(ctx, lab.TrainingRequest{Sample: "pd-q", Preset: "quick"}); !errors.Is(err, lab.ErrInvalidInput) {
			t.Errorf("without a store: err = %v, want ErrInvalidInput", err)
		}
	})
}

type expected struct {
	card *xtraining.Card
	note string
}

// cardOf is training.NewCard of the registered version v1 of model on a fresh
// load of sample, as xinyi train makes it; the run's own figures (rounds,
// parameters, time) come from got, the card under test.
func cardOf(t *testing.T, reg *xregistry.Registry, p lab.Principal, model string, store blob.Store, sample string, got xtraining.Card) expected {
	t.Helper()
	ctx := context.Background()
	art, _, err := reg.Artifact(ctx, p.Principal, model, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gbdt.Parse(art, gbdt.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	s, err := xtraining.LoadSample(ctx, store, sample, xtraining.SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := &xtraining.Result{Params: got.Params, Rounds: got.Training.Rounds, RoundsRun: got.Training.RoundsRun,
		EarlyStopped: got.Training.EarlyStopped, Metric: got.Training.Metric, BestValid: math.NaN()}
	c, err := xtraining.NewCard(xtraining.CardInput{Name: got.Name, DataName: s.DataName(), Target: s.Manifest.Label.Name,
		Model: m, Result: res, Train: s.Train, Valid: s.Valid, Test: s.Test})
	if err != nil {
		t.Fatal(err)
	}
	return expected{card: c, note: s.LabelNote()}
}

// sameCard compares what a card says about the model and its data.
func sameCard(t *testing.T, got, want *xtraining.Card) {
	t.Helper()
	if !reflect.DeepEqual(got.Data, want.Data) || got.Trees != want.Trees || got.Leaves != want.Leaves || got.Objective != want.Objective {
		t.Errorf("card data %+v, %d trees, %d leaves, %s; want %+v, %d, %d, %s", got.Data, got.Trees, got.Leaves, got.Objective,
			want.Data, want.Trees, want.Leaves, want.Objective)
	}
	if len(got.Metrics) != 3 || len(want.Metrics) != 3 {
		t.Errorf("card evaluates %d splits, training.NewCard %d; want train, valid and test", len(got.Metrics), len(want.Metrics))
	}
	// Compared as JSON, which the card travelled as: a ratio that is not
	// defined (NaN) is null in both.
	for split, w := range want.Metrics {
		gj, _ := json.Marshal(got.Metrics[split])
		wj, _ := json.Marshal(w)
		if !bytes.Equal(gj, wj) {
			t.Errorf("%s metrics:\n got %s\nwant %s", split, gj, wj)
		}
	}
	if !reflect.DeepEqual(got.Importance, want.Importance) {
		t.Errorf("importance %+v, want %+v", got.Importance, want.Importance)
	}
	if !reflect.DeepEqual(got.Monotonicity, want.Monotonicity) {
		t.Errorf("monotonicity %+v, want %+v", got.Monotonicity, want.Monotonicity)
	}
}
