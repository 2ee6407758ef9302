// Package httpapi is the HTTP door of objections and credit repair:
//
//	POST /v1/cases/objections      a company disputes one of its records     (Objection)
//	POST /v1/cases/repairs         a company applies to repair a penalty     (Application)
//	GET  /v1/cases?company=CODE    the company's own cases
//	GET  /v1/cases?queue=review    the cases about the caller's department's records
//	GET  /v1/cases?queue=authority the repairs awaiting the credit authority
//	     (each with open=true to keep the open ones, kind=objection|repair, limit=N)
//	GET  /v1/cases/{id}            one case with its steps
//	POST /v1/cases/{id}/withdraw   {"note"}              the company
//	POST /v1/cases/{id}/deadline   {"deadline","note"}   the department
//	POST /v1/cases/{id}/correct    {"values","note"}     the department (objection)
//	POST /v1/cases/{id}/reject     {"reasons"}           the department, or the authority at a repair's second step
//	POST /v1/cases/{id}/approve    {"note"}              the department, then the authority (repair)
//	GET  /v1/cases/disputed?company=CODE   the company's records under objection (异议标注)
//	GET  /v1/cases/rules           the repair rule table in force
//
// Every request is authenticated by API key ("Authorization: Bearer <key>" or
// "X-API-Key") and every decision is the cases package's, through
// internal/access; errors map to statuses in one place (statusOf) and answer in
// the platform's error shape (internal/httperr). Bodies are JSON, at most
// 64 KiB, unknown fields refused.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/httperr"
)

// Authenticator turns an API key into a principal; *access.Store implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (access.Principal, error)
}

// Authorizer authorizes the reading of disputed records; *access.Authorizer
// implements it.
type Authorizer interface {
	Authorize(ctx context.Context, p access.Principal, action access.Action, res access.Resource) error
}

// Options configure the handler. Service, Auth and Authorizer are required.
type Options struct {
	Service    *cases.Service
	Auth       Authenticator
	Authorizer Authorizer
	// Logger receives the detail of 500 answers. Default: none.
	Logger *slog.Logger
}

// maxBody bounds a request body.
const maxBody = 64 << 10

var (
	errNoRoute    = errors.New("httpapi: no such route")
	errBadRequest = errors.New("httpapi: invalid request")
)

type handler struct{ opts Options }

// New returns the handler.
func New(opts Options) (http.Handler, error) {
	if opts.Service == nil || opts.Auth == nil || opts.Authorizer == nil {
		return nil, errors.New("httpapi: Service, Auth and Authorizer are required")
	}
	h := &handler{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/cases/objections", h.object)
	mux.HandleFunc("POST /v1/cases/repairs", h.apply)
	mux.HandleFunc("GET /v1/cases", h.list)
	mux.HandleFunc("GET /v1/cases/disputed", h.disputed)
	mux.HandleFunc("GET /v1/cases/rules", h.rules)
	mux.HandleFunc("GET /v1/cases/{id}", h.get)
	mux.HandleFunc("POST /v1/cases/{id}/{step}", h.step)
	mux.HandleFunc("/v1/cases", func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, errNoRoute) })
	mux.HandleFunc("/v1/cases/", func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, errNoRoute) })
	return mux, nil
}

func apiKey(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if k, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(k)
		}
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

func (h *handler) principal(r *http.Request) (access.Principal, error) {
	return h.opts.Auth.Authenticate(r.Context(), apiKey(r))
}

// decode reads one JSON value of at most maxBody bytes into v, refusing unknown
// fields and trailing data.
func decode(body io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(body, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", errBadRequest, err)
	}
	if dec.InputOffset() > maxBody {
		return fmt.Errorf("%w: body is larger than %d bytes", errBadRequest, maxBody)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: body holds more than one JSON value", errBadRequest)
	}
	return nil
}

// StepRequest is the body of a step on a case; each step reads its own fields.
type StepRequest struct {
	Note     string            `json:"note,omitempty"`
	Reasons  string            `json:"reasons,omitempty"`
	Values   map[string]string `json:"values,omitempty"`
	Deadline string            `json:"deadline,omitempty"` // RFC 3339, or a date (the day's end, China Standard Time)
}

// parseStep checks the step named in the path and the body it needs.
func parseStep(step string, body io.Reader) (StepRequest, time.Time, error) {
	var req StepRequest
	if err := decode(body, &req); err != nil {
		return req, time.Time{}, err
	}
	switch step {
	case "withdraw", "approve":
	case "reject":
		if strings.TrimSpace(req.Reasons) == "" {
			return req, time.Time{}, fmt.Errorf("%w: a rejection gives its reasons", errBadRequest)
		}
	case "correct":
		if len(req.Values) == 0 {
			return req, time.Time{}, fmt.Errorf("%w: a correction gives the corrected values", errBadRequest)
		}
	case "deadline":
		t, err := parseDeadline(req.Deadline)
		return req, t, err
	default:
		return req, time.Time{}, fmt.Errorf("%w: unknown step %q (withdraw, deadline, correct, reject or approve)", errNoRoute, step)
	}
	return req, time.Time{}, nil
}

var cst = time.FixedZone("CST", 8*3600)

func parseDeadline(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, cst); err == nil {
		return t.AddDate(0, 0, 1).Add(-time.Second), nil
	}
	return time.Time{}, fmt.Errorf("%w: deadline %q is neither RFC 3339 nor YYYY-MM-DD", errBadRequest, s)
}

// parseID reads a case id from the path.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: case id %q is not a positive integer", errBadRequest, s)
	}
	return id, nil
}

// parseList reads the query of GET /v1/cases.
func parseList(q url.Values) (cases.ListRequest, error) {
	for k := range q {
		switch k {
		case "company", "queue", "open", "kind", "limit":
		default:
			return cases.ListRequest{}, fmt.Errorf("%w: unknown parameter %q", errBadRequest, k)
		}
	}
	r := cases.ListRequest{Company: q.Get("company"), Queue: cases.Queue(q.Get("queue"))}
	if r.Queue != "" && r.Queue != cases.QueueReview && r.Queue != cases.QueueAuthority {
		return r, fmt.Errorf("%w: queue %q (want review or authority)", errBadRequest, r.Queue)
	}
	if s := q.Get("open"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return r, fmt.Errorf("%w: open %q is not true or false", errBadRequest, s)
		}
		r.Open = b
	}
	if s := q.Get("kind"); s != "" {
		k, err := cases.ParseKind(s)
		if err != nil {
			return r, err
		}
		r.Kind = k
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return r, fmt.Errorf("%w: limit %q is not between 1 and 1000", errBadRequest, s)
		}
		r.Limit = n
	}
	return r, nil
}

func (h *handler) object(w http.ResponseWriter, r *http.Request) {
	p, err := h.principal(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var o cases.Objection
	if err := decode(r.Body, &o); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.opts.Service.Object(r.Context(), p, o)
	h.answer(w, r, http.StatusCreated, c, err)
}

func (h *handler) apply(w http.ResponseWriter, r *http.Request) {
	p, err := h.principal(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var a cases.Application
	if err := decode(r.Body, &a); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.opts.Service.Apply(r.Context(), p, a)
	h.answer(w, r, http.StatusCreated, c, err)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	p, err := h.principal(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req, err := parseList(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cs, err := h.opts.Service.List(r.Context(), p, req)
	if cs == nil {
		cs = []*cases.Case{}
	}
	h.answer(w, r, http.StatusOK, map[string]any{"cases": cs}, err)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	p, err := h.principal(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.opts.Service.Get(r.Context(), p, id)
	h.answer(w, r, http.StatusOK, c, err)
}

func (h *handler) step(w http.ResponseWriter, r *http.Request) {
	p, err := h.principal(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	step := r.PathValue("step")
	req, deadline, err := parseStep(step, r.Body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, svc := r.Context(), h.opts.Service
	var c *cases.Case
	switch step {
	case "withdraw":
		c, err = svc.Withdraw(ctx, p, id, req.Note)
	case "deadline":
		c, err = svc.SetDeadline(ctx, p, id, deadline, req.Note)
	case "correct":
		c, err = svc.Correct(ctx, p, id, req.Values, req.Note)
	case "reject":
		c, err = svc.Reject(ctx, p, id, req.Reasons)
	case "approve":
		c, err = svc.Approve(ctx, p, id, req.Note)
	}
	h.answer(w, r, http.StatusOK, c, err)
}

// disputed answers the company itself, or whoever may see its credit profile
// (a regulator; a bank with the company's consent).
func (h *handler) disputed(w http.ResponseWriter, r *http.Request) {
	p, err := h.principal(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	code := r.URL.Query().Get("company")
	if code == "" {
		h.fail(w, r, fmt.Errorf("%w: name the company (company=CODE)", errBadRequest))
		return
	}
	res := access.Resource{Kind: "company", ID: code, Operation: "case.disputed"}
	action := access.ActionAssess
	if _, derr := access.Decide(p, access.ActionActForCompany, res); derr == nil {
		action = access.ActionActForCompany
	}
	if err := h.opts.Authorizer.Authorize(r.Context(), p, action, res); err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.opts.Service.Disputed(r.Context(), code)
	h.answer(w, r, http.StatusOK, map[string]any{"company": code, "disputed": d}, err)
}

func (h *handler) rules(w http.ResponseWriter, r *http.Request) {
	if _, err := h.principal(r); err != nil {
		h.fail(w, r, err)
		return
	}
	h.answer(w, r, http.StatusOK, h.opts.Service.Rules(), nil)
}

func (h *handler) answer(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// statusOf is the one mapping of errors to HTTP statuses and codes.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, access.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, "no_route"
	case errors.Is(err, cases.ErrNotFound):
		return http.StatusNotFound, "unknown_case"
	case errors.Is(err, cases.ErrUnknownRecord):
		return http.StatusNotFound, "unknown_record"
	case errors.Is(err, access.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, cases.ErrNotOwnRecord):
		return http.StatusForbidden, "not_own_record"
	case errors.Is(err, cases.ErrSamePerson):
		return http.StatusForbidden, "same_person"
	case errors.Is(err, access.ErrNotBound):
		return http.StatusForbidden, "not_bound"
	case errors.Is(err, access.ErrConsentRequired):
		return http.StatusForbidden, "consent_required"
	case errors.Is(err, access.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, cases.ErrState):
		return http.StatusConflict, "case_state"
	case errors.Is(err, cases.ErrPeriod):
		return http.StatusUnprocessableEntity, "repair_period"
	case errors.Is(err, cases.ErrNotRepairable):
		return http.StatusUnprocessableEntity, "not_repairable"
	case errors.Is(err, cases.ErrInvalid), errors.Is(err, access.ErrInvalid), errors.Is(err, errBadRequest):
		return http.StatusBadRequest, "invalid_input"
	}
	return http.StatusInternalServerError, "internal"
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		if h.opts.Logger != nil {
			h.opts.Logger.Error("cases request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		msg = "internal error"
	}
	httperr.Write(w, status, httperr.Error{Code: code, Message: msg})
}
