package labtest

import (
	"context"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/lab"
)

// JobList is a fixed job list: a materialization in flight on three workers
// (its plan done, shards queued, running and retrying) and finished screenings.
type JobList []lab.QueuedJob

// Jobs returns the fixture list.
func Jobs() JobList {
	at := time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC)
	min := func(n int) time.Time { return at.Add(time.Duration(n) * time.Minute) }
	shard := func(id int64, s int, state string, done int64, by ...string) lab.QueuedJob {
		j := lab.QueuedJob{ID: id, Kind: "materialize_shard", Subject: "pd/v1 · " + strconv.Itoa(s) + "/6", Queue: "materialize", State: state,
			Attempt: 1, MaxAttempts: 5, Done: done, Total: 20000, Note: "computing", Created: min(1), By: by}
		if state == "completed" {
			j.Finished, j.Note = min(3), "written"
		}
		return j
	}
	queued := shard(46, 6, "available", 0)
	queued.Total, queued.Note, queued.Attempt = 0, "", 0
	retry := shard(44, 4, "retryable", 0, "worker-2")
	retry.Attempt, retry.Total, retry.Note = 2, 0, ""
	retry.Error = "features: read raw/tax/month=2025-11/part-00003.parquet: object store unavailable"
	return JobList{
		{ID: 47, Kind: "materialize_commit", Subject: "pd/v1", Queue: "materialize", State: "available", Attempt: 0, MaxAttempts: 25, Created: min(1)},
		queued,
		shard(45, 5, "running", 12800, "worker-3"),
		retry,
		shard(43, 3, "running", 7350, "worker-1"),
		shard(42, 2, "completed", 20000, "worker-2"),
		shard(41, 1, "completed", 20000, "worker-1"),
		{ID: 40, Kind: "materialize_plan", Subject: "pd/v1", Queue: "materialize", State: "completed", Attempt: 1, MaxAttempts: 5,
			Done: 1, Total: 1, Note: "guarantee network", Created: at, Finished: min(1), By: []string{"worker-3"}},
		{ID: 39, Kind: "screening", Subject: "violation", Queue: "screening", State: "completed", Attempt: 1, MaxAttempts: 3,
			Done: 120000, Total: 120000, Note: "scoring", Created: at.Add(-time.Hour), Finished: at.Add(-58 * time.Minute), By: []string{"worker-1"}},
	}
}

// Jobs lists the fixture, filtered by state.
func (l JobList) Jobs(_ context.Context, _ lab.Principal, state string, limit int) ([]lab.QueuedJob, error) {
	var out []lab.QueuedJob
	for _, j := range l {
		if (state == "" || j.State == state) && len(out) < limit {
			out = append(out, j)
		}
	}
	return out, nil
}
