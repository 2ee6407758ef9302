package grpcapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/internal/telemetry"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/assessmentpb"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// TestRequestIDOverGRPC: each call's header metadata carries its request id, the
// caller's when sane and a fresh one otherwise, on success and failure alike.
func TestRequestIDOverGRPC(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		name, sent string
		kept       bool
		key        string
	}{
		{"sane", "grpc-req_1", true, servingtest.BankKey},
		{"too long", strings.Repeat("z", 65), false, servingtest.BankKey},
		{"none", "", false, servingtest.BankKey},
		{"refused", "grpc-req_2", true, servingtest.OtherBankKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := withKey(c.key)
			if c.sent != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, reqid.MetadataKey, c.sent)
			}
			var header metadata.MD
			_, err := f.assess.Assess(ctx, &assessmentpb.AssessRequest{CompanyCode: f.env.Good}, grpc.Header(&header))
			if c.key == servingtest.BankKey && err != nil {
				t.Fatal(err)
			}
			got := header.Get(reqid.MetadataKey)
			if len(got) != 1 || !reqid.Valid(got[0]) || c.kept != (got[0] == c.sent) {
				t.Errorf("sent %q, got %q (err %v)", c.sent, got, err)
			}
		})
	}
}

// TestAssessmentTraceOverGRPC: with telemetry's server options a call is a server
// span continuing the caller's trace, with the assessment's steps under it; the
// service's log lines for the call carry its request and trace ids.
func TestAssessmentTraceOverGRPC(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	env := servingtest.New(t, func(o *serving.Options) { o.Logger = logger })
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.Setup(context.Background(), telemetry.Options{Endpoint: "in-memory", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	f := newFixtureEnv(t, env, func(o *Options) { o.ServerOptions = tr.GRPCServerOptions(); o.Logger = logger })

	const caller = "4bf92f3577b34da6a3ce929d0e0e4736"
	ctx := metadata.AppendToOutgoingContext(withKey(servingtest.BankKey), "traceparent", "00-"+caller+"-00f067aa0ba902b7-01")
	if _, err := f.assess.Assess(ctx, &assessmentpb.AssessRequest{CompanyCode: env.Good}); err != nil {
		t.Fatal(err)
	}
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	server, ok := byName["xinyi.v1.Assessment/Assess"]
	if !ok || server.SpanKind != trace.SpanKindServer || server.SpanContext.TraceID().String() != caller {
		t.Fatalf("server span %+v among %d", server, len(spans))
	}
	var steps []string
	for _, s := range spans {
		if s.Parent.SpanID() == byName["assess"].SpanContext.SpanID() {
			steps = append(steps, s.Name)
		}
	}
	if byName["assess"].Parent.SpanID() != server.SpanContext.SpanID() ||
		!slices.Equal(steps, []string{"authorize", "features", "score", "explain", "audit"}) {
		t.Errorf("assess under %s with steps %v", byName["assess"].Parent.SpanID(), steps)
	}

	env.Audit.Fail(errors.New("audit database gone"))
	var header metadata.MD
	_, err = f.assess.Assess(ctx, &assessmentpb.AssessRequest{CompanyCode: env.Good}, grpc.Header(&header))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("with the audit down: %v", err)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line); err != nil {
		t.Fatalf("%v: %s", err, logs.Bytes())
	}
	if id := header.Get(reqid.MetadataKey); len(id) != 1 || line["request_id"] != id[0] || line["trace_id"] != caller || line["msg"] != "audit append failed" {
		t.Errorf("log line %v, request id %v", line, id)
	}
}
