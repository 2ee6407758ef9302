package telemetry_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/internal/telemetry"
)

// A traceparent of a sampled caller (W3C Trace Context, version 00).
const (
	callerTrace    = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan     = "00f067aa0ba902b7"
	sampledParent  = "00-" + callerTrace + "-" + callerSpan + "-01"
	declinedParent = "00-" + callerTrace + "-" + callerSpan + "-00"
)

func TestSetupRejects(t *testing.T) {
	for _, o := range []telemetry.Options{
		{SampleRatio: -0.1},
		{SampleRatio: 1.5},
		{SampleRatio: math.NaN()},
		{Endpoint: "collector", SampleRatio: 1},
		{Endpoint: "ftp://collector:4318"},
		{Endpoint: "http://"},
		{Endpoint: ":4318"},
	} {
		if _, err := telemetry.Setup(context.Background(), o); !errors.Is(err, telemetry.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", o, err)
		}
	}
}

// mux is a small mux whose handler records the span and request id it ran under.
func mux(seen *trace.SpanContext, id *string) *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		*seen = trace.SpanContextFromContext(r.Context())
		*id = reqid.FromContext(r.Context())
	})
	m.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		*seen = trace.SpanContextFromContext(r.Context())
	})
	return m
}

// TestOff: without an endpoint nothing is recorded or exported, even with an
// exporter at hand, and requests still get their ids.
func TestOff(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.Setup(context.Background(), telemetry.Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() || tr.GRPCServerOptions() != nil {
		t.Fatal("tracing on without an endpoint")
	}
	var seen trace.SpanContext
	var id string
	h := tr.Handler(mux(&seen, &id))
	req := httptest.NewRequest("POST", "/v1/things/7", nil)
	req.Header.Set("traceparent", sampledParent)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if seen.IsValid() || len(exp.GetSpans()) != 0 {
		t.Errorf("span %v, %d exported, with tracing off", seen, len(exp.GetSpans()))
	}
	if id == "" || w.Header().Get(reqid.Header) != id {
		t.Errorf("request id %q, header %q", id, w.Header().Get(reqid.Header))
	}
	_, sp := tr.TracerProvider().Tracer("t").Start(context.Background(), "x")
	if sp.IsRecording() {
		t.Error("the provider records with tracing off")
	}
}

// TestSampling: a new trace is sampled at SampleRatio, a caller's decision is kept
// either way, and metrics scrapes get no span.
func TestSampling(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.Setup(context.Background(), telemetry.Options{Endpoint: "in-memory", Exporter: exp, SampleRatio: 1e-12})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	var seen trace.SpanContext
	var id string
	h := tr.Handler(mux(&seen, &id))
	send := func(method, path, parent string) {
		req := httptest.NewRequest(method, path, nil)
		if parent != "" {
			req.Header.Set("traceparent", parent)
		}
		req.Header.Set(reqid.Header, "req-1")
		h.ServeHTTP(httptest.NewRecorder(), req)
		if err := tr.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	send("POST", "/v1/things/1", "")
	if len(exp.GetSpans()) != 0 || seen.IsSampled() {
		t.Errorf("a new trace was sampled at ratio 1e-12: %d spans", len(exp.GetSpans()))
	}
	send("POST", "/v1/things/1", declinedParent)
	if len(exp.GetSpans()) != 0 || seen.TraceID().String() != callerTrace {
		t.Errorf("a declined caller: %d spans, trace %s", len(exp.GetSpans()), seen.TraceID())
	}
	send("POST", "/v1/things/1", sampledParent)
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("a sampled caller: %d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != "POST /v1/things/{id}" || s.SpanKind != trace.SpanKindServer || s.SpanContext.TraceID().String() != callerTrace ||
		s.Parent.SpanID().String() != callerSpan || !s.Parent.IsRemote() || seen.SpanID() != s.SpanContext.SpanID() {
		t.Errorf("server span %q kind %v trace %s parent %s, handler saw %s", s.Name, s.SpanKind, s.SpanContext.TraceID(), s.Parent.SpanID(), seen.SpanID())
	}
	var rid string
	for _, a := range s.Attributes {
		if a.Key == reqid.SpanAttribute {
			rid = a.Value.AsString()
		}
	}
	if rid != "req-1" || id != "req-1" {
		t.Errorf("request id on the span %q, in the handler %q", rid, id)
	}
	exp.Reset()
	send("GET", "/metrics", sampledParent)
	if len(exp.GetSpans()) != 0 || seen.IsValid() {
		t.Errorf("a metrics scrape made %d spans", len(exp.GetSpans()))
	}
}

// collector is an OTLP/HTTP receiver that keeps what it is sent.
type collector struct {
	mu    sync.Mutex
	paths []string
	reqs  []*coltrace.ExportTraceServiceRequest
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(data, &req) != nil {
		http.Error(w, "not OTLP protobuf", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.reqs = append(c.reqs, &req)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// TestOTLPExport: spans reach a collector over OTLP/HTTP at /v1/traces, whether the
// endpoint is given as host:port or as a URL, with the service's name.
func TestOTLPExport(t *testing.T) {
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, o := range []telemetry.Options{
		{Endpoint: host, Insecure: true, ServiceName: "xinyi-test"},
		{Endpoint: srv.URL, ServiceName: "xinyi-test"},
	} {
		t.Run(o.Endpoint, func(t *testing.T) {
			c.mu.Lock()
			c.paths, c.reqs = nil, nil
			c.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tr, err := telemetry.Setup(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			var seen trace.SpanContext
			var id string
			req := httptest.NewRequest("POST", "/v1/things/2", nil)
			req.Header.Set("traceparent", sampledParent)
			tr.Handler(mux(&seen, &id)).ServeHTTP(httptest.NewRecorder(), req)
			if err := tr.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.reqs) != 1 || c.paths[0] != "/v1/traces" {
				t.Fatalf("collector got %d exports at %v", len(c.reqs), c.paths)
			}
			rs := c.reqs[0].GetResourceSpans()
			var service string
			for _, a := range rs[0].GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			spans := rs[0].GetScopeSpans()[0].GetSpans()
			if service != "xinyi-test" || len(spans) != 1 || spans[0].GetName() != "POST /v1/things/{id}" ||
				trace.TraceID(spans[0].GetTraceId()).String() != callerTrace {
				t.Errorf("service %q, spans %v", service, spans)
			}
		})
	}
}
