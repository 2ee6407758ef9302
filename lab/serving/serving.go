// Package serving adapts serving's screening jobs to the lab console: a regulator
// starts a screening of the whole region with the violation (or pd) model, watches
// its progress, sees the inspection tiers and the top of the ranking with reason
// codes, and exports the full ranking as CSV from the stored result.
//
//	scr := labserving.NewScreenings(screener, store)
//	srv, _ := lab.New(lab.Options{Screenings: scr, ...})
package serving

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/xinyi-platform/xinyi/datasets"
	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/lab/svg"
	xserving "github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// TopRows is how many ranked companies a screening page shows.
const TopRows = 20

// Screenings implements lab.Screenings over a serving.Screener.
type Screenings struct {
	sc    *xserving.Screener
	store blob.Store
	// The explorer's (WithExplorer).
	dir   *datasets.Directory
	cat   *xfeatures.Catalog
	cache *exploreCache
}

// NewScreenings wraps sc; store is where sc writes results (for the CSV export).
func NewScreenings(sc *xserving.Screener, store blob.Store) *Screenings {
	return &Screenings{sc: sc, store: store}
}

// Principal is the signed-in user's access principal, which serving authorizes
// through internal/access like every other caller; an anonymous one is refused.
func Principal(p lab.Principal) (xserving.Principal, error) {
	if p.User == "" {
		return xserving.Principal{}, fmt.Errorf("%w: no signed-in user", lab.ErrForbidden)
	}
	return p.Principal, nil
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, xserving.ErrUnknownJob):
		return fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	case errors.Is(err, xserving.ErrForbidden):
		return fmt.Errorf("%w: %w", lab.ErrForbidden, err)
	case errors.Is(err, xserving.ErrInvalidInput):
		return fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	case errors.Is(err, xserving.ErrNotReady), errors.Is(err, xserving.ErrUnavailable):
		return fmt.Errorf("%w: %w", lab.ErrNotConnected, err)
	}
	return err
}

// ScreeningModels lists the tasks a screening may use.
func (s *Screenings) ScreeningModels(context.Context) ([]string, error) {
	return []string{string(xserving.TaskViolation), string(xserving.TaskPD)}, nil
}

// StartScreening starts a job with the model of task model.
func (s *Screenings) StartScreening(ctx context.Context, model string, by lab.Principal) (string, error) {
	sp, err := Principal(by)
	if err != nil {
		return "", err
	}
	j, err := s.sc.Start(ctx, sp, xserving.Task(model))
	if err != nil {
		return "", mapErr(err)
	}
	return j.ID, nil
}

var tierColor = map[policy.Tier]string{policy.High: svg.ColorRed, policy.Medium: svg.ColorOrange, policy.Low: svg.ColorGreen}

func (s *Screenings) convert(j xserving.Job) lab.Screening {
	out := lab.Screening{Job: lab.Job{ID: j.ID, State: lab.JobState(j.State), Done: int64(j.Done), Total: int64(j.Total), Err: j.Error,
		Started: j.Started, Finished: j.Finished, By: j.Institution}, Model: string(j.Task)}
	if r := j.Result; r != nil {
		out.Model = fmt.Sprintf("%s %s:%s · %s · %s", r.Task, r.Model.Name, r.Model.Version, r.FeatureSet, r.AsOf.Format("2006-01-02"))
		for _, t := range []policy.Tier{policy.High, policy.Medium, policy.Low} {
			out.Tiers = append(out.Tiers, lab.Tier{Name: string(t), Color: tierColor[t], Count: int64(r.TierCounts[t])})
		}
		for _, row := range r.Rows[:min(TopRows, len(r.Rows))] {
			rk := lab.Ranked{Rank: row.Rank, Code: row.Company, Name: row.Company, Probability: row.Probability, Tier: row.Tier}
			if s.dir != nil {
				if c, ok := s.dir.Company(row.Company); ok {
					rk.Name = c.Name
				}
			}
			if row.Reasons != "" {
				for _, id := range strings.Split(row.Reasons, "|") {
					zh, en := s.reasonSentence(id)
					rk.ReasonsZH, rk.ReasonsEN = append(rk.ReasonsZH, zh), append(rk.ReasonsEN, en)
				}
			}
			out.Top = append(out.Top, rk)
		}
	}
	return out
}

// Screening returns one job of the user's institution.
func (s *Screenings) Screening(ctx context.Context, p lab.Principal, id string) (lab.Screening, error) {
	sp, err := Principal(p)
	if err != nil {
		return lab.Screening{}, err
	}
	j, err := s.sc.Get(ctx, sp, id)
	if err != nil {
		return lab.Screening{}, mapErr(err)
	}
	return s.convert(j), nil
}

// Screenings lists the jobs the user may see (those of the user's institution),
// newest first.
func (s *Screenings) Screenings(ctx context.Context, p lab.Principal) ([]lab.Screening, error) {
	sp, err := Principal(p)
	if err != nil {
		return nil, err
	}
	var out []lab.Screening
	for _, j := range s.sc.List(ctx, sp) {
		c := s.convert(j)
		c.Top = nil
		out = append(out, c)
	}
	return out, nil
}

// ExportCSV writes the whole stored ranking of a finished job of the user's
// institution.
func (s *Screenings) ExportCSV(ctx context.Context, p lab.Principal, id string, w io.Writer) error {
	sp, err := Principal(p)
	if err != nil {
		return err
	}
	j, err := s.sc.Get(ctx, sp, id)
	if err != nil {
		return mapErr(err)
	}
	if j.State != xserving.JobDone {
		return fmt.Errorf("%w: screening %s is %s; export it once it is done", lab.ErrConflict, id, j.State)
	}
	rows, err := xserving.ReadScreening(ctx, s.store, id)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"rank", "company_code", "probability", "tier", "sampling_ratio", "reasons"})
	for _, r := range rows {
		_ = cw.Write([]string{strconv.Itoa(r.Rank), r.Company, strconv.FormatFloat(r.Probability, 'f', 6, 64), r.Tier,
			strconv.FormatFloat(r.SamplingRatio, 'f', -1, 64), strings.ReplaceAll(r.Reasons, "|", "; ")})
	}
	cw.Flush()
	return cw.Error()
}

func nan() float64 { return math.NaN() }
