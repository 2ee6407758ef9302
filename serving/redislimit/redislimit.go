// Package redislimit is serving's per-key rate limit kept in Redis, so that every
// serving replica draws on one budget per API key. It passes the same contract
// suite (serving/limittest) as the in-process serving.RateLimiter.
//
// Each key's state is one Redis string under the prefix: its theoretical arrival
// time (GCRA, the generic cell rate algorithm, which is a token bucket of Burst
// tokens refilled at Rate per second kept as a single number). One Lua script
// reads, decides and writes it atomically, so concurrent replicas never spend a
// token twice; it expires once the bucket would be full again (plus a minute), so
// idle keys cost nothing. Time is Redis's own clock unless Options.Now is set,
// so replicas with skewed clocks still agree.
//
// When Redis cannot be reached the decision follows Options.Unavailable: FailOpen
// (the default) allows the request, counts it and logs the outage once; FailClosed
// refuses it. After a failure Redis is not asked again for Options.RetryAfter, so
// an outage adds no latency to every request.
//
//	l, err := redislimit.Open(ctx, redislimit.Options{URL: "redis://127.0.0.1:6379/0", Rate: 500, Burst: 1000})
//	ok := l.Allow(ctx, institution+"/"+keyID)
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrUnavailable reports that Redis could not be reached or answered with an error.
var ErrUnavailable = errors.New("serving/redislimit: redis unavailable")

// Mode is what Allow answers while Redis is unavailable.
type Mode int

const (
	// FailOpen allows requests while Redis is unavailable. It is the default: the
	// limit shares capacity fairly between banks, it does not guard access
	// (authentication, consent and audit still apply to every request), and a
	// Redis outage should not stop every bank's credit decisions.
	FailOpen Mode = iota
	// FailClosed refuses requests while Redis is unavailable, for deployments
	// where an unmetered request costs more than a refused one.
	FailClosed
)

// String returns "fail-open" or "fail-closed".
func (m Mode) String() string {
	if m == FailClosed {
		return "fail-closed"
	}
	return "fail-open"
}

// Options configure a Limiter.
type Options struct {
	// URL names the Redis server, as go-redis's ParseURL reads it
	// ("redis://[user:password@]host:port/db", "rediss://" for TLS). Default
	// "redis://127.0.0.1:6379/0". Ignored when Client is set.
	URL string
	// Client is an existing client to use (Cluster, Sentinel); Close leaves it open.
	Client goredis.UniversalClient
	// Prefix namespaces every key. Default "xinyi:ratelimit:".
	Prefix string
	// Rate is the sustained requests per second per key; <= 0 disables limiting
	// (Allow always true, Redis never asked).
	Rate float64
	// Burst is the most requests a key may make at once; below 1 it is max(1, Rate).
	Burst int
	// Unavailable is the answer while Redis cannot be reached. Default FailOpen.
	Unavailable Mode
	// Timeout bounds each call to Redis. Default 50ms.
	Timeout time.Duration
	// RetryAfter is how long after a failure Allow answers by Unavailable without
	// asking Redis. Default 1s.
	RetryAfter time.Duration
	// Now, when set, is the clock of every decision (tests); nil means Redis's
	// own clock, which every replica shares.
	Now func() time.Time
	// Logger receives the start and end of an outage; nil means silent.
	Logger *slog.Logger
	// Health, when set, hears of the start of an outage (component "ratelimit"
	// degraded, with the reason) and of its end (an empty reason). serving.Metrics
	// is one; nil means nobody.
	Health Health
}

// Health is told when a dependency degrades and recovers.
type Health interface {
	SetDegraded(component, reason string)
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.URL == "" {
		o.URL = "redis://127.0.0.1:6379/0"
	}
	if o.Prefix == "" {
		o.Prefix = "xinyi:ratelimit:"
	}
	if o.Timeout <= 0 {
		o.Timeout = 50 * time.Millisecond
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Limiter is a serving.Limiter over Redis. It is safe for concurrent use.
type Limiter struct {
	opts   Options
	client goredis.UniversalClient
	owned  bool
	// interval is the time one token takes to refill and limit the time Burst
	// tokens take, both in microseconds, as the script's arguments.
	interval, limit string

	downUntil   atomic.Int64 // unix ns before which Redis is not asked
	unavailable atomic.Int64
	down        atomic.Bool // between the logged start and end of an outage
}

// Open connects to Redis and checks it answers, so a wrong address shows at
// start; outages after that follow Options.Unavailable.
func Open(ctx context.Context, opts Options) (*Limiter, error) {
	opts.EnsureDefaults()
	if opts.Unavailable != FailOpen && opts.Unavailable != FailClosed {
		return nil, fmt.Errorf("serving/redislimit: unknown Unavailable mode %d", opts.Unavailable)
	}
	l := &Limiter{opts: opts, client: opts.Client}
	burst := float64(opts.Burst)
	if burst < 1 {
		burst = max(1, opts.Rate)
	}
	if opts.Rate > 0 {
		interval := 1e6 / opts.Rate
		l.interval = strconv.FormatFloat(interval, 'g', -1, 64)
		l.limit = strconv.FormatFloat(interval*burst, 'g', -1, 64)
	}
	if l.client == nil {
		ro, err := goredis.ParseURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("serving/redislimit: redis URL %q: %w", opts.URL, err)
		}
		l.client = goredis.NewClient(ro)
		l.owned = true
	}
	if err := l.client.Ping(ctx).Err(); err != nil {
		l.Close()
		return nil, fmt.Errorf("%w: ping: %v", ErrUnavailable, err)
	}
	return l, nil
}

// Close closes the client if the limiter opened it.
func (l *Limiter) Close() error {
	if l.owned {
		return l.client.Close()
	}
	return nil
}

// Unavailable returns how many decisions were made without Redis, by
// Options.Unavailable, since Open.
func (l *Limiter) Unavailable() int64 { return l.unavailable.Load() }

// allow is GCRA on one key: tat is when the bucket would be full again; a
// request is allowed when, after it, the bucket is not beyond Burst tokens
// empty. ARGV: token interval and Burst × interval in µs, and the time in µs
// (empty: Redis's TIME). The key expires a minute after the bucket is full.
var allow = goredis.NewScript(`
local now = tonumber(ARGV[3])
if not now then
	local t = redis.call('TIME')
	now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then tat = now end
local new = tat + interval
if new - now > limit + 0.001 then
	return 0
end
redis.call('SET', KEYS[1], string.format('%.17g', new), 'PX', math.ceil((new - now) / 1000) + 60000)
return 1
`)

// Allow takes one token from key's budget and reports whether there was one.
func (l *Limiter) Allow(ctx context.Context, key string) bool {
	if l.opts.Rate <= 0 {
		return true
	}
	if time.Now().UnixNano() < l.downUntil.Load() {
		return l.without()
	}
	var now string
	if l.opts.Now != nil {
		now = strconv.FormatInt(l.opts.Now().UnixMicro(), 10)
	}
	cctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	n, err := allow.Run(cctx, l.client, []string{l.opts.Prefix + key}, l.interval, l.limit, now).Int()
	cancel()
	if err != nil {
		if ctx.Err() == nil { // the caller still waits: Redis failed, not the request
			l.failed(err)
		}
		return l.without()
	}
	l.recovered()
	return n == 1
}

// without answers by Options.Unavailable.
func (l *Limiter) without() bool {
	l.unavailable.Add(1)
	return l.opts.Unavailable == FailOpen
}

func (l *Limiter) failed(err error) {
	l.downUntil.Store(time.Now().Add(l.opts.RetryAfter).UnixNano())
	if l.down.CompareAndSwap(false, true) {
		err = fmt.Errorf("%w: %v", ErrUnavailable, err)
		l.opts.Logger.Warn("rate limit: redis unavailable; deciding without it",
			"mode", l.opts.Unavailable.String(), "retry_after", l.opts.RetryAfter, "err", err)
		if l.opts.Health != nil {
			l.opts.Health.SetDegraded("ratelimit", fmt.Sprintf("%v; requests are decided %s", err, l.opts.Unavailable))
		}
	}
}

func (l *Limiter) recovered() {
	if l.down.Load() && l.down.CompareAndSwap(true, false) {
		l.opts.Logger.Info("rate limit: redis available again", "decided_without", l.unavailable.Load())
		if l.opts.Health != nil {
			l.opts.Health.SetDegraded("ratelimit", "")
		}
	}
}
