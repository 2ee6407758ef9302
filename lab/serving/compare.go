package serving

import (
	"context"
	"errors"
	"fmt"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/serving/screencompare"
)

// CompareRows is how many companies each list of a comparison shows.
const CompareRows = 10

// CompareScreenings implements lab.ScreeningComparer: both screenings are read
// through the screener, which authorizes each for the user (internal/access,
// refusals audited).
func (s *Screenings) CompareScreenings(ctx context.Context, p lab.Principal, from, to string) (lab.ScreeningComparison, error) {
	sp, err := Principal(p)
	if err != nil {
		return lab.ScreeningComparison{}, err
	}
	o := screencompare.Options{Jobs: s.sc}
	if s.dir != nil {
		o.Names = s.dir
	}
	c, err := screencompare.New(o)
	if err != nil {
		return lab.ScreeningComparison{}, err
	}
	r, err := c.Compare(ctx, sp, from, to, screencompare.Query{Limit: CompareRows})
	if err != nil {
		if errors.Is(err, screencompare.ErrNotDone) {
			return lab.ScreeningComparison{}, fmt.Errorf("%w: %w", lab.ErrConflict, err)
		}
		return lab.ScreeningComparison{}, mapErr(err)
	}
	return Comparison(r), nil
}

// Comparison is the console's form of a comparison.
func Comparison(r *screencompare.Comparison) lab.ScreeningComparison {
	out := lab.ScreeningComparison{Tiers: r.Tiers, InBoth: r.InBoth, New: r.New, Gone: r.Gone, NewByTier: r.NewByTier, GoneByTier: r.GoneByTier,
		Up: r.Up, Down: r.Down, Same: r.Same,
		EnteredTop: list(r.EnteredTop), LeftTop: list(r.LeftTop), Rose: list(r.Rose), Fell: list(r.Fell)}
	for i, ref := range []screencompare.Ref{r.From, r.To} {
		sc := lab.Screening{Job: lab.Job{ID: ref.ID, State: lab.JobDone, Total: int64(ref.Companies), Done: int64(ref.Companies), Finished: ref.Finished},
			Model: ref.Model}
		if i == 0 {
			out.From = sc
		} else {
			out.To = sc
		}
	}
	at := map[string]int{}
	for i, t := range r.Tiers {
		at[t] = i
	}
	out.Table = make([][]int, len(r.Tiers))
	for i := range out.Table {
		out.Table[i] = make([]int, len(r.Tiers))
	}
	for _, t := range r.Transitions {
		out.Table[at[t.From]][at[t.To]] = t.Count
	}
	return out
}

func list(l screencompare.Listed) lab.ComparedList {
	out := lab.ComparedList{Count: l.Count}
	for _, m := range l.Companies {
		c := lab.ComparedCompany{Code: m.Company, Name: m.Name, District: m.District, Industry: m.Industry, IndustryName: m.IndustryName,
			IndustryNameEN: datasets.IndustryNameEN(m.Industry), FromRank: m.FromRank, ToRank: m.ToRank,
			FromProbability: m.FromProbability, ToProbability: m.ToProbability, Change: m.Change, FromTier: m.FromTier, ToTier: m.ToTier, Steps: m.Steps}
		if c.Name == "" {
			c.Name = m.Company
		}
		out.Companies = append(out.Companies, c)
	}
	return out
}
