package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
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
