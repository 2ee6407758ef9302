package features

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	core "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving"
)

// StoresOptions configure Stores. Store and Sets are required.
type StoresOptions struct {
	// Store is the offline store the snapshots are read from.
	Store blob.Store
	// Sets is the feature set of each task; tasks that share a set share its store.
	Sets map[serving.Task]serving.FeatureSet
	// Online configures the in-memory stores.
	Online core.OnlineOptions
	// Refresh, Poll, RetryMin and RetryMax pace the reloads (see
	// features.OnlineSyncOptions; zero takes its defaults: 5 minutes, 2 s, 5 s, 1 minute).
	Refresh, Poll, RetryMin, RetryMax time.Duration
	// Metrics receives the "features" degraded reason (shown by /v2/health/ready and
	// the xinyi_degraded gauge). Nil: none.
	Metrics *serving.Metrics
	// Logger receives a line when a store's snapshot or its reason changes. Nil: none.
	Logger *slog.Logger
}

// Stores keeps one in-memory online store per feature set loaded with the newest
// snapshot that loads, falling back to the newest intact one when the newest cannot
// be read, and reloading as soon as it can. It answers readiness (every task's set
// has a snapshot loaded) and says, while degraded, which snapshot each set wanted,
// which one it serves and why.
type Stores struct {
	opts   StoresOptions
	sets   []*setStore // sorted by set key
	online *Online
	snaps  []*core.Snapshot

	mu       sync.Mutex // orders the degraded reports
	reported string
}

type setStore struct {
	key   string
	tasks []string
	mem   *core.MemoryStore
	sync  *core.OnlineSync
}

// OpenStores builds the stores and loads each one (Sync). A set with no loadable
// snapshot does not fail it: readiness stays false and Run keeps trying. Only bad
// options and a canceled ctx are errors.
func OpenStores(ctx context.Context, opts StoresOptions) (*Stores, error) {
	if opts.Store == nil || len(opts.Sets) == 0 {
		return nil, fmt.Errorf("%w: online stores need an object store and the tasks' feature sets", serving.ErrInvalidInput)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stores{opts: opts}
	byKey := map[string]*setStore{}
	for _, t := range serving.Tasks {
		set, ok := opts.Sets[t]
		if !ok {
			return nil, fmt.Errorf("%w: no feature set for task %s", serving.ErrInvalidInput, t)
		}
		if ss := byKey[set.Key()]; ss != nil {
			ss.tasks = append(ss.tasks, string(t))
			continue
		}
		byKey[set.Key()] = &setStore{key: set.Key(), tasks: []string{string(t)}, mem: core.NewMemoryStore(opts.Online)}
	}
	stores := map[string]core.OnlineStore{}
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		ss := byKey[k]
		set := opts.Sets[serving.Task(ss.tasks[0])]
		var err error
		ss.sync, err = core.NewOnlineSync(core.OnlineSyncOptions{Store: opts.Store, Set: set.Name, Version: set.Version, Dst: ss.mem,
			Refresh: opts.Refresh, Poll: opts.Poll, RetryMin: opts.RetryMin, RetryMax: opts.RetryMax,
			Logger: opts.Logger.With("tasks", strings.Join(ss.tasks, ",")), OnChange: func(core.OnlineState) { s.report() }})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", serving.ErrInvalidInput, err)
		}
		s.sets = append(s.sets, ss)
		stores[k] = ss.mem
	}
	s.online = NewOnline(stores)
	for _, ss := range s.sets {
		snap, _, _ := ss.sync.Sync(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if snap != nil {
			s.snaps = append(s.snaps, snap)
		}
	}
	s.report()
	return s, nil
}

// Source is the serving.FeatureSource over the stores.
func (s *Stores) Source() *Online { return s.online }

// Snapshots returns the snapshots loaded by OpenStores (one per set that had one), in
// set order: the reference averages and the population come from them.
func (s *Stores) Snapshots() []*core.Snapshot { return s.snaps }

// Ready reports whether every task's feature set has a snapshot loaded.
func (s *Stores) Ready() bool {
	for _, ss := range s.sets {
		if !ss.sync.State().Ready() {
			return false
		}
	}
	return true
}

// SetState is the state of one feature set's store.
type SetState struct {
	Tasks []string
	core.OnlineState
}

// String names the tasks and says the state.
func (st SetState) String() string {
	return "task " + strings.Join(st.Tasks, ",") + ": " + st.OnlineState.String()
}

// States returns the state of every set's store, in set order.
func (s *Stores) States() []SetState {
	out := make([]SetState, len(s.sets))
	for i, ss := range s.sets {
		out[i] = SetState{Tasks: ss.tasks, OnlineState: ss.sync.State()}
	}
	return out
}

// Degraded says, for every set that does not serve its newest snapshot as stored,
// the tasks, the as-of date wanted, the one served and why ("" when none).
func (s *Stores) Degraded() string {
	var parts []string
	for _, st := range s.States() {
		if st.Degraded() || !st.Ready() {
			parts = append(parts, st.String())
		}
	}
	return strings.Join(parts, "; ")
}

func (s *Stores) report() {
	s.mu.Lock()
	defer s.mu.Unlock()
	reason := s.Degraded()
	if reason == s.reported {
		return
	}
	s.reported = reason
	s.opts.Metrics.SetDegraded("features", reason)
}

// Content names what the stores hold cheaply: every set's as-of date and load count.
// It changes with every load (the prewarm loop's content key).
func (s *Stores) Content() string {
	var b strings.Builder
	for _, ss := range s.sets {
		fmt.Fprintf(&b, "%s@%s#%d ", ss.key, ss.mem.AsOf().Format(time.DateOnly), ss.sync.Loads())
	}
	return b.String()
}

// Codes lists the companies of the largest store (sorted).
func (s *Stores) Codes() []string {
	var codes []string
	for _, ss := range s.sets {
		if _, c := ss.mem.Loaded(); len(c) > len(codes) {
			codes = c
		}
	}
	return codes
}

// Run keeps every store in sync until ctx ends and returns ctx's error.
func (s *Stores) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ss := range s.sets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = ss.sync.Run(ctx)
		}()
	}
	wg.Wait()
	return ctx.Err()
}
