package redis

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the tracer of the store's spans.
const tracerName = "github.com/xinyi-platform/xinyi/features/redis"

// noSpan is a no-op span.
var noSpan = trace.SpanFromContext(context.Background())

// startSpan starts a client span under the recording span in ctx, from that span's
// provider; without one it returns ctx and a no-op span, at no cost. The store never
// starts a trace of its own: its lookups are steps of the caller's.
func startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	sp := trace.SpanFromContext(ctx)
	if !sp.IsRecording() {
		return ctx, noSpan
	}
	return sp.TracerProvider().Tracer(tracerName).Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
}

// endSpan ends span, recording err as its error status.
func endSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
