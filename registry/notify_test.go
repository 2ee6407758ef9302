package registry_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/registry"
)

// pgPair opens two registries on one PostgreSQL schema through two metadb
// handles, as two processes would: a, which makes changes, and b, which waits
// for them with registry options regB on a handle opened with dbB. Model "pd"
// has versions 1 and 2.
func pgPair(t *testing.T, regB registry.Options, dbB metadb.Options) (a, b *env) {
	t.Helper()
	ctx := context.Background()
	dsn := metadbtest.PostgresDSN(t)
	blobDir := t.TempDir()
	open := func(opts metadb.Options) *metadb.DB {
		db, err := metadb.Open(ctx, dsn, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a = newEnv(t, open(metadb.Options{}), openLocal(t, blobDir))
	b = reopenEnvOpts(t, open(dbB), blobDir, regB)
	a.createModel(t, a.alice, "pd", registry.TaskPD, false)
	for _, f := range []string{"binary_depthwise", "binary_lossguide"} {
		if _, err := a.reg.Register(ctx, a.alice, "pd", xgbUpload(t, f+".json", f)); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

// startListening makes b's registry open its listening connection (the first
// wait does) and waits until the server shows it listening.
func startListening(t *testing.T, b *env) int64 {
	t.Helper()
	_, head, err := b.reg.WaitChanges(context.Background(), b.alice, 0, 1000, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitListeners(t, b.db, 1)
	return head
}

func waitListeners(t *testing.T, db *metadb.DB, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); metadbtest.Listeners(t, db) != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d listening connections after 10s, want %d", metadbtest.Listeners(t, db), want)
		}
	}
}

// moveSeen moves pd's challenger alias through a to version and returns how long
// after the move committed a waiter on b, already waiting, returned it.
func moveSeen(t *testing.T, a, b *env, after int64, version int) (time.Duration, int64) {
	t.Helper()
	ctx := context.Background()
	type result struct {
		cs   []registry.Change
		last int64
		at   time.Time
		err  error
	}
	done := make(chan result, 1)
	go func() {
		cs, last, err := b.reg.WaitChanges(ctx, b.alice, after, 10, 30*time.Second)
		done <- result{cs, last, time.Now(), err}
	}()
	time.Sleep(50 * time.Millisecond) // the waiter is waiting
	if _, err := a.reg.SetAlias(ctx, a.alice, "pd", "challenger", version); err != nil {
		t.Fatal(err)
	}
	moved := time.Now()
	r := <-done
	if r.err != nil || len(r.cs) != 1 || r.cs[0].Kind != "alias.moved" || r.cs[0].Alias != "challenger" || r.cs[0].Version != version {
		t.Fatalf("b got %+v, %v; want challenger moved to %d", r.cs, r.err, version)
	}
	return max(0, r.at.Sub(moved)), r.last
}

// TestFeedNotify: with polling set to a minute, only the notification sent in
// the change's transaction explains a waiter in another process seeing an alias
// move at once.
func TestFeedNotify(t *testing.T) {
	t.Parallel()
	a, b := pgPair(t, registry.Options{PollInterval: time.Minute}, metadb.Options{})
	after := startListening(t, b)
	var lat []time.Duration
	for i := range 5 {
		var d time.Duration
		d, after = moveSeen(t, a, b, after, i%2+1)
		lat = append(lat, d)
	}
	slices.Sort(lat)
	t.Logf("alias move seen by the other instance after %v", lat)
	if lat[len(lat)/2] > 100*time.Millisecond || lat[len(lat)-1] > 5*time.Second {
		t.Fatalf("alias moves seen after %v; want a median within 100ms", lat)
	}
}

// TestFeedListenerLoss kills the listening connection: the feed still delivers,
// by polling while the connection is down, and by notification once it is back.
func TestFeedListenerLoss(t *testing.T) {
	t.Parallel()
	t.Run("polls while down", func(t *testing.T) {
		t.Parallel()
		// The listener waits a minute before reconnecting: only polling can deliver.
		a, b := pgPair(t, registry.Options{PollInterval: 200 * time.Millisecond}, metadb.Options{ListenBackoff: time.Minute})
		after := startListening(t, b)
		if n := metadbtest.TerminateListeners(t, b.db); n != 1 {
			t.Fatalf("terminated %d listening connections, want 1", n)
		}
		d, _ := moveSeen(t, a, b, after, 2)
		if d > 10*time.Second {
			t.Fatalf("seen after %v with polling every 200ms", d)
		}
		if n := metadbtest.Listeners(t, b.db); n != 0 {
			t.Fatalf("%d listening connections during the backoff, want 0", n)
		}
	})
	t.Run("reconnects", func(t *testing.T) {
		t.Parallel()
		// Polling every minute: only the listener can deliver.
		a, b := pgPair(t, registry.Options{PollInterval: time.Minute}, metadb.Options{})
		after := startListening(t, b)
		if n := metadbtest.TerminateListeners(t, b.db); n != 1 {
			t.Fatalf("terminated %d listening connections, want 1", n)
		}
		// A move made while the listener may still be down is seen once it is
		// back: the listener wakes waiters when it starts listening again.
		d, after := moveSeen(t, a, b, after, 2)
		if d > 20*time.Second {
			t.Fatalf("seen after %v", d)
		}
		waitListeners(t, b.db, 1)
		if d, _ = moveSeen(t, a, b, after, 1); d > 5*time.Second {
			t.Fatalf("seen after %v once the listener was back", d)
		}
	})
}
