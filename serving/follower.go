package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ModelSource is where serving finds model versions: the registry's aliases and the
// artifact store.
type ModelSource interface {
	// Resolve returns the version an alias of a registered model points at, with its
	// feature-set binding and artifact digest.
	Resolve(ctx context.Context, model, alias string) (ModelRef, error)
	// Artifact returns the model file of a version, verified against its sha256.
	Artifact(ctx context.Context, ref ModelRef) ([]byte, error)
}

// ChangeWaiter is an optional ability of a ModelSource: block until the registry's
// change feed moves past after (or wait passes) and return the latest sequence number.
type ChangeWaiter interface {
	WaitChange(ctx context.Context, after int64, wait time.Duration) (latest int64, err error)
}

// SetSource is an optional ability of a ModelSource: the feature set a resolved
// version is bound to, built-in or published at run time, with its request
// features. The follower asks it when a version is bound to another set than
// its task's online set.
type SetSource interface {
	FeatureSet(ctx context.Context, ref ModelRef) (FeatureSet, error)
}

// Binding says which registered model and alias serves a task, e.g. pd from
// "pd-smb"@"champion".
type Binding struct {
	Task  Task
	Model string
	Alias string
}

// FollowerOptions configure a Follower. Source, Models and Bindings are required.
type FollowerOptions struct {
	Source   ModelSource
	Models   *Models
	Bindings []Binding
	// Interval is how often aliases are re-resolved when the source cannot wait on its
	// change feed, and the retry delay after a failure. Default 5 s.
	Interval time.Duration
	// Metrics receives swaps and degradation; nil means none.
	Metrics *Metrics
	// Logger receives swaps and failures. Default slog.Default().
	Logger *slog.Logger
}

// Follower keeps Models in step with registry aliases: when an alias moves it loads the
// new version and swaps it in atomically; when the registry or the artifact store is
// unreachable it keeps serving what is loaded, reports the degradation, and catches up
// when they return.
type Follower struct {
	opts FollowerOptions
	seq  int64
}

// NewFollower checks the options.
func NewFollower(opts FollowerOptions) (*Follower, error) {
	if opts.Source == nil || opts.Models == nil {
		return nil, fmt.Errorf("%w: follower needs a model source and a model holder", ErrInvalidInput)
	}
	seen := map[Task]bool{}
	for _, b := range opts.Bindings {
		if !b.Task.Valid() || b.Model == "" || b.Alias == "" || seen[b.Task] {
			return nil, fmt.Errorf("%w: binding %+v: needs a known task (once), a model and an alias", ErrInvalidInput, b)
		}
		seen[b.Task] = true
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Follower{opts: opts}, nil
}

// Sync resolves every binding and installs, in one swap, the versions that changed.
// A version that cannot be loaded (wrong feature set, corrupt file) is refused and the
// old one keeps serving; the error says which.
func (f *Follower) Sync(ctx context.Context) error {
	snap := f.opts.Models.Current()
	var next []*Scorer
	var errs []error
	for _, b := range f.opts.Bindings {
		ref, err := f.opts.Source.Resolve(ctx, b.Model, b.Alias)
		if err != nil {
			errs = append(errs, fmt.Errorf("resolve %s@%s: %w", b.Model, b.Alias, err))
			continue
		}
		ref.Task = b.Task
		// The same version with other visibility (a model shared or made private)
		// is loaded again, so OIP answers follow the registry.
		if cur := snap.Scorer(b.Task); cur != nil && cur.Ref() == ref {
			continue
		}
		data, err := f.opts.Source.Artifact(ctx, ref)
		if err != nil {
			errs = append(errs, fmt.Errorf("artifact of %s: %w", ref, err))
			continue
		}
		set := f.opts.Models.FeatureSet(b.Task)
		if ss, ok := f.opts.Source.(SetSource); ok && (ref.FeatureSet != set.Name || ref.FeatureSetVersion != set.Version) {
			if set, err = ss.FeatureSet(ctx, ref); err != nil {
				errs = append(errs, fmt.Errorf("feature set of %s: %w", ref, err))
				continue
			}
		}
		sc, err := LoadScorer(data, ref, set)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		next = append(next, sc)
	}
	if len(next) > 0 {
		if err := f.opts.Models.Install(next...); err != nil {
			errs = append(errs, err)
		} else {
			f.opts.Metrics.ObserveSwap()
			for _, sc := range next {
				f.opts.Logger.Info("model loaded", "task", sc.Ref().Task, "model", sc.Ref().Name, "version", sc.Ref().Version)
			}
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		f.opts.Metrics.SetDegraded("registry", err.Error())
	} else {
		f.opts.Metrics.SetDegraded("registry", "")
	}
	return err
}

// Run follows the aliases until ctx ends: it syncs, then waits for the change feed (or
// the interval) and syncs again. Failures are logged and retried; Run returns only
// ctx's error.
func (f *Follower) Run(ctx context.Context) error {
	waiter, _ := f.opts.Source.(ChangeWaiter)
	for {
		if err := f.Sync(ctx); err != nil && ctx.Err() == nil {
			f.opts.Logger.Warn("model sync failed; serving what is loaded", "err", err)
		}
		if waiter != nil {
			latest, err := waiter.WaitChange(ctx, f.seq, f.opts.Interval)
			if err == nil {
				f.seq = latest
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			f.opts.Logger.Warn("change feed unavailable", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.opts.Interval):
		}
	}
}
