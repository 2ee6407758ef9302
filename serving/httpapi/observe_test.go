package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/internal/telemetry"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// processMux is the API under a mux as the xinyi command mounts it beside the
// registry and the console, wrapped by the tracing's Handler.
func processMux(t *testing.T, tr *telemetry.Tracing, env *servingtest.Env, logger *slog.Logger) http.Handler {
	t.Helper()
	api, err := New(Options{Service: env.Service, OIP: oip.New(env.Models, oip.Options{Authorizer: env.Auth}), Authorizer: env.Auth,
		Metrics: serving.NewMetrics(env.Models), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("/lab/", http.NotFoundHandler())
	return tr.Handler(mux)
}

func assess(h http.Handler, company, id string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/v1/assessments", strings.NewReader(fmt.Sprintf(`{"company_code":%q}`, company)))
	req.Header.Set("Authorization", "Bearer "+servingtest.BankKey)
	if id != "" {
		req.Header.Set(reqid.Header, id)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q", name)
	return tracetest.SpanStub{}
}

func childNames(spans tracetest.SpanStubs, parent tracetest.SpanStub) []string {
	var out []string
	for _, s := range spans {
		if s.Parent.SpanID() == parent.SpanContext.SpanID() && s.SpanContext.TraceID() == parent.SpanContext.TraceID() {
			out = append(out, s.Name)
		}
	}
	return out
}

// TestAssessmentTrace: one traced HTTP assessment is one trace: the server span,
// named after the route and carrying the request id, with "assess" under it and the
// assessment's steps under that.
func TestAssessmentTrace(t *testing.T) {
	env := servingtest.New(t)
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.Setup(context.Background(), telemetry.Options{Endpoint: "in-memory", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	h := processMux(t, tr, env, nil)

	w := assess(h, env.Good, "")
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	server := spanNamed(t, spans, "POST /v1/assessments")
	if server.SpanKind != trace.SpanKindServer || server.Parent.IsValid() {
		t.Errorf("server span: kind %v, parent %v", server.SpanKind, server.Parent)
	}
	attrs := map[string]string{}
	for _, a := range server.Attributes {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	if attrs["http.route"] != "/v1/assessments" || attrs[reqid.SpanAttribute] != w.Header().Get(reqid.Header) || !reqid.Valid(attrs[reqid.SpanAttribute]) {
		t.Errorf("server span attributes %v, answer's request id %q", attrs, w.Header().Get(reqid.Header))
	}
	if got := childNames(spans, server); !slices.Equal(got, []string{"assess"}) {
		t.Fatalf("server span's children %v", got)
	}
	steps := childNames(spans, spanNamed(t, spans, "assess"))
	if want := []string{"authorize", "features", "score", "explain", "audit"}; !slices.Equal(steps, want) {
		t.Errorf("assess's children %v, want %v", steps, want)
	}
	if len(spans) != 7 {
		t.Errorf("%d spans, want 7", len(spans))
	}

	// Probes and scrapes are not traced; a caller's trace is continued.
	exp.Reset()
	for _, path := range []string{"/metrics", "/v2/health/ready"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	req := httptest.NewRequest("GET", "/v2", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans = exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "GET /v2" || spans[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("after probes, a scrape and a traced metadata call: %v", spans)
	}
}

// TestAssessmentUntraced: with tracing off an assessment answers as ever, with a
// request id, and nothing is recorded.
func TestAssessmentUntraced(t *testing.T) {
	env := servingtest.New(t)
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.Setup(context.Background(), telemetry.Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	w := assess(processMux(t, tr, env, nil), env.Good, "")
	if w.Code != 200 || !reqid.Valid(w.Header().Get(reqid.Header)) {
		t.Fatalf("status %d, request id %q: %s", w.Code, w.Header().Get(reqid.Header), w.Body)
	}
	var d serving.Decision
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || d.Rating != "B" {
		t.Errorf("decision %+v (%v)", d, err)
	}
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans with tracing off", n)
	}
}

// TestRequestIDInLogs: every line logged for a failed request carries its request
// id (the caller's, when sane) and its trace id; the error answer names the id too.
func TestRequestIDInLogs(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	env := servingtest.New(t, func(o *serving.Options) { o.Logger = logger })
	env.Audit.Fail(errors.New("audit database gone"))
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.Setup(context.Background(), telemetry.Options{Endpoint: "in-memory", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	h := processMux(t, tr, env, logger)

	for _, c := range []struct {
		name, sent string
		kept       bool
	}{
		{"sane", "client-req.42", true},
		{"too long", strings.Repeat("a", 65), false},
		{"not a token", "a b", false},
		{"none", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			exp.Reset()
			w := assess(h, env.Good, c.sent)
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503 with the audit down: %s", w.Code, w.Body)
			}
			id := w.Header().Get(reqid.Header)
			if c.kept && id != c.sent || !c.kept && (id == c.sent || !reqid.Valid(id)) {
				t.Fatalf("sent %q, answer's request id %q", c.sent, id)
			}
			var body struct {
				Error struct {
					Code      string `json:"code"`
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "unavailable" || body.Error.RequestID != id {
				t.Errorf("error answer %s (%v), want request_id %s", w.Body, err, id)
			}
			if err := tr.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			traceID := spanNamed(t, exp.GetSpans(), "POST /v1/assessments").SpanContext.TraceID().String()
			var msgs []string
			for _, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatalf("log line %s: %v", line, err)
				}
				msgs = append(msgs, m["msg"].(string))
				if m["request_id"] != id || m["trace_id"] != traceID {
					t.Errorf("log line %s: want request_id %s, trace_id %s", line, id, traceID)
				}
			}
			if !slices.Equal(msgs, []string{"audit append failed", "request failed"}) {
				t.Errorf("logged %q, want the service's and the API's line", msgs)
			}
		})
	}
}

// BenchmarkAssessHTTPTraced is BenchmarkAssessHTTP with tracing on and every trace
// sampled (spans batched to an exporter that drops them): the cost of the server
// span and the assessment's six spans.
func BenchmarkAssessHTTPTraced(b *testing.B) {
	env := servingtest.New(b)
	tr, err := telemetry.Setup(context.Background(), telemetry.Options{Endpoint: "discard", Exporter: tracetest.NewNoopExporter()})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	api, err := New(Options{Service: env.Service, OIP: oip.New(env.Models, oip.Options{Authorizer: env.Auth}), Authorizer: env.Auth,
		Metrics: serving.NewMetrics(env.Models)})
	if err != nil {
		b.Fatal(err)
	}
	h := tr.Handler(api)
	b.ReportAllocs()
	for b.Loop() {
		if w := assess(h, env.Bad, ""); w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
