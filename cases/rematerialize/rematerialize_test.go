package rematerialize

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/features/matjobs"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
)

// TestRefresh: snapshots as of 2023-03-31, 2023-04-30 and 2023-05-31 are stored;
// a change arriving on 2023-04-30 (China Standard Time) asks for the last two
// again, forced, and nothing when it arrives after them all.
func TestRefresh(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := datasets.DefaultGenerateOptions()
	opts.Companies, opts.Months, opts.Start = 40, 6, datasets.Month(2023*12)
	if _, err := datasets.Generate(ctx, store, opts); err != nil {
		t.Fatal(err)
	}
	var asof []time.Time
	for _, d := range []string{"2023-03-31", "2023-04-30", "2023-05-31"} {
		at, _ := time.Parse(time.DateOnly, d)
		asof = append(asof, at)
	}
	if _, err := features.Materialize(ctx, store, features.Options{Set: "full", AsOf: asof, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(ctx, jobs.Options{DSN: "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	r := &Refresher{Queue: q, Catalog: cat, Store: store, Sets: []string{"full"}, Shards: 2}
	// 2023-04-29 17:00 UTC is 2023-04-30 01:00 in China.
	if err := r.Refresh(ctx, "91330604MA4UJ7K283", "penalty", time.Date(2023, 4, 29, 17, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(ctx, "91330604MA4UJ7K283", "penalty", time.Date(2023, 6, 2, 2, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	infos, err := q.List(ctx, jobs.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 {
		t.Fatalf("%d jobs, want 1", len(infos))
	}
	var args matjobs.PlanArgs
	if err := json.Unmarshal(infos[0].Args, &args); err != nil {
		t.Fatal(err)
	}
	if want := []string{"2023-04-30", "2023-05-31"}; !slices.Equal(args.AsOf, want) || !args.Force || args.Shards != 2 || args.Set != "full/v1" {
		t.Fatalf("plan %+v, want as of %v, forced, 2 shards, full/v1", args, want)
	}
}
