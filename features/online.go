package features

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Online store errors.
var (
	// ErrNoSnapshot reports an online store that has not been loaded yet.
	ErrNoSnapshot = errors.New("features: online store has no snapshot loaded")
	// ErrUnknownCompany reports a company code the loaded snapshot does not hold.
	ErrUnknownCompany = errors.New("features: company not in snapshot")
	// ErrInvalidSnapshot reports a snapshot table whose shape is inconsistent.
	ErrInvalidSnapshot = errors.New("features: invalid snapshot")
)

// Status is the state of one value of a vector.
type Status uint8

// The value states.
const (
	// Present: the value is known and fresh.
	Present Status = iota
	// Missing: the indicator has no value for the company (NaN in the snapshot).
	Missing
	// Stale: the value is known but comes from a snapshot older than the store's MaxAge.
	Stale
)

func (s Status) String() string {
	switch s {
	case Present:
		return "present"
	case Missing:
		return "missing"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Vector is the latest indicator vector of one company.
type Vector struct {
	Code   string
	Set    string    // feature set key, "pd/v1"
	AsOf   time.Time // the snapshot date the values are as of (UTC midnight)
	Names  []string  // indicator ids, shared: do not modify
	Values []float64 // NaN where missing; owned by the caller
	Status []Status  // per value; owned by the caller
	// Late names the sources whose department is late (OnlineOptions.Freshness)
	// and which give values of this vector: those values are Stale.
	Late []string
}

// Snapshot is one materialized snapshot held in memory in row-major form: the values
// of company Codes[i] are Values[i*len(Names) : (i+1)*len(Names)], NaN where missing.
type Snapshot struct {
	Set    string
	AsOf   time.Time
	Names  []string
	Codes  []string
	Values []float64
}

// Validate checks the shape of the snapshot.
func (s *Snapshot) Validate() error {
	if s == nil {
		return fmt.Errorf("%w: nil", ErrInvalidSnapshot)
	}
	if len(s.Names) == 0 {
		return fmt.Errorf("%w: %s as of %s has no indicators", ErrInvalidSnapshot, s.Set, s.AsOf.Format(time.DateOnly))
	}
	if len(s.Values) != len(s.Codes)*len(s.Names) {
		return fmt.Errorf("%w: %s: %d values for %d companies × %d indicators", ErrInvalidSnapshot, s.Set, len(s.Values), len(s.Codes), len(s.Names))
	}
	return nil
}

// OnlineStore serves the latest vector per company.
type OnlineStore interface {
	// Get returns the vector of the company, or an error wrapping ErrUnknownCompany
	// or ErrNoSnapshot.
	Get(ctx context.Context, code string) (Vector, error)
}

// OnlineLoader replaces the whole content of an online store with a snapshot. Readers
// see either the previous snapshot or the new one, never a mix within one vector.
type OnlineLoader interface {
	Load(ctx context.Context, s *Snapshot) error
}

// Freshness says whether a department source delivers on time;
// datasets/ingest.Freshness implements it from the sources' batches.
type Freshness interface {
	// Late reports whether source's newest batch is older at now than the
	// source's cadence allows. A source with no batch is not judged.
	Late(source string, now time.Time) bool
}

// OnlineOptions configure an online store.
type OnlineOptions struct {
	// MaxAge is how old a snapshot may be before its values are reported Stale.
	// Default 45 days (a month-end snapshot plus the delivery delay).
	MaxAge time.Duration
	// SourceOf names the raw source of an indicator (Catalog.SourceOf) and
	// Freshness judges the sources: the values of an indicator whose source is
	// late are Stale, however new the snapshot. Nil: staleness is the snapshot's
	// age alone.
	SourceOf  func(indicator string) string
	Freshness Freshness
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultOnlineOptions returns the defaults.
func DefaultOnlineOptions() OnlineOptions {
	return OnlineOptions{MaxAge: 45 * 24 * time.Hour, Now: time.Now}
}

// EnsureDefaults fills zero fields with their defaults.
func (o *OnlineOptions) EnsureDefaults() {
	d := DefaultOnlineOptions()
	if o.MaxAge <= 0 {
		o.MaxAge = d.MaxAge
	}
	if o.Now == nil {
		o.Now = d.Now
	}
}

// SourceColumns are the sources of a snapshot's columns, worked out once when
// it loads: the distinct sources, and for each column the index of its own
// (-1: none).
type SourceColumns struct {
	names []string
	of    []int
}

// Sources returns the sources of names (SourceOf), or nil when the options
// judge no source.
func (o *OnlineOptions) Sources(names []string) *SourceColumns {
	if o.SourceOf == nil || o.Freshness == nil {
		return nil
	}
	sc := &SourceColumns{of: make([]int, len(names))}
	for i, n := range names {
		src := o.SourceOf(n)
		if src == "" {
			sc.of[i] = -1
			continue
		}
		k := slices.Index(sc.names, src)
		if k < 0 {
			k = len(sc.names)
			sc.names = append(sc.names, src)
		}
		sc.of[i] = k
	}
	return sc
}

// FillStatus sets the status of every value of v: Missing for NaN; Stale when
// the snapshot is older than MaxAge, or when the value's source (sc, from
// Sources) is late; Present otherwise. v.Late lists the late sources that give
// a value. Each source is judged once.
func (o *OnlineOptions) FillStatus(v *Vector, sc *SourceColumns) {
	now := o.Now()
	fresh := Present
	if now.Sub(v.AsOf) > o.MaxAge {
		fresh = Stale
	}
	v.Late = v.Late[:0]
	var lateBuf, namedBuf [32]bool
	late, named := lateBuf[:0], namedBuf[:0]
	if sc != nil {
		if len(sc.names) > len(lateBuf) {
			late, named = make([]bool, 0, len(sc.names)), make([]bool, 0, len(sc.names))
		}
		for _, src := range sc.names {
			late, named = append(late, o.Freshness.Late(src, now)), append(named, false)
		}
	}
	for i, x := range v.Values {
		if math.IsNaN(x) {
			v.Status[i] = Missing
			continue
		}
		v.Status[i] = fresh
		if sc == nil || sc.of[i] < 0 || !late[sc.of[i]] {
			continue
		}
		v.Status[i] = Stale
		if k := sc.of[i]; !named[k] {
			named[k] = true
			v.Late = append(v.Late, sc.names[k])
		}
	}
}

// MemoryStore is the embedded in-process online store. Load builds an index and swaps
// it in atomically; Get is lock-free.
type MemoryStore struct {
	opts OnlineOptions
	cur  atomic.Pointer[memSnapshot]
}

type memSnapshot struct {
	set     string
	asof    time.Time
	names   []string
	sources *SourceColumns // when sources are judged
	width   int
	index   map[string]int32
	values  []float64
}

// NewMemoryStore returns an empty embedded store.
func NewMemoryStore(opts OnlineOptions) *MemoryStore {
	opts.EnsureDefaults()
	return &MemoryStore{opts: opts}
}

// Load replaces the content of the store with the snapshot (copied).
func (m *MemoryStore) Load(ctx context.Context, s *Snapshot) error {
	if err := s.Validate(); err != nil {
		return err
	}
	ms := &memSnapshot{
		set: s.Set, asof: s.AsOf.UTC(), names: append([]string(nil), s.Names...), sources: m.opts.Sources(s.Names), width: len(s.Names),
		index: make(map[string]int32, len(s.Codes)), values: append([]float64(nil), s.Values...),
	}
	for i, c := range s.Codes {
		if _, dup := ms.index[c]; dup {
			return fmt.Errorf("%w: %s: company %s appears twice", ErrInvalidSnapshot, s.Set, c)
		}
		ms.index[c] = int32(i)
		if i%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	m.cur.Store(ms)
	return nil
}

// AsOf returns the as-of date of the loaded snapshot (zero when nothing is loaded).
func (m *MemoryStore) AsOf() time.Time {
	if s := m.cur.Load(); s != nil {
		return s.asof
	}
	return time.Time{}
}

// Loaded returns the as-of date and the company codes (sorted) of the loaded
// snapshot; a zero date and no codes when nothing is loaded.
func (m *MemoryStore) Loaded() (time.Time, []string) {
	s := m.cur.Load()
	if s == nil {
		return time.Time{}, nil
	}
	codes := make([]string, 0, len(s.index))
	for c := range s.index {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return s.asof, codes
}

// Get returns the company's vector.
func (m *MemoryStore) Get(ctx context.Context, code string) (Vector, error) {
	var v Vector
	err := m.GetInto(ctx, code, &v)
	return v, err
}

// GetInto is Get reusing the slices of v when they are large enough, for callers that
// look up many companies without allocating.
func (m *MemoryStore) GetInto(_ context.Context, code string, v *Vector) error {
	s := m.cur.Load()
	if s == nil {
		return ErrNoSnapshot
	}
	i, ok := s.index[code]
	if !ok {
		return fmt.Errorf("%w: %s (%s as of %s)", ErrUnknownCompany, code, s.set, s.asof.Format(time.DateOnly))
	}
	row := s.values[int(i)*s.width : (int(i)+1)*s.width]
	v.Code, v.Set, v.AsOf, v.Names = code, s.set, s.asof, s.names
	v.Values = append(v.Values[:0], row...)
	if cap(v.Status) < s.width {
		v.Status = make([]Status, s.width)
	}
	v.Status = v.Status[:s.width]
	m.opts.FillStatus(v, s.sources)
	return nil
}

// Len returns the number of companies loaded.
func (m *MemoryStore) Len() int {
	if s := m.cur.Load(); s != nil {
		return len(s.index)
	}
	return 0
}
