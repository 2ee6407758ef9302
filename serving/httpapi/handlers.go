package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/internal/httperr"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/screencompare"
)

func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, fmt.Errorf("%w: the limit is %d bytes", errBodyTooLarge, maxErr.Limit)
		}
		return nil, fmt.Errorf("%w: read body: %v", serving.ErrInvalidInput, err)
	}
	return data, nil
}

func (h *handler) assess(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	data, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	req, err := decodeAssessment(data)
	if err != nil {
		return 0, nil, err
	}
	d, err := h.opts.Service.Assess(ctx, p, req)
	if err != nil {
		return 0, nil, err
	}
	if h.opts.Metrics != nil {
		h.opts.Metrics.ObserveDecision(d)
	}
	return http.StatusOK, d, nil
}

type batchItem struct {
	Decision *serving.Decision `json:"decision,omitempty"`
	Error    *httperr.Error    `json:"error,omitempty"`
}

func (h *handler) assessBatch(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	data, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	var b batchBody
	if err := decodeBytes(data, &b); err != nil {
		return 0, nil, err
	}
	reqs := make([]serving.Request, len(b.Assessments))
	items := make([]batchItem, len(b.Assessments))
	valid := make([]int, 0, len(reqs))
	for i, a := range b.Assessments {
		req, err := a.request()
		if err != nil {
			_, e := errorOf(fmt.Errorf("assessments[%d]: %w", i, err))
			items[i].Error = &e
			continue
		}
		reqs[i] = req
		valid = append(valid, i)
	}
	if len(b.Assessments) == 0 {
		return 0, nil, fmt.Errorf("%w: assessments is empty", serving.ErrInvalidInput)
	}
	sub := make([]serving.Request, len(valid))
	for j, i := range valid {
		sub[j] = reqs[i]
	}
	if len(sub) > 0 {
		ds, errs, err := h.opts.Service.AssessBatch(ctx, p, sub)
		if err != nil {
			return 0, nil, err
		}
		for j, i := range valid {
			if errs[j] != nil {
				_, e := errorOf(errs[j])
				items[i].Error = &e
				continue
			}
			items[i].Decision = ds[j]
		}
	}
	return http.StatusOK, map[string]any{"results": items}, nil
}

func (h *handler) live(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"live": h.opts.OIP.Live()})
}

func (h *handler) ready(w http.ResponseWriter, r *http.Request) {
	ready := h.opts.OIP.Ready()
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	body := map[string]any{"ready": ready}
	if h.opts.Metrics != nil {
		if d := h.opts.Metrics.Degraded(); len(d) > 0 {
			body["degraded"] = d
		}
	}
	writeJSON(w, status, body)
}

func (h *handler) serverMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.opts.OIP.ServerMetadata())
}

func (h *handler) modelMetadata(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	md, err := h.opts.OIP.ModelMetadata(ctx, p, r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, md, nil
}

func (h *handler) modelReady(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	ready, err := h.opts.OIP.ModelReady(ctx, p, r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"name": r.PathValue("name"), "ready": ready}, nil
}

func (h *handler) infer(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	if err := requireJSON(r); err != nil {
		return 0, nil, err
	}
	data, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	req, err := decodeInfer(data, r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return 0, nil, err
	}
	resp, err := h.opts.OIP.Infer(ctx, p, req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, encodeInfer(resp), nil
}

func encodeInfer(resp *oip.InferResponse) inferResponseJSON {
	out := inferResponseJSON{ModelName: resp.ModelName, ModelVersion: resp.ModelVersion, ID: resp.ID}
	for _, t := range resp.Outputs {
		out.Outputs = append(out.Outputs, inferOutputJSON{Name: t.Name, Shape: t.Shape, Datatype: t.Datatype, Data: t.Data})
	}
	return out
}

type screeningBody struct {
	Task string `json:"task"`
}

func (h *handler) screeningStart(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	data, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	var b screeningBody
	if len(data) > 0 {
		if err := decodeBytes(data, &b); err != nil {
			return 0, nil, err
		}
	}
	j, err := h.opts.Screener.Start(ctx, p, serving.Task(b.Task))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, j, nil
}

func (h *handler) screeningGet(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	j, err := h.opts.Screener.Get(ctx, p, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, j, nil
}

// screeningCompare answers GET /v1/screenings/{id}/compare/{other}?limit=N: how
// the later screening other differs from id, both of the caller's institution
// (the screener authorizes each; another institution's is unknown).
func (h *handler) screeningCompare(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	var q screencompare.Query
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > screencompare.MaxLimit {
			return 0, nil, fmt.Errorf("%w: limit %q is not a number from 1 to %d", serving.ErrInvalidInput, v, screencompare.MaxLimit)
		}
		q.Limit = n
	}
	c, err := h.opts.Compare.Compare(ctx, p, r.PathValue("id"), r.PathValue("other"), q)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, c, nil
}

// scoreHistory answers GET /v1/companies/{code}/scores: the company's figures as
// of each scored snapshot date, oldest first.
func (h *handler) scoreHistory(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	code := r.PathValue("code")
	pts, err := h.opts.Service.History(ctx, p, code)
	if err != nil {
		return 0, nil, err
	}
	if pts == nil {
		pts = []serving.ScorePoint{}
	}
	return http.StatusOK, map[string]any{"company_code": code, "history": pts}, nil
}

type consentBody struct {
	CompanyCode string    `json:"company_code"`
	BankID      int64     `json:"bank_id"`
	Scope       string    `json:"scope"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func (h *handler) consentGrant(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	data, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	var b consentBody
	if err := decodeBytes(data, &b); err != nil {
		return 0, nil, err
	}
	if b.Scope == "" {
		b.Scope = serving.ConsentScope
	}
	if err := serving.ValidateCompany(b.CompanyCode); err != nil {
		return 0, nil, err
	}
	if b.BankID <= 0 || b.ExpiresAt.IsZero() {
		return 0, nil, fmt.Errorf("%w: bank_id and expires_at (RFC 3339) are required", serving.ErrInvalidInput)
	}
	c, err := h.opts.Consents.GrantConsent(ctx, p, b.CompanyCode, b.BankID, b.Scope, b.ExpiresAt)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, c, nil
}

func (h *handler) consentRevoke(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, fmt.Errorf("%w: consent id %q is not a positive integer", serving.ErrInvalidInput, r.PathValue("id"))
	}
	if err := h.opts.Consents.RevokeConsent(ctx, p, id); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "revoked": true}, nil
}
