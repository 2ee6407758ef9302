package audit_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// TestAppendSpan: under a recording span an append is a child span "audit.append"
// naming the action and the batch it wrote; without one it records nothing.
func TestAppendSpan(t *testing.T) {
	ctx := context.Background()
	l, err := audit.Open(ctx, metadbtest.SQLite(t), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(ctx)

	if _, err := l.Append(ctx, audit.Entry{Actor: "alice", Action: "model.create", Subject: "model:pd"}); err != nil {
		t.Fatal(err)
	}
	if n := len(spans.GetSpans()); n != 0 {
		t.Fatalf("%d spans without a traced caller", n)
	}

	pctx, parent := tp.Tracer("test").Start(ctx, "caller")
	if _, err := l.Append(pctx, audit.Entry{Actor: "alice", Action: "model.alias", Subject: "model:pd"}); err != nil {
		t.Fatal(err)
	}
	parent.End()
	got := spans.GetSpans()
	if len(got) != 2 {
		t.Fatalf("%d spans, want the append's and its caller's", len(got))
	}
	s := got[0]
	if s.Name != "audit.append" || s.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("span %q with parent %s, want audit.append under %s", s.Name, s.Parent.SpanID(), parent.SpanContext().SpanID())
	}
	var action string
	for _, a := range s.Attributes {
		if a.Key == "audit.action" {
			action = a.Value.AsString()
		}
	}
	if action != "model.alias" {
		t.Errorf("audit.action %q", action)
	}
	if len(s.Events) != 1 || s.Events[0].Name != "batch written" || s.Events[0].Attributes[0].Value.AsInt64() != 1 {
		t.Errorf("events %+v, want one batch of 1", s.Events)
	}

	// A refused entry ends the span with its error.
	cctx, caller := tp.Tracer("test").Start(ctx, "caller")
	if _, err := l.Append(cctx, audit.Entry{Action: "x"}); err == nil {
		t.Fatal("an entry without actor was appended")
	}
	caller.End()
	if s := spans.GetSpans()[2]; s.Name != "audit.append" || s.Status.Code.String() != "Error" {
		t.Errorf("refused append: span %q status %v", s.Name, s.Status)
	}
}
