package metadb_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// TestLease runs the lease contract on both engines: one holder at a time with
// rising tokens, waiting acquirers, renewal past the TTL, takeover of an
// abandoned lease and a guard that refuses once the lease is lost.
func TestLease(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		opts := metadb.LeaseOptions{TTL: 600 * time.Millisecond, Poll: 5 * time.Millisecond}

		t.Run("exclusive with rising tokens", func(t *testing.T) {
			var inside, most atomic.Int32
			var mu sync.Mutex
			var tokens []int64
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					for range 3 {
						l, err := db.AcquireLease(ctx, "excl", opts)
						if err != nil {
							t.Error(err)
							return
						}
						n := inside.Add(1)
						if n > most.Load() {
							most.Store(n)
						}
						mu.Lock()
						tokens = append(tokens, l.Token())
						mu.Unlock()
						time.Sleep(2 * time.Millisecond)
						inside.Add(-1)
						if err := l.Release(ctx); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			if most.Load() != 1 {
				t.Fatalf("%d holders at once", most.Load())
			}
			// Each acquisition took the next token: 1..18 in order of acquisition.
			if len(tokens) != 18 {
				t.Fatalf("%d acquisitions", len(tokens))
			}
			for i, tok := range tokens {
				if tok != int64(i+1) {
					t.Fatalf("tokens %v, want 1..18 in order", tokens)
				}
			}
		})

		t.Run("renewed past its TTL", func(t *testing.T) {
			l, err := db.AcquireLease(ctx, "renew", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release(ctx)
			wctx, cancel := context.WithTimeout(ctx, 3*opts.TTL)
			defer cancel()
			if other, err := db.AcquireLease(wctx, "renew", opts); err == nil {
				other.Release(ctx)
				t.Fatal("a second holder took a renewed lease")
			} else if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			gctx, done, err := l.Guard(ctx)
			if err != nil {
				t.Fatalf("guard of a held lease: %v", err)
			}
			if dl, ok := gctx.Deadline(); !ok || time.Until(dl) > opts.TTL/2 {
				t.Fatalf("guard deadline %v, want within half a TTL", dl)
			}
			done()
		})

		t.Run("abandoned lease is taken after its TTL", func(t *testing.T) {
			// A second database handle plays a process that stops renewing: its
			// lease is left in the table as a killed process leaves it.
			dead, err := db.AcquireLease(ctx, "abandoned", metadb.LeaseOptions{TTL: opts.TTL, Poll: opts.Poll, Holder: "dead"})
			if err != nil {
				t.Fatal(err)
			}
			dead.StopRenewing()
			start := time.Now()
			l, err := db.AcquireLease(ctx, "abandoned", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release(ctx)
			if waited := time.Since(start); waited < opts.TTL/2 || waited > 5*opts.TTL {
				t.Fatalf("took the abandoned lease after %v, TTL %v", waited, opts.TTL)
			}
			if l.Token() != dead.Token()+1 {
				t.Fatalf("token %d after %d", l.Token(), dead.Token())
			}
			// The old holder is fenced off.
			if _, _, err := dead.Guard(ctx); !errors.Is(err, metadb.ErrLeaseLost) {
				t.Fatalf("guard of a taken lease: %v, want ErrLeaseLost", err)
			}
			select {
			case <-dead.Context().Done():
			default:
				t.Fatal("the lost lease's context is not done")
			}
			// Releasing the lost lease does not free the new holder's.
			if err := dead.Release(ctx); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, opts.TTL/3)
			defer cancel()
			if other, err := db.AcquireLease(wctx, "abandoned", opts); err == nil {
				other.Release(ctx)
				t.Fatal("the old holder's release freed the new holder's lease")
			}
		})

		t.Run("names are independent", func(t *testing.T) {
			a, err := db.AcquireLease(ctx, "a", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Release(ctx)
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			b, err := db.AcquireLease(wctx, "b", opts)
			if err != nil {
				t.Fatal(err)
			}
			b.Release(ctx)
		})
	})
}
