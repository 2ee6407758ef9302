package ingest

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// A bucket's keys are matched with the stored facts by sorting, not hashing,
// when the batch does not withdraw omitted keys: the rows are sorted by key
// (the compact binary form of sourceInfo.appendKey, compared as bytes), equal
// keys fall together (the first in file order makes the entry, the others are
// duplicates), and the entries come out in key order. A stored file is then
// walked against them with a cursor: the platform's parts and the generator's
// are ordered by code, so the cursor only moves forward and each stored row
// costs a comparison or two of integers instead of a hash lookup in a table far
// larger than the caches. A stored row whose key sorts before the previous one
// is found by binary search, and the cursor gallops forward; a file found in
// another order (a source keyed by an id, say) is read on by hashing its keys.

// keyRef is a key's place in the order: its first 24 bytes as big-endian words
// (zero-padded, so that they compare as the bytes do) and its length. Keys of
// at most 24 bytes (a credit code and a date) compare without looking at their
// bytes.
type keyRef struct {
	w   [3]uint64
	n   int32
	row int32 // the row it is the key of (while sorting rows)
}

func makeKeyRef[K string | []byte](key K, row int32) keyRef {
	var b [24]byte
	copy(b[:], key)
	return keyRef{w: [3]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16]), binary.BigEndian.Uint64(b[16:])},
		n: int32(len(key)), row: row}
}

// compareKeys orders keys x and y (with their refs) as their bytes compare.
func compareKeys[K string | []byte](x *keyRef, xkey string, y *keyRef, ykey K) int {
	for i := range x.w {
		if c := cmp.Compare(x.w[i], y.w[i]); c != 0 {
			return c
		}
	}
	if x.n <= 24 && y.n <= 24 {
		// The padded words are equal: the shorter key is a prefix of the other.
		return cmp.Compare(x.n, y.n)
	}
	for i := range min(len(xkey), len(ykey)) {
		if xkey[i] != ykey[i] {
			return cmp.Compare(xkey[i], ykey[i])
		}
	}
	return cmp.Compare(len(xkey), len(ykey))
}

// sortedEntries makes the entries of rows in key order (see above): refs gets
// each entry's keyRef, entryOf each row's entry.
func sortedEntries(rows []spilled, entries []keyEntry, refs []keyRef, entryOf []int32) ([]keyEntry, []keyRef) {
	byKey := refs[:0]
	for i := range rows {
		byKey = append(byKey, makeKeyRef(rows[i].key, int32(i)))
	}
	slices.SortFunc(byKey, func(x, y keyRef) int {
		// The words first, inline: looking at the rows' keys (scattered in
		// memory) is left to the keys longer than the words.
		for i := range x.w {
			if c := cmp.Compare(x.w[i], y.w[i]); c != 0 {
				return c
			}
		}
		if x.n > 24 || y.n > 24 {
			if c := compareKeys(&x, rows[x.row].key, &y, rows[y.row].key); c != 0 {
				return c
			}
		} else if c := cmp.Compare(x.n, y.n); c != 0 {
			return c
		}
		return cmp.Compare(x.row, y.row)
	})
	// The walk reads byKey in order; of the rows it only writes entryOf (the
	// rows are scattered in this order). An entry's ref takes the place of
	// the first ref of its run, behind the walk.
	entries = entries[:0]
	out := byKey[:0]
	for k := range byKey {
		ref := byKey[k]
		if k == 0 || byKey[k-1].w != ref.w || byKey[k-1].n != ref.n ||
			ref.n > 24 && rows[byKey[k-1].row].key != rows[ref.row].key {
			entries = append(entries, keyEntry{first: ref.row})
			out = append(out, ref)
		}
		entryOf[ref.row] = int32(len(entries) - 1)
	}
	// A retraction or end of publicity needs its stored fact's values.
	for i := range rows {
		if rows[i].kind.Void() {
			entries[entryOf[i]].keepRow = true
		}
	}
	return entries, out
}

// keyCursor walks the entries in key order (sortedEntries) against the rows of
// a stored file (see above).
type keyCursor struct {
	entries []keyEntry
	refs    []keyRef
	rows    []spilled // the rows the entries are first of, which hold the keys
	j       int       // every entry before j has a key below the last one found
	// finds and jumps (finds out of order, back to a binary search) count the
	// current file's rows; a file found out of order is read on by hashing.
	// Going forward by galloping is cheap and not counted: a part holding
	// every fourth company is still in order.
	finds, jumps int
	hashed       bool
	lookup       map[string]int32 // made once a bucket, by the first file out of order
}

// cursorJumps is how many jumps, and at least a quarter of the finds, prove a
// file out of order: its rows are then looked up by hashing, as fast as for a
// file in order, instead of by binary search.
const cursorJumps = 256

// reset starts the cursor on a file.
func (c *keyCursor) reset() {
	c.j, c.finds, c.jumps, c.hashed = 0, 0, 0, false
}

// jump counts a find out of order, and turns to hashing when they are many.
func (c *keyCursor) jump() {
	c.jumps++
	if c.jumps < cursorJumps || 4*c.jumps < c.finds {
		return
	}
	c.hashed = true
	if c.lookup == nil {
		c.lookup = make(map[string]int32, len(c.entries))
		for e := range c.entries {
			c.lookup[c.rows[c.entries[e].first].key] = int32(e)
		}
	}
}

// find returns the entry of key, or -1.
func (c *keyCursor) find(key []byte) int32 {
	if c.hashed {
		if e, ok := c.lookup[string(key)]; ok {
			return e
		}
		return -1
	}
	c.finds++
	ref := makeKeyRef(key, 0)
	n := len(c.refs)
	if c.j < n {
		d := c.compare(c.j, &ref, key)
		if d == 0 { // a key stored twice (its revisions)
			return int32(c.j)
		}
		if d < 0 {
			// Forward. Entries are unique and sorted: in a file in key order the
			// next key is most often the next entry's, or absent before it.
			if c.j+1 == n {
				c.j = n
				return -1
			}
			if d := c.compare(c.j+1, &ref, key); d >= 0 {
				c.j++
				if d == 0 {
					return int32(c.j)
				}
				return -1
			}
			// Further, by galloping, then binary search: a few steps for a file
			// in another order.
			lo, hi, step := c.j+2, c.j+2, 1 // every entry before lo is below key
			for hi < n && c.compare(hi, &ref, key) < 0 {
				lo = hi + 1
				hi, step = lo+step, 2*step
			}
			c.j = c.search(lo, min(hi, n), &ref, key)
			if c.j < n && c.compare(c.j, &ref, key) == 0 {
				return int32(c.j)
			}
			return -1
		}
	}
	// The entry at the cursor (or the end) is above key: key is between it and
	// the one before, or out of order, before both.
	if c.j == 0 || c.compare(c.j-1, &ref, key) < 0 {
		return -1
	}
	c.jump()
	c.j = c.search(0, c.j-1, &ref, key)
	if c.compare(c.j, &ref, key) == 0 {
		return int32(c.j)
	}
	return -1
}

// search returns the first entry in [lo, hi) whose key is not below key, or hi.
func (c *keyCursor) search(lo, hi int, ref *keyRef, key []byte) int {
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); c.compare(m, ref, key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// compare orders the key of entry i and key (with its ref) as their bytes
// compare, looking at the entry's row only for keys longer than the words.
func (c *keyCursor) compare(i int, ref *keyRef, key []byte) int {
	x := &c.refs[i]
	for k := range x.w {
		if x.w[k] != ref.w[k] {
			if x.w[k] < ref.w[k] {
				return -1
			}
			return 1
		}
	}
	if x.n <= 24 && ref.n <= 24 {
		return cmp.Compare(x.n, ref.n)
	}
	return compareKeys(x, c.rows[c.entries[i].first].key, ref, key)
}
