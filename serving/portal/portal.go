// Package portal is the HTTP door of companies into the platform, and of banks'
// consent requests to them:
//
//	GET    /v1/portal/bindings                               the account's bindings
//	POST   /v1/portal/bindings                               {"company_code"}: a code goes to the legal representative's registered contact
//	POST   /v1/portal/bindings/{id}/activate                 {"code"}: the binding becomes active
//	DELETE /v1/portal/bindings/{id}                          end a binding (its own, or a delegate's by the legal representative)
//	GET    /v1/portal/companies/{code}/bindings              the accounts acting for the company
//	POST   /v1/portal/companies/{code}/delegates             {"user"}: the legal representative names staff
//	GET    /v1/portal/companies/{code}/profile               the company's own assessment and score history
//	GET    /v1/portal/companies/{code}/consents              who holds its consent, for what, until when
//	POST   /v1/portal/companies/{code}/consents              {"institution","scope","expires_at"}: grant
//	DELETE /v1/portal/companies/{code}/consents/{id}         revoke
//	GET    /v1/portal/companies/{code}/consent-requests      banks' requests
//	POST   /v1/portal/companies/{code}/consent-requests/{id}/accept   (or /decline)
//	POST   /v1/consent-requests                              a bank asks: {"company_code","scope","note","until"}
//	GET    /v1/consent-requests                              the bank's own requests
//	POST   /v1/admin/bindings                                {"user","company_code","evidence"}: an operator's verified binding
//
// Every request is authenticated by API key and authorized by internal/access:
// routes under /v1/portal/companies/{code} need ActionActForCompany (an enterprise
// account bound to that company, so who acts for a company is proven, never
// claimed), the profile ActionAssess, a bank's request ActionRequestConsent, an
// operator's binding ActionBindCompany. Every change and every refusal is in the
// audit log (the access store writes the changes, Authorize the refusals).
package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/httperr"
	"github.com/xinyi-platform/xinyi/serving"
)

// Authenticator turns an API key into a principal; *access.Store implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (access.Principal, error)
}

// Authorizer decides and audits refusals; *access.Authorizer implements it.
type Authorizer interface {
	Authorize(ctx context.Context, p access.Principal, action access.Action, res access.Resource) error
	Refused(ctx context.Context, p access.Principal, action access.Action, res access.Resource, err error) error
}

// Assessor is what a company's own profile shows; *serving.Service implements it.
type Assessor interface {
	Assess(ctx context.Context, p serving.Principal, req serving.Request) (*serving.Decision, error)
	History(ctx context.Context, p serving.Principal, code string) ([]serving.ScorePoint, error)
}

// Options configure the handler. Access, Auth and Authorizer are required.
type Options struct {
	Access     *access.Store
	Auth       Authenticator
	Authorizer Authorizer
	// Assessor answers the profile route; nil: the route answers 503.
	Assessor Assessor
	// MaxConsentDays bounds a consent a company grants itself. Default 366.
	MaxConsentDays int
	// Logger receives the detail of 500 answers. Default: none.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// EnsureDefaults fills zero fields.
func (o *Options) EnsureDefaults() {
	if o.MaxConsentDays <= 0 {
		o.MaxConsentDays = 366
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

var (
	errBadRequest = errors.New("portal: invalid request")
	errNoAssessor = errors.New("portal: this server does not assess companies")
)

type handler struct {
	o   Options
	mux *http.ServeMux
}

// New returns the handler of the routes above.
func New(o Options) http.Handler {
	o.EnsureDefaults()
	h := &handler{o: o, mux: http.NewServeMux()}
	m := h.mux
	m.HandleFunc("GET /v1/portal/bindings", h.auth(h.myBindings))
	m.HandleFunc("POST /v1/portal/bindings", h.auth(h.startBinding))
	m.HandleFunc("POST /v1/portal/bindings/{id}/activate", h.auth(h.activate))
	m.HandleFunc("DELETE /v1/portal/bindings/{id}", h.auth(h.endBinding))
	m.HandleFunc("GET /v1/portal/companies/{code}/bindings", h.company(h.companyBindings))
	m.HandleFunc("POST /v1/portal/companies/{code}/delegates", h.company(h.delegate))
	m.HandleFunc("GET /v1/portal/companies/{code}/profile", h.auth(h.profile))
	m.HandleFunc("GET /v1/portal/companies/{code}/consents", h.company(h.consents))
	m.HandleFunc("POST /v1/portal/companies/{code}/consents", h.company(h.grant))
	m.HandleFunc("DELETE /v1/portal/companies/{code}/consents/{id}", h.company(h.revoke))
	m.HandleFunc("GET /v1/portal/companies/{code}/consent-requests", h.company(h.requests))
	m.HandleFunc("POST /v1/portal/companies/{code}/consent-requests/{id}/{answer}", h.company(h.answer))
	m.HandleFunc("POST /v1/consent-requests", h.auth(h.requestConsent))
	m.HandleFunc("GET /v1/consent-requests", h.auth(h.bankRequests))
	m.HandleFunc("POST /v1/admin/bindings", h.auth(h.operatorBinding))
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

type route func(w http.ResponseWriter, r *http.Request, p access.Principal) error

// auth authenticates the key and runs fn, writing its error in the one shape.
func (h *handler) auth(fn route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			h.fail(w, fmt.Errorf("%w: an Authorization: Bearer <key> header is required", access.ErrUnauthenticated))
			return
		}
		p, err := h.o.Auth.Authenticate(r.Context(), strings.TrimSpace(key))
		if err == nil {
			err = fn(w, r, p)
		}
		if err != nil {
			h.fail(w, err)
		}
	}
}

// company authorizes ActionActForCompany for the {code} of the path first.
func (h *handler) company(fn func(w http.ResponseWriter, r *http.Request, p access.Principal, code string) error) http.HandlerFunc {
	return h.auth(func(w http.ResponseWriter, r *http.Request, p access.Principal) error {
		code := creditcode.Normalize(r.PathValue("code"))
		if err := h.o.Authorizer.Authorize(r.Context(), p, access.ActionActForCompany, access.Resource{Kind: "company", ID: code, Operation: operation(r)}); err != nil {
			return err
		}
		return fn(w, r, p, code)
	})
}

// operation names a route in audit records: "portal.POST /v1/portal/…".
func operation(r *http.Request) string {
	return "portal." + r.Method + " " + r.Pattern[strings.IndexByte(r.Pattern, ' ')+1:]
}

func (h *handler) myBindings(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	bs, err := h.o.Access.BoundCompanies(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	return httperr.JSON(w, http.StatusOK, map[string]any{"bindings": nonNil(bs)})
}

func (h *handler) startBinding(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in struct {
		CompanyCode string `json:"company_code"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	b, err := h.o.Access.StartBinding(r.Context(), p.Actor(), p.UserID, in.CompanyCode)
	if err != nil {
		return h.refused(r, p, "company", in.CompanyCode, err)
	}
	return httperr.JSON(w, http.StatusAccepted, b)
}

func (h *handler) activate(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Code string `json:"code"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	b, err := h.o.Access.ActivateBinding(r.Context(), p.Actor(), p.UserID, id, in.Code)
	if err != nil {
		return h.refused(r, p, "binding", strconv.FormatInt(id, 10), err)
	}
	return httperr.JSON(w, http.StatusOK, b)
}

func (h *handler) endBinding(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	by := p.UserID
	if p.PlatformWide() {
		// An operator ends any binding (a licence found forged, a company closed).
		if err := h.o.Authorizer.Authorize(r.Context(), p, access.ActionBindCompany, access.Resource{Kind: "binding", ID: strconv.FormatInt(id, 10), Operation: operation(r)}); err != nil {
			return err
		}
		by = 0
	}
	if err := h.o.Access.RevokeBinding(r.Context(), p.Actor(), by, id); err != nil {
		return h.refused(r, p, "binding", strconv.FormatInt(id, 10), err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) companyBindings(w http.ResponseWriter, r *http.Request, _ access.Principal, code string) error {
	bs, err := h.o.Access.CompanyBindings(r.Context(), code)
	if err != nil {
		return err
	}
	return httperr.JSON(w, http.StatusOK, map[string]any{"bindings": nonNil(bs)})
}

func (h *handler) delegate(w http.ResponseWriter, r *http.Request, p access.Principal, code string) error {
	var in struct {
		User string `json:"user"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := h.o.Access.UserByName(r.Context(), strings.TrimSpace(in.User))
	if err != nil {
		return err
	}
	b, err := h.o.Access.Delegate(r.Context(), p.Actor(), p.UserID, u.ID, code)
	if err != nil {
		return h.refused(r, p, "company", code, err)
	}
	return httperr.JSON(w, http.StatusCreated, b)
}

func (h *handler) profile(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if h.o.Assessor == nil {
		return errNoAssessor
	}
	code := creditcode.Normalize(r.PathValue("code"))
	if err := h.o.Authorizer.Authorize(r.Context(), p, access.ActionActForCompany, access.Resource{Kind: "company", ID: code, Operation: operation(r)}); err != nil {
		return err
	}
	d, err := h.o.Assessor.Assess(r.Context(), p, serving.Request{Company: code})
	if err != nil {
		return err
	}
	hist, err := h.o.Assessor.History(r.Context(), p, code)
	if err != nil && !errors.Is(err, serving.ErrNotReady) {
		return err
	}
	return httperr.JSON(w, http.StatusOK, map[string]any{"assessment": d, "history": nonNil(hist)})
}

// consentView is a consent with the name of the institution holding it.
type consentView struct {
	access.Consent
	Institution string `json:"institution"`
	Active      bool   `json:"active"`
}

func (h *handler) consents(w http.ResponseWriter, r *http.Request, _ access.Principal, code string) error {
	cs, err := h.o.Access.Consents(r.Context(), code)
	if err != nil {
		return err
	}
	now := h.o.Now()
	out := make([]consentView, 0, len(cs))
	names := map[int64]string{}
	for _, c := range cs {
		name, ok := names[c.BankID]
		if !ok {
			if in, err := h.o.Access.Institution(r.Context(), c.BankID); err == nil {
				name = in.Name
			}
			names[c.BankID] = name
		}
		out = append(out, consentView{Consent: c, Institution: name, Active: c.RevokedAt.IsZero() && !now.Before(c.GrantedAt) && now.Before(c.ExpiresAt)})
	}
	return httperr.JSON(w, http.StatusOK, map[string]any{"consents": out})
}

func (h *handler) grant(w http.ResponseWriter, r *http.Request, p access.Principal, code string) error {
	var in struct {
		Institution string    `json:"institution"`
		Scope       string    `json:"scope"`
		ExpiresAt   time.Time `json:"expires_at"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Scope == "" {
		in.Scope = access.ScopeCreditAssessment
	}
	if max := h.o.Now().AddDate(0, 0, h.o.MaxConsentDays); in.ExpiresAt.After(max) {
		return fmt.Errorf("%w: a consent the company grants itself lasts at most %d days (until %s)", errBadRequest, h.o.MaxConsentDays, max.Format(time.DateOnly))
	}
	inst, err := h.o.Access.InstitutionByName(r.Context(), strings.TrimSpace(in.Institution))
	if err != nil {
		return err
	}
	c, err := h.o.Access.GrantConsent(r.Context(), p.Actor(), access.ConsentGrant{CompanyCode: code, BankID: inst.ID, Scope: in.Scope, ExpiresAt: in.ExpiresAt, Purpose: "portal"})
	if err != nil {
		return err
	}
	return httperr.JSON(w, http.StatusCreated, consentView{Consent: c, Institution: inst.Name, Active: true})
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request, p access.Principal, code string) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	cs, err := h.o.Access.Consents(r.Context(), code)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.ID == id {
			if err := h.o.Access.RevokeConsent(r.Context(), p.Actor(), id); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	return h.refused(r, p, "consent", strconv.FormatInt(id, 10), fmt.Errorf("%w: consent %d is not one of %s's", access.ErrNotFound, id, code))
}

func (h *handler) requests(w http.ResponseWriter, r *http.Request, _ access.Principal, code string) error {
	rs, err := h.o.Access.ConsentRequests(r.Context(), code)
	if err != nil {
		return err
	}
	return httperr.JSON(w, http.StatusOK, map[string]any{"requests": h.named(r.Context(), rs)})
}

// requestView is a consent request with the name of the institution asking.
type requestView struct {
	access.ConsentRequest
	Institution string `json:"institution"`
}

func (h *handler) named(ctx context.Context, rs []access.ConsentRequest) []requestView {
	out := make([]requestView, 0, len(rs))
	for _, q := range rs {
		v := requestView{ConsentRequest: q}
		if in, err := h.o.Access.Institution(ctx, q.BankID); err == nil {
			v.Institution = in.Name
		}
		out = append(out, v)
	}
	return out
}

func (h *handler) answer(w http.ResponseWriter, r *http.Request, p access.Principal, code string) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var accept bool
	switch r.PathValue("answer") {
	case "accept":
		accept = true
	case "decline":
	default:
		return fmt.Errorf("%w: answer a consent request with /accept or /decline", errBadRequest)
	}
	q, err := h.o.Access.AnswerConsentRequest(r.Context(), p.Actor(), code, id, accept)
	if err != nil {
		return h.refused(r, p, "consent_request", strconv.FormatInt(id, 10), err)
	}
	return httperr.JSON(w, http.StatusOK, q)
}

func (h *handler) requestConsent(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in struct {
		CompanyCode string    `json:"company_code"`
		Scope       string    `json:"scope"`
		Note        string    `json:"note"`
		Until       time.Time `json:"until"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	code := creditcode.Normalize(in.CompanyCode)
	if err := h.o.Authorizer.Authorize(r.Context(), p, access.ActionRequestConsent, access.Resource{Kind: "company", ID: code, Operation: operation(r)}); err != nil {
		return err
	}
	if in.Scope == "" {
		in.Scope = access.ScopeCreditAssessment
	}
	q, err := h.o.Access.RequestConsent(r.Context(), p.Actor(), p.InstitutionID, code, in.Scope, in.Note, in.Until)
	if err != nil {
		return err
	}
	return httperr.JSON(w, http.StatusCreated, q)
}

func (h *handler) bankRequests(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := h.o.Authorizer.Authorize(r.Context(), p, access.ActionRequestConsent, access.Resource{Kind: "consent_requests", Operation: operation(r)}); err != nil {
		return err
	}
	rs, err := h.o.Access.ConsentRequestsOf(r.Context(), p.InstitutionID)
	if err != nil {
		return err
	}
	return httperr.JSON(w, http.StatusOK, map[string]any{"requests": h.named(r.Context(), rs)})
}

func (h *handler) operatorBinding(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in struct {
		User        string `json:"user"`
		CompanyCode string `json:"company_code"`
		Evidence    string `json:"evidence"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	code := creditcode.Normalize(in.CompanyCode)
	if err := h.o.Authorizer.Authorize(r.Context(), p, access.ActionBindCompany, access.Resource{Kind: "company", ID: code, Operation: operation(r)}); err != nil {
		return err
	}
	u, err := h.o.Access.UserByName(r.Context(), strings.TrimSpace(in.User))
	if err != nil {
		return err
	}
	b, err := h.o.Access.BindByOperator(r.Context(), p.Actor(), u.ID, code, in.Evidence)
	if err != nil {
		return err
	}
	return httperr.JSON(w, http.StatusCreated, b)
}

// refused records a refusal the store decided (another account's binding, a
// consent of another company) in the audit log; other errors pass through.
func (h *handler) refused(r *http.Request, p access.Principal, kind, id string, err error) error {
	if errors.Is(err, access.ErrForbidden) || errors.Is(err, access.ErrNotFound) {
		return h.o.Authorizer.Refused(r.Context(), p, access.ActionActForCompany, access.Resource{Kind: kind, ID: id, Operation: operation(r)}, err)
	}
	return err
}

const maxBody = 64 << 10

// decode reads one JSON object of at most 64 KiB, refusing unknown fields.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: the body must be one JSON object of at most 64 KiB: %v", errBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: the body holds more than one JSON value", errBadRequest)
	}
	return nil
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %s %q is not a positive number", errBadRequest, name, r.PathValue(name))
	}
	return id, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// statusOf is the one mapping of this door's errors to HTTP.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, "invalid_input"
	case errors.Is(err, access.ErrUnauthenticated), errors.Is(err, serving.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, access.ErrNotBound):
		return http.StatusForbidden, "not_bound"
	case errors.Is(err, access.ErrConsentRequired), errors.Is(err, serving.ErrConsentRequired):
		return http.StatusForbidden, "consent_required"
	case errors.Is(err, access.ErrForbidden), errors.Is(err, serving.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, access.ErrActivation):
		return http.StatusBadRequest, "activation_failed"
	case errors.Is(err, access.ErrInvalid), errors.Is(err, serving.ErrInvalidInput), errors.Is(err, serving.ErrInvalidCompanyCode):
		return http.StatusBadRequest, "invalid_input"
	case errors.Is(err, access.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, serving.ErrUnknownCompany):
		return http.StatusNotFound, "unknown_company"
	case errors.Is(err, access.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, errNoAssessor), errors.Is(err, serving.ErrNotReady), errors.Is(err, access.ErrUnavailable), errors.Is(err, serving.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

func (h *handler) fail(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		h.o.Logger.Error("portal: request failed", "err", err)
		msg = "internal error"
	}
	httperr.Write(w, status, httperr.Error{Code: code, Message: msg})
}
