// Package jobs adapts the platform's durable jobs (internal/jobs) to the lab
// console's job list, which platform operators use to follow screenings and
// materialization shards across every worker.
//
//	srv, _ := lab.New(lab.Options{Jobs: labjobs.New(queue), ...})
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	xjobs "github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/lab"
)

// List implements lab.Jobs over a jobs queue.
type List struct{ q *xjobs.Queue }

// New returns the job list of q.
func New(q *xjobs.Queue) *List { return &List{q: q} }

// Jobs returns the newest jobs, in one state or all. The console's route has
// already authorized the principal (access.ActionListJobs).
func (l *List) Jobs(ctx context.Context, _ lab.Principal, state string, limit int) ([]lab.QueuedJob, error) {
	o := xjobs.ListOptions{Limit: limit}
	if state != "" {
		o.States = []string{state}
	}
	list, err := l.q.List(ctx, o)
	if errors.Is(err, xjobs.ErrInvalidOptions) {
		return nil, fmt.Errorf("%w: %v", lab.ErrInvalidInput, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]lab.QueuedJob, len(list))
	for i, in := range list {
		out[i] = lab.QueuedJob{ID: in.ID, Kind: in.Kind, Subject: Subject(in.Args), Queue: in.Queue, State: in.State,
			Attempt: in.Attempt, MaxAttempts: in.MaxAttempts, Done: in.Done, Total: in.Total, Note: in.Note,
			Created: in.CreatedAt, Finished: in.FinalizedAt, By: in.AttemptedBy, Error: firstLine(in.Error)}
	}
	return out, nil
}

// Subject names what a job works on from the arguments every kind shares by
// convention: a task or date, a training run's sample and preset, a sample
// build's name, a feature set with its version (a materialization stage carries
// them in its run), a shard of a count.
func Subject(raw json.RawMessage) string {
	var a struct {
		Task    string `json:"task"`
		Set     string `json:"set"`
		Version int    `json:"version"`
		Shard   *int   `json:"shard"`
		Shards  int    `json:"shards"`
		AsOf    any    `json:"as_of"`
		// Run is a materialization run's (its stages carry it).
		Run json.RawMessage `json:"run"`
		// A training run's sample and preset; a sample build's name.
		Sample string `json:"sample"`
		Preset string `json:"preset"`
		Name   string `json:"name"`
	}
	if json.Unmarshal(raw, &a) != nil {
		return ""
	}
	var run struct {
		Set     string `json:"set"`
		Version int    `json:"version"`
		Shards  int    `json:"shards"`
	}
	if len(a.Run) > 0 && a.Run[0] == '{' && json.Unmarshal(a.Run, &run) == nil {
		if a.Set == "" {
			a.Set = run.Set
		}
		if a.Version == 0 && a.Set == run.Set {
			a.Version = run.Version
		}
		if a.Shards == 0 {
			a.Shards = run.Shards
		}
	}
	if d, ok := a.AsOf.(string); ok && d != "" {
		a.Task = strings.TrimSpace(a.Task + " " + d)
	}
	var parts []string
	for _, p := range []string{a.Task, a.Sample, a.Preset, a.Name} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if a.Set != "" {
		s := a.Set
		if a.Version > 0 && !strings.Contains(s, "/v") {
			s += fmt.Sprintf("/v%d", a.Version)
		}
		parts = append(parts, s)
	}
	if a.Shard != nil && a.Shards > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d", *a.Shard+1, a.Shards))
	}
	return strings.Join(parts, " · ")
}

// firstLine is the first line of a job's error, without River's wrapper name of
// a job stopped for good (jobs.Permanent).
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.TrimPrefix(s, "JobCancelError: ")
	if r := []rune(s); len(r) > 300 {
		return string(r[:300]) + "…"
	}
	return s
}
