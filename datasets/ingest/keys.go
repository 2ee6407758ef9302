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
// (a file in another order) is found by binary search: slower, never wrong.

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
}

// find returns the entry of key, or -1.
func (c *keyCursor) find(key []byte) int32 {
	ref := makeKeyRef(key, 0)
	below := func(i int) bool { return c.compare(i, &ref, key) < 0 }
	if c.j > 0 && !below(c.j-1) {
		// Out of order: the first entry not below key, by binary search.
		lo, hi := 0, c.j-1
		for lo < hi {
			if m := int(uint(lo+hi) >> 1); below(m) {
				lo = m + 1
			} else {
				hi = m
			}
		}
		c.j = lo
	} else {
		for c.j < len(c.refs) && below(c.j) {
			c.j++
		}
	}
	if c.j < len(c.refs) && c.compare(c.j, &ref, key) == 0 {
		return int32(c.j)
	}
	return -1
}

// compare orders the key of entry i and key (with its ref): as compareKeys,
// looking at the entry's row only for keys longer than the words.
func (c *keyCursor) compare(i int, ref *keyRef, key []byte) int {
	x := &c.refs[i]
	if x.w == ref.w && (x.n > 24 || ref.n > 24) {
		return compareKeys(x, c.rows[c.entries[i].first].key, ref, key)
	}
	return compareKeys(x, "", ref, key)
}
