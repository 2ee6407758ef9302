package serving

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
)

// ScorePoint is a company's figures as of one snapshot date, from the score
// history, with the models and policy that produced them.
type ScorePoint struct {
	AsOf      string         `json:"as_of"`
	Models    []ModelVersion `json:"models"`
	Policy    string         `json:"policy_version"`
	PD        float64        `json:"pd"`
	Score     float64        `json:"score"`
	Rating    string         `json:"rating"`
	Colour    string         `json:"colour"`
	Limit     float64        `json:"limit"`
	Violation float64        `json:"violation_probability"`
	Tier      string         `json:"inspection_tier"`
}

// ScoreHistory reads a company's score history, oldest first (serving/scores).
type ScoreHistory interface {
	History(ctx context.Context, code string) ([]ScorePoint, error)
}

// History returns a company's score history to p, under the same rule as an
// assessment (a bank needs the company's consent), and audits the read.
func (s *Service) History(ctx context.Context, p Principal, code string) ([]ScorePoint, error) {
	if s.opts.History == nil {
		return nil, fmt.Errorf("%w: no score history in this process", ErrNotReady)
	}
	if err := ValidateCompany(code); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, p, code); err != nil {
		return nil, err
	}
	pts, err := s.opts.History.History(ctx, code)
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, audit.Entry{Actor: p.Actor(), Action: "score_history", Subject: "company:" + code, Outcome: audit.OutcomeOK,
		After: map[string]any{"points": len(pts)}}); err != nil {
		return nil, err
	}
	return pts, nil
}

// ScorePopulationOptions configure ScorePopulation.
type ScorePopulationOptions struct {
	// Workers scoring in parallel. Default GOMAXPROCS.
	Workers int
	// Progress, when set, is called with the number of companies scored so far.
	Progress func(done, total int)
}

// ScorePopulation computes every company's figures (PD, score, rating, colour,
// limit, violation probability, inspection tier; no reasons) with the models and
// policy in force, from each task's population of one as-of date: the score
// history of the region. pops holds the population of each task's feature set
// (tasks that share a set may share one). The companies are those of the PD
// population; a company absent from another task's population is scored with
// that task's indicators missing. Only those who may screen the region (regulators
// and platform administrators) may run it, and the run is audited once.
//
// Every decision carries the company, the populations' as-of date, the model
// versions and the policy version; decisions are in the PD population's order.
func (s *Service) ScorePopulation(ctx context.Context, p Principal, pops map[Task]*Population, o ScorePopulationOptions) ([]*Decision, error) {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	base := pops[TaskPD]
	if base == nil {
		return nil, fmt.Errorf("%w: no PD population", ErrInvalidInput)
	}
	if err := s.allow(ctx, p, access.ActionScreen, access.Resource{Kind: "population", ID: "scores:" + base.AsOf.Format(time.DateOnly)}); err != nil {
		return nil, err
	}
	snap := s.opts.Models.Current()
	if !snap.Complete() {
		return nil, fmt.Errorf("%w: models loaded: %v", ErrNotReady, snap.Refs())
	}
	pol := s.policy.Load()
	// Each fetched set's population, and where each company sits in it.
	type source struct {
		pop   *Population
		width int
		row   []int // base company i → row in pop, -1 when absent
		empty []float64
	}
	n := len(base.Codes)
	srcs := make(map[Task]*source, len(s.sets))
	var feeds [3]*feed
	for i, t := range Tasks {
		fd, err := snap.populationFeed(t)
		if err != nil {
			return nil, err
		}
		feeds[i] = fd
	}
	for _, t := range s.sets {
		set := s.opts.Models.FeatureSet(t)
		pop := pops[t]
		if pop == nil {
			return nil, fmt.Errorf("%w: no population for task %s", ErrInvalidInput, t)
		}
		if pop.Set.Key() != set.Key() {
			return nil, fmt.Errorf("%w: the %s population is %s, the model needs %s", ErrFeatureSetMismatch, t, pop.Set.Key(), set.Key())
		}
		if !pop.AsOf.Equal(base.AsOf) {
			return nil, fmt.Errorf("%w: the %s population is as of %s, the PD one as of %s", ErrInvalidInput, t,
				pop.AsOf.Format(time.DateOnly), base.AsOf.Format(time.DateOnly))
		}
		w := len(set.Indicators)
		if len(pop.Values) != len(pop.Codes)*w {
			return nil, fmt.Errorf("%w: the %s population has %d values for %d companies × %d indicators", ErrInvalidInput, t, len(pop.Values), len(pop.Codes), w)
		}
		src := &source{pop: pop, width: w, row: make([]int, n), empty: make([]float64, w)}
		for i := range src.empty {
			src.empty[i] = math.NaN()
		}
		if pop == base {
			for i := range src.row {
				src.row[i] = i
			}
		} else {
			at := make(map[string]int, len(pop.Codes))
			for i, c := range pop.Codes {
				at[c] = i
			}
			for i, c := range base.Codes {
				r, ok := at[c]
				if !ok {
					r = -1
				}
				src.row[i] = r
			}
		}
		srcs[t] = src
	}
	models := make([]ModelVersion, 0, len(Tasks))
	for _, t := range Tasks {
		ref := snap.Scorer(t).Ref()
		models = append(models, ModelVersion{Task: t, Name: ref.Name, Version: ref.Version})
	}

	out := make([]*Decision, n)
	err := inChunks(ctx, n, 512, o.Workers, o.Progress, func() func(i int) error {
		vecs := make(map[Task][]float64, len(s.sets))
		var rows [3][]float64
		row := func(t Task) []float64 {
			if i := taskIndex(t); feeds[i] != nil {
				return rows[i]
			}
			return vecs[s.fetch[t]]
		}
		lookup := func(id string) (float64, bool) {
			l, ok := s.index[id]
			if !ok {
				return 0, false
			}
			v := vecs[l.task][l.col]
			return v, !math.IsNaN(v)
		}
		return func(i int) error {
			for t, src := range srcs {
				if r := src.row[i]; r >= 0 {
					vecs[t] = src.pop.Values[r*src.width : (r+1)*src.width]
				} else {
					vecs[t] = src.empty
				}
			}
			for j, fd := range feeds {
				if fd != nil {
					rows[j] = fd.build(vecs, nil)
				}
			}
			d, err := figures(snap, pol, row, lookup, nil)
			if err != nil {
				return fmt.Errorf("company %s: %w", base.Codes[i], err)
			}
			d.Company, d.AsOf, d.Models = base.Codes[i], base.AsOf, models
			out[i] = d
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	refs := make([]string, len(models))
	for i, m := range models {
		refs[i] = m.Name + "@" + m.Version
	}
	if err := s.audit(ctx, audit.Entry{Actor: p.Actor(), Action: "score_population", Subject: "population:" + base.AsOf.Format(time.DateOnly),
		Outcome: audit.OutcomeOK, After: map[string]any{"models": refs, "policy": pol.Version, "companies": n}}); err != nil {
		return nil, err
	}
	return out, nil
}
