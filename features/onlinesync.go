package features

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// OnlineSyncOptions configure an OnlineSync. Store, Set, Version and Dst are required.
type OnlineSyncOptions struct {
	// Store is the offline store the snapshots are read from.
	Store blob.Store
	// Set and Version name the feature set version ("pd", 1).
	Set     string
	Version int
	// Dst is the online store kept loaded.
	Dst OnlineLoader
	// Refresh is how often Run looks for a newer snapshot while the newest one is
	// loaded. Default 5 minutes.
	Refresh time.Duration
	// Poll is how often Run lists the snapshots while degraded (the newest visible
	// snapshot is not loaded, or nothing is). A listing is cheap: it reads no object,
	// and a snapshot that failed is read again at once only when its content key
	// (the keys, sizes, digests and modification times of its objects) changed.
	// Default 2 s, each wait drawn within ±20%.
	Poll time.Duration
	// RetryMin and RetryMax bound the backoff before a snapshot that failed is read
	// again although its content key did not change (a store outage, or a repair the
	// listing cannot see). The backoff doubles from RetryMin up to RetryMax, each
	// drawn within ±20%. Defaults 5 s and 1 minute.
	RetryMin, RetryMax time.Duration
	// Logger receives a line whenever the snapshot loaded or the reason it is not the
	// newest changes. Nil: nothing is logged.
	Logger *slog.Logger
	// OnChange, when set, is called after every Sync whose state differs from the one
	// before (a load, a new failure, a recovery), outside any lock.
	OnChange func(OnlineState)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// EnsureDefaults fills zero fields with their defaults.
func (o *OnlineSyncOptions) EnsureDefaults() {
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 5 * time.Second
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(o.RetryMin, time.Minute)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// OnlineState is what an OnlineSync holds and why.
type OnlineState struct {
	// Set is the feature set key, "pd/v1".
	Set string
	// Newest is the as-of date of the newest visible snapshot (zero when none is
	// visible or the listing failed before any succeeded).
	Newest time.Time
	// Loaded is the as-of date of the snapshot in the online store (zero when none
	// has loaded).
	Loaded time.Time
	// Err says why the online store does not hold the newest snapshot as it is
	// stored: the newest snapshot failed to load, the listing failed, or nothing is
	// stored. Nil when it does.
	Err error
}

// Ready reports whether the online store holds a snapshot.
func (s OnlineState) Ready() bool { return !s.Loaded.IsZero() }

// Degraded reports whether the online store holds something other than the newest
// snapshot as stored (or nothing).
func (s OnlineState) Degraded() bool { return s.Err != nil }

// String says what the state is in one line.
func (s OnlineState) String() string {
	switch {
	case !s.Ready() && s.Err != nil:
		return fmt.Sprintf("%s: no loadable snapshot: %v", s.Set, s.Err)
	case !s.Ready():
		return fmt.Sprintf("%s: not synced yet", s.Set)
	case s.Err == nil:
		return fmt.Sprintf("%s: serving as of %s", s.Set, s.Loaded.Format(time.DateOnly))
	case s.Newest.IsZero():
		return fmt.Sprintf("%s: serving as of %s; snapshots not listed: %v", s.Set, s.Loaded.Format(time.DateOnly), s.Err)
	}
	return fmt.Sprintf("%s: wanted as of %s, serving as of %s: %v", s.Set, s.Newest.Format(time.DateOnly), s.Loaded.Format(time.DateOnly), s.Err)
}

func (s OnlineState) same(o OnlineState) bool {
	return s.Set == o.Set && s.Newest.Equal(o.Newest) && s.Loaded.Equal(o.Loaded) && errString(s.Err) == errString(o.Err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// OnlineSync keeps an online store loaded with the newest snapshot of a feature set
// version that loads. When the newest one cannot be read or loaded (a corrupt part, a
// manifest that does not parse, a store outage), the store keeps, or falls back to,
// the newest snapshot that does, and the state says which one was wanted, which one
// is served and why. While degraded, Run lists the snapshots every few seconds and
// reads a failed snapshot again as soon as its content changes (or its backoff
// passes), so a repaired object is picked up without waiting for the refresh.
//
// It never goes back in time on its own: once a snapshot is loaded, only newer ones
// (or a rewrite of the same date) replace it.
type OnlineSync struct {
	opts OnlineSyncOptions
	key  string // "pd/v1"

	mu        sync.Mutex // serializes Sync; guards loadedKey and failed
	loadedKey string     // content key of the loaded snapshot
	failed    map[Day]*syncFailure

	// Read without waiting for a Sync in progress (a snapshot read takes seconds).
	state atomic.Pointer[OnlineState]
	loads atomic.Uint64
}

type syncFailure struct {
	key      string // content key at the last read
	err      error
	attempts int
	next     time.Time // when a read is due although the key is unchanged
}

// NewOnlineSync checks the options and returns a sync that has loaded nothing yet.
func NewOnlineSync(opts OnlineSyncOptions) (*OnlineSync, error) {
	opts.EnsureDefaults()
	if opts.Store == nil || opts.Dst == nil || opts.Set == "" || opts.Version <= 0 {
		return nil, fmt.Errorf("features: online sync needs a store, a set, a version > 0 and an online store (set %q, version %d)", opts.Set, opts.Version)
	}
	key := SetRef{Name: opts.Set, Version: opts.Version}.String()
	s := &OnlineSync{opts: opts, key: key, failed: map[Day]*syncFailure{}}
	s.state.Store(&OnlineState{Set: key})
	return s, nil
}

// State returns the current state; it does not wait for a Sync in progress.
func (s *OnlineSync) State() OnlineState { return *s.state.Load() }

// Loads counts the snapshots loaded so far (a content generation: it changes with
// every load, also of a rewritten snapshot of the same date).
func (s *OnlineSync) Loads() uint64 { return s.loads.Load() }

// Sync lists the snapshots and loads the newest one that loads, unless the online
// store holds it already. It returns the snapshot it loaded (nil when nothing new
// loaded) and the state's error: nil when the newest snapshot is loaded.
func (s *OnlineSync) Sync(ctx context.Context) (*Snapshot, OnlineState, error) {
	snap, st, changed, err := s.sync(ctx)
	if err != nil {
		return nil, st, err
	}
	if changed {
		s.report(st)
	}
	return snap, st, st.Err
}

func (s *OnlineSync) sync(ctx context.Context) (*Snapshot, OnlineState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := *s.state.Load()
	st := OnlineState{Set: s.key, Newest: prev.Newest, Loaded: prev.Loaded}
	dirs, err := listSnapshotDirs(ctx, s.opts.Store, s.opts.Set, s.opts.Version)
	if err != nil {
		if ctx.Err() != nil {
			return nil, prev, false, ctx.Err()
		}
		st.Err = err
		s.state.Store(&st)
		return nil, st, !st.same(prev), nil
	}
	now := s.opts.Now()
	var (
		loaded   *Snapshot
		firstErr error
	)
	loadedDay := DayOf(prev.Loaded)
	if len(dirs) == 0 {
		st.Newest = time.Time{}
		firstErr = fmt.Errorf("%w: %s", ErrNoSnapshotStored, s.key)
	} else {
		st.Newest = dirs[len(dirs)-1].day.Time()
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if prev.Ready() && (d.day < loadedDay || d.day == loadedDay && d.key == s.loadedKey) {
			break // what the online store holds is this one, or newer than the rest
		}
		snap, read, err := s.load(ctx, d, now)
		if err == nil {
			loaded = snap
			st.Loaded = d.day.Time()
			s.loadedKey = d.key
			s.loads.Add(1)
			break
		}
		if ctx.Err() != nil {
			return nil, prev, false, ctx.Err()
		}
		err = fmt.Errorf("snapshot %s as of %s: %w", s.key, d.day, err)
		if firstErr == nil {
			firstErr = err
		} else if read {
			s.opts.Logger.Warn("older snapshot cannot be loaded either", "set", s.key, "err", err)
		}
	}
	// Forget failures of snapshots no longer listed.
	for day := range s.failed {
		if !containsDay(dirs, day) {
			delete(s.failed, day)
		}
	}
	st.Err = firstErr
	s.state.Store(&st)
	return loaded, st, !st.same(prev), nil
}

// load reads and loads one snapshot, unless it failed before, its content key is
// unchanged and its backoff has not passed: then it returns that failure again and
// read is false.
func (s *OnlineSync) load(ctx context.Context, d snapshotDir, now time.Time) (snap *Snapshot, read bool, err error) {
	f := s.failed[d.day]
	if f != nil && f.key == d.key && now.Before(f.next) {
		return nil, false, f.err
	}
	snap, _, err = ReadSnapshot(ctx, s.opts.Store, s.opts.Set, s.opts.Version, d.day)
	if err == nil {
		err = s.opts.Dst.Load(ctx, snap)
	}
	if err == nil {
		delete(s.failed, d.day)
		return snap, true, nil
	}
	if ctx.Err() != nil {
		return nil, true, err
	}
	if f == nil || f.key != d.key {
		f = &syncFailure{key: d.key}
		s.failed[d.day] = f
	}
	f.attempts++
	f.err = err
	f.next = now.Add(jitter(min(s.opts.RetryMax, s.opts.RetryMin<<min(f.attempts-1, 20))))
	return nil, true, err
}

func (s *OnlineSync) report(st OnlineState) {
	switch {
	case st.Err == nil:
		s.opts.Logger.Info("online store holds the newest snapshot", "set", st.Set, "asof", st.Loaded.Format(time.DateOnly))
	case st.Ready():
		s.opts.Logger.Warn("online store serves an older snapshot", "set", st.Set, "wanted", dateOrNone(st.Newest),
			"serving", st.Loaded.Format(time.DateOnly), "err", st.Err)
	default:
		s.opts.Logger.Warn("online store has no loadable snapshot; its assessments answer 503", "set", st.Set,
			"wanted", dateOrNone(st.Newest), "err", st.Err)
	}
	if s.opts.OnChange != nil {
		s.opts.OnChange(st)
	}
}

func dateOrNone(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.DateOnly)
}

// Run keeps the online store in sync until ctx ends: every Refresh while the newest
// snapshot is loaded, every Poll (with jitter) while degraded. Call Sync once before
// (Run waits before its first listing). It returns ctx's error.
func (s *OnlineSync) Run(ctx context.Context) error {
	t := time.NewTimer(s.wait())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if _, _, err := s.Sync(ctx); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		t.Reset(s.wait())
	}
}

func (s *OnlineSync) wait() time.Duration {
	if st := s.State(); st.Degraded() || !st.Ready() {
		return jitter(s.opts.Poll)
	}
	return s.opts.Refresh
}

// jitter draws a duration within ±20% of d.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// snapshotDir is one visible snapshot in a listing and its content key.
type snapshotDir struct {
	day Day
	key string
}

func containsDay(dirs []snapshotDir, d Day) bool {
	for _, x := range dirs {
		if x.day == d {
			return true
		}
	}
	return false
}

// listSnapshotDirs lists the visible snapshots (those with a manifest) of a set
// version, sorted by date, each with a content key over its objects' keys, sizes,
// digests and modification times: one listing, no object read.
func listSnapshotDirs(ctx context.Context, store blob.Store, set string, version int) ([]snapshotDir, error) {
	prefix := setPrefix(set, version)
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("features: list %s: %w", prefix, err)
	}
	type acc struct {
		h       []byte
		visible bool
	}
	byDay := map[Day]*acc{}
	var days []Day
	for _, in := range infos { // sorted by key, so each directory's objects are in order
		d, file, ok := snapshotFile(prefix, in.Key)
		if !ok {
			continue
		}
		a := byDay[d]
		if a == nil {
			a = &acc{}
			byDay[d] = a
			days = append(days, d)
		}
		a.visible = a.visible || file == "_manifest.json"
		a.h = fmt.Appendf(a.h, "%s\x00%d\x00%s\x00%d\n", file, in.Size, in.SHA256, in.Modified.UnixNano())
	}
	out := make([]snapshotDir, 0, len(days))
	for _, d := range days {
		if a := byDay[d]; a.visible {
			sum := sha256.Sum256(a.h)
			out = append(out, snapshotDir{day: d, key: hex.EncodeToString(sum[:16])})
		}
	}
	slices.SortFunc(out, func(a, b snapshotDir) int { return cmp.Compare(a.day, b.day) })
	return out, nil
}
