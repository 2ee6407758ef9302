// Package httpapi is serving's HTTP/JSON surface: credit assessments
// (POST /v1/assessments and its batch form), screening jobs and the comparison of two
// (GET /v1/screenings/{id}/compare/{other}), inspection plans drawn
// from them with their results and hit rates (inspection.go), and the Open Inference
// Protocol v2 REST endpoints (/v2/...). It authenticates API keys, applies per-key rate
// limits, request size limits and deadlines, and maps every error to a status code in
// one place (statusOf). Errors have the platform's one JSON shape (internal/httperr):
// {"error":{"code":"...","message":"..."}}; a 503 carries Retry-After. An inference
// request must be sent as application/json (415 otherwise), and each input's data
// must match its shape exactly, flat or fully nested (400 naming where it does not).
//
// Every request has an id (internal/reqid): the caller's X-Request-Id when it is a
// sane token, a fresh one otherwise, echoed in the X-Request-Id header, named as
// request_id in an error answer and in every log line about the request. GET /metrics
// serves the Prometheus metrics (serving.Metrics). Under a server span (one
// internal/telemetry's Handler starts around the process's mux) a route renames the
// span after its pattern, and an assessment's steps are its child spans.
//
//	h, err := httpapi.New(httpapi.Options{Service: svc, OIP: oip.New(models, oip.Options{}), Authorizer: auth})
//	http.ListenAndServe(":8080", h)
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/xinyi-platform/xinyi/internal/httperr"
	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/inspection"
	"github.com/xinyi-platform/xinyi/serving/modeldrift"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
	"github.com/xinyi-platform/xinyi/serving/scores"
	"github.com/xinyi-platform/xinyi/serving/screencompare"
)

// Options configure the handler. Service, OIP and Authorizer are required.
type Options struct {
	Service    *serving.Service
	OIP        *oip.Server
	Authorizer serving.Authorizer
	// Consents records and revokes consent grants; nil disables /v1/consents.
	Consents serving.ConsentManager
	// Screener runs screening jobs; nil disables /v1/screenings.
	Screener *serving.Screener
	// Compare answers GET /v1/screenings/{id}/compare/{other}: how screening
	// other differs from the earlier screening id (nil: off).
	Compare *screencompare.Comparer
	// Inspections draws inspection plans from screenings and records their
	// results; nil disables /v1/screenings/{id}/plans, /v1/plans and
	// /v1/inspections.
	Inspections *inspection.Service
	// RiskIndex answers GET /v1/risk-index (nil: off).
	RiskIndex *riskindex.Cache
	// Drift answers GET /v1/score-drift: how far each model's figures have moved
	// from its first scored date (serving/scores.Drift; nil: off).
	Drift func(ctx context.Context) ([]scores.DriftPoint, error)
	// Movers answers GET /v1/risk-index/movers: the companies that moved most
	// between two scored dates (riskindex.FindMovers; nil: off).
	Movers func(ctx context.Context, f riskindex.MoverFilter) (*riskindex.Movers, error)
	// ModelDrift answers GET /v1/model-drift: the score and indicator drift of
	// the models in production against their training samples
	// (serving/modeldrift; nil: off).
	ModelDrift func(ctx context.Context) (*modeldrift.Report, error)
	// Circles answers GET /v1/topics/guarantee-circles: the region's guarantee
	// circles ranked by risk or exposure (riskindex.Circles; nil: off).
	Circles *riskindex.Circles
	// SmallFirms answers GET /v1/topics/small-firms: clusters of small firms by
	// district × industry with their risk (nil: off).
	SmallFirms *riskindex.SmallFirmTopic
	// Limiter limits requests per API key; nil means no limit.
	Limiter serving.Limiter
	// Metrics records request latencies; nil means none.
	Metrics *serving.Metrics
	// MaxBodyBytes caps a request body. Default 1 MiB.
	MaxBodyBytes int64
	// Timeout is each request's deadline. Default 2 s.
	Timeout time.Duration
	// Logger receives server-side errors, each line with its request's request_id
	// (and trace_id while traced). Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

type handler struct {
	opts Options
	mux  *http.ServeMux
}

// New returns the HTTP handler.
func New(opts Options) (http.Handler, error) {
	opts.EnsureDefaults()
	if opts.Service == nil || opts.OIP == nil || opts.Authorizer == nil {
		return nil, fmt.Errorf("%w: httpapi needs a service, an OIP server and an authorizer", serving.ErrInvalidInput)
	}
	opts.Logger = reqid.Logger(opts.Logger)
	h := &handler{opts: opts, mux: http.NewServeMux()}
	h.route("POST /v1/assessments", "assess", h.authed(h.assess))
	h.route("POST /v1/assessments/batch", "assess_batch", h.authed(h.assessBatch))
	if opts.Consents != nil {
		h.route("POST /v1/consents", "consent_grant", h.authed(h.consentGrant))
		h.route("DELETE /v1/consents/{id}", "consent_revoke", h.authed(h.consentRevoke))
	}
	if opts.Screener != nil {
		h.route("POST /v1/screenings", "screening_start", h.authed(h.screeningStart))
		h.route("GET /v1/screenings/{id}", "screening_get", h.authed(h.screeningGet))
	}
	if opts.Compare != nil {
		h.route("GET /v1/screenings/{id}/compare/{other}", "screening_compare", h.authed(h.screeningCompare))
	}
	if opts.RiskIndex != nil {
		h.route("GET /v1/risk-index", "risk_index", h.authed(h.riskIndex))
	}
	if opts.ModelDrift != nil {
		h.route("GET /v1/model-drift", "model_drift", h.authed(h.modelDrift))
	}
	if opts.Circles != nil {
		h.route("GET /v1/topics/guarantee-circles", "topic_circles", h.authed(h.circles))
	}
	if opts.SmallFirms != nil {
		h.route("GET /v1/topics/small-firms", "topic_small_firms", h.authed(h.smallFirms))
	}
	if opts.Movers != nil {
		h.route("GET /v1/risk-index/movers", "risk_movers", h.authed(h.movers))
	}
	if opts.Drift != nil {
		h.route("GET /v1/score-drift", "score_drift", h.authed(h.scoreDrift))
	}
	if opts.Inspections != nil {
		h.inspectionRoutes()
	}
	h.route("GET /v1/companies/{code}/scores", "score_history", h.authed(h.scoreHistory))
	h.route("GET /v2/health/live", "live", h.live)
	h.route("GET /v2/health/ready", "ready", h.ready)
	h.route("GET /v2", "server_metadata", h.serverMetadata)
	h.route("GET /v2/models/{name}", "model_metadata", h.authed(h.modelMetadata))
	h.route("GET /v2/models/{name}/versions/{version}", "model_metadata", h.authed(h.modelMetadata))
	h.route("GET /v2/models/{name}/ready", "model_ready", h.authed(h.modelReady))
	h.route("GET /v2/models/{name}/versions/{version}/ready", "model_ready", h.authed(h.modelReady))
	h.route("POST /v2/models/{name}/infer", "infer", h.authed(h.infer))
	h.route("POST /v2/models/{name}/versions/{version}/infer", "infer", h.authed(h.infer))
	if opts.Metrics != nil {
		h.mux.Handle("GET /metrics", opts.Metrics)
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: no endpoint %s %s", errNoRoute, r.Method, r.URL.Path))
	})
	return reqid.Middleware(h.mux), nil
}

var (
	errNoRoute      = errors.New("httpapi: not found")
	errBodyTooLarge = errors.New("httpapi: request body too large")
	errMediaType    = errors.New("httpapi: unsupported media type")
)

// handlerFunc handles an authenticated request and returns the value to encode.
type handlerFunc func(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error)

// route registers a handler with a deadline and metrics; a recording server span
// takes the pattern as its name and route.
func (h *handler) route(pattern, name string, fn http.HandlerFunc) {
	_, path, _ := strings.Cut(pattern, " ")
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if sp := trace.SpanFromContext(r.Context()); sp.IsRecording() {
			sp.SetName(pattern)
			sp.SetAttributes(attribute.String("http.route", path))
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		defer cancel()
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		fn(sw, r.WithContext(ctx))
		if h.opts.Metrics != nil {
			h.opts.Metrics.ObserveRequest("http", name, sw.status, time.Since(start))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// apiKey reads "Authorization: Bearer <key>" or "X-API-Key: <key>".
func apiKey(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if k, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(k)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// principal authenticates the request's API key and takes one request from the
// key's rate limit; on a refusal it writes the error and reports false.
func (h *handler) principal(w http.ResponseWriter, r *http.Request) (serving.Principal, bool) {
	key := apiKey(r)
	if key == "" {
		h.fail(w, r, fmt.Errorf("%w: send the API key as \"Authorization: Bearer <key>\"", serving.ErrUnauthenticated))
		return serving.Principal{}, false
	}
	p, err := h.opts.Authorizer.Authenticate(r.Context(), key)
	if err != nil {
		h.fail(w, r, err)
		return serving.Principal{}, false
	}
	if h.opts.Limiter != nil && !h.opts.Limiter.Allow(r.Context(), p.Institution+"/"+p.KeyID) {
		w.Header().Set("Retry-After", "1")
		h.fail(w, r, fmt.Errorf("%w: key %s", serving.ErrRateLimited, p.KeyID))
		return serving.Principal{}, false
	}
	return p, true
}

// authed authenticates, rate-limits and runs fn, writing its result or error.
func (h *handler) authed(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.principal(w, r)
		if !ok {
			return
		}
		status, v, err := fn(r.Context(), p, r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, status, v)
	}
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, e := errorOf(err)
	if status >= 500 {
		h.opts.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	httperr.Write(w, status, e)
}

// statusOf maps an error to its HTTP status and a stable code: the one place errors
// become statuses.
func statusOf(err error) (int, string) {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr), errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, "body_too_large"
	case errors.Is(err, serving.ErrInvalidCompanyCode):
		return http.StatusBadRequest, "invalid_company_code"
	case errors.Is(err, serving.ErrInvalidInput), errors.Is(err, policy.ErrInvalid):
		return http.StatusBadRequest, "invalid_input"
	case errors.Is(err, serving.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, serving.ErrConsentRequired):
		return http.StatusForbidden, "consent_required"
	case errors.Is(err, serving.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, serving.ErrUnknownCompany):
		return http.StatusNotFound, "unknown_company"
	case errors.Is(err, serving.ErrUnknownModel):
		return http.StatusNotFound, "unknown_model"
	case errors.Is(err, serving.ErrUnknownJob):
		return http.StatusNotFound, "unknown_job"
	case errors.Is(err, serving.ErrUnknownConsent):
		return http.StatusNotFound, "unknown_consent"
	case errors.Is(err, serving.ErrUnknownInstitution):
		return http.StatusNotFound, "unknown_institution"
	case errors.Is(err, inspection.ErrUnknownPlan):
		return http.StatusNotFound, "unknown_plan"
	case errors.Is(err, inspection.ErrUnknownScreening):
		return http.StatusNotFound, "unknown_screening"
	case errors.Is(err, inspection.ErrScreeningNotDone), errors.Is(err, screencompare.ErrNotDone):
		return http.StatusConflict, "screening_not_done"
	case errors.Is(err, inspection.ErrAlreadyRecorded):
		return http.StatusConflict, "already_recorded"
	case errors.Is(err, inspection.ErrNotInPlan):
		return http.StatusUnprocessableEntity, "not_in_plan"
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType, "unsupported_media_type"
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, serving.ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "deadline_exceeded"
	case errors.Is(err, serving.ErrNotReady), errors.Is(err, serving.ErrUnavailable), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

// errorOf is the answer for err: its status and what the body says. A 500's
// details are logged, not sent.
func errorOf(err error) (int, httperr.Error) {
	status, code := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	return status, httperr.Error{Code: code, Message: msg}
}

func writeError(w http.ResponseWriter, err error) {
	status, e := errorOf(err)
	httperr.Write(w, status, e)
}

// bodies holds the buffers answers are encoded into.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer returned to bodies.
const maxPooledBody = 64 << 10

// writeJSON encodes v into a pooled buffer, then sends it in one write with its
// Content-Length. A value that cannot be encoded (a NaN) is a 500, not a
// truncated 200.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = nosniff
	if v == nil {
		w.WriteHeader(status)
		return
	}
	buf := bodies.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			bodies.Put(buf)
		}
	}()
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		_ = enc.Encode(httperr.Body{Error: httperr.Error{Code: "internal", Message: "internal error"}})
	}
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // the client may have gone; nothing to do
}

// Header values shared by every answer (net/http only reads them).
var (
	jsonContentType = []string{"application/json"}
	nosniff         = []string{"nosniff"}
)
