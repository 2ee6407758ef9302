package serving

import (
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// explainCache remembers TreeSHAP decompositions, the costliest part of a decision
// (about 150 times a prediction). An entry is keyed by the scorer (one immutable model
// version) and the exact row, and stores the row itself: a hit needs the same model and
// bit-identical feature values, so a corrected snapshot or a new model version can
// never be answered from the cache. Full shards evict an arbitrary entry.
type explainCache struct {
	seed   maphash.Seed
	shards [16]explainShard
	per    int
}

type explainShard struct {
	mu sync.Mutex
	m  map[explainKey]*explainEntry
}

type explainKey struct {
	sc   *Scorer
	hash uint64
}

type explainEntry struct {
	row      []float64
	expected float64
	contrib  []float64
	// reasons are the reason codes of this decomposition, set by the first
	// decision that reads it: they depend only on the row, the decomposition and
	// the Service's catalog and averages, which never change.
	reasons atomic.Pointer[[]Reason]
}

func newExplainCache(size int) *explainCache {
	if size <= 0 {
		return nil
	}
	c := &explainCache{seed: maphash.MakeSeed(), per: max(1, size/16)}
	for i := range c.shards {
		c.shards[i].m = make(map[explainKey]*explainEntry)
	}
	return c
}

func (c *explainCache) key(sc *Scorer, row []float64) explainKey {
	var h maphash.Hash
	h.SetSeed(c.seed)
	var b [8]byte
	for _, v := range row {
		u := math.Float64bits(v)
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
		_, _ = h.Write(b[:])
	}
	return explainKey{sc: sc, hash: h.Sum64()}
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// lookup copies the remembered decomposition of row under sc into out and
// returns its entry, or nil on a miss (and for a nil cache). The entry's row,
// expected value and contributions are never written after it is stored.
func (c *explainCache) lookup(sc *Scorer, row, out []float64) *explainEntry {
	if c == nil {
		return nil
	}
	k := c.key(sc, row)
	sh := &c.shards[k.hash%uint64(len(c.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[k]; ok && sameBits(e.row, row) {
		copy(out, e.contrib)
		return e
	}
	return nil
}

// contributions returns the decomposition of row under sc, computing and remembering
// it on a miss. out receives the contributions.
func (c *explainCache) contributions(sc *Scorer, row, out []float64) (float64, error) {
	if e := c.lookup(sc, row, out); e != nil {
		return e.expected, nil
	}
	expected, _, err := c.compute(sc, row, out)
	return expected, err
}

// compute decomposes row under sc into out and remembers it, without looking it
// up first (the caller has just missed). The entry is nil when the cache is.
func (c *explainCache) compute(sc *Scorer, row, out []float64) (float64, *explainEntry, error) {
	expected, err := sc.Contributions(row, out)
	if err != nil || c == nil {
		return expected, nil, err
	}
	k := c.key(sc, row)
	sh := &c.shards[k.hash%uint64(len(c.shards))]
	e := &explainEntry{row: slices.Clone(row), expected: expected, contrib: slices.Clone(out)}
	sh.mu.Lock()
	if len(sh.m) >= c.per {
		for old := range sh.m {
			delete(sh.m, old)
			break
		}
	}
	sh.m[k] = e
	sh.mu.Unlock()
	return expected, e, nil
}

// len returns the number of remembered decompositions.
func (c *explainCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.Lock()
		n += len(c.shards[i].m)
		c.shards[i].mu.Unlock()
	}
	return n
}
