package serving

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Snapshot is an immutable set of the three loaded models. A request takes one snapshot
// and uses it throughout, so it never mixes model versions even while a swap happens.
type Snapshot struct {
	PD         *Scorer
	Violation  *Scorer
	Limit      *Scorer
	Generation uint64    // increases with every swap
	Loaded     time.Time // when the snapshot was installed

	// feeds[i] builds the row of Tasks[i]'s model when it is bound to another
	// set than its task's online set; nil when the online vector is its row.
	feeds [3]*feed
}

// Scorer returns the snapshot's model for task (nil when not loaded).
func (s *Snapshot) Scorer(t Task) *Scorer {
	switch t {
	case TaskPD:
		return s.PD
	case TaskViolation:
		return s.Violation
	case TaskLimit:
		return s.Limit
	}
	return nil
}

// Complete reports whether all three models are loaded.
func (s *Snapshot) Complete() bool {
	return s != nil && s.PD != nil && s.Violation != nil && s.Limit != nil
}

// Refs lists the loaded model versions in task order.
func (s *Snapshot) Refs() []ModelRef {
	var out []ModelRef
	for _, t := range Tasks {
		if sc := s.Scorer(t); sc != nil {
			out = append(out, sc.Ref())
		}
	}
	return out
}

func (s *Snapshot) with(t Task, sc *Scorer, fd *feed) *Snapshot {
	n := *s
	n.feeds[taskIndex(t)] = fd
	switch t {
	case TaskPD:
		n.PD = sc
	case TaskViolation:
		n.Violation = sc
	case TaskLimit:
		n.Limit = sc
	}
	return &n
}

// Models holds the current Snapshot and swaps it atomically; readers never block. Each
// task is bound to one feature-set version, and a model bound to any other is refused.
type Models struct {
	sets map[Task]FeatureSet
	cur  atomic.Pointer[Snapshot]
	mu   sync.Mutex // serializes writers
}

// NewModels starts an empty holder; sets gives the feature set of each of the three tasks.
func NewModels(sets map[Task]FeatureSet) (*Models, error) {
	m := &Models{sets: make(map[Task]FeatureSet, len(Tasks))}
	for _, t := range Tasks {
		set, ok := sets[t]
		if !ok {
			return nil, fmt.Errorf("%w: no feature set for task %s", ErrInvalidModel, t)
		}
		if err := set.Validate(); err != nil {
			return nil, fmt.Errorf("task %s: %w", t, err)
		}
		m.sets[t] = set
	}
	for t := range sets {
		if !t.Valid() {
			return nil, fmt.Errorf("%w: unknown task %q", ErrInvalidModel, t)
		}
	}
	m.cur.Store(&Snapshot{})
	return m, nil
}

// FeatureSet is the feature set the model of task must be bound to.
func (m *Models) FeatureSet(t Task) FeatureSet { return m.sets[t] }

// Current returns the snapshot in force. It is never nil.
func (m *Models) Current() *Snapshot { return m.cur.Load() }

// Install replaces the models of the scorers' tasks in one swap: a request sees all of
// them or none. A scorer is bound to its task's online feature set, or to another
// set (one an institution published at run time) whose catalog indicators the
// online sets of the three tasks hold, and whose request features the caller
// sends; a scorer bound to a set with an indicator no online set holds is refused.
func (m *Models) Install(scorers ...*Scorer) error {
	feeds := make([]*feed, len(scorers))
	for i, sc := range scorers {
		if sc == nil {
			return fmt.Errorf("%w: nil scorer", ErrInvalidModel)
		}
		want := m.sets[sc.Ref().Task]
		got := sc.FeatureSet()
		if got.Name == want.Name && got.Version == want.Version {
			if !slices.Equal(got.Indicators, want.Indicators) || len(got.Requests) > 0 {
				return fmt.Errorf("%w: %s model %s is bound to %s with other features than serving's %s", ErrFeatureSetMismatch, sc.Ref().Task, sc.Ref(), got.Key(), want.Key())
			}
			continue
		}
		fd, err := m.feedFor(got)
		if err != nil {
			return fmt.Errorf("%s model %s: %w", sc.Ref().Task, sc.Ref(), err)
		}
		feeds[i] = fd
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cur.Load()
	for i, sc := range scorers {
		next = next.with(sc.Ref().Task, sc, feeds[i])
	}
	if next == m.cur.Load() {
		return nil
	}
	next.Generation++
	next.Loaded = time.Now()
	m.cur.Store(next)
	return nil
}
