package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/modeldrift"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// riskIndex answers GET /v1/risk-index?level=region|district|industry|district_industry
// (default district): the regional risk index over every scored date, with its
// method, for those who may screen the region.
func (h *handler) riskIndex(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	if err := serving.AccessError(h.opts.Authorizer.Authorize(ctx, p, access.ActionScreen, access.Resource{Kind: "risk_index", ID: "region"})); err != nil {
		return 0, nil, err
	}
	level := riskindex.Level(r.URL.Query().Get("level"))
	if level == "" {
		level = riskindex.District
	}
	switch level {
	case riskindex.Region, riskindex.District, riskindex.Industry, riskindex.Both:
	default:
		return 0, nil, fmt.Errorf("%w: level %q is not region, district, industry or district_industry", serving.ErrInvalidInput, level)
	}
	idx, err := h.opts.RiskIndex.Index(ctx, level)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
	}
	return http.StatusOK, idx, nil
}

// scoreDrift answers GET /v1/score-drift: the population stability of each
// model's figures over the scored dates against its first one (PSI ≥ 0.1
// "watch", ≥ 0.25 "act"), for those who may screen the region.
func (h *handler) scoreDrift(ctx context.Context, p serving.Principal, _ *http.Request) (int, any, error) {
	if err := serving.AccessError(h.opts.Authorizer.Authorize(ctx, p, access.ActionScreen, access.Resource{Kind: "score_drift", ID: "region"})); err != nil {
		return 0, nil, err
	}
	pts, err := h.opts.Drift(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
	}
	if pts == nil {
		pts = []scores.DriftPoint{}
	}
	return http.StatusOK, map[string]any{"drift": pts}, nil
}

// movers answers GET /v1/risk-index/movers?from=&to=&district=&industry=&limit=:
// the companies whose figures worsened and improved most between two scored
// dates (default the two newest), for those who may screen the region.
func (h *handler) movers(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	if err := serving.AccessError(h.opts.Authorizer.Authorize(ctx, p, access.ActionScreen, access.Resource{Kind: "risk_index", ID: "movers"})); err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	f := riskindex.MoverFilter{From: q.Get("from"), To: q.Get("to"), District: q.Get("district"), Industry: q.Get("industry")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return 0, nil, fmt.Errorf("%w: limit %q is not a number from 1 to 500", serving.ErrInvalidInput, v)
		}
		f.Limit = n
	}
	for _, d := range []string{f.From, f.To} {
		if _, err := time.Parse(time.DateOnly, d); d != "" && err != nil {
			return 0, nil, fmt.Errorf("%w: %q is not a date (YYYY-MM-DD)", serving.ErrInvalidInput, d)
		}
	}
	m, err := h.opts.Movers(ctx, f)
	switch {
	case errors.Is(err, riskindex.ErrNoRuns):
		return 0, nil, fmt.Errorf("%w: %w", serving.ErrInvalidInput, err)
	case err != nil:
		return 0, nil, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
	}
	return http.StatusOK, m, nil
}

// circles answers GET /v1/topics/guarantee-circles?sort=risk|exposure&limit=:
// the guarantee circles (担保圈) of the newest scored date, ranked, with their
// members' names and figures, for those who may screen the region.
func (h *handler) circles(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	if err := serving.AccessError(h.opts.Authorizer.Authorize(ctx, p, access.ActionScreen, access.Resource{Kind: "topic", ID: "guarantee_circles"})); err != nil {
		return 0, nil, err
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, nil, fmt.Errorf("%w: limit %q is not a number from 1 to 1000", serving.ErrInvalidInput, v)
		}
		limit = n
	}
	rep, err := h.opts.Circles.Rank(ctx, r.URL.Query().Get("sort"), limit)
	switch {
	case errors.Is(err, riskindex.ErrInput):
		return 0, nil, fmt.Errorf("%w: %w", serving.ErrInvalidInput, err)
	case errors.Is(err, riskindex.ErrNoRuns):
		return 0, nil, fmt.Errorf("%w: %w", serving.ErrNotReady, err)
	case err != nil:
		return 0, nil, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
	}
	return http.StatusOK, rep, nil
}

// smallFirms answers GET /v1/topics/small-firms?headcount=&limit=: the small
// firms (fewer insured employees than headcount, default 20) of the newest
// scored date grouped by district × industry, the riskiest clusters first, for
// those who may screen the region.
func (h *handler) smallFirms(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	if err := serving.AccessError(h.opts.Authorizer.Authorize(ctx, p, access.ActionScreen, access.Resource{Kind: "topic", ID: "small_firms"})); err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	num := func(name string, hi int) (int, error) {
		v := q.Get(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hi {
			return 0, fmt.Errorf("%w: %s %q is not a number from 1 to %d", serving.ErrInvalidInput, name, v, hi)
		}
		return n, nil
	}
	headcount, err := num("headcount", 10000)
	if err != nil {
		return 0, nil, err
	}
	limit, err := num("limit", 1000)
	if err != nil {
		return 0, nil, err
	}
	rep, err := h.opts.SmallFirms.Report(ctx, headcount, limit)
	switch {
	case errors.Is(err, riskindex.ErrNoRuns):
		return 0, nil, fmt.Errorf("%w: %w", serving.ErrNotReady, err)
	case err != nil:
		return 0, nil, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
	}
	return http.StatusOK, rep, nil
}

// modelDrift answers GET /v1/model-drift?model=&kind=: for each model in
// production, the PSI of its score (kind "score") and of its most important
// indicators (kind "indicator") on every scored date against its training
// sample (or, without one, its first production date), keeping the models the
// caller may read (its own, shared ones; all for a platform administrator).
func (h *handler) modelDrift(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	model, kind := r.URL.Query().Get("model"), r.URL.Query().Get("kind")
	if kind != "" && kind != modeldrift.KindScore && kind != modeldrift.KindIndicator {
		return 0, nil, fmt.Errorf("%w: kind %q is not score or indicator", serving.ErrInvalidInput, kind)
	}
	rep, err := h.opts.ModelDrift(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
	}
	out := modeldrift.Report{Latest: rep.Latest, Points: []modeldrift.Point{}}
	seen := map[string]bool{}
	for _, pt := range rep.Points {
		if (model != "" && pt.Model != model) || (kind != "" && pt.Kind != kind) {
			continue
		}
		res := access.Resource{Kind: "model", ID: pt.Model, Owner: pt.Owner, Shared: pt.Shared}
		ok, known := seen[pt.Model]
		if !known {
			_, derr := access.Decide(p, access.ActionReadModel, res)
			ok, seen[pt.Model] = derr == nil, derr == nil
		}
		if !ok {
			continue
		}
		out.Points = append(out.Points, pt)
		if pt.AsOf == rep.Latest {
			switch pt.Level {
			case "watch":
				out.Watch++
			case "act":
				out.Act++
			}
		}
	}
	if len(seen) > 0 && len(out.Points) == 0 {
		// Nothing the caller may read: the refusal is recorded like any other.
		if err := serving.AccessError(h.opts.Authorizer.Authorize(ctx, p, access.ActionReadModel, access.Resource{Kind: "model", ID: "production"})); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, out, nil
}
