package serving

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the tracer of serving's spans.
const tracerName = "github.com/xinyi-platform/xinyi/serving"

// noSpan is what an operation gets when nothing records: a no-op span.
var noSpan = trace.SpanFromContext(context.Background())

// startSpan starts a span under the recording span in ctx, from that span's
// provider. Without one it returns ctx and a no-op span, at no cost: serving never
// starts a trace of its own (a child of a span that is not sampled would not be
// sampled either), so with tracing off the hot path allocates nothing for it.
func startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	sp := trace.SpanFromContext(ctx)
	if !sp.IsRecording() {
		return ctx, noSpan
	}
	return sp.TracerProvider().Tracer(tracerName).Start(ctx, name)
}

// endSpan ends span, recording err as its error status.
func endSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
