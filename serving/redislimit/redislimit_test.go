package redislimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/limittest"
	"github.com/xinyi-platform/xinyi/serving/redislimit"
)

const addr = "127.0.0.1:6379"

// prefix returns a random key prefix whose keys are removed when the test ends,
// or skips (fails under CI) when Redis is not reachable.
func prefix(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server at %s is required under CI: %v", addr, err)
		}
		t.Skipf("redis-server at %s not reachable (start it with make services): %v", addr, err)
	}
	var r [6]byte
	rand.Read(r[:])
	p := "xinyi:test:ratelimit:" + hex.EncodeToString(r[:]) + ":"
	t.Cleanup(func() {
		defer c.Close()
		keys, err := c.Keys(ctx, p+"*").Result()
		if err == nil && len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return p
}

func open(t testing.TB, opts redislimit.Options) *redislimit.Limiter {
	t.Helper()
	l, err := redislimit.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestContract(t *testing.T) {
	limittest.Run(t, func(t *testing.T, rate float64, burst int, now func() time.Time) (serving.Limiter, serving.Limiter) {
		opts := redislimit.Options{URL: "redis://" + addr + "/0", Prefix: prefix(t), Rate: rate, Burst: burst, Now: now}
		return open(t, opts), open(t, opts)
	})
}

// TestServerClock: without Options.Now the decision runs on Redis's clock, and
// a key's state expires a minute after its bucket would be full again.
func TestServerClock(t *testing.T) {
	p := prefix(t)
	l := open(t, redislimit.Options{URL: "redis://" + addr + "/0", Prefix: p, Rate: 0.1, Burst: 3}) // a token every 10 s
	ctx := context.Background()
	var got []bool
	for range 4 {
		got = append(got, l.Allow(ctx, "k"))
	}
	if got[0] != true || got[1] != true || got[2] != true || got[3] != false {
		t.Fatalf("burst of 3 on the server clock: %v", got)
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	ttl, err := c.PTTL(ctx, p+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Full again 30 s after the first request, plus a minute.
	if ttl <= 60*time.Second || ttl > 90*time.Second {
		t.Fatalf("key TTL %v, want in (60s, 90s]", ttl)
	}
}

// proxy forwards TCP connections to Redis until cut, and again once restored.
type proxy struct {
	t     *testing.T
	addr  string
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newProxy(t *testing.T) *proxy {
	p := &proxy{t: t, addr: "127.0.0.1:0"}
	p.restore()
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, r)
			p.mu.Unlock()
			go func() { io.Copy(r, c); r.Close() }()
			go func() { io.Copy(c, r); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// health records what a Limiter reports as "component: reason".
type health struct {
	mu   sync.Mutex
	said []string
}

func (h *health) SetDegraded(component, reason string) {
	h.mu.Lock()
	h.said = append(h.said, component+": "+reason)
	h.mu.Unlock()
}

func (h *health) get() []string { h.mu.Lock(); defer h.mu.Unlock(); return slices.Clone(h.said) }

// TestRedisUnavailable: while Redis cannot be reached the answer is the
// configured mode's, counted, and Redis is asked again after RetryAfter.
func TestRedisUnavailable(t *testing.T) {
	for _, tc := range []struct {
		mode redislimit.Mode
		want bool
	}{{redislimit.FailOpen, true}, {redislimit.FailClosed, false}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			px := newProxy(t)
			clk := limittest.NewClock(time.Unix(1e9, 0))
			health := &health{}
			l := open(t, redislimit.Options{URL: "redis://" + px.addr + "/0", Prefix: prefix(t), Rate: 1, Burst: 2,
				Unavailable: tc.mode, RetryAfter: 100 * time.Millisecond, Now: clk.Now, Health: health})
			ctx := context.Background()
			if !l.Allow(ctx, "k") || !l.Allow(ctx, "k") || l.Allow(ctx, "k") {
				t.Fatal("burst of 2 not kept while Redis is up")
			}
			px.cut()
			for i := range 5 {
				if got := l.Allow(ctx, "k"); got != tc.want {
					t.Fatalf("request %d while Redis is down: %v, want %v", i, got, tc.want)
				}
			}
			if n := l.Unavailable(); n != 5 {
				t.Fatalf("Unavailable() = %d, want 5", n)
			}
			if got := health.get(); len(got) != 1 || !strings.Contains(got[0], "ratelimit: serving/redislimit: redis unavailable") || !strings.Contains(got[0], tc.mode.String()) {
				t.Fatalf("health heard %q, want one ratelimit degradation naming %s", got, tc.mode)
			}
			px.restore()
			time.Sleep(150 * time.Millisecond) // past RetryAfter
			// The budget in Redis is as it was: empty until the clock moves.
			if l.Allow(ctx, "k") {
				t.Fatal("allowed from an empty budget after Redis came back")
			}
			clk.Add(time.Second)
			if !l.Allow(ctx, "k") {
				t.Fatal("refused a refilled token after Redis came back")
			}
			if n := l.Unavailable(); n != 5 {
				t.Fatalf("Unavailable() = %d after Redis came back, want 5", n)
			}
			if got := health.get(); len(got) != 2 || got[1] != "ratelimit: " {
				t.Fatalf("health heard %q, want the degradation then its end", got)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	if _, err := redislimit.Open(ctx, redislimit.Options{URL: "http://" + addr}); err == nil {
		t.Fatal("Open accepted an http URL")
	}
	if _, err := redislimit.Open(ctx, redislimit.Options{URL: "redis://" + addr, Unavailable: 7}); err == nil {
		t.Fatal("Open accepted an unknown mode")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := redislimit.Open(ctx, redislimit.Options{URL: "redis://" + closed}); !errors.Is(err, redislimit.ErrUnavailable) {
		t.Fatalf("Open on a closed port: %v, want ErrUnavailable", err)
	}
}

// BenchmarkAllow is one decision in Redis per request on a spread of keys.
func BenchmarkAllow(b *testing.B) {
	l := open(b, redislimit.Options{URL: "redis://" + addr + "/0", Prefix: prefix(b), Rate: 1e9, Burst: 1e9})
	ctx := context.Background()
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "bank/" + strconv.Itoa(i)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if !l.Allow(ctx, keys[i%len(keys)]) {
			b.Fatal("refused")
		}
	}
}
