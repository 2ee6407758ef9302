package serving

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// fakeRegistry is a ModelSource with movable aliases and an outage switch.
type fakeRegistry struct {
	mu        sync.Mutex
	aliases   map[string]ModelRef // "model@alias" → version
	artifacts map[string][]byte   // "model:version" → text
	down      bool
}

func (r *fakeRegistry) Resolve(_ context.Context, model, alias string) (ModelRef, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return ModelRef{}, fmt.Errorf("%w: registry unreachable", ErrUnavailable)
	}
	ref, ok := r.aliases[model+"@"+alias]
	if !ok {
		return ModelRef{}, fmt.Errorf("%w: %s@%s", ErrUnknownModel, model, alias)
	}
	return ref, nil
}

func (r *fakeRegistry) Artifact(_ context.Context, ref ModelRef) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return nil, fmt.Errorf("%w: object store unreachable", ErrUnavailable)
	}
	b, ok := r.artifacts[ref.String()]
	if !ok {
		return nil, fmt.Errorf("%w: no artifact %s", ErrUnknownModel, ref)
	}
	return b, nil
}

func (r *fakeRegistry) publish(t *testing.T, task Task, version, text string, setVersion int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := "xinyi-" + string(task)
	r.artifacts[name+":"+version] = []byte(text)
	r.aliases[name+"@champion"] = ModelRef{Name: name, Version: version, FeatureSet: testSet.Name, FeatureSetVersion: setVersion}
}

func TestFollower(t *testing.T) {
	e := newEnv(t)
	m, err := NewModels(map[Task]FeatureSet{TaskPD: testSet, TaskViolation: testSet, TaskLimit: testSet})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Options{Models: m, Features: e.features, Policy: e.svc.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	reg := &fakeRegistry{aliases: map[string]ModelRef{}, artifacts: map[string][]byte{}}
	for _, task := range Tasks {
		reg.publish(t, task, "1", string(readTestdata(t, "stump_"+string(task)+".txt")), testSet.Version)
	}
	metrics := NewMetrics(m)
	var bindings []Binding
	for _, task := range Tasks {
		bindings = append(bindings, Binding{Task: task, Model: "xinyi-" + string(task), Alias: "champion"})
	}
	f, err := NewFollower(FollowerOptions{Source: reg, Models: m, Bindings: bindings, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	assess := func() *Decision {
		t.Helper()
		d, err := svc.Assess(ctx, e.bank, Request{Company: e.good})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !m.Current().Complete() || assess().Models[0].Version != "1" {
		t.Fatalf("first sync: %v", m.Current().Refs())
	}
	gen := m.Current().Generation

	// The pd alias moves to version 2 (first tree's right leaf -3: good margin -4).
	v2 := strings.Replace(string(readTestdata(t, "stump_pd.txt")), "leaf_value=0.5 -2", "leaf_value=0.5 -3", 1)
	reg.publish(t, TaskPD, "2", v2, testSet.Version)
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	d := assess()
	if d.Models[0].Version != "2" || d.Models[1].Version != "1" || !near(d.PD, sigmoid(-4)) || m.Current().Generation != gen+1 {
		t.Fatalf("after alias move: models %v pd %v generation %d", d.Models, d.PD, m.Current().Generation)
	}
	if err := f.Sync(ctx); err != nil || m.Current().Generation != gen+1 {
		t.Fatalf("sync without change swapped: %v, generation %d", err, m.Current().Generation)
	}

	// Registry and object store go away: requests keep being answered by version 2.
	reg.mu.Lock()
	reg.down = true
	reg.mu.Unlock()
	if err := f.Sync(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("sync while down: %v", err)
	}
	if _, ok := metrics.Degraded()["registry"]; !ok {
		t.Fatal("degradation not reported")
	}
	for range 20 {
		if d := assess(); d.Models[0].Version != "2" {
			t.Fatalf("version %s while the registry is down", d.Models[0].Version)
		}
	}
	// They come back with a version 3 bound to another feature-set version: refused,
	// version 2 keeps serving, the error names the mismatch.
	reg.mu.Lock()
	reg.down = false
	reg.mu.Unlock()
	reg.publish(t, TaskPD, "3", v2, testSet.Version+1)
	if err := f.Sync(ctx); !errors.Is(err, ErrFeatureSetMismatch) {
		t.Fatalf("wrong binding: %v", err)
	}
	if d := assess(); d.Models[0].Version != "2" {
		t.Fatalf("refused version installed: %v", d.Models)
	}
	reg.publish(t, TaskPD, "4", string(readTestdata(t, "stump_pd.txt")), testSet.Version)
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if d := assess(); d.Models[0].Version != "4" || !near(d.PD, sigmoid(-3)) {
		t.Fatalf("caught up: %v pd %v", d.Models, d.PD)
	}
	if len(metrics.Degraded()) != 0 {
		t.Fatalf("still degraded: %v", metrics.Degraded())
	}
}
