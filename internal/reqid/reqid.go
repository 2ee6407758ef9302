// Package reqid gives every request a request id that follows it through the logs:
// the caller's own X-Request-Id when it is a sane token (1 to 64 characters of
// [A-Za-z0-9._-]), a fresh random one otherwise. The id is echoed in the answer's
// X-Request-Id header (gRPC: the x-request-id header metadata), carried in the
// context, and added as request_id to every slog line logged with that context,
// beside trace_id and span_id while an OpenTelemetry span records.
//
// Invariants: an id is never longer than MaxLen nor holds anything but the token
// characters, so it is safe in a header, a log line and a JSON body; Middleware
// keeps an id an outer Middleware already set, so wrapping both a whole mux and one
// of its handlers gives one id per request. The package depends only on the
// OpenTelemetry API, never its SDK.
//
//	h = reqid.Middleware(mux)
//	logger = reqid.Logger(logger)     // logger.ErrorContext(r.Context(), ...) carries request_id
//	id := reqid.FromContext(r.Context())
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

const (
	// Header is the HTTP header that carries a request id both ways.
	Header = "X-Request-Id"
	// MetadataKey is the gRPC metadata key that carries it.
	MetadataKey = "x-request-id"
	// MaxLen is the longest id taken from a caller.
	MaxLen = 64
	// LogKey is the attribute a log line carries the id in.
	LogKey = "request_id"
	// SpanAttribute is the span attribute Middleware records the id in.
	SpanAttribute = "xinyi.request_id"
)

// Valid reports whether id is a token of 1 to MaxLen characters of [A-Za-z0-9._-].
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// New returns a fresh id: 16 random bytes in hex.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Accept returns incoming when it is Valid, else a New id.
func Accept(incoming string) string {
	if Valid(incoming) {
		return incoming
	}
	return New()
}

type ctxKey struct{}

// WithID returns ctx carrying id.
func WithID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the id ctx carries, "" if none.
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Middleware gives each request an id (Accept of its X-Request-Id header), sets it
// on the answer's X-Request-Id header before next runs, puts it in the request's
// context and on the recording span there, if any. A request whose context already
// carries an id (an outer Middleware) passes through unchanged.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if FromContext(r.Context()) != "" {
			next.ServeHTTP(w, r)
			return
		}
		id := Accept(r.Header.Get(Header))
		w.Header()[Header] = []string{id}
		ctx := WithID(r.Context(), id)
		if sp := trace.SpanFromContext(ctx); sp.IsRecording() {
			sp.SetAttributes(attribute.String(SpanAttribute, id))
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Logger returns l with its handler wrapped by NewLogHandler, or l itself when it is
// already wrapped (nil: slog.Default(), wrapped).
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	if _, ok := l.Handler().(logHandler); ok {
		return l
	}
	return slog.New(NewLogHandler(l.Handler()))
}

// NewLogHandler wraps h so that each record logged with a context adds the context's
// request id as request_id and, while the context's span records, its trace_id and
// span_id. Inside a group (WithGroup) they land in that group, as any attribute does.
func NewLogHandler(h slog.Handler) slog.Handler {
	if lh, ok := h.(logHandler); ok {
		return lh
	}
	return logHandler{h}
}

type logHandler struct{ h slog.Handler }

func (l logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return l.h.Handle(ctx, r)
	}
	id := FromContext(ctx)
	sp := trace.SpanFromContext(ctx)
	recording := sp.IsRecording()
	if id == "" && !recording {
		return l.h.Handle(ctx, r)
	}
	r = r.Clone()
	if id != "" {
		r.AddAttrs(slog.String(LogKey, id))
	}
	if recording {
		sc := sp.SpanContext()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.h.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.h.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler {
	return logHandler{l.h.WithGroup(name)}
}
