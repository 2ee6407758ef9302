package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/features/matjobs"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/progress"
)

// enqueueMaterialize enqueues a staged materialization and, unless detach, waits
// for its commit with a progress bar and returns its result.
func enqueueMaterialize(ctx context.Context, dsn string, cat *features.Catalog, r matjobs.Request, detach bool, stdout, stderr io.Writer) (*features.Result, error) {
	q, err := jobs.Open(ctx, jobs.Options{DSN: dsn})
	if err != nil {
		return nil, err
	}
	defer q.Close()
	start := time.Now()
	ins, err := matjobs.Enqueue(ctx, q, cat, r)
	if err != nil {
		return nil, err
	}
	how := "enqueued"
	if ins.Duplicate {
		how = "already running as"
	}
	if detach {
		fmt.Fprintf(stdout, "materialization of %s in %d shards %s job %d on the %q queue; follow it with xinyi jobs --kind %s,%s,%s\n",
			r.Set, r.Shards, how, ins.ID, matjobs.QueueName, matjobs.PlanKind, matjobs.ShardKind, matjobs.CommitKind)
		return nil, nil
	}
	fmt.Fprintf(stderr, "materialization %s job %d; waiting for xinyi worker --queues %s=N to run it\n", how, ins.ID, matjobs.QueueName)
	var bar *progress.Bar
	var shown, total int64
	out, err := matjobs.Wait(ctx, q, ins.ID, 500*time.Millisecond, func(in jobs.Info) {
		// The commit job counts shards done while it waits for them.
		if in.Total <= 0 || in.Note != matjobs.WaitingNote {
			return
		}
		if bar == nil {
			bar, total = progress.New(stderr, "shards", in.Total), in.Total
		}
		if in.Done > shown {
			bar.Add(in.Done - shown)
			shown = in.Done
		}
	})
	if bar != nil {
		if err == nil && shown < total {
			bar.Add(total - shown)
		}
		bar.Done()
	}
	if err != nil {
		return nil, err
	}
	if out.Plan.Joined {
		fmt.Fprintf(stderr, "joined run %s of the same dates, already in flight (commit job %d)\n", out.Plan.Run.ID, out.Plan.CommitJob)
	}
	res := &features.Result{Set: out.Plan.Run.Set, Version: out.Plan.Run.Version, Companies: out.Plan.Companies}
	if out.Commit != nil {
		res = out.Commit.Result
		fmt.Fprintf(stderr, "plan: %s\n", out.Commit.Plan.Round(time.Millisecond))
		for _, c := range out.Commit.Shards {
			fmt.Fprintf(stderr, "shard %d: %s, %.1f CPU seconds\n", c.Shard, c.Elapsed.Round(time.Millisecond), c.CPU.Seconds())
		}
	} else {
		for _, s := range out.Plan.Skipped {
			t, _ := time.Parse(time.DateOnly, s)
			res.Snapshots = append(res.Snapshots, features.SnapshotResult{AsOf: features.DayOf(t), Skipped: true})
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
