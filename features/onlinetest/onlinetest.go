// Package onlinetest is the contract suite every online store of the feature store
// passes (the embedded features.MemoryStore and features/redis): lookups, per-value
// status, staleness, atomic reloads and copies.
package onlinetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
)

// Store is an online store that can be loaded.
type Store interface {
	features.OnlineStore
	features.OnlineLoader
}

// Factory returns a fresh, empty store with the options, isolated from every other
// store the factory returned (for Redis: its own key prefix).
type Factory func(t *testing.T, opts features.OnlineOptions) Store

var (
	june = time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	july = time.Date(2025, 7, 31, 0, 0, 0, 0, time.UTC)
)

// clock returns a fixed clock at t.
func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

func snapshot(asof time.Time, codes []string, base float64) *features.Snapshot {
	names := []string{"tax.sales.sum_12m", "penalty.amount.count_24m", "network.contagion"}
	s := &features.Snapshot{Set: "pd/v1", AsOf: asof, Names: names, Codes: codes}
	for i := range codes {
		s.Values = append(s.Values, base+float64(i), math.NaN(), float64(i)/10)
	}
	return s
}

// lateSources is a Freshness that calls the named sources late.
type lateSources map[string]bool

func (l lateSources) Late(source string, _ time.Time) bool { return l[source] }

// Run runs the contract suite.
func Run(t *testing.T, newStore Factory) {
	ctx := context.Background()
	fresh := features.OnlineOptions{MaxAge: 45 * 24 * time.Hour, Now: clock(june.Add(24 * time.Hour))}
	codes := []string{"91330604MA2BXXXX01", "91330604MA2BXXXX02", "91330604MA2BXXXX03"}

	t.Run("empty store", func(t *testing.T) {
		s := newStore(t, fresh)
		if _, err := s.Get(ctx, codes[0]); !errors.Is(err, features.ErrNoSnapshot) {
			t.Fatalf("Get on empty store: err = %v, want ErrNoSnapshot", err)
		}
	})

	t.Run("get", func(t *testing.T) {
		s := newStore(t, fresh)
		if err := s.Load(ctx, snapshot(june, codes, 1000)); err != nil {
			t.Fatal(err)
		}
		v, err := s.Get(ctx, codes[2])
		if err != nil {
			t.Fatal(err)
		}
		if v.Code != codes[2] || v.Set != "pd/v1" || !v.AsOf.Equal(june) {
			t.Errorf("vector header = %q %q %v, want %q pd/v1 %v", v.Code, v.Set, v.AsOf, codes[2], june)
		}
		if len(v.Names) != 3 || v.Names[1] != "penalty.amount.count_24m" {
			t.Errorf("names = %v", v.Names)
		}
		if len(v.Values) != 3 || v.Values[0] != 1002 || !math.IsNaN(v.Values[1]) || v.Values[2] != 0.2 {
			t.Errorf("values = %v, want [1002 NaN 0.2]", v.Values)
		}
		want := []features.Status{features.Present, features.Missing, features.Present}
		if fmt.Sprint(v.Status) != fmt.Sprint(want) {
			t.Errorf("status = %v, want %v", v.Status, want)
		}
	})

	t.Run("unknown company", func(t *testing.T) {
		s := newStore(t, fresh)
		if err := s.Load(ctx, snapshot(june, codes, 1)); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, "91330604MA2BXXXX99")
		if !errors.Is(err, features.ErrUnknownCompany) {
			t.Fatalf("err = %v, want ErrUnknownCompany", err)
		}
	})

	t.Run("stale", func(t *testing.T) {
		old := features.OnlineOptions{MaxAge: 30 * 24 * time.Hour, Now: clock(june.Add(31 * 24 * time.Hour))}
		s := newStore(t, old)
		if err := s.Load(ctx, snapshot(june, codes, 1)); err != nil {
			t.Fatal(err)
		}
		v, err := s.Get(ctx, codes[0])
		if err != nil {
			t.Fatal(err)
		}
		want := []features.Status{features.Stale, features.Missing, features.Stale}
		if fmt.Sprint(v.Status) != fmt.Sprint(want) {
			t.Errorf("status = %v, want %v", v.Status, want)
		}
	})

	t.Run("late source", func(t *testing.T) {
		// A fresh snapshot, but the tax bureau has not delivered within its
		// cadence: tax values are stale, the others present, the missing one
		// missing; the vector names the late source.
		opts := fresh
		opts.SourceOf = func(ind string) string {
			src, _, _ := strings.Cut(ind, ".")
			return src
		}
		opts.Freshness = lateSources{"tax": true}
		s := newStore(t, opts)
		if err := s.Load(ctx, snapshot(june, codes, 1)); err != nil {
			t.Fatal(err)
		}
		v, err := s.Get(ctx, codes[1])
		if err != nil {
			t.Fatal(err)
		}
		want := []features.Status{features.Stale, features.Missing, features.Present}
		if fmt.Sprint(v.Status) != fmt.Sprint(want) || fmt.Sprint(v.Late) != "[tax]" {
			t.Errorf("status = %v, late %v; want %v, [tax]", v.Status, v.Late, want)
		}
		// A late source that gives no value (penalty: missing) is not named.
		opts.Freshness = lateSources{"penalty": true}
		s = newStore(t, opts)
		if err := s.Load(ctx, snapshot(june, codes, 1)); err != nil {
			t.Fatal(err)
		}
		if v, err = s.Get(ctx, codes[1]); err != nil || len(v.Late) != 0 || v.Status[0] != features.Present {
			t.Errorf("penalty late: status %v late %v err %v", v.Status, v.Late, err)
		}
	})

	t.Run("reload replaces", func(t *testing.T) {
		s := newStore(t, fresh)
		if err := s.Load(ctx, snapshot(june, codes, 1000)); err != nil {
			t.Fatal(err)
		}
		if err := s.Load(ctx, snapshot(july, codes[1:], 5000)); err != nil {
			t.Fatal(err)
		}
		v, err := s.Get(ctx, codes[1])
		if err != nil {
			t.Fatal(err)
		}
		if !v.AsOf.Equal(july) || v.Values[0] != 5000 {
			t.Errorf("after reload: as of %v value %v, want %v 5000", v.AsOf, v.Values[0], july)
		}
		if _, err := s.Get(ctx, codes[0]); !errors.Is(err, features.ErrUnknownCompany) {
			t.Errorf("company dropped by the new snapshot: err = %v, want ErrUnknownCompany", err)
		}
	})

	t.Run("returned values are copies", func(t *testing.T) {
		s := newStore(t, fresh)
		if err := s.Load(ctx, snapshot(june, codes, 1000)); err != nil {
			t.Fatal(err)
		}
		v, _ := s.Get(ctx, codes[0])
		v.Values[0] = -1
		w, err := s.Get(ctx, codes[0])
		if err != nil {
			t.Fatal(err)
		}
		if w.Values[0] != 1000 {
			t.Errorf("store changed through a returned vector: %v", w.Values[0])
		}
	})

	t.Run("invalid snapshot refused", func(t *testing.T) {
		s := newStore(t, fresh)
		bad := snapshot(june, codes, 1)
		bad.Values = bad.Values[:4]
		if err := s.Load(ctx, bad); !errors.Is(err, features.ErrInvalidSnapshot) {
			t.Errorf("err = %v, want ErrInvalidSnapshot", err)
		}
	})

	t.Run("reload is atomic per vector", func(t *testing.T) {
		s := newStore(t, fresh)
		many := make([]string, 500)
		for i := range many {
			many[i] = fmt.Sprintf("91330604MA%08d", i)
		}
		if err := s.Load(ctx, snapshot(june, many, 1000)); err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		var bad atomic.Int64
		var firstErr atomic.Value
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					code := many[i%len(many)]
					v, err := s.Get(ctx, code)
					if err != nil {
						firstErr.CompareAndSwap(nil, err.Error())
						bad.Add(1)
						continue
					}
					// June values start at 1000, July at 5000: the as-of date and the
					// values must come from the same snapshot.
					june := v.AsOf.Equal(june) && v.Values[0] < 5000
					july := v.AsOf.Equal(july) && v.Values[0] >= 5000
					if !june && !july {
						bad.Add(1)
					}
				}
			}()
		}
		for i := 0; i < 4; i++ {
			asof, base := june, 1000.0
			if i%2 == 0 {
				asof, base = july, 5000
			}
			if err := s.Load(ctx, snapshot(asof, many, base)); err != nil {
				t.Error(err)
			}
		}
		stop.Store(true)
		wg.Wait()
		if n := bad.Load(); n > 0 {
			t.Errorf("%d lookups saw a mixed or failed vector during reloads (first error: %v)", n, firstErr.Load())
		}
	})
}
