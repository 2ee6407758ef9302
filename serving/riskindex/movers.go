package riskindex

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

var (
	// ErrNoRuns: fewer than two scored dates, or a date that was not scored.
	ErrNoRuns = errors.New("riskindex: no such scored dates")
	// ErrInput: a parameter that does not parse.
	ErrInput = errors.New("riskindex: invalid input")
)

// Mover is one company whose figures moved between two scored dates.
type Mover struct {
	Company    string  `json:"company_code"`
	Name       string  `json:"name,omitempty"`
	District   string  `json:"district,omitempty"`
	Industry   string  `json:"industry,omitempty"`
	FromPD     float64 `json:"from_pd"`
	ToPD       float64 `json:"to_pd"`
	DeltaPD    float64 `json:"delta_pd"`
	FromColour string  `json:"from_colour"`
	ToColour   string  `json:"to_colour"`
	FromRating string  `json:"from_rating"`
	ToRating   string  `json:"to_rating"`
}

// Movers are the companies that moved most between two scored dates: Worse by
// the rise of their PD (a worse colour first), Better by its fall, among the
// companies scored on both dates and, when set, of one district and industry.
type Movers struct {
	From     string  `json:"from"`
	To       string  `json:"to"`
	Compared int     `json:"compared"`
	Worse    []Mover `json:"worse"`
	Better   []Mover `json:"better"`
	// ColourWorse and ColourBetter count the companies whose colour moved.
	ColourWorse  int `json:"colour_worse"`
	ColourBetter int `json:"colour_better"`
}

// MoverFilter narrows and bounds Movers. From and To are scored dates
// (YYYY-MM-DD; default the two newest); District is a district name, Industry a
// GB/T 4754 section; Limit the length of each list (default 20, at most 500).
type MoverFilter struct {
	From, To           string
	District, Industry string
	Limit              int
}

// FindMovers compares two scored dates of the score history in store.
func FindMovers(ctx context.Context, store blob.Store, f MoverFilter) (*Movers, error) {
	if f.Limit <= 0 {
		f.Limit = 20
	}
	f.Limit = min(f.Limit, 500)
	runs, err := scores.Runs(ctx, store)
	if err != nil {
		return nil, err
	}
	pick := func(date string, fallback int) (*scores.Manifest, error) {
		if date == "" {
			if fallback < 0 {
				return nil, fmt.Errorf("%w: the history holds %d scored dates, movers need two", ErrNoRuns, len(runs))
			}
			return runs[fallback], nil
		}
		for _, r := range runs {
			if r.AsOf == date {
				return r, nil
			}
		}
		return nil, fmt.Errorf("%w: %s was not scored", ErrNoRuns, date)
	}
	to, err := pick(f.To, len(runs)-1)
	if err != nil {
		return nil, err
	}
	from, err := pick(f.From, len(runs)-2)
	if err != nil {
		return nil, err
	}
	if from.AsOf >= to.AsOf {
		return nil, fmt.Errorf("%w: from %s is not before to %s", ErrNoRuns, from.AsOf, to.AsOf)
	}
	reader := scores.NewReader(store, 2)
	a, err := reader.Rows(ctx, from)
	if err != nil {
		return nil, err
	}
	b, err := reader.Rows(ctx, to)
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(time.DateOnly, to.AsOf)
	if err != nil {
		return nil, err
	}
	dir, err := datasets.LoadDirectory(ctx, store, datasets.DayOf(t))
	if err != nil {
		return nil, fmt.Errorf("riskindex: business registry as of %s: %w", to.AsOf, err)
	}
	out := &Movers{From: from.AsOf, To: to.AsOf}
	var all []Mover
	i := 0
	for _, r := range b { // both sorted by company
		for i < len(a) && a[i].Company < r.Company {
			i++
		}
		if i == len(a) || a[i].Company != r.Company {
			continue
		}
		p := a[i]
		m := Mover{Company: r.Company, FromPD: p.PD, ToPD: r.PD, DeltaPD: r.PD - p.PD, FromColour: p.Colour, ToColour: r.Colour,
			FromRating: p.Rating, ToRating: r.Rating}
		if c, ok := dir.Company(r.Company); ok {
			m.Name, m.District, m.Industry = c.Name, c.DistrictName, c.Industry
		}
		if f.District != "" && m.District != f.District || f.Industry != "" && m.Industry != f.Industry {
			continue
		}
		out.Compared++
		switch d := policy.Colour(r.Colour).Rank() - policy.Colour(p.Colour).Rank(); {
		case d > 0:
			out.ColourWorse++
		case d < 0:
			out.ColourBetter++
		}
		all = append(all, m)
	}
	colourMove := func(m Mover) int { return policy.Colour(m.ToColour).Rank() - policy.Colour(m.FromColour).Rank() }
	slices.SortFunc(all, func(x, y Mover) int {
		if c := cmp.Compare(colourMove(y), colourMove(x)); c != 0 {
			return c
		}
		if c := cmp.Compare(y.DeltaPD, x.DeltaPD); c != 0 {
			return c
		}
		return cmp.Compare(x.Company, y.Company)
	})
	for _, m := range all {
		if len(out.Worse) == f.Limit || colourMove(m) <= 0 && m.DeltaPD <= 0 {
			break
		}
		out.Worse = append(out.Worse, m)
	}
	for k := len(all) - 1; k >= 0; k-- {
		m := all[k]
		if len(out.Better) == f.Limit || colourMove(m) >= 0 && m.DeltaPD >= 0 {
			break
		}
		out.Better = append(out.Better, m)
	}
	if out.Worse == nil {
		out.Worse = []Mover{}
	}
	if out.Better == nil {
		out.Better = []Mover{}
	}
	return out, nil
}
