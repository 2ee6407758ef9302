// Package telemetry sets up the process's OpenTelemetry tracing: an SDK tracer
// provider that exports spans over OTLP/HTTP to a collector (Jaeger, Tempo, the
// OpenTelemetry Collector, ...), W3C trace context propagation, and the server
// instrumentation of the HTTP and gRPC listeners (otelhttp, otelgrpc) with request
// ids (internal/reqid). It is the one package below cmd that uses the SDK: the
// libraries (serving, internal/audit, ...) start their spans through the
// OpenTelemetry API alone, from the provider of the recording span their caller's
// context carries, so they trace exactly when this package's server span records.
//
// Tracing is off unless Options.Endpoint names a collector: the provider is then a
// no-op, no span is made or sent, and the handlers add only request ids. On, a new
// trace is sampled with Options.SampleRatio; a request that arrives with a
// traceparent header keeps its caller's decision.
//
//	tr, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "xinyi", Endpoint: "otel-collector:4318", Insecure: true})
//	defer tr.Shutdown(context.WithoutCancel(ctx))
//	tr.SetGlobal()                                  // for instrumentation that uses the global provider
//	srv := &http.Server{Handler: tr.Handler(mux)}   // server spans and request ids for every route
//	grpcSrv := grpc.NewServer(tr.GRPCServerOptions()...)
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"

	"github.com/xinyi-platform/xinyi/internal/reqid"
)

// ErrInvalid is wrapped by Setup's errors about its options.
var ErrInvalid = errors.New("telemetry: invalid options")

// Options configure Setup.
type Options struct {
	// ServiceName is the service.name of every span's resource. Default "xinyi".
	ServiceName string
	// Endpoint is the OTLP/HTTP collector: "host:port" (spans go to
	// /v1/traces there) or a URL "http(s)://host:port[/path]" (an empty path
	// becomes /v1/traces). Empty: tracing is off, with a no-op provider.
	Endpoint string
	// Insecure sends to a "host:port" Endpoint over plain HTTP instead of TLS (a
	// URL says which itself).
	Insecure bool
	// SampleRatio is the fraction of new traces sampled, in (0, 1]. Default 1 (all).
	// A request that carries a traceparent keeps its caller's decision.
	SampleRatio float64
	// Exporter, when set, replaces the OTLP exporter while tracing is on (tests
	// inject an in-memory one; Endpoint, which turns tracing on, is then only a
	// name). Spans go to it in batches; ForceFlush sends them.
	Exporter sdktrace.SpanExporter
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.ServiceName == "" {
		o.ServiceName = "xinyi"
	}
	if o.SampleRatio == 0 {
		o.SampleRatio = 1
	}
}

// Tracing is the process's tracing: a provider, a propagator and the server
// instrumentation that uses them.
type Tracing struct {
	provider   trace.TracerProvider
	sdk        *sdktrace.TracerProvider // nil while off
	propagator propagation.TextMapPropagator
}

// Setup checks the options and builds the tracing. It does not change the
// process's global provider (SetGlobal does) and does not dial the collector: an
// unreachable one costs dropped spans, logged by OpenTelemetry, never a request.
func Setup(ctx context.Context, opts Options) (*Tracing, error) {
	opts.EnsureDefaults()
	t := &Tracing{
		provider:   noop.NewTracerProvider(),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	if math.IsNaN(opts.SampleRatio) || opts.SampleRatio <= 0 || opts.SampleRatio > 1 {
		return nil, fmt.Errorf("%w: sample ratio %v is not in (0, 1]", ErrInvalid, opts.SampleRatio)
	}
	if opts.Endpoint == "" {
		return t, nil
	}
	exp := opts.Exporter
	if exp == nil {
		eo, err := endpointOptions(opts.Endpoint, opts.Insecure)
		if err != nil {
			return nil, err
		}
		if exp, err = otlptracehttp.New(ctx, eo...); err != nil {
			return nil, fmt.Errorf("telemetry: OTLP exporter for %s: %w", opts.Endpoint, err)
		}
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", opts.ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	t.sdk = sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.SampleRatio))),
	)
	t.provider = t.sdk
	return t, nil
}

// endpointOptions are the exporter options of an Endpoint.
func endpointOptions(endpoint string, insecure bool) ([]otlptracehttp.Option, error) {
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: OTLP endpoint %q is not an http(s)://host:port URL", ErrInvalid, endpoint)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		return []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String())}, nil
	}
	if host, port, err := net.SplitHostPort(endpoint); err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("%w: OTLP endpoint %q is neither host:port nor an http(s) URL", ErrInvalid, endpoint)
	}
	eo := []otlptracehttp.Option{otlptracehttp.WithEndpoint(endpoint)}
	if insecure {
		eo = append(eo, otlptracehttp.WithInsecure())
	}
	return eo, nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// TracerProvider is the provider: the SDK's while on, a no-op one while off.
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// Propagator reads and writes W3C trace context and baggage.
func (t *Tracing) Propagator() propagation.TextMapPropagator { return t.propagator }

// SetGlobal makes the provider and propagator the process's (otel.SetTracerProvider,
// otel.SetTextMapPropagator), for instrumentation that uses the global ones (an
// instrumented HTTP or database client). Xinyi's own packages do not: they trace
// under the span their caller's context carries.
func (t *Tracing) SetGlobal() {
	otel.SetTracerProvider(t.provider)
	otel.SetTextMapPropagator(t.propagator)
}

// ForceFlush exports the spans ended so far.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.ForceFlush(ctx)
}

// Shutdown exports what is left and stops the provider; spans started after it are
// dropped.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// untraced reports requests that get no span: metrics scrapes and health probes,
// which would otherwise fill the traces every few seconds.
func untraced(r *http.Request) bool {
	return r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, "/v2/health/")
}

// Handler wraps next, a whole mux, so that every request gets a request id
// (reqid.Middleware) and, while tracing is on, a server span continuing the
// caller's trace context, named "METHOD pattern" after the route next matches when
// it is an *http.ServeMux (handlers inside may rename it to a finer route). Metrics
// scrapes and health probes get no span.
func (t *Tracing) Handler(next http.Handler) http.Handler {
	h := reqid.Middleware(next)
	if t.sdk == nil {
		return h
	}
	mux, _ := next.(*http.ServeMux)
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return !untraced(r) }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if mux != nil {
				if _, p := mux.Handler(r); p != "" {
					if strings.Contains(p, " ") {
						return p
					}
					return r.Method + " " + p
				}
			}
			return r.Method
		}),
	)
}

// GRPCServerOptions are the options of a gRPC server whose calls get server spans
// continuing the caller's trace context (otelgrpc) while tracing is on; none while
// off. Request ids are the server's own business (serving/grpcapi gives them).
func (t *Tracing) GRPCServerOptions() []grpc.ServerOption {
	if t.sdk == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
	))}
}
