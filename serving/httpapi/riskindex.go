package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving"
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
