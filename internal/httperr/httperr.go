// Package httperr is the one JSON shape of an error answer on every HTTP API the
// platform serves (serving's assessments and Open Inference Protocol routes, the
// registry), so a client parses one shape whatever the route:
//
//	{"error":{"code":"unknown_model","message":"serving: unknown model: no model named \"churn\" is loaded"}}
//
// The code is a stable, lower-case word a program may branch on; the message is for
// people. Some errors add a details object (the registry's parity report). An answer
// to a request that has an id (internal/reqid, echoed in the X-Request-Id header)
// names it as request_id, for the caller to quote:
//
//	{"error":{"code":"internal","message":"internal error","request_id":"4bf92f3577b34da6a3ce929d0e0e4736"}}
//
// Each
// transport keeps its own mapping from its errors to a status and a code; this package
// only fixes how the answer looks and which headers go with it:
//
//	httperr.Write(w, http.StatusNotFound, httperr.Error{Code: "unknown_model", Message: err.Error()})
package httperr

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/internal/reqid"
)

// Body is the JSON of an error answer.
type Body struct {
	Error Error `json:"error"`
}

// Error is what an error answer says.
type Error struct {
	// Code is a stable lower-case word such as "invalid_input" or "store_unavailable".
	Code string `json:"code"`
	// Message says what went wrong in words; for a 500 it is generic and the detail
	// is logged instead.
	Message string `json:"message"`
	// Details carries structured context some errors have; omitted when nil.
	Details any `json:"details,omitempty"`
	// RequestID is the request's id (internal/reqid); omitted when it has none.
	RequestID string `json:"request_id,omitempty"`
}

// RetryAfter is the wait a 503 answer asks for when the handler set none: long
// enough for a restarted store or database to answer, short enough that a client
// retrying once does not give up on a blip.
const RetryAfter = 5 * time.Second

// Write sends e with status as JSON. A 503 (Service Unavailable) answer carries a
// Retry-After header: RetryAfter unless the handler already set one. Without a
// RequestID, e takes the one the answer's X-Request-Id header holds, if any.
func Write(w http.ResponseWriter, status int, e Error) {
	h := w.Header()
	if e.RequestID == "" {
		e.RequestID = h.Get(reqid.Header)
	}
	if status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(Body{Error: e}) // the client may have gone; nothing to do
}

// JSON sends v with status as JSON: the shape of every successful answer of the
// platform's APIs beside Write's errors (no HTML escaping, not cached). The
// error is the client's having gone; there is nothing to do about it.
func JSON(w http.ResponseWriter, status int, v any) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
