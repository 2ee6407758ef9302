package serving_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// children are the names of the spans whose parent is id, in the order they ended.
func children(spans tracetest.SpanStubs, parent tracetest.SpanStub) []string {
	var out []string
	for _, s := range spans {
		if s.Parent.SpanID() == parent.SpanContext.SpanID() && s.SpanContext.TraceID() == parent.SpanContext.TraceID() {
			out = append(out, s.Name)
		}
	}
	return out
}

func named(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %d", name, len(spans))
	return tracetest.SpanStub{}
}

// TestAssessSpans: under a recording span an assessment is one "assess" span whose
// steps are its children in order; a failing step carries the error, and so does
// "assess". Without a span nothing is recorded.
func TestAssessSpans(t *testing.T) {
	env := servingtest.New(t)
	ctx := context.Background()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(ctx)

	if _, err := env.Service.Assess(ctx, env.Bank, serving.Request{Company: env.Good}); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans recorded without a traced caller", n)
	}

	pctx, parent := tp.Tracer("test").Start(ctx, "request")
	d, err := env.Service.Assess(pctx, env.Bank, serving.Request{Company: env.Good})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	req := named(t, spans, "request")
	if got := children(spans, req); !slices.Equal(got, []string{"assess"}) {
		t.Fatalf("request's children %v", got)
	}
	assess := named(t, spans, "assess")
	if got, want := children(spans, assess), []string{"authorize", "features", "score", "explain", "audit"}; !slices.Equal(got, want) {
		t.Errorf("assess's children %v, want %v", got, want)
	}
	attrs := map[string]string{}
	for _, a := range assess.Attributes {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	if attrs["xinyi.assessment_id"] != d.ID || attrs["xinyi.policy_version"] != "svc-1" {
		t.Errorf("assess attributes %v, want the assessment id %s", attrs, d.ID)
	}
	for _, s := range spans {
		for _, a := range s.Attributes {
			if a.Value.Emit() == env.Good {
				t.Errorf("span %s names the company in %s", s.Name, a.Key)
			}
		}
	}

	// A company the online store lacks: the features step fails, and assess with it.
	exp.Reset()
	env.Auth.Grant(env.Bank.InstitutionID, env.Unknown)
	pctx, parent = tp.Tracer("test").Start(ctx, "request")
	_, err = env.Service.Assess(pctx, env.Bank, serving.Request{Company: env.Unknown})
	parent.End()
	if !errors.Is(err, serving.ErrUnknownCompany) {
		t.Fatalf("unknown company: %v", err)
	}
	spans = exp.GetSpans()
	assess = named(t, spans, "assess")
	if got := children(spans, assess); !slices.Equal(got, []string{"authorize", "features"}) {
		t.Errorf("a failed assessment's steps %v", got)
	}
	for _, name := range []string{"features", "assess"} {
		if s := named(t, spans, name); s.Status.Code != codes.Error || len(s.Events) == 0 {
			t.Errorf("%s: status %v, events %v; want the error", name, s.Status, s.Events)
		}
	}
}
