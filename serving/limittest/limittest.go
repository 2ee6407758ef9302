// Package limittest is the one contract suite every serving.Limiter passes: the
// in-process serving.RateLimiter and the Redis-backed serving/redislimit run the
// same tests, on a clock the suite moves.
//
//	limittest.Run(t, func(t *testing.T, rate float64, burst int, now func() time.Time) (serving.Limiter, serving.Limiter) {
//		return serving.NewRateLimiter(rate, burst, now), nil
//	})
package limittest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/serving"
)

// Open returns a limiter of rate requests per second and bursts of burst that
// reads the time from now, on state no other test shares. For a limiter whose
// state is shared between processes, peer is a second instance on the same
// state (another replica); for a process-local one it is nil.
type Open func(t *testing.T, rate float64, burst int, now func() time.Time) (l, peer serving.Limiter)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// allows asks l n times for key and returns the answers.
func allows(l serving.Limiter, key string, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = l.Allow(context.Background(), key)
	}
	return out
}

func repeat(v bool, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Run runs the contract against the limiters open returns.
func Run(t *testing.T, open Open) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t.Run("burst then refusal", func(t *testing.T) {
		clk := NewClock(start)
		l, _ := open(t, 10, 3, clk.Now)
		if got, want := allows(l, "a", 4), []bool{true, true, true, false}; !slices.Equal(got, want) {
			t.Fatalf("burst of 3: %v, want %v", got, want)
		}
		if !l.Allow(context.Background(), "b") {
			t.Fatal("key b was refused: keys share a bucket")
		}
	})
	t.Run("refill over time", func(t *testing.T) {
		clk := NewClock(start)
		l, _ := open(t, 10, 3, clk.Now)
		allows(l, "a", 3)
		clk.Add(250 * time.Millisecond) // 10/s × 0.25 s = 2.5 tokens
		if got, want := allows(l, "a", 3), []bool{true, true, false}; !slices.Equal(got, want) {
			t.Fatalf("after 250ms: %v, want %v", got, want)
		}
		clk.Add(50 * time.Millisecond) // 0.5 left + 0.5 = 1 token
		if got, want := allows(l, "a", 2), []bool{true, false}; !slices.Equal(got, want) {
			t.Fatalf("after 50ms more: %v, want %v", got, want)
		}
	})
	t.Run("refill stops at the burst", func(t *testing.T) {
		clk := NewClock(start)
		l, _ := open(t, 10, 3, clk.Now)
		allows(l, "a", 3)
		clk.Add(time.Hour)
		if got, want := allows(l, "a", 4), []bool{true, true, true, false}; !slices.Equal(got, want) {
			t.Fatalf("after an hour: %v, want %v", got, want)
		}
	})
	t.Run("slow rate", func(t *testing.T) {
		clk := NewClock(start)
		l, _ := open(t, 0.5, 1, clk.Now) // one request every 2 s
		if got, want := allows(l, "a", 2), []bool{true, false}; !slices.Equal(got, want) {
			t.Fatalf("start: %v, want %v", got, want)
		}
		clk.Add(time.Second)
		if l.Allow(context.Background(), "a") {
			t.Fatal("allowed after 1s at 0.5/s")
		}
		clk.Add(time.Second)
		if !l.Allow(context.Background(), "a") {
			t.Fatal("refused after 2s at 0.5/s")
		}
	})
	t.Run("burst below 1 is the rate", func(t *testing.T) {
		clk := NewClock(start)
		l, _ := open(t, 5, 0, clk.Now)
		if got, want := allows(l, "a", 6), append(repeat(true, 5), false); !slices.Equal(got, want) {
			t.Fatalf("rate 5, burst 0: %v, want %v", got, want)
		}
	})
	t.Run("rate 0 does not limit", func(t *testing.T) {
		l, _ := open(t, 0, 0, NewClock(start).Now)
		if got := allows(l, "a", 50); !slices.Equal(got, repeat(true, 50)) {
			t.Fatalf("rate 0: %v", got)
		}
	})
	t.Run("concurrent callers share one budget", func(t *testing.T) {
		clk := NewClock(start)
		l, peer := open(t, 1, 20, clk.Now)
		limiters := []serving.Limiter{l}
		if peer != nil {
			limiters = append(limiters, peer)
		}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				lim := limiters[g%len(limiters)]
				for range 10 {
					if lim.Allow(context.Background(), "k") {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != 20 {
			t.Fatalf("%d of 80 concurrent requests allowed over %d instance(s), want the burst of 20", got, len(limiters))
		}
	})
	t.Run("replicas share one budget", func(t *testing.T) {
		clk := NewClock(start)
		l, peer := open(t, 10, 4, clk.Now)
		if peer == nil {
			t.Skip("a process-local limiter has no peers")
		}
		got := []bool{l.Allow(context.Background(), "a"), peer.Allow(context.Background(), "a"),
			l.Allow(context.Background(), "a"), peer.Allow(context.Background(), "a"),
			l.Allow(context.Background(), "a"), peer.Allow(context.Background(), "a")}
		if want := []bool{true, true, true, true, false, false}; !slices.Equal(got, want) {
			t.Fatalf("alternating between two instances: %v, want %v", got, want)
		}
		clk.Add(100 * time.Millisecond) // one token, for whichever asks first
		if got, want := []bool{peer.Allow(context.Background(), "a"), l.Allow(context.Background(), "a")}, []bool{true, false}; !slices.Equal(got, want) {
			t.Fatalf("after 100ms: %v, want %v", got, want)
		}
	})
}
