// Package httpapi is the HTTP door of the financing loop, under /v1/financing/:
//
//	company (its own account, bound to the company):
//	  POST /v1/financing/requests                      RequestInput → 201 Request
//	  GET  /v1/financing/companies/{code}/requests     its requests, answers and pre-credit offers
//	  GET  /v1/financing/companies/{code}/loans        its loans, from every bank
//	  POST /v1/financing/requests/{id}/withdraw        → 204
//	  POST /v1/financing/offers/{id}/accept            → 201 Loan (410 when expired)
//	  POST /v1/financing/offers/{id}/decline           → 204
//	bank (bank role; approver for approvals):
//	  GET  /v1/financing/products                      POST ProductInput → 201 {product, proposal}
//	  PATCH /v1/financing/products/{id}                ProductChange → {product, proposal}
//	  POST /v1/financing/proposals/{id}/approve        → Product (a second person)
//	  GET  /v1/financing/inbox                         matching requests with assessments
//	  POST /v1/financing/requests/{id}/offers          OfferInput → 201 Offer
//	  POST /v1/financing/requests/{id}/decline         {"reasons": [...]} → 204
//	  POST /v1/financing/products/{id}/precredit       {"codes": [...]} → pushed offers
//	  GET  /v1/financing/offers                        the bank's offers
//	  GET  /v1/financing/loans, /v1/financing/loans/{id}
//	  POST /v1/financing/loans/{id}/disburse           {"date": "2027-01-15"}
//	  POST /v1/financing/loans/{id}/loss               {"amount": 400000}
//	  POST /v1/financing/repayments                    JSON [Repayment] or the bank's own file (CSV, …) → ingest report
//	  POST /v1/financing/labels                        builds the bank's outcome label files
//	guarantee institution (guarantor role):
//	  PUT  /v1/financing/guarantor/policy              GuarantorPolicy
//	  POST /v1/financing/guarantor/batches             {"loans": [...]}
//	  GET  /v1/financing/guarantor/loans
//	regulator (regulator role):
//	  GET  /v1/financing/stats?from=&to=&by=&format=csv
//	  POST /v1/financing/support-lists                 {"name": "培育池", "codes": [...]}
//	everyone signed in:
//	  GET  /v1/financing/decline-reasons
//
// Every request is authenticated by API key ("Authorization: Bearer <key>"); every
// decision is the financing package's, which asks internal/access and audits.
// JSON bodies are bounded (Options.MaxJSONBytes), must hold one value and no
// unknown fields. Errors use the platform's shape (internal/httperr) with one
// mapping (statusOf).
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/httperr"
)

// Authenticator turns an API key into a principal; *access.Store implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (access.Principal, error)
}

// Options configure the handler. Store and Auth are required.
type Options struct {
	Store *financing.Store
	Auth  Authenticator
	// MaxJSONBytes bounds a JSON body. Default 1 MiB.
	MaxJSONBytes int64
	// MaxFileBytes bounds an uploaded repayment file. Default 256 MiB.
	MaxFileBytes int64
	// Logger receives the detail of 500 answers. Default: none.
	Logger *slog.Logger
}

var (
	errNoRoute = errors.New("httpapi: no such route")
	errBadBody = errors.New("httpapi: invalid body")
)

type handler struct{ opts Options }

type route func(w http.ResponseWriter, r *http.Request, p access.Principal) error

// New returns the handler.
func New(opts Options) (http.Handler, error) {
	if opts.Store == nil || opts.Auth == nil {
		return nil, errors.New("httpapi: Store and Auth are required")
	}
	if opts.MaxJSONBytes <= 0 {
		opts.MaxJSONBytes = 1 << 20
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 256 << 20
	}
	h := &handler{opts: opts}
	mux := http.NewServeMux()
	for pattern, fn := range map[string]route{
		"POST /v1/financing/requests":                 h.postRequest,
		"GET /v1/financing/companies/{code}/requests": h.companyRequests,
		"POST /v1/financing/requests/{id}/withdraw":   h.withdraw,
		"GET /v1/financing/companies/{code}/loans":    h.companyLoans,
		"POST /v1/financing/offers/{id}/accept":       h.accept,
		"POST /v1/financing/offers/{id}/decline":      h.declineOffer,
		"GET /v1/financing/products":                  h.products,
		"POST /v1/financing/products":                 h.createProduct,
		"PATCH /v1/financing/products/{id}":           h.changeProduct,
		"POST /v1/financing/proposals/{id}/approve":   h.approve,
		"GET /v1/financing/inbox":                     h.inbox,
		"POST /v1/financing/requests/{id}/offers":     h.offer,
		"POST /v1/financing/requests/{id}/decline":    h.decline,
		"POST /v1/financing/products/{id}/precredit":  h.precredit,
		"GET /v1/financing/offers":                    h.offers,
		"GET /v1/financing/loans":                     h.loans,
		"GET /v1/financing/loans/{id}":                h.loan,
		"POST /v1/financing/loans/{id}/disburse":      h.disburse,
		"POST /v1/financing/loans/{id}/loss":          h.loss,
		"POST /v1/financing/repayments":               h.repayments,
		"POST /v1/financing/labels":                   h.labels,
		"PUT /v1/financing/guarantor/policy":          h.guarantorPolicy,
		"POST /v1/financing/guarantor/batches":        h.guarantee,
		"GET /v1/financing/guarantor/loans":           h.guarantorLoans,
		"GET /v1/financing/stats":                     h.stats,
		"POST /v1/financing/support-lists":            h.supportList,
		"GET /v1/financing/decline-reasons":           h.reasons,
	} {
		mux.HandleFunc(pattern, h.wrap(fn))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, errNoRoute) })
	return mux, nil
}

func (h *handler) wrap(fn route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := ""
		if a := r.Header.Get("Authorization"); a != "" {
			key, _ = strings.CutPrefix(a, "Bearer ")
		}
		p, err := h.opts.Auth.Authenticate(r.Context(), key)
		if err == nil {
			err = fn(w, r, p)
		}
		if err != nil {
			h.fail(w, r, err)
		}
	}
}

// DecodeJSON reads one JSON value of v's type from r, at most max bytes, with no
// unknown fields and nothing after it.
func DecodeJSON(r io.Reader, max int64, v any) error {
	lr := &io.LimitedReader{R: r, N: max + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("%w: body larger than %d bytes", errBadBody, max)
		}
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if lr.N <= 0 {
			return fmt.Errorf("%w: body larger than %d bytes", errBadBody, max)
		}
		return fmt.Errorf("%w: more than one JSON value", errBadBody)
	}
	return nil
}

func (h *handler) decode(r *http.Request, v any) error {
	return DecodeJSON(r.Body, h.opts.MaxJSONBytes, v)
}

// ParseID parses a positive id from a path.
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: id %q is not a positive integer", errBadBody, s)
	}
	return id, nil
}

func pathID(r *http.Request) (int64, error) { return ParseID(r.PathValue("id")) }

func (h *handler) postRequest(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in financing.RequestInput
	if err := h.decode(r, &in); err != nil {
		return err
	}
	req, err := h.opts.Store.PostRequest(r.Context(), p, in)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusCreated, req)
	return nil
}

func (h *handler) companyRequests(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	reqs, err := h.opts.Store.CompanyRequests(r.Context(), p, r.PathValue("code"))
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, map[string]any{"requests": nonNil(reqs)})
	return nil
}

func (h *handler) companyLoans(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	ls, err := h.opts.Store.CompanyLoans(r.Context(), p, r.PathValue("code"))
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, map[string]any{"loans": nonNil(ls)})
	return nil
}

func (h *handler) withdraw(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := h.opts.Store.WithdrawRequest(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) accept(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l, err := h.opts.Store.AcceptOffer(r.Context(), p, id)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusCreated, l)
	return nil
}

func (h *handler) declineOffer(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := h.opts.Store.DeclineOffer(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) products(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	ps, err := h.opts.Store.Products(r.Context(), p)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, map[string]any{"products": nonNil(ps)})
	return nil
}

func (h *handler) createProduct(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in financing.ProductInput
	if err := h.decode(r, &in); err != nil {
		return err
	}
	pr, prop, err := h.opts.Store.CreateProduct(r.Context(), p, in)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusCreated, map[string]any{"product": pr, "proposal": prop})
	return nil
}

func (h *handler) changeProduct(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var c financing.ProductChange
	if err := h.decode(r, &c); err != nil {
		return err
	}
	pr, prop, err := h.opts.Store.ChangeProduct(r.Context(), p, id, c)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if prop != nil {
		status = http.StatusAccepted
	}
	httperr.JSON(w, status, map[string]any{"product": pr, "proposal": prop})
	return nil
}

func (h *handler) approve(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	pr, err := h.opts.Store.ApproveProposal(r.Context(), p, id)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, pr)
	return nil
}

func (h *handler) inbox(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	items, err := h.opts.Store.Inbox(r.Context(), p)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, map[string]any{"items": nonNil(items)})
	return nil
}

func (h *handler) offer(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in financing.OfferInput
	if err := h.decode(r, &in); err != nil {
		return err
	}
	o, err := h.opts.Store.MakeOffer(r.Context(), p, id, in)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusCreated, o)
	return nil
}

// DeclineBody is the body of a decline.
type DeclineBody struct {
	Reasons []string `json:"reasons"`
}

func (h *handler) decline(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in DeclineBody
	if err := h.decode(r, &in); err != nil {
		return err
	}
	if err := h.opts.Store.Decline(r.Context(), p, id, in.Reasons); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// CodesBody is a list of company codes.
type CodesBody struct {
	Name  string   `json:"name,omitempty"`
	Codes []string `json:"codes"`
}

func (h *handler) precredit(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in CodesBody
	if err := h.decode(r, &in); err != nil {
		return err
	}
	res, err := h.opts.Store.PushPreCredit(r.Context(), p, id, in.Codes)
	if err != nil {
		return err
	}
	res.Offers, res.Ineligible, res.NoConsent = nonNil(res.Offers), nonNil(res.Ineligible), nonNil(res.NoConsent)
	httperr.JSON(w, http.StatusOK, res)
	return nil
}

func (h *handler) offers(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	os, err := h.opts.Store.BankOffers(r.Context(), p)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, map[string]any{"offers": nonNil(os)})
	return nil
}

func (h *handler) loans(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	ls, err := h.opts.Store.Loans(r.Context(), p)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, map[string]any{"loans": nonNil(ls)})
	return nil
}

func (h *handler) loan(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l, err := h.opts.Store.Loan(r.Context(), p, id)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, l)
	return nil
}

// DisburseBody is the body of a disbursement.
type DisburseBody struct {
	Date string `json:"date"` // YYYY-MM-DD
}

func (h *handler) disburse(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in DisburseBody
	if err := h.decode(r, &in); err != nil {
		return err
	}
	at, err := time.Parse(time.DateOnly, in.Date)
	if err != nil {
		return fmt.Errorf("%w: date %q is not YYYY-MM-DD", errBadBody, in.Date)
	}
	l, err := h.opts.Store.Disburse(r.Context(), p, id, at)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, l)
	return nil
}

// LossBody is the body of a loss.
type LossBody struct {
	Amount float64 `json:"amount"`
}

func (h *handler) loss(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in LossBody
	if err := h.decode(r, &in); err != nil {
		return err
	}
	l, err := h.opts.Store.RecordLoss(r.Context(), p, id, in.Amount)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, l)
	return nil
}

func (h *handler) repayments(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var rep *ingest.Report
	var err error
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var rows []financing.Repayment
		if err := h.decode(r, &rows); err != nil {
			return err
		}
		rep, err = h.opts.Store.RecordRepayments(r.Context(), p, rows)
	} else {
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "repayments.csv"
		}
		rep, err = h.opts.Store.UploadRepayments(r.Context(), p, name, http.MaxBytesReader(w, r.Body, h.opts.MaxFileBytes))
	}
	if errors.Is(err, ingest.ErrRefused) && rep != nil {
		httperr.JSON(w, http.StatusUnprocessableEntity, rep)
		return nil
	}
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusCreated, rep)
	return nil
}

func (h *handler) labels(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	lf, err := h.opts.Store.BuildLabels(r.Context(), p)
	if err != nil {
		return err
	}
	lf.Labels = nil
	httperr.JSON(w, http.StatusOK, lf)
	return nil
}

func (h *handler) guarantorPolicy(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in financing.GuarantorPolicy
	if err := h.decode(r, &in); err != nil {
		return err
	}
	if err := h.opts.Store.SetGuarantorPolicy(r.Context(), p, in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// BatchBody is a guarantee batch.
type BatchBody struct {
	Loans []int64 `json:"loans"`
}

func (h *handler) guarantee(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in BatchBody
	if err := h.decode(r, &in); err != nil {
		return err
	}
	b, err := h.opts.Store.GuaranteeLoans(r.Context(), p, in.Loans)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusCreated, b)
	return nil
}

func (h *handler) guarantorLoans(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	ls, err := h.opts.Store.GuarantorLoans(r.Context(), p)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, map[string]any{"loans": nonNil(ls)})
	return nil
}

// ParseStatsQuery reads from, to (RFC 3339 or YYYY-MM-DD) and by.
func ParseStatsQuery(q map[string][]string) (financing.StatsQuery, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var sq financing.StatsQuery
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"from", &sq.From}, {"to", &sq.To}} {
		s := get(f.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, s); err != nil {
				return sq, fmt.Errorf("%w: %s %q is neither RFC 3339 nor YYYY-MM-DD", errBadBody, f.name, s)
			}
		}
		*f.t = t
	}
	sq.By = get("by")
	return sq, nil
}

func (h *handler) stats(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	q, err := ParseStatsQuery(r.URL.Query())
	if err != nil {
		return err
	}
	st, err := h.opts.Store.Stats(r.Context(), p, q)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="financing-stats.csv"`)
		w.Header().Set("Cache-Control", "no-store")
		return st.WriteCSV(w)
	}
	st.Groups = nonNil(st.Groups)
	httperr.JSON(w, http.StatusOK, st)
	return nil
}

func (h *handler) supportList(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in CodesBody
	if err := h.decode(r, &in); err != nil {
		return err
	}
	l, err := h.opts.Store.PushSupportList(r.Context(), p, in.Name, in.Codes)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusCreated, l)
	return nil
}

func (h *handler) reasons(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	httperr.JSON(w, http.StatusOK, map[string]any{"reasons": financing.DeclineReasons})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// statusOf maps an error to its status and code: the one mapping of this
// transport.
func statusOf(err error) (int, string) {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return http.StatusRequestEntityTooLarge, "body_too_large"
	case errors.Is(err, access.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, financing.ErrFourEyes):
		return http.StatusForbidden, "four_eyes"
	case errors.Is(err, financing.ErrNotFound), errors.Is(err, access.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, access.ErrForbidden), errors.Is(err, access.ErrConsentRequired):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, financing.ErrExpired):
		return http.StatusGone, "expired"
	case errors.Is(err, financing.ErrState):
		return http.StatusConflict, "conflict"
	case errors.Is(err, errBadBody), errors.Is(err, financing.ErrInvalid), errors.Is(err, access.ErrInvalid),
		errors.Is(err, ingest.ErrFormat), errors.Is(err, ingest.ErrEncoding), errors.Is(err, ingest.ErrInvalidOptions):
		return http.StatusBadRequest, "invalid_input"
	case errors.Is(err, financing.ErrUnavailable), errors.Is(err, access.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		if h.opts.Logger != nil {
			h.opts.Logger.Error("financing request failed", "path", r.URL.Path, "err", err)
		}
		msg = "internal error"
	}
	httperr.Write(w, status, httperr.Error{Code: code, Message: msg})
}
