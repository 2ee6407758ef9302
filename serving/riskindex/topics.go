package riskindex

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// CircleMember is one company of a guarantee circle with its latest figures.
type CircleMember struct {
	Company   string  `json:"company_code"`
	Name      string  `json:"name,omitempty"`
	District  string  `json:"district,omitempty"`
	Scored    bool    `json:"scored"`
	PD        float64 `json:"pd"`
	Colour    string  `json:"colour,omitempty"`
	Defaulted bool    `json:"defaulted"`
}

// CircleTopic is one guarantee circle (担保圈) ranked for a regulator: its
// exposure (what its members guaranteed, 元) and its risk (members in default,
// red members, the highest and mean PD of the latest scored date).
type CircleTopic struct {
	Members   []CircleMember `json:"members"`
	Given     float64        `json:"given"`
	Defaulted int            `json:"defaulted"`
	Red       int            `json:"red"`
	MaxPD     float64        `json:"max_pd"`
	MeanPD    float64        `json:"mean_pd"`
}

// CircleReport ranks a region's guarantee circles.
type CircleReport struct {
	NetworkAsOf string        `json:"network_as_of"`
	ScoresAsOf  string        `json:"scores_as_of,omitempty"`
	Sort        string        `json:"sort"` // risk or exposure
	Circles     int           `json:"circles"`
	Companies   int           `json:"companies"`
	Top         []CircleTopic `json:"top"`
}

// RankCircles ranks the circles of g by risk (members in default, then red
// members, then the highest PD, then exposure) or by exposure, joining the
// newest scored date of the history in store and the business registry dir
// (nil: codes only). limit bounds the list (default 20, at most 1,000).
func RankCircles(ctx context.Context, store blob.Store, g *features.GuaranteeNetwork, dir *datasets.Directory, sort string, limit int) (*CircleReport, error) {
	switch sort {
	case "":
		sort = "risk"
	case "risk", "exposure":
	default:
		return nil, fmt.Errorf("%w: sort %q is not risk or exposure", ErrInput, sort)
	}
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 1000)
	rep := &CircleReport{NetworkAsOf: g.AsOf.String(), Sort: sort}
	var rows []scores.Row
	runs, err := scores.Runs(ctx, store)
	if err != nil {
		return nil, err
	}
	if len(runs) > 0 {
		last := runs[len(runs)-1]
		if rows, err = scores.NewReader(store, 1).Rows(ctx, last); err != nil {
			return nil, err
		}
		rep.ScoresAsOf = last.AsOf
	}
	find := func(code string) (scores.Row, bool) {
		i, ok := slices.BinarySearchFunc(rows, code, func(r scores.Row, c string) int { return cmp.Compare(r.Company, c) })
		if !ok {
			return scores.Row{}, false
		}
		return rows[i], true
	}
	defaulted := map[string]bool{}
	for u, code := range g.Codes {
		if g.Defaulted != nil && g.Defaulted[u] {
			defaulted[code] = true
		}
	}
	var all []CircleTopic
	for _, c := range g.Circles() {
		t := CircleTopic{Given: c.Given, Defaulted: c.Defaulted}
		var scored int
		for _, code := range c.Members {
			m := CircleMember{Company: code, Defaulted: defaulted[code]}
			if dir != nil {
				if r, ok := dir.Company(code); ok {
					m.Name, m.District = r.Name, r.DistrictName
				}
			}
			if r, ok := find(code); ok {
				m.Scored, m.PD, m.Colour = true, r.PD, r.Colour
				scored++
				t.MeanPD += r.PD
				t.MaxPD = max(t.MaxPD, r.PD)
				if policy.Colour(r.Colour) == policy.Red {
					t.Red++
				}
			}
			t.Members = append(t.Members, m)
		}
		if scored > 0 {
			t.MeanPD /= float64(scored)
		}
		rep.Companies += len(c.Members)
		all = append(all, t)
	}
	rep.Circles = len(all)
	slices.SortStableFunc(all, func(a, b CircleTopic) int {
		if sort == "risk" {
			if c := cmp.Compare(b.Defaulted, a.Defaulted); c != 0 {
				return c
			}
			if c := cmp.Compare(b.Red, a.Red); c != 0 {
				return c
			}
			if c := cmp.Compare(b.MaxPD, a.MaxPD); c != 0 {
				return c
			}
		}
		return cmp.Compare(b.Given, a.Given)
	})
	rep.Top = all[:min(limit, len(all))]
	if rep.Top == nil {
		rep.Top = []CircleTopic{}
	}
	return rep, nil
}

// Circles ranks the circles of the newest scored date, keeping the network and
// the registry of that date in memory until a newer date is scored.
type Circles struct {
	store blob.Store

	mu    sync.Mutex
	asOf  string
	graph *features.GuaranteeNetwork
	dir   *datasets.Directory
}

// NewCircles returns the ranking over the history and raw tables in store.
func NewCircles(store blob.Store) *Circles { return &Circles{store: store} }

// Rank is RankCircles over the newest scored date's network.
func (c *Circles) Rank(ctx context.Context, sort string, limit int) (*CircleReport, error) {
	runs, err := scores.Runs(ctx, c.store)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%w: nothing scored yet", ErrNoRuns)
	}
	asOf := runs[len(runs)-1].AsOf
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.asOf != asOf {
		t, err := time.Parse(time.DateOnly, asOf)
		if err != nil {
			return nil, err
		}
		g, err := features.LoadGuaranteeNetwork(ctx, c.store, t, 0)
		if err != nil {
			return nil, err
		}
		dir, err := datasets.LoadDirectory(ctx, c.store, datasets.DayOf(t))
		if err != nil {
			return nil, err
		}
		c.asOf, c.graph, c.dir = asOf, g, dir
	}
	return RankCircles(ctx, c.store, c.graph, c.dir, sort, limit)
}
