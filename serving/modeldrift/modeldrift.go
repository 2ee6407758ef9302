// Package modeldrift watches the models in production through their inputs:
// for each task's model, the population stability index (PSI) of its most
// important indicators on every scored date since that model version started
// scoring, against the snapshot of its first scored date. The score history's
// own drift (serving/scores.Drift) says the outputs moved; this says which
// inputs did. A point at PSI ≥ 0.1 is "watch", ≥ 0.25 "act", as for scores; the
// model's owner is told of the newest date's watch and act points by webhook.
//
// The baseline is the first production date, not the training sample: an
// uploaded model has none, and a trained one's sample mixes several dates.
//
//	rep, _ := modeldrift.Compute(ctx, store, svc.Models().Current(), modeldrift.Options{})
package modeldrift

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/scores"
	"github.com/xinyi-platform/xinyi/training"
)

// Point is one indicator of one model on one scored date.
type Point struct {
	Task      serving.Task `json:"task"`
	Model     string       `json:"model"`
	Version   string       `json:"version"`
	Owner     int64        `json:"-"`
	Shared    bool         `json:"-"`
	Indicator string       `json:"indicator"`
	// Gain is the indicator's share of the model's split gain: how much the
	// model leans on it.
	Gain     float64 `json:"gain_share"`
	AsOf     string  `json:"as_of"`
	Baseline string  `json:"baseline"`
	PSI      float64 `json:"psi"`
	// Level is "stable" (PSI < 0.1), "watch" (< 0.25) or "act".
	Level string `json:"level"`
}

// Report is the input drift of the models in production.
type Report struct {
	Points []Point `json:"points"`
	// Latest is the newest scored date; Watch and Act count its points at
	// those levels.
	Latest string `json:"latest,omitempty"`
	Watch  int    `json:"watch"`
	Act    int    `json:"act"`
}

// Options configure Compute.
type Options struct {
	// Top is how many of each model's indicators, by split gain, are watched.
	// Default 5.
	Top int
}

// LevelOf names the level of a PSI.
func LevelOf(psi float64) string {
	switch {
	case psi >= 0.25:
		return "act"
	case psi >= 0.1:
		return "watch"
	}
	return "stable"
}

// Compute reads the score history and the snapshots in store for the models of
// snap. A model version not scored yet has no points.
func Compute(ctx context.Context, store blob.Store, snap *serving.Snapshot, o Options) (*Report, error) {
	if o.Top <= 0 {
		o.Top = 5
	}
	runs, err := scores.Runs(ctx, store)
	if err != nil {
		return nil, err
	}
	rep := &Report{Points: []Point{}}
	if len(runs) > 0 {
		rep.Latest = runs[len(runs)-1].AsOf
	}
	for _, task := range serving.Tasks {
		sc := snap.Scorer(task)
		if sc == nil {
			continue
		}
		ref := sc.Ref()
		var dates []string
		for _, r := range runs {
			if slices.ContainsFunc(r.Models, func(m serving.ModelVersion) bool {
				return m.Task == task && m.Name == ref.Name && m.Version == ref.Version
			}) {
				dates = append(dates, r.AsOf)
			}
		}
		if len(dates) == 0 {
			continue
		}
		top := topIndicators(sc, o.Top)
		set := sc.FeatureSet()
		base, err := columns(ctx, store, set, dates[0], top)
		if err != nil {
			return nil, err
		}
		for _, d := range dates {
			cur, err := columns(ctx, store, set, d, top)
			if err != nil {
				return nil, err
			}
			for i, ind := range top {
				psi, err := training.PSI(base[i], cur[i], 10)
				if err != nil {
					return nil, fmt.Errorf("modeldrift: %s of %s as of %s: %w", ind.name, ref.Name, d, err)
				}
				p := Point{Task: task, Model: ref.Name, Version: ref.Version, Owner: ref.Owner, Shared: ref.Shared, Indicator: ind.name, Gain: ind.share,
					AsOf: d, Baseline: dates[0], PSI: psi, Level: LevelOf(psi)}
				rep.Points = append(rep.Points, p)
				if d == rep.Latest {
					switch p.Level {
					case "watch":
						rep.Watch++
					case "act":
						rep.Act++
					}
				}
			}
		}
	}
	return rep, nil
}

type indicator struct {
	name  string
	share float64
}

// topIndicators are the model's columns with the largest split gain, at most n,
// leaving out those it never splits on.
func topIndicators(sc *serving.Scorer, n int) []indicator {
	_, gains := training.Importance(sc.Model())
	cols := sc.Columns()
	var total float64
	var out []indicator
	for i, g := range gains {
		if g > 0 && i < len(cols) {
			out = append(out, indicator{cols[i], g})
			total += g
		}
	}
	slices.SortStableFunc(out, func(a, b indicator) int { return cmp.Compare(b.share, a.share) })
	out = out[:min(n, len(out))]
	for i := range out {
		out[i].share /= total
	}
	return out
}

// columns reads the values of the indicators as of a date from the set's
// snapshot; a missing value counts as the lowest (its own group when common).
func columns(ctx context.Context, store blob.Store, set serving.FeatureSet, date string, inds []indicator) ([][]float64, error) {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return nil, err
	}
	snap, _, err := features.ReadSnapshot(ctx, store, set.Name, set.Version, features.DayOf(t))
	if err != nil {
		return nil, fmt.Errorf("modeldrift: snapshot %s as of %s: %w", set.Key(), date, err)
	}
	width := len(snap.Names)
	out := make([][]float64, len(inds))
	for k, ind := range inds {
		j := slices.Index(snap.Names, ind.name)
		if j < 0 {
			return nil, fmt.Errorf("modeldrift: snapshot %s as of %s has no column %s", set.Key(), date, ind.name)
		}
		col := make([]float64, len(snap.Codes))
		for i := range snap.Codes {
			v := snap.Values[i*width+j]
			if math.IsNaN(v) {
				v = math.Inf(-1)
			}
			col[i] = v
		}
		out[k] = col
	}
	return out, nil
}

// Endpoints lists an institution's webhook endpoints (webhooks.Endpoints).
type Endpoints interface {
	List(ctx context.Context, institution int64) ([]webhooks.Endpoint, error)
}

// EventDrift is the webhook type of a drift notice.
const EventDrift = "model.drift"

// Notice is the data of a model.drift webhook: one model's watch and act
// points on the newest scored date.
type Notice struct {
	Model   string  `json:"model"`
	Version string  `json:"version"`
	Task    string  `json:"task"`
	AsOf    string  `json:"as_of"`
	Level   string  `json:"level"` // the worst of the points: watch or act
	Points  []Point `json:"points"`
}

// Notify tells each model's owner of the newest date's watch and act points:
// one model.drift webhook per model and date to each enabled endpoint of the
// owner. A notice has a stable id (model, version, date, endpoint), so telling
// again changes nothing. It returns how many deliveries it queued.
func Notify(ctx context.Context, q *jobs.Queue, eps Endpoints, rep *Report) (int, error) {
	byModel := map[string]*Notice{}
	owners := map[string]int64{}
	var keys []string
	for _, p := range rep.Points {
		if p.AsOf != rep.Latest || p.Level == "stable" {
			continue
		}
		k := p.Model + "@" + p.Version
		n, ok := byModel[k]
		if !ok {
			n = &Notice{Model: p.Model, Version: p.Version, Task: string(p.Task), AsOf: p.AsOf, Level: "watch"}
			byModel[k], owners[k] = n, p.Owner
			keys = append(keys, k)
		}
		n.Points = append(n.Points, p)
		if p.Level == "act" {
			n.Level = "act"
		}
	}
	at, _ := time.Parse(time.DateOnly, rep.Latest)
	sent := 0
	for _, k := range keys {
		n := byModel[k]
		if owners[k] == 0 {
			continue
		}
		list, err := eps.List(ctx, owners[k])
		if err != nil {
			return sent, err
		}
		data, err := json.Marshal(n)
		if err != nil {
			return sent, err
		}
		for _, ep := range list {
			if ep.Disabled {
				continue
			}
			a := webhooks.Args{Endpoint: ep.ID, ID: fmt.Sprintf("msg_drift_%s_%s_%s_%d", n.Model, n.Version, n.AsOf, ep.ID), Type: EventDrift, Data: data, At: at}
			ins, err := q.Insert(ctx, a, jobs.InsertOptions{Queue: webhooks.QueueName, MaxAttempts: webhooks.MaxAttempts, Unique: true})
			if err != nil {
				return sent, fmt.Errorf("modeldrift: queue notice %s: %w", a.ID, err)
			}
			if !ins.Duplicate {
				sent++
			}
		}
	}
	return sent, nil
}

// Cache keeps the last report: it is computed again only when a new date has
// been scored or other models are in production, since everything it reads is
// immutable once stored.
type Cache struct {
	store blob.Store

	mu     sync.Mutex
	key    string
	report *Report
}

// NewCache returns a cache over the score history and snapshots in store.
func NewCache(store blob.Store) *Cache { return &Cache{store: store} }

// Report is Compute for snap, from memory when nothing it reads has changed.
func (c *Cache) Report(ctx context.Context, snap *serving.Snapshot) (*Report, error) {
	runs, err := scores.Runs(ctx, c.store)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprint(len(runs), snap.Refs())
	if n := len(runs); n > 0 {
		key += runs[n-1].AsOf + runs[n-1].Run
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.report != nil && c.key == key {
		return c.report, nil
	}
	rep, err := Compute(ctx, c.store, snap, Options{})
	if err != nil {
		return nil, err
	}
	c.key, c.report = key, rep
	return rep, nil
}

// Watch reports the drift of the models snap returns every interval (and once
// shortly after it starts) and tells their owners, until ctx ends. Errors are
// logged and retried at the next interval.
func Watch(ctx context.Context, cache *Cache, snap func() *serving.Snapshot, q *jobs.Queue, eps Endpoints, interval time.Duration, logger *slog.Logger) {
	if interval <= 0 {
		interval = 30 * time.Minute
	}
	wait := time.Minute
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = interval
		rep, err := cache.Report(ctx, snap())
		if err == nil {
			_, err = Notify(ctx, q, eps, rep)
		}
		if err != nil && ctx.Err() == nil && logger != nil {
			logger.Warn("model drift: retried at the next interval", "err", err)
		}
	}
}
