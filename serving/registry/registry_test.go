package registry_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	core "github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/registry"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// TestFollowRegistryAndSurviveMinIOLoss registers the three stump models in a real
// registry whose artifacts live in a real MinIO, follows the champion aliases, then
// kills MinIO while eight clients assess: no request fails, the degradation is
// reported, and the loaded versions keep answering.
func TestFollowRegistryAndSurviveMinIOLoss(t *testing.T) {
	ctx := context.Background()
	mc := miniotest.Start(t)
	blobs := mc.Open(t)
	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	sets := core.StaticFeatureSets{servingtest.Set.Name: {servingtest.Set.Version: servingtest.Set.Indicators}}
	reg, err := core.Open(ctx, db, blobs, sets, log, core.Options{GatedAliases: []string{}, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, admin := accesstest.User(t, acc, "Platform", access.KindPlatform, "serving", access.RoleAdmin)
	upload := func(task serving.Task, text string) int {
		t.Helper()
		v, err := reg.Register(ctx, admin, "xinyi-"+string(task), core.Upload{Data: []byte(text),
			FeatureSet: servingtest.Set.Name, FeatureSetVersion: servingtest.Set.Version, Lineage: core.Lineage{Kind: "uploaded"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.SetAlias(ctx, admin, "xinyi-"+string(task), "champion", v.Version); err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	var bindings []serving.Binding
	for _, task := range serving.Tasks {
		if _, err := reg.CreateModel(ctx, admin, core.NewModel{Name: "xinyi-" + string(task), Task: core.Task(task), Description: "stump"}); err != nil {
			t.Fatal(err)
		}
		upload(task, string(servingtest.ModelText(t, task)))
		bindings = append(bindings, serving.Binding{Task: task, Model: "xinyi-" + string(task), Alias: "champion"})
	}

	env := servingtest.New(t)
	models, err := serving.NewModels(map[serving.Task]serving.FeatureSet{serving.TaskPD: servingtest.Set, serving.TaskViolation: servingtest.Set, serving.TaskLimit: servingtest.Set})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serving.New(serving.Options{Models: models, Features: env.Features, Policy: env.Service.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	metrics := serving.NewMetrics(models)
	f, err := serving.NewFollower(serving.FollowerOptions{Source: registry.New(reg, admin), Models: models, Bindings: bindings, Metrics: metrics, Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = f.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("all models loaded", func() bool { return models.Current().Complete() })

	// An alias move is picked up through the change feed.
	v2 := upload(serving.TaskPD, strings.Replace(string(servingtest.ModelText(t, serving.TaskPD)), "leaf_value=0.5 -2", "leaf_value=0.5 -3", 1))
	waitFor("pd version 2", func() bool { return models.Current().PD.Ref().Version == "2" })
	if v2 != 2 {
		t.Fatalf("second upload is version %d", v2)
	}

	// Clients assess while MinIO dies and an alias moves to a version whose artifact
	// can no longer be read.
	var ok, failed atomic.Int64
	clients, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for clients.Err() == nil {
				d, err := svc.Assess(ctx, env.Bank, serving.Request{Company: env.Good})
				if err != nil || d.Models[0].Version != "2" {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	mc.Stop()
	if _, err := reg.SetAlias(ctx, admin, "xinyi-pd", "champion", 1); err != nil {
		t.Fatal(err)
	}
	waitFor("degradation reported", func() bool { _, bad := metrics.Degraded()["registry"]; return bad })
	time.Sleep(100 * time.Millisecond)
	stopClients()
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d answered, %d failed or changed version while MinIO was down", ok.Load(), failed.Load())
	}
	if err := f.Sync(ctx); !errors.Is(err, serving.ErrUnavailable) {
		t.Fatalf("sync with MinIO down: %v", err)
	}
	t.Logf("%d assessments answered across the outage", ok.Load())
}
