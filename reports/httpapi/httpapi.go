// Package httpapi is the HTTP door of credit reports (package reports):
//
//	POST /v1/reports                 issue: {"company_code", "purpose", "from", "to"} → 201 and the report
//	GET  /v1/reports/{id}            the report as JSON
//	GET  /v1/reports/{id}/pdf        the signed PDF
//	GET  /v1/reports/{id}/verify     the QR code's address: issued here, signature good, not revoked (a page for a browser)
//	POST /v1/reports/verify          the body is a report file: its signature, and the same checks
//	POST /v1/reports/{id}/revoke     {"reason"}: a platform administrator withdraws a report
//
// Issuing, reading and revoking need an API key ("Authorization: Bearer <key>");
// internal/access decides who may (the company's own bound account, a bank with
// the company's consent, a regulator; revocation a platform administrator), and
// every refusal is audited. The two verifications are open to anyone holding a
// report (a key, when sent, names the caller in the audit log of a refused
// verification); they answer 200 with {"valid": …, "status": …} whatever the
// outcome.
//
// Errors have the platform's one shape (internal/httperr), mapped once in statusOf.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/httperr"
	"github.com/xinyi-platform/xinyi/reports"
)

// Authenticator turns an API key into a principal; *access.Store implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (access.Principal, error)
}

// Options configure the handler. Service and Auth are required.
type Options struct {
	Service *reports.Service
	Auth    Authenticator
	// MaxFileBytes bounds an uploaded report file. Default 32 MiB.
	MaxFileBytes int64
	// Logger receives the detail of 500 answers. Default: none.
	Logger *slog.Logger
}

var (
	errNoRoute  = errors.New("httpapi: no such route")
	errBadInput = errors.New("httpapi: invalid input")
)

type handler struct{ opts Options }

// New returns the handler.
func New(opts Options) (http.Handler, error) {
	if opts.Service == nil || opts.Auth == nil {
		return nil, errors.New("httpapi: Service and Auth are required")
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 32 << 20
	}
	h := &handler{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/reports", h.authed(h.issue))
	mux.HandleFunc("POST /v1/reports/verify", h.verifyFile)
	mux.HandleFunc("GET /v1/reports/{id}", h.authed(h.get))
	mux.HandleFunc("GET /v1/reports/{id}/pdf", h.authed(h.pdf))
	mux.HandleFunc("GET /v1/reports/{id}/verify", h.verifyID)
	mux.HandleFunc("POST /v1/reports/{id}/revoke", h.authed(h.revoke))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, errNoRoute) })
	return mux, nil
}

func bearer(r *http.Request) string {
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return key
}

func (h *handler) authed(fn func(w http.ResponseWriter, r *http.Request, p access.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.opts.Auth.Authenticate(r.Context(), bearer(r))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		fn(w, r, p)
	}
}

// actor names the caller of an open route: the key's principal when one is
// sent and valid, else "anonymous".
func (h *handler) actor(r *http.Request) string {
	if key := bearer(r); key != "" {
		if p, err := h.opts.Auth.Authenticate(r.Context(), key); err == nil {
			return p.Actor()
		}
	}
	return "anonymous"
}

// reportJSON is a report with the links of its files.
type reportJSON struct {
	*reports.Report
	PDF string `json:"pdf_url"`
}

func links(r *reports.Report) reportJSON {
	return reportJSON{Report: r, PDF: "/v1/reports/" + r.ID + "/pdf"}
}

func (h *handler) issue(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var req reports.Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		h.fail(w, r, fmt.Errorf("%w: the body must be a JSON object {company_code, purpose, from, to}: %v", errBadInput, err))
		return
	}
	rep, _, err := h.opts.Service.Issue(r.Context(), p, req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/reports/"+rep.ID)
	httperr.JSON(w, http.StatusCreated, links(rep))
}

func (h *handler) get(w http.ResponseWriter, r *http.Request, p access.Principal) {
	rep, _, err := h.opts.Service.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httperr.JSON(w, http.StatusOK, links(rep))
}

func (h *handler) pdf(w http.ResponseWriter, r *http.Request, p access.Principal) {
	rep, file, err := h.opts.Service.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+rep.ID+`.pdf"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(file)
}

func (h *handler) verifyID(w http.ResponseWriter, r *http.Request) {
	v, err := h.opts.Service.VerifyID(r.Context(), h.actor(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// A phone that scanned the QR code asks for a page; a program for JSON.
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.WriteHeader(http.StatusOK)
		_ = verifyPage.Execute(w, v)
		return
	}
	httperr.JSON(w, http.StatusOK, v)
}

// verifyPage is the answer to a browser: the outcome in Chinese and English.
var verifyPage = template.Must(template.New("verify").Parse(`<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>信用报告核验 Credit report verification</title>
<style>body{font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em}.ok{color:#1a7f37}.bad{color:#cf222e}td{padding:.2em .6em}</style></head>
<body><h1>信用报告核验 <small>Credit report verification</small></h1>
{{if .Valid}}<p class="ok"><b>有效：本平台出具，签名有效，未撤销。</b><br>Valid: issued by this platform, signature good, not revoked.</p>
{{else if eq .Status "revoked"}}<p class="bad"><b>已撤销 Revoked</b> {{.RevokedAt.Format "2006-01-02 15:04 MST"}}: {{.RevokeReason}}</p>
{{else}}<p class="bad"><b>无效 Not valid</b> ({{.Status}})</p>{{end}}
<table>
<tr><td>报告编号 Report No.</td><td>{{.ReportID}}</td></tr>
{{if .Company}}<tr><td>统一社会信用代码 Company</td><td>{{.Company}}</td></tr>
<tr><td>用途 Purpose</td><td>{{.Purpose}}</td></tr>
<tr><td>出具时间 Issued at</td><td>{{.IssuedAt.Format "2006-01-02 15:04 MST"}}</td></tr>{{end}}
{{if .Digest}}<tr><td>SHA-256</td><td><code>{{.Digest}}</code></td></tr>{{end}}
</table>
<p>请核对纸质或电子报告的编号与内容；如需核验文件本身，请上传至 POST /v1/reports/verify。<br>
Compare the number with the report you hold; to check a file itself, upload it to POST /v1/reports/verify.</p>
</body></html>
`))

func (h *handler) verifyFile(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxFileBytes))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.opts.Service.Verify(r.Context(), h.actor(r), data)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httperr.JSON(w, http.StatusOK, v)
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var body struct {
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		h.fail(w, r, fmt.Errorf("%w: the body must be a JSON object {reason}: %v", errBadInput, err))
		return
	}
	rep, err := h.opts.Service.Revoke(r.Context(), p, r.PathValue("id"), body.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httperr.JSON(w, http.StatusOK, links(rep))
}

// statusOf maps an error to its status and code: the one mapping of this transport.
func statusOf(err error) (int, string) {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return http.StatusRequestEntityTooLarge, "body_too_large"
	case errors.Is(err, access.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, access.ErrConsentRequired):
		return http.StatusForbidden, "consent_required"
	case errors.Is(err, access.ErrNotBound):
		return http.StatusForbidden, "not_bound"
	case errors.Is(err, access.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, reports.ErrUnknownCompany):
		return http.StatusNotFound, "unknown_company"
	case errors.Is(err, reports.ErrNotFound), errors.Is(err, errNoRoute):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, reports.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, reports.ErrInvalid), errors.Is(err, access.ErrInvalid), errors.Is(err, errBadInput):
		return http.StatusBadRequest, "invalid_input"
	case errors.Is(err, reports.ErrUnavailable), errors.Is(err, access.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		if h.opts.Logger != nil {
			h.opts.Logger.Error("reports request failed", "path", r.URL.Path, "err", err)
		}
		msg = "internal error"
	}
	httperr.Write(w, status, httperr.Error{Code: code, Message: msg})
}
