package serving

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the tracer of serving's spans.
const tracerName = "github.com/xinyi-platform/xinyi/serving"

// globalTracer follows the process's tracer provider (otel.SetTracerProvider); a
// no-op until one is set.
var globalTracer = otel.Tracer(tracerName)

// noSpan is what a step gets when nothing records: a no-op span.
var noSpan = trace.SpanFromContext(context.Background())

// startRoot starts an operation's span: a child of the span in ctx, from that span's
// provider, while it records; otherwise from the process's provider.
func startRoot(ctx context.Context, name string) (context.Context, trace.Span) {
	if sp := trace.SpanFromContext(ctx); sp.IsRecording() {
		return sp.TracerProvider().Tracer(tracerName).Start(ctx, name)
	}
	return globalTracer.Start(ctx, name)
}

// startStep starts a step's span under the recording span in ctx; without one it
// returns ctx and a no-op span, at no cost (a child of a span that is not sampled
// would not be sampled either).
func startStep(ctx context.Context, name string) (context.Context, trace.Span) {
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
