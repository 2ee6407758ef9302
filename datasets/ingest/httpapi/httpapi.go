// Package httpapi is the HTTP door of department deliveries:
//
//	POST /v1/ingest/{source}           the body is one file, streamed into ingest
//	GET  /v1/ingest/{source}/batches   the source's committed batches (reports)
//
// Every request is authenticated by API key ("Authorization: Bearer <key>") and
// authorized by internal/access (ActionIngest, ActionReadIngest): a department's
// users reach only the sources their department owns. Every batch attempt, taken,
// repeated or refused, is recorded in the audit log with who sent it, the source,
// the digest and the rows accepted and rejected.
//
// Query parameters of POST: batch_id, max_bad, format, encoding and name (the file
// name quoted in reports). The Content-Type may name the format (text/csv,
// text/tab-separated-values, application/x-ndjson, application/vnd.apache.parquet,
// the .xlsx type) and its charset the encoding (utf-8, gbk, gb18030).
//
// Answers: 201 with the report for a new batch, 200 for a repeated one, 422 with
// the report for a batch refused for its bad rows, and the platform's error shape
// (internal/httperr) otherwise.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/httperr"
)

// Authenticator turns an API key into a principal; *access.Store implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (access.Principal, error)
}

// Authorizer decides and audits refusals; *access.Authorizer implements it.
type Authorizer interface {
	Authorize(ctx context.Context, p access.Principal, action access.Action, res access.Resource) error
}

// Auditor records batches; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Record, error)
}

// Options configure the handler. Ingester, Store, Auth, Authorizer, Audit and
// Owner are required.
type Options struct {
	Ingester   *ingest.Ingester
	Store      blob.Store
	Auth       Authenticator
	Authorizer Authorizer
	Audit      Auditor
	// Owner returns the institution that owns a source (0: none, so only platform
	// administrators may deliver it).
	Owner func(ctx context.Context, source string) (int64, error)
	// MaxBodyBytes bounds one upload. Default 4 GiB.
	MaxBodyBytes int64
	// Ingest holds the defaults of every batch (limits, MaxBad, TempDir, clock).
	Ingest ingest.Options
	// Logger receives the detail of 500 answers. Default: none.
	Logger *slog.Logger
}

var (
	errNoRoute       = errors.New("httpapi: no such route")
	errUnknownSource = errors.New("httpapi: unknown source")
	errBadQuery      = errors.New("httpapi: invalid query")
)

type handler struct{ opts Options }

// New returns the handler.
func New(opts Options) (http.Handler, error) {
	if opts.Ingester == nil || opts.Store == nil || opts.Auth == nil || opts.Authorizer == nil || opts.Audit == nil || opts.Owner == nil {
		return nil, errors.New("httpapi: Ingester, Store, Auth, Authorizer, Audit and Owner are required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 30
	}
	h := &handler{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/ingest/{source}", h.post)
	mux.HandleFunc("GET /v1/ingest/{source}/batches", h.batches)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, errNoRoute) })
	return mux, nil
}

// principal authenticates the request and authorizes action on the source.
func (h *handler) principal(r *http.Request, action access.Action) (access.Principal, string, error) {
	source := r.PathValue("source")
	key := ""
	if a := r.Header.Get("Authorization"); a != "" {
		key, _ = strings.CutPrefix(a, "Bearer ")
	}
	p, err := h.opts.Auth.Authenticate(r.Context(), key)
	if err != nil {
		return p, source, err
	}
	if _, err := datasets.ContractOf(source); err != nil {
		return p, source, fmt.Errorf("%w: %q (the department sources are those of datasets.Contracts)", errUnknownSource, source)
	}
	owner, err := h.opts.Owner(r.Context(), source)
	if err != nil {
		return p, source, err
	}
	res := access.Resource{Kind: "source", ID: source, Owner: owner}
	return p, source, h.opts.Authorizer.Authorize(r.Context(), p, action, res)
}

func (h *handler) post(w http.ResponseWriter, r *http.Request) {
	p, source, err := h.principal(r, access.ActionIngest)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	opts := h.opts.Ingest
	q := r.URL.Query()
	opts.BatchID = q.Get("batch_id")
	if s := q.Get("max_bad"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > 1 {
			h.fail(w, r, fmt.Errorf("%w: max_bad %q is not a share between 0 and 1", errBadQuery, s))
			return
		}
		if v == 0 {
			v = -1 // none allowed
		}
		opts.MaxBad = v
	}
	opts.Format, opts.Encoding = q.Get("format"), q.Get("encoding")
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
		if opts.Format == "" {
			opts.Format = formatOf[mt]
		}
		if opts.Encoding == "" {
			opts.Encoding = params["charset"]
		}
	}
	name := q.Get("name")
	if name == "" {
		name = "upload"
	}
	body := http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
	rep, ingestErr := h.opts.Ingester.Ingest(r.Context(), source, []ingest.Input{{Name: name, R: body}}, opts)
	// Every attempt is recorded, whatever its outcome.
	e := audit.Entry{Actor: p.Actor(), Action: string(access.ActionIngest), Subject: "source:" + source, Outcome: audit.OutcomeOK}
	if rep != nil {
		e.After = map[string]any{"batch": rep.ID, "digest": rep.Digest, "rows": rep.Rows, "accepted": rep.Accepted,
			"rejected": rep.Rejected, "corrected": rep.Corrected, "repeated": rep.Repeated}
	}
	if ingestErr != nil {
		e.Outcome, e.Reason = audit.OutcomeRefused, ingestErr.Error()
	}
	if _, err := h.opts.Audit.Append(context.WithoutCancel(r.Context()), e); err != nil {
		h.fail(w, r, fmt.Errorf("%w: audit: %v", blob.ErrUnavailable, err))
		return
	}
	switch {
	case errors.Is(ingestErr, ingest.ErrRefused):
		httperr.JSON(w, http.StatusUnprocessableEntity, rep)
	case ingestErr != nil:
		h.fail(w, r, ingestErr)
	case rep.Repeated:
		httperr.JSON(w, http.StatusOK, rep)
	default:
		httperr.JSON(w, http.StatusCreated, rep)
	}
}

var formatOf = map[string]string{
	"text/csv":                       ingest.FormatCSV,
	"text/tab-separated-values":      ingest.FormatCSV,
	"application/x-ndjson":           ingest.FormatJSONL,
	"application/jsonl":              ingest.FormatJSONL,
	"application/vnd.apache.parquet": ingest.FormatParquet,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ingest.FormatXLSX,
}

func (h *handler) batches(w http.ResponseWriter, r *http.Request) {
	_, source, err := h.principal(r, access.ActionReadIngest)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	reps, err := ingest.History(r.Context(), h.opts.Store, source)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if reps == nil {
		reps = []*ingest.Report{}
	}
	httperr.JSON(w, http.StatusOK, map[string]any{"source": source, "batches": reps})
}

// statusOf maps an error to its status and code: the one mapping of this transport.
func statusOf(err error) (int, string) {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return http.StatusRequestEntityTooLarge, "body_too_large"
	case errors.Is(err, access.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, access.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, errUnknownSource):
		return http.StatusNotFound, "unknown_source"
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ingest.ErrEncoding):
		return http.StatusBadRequest, "wrong_encoding"
	case errors.Is(err, ingest.ErrFormat):
		return http.StatusBadRequest, "malformed_file"
	case errors.Is(err, ingest.ErrInvalidOptions), errors.Is(err, errBadQuery):
		return http.StatusBadRequest, "invalid_input"
	case errors.Is(err, blob.ErrUnavailable), errors.Is(err, access.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		if h.opts.Logger != nil {
			h.opts.Logger.Error("ingest request failed", "path", r.URL.Path, "err", err)
		}
		msg = "internal error"
	}
	httperr.Write(w, status, httperr.Error{Code: code, Message: msg})
}

// OwnersByName returns an Owner function over an access store: sources maps a
// source to the name of the department institution that owns it.
func OwnersByName(store interface {
	InstitutionByName(ctx context.Context, name string) (access.Institution, error)
}, sources map[string]string) func(ctx context.Context, source string) (int64, error) {
	return func(ctx context.Context, source string) (int64, error) {
		name, ok := sources[source]
		if !ok {
			return 0, nil
		}
		inst, err := store.InstitutionByName(ctx, name)
		if errors.Is(err, access.ErrNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		return inst.ID, nil
	}
}
