package metadb_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// next returns the next notification, failing the test after within.
func next(t *testing.T, ch <-chan metadb.Notification, within time.Duration) metadb.Notification {
	t.Helper()
	select {
	case n, ok := <-ch:
		if !ok {
			t.Fatal("listen channel closed")
		}
		return n
	case <-time.After(within):
		t.Fatalf("no notification within %v", within)
	}
	return metadb.Notification{}
}

// quiet fails if a notification arrives within d.
func quiet(t *testing.T, ch <-chan metadb.Notification, d time.Duration) {
	t.Helper()
	select {
	case n := <-ch:
		t.Fatalf("unexpected notification %+v", n)
	case <-time.After(d):
	}
}

func notify(t *testing.T, db *metadb.DB, channel, payload string, commit bool) {
	t.Helper()
	errRollback := errors.New("rollback")
	err := db.Tx(context.Background(), func(tx *metadb.Tx) error {
		if err := tx.Notify(context.Background(), channel, payload); err != nil {
			return err
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	if commit && err != nil || !commit && !errors.Is(err, errRollback) {
		t.Fatalf("notify %q (commit %v): %v", payload, commit, err)
	}
}

func open(t *testing.T, dsn string, opts metadb.Options) *metadb.DB {
	t.Helper()
	db, err := metadb.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestListenNotify: a committed Notify on one handle reaches a listener on
// another handle of the same schema (as another process would hold), a rolled
// back one does not, and a handle on another schema hears nothing.
func TestListenNotify(t *testing.T) {
	t.Parallel()
	dsn := metadbtest.PostgresDSN(t)
	a, b := open(t, dsn, metadb.Options{}), open(t, dsn, metadb.Options{})
	other := metadbtest.Postgres(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Listen(ctx, "things")
	if err != nil {
		t.Fatal(err)
	}
	if n := next(t, ch, 10*time.Second); !n.Listening {
		t.Fatalf("first notification %+v, want Listening", n)
	}
	notify(t, a, "things", "1", false)
	notify(t, other, "things", "other-schema", true)
	notify(t, a, "things", "2", true)
	if n := next(t, ch, 10*time.Second); n != (metadb.Notification{Payload: "2"}) {
		t.Fatalf("got %+v, want payload 2 only", n)
	}
	notify(t, b, "other_channel", "3", true)
	quiet(t, ch, 200*time.Millisecond)

	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("notification after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
}

// TestListenReconnects: when the listening connection is killed, Listen opens
// another, says so with Listening, and delivers again; a silent connection is
// checked every ListenCheck without losing messages.
func TestListenReconnects(t *testing.T) {
	t.Parallel()
	dsn := metadbtest.PostgresDSN(t)
	a := open(t, dsn, metadb.Options{})
	b := open(t, dsn, metadb.Options{ListenBackoff: 20 * time.Millisecond, ListenCheck: 30 * time.Millisecond})
	ch, err := b.Listen(context.Background(), "things")
	if err != nil {
		t.Fatal(err)
	}
	if n := next(t, ch, 10*time.Second); !n.Listening {
		t.Fatalf("first notification %+v, want Listening", n)
	}
	time.Sleep(150 * time.Millisecond) // several checks of an idle connection
	notify(t, a, "things", "before", true)
	if n := next(t, ch, 10*time.Second); n.Payload != "before" {
		t.Fatalf("got %+v, want payload before", n)
	}

	if n := metadbtest.TerminateListeners(t, a); n != 1 {
		t.Fatalf("terminated %d listening connections, want 1", n)
	}
	if n := next(t, ch, 10*time.Second); !n.Listening {
		t.Fatalf("after the kill got %+v, want Listening", n)
	}
	notify(t, a, "things", "after", true)
	if n := next(t, ch, 10*time.Second); n.Payload != "after" {
		t.Fatalf("got %+v, want payload after", n)
	}

	// Close ends the listener and closes its channel.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch; ok {
		t.Fatal("notification after Close")
	}
	if _, err := b.Listen(context.Background(), "things"); !errors.Is(err, metadb.ErrUnavailable) {
		t.Fatalf("Listen after Close: %v, want ErrUnavailable", err)
	}
}

func TestListenSQLite(t *testing.T) {
	db := metadbtest.SQLite(t)
	if _, err := db.Listen(context.Background(), "things"); !errors.Is(err, metadb.ErrUnsupported) {
		t.Fatalf("Listen on SQLite: %v, want ErrUnsupported", err)
	}
	notify(t, db, "things", "x", true) // a no-op, not an error
}

func TestScopedChannel(t *testing.T) {
	long := strings.Repeat("s", 60)
	for _, tc := range []struct {
		schema, channel, want, err string
	}{
		{"", "xinyi_registry", "xinyi_registry", ""},
		{"public", "xinyi_registry", "public.xinyi_registry", ""},
		{long, "xinyi_registry", "xinyi_registry.", ""},
		{"public", "", "", "1-63 bytes"},
		{"public", strings.Repeat("c", 64), "", "1-63 bytes"},
		{"public", "bad-name", "", "only letters"},
		{"public", `a"b`, "", "only letters"},
	} {
		got, err := metadb.ScopedChannel(tc.schema, tc.channel)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q/%q: err %v, want %q", tc.schema, tc.channel, err, tc.err)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(got, tc.want) || len(got) > 63 {
			t.Errorf("%q/%q = %q, %v; want %q (at most 63 bytes)", tc.schema, tc.channel, got, err, tc.want)
		}
	}
	x, _ := metadb.ScopedChannel(long+"x", "c")
	y, _ := metadb.ScopedChannel(long+"y", "c")
	if x == y {
		t.Errorf("long schemas share channel %q", x)
	}
}
