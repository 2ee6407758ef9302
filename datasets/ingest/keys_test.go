package ingest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestKeyCursor matches stored keys with a bucket's entries by sortedEntries and
// keyCursor, and checks every answer against a map of the keys: duplicates in
// the batch, stored files in key order, in reverse and shuffled, keys of other
// lengths (prefixes of one another, longer than the 24 bytes compared inline).
func TestKeyCursor(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var pool []string
	for i := range 300 {
		switch i % 5 {
		case 0: // a credit code and a date, as the tax table's keys
			pool = append(pool, fmt.Sprintf("\x12913306%012d\x01\x02\x03\x04", rng.IntN(1e6)))
		case 1: // longer than the inline words
			pool = append(pool, fmt.Sprintf("\x20913306%012d-%013d", rng.IntN(1e6), rng.IntN(10)))
		case 2: // a prefix of another key
			k := pool[len(pool)-1]
			pool = append(pool, k[:rng.IntN(len(k))])
		case 3: // ending in zero bytes (the padding of the words)
			pool = append(pool, fmt.Sprintf("a%d", rng.IntN(20))+"\x00\x00"[:rng.IntN(3)])
		default:
			pool = append(pool, fmt.Sprintf("%d", rng.IntN(100)))
		}
	}
	// The batch: keys drawn from half the pool, some twice.
	var rows []spilled
	for range 400 {
		rows = append(rows, spilled{key: pool[rng.IntN(len(pool)/2)], line: int64(len(rows) + 2)})
	}
	entryOf := make([]int32, len(rows))
	entries, refs := sortedEntries(rows, nil, make([]keyRef, len(rows)), entryOf)
	// The reference: the first row of each key, by a map.
	first := map[string]int{}
	for i, r := range rows {
		if _, ok := first[r.key]; !ok {
			first[r.key] = i
		}
	}
	if len(entries) != len(first) || len(refs) != len(entries) {
		t.Fatalf("%d entries, %d refs; want %d", len(entries), len(refs), len(first))
	}
	for i, r := range rows {
		e := entries[entryOf[i]]
		if int(e.first) != first[r.key] {
			t.Fatalf("row %d (%q): entry of first row %d (%q); want first row %d", i, r.key, e.first, rows[e.first].key, first[r.key])
		}
	}
	for i := 1; i < len(entries); i++ {
		if x, y := rows[entries[i-1].first].key, rows[entries[i].first].key; x >= y {
			t.Fatalf("entries %d and %d out of order: %q, %q", i-1, i, x, y)
		}
	}
	// Stored files: every pool key, some twice or more (revisions), in several
	// orders; enough rows out of order that the cursor turns to hashing.
	stored := slices.Clone(pool)
	for len(stored) < 8*cursorJumps {
		stored = append(stored, pool[:60]...)
		stored = append(stored, pool...)
	}
	sorted := slices.Clone(stored)
	slices.Sort(sorted)
	reversed := slices.Clone(sorted)
	slices.Reverse(reversed)
	shuffled := slices.Clone(stored)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for name, file := range map[string][]string{"sorted": sorted, "reversed": reversed, "shuffled": shuffled} {
		t.Run(name, func(t *testing.T) {
			cur := keyCursor{entries: entries, refs: refs, rows: rows}
			cur.reset()
			for _, k := range file {
				got := cur.find([]byte(k))
				_, want := first[k]
				switch {
				case got < 0 && want:
					t.Fatalf("%q not found", k)
				case got >= 0 && (!want || !bytes.Equal([]byte(rows[entries[got].first].key), []byte(k))):
					t.Fatalf("%q found as %q", k, rows[entries[got].first].key)
				}
			}
			// A file in key order is walked; one shuffled turns to hashing.
			// (Reversed, each distinct key costs one jump back: whether that
			// turns to hashing depends on how many there are.)
			if hashed := name == "shuffled"; name != "reversed" && cur.hashed != hashed {
				t.Errorf("hashed %v after %d finds, %d of them jumps; want %v", cur.hashed, cur.finds, cur.jumps, hashed)
			}
		})
	}
}

// BenchmarkKeyCursor matches the keys of a stored month (110,000 credit codes
// and a date) with a batch holding every one of them, the file in key order as
// the platform writes it and shuffled (read on by hashing once found out of
// order), against a hash lookup of the same keys.
func BenchmarkKeyCursor(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 110_000
	keys := make([][]byte, n)
	rows := make([]spilled, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "\x12913306%012d\x01\x02\x03\x04", rng.IntN(1e12))
		rows[i] = spilled{key: string(keys[i])}
	}
	entryOf := make([]int32, n)
	entries, refs := sortedEntries(rows, nil, make([]keyRef, n), entryOf)
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, bytes.Compare)
	lookup := make(map[string]int32, n)
	for i, r := range rows {
		lookup[r.key] = int32(i)
	}
	// A file's keys side by side, in its order, as loadIndex reads them.
	contiguous := func(keys [][]byte) [][]byte {
		buf := slices.Concat(keys...)
		out := make([][]byte, len(keys))
		for i, k := range keys {
			out[i], buf = buf[:len(k):len(k)], buf[len(k):]
		}
		return out
	}
	for name, file := range map[string][][]byte{"sorted": contiguous(sorted), "shuffled": contiguous(keys)} {
		b.Run(name, func(b *testing.B) {
			// One cursor a bucket, reset for each of its files.
			cur := keyCursor{entries: entries, refs: refs, rows: rows}
			for b.Loop() {
				cur.reset()
				for _, k := range file {
					if cur.find(k) < 0 {
						b.Fatal("not found")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
		})
		b.Run(name+"/map", func(b *testing.B) {
			for b.Loop() {
				for _, k := range file {
					if _, ok := lookup[string(k)]; !ok {
						b.Fatal("not found")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
		})
	}
}
