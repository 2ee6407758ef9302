// Package modeldrift watches the models in production against what they
// learned from: for each task's model, on every scored date since that model
// version started scoring, the population stability index (PSI) of its score
// (the model run on the date's snapshot) and of its most important indicators
// (by split gain), against its training sample. A point at PSI ≥ 0.1 is
// "watch", ≥ 0.25 "act"; the model's owner is told of the newest date's watch
// and act points by webhook.
//
// The baseline is the training sample the registry's lineage names (its train
// split: the indicators as stored, the score by running the model on its rows).
// A model without one (uploaded without lineage) is compared with its first
// production date instead; Point.BaselineKind says which.
//
//	rep, _ := modeldrift.Compute(ctx, store, svc.Models().Current(), modeldrift.Options{Samples: samples})
package modeldrift

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

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
	Task    serving.Task `json:"task"`
	Model   string       `json:"model"`
	Version string       `json:"version"`
	Owner   int64        `json:"-"`
	Shared  bool         `json:"-"`
	// Kind is "score" (the model's output; Indicator is then "score") or
	// "indicator".
	Kind      string `json:"kind"`
	Indicator string `json:"indicator"`
	// Gain is the indicator's share of the model's split gain: how much the
	// model leans on it.
	Gain float64 `json:"gain_share"`
	AsOf string  `json:"as_of"`
	// Baseline is the training sample ("name/vN") or the first production date;
	// BaselineKind says which ("training_sample", "first_production_date").
	Baseline     string  `json:"baseline"`
	BaselineKind string  `json:"baseline_kind"`
	PSI          float64 `json:"psi"`
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
	// Samples names each model's training sample (nil: every model is compared
	// with its first production date).
	Samples Samples
}

// Samples tells the training sample of a model version from the registry's
// lineage: "name/vN", or "" when it has none.
type Samples interface {
	TrainingSample(ctx context.Context, ref serving.ModelRef) (string, error)
}

// The kinds of point and of baseline.
const (
	KindScore     = "score"
	KindIndicator = "indicator"

	BaselineSample    = "training_sample"
	BaselineFirstDate = "first_production_date"
)

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
		base, err := baselineOf(ctx, store, sc, top, dates[0], o.Samples)
		if err != nil {
			return nil, err
		}
		for _, d := range dates {
			cur, err := fromSnapshot(ctx, store, sc, d, top)
			if err != nil {
				return nil, err
			}
			for i := -1; i < len(top); i++ {
				p := Point{Task: task, Model: ref.Name, Version: ref.Version, Owner: ref.Owner, Shared: ref.Shared,
					AsOf: d, Baseline: base.name, BaselineKind: base.kind}
				var psi float64
				if i < 0 {
					p.Kind, p.Indicator = KindScore, "score"
					psi, err = training.PSI(base.scores, cur.scores, 10)
				} else {
					p.Kind, p.Indicator, p.Gain = KindIndicator, top[i].name, top[i].share
					psi, err = training.PSI(base.values[i], cur.values[i], 10)
				}
				if err != nil {
					return nil, fmt.Errorf("modeldrift: %s of %s as of %s: %w", p.Indicator, ref.Name, d, err)
				}
				p.PSI, p.Level = psi, LevelOf(psi)
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

// distribution is what a date or a sample gives: the model's scores and the
// values of its top indicators (a missing value counts as the lowest, its own
// group when common).
type distribution struct {
	name, kind string
	scores     []float64
	values     [][]float64
}

// baselineOf is the model's training sample when the lineage names one, else
// the snapshot of its first production date.
func baselineOf(ctx context.Context, store blob.Store, sc *serving.Scorer, top []indicator, first string, samples Samples) (*distribution, error) {
	if samples != nil {
		ref, err := samples.TrainingSample(ctx, sc.Ref())
		if err != nil {
			return nil, fmt.Errorf("modeldrift: training sample of %s: %w", sc.Ref(), err)
		}
		if ref != "" {
			d, err := fromSample(ctx, store, sc, ref, top)
			// A lineage naming a sample the store does not hold (an upload's
			// claim) falls back to the first production date.
			if !errors.Is(err, features.ErrUnknownSample) {
				return d, err
			}
		}
	}
	d, err := fromSnapshot(ctx, store, sc, first, top)
	if err != nil {
		return nil, err
	}
	d.name, d.kind = first, BaselineFirstDate
	return d, nil
}

// gather fills a distribution from n rows whose value of a named column
// value(j, i) gives (NaN when missing); col maps a name to j (false: absent).
func gather(sc *serving.Scorer, top []indicator, n int, col func(string) (int, bool), value func(j, i int) float64, where string) (*distribution, error) {
	mcols := sc.Columns()
	at := make([]int, len(mcols))
	for k, name := range mcols {
		j, ok := col(name)
		if !ok {
			return nil, fmt.Errorf("modeldrift: %s has no column %s, which model %s reads", where, name, sc.Ref())
		}
		at[k] = j
	}
	d := &distribution{scores: make([]float64, n), values: make([][]float64, len(top))}
	tat := make([]int, len(top))
	for k, ind := range top {
		j, ok := col(ind.name)
		if !ok {
			return nil, fmt.Errorf("modeldrift: %s has no column %s", where, ind.name)
		}
		tat[k], d.values[k] = j, make([]float64, n)
	}
	row := make([]float64, len(mcols))
	for i := range n {
		for k, j := range at {
			row[k] = value(j, i)
		}
		p, err := sc.PredictColumns(row)
		if err != nil {
			return nil, fmt.Errorf("modeldrift: score row %d of %s with %s: %w", i, where, sc.Ref(), err)
		}
		d.scores[i] = p
		for k, j := range tat {
			v := value(j, i)
			if math.IsNaN(v) {
				v = math.Inf(-1)
			}
			d.values[k][i] = v
		}
	}
	return d, nil
}

// fromSnapshot reads a date's snapshot of the model's feature set and runs the
// model on it.
func fromSnapshot(ctx context.Context, store blob.Store, sc *serving.Scorer, date string, top []indicator) (*distribution, error) {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return nil, err
	}
	set := sc.FeatureSet()
	snap, _, err := features.ReadSnapshot(ctx, store, set.Name, set.Version, features.DayOf(t))
	if err != nil {
		return nil, fmt.Errorf("modeldrift: snapshot %s as of %s: %w", set.Key(), date, err)
	}
	width := len(snap.Names)
	col := func(name string) (int, bool) { j := slices.Index(snap.Names, name); return j, j >= 0 }
	return gather(sc, top, len(snap.Codes), col, func(j, i int) float64 { return snap.Values[i*width+j] },
		fmt.Sprintf("snapshot %s as of %s", set.Key(), date))
}

// fromSample reads the train split of a training sample and runs the model on
// it.
func fromSample(ctx context.Context, store blob.Store, sc *serving.Scorer, ref string, top []indicator) (*distribution, error) {
	m, err := features.OpenSample(ctx, store, ref)
	if err != nil {
		return nil, fmt.Errorf("modeldrift: training sample of %s: %w", sc.Ref(), err)
	}
	rec, err := features.ReadSampleSplit(ctx, store, m, "train")
	if err != nil {
		return nil, fmt.Errorf("modeldrift: training sample of %s: %w", sc.Ref(), err)
	}
	defer rec.Release()
	cols := map[string]*array.Float64{}
	for j, f := range rec.Schema().Fields() {
		if c, ok := rec.Column(j).(*array.Float64); ok {
			cols[f.Name] = c
		}
	}
	var arrs []*array.Float64
	col := func(name string) (int, bool) {
		c, ok := cols[name]
		if !ok {
			return 0, false
		}
		arrs = append(arrs, c)
		return len(arrs) - 1, true
	}
	d, err := gather(sc, top, int(rec.NumRows()), col, func(j, i int) float64 {
		if arrs[j].IsNull(i) {
			return math.NaN()
		}
		return arrs[j].Value(i)
	}, "training sample "+m.Ref())
	if err != nil {
		return nil, err
	}
	d.name, d.kind = m.Ref(), BaselineSample
	return d, nil
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
	opts  Options

	mu     sync.Mutex
	key    string
	report *Report
}

// NewCache returns a cache over the score history, snapshots and samples in
// store, computing with o.
func NewCache(store blob.Store, o Options) *Cache { return &Cache{store: store, opts: o} }

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
	rep, err := Compute(ctx, c.store, snap, c.opts)
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
