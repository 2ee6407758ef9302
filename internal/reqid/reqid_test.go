package reqid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/xinyi-platform/xinyi/internal/reqid"
)

var generated = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestValid(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"abc-123_X.y", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"has space", false},
		{"new\nline", false},
		{"quote\"", false},
		{"semi;colon", false},
		{"ünïcode", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
	} {
		if got := reqid.Valid(c.id); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.id, got, c.want)
		}
	}
	a, b := reqid.New(), reqid.New()
	if !generated.MatchString(a) || !reqid.Valid(a) || a == b {
		t.Errorf("New gave %q and %q", a, b)
	}
}

// TestMiddleware: a sane incoming id is kept, anything else replaced by a fresh one;
// the answer's header and the handler's context carry the same id, and a second
// Middleware inside the first keeps it.
func TestMiddleware(t *testing.T) {
	var seen string
	h := reqid.Middleware(reqid.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = reqid.FromContext(r.Context())
	})))
	for _, c := range []struct {
		name, incoming string
		kept           bool
	}{
		{"sane", "req-42.a_b", true},
		{"none", "", false},
		{"too long", strings.Repeat("x", 65), false},
		{"injection", "a\r\nSet-Cookie: x", false},
		{"spaces", "a b", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if c.incoming != "" {
				req.Header[reqid.Header] = []string{c.incoming}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			got := w.Header().Values(reqid.Header)
			if len(got) != 1 || got[0] != seen {
				t.Fatalf("answer header %q, handler saw %q", got, seen)
			}
			if c.kept && seen != c.incoming {
				t.Errorf("id %q, want the incoming %q", seen, c.incoming)
			}
			if !c.kept && !generated.MatchString(seen) {
				t.Errorf("id %q, want a fresh one", seen)
			}
		})
	}
}

// TestLogHandler: a line logged with a request's context carries its request id,
// and trace and span ids while a span records; one without carries neither.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := reqid.Logger(slog.New(slog.NewJSONHandler(&buf, nil)))
	if reqid.Logger(log) != log {
		t.Error("Logger wraps an already wrapped logger again")
	}
	line := func() map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%v: %s", err, buf.Bytes())
		}
		buf.Reset()
		return m
	}

	log.InfoContext(context.Background(), "plain")
	if m := line(); m["request_id"] != nil || m["trace_id"] != nil {
		t.Errorf("a line without a request: %v", m)
	}

	ctx := reqid.WithID(context.Background(), "r-1")
	log.With("k", "v").ErrorContext(ctx, "failed", "err", "boom")
	if m := line(); m["request_id"] != "r-1" || m["k"] != "v" || m["err"] != "boom" || m["trace_id"] != nil {
		t.Errorf("a request's line: %v", m)
	}

	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	defer tp.Shutdown(context.Background())
	sctx, span := tp.Tracer("test").Start(ctx, "op")
	log.WarnContext(sctx, "traced")
	span.End()
	m := line()
	sc := span.SpanContext()
	if m["request_id"] != "r-1" || m["trace_id"] != sc.TraceID().String() || m["span_id"] != sc.SpanID().String() {
		t.Errorf("a traced line: %v, want trace %s span %s", m, sc.TraceID(), sc.SpanID())
	}
}
