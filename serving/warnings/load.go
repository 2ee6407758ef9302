package warnings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// DefaultSet is the feature set warnings are evaluated on: it holds every indicator.
var DefaultSet = features.SetRef{Name: "full", Version: 1}

// Source says where a date's evaluation input comes from.
type Source struct {
	Store blob.Store
	// Set is the feature set of the snapshots (zero: DefaultSet).
	Set features.SetRef
	// NoNetwork leaves out the guarantee circles (built from the raw guarantee
	// and loan tables, which must then be in Store).
	NoNetwork bool
	// NoRegistry leaves out the business registry (the raw companies table, which
	// must then be in Store): status, district and industry.
	NoRegistry bool
	// Workers for evaluation and the network (0: GOMAXPROCS).
	Workers int
	// RequireScores makes Input wait for the score run of the date (an error
	// wrapping ErrScoresPending, which a job retries) instead of evaluating the
	// score rules as unscored: set it when the score history is kept.
	RequireScores bool
}

// ErrScoresPending: the date has no score run yet (Source.RequireScores).
var ErrScoresPending = errors.New("warnings: score run not stored yet")

func (s Source) set() features.SetRef {
	if s.Set == (features.SetRef{}) {
		return DefaultSet
	}
	return s.Set
}

// Dates are the as-of dates with a snapshot of the source's set, oldest first.
func (s Source) Dates(ctx context.Context) ([]features.Day, error) {
	set := s.set()
	return features.ListSnapshots(ctx, s.Store, set.Name, set.Version)
}

// Input reads the evaluation input of one date: its snapshot and the previous
// one, the score runs of both dates when stored, and the circles as of the date.
func (s Source) Input(ctx context.Context, asof features.Day) (Input, error) {
	set := s.set()
	days, err := s.Dates(ctx)
	if err != nil {
		return Input{}, err
	}
	i, ok := slices.BinarySearch(days, asof)
	if !ok {
		return Input{}, fmt.Errorf("%w: no snapshot of %s as of %s", ErrInput, set, asof)
	}
	in := Input{Workers: s.Workers}
	if in.Now, _, err = features.ReadSnapshot(ctx, s.Store, set.Name, set.Version, asof); err != nil {
		return Input{}, err
	}
	runs, err := scores.Runs(ctx, s.Store)
	if err != nil {
		return Input{}, err
	}
	if in.Scores, err = readRun(ctx, s.Store, runs, asof.String()); err != nil {
		return Input{}, err
	}
	if in.Scores == nil && s.RequireScores {
		return Input{}, fmt.Errorf("%w: as of %s", ErrScoresPending, asof)
	}
	if i > 0 {
		prev := days[i-1]
		if in.Prev, _, err = features.ReadSnapshot(ctx, s.Store, set.Name, set.Version, prev); err != nil {
			return Input{}, err
		}
		if in.PrevScores, err = readRun(ctx, s.Store, runs, prev.String()); err != nil {
			return Input{}, err
		}
	}
	if !s.NoRegistry {
		prev := features.Day(-1 << 30)
		if i > 0 {
			prev = days[i-1]
		}
		if in.Companies, in.PrevCompanies, err = registry(ctx, s.Store, asof, prev); err != nil {
			return Input{}, err
		}
		if i == 0 {
			in.PrevCompanies = nil
		}
	}
	if !s.NoNetwork {
		g, err := features.LoadGuaranteeNetwork(ctx, s.Store, asof.Time(), s.Workers)
		if err != nil {
			return Input{}, fmt.Errorf("warnings: guarantee network as of %s: %w", asof, err)
		}
		if in.Circles, err = CirclesOf(g); err != nil {
			return Input{}, err
		}
	}
	return in, nil
}

// readRun reads the newest score run of a date by company; nil when there is none.
func readRun(ctx context.Context, store blob.Store, runs []*scores.Manifest, asof string) (map[string]scores.Row, error) {
	for _, m := range runs {
		if m.AsOf != asof {
			continue
		}
		b, info, err := blob.ReadAll(ctx, store, m.Part)
		if err != nil {
			return nil, fmt.Errorf("warnings: read score run %s: %w", m.Part, err)
		}
		if info.SHA256 != m.SHA256 {
			return nil, fmt.Errorf("%w: score run %s does not match its manifest's digest", scores.ErrCorrupt, m.Part)
		}
		rows, err := parquet.Read[scores.Row](bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", scores.ErrCorrupt, m.Part, err)
		}
		out := make(map[string]scores.Row, len(rows))
		for _, r := range rows {
			out[r.Company] = r
		}
		return out, nil
	}
	return nil, nil
}

// registry reads the business registry as of two dates: each company's record in
// force (the highest revision arrived by the date) and its status, which counts
// from its status date on (before it the company is in operation).
func registry(ctx context.Context, store blob.Store, asof, prev features.Day) (now, before map[string]Company, err error) {
	src, err := datasets.SourceByName(datasets.SourceCompanies)
	if err != nil {
		return nil, nil, err
	}
	months, err := datasets.Months(ctx, store, src)
	if err != nil {
		return nil, nil, fmt.Errorf("warnings: business registry: %w", err)
	}
	now, before = map[string]Company{}, map[string]Company{}
	inForce := func(dst map[string]Company, rev map[string]int32, r *datasets.CompanyRow, d features.Day) {
		if int32(r.ArrivalDate) > int32(d) || int32(r.EventDate) > int32(d) {
			return
		}
		if old, ok := rev[r.Code]; ok && old > r.Revision {
			return
		}
		rev[r.Code] = r.Revision
		status := datasets.StatusActive
		if int32(r.StatusDate) <= int32(d) {
			status = r.Status
		}
		dst[r.Code] = Company{Status: status, District: r.District, Industry: r.Industry}
	}
	revNow, revBefore := map[string]int32{}, map[string]int32{}
	for _, m := range months {
		if int32(m.FirstDay()) > int32(asof) {
			break
		}
		rows, err := datasets.ReadMonth[datasets.CompanyRow](ctx, store, src, m)
		if err != nil {
			return nil, nil, fmt.Errorf("warnings: business registry: %w", err)
		}
		for i := range rows {
			inForce(now, revNow, &rows[i], asof)
			inForce(before, revBefore, &rows[i], prev)
		}
	}
	return now, before, nil
}
