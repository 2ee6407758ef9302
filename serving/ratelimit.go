package serving

import (
	"context"
	"sync"
	"time"
)

// Limiter decides whether one more request of key (an institution's API key) may
// run now. Both transports share one, so a key's budget spans HTTP and gRPC;
// RateLimiter keeps the budgets in this process, serving/redislimit in Redis so
// that every replica draws on one budget per key.
type Limiter interface {
	Allow(ctx context.Context, key string) bool
}

// RateLimiter is a token bucket per API key in this process: Rate requests per
// second sustained with bursts of Burst.
type RateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a limiter; rate <= 0 disables limiting (Allow always true).
// burst below 1 is taken as max(1, rate).
func NewRateLimiter(rate float64, burst int, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	b := float64(burst)
	if b < 1 {
		b = max(1, rate)
	}
	return &RateLimiter{rate: rate, burst: b, now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket and reports whether there was one.
func (l *RateLimiter) Allow(_ context.Context, key string) bool {
	if l == nil || l.rate <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 100000 { // keys are authenticated, but bound memory anyway
			clear(l.buckets)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
