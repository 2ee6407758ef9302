package features

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Hand-worked vectors of c1 (see TestMaterializePointInTime): sales sum_6m, penalty
// count_12m, age_months, in_circle, contagion, defaulted neighbours.
var (
	c1June   = []float64{170, 1, 65, 1, 0.5, 1}
	c1August = []float64{30 + 40 + 80 + 60, 2, 67, 1, 0.5, 1}
)

// syncUniverse materializes set "t" as of the given dates into the hand universe.
func syncUniverse(t *testing.T, asofs ...string) *blob.Local {
	t.Helper()
	store := handUniverse(t)
	opts := Options{Set: "t", Catalog: testCatalog(t), Workers: 2}
	for _, a := range asofs {
		opts.AsOf = append(opts.AsOf, day(a).Time())
	}
	if _, err := Materialize(context.Background(), store, opts); err != nil {
		t.Fatal(err)
	}
	return store.(*blob.Local)
}

// corrupt flips one content byte of an object as bit rot would: in place, keeping the
// file's modification time. It returns a function that writes the good bytes back
// (a repair, which gives the file a new modification time).
func corrupt(t *testing.T, store *blob.Local, key string) (repair func()) {
	t.Helper()
	path := store.Path(key)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good...)
	i := blob.HeaderLen + (len(good)-blob.HeaderLen)/2
	bad[i] ^= 0x20
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.WriteFile(path, good, 0o644); err != nil {
			t.Fatal(err)
		}
		// Some file systems stamp times coarsely: make sure the repair shows.
		later := st.ModTime().Add(time.Minute)
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
	}
}

// partKey is the key of the first part of a snapshot of set "t".
func partKey(t *testing.T, store blob.Store, asof string) string {
	t.Helper()
	infos, err := store.List(context.Background(), SnapshotPrefix("t", 1, day(asof))+"part-")
	if err != nil || len(infos) == 0 {
		t.Fatalf("parts of %s: %v %v", asof, infos, err)
	}
	return infos[0].Key
}

func checkVector(t *testing.T, ms *MemoryStore, code string, want []float64) {
	t.Helper()
	v, err := ms.Get(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Values) != len(want) {
		t.Fatalf("%s: %d values, want %d", code, len(v.Values), len(want))
	}
	for j := range want {
		if !same(v.Values[j], want[j]) {
			t.Fatalf("%s = %v, want %v", code, v.Values, want)
		}
	}
}

func TestOnlineSyncFallsBackToNewestIntactSnapshot(t *testing.T) {
	ctx := context.Background()
	store := syncUniverse(t, "2025-06-30", "2025-07-31", "2025-08-31")
	repairAugust := corrupt(t, store, partKey(t, store, "2025-08-31"))
	corrupt(t, store, ManifestKey("t", 1, day("2025-07-31")))

	ms := NewMemoryStore(OnlineOptions{})
	var changes []OnlineState
	s, err := NewOnlineSync(OnlineSyncOptions{Store: store, Set: "t", Version: 1, Dst: ms,
		OnChange: func(st OnlineState) { changes = append(changes, st) }})
	if err != nil {
		t.Fatal(err)
	}
	snap, st, err := s.Sync(ctx)
	if !errors.Is(err, blob.ErrCorrupt) || !errors.Is(st.Err, blob.ErrCorrupt) {
		t.Fatalf("Sync error = %v, want the newest snapshot's corruption", err)
	}
	if !st.Ready() || !st.Degraded() || st.Loaded != day("2025-06-30").Time() || st.Newest != day("2025-08-31").Time() {
		t.Fatalf("state %v: want ready and degraded, serving 2025-06-30, wanted 2025-08-31", st)
	}
	if msg := st.String(); !strings.Contains(msg, "wanted as of 2025-08-31, serving as of 2025-06-30") || !strings.Contains(msg, "asof=2025-08-31/part-") {
		t.Errorf("state says %q: want the dates and the corrupt object", msg)
	}
	if snap == nil || snap.AsOf != day("2025-06-30").Time() || ms.AsOf() != day("2025-06-30").Time() {
		t.Fatalf("loaded snapshot %v, online store as of %v; want 2025-06-30", snap, ms.AsOf())
	}
	checkVector(t, ms, c1, c1June)
	if len(changes) != 1 {
		t.Fatalf("OnChange called %d times, want once", len(changes))
	}

	// Nothing changed: the next Sync loads nothing and reports nothing new.
	if snap, _, _ := s.Sync(ctx); snap != nil || len(changes) != 1 {
		t.Fatalf("unchanged store: loaded %v, %d changes", snap, len(changes))
	}

	repairAugust()
	snap, st, err = s.Sync(ctx)
	if err != nil || st.Degraded() || st.Loaded != day("2025-08-31").Time() || snap == nil {
		t.Fatalf("after repair: %v, %v; want 2025-08-31 loaded", st, err)
	}
	checkVector(t, ms, c1, c1August)
	if len(changes) != 2 || changes[1].Err != nil || s.Loads() != 2 {
		t.Fatalf("changes %v, loads %d", changes, s.Loads())
	}
}

func TestOnlineSyncNoLoadableSnapshot(t *testing.T) {
	ctx := context.Background()
	t.Run("nothing stored", func(t *testing.T) {
		store, err := blob.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ms := NewMemoryStore(OnlineOptions{})
		s, err := NewOnlineSync(OnlineSyncOptions{Store: store, Set: "t", Version: 1, Dst: ms})
		if err != nil {
			t.Fatal(err)
		}
		_, st, err := s.Sync(ctx)
		if !errors.Is(err, ErrNoSnapshotStored) || st.Ready() {
			t.Fatalf("state %v, err %v; want not ready, nothing stored", st, err)
		}
	})
	t.Run("only snapshot corrupt", func(t *testing.T) {
		store := syncUniverse(t, "2025-06-30")
		corrupt(t, store, partKey(t, store, "2025-06-30"))
		ms := NewMemoryStore(OnlineOptions{})
		s, err := NewOnlineSync(OnlineSyncOptions{Store: store, Set: "t", Version: 1, Dst: ms})
		if err != nil {
			t.Fatal(err)
		}
		_, st, err := s.Sync(ctx)
		if !errors.Is(err, blob.ErrCorrupt) || st.Ready() || !strings.Contains(st.String(), "no loadable snapshot") {
			t.Fatalf("state %v, err %v; want not ready with the corruption", st, err)
		}
		if _, err := ms.Get(ctx, c1); !errors.Is(err, ErrNoSnapshot) {
			t.Fatalf("Get = %v, want ErrNoSnapshot", err)
		}
	})
}

// readCounter counts the reads of each key and can fail listings.
type readCounter struct {
	blob.Store
	mu       sync.Mutex
	reads    map[string]int
	listDown atomic.Bool
}

func (r *readCounter) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	r.mu.Lock()
	r.reads[key]++
	r.mu.Unlock()
	return r.Store.Get(ctx, key)
}

func (r *readCounter) List(ctx context.Context, prefix string) ([]blob.Info, error) {
	if r.listDown.Load() {
		return nil, fmt.Errorf("%w: connection refused", blob.ErrUnavailable)
	}
	return r.Store.List(ctx, prefix)
}

func (r *readCounter) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reads[key]
}

func TestOnlineSyncRereadsOnContentChangeOrBackoff(t *testing.T) {
	ctx := context.Background()
	local := syncUniverse(t, "2025-06-30", "2025-08-31")
	part := partKey(t, local, "2025-08-31")
	corrupt(t, local, part)
	store := &readCounter{Store: local, reads: map[string]int{}}
	now := day("2025-09-01").Time()
	ms := NewMemoryStore(OnlineOptions{})
	s, err := NewOnlineSync(OnlineSyncOptions{Store: store, Set: "t", Version: 1, Dst: ms,
		RetryMin: 10 * time.Second, RetryMax: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, st, _ := s.Sync(ctx); st.Loaded != day("2025-06-30").Time() || store.count(part) != 1 {
		t.Fatalf("first sync: %v, %d reads of the corrupt part", st, store.count(part))
	}
	// Unchanged content within the backoff: the listing alone answers.
	now = now.Add(5 * time.Second)
	if _, st, _ := s.Sync(ctx); !errors.Is(st.Err, blob.ErrCorrupt) || store.count(part) != 1 {
		t.Fatalf("within backoff: %v, %d reads, want the same failure and no read", st, store.count(part))
	}
	// Past the backoff (at most 12 s with jitter) it reads again; the next backoff doubles.
	now = now.Add(8 * time.Second)
	if s.Sync(ctx); store.count(part) != 2 {
		t.Fatalf("past backoff: %d reads, want 2", store.count(part))
	}
	now = now.Add(13 * time.Second)
	if s.Sync(ctx); store.count(part) != 2 {
		t.Fatalf("second backoff is about 20 s: %d reads after 13 s, want 2", store.count(part))
	}
	// The listing fails: the loaded snapshot stays and the state says why.
	store.listDown.Store(true)
	_, st, err := s.Sync(ctx)
	if !errors.Is(err, blob.ErrUnavailable) || st.Loaded != day("2025-06-30").Time() {
		t.Fatalf("listing down: %v, %v", st, err)
	}
	checkVector(t, ms, c1, c1June)
}

func TestOnlineSyncRunPicksUpRepairBeforeRefresh(t *testing.T) {
	store := syncUniverse(t, "2025-06-30", "2025-08-31")
	repair := corrupt(t, store, partKey(t, store, "2025-08-31"))
	ms := NewMemoryStore(OnlineOptions{})
	loaded := make(chan OnlineState, 8)
	// Refresh and backoff an hour: only the content-key check can pick up the repair.
	s, err := NewOnlineSync(OnlineSyncOptions{Store: store, Set: "t", Version: 1, Dst: ms, Refresh: time.Hour,
		Poll: 10 * time.Millisecond, RetryMin: time.Hour, RetryMax: time.Hour,
		OnChange: func(st OnlineState) { loaded <- st }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, st, _ := s.Sync(ctx); st.Loaded != day("2025-06-30").Time() {
		t.Fatalf("start: %v", st)
	}
	<-loaded
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	repair()
	select {
	case st := <-loaded:
		if st.Loaded != day("2025-08-31").Time() || st.Err != nil {
			t.Fatalf("after repair: %v", st)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("repair not picked up; state %v", s.State())
	}
	checkVector(t, ms, c1, c1August)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}
