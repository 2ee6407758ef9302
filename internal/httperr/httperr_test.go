package httperr_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/httperr"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		preset     string // Retry-After set by the handler
		e          httperr.Error
		body       string
		retryAfter string
	}{
		{"not found", 404, "", httperr.Error{Code: "unknown_model", Message: `no model named "churn" <is> loaded`},
			`{"error":{"code":"unknown_model","message":"no model named \"churn\" <is> loaded"}}`, ""},
		{"unavailable gets a retry", 503, "", httperr.Error{Code: "store_unavailable", Message: "m"},
			`{"error":{"code":"store_unavailable","message":"m"}}`, "5"},
		{"handler's retry kept", 503, "30", httperr.Error{Code: "not_ready", Message: "m"},
			`{"error":{"code":"not_ready","message":"m"}}`, "30"},
		{"details", 422, "", httperr.Error{Code: "validation_failed", Message: "m", Details: map[string]int{"failures": 1}},
			`{"error":{"code":"validation_failed","message":"m","details":{"failures":1}}}`, ""},
		{"request id given", 400, "", httperr.Error{Code: "invalid_input", Message: "m", RequestID: "given"},
			`{"error":{"code":"invalid_input","message":"m","request_id":"given"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if tt.preset != "" {
				w.Header().Set("Retry-After", tt.preset)
			}

			httperr.Write(w, tt.status, tt.e)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if got := w.Body.String(); got != tt.body+"\n" {
				t.Errorf("body %s, want %s", got, tt.body)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var b httperr.Body
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error.Code != tt.e.Code || b.Error.Message != tt.e.Message {
				t.Errorf("decoded %+v (%v)", b, err)
			}
		})
	}
}

// TestWriteRequestID: an answer names the request id of its X-Request-Id header
// unless the error carries one; without either there is no request_id.
func TestWriteRequestID(t *testing.T) {
	for _, c := range []struct{ header, given, want string }{
		{"req-7", "", `{"error":{"code":"internal","message":"internal error","request_id":"req-7"}}`},
		{"req-7", "given", `{"error":{"code":"internal","message":"internal error","request_id":"given"}}`},
		{"", "", `{"error":{"code":"internal","message":"internal error"}}`},
	} {
		w := httptest.NewRecorder()
		if c.header != "" {
			w.Header().Set("X-Request-Id", c.header)
		}
		httperr.Write(w, 500, httperr.Error{Code: "internal", Message: "internal error", RequestID: c.given})
		if got := w.Body.String(); got != c.want+"\n" {
			t.Errorf("header %q, given %q: body %s, want %s", c.header, c.given, got, c.want)
		}
	}
}

func TestJSON(t *testing.T) {
	w := httptest.NewRecorder()
	if err := httperr.JSON(w, 201, map[string]string{"name": "<信易>"}); err != nil {
		t.Fatal(err)
	}
	if w.Code != 201 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	if got, want := w.Body.String(), "{\"name\":\"<信易>\"}\n"; got != want {
		t.Fatalf("body %q, want %q (no HTML escaping)", got, want)
	}
}
