package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/inspection"
)

// inspectionRoutes registers the regulator's inspection loop (Options.Inspections):
//
//	POST /v1/screenings/{id}/plans      draw a 双随机 plan: {"inspectors": [...], "seed": 123, "inspectors_per_firm": 2}
//	GET  /v1/plans/{id}                 the plan with each firm's result in force
//	GET  /v1/plans/{id}/export          ?format=csv (default; UTF-8 with BOM, Chinese headers) or json, as a download
//	POST /v1/plans/{id}/results         record a result: {"company_code", "outcome", "category", "date", "inspector", "note", "correction"}
//	GET  /v1/inspections/hit-rates      hit rates per tier and plan against the random baseline
func (h *handler) inspectionRoutes() {
	h.route("POST /v1/screenings/{id}/plans", "plan_draw", h.authed(h.planDraw))
	h.route("GET /v1/plans/{id}", "plan_get", h.authed(h.planGet))
	h.route("GET /v1/plans/{id}/export", "plan_export", h.authedDownload(h.planExport))
	h.route("POST /v1/plans/{id}/results", "plan_record", h.authed(h.planRecord))
	h.route("GET /v1/inspections/hit-rates", "hit_rates", h.authed(h.hitRates))
}

func planID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: plan id %q is not a positive integer", serving.ErrInvalidInput, r.PathValue("id"))
	}
	return id, nil
}

func (h *handler) planDraw(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	data, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	var o inspection.DrawOptions
	if err := decodeBytes(data, &o); err != nil {
		return 0, nil, err
	}
	plan, err := h.opts.Inspections.Draw(ctx, p, r.PathValue("id"), o)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, plan, nil
}

func (h *handler) planGet(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	id, err := planID(r)
	if err != nil {
		return 0, nil, err
	}
	plan, err := h.opts.Inspections.Get(ctx, p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, plan, nil
}

func (h *handler) planRecord(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	id, err := planID(r)
	if err != nil {
		return 0, nil, err
	}
	data, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	var in inspection.ResultInput
	if err := decodeBytes(data, &in); err != nil {
		return 0, nil, err
	}
	res, err := h.opts.Inspections.Record(ctx, p, id, in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, res, nil
}

func (h *handler) hitRates(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	hr, err := h.opts.Inspections.HitRates(ctx, p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, hr, nil
}

// download is a file answer: its bytes, content type and file name.
type download struct {
	data        []byte
	contentType string
	filename    string
}

func (h *handler) planExport(ctx context.Context, p serving.Principal, r *http.Request) (download, error) {
	id, err := planID(r)
	if err != nil {
		return download{}, err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	data, ctype, err := h.opts.Inspections.Export(ctx, p, id, format)
	if err != nil {
		return download{}, err
	}
	return download{data: data, contentType: ctype, filename: fmt.Sprintf("plan-%d.%s", id, format)}, nil
}

// authedDownload is authed for an answer that is a file rather than JSON: the
// same authentication, rate limit and JSON errors.
func (h *handler) authedDownload(fn func(ctx context.Context, p serving.Principal, r *http.Request) (download, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.principal(w, r)
		if !ok {
			return
		}
		d, err := fn(r.Context(), p, r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", d.contentType)
		hd.Set("Content-Disposition", `attachment; filename="`+d.filename+`"`)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Length", strconv.Itoa(len(d.data)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(d.data) // the client may have gone; nothing to do
	}
}
