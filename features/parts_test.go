package features

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/xinyi-platform/xinyi/datasets"
)

// TestSnapshotPartsByGroup materializes the full set in several shards and
// checks the layout (each shard's parts hold every indicator once, a part per
// source), that reading one source's indicators reads only its parts, that a
// manifest of the earlier layout (a part per shard with every indicator) reads
// the same values, and that a shard whose parts hold other companies is refused.
func TestSnapshotPartsByGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and materializes a universe")
	}
	ctx := context.Background()
	store := generated(t, 300, 14, datasets.Month(2024*12), 9)
	at := time.Date(2025, 2, 28, 0, 0, 0, 0, time.UTC)
	if _, err := Materialize(ctx, store, Options{Set: "full", AsOf: []time.Time{at}, MemoryBudget: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	d := DayOf(at)
	snap, man, err := ReadSnapshot(ctx, store, "full", 1, d)
	if err != nil {
		t.Fatal(err)
	}
	blocks := partBlocks(man.Parts)
	if len(blocks) < 2 {
		t.Fatalf("%d shards, want several", len(blocks))
	}
	for _, b := range blocks {
		var cols []string
		for _, p := range b {
			if p.Rows != b[0].Rows {
				t.Fatalf("part %s: %d rows, the shard's first %d", p.Key, p.Rows, b[0].Rows)
			}
			// Every indicator of a part comes from the source the key names,
			// as its id says: company.* from the registry's, network.* from
			// the guarantee network's, the others from their first word's.
			for _, c := range p.Columns {
				want, _, _ := strings.Cut(c, ".")
				if want == "company" {
					want = "companies"
				}
				if !strings.HasSuffix(p.Key, "-"+want+".parquet") {
					t.Fatalf("part %s holds %s, an indicator of %s", p.Key, c, want)
				}
			}
			cols = append(cols, p.Columns...)
		}
		slices.Sort(cols)
		if want := slices.Sorted(slices.Values(man.Indicators)); !slices.Equal(cols, want) {
			t.Fatalf("shard %d holds %d indicators, the set %d", b[0].Shard, len(cols), len(want))
		}
	}

	// Some indicators: only the parts holding them are read.
	var taxNames []string
	for _, id := range man.Indicators {
		if strings.HasPrefix(id, "tax.") {
			taxNames = append(taxNames, id)
		}
	}
	reads := &readingStore{Store: store}
	some, err := readColumnsOf(ctx, reads, man, taxNames)
	if err != nil {
		t.Fatal(err)
	}
	if len(reads.keys) != len(blocks) {
		t.Fatalf("reading the tax indicators read %v, want one part of each of %d shards", reads.keys, len(blocks))
	}
	for _, k := range reads.keys {
		if !strings.HasSuffix(k, "-tax.parquet") {
			t.Fatalf("reading the tax indicators read %s", k)
		}
	}
	for i := range snap.Codes {
		for x, id := range taxNames {
			j := slices.Index(snap.Names, id)
			g, w := some.Values[i*len(taxNames)+x], snap.Values[i*len(snap.Names)+j]
			if some.Codes[i] != snap.Codes[i] || (g != w && !(g != g && w != w)) {
				t.Fatalf("company %d, %s: %v, whole read %v", i, id, g, w)
			}
		}
	}

	// The companies expected: shared when the parts hold them (more
	// expected are ignored), decoded when they differ in one code or are fewer.
	want := make([]string, len(some.Codes))
	copy(want, some.Codes)
	changed := slices.Clone(want)
	changed[len(changed)/2] = "91000000000000000X"
	for _, tt := range []struct {
		name   string
		likely []string
		shared bool
	}{
		{"the same companies", want, true},
		{"one code different", changed, false},
		{"fewer companies", want[:len(want)-1], false},
		{"more companies", append(slices.Clone(want), "91999999999999999X"), true},
	} {
		c, err := readSnapshotColumns(ctx, store, man, taxNames, tt.likely)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !slices.Equal(c.codes, want) {
			t.Fatalf("%s: %d companies read, want %d", tt.name, len(c.codes), len(want))
		}
		// Shared strings have the same bytes in memory. A shard whose part
		// holds other companies than expected decodes them.
		all := true
		for i := range want {
			all = all && i < len(tt.likely) && unsafe.StringData(c.codes[i]) == unsafe.StringData(tt.likely[i])
		}
		if all != tt.shared {
			t.Fatalf("%s: every code shared: %v, want %v", tt.name, all, tt.shared)
		}
		for x := range taxNames {
			for i := range want {
				if g, w := c.cols[x][i], some.Values[i*len(taxNames)+x]; g != w && !(g != g && w != w) {
					t.Fatalf("%s: company %d, %s: %v, want %v", tt.name, i, taxNames[x], g, w)
				}
			}
		}
	}

	// The earlier layout: one part per shard with every indicator.
	old := *man
	old.Parts = nil
	row := 0
	w := len(snap.Names)
	for s, b := range blocks {
		n := int(b[0].Rows)
		rec := SnapshotRecord(snap.Names, snap.Codes[row:row+n], snap.Values[row*w:(row+n)*w])
		var buf bytes.Buffer
		err := writeRecordParquet(&buf, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		key := SnapshotPrefix("old", 1, d) + fmt.Sprintf("part-%05d.parquet", s)
		info, err := store.Put(ctx, key, &buf)
		if err != nil {
			t.Fatal(err)
		}
		old.Parts = append(old.Parts, Part{FileRef: FileRef{Key: key, SHA256: info.SHA256, Size: info.Size, Rows: int64(n)}})
		row += n
	}
	got, err := readColumnsOf(ctx, store, &old, old.Indicators)
	if err != nil {
		t.Fatal(err)
	}
	if n := differingValues(snap, got); n != 0 || !slices.Equal(got.Codes, snap.Codes) {
		t.Fatalf("the earlier layout reads %d values differently", n)
	}
	// Parts as the earlier layout's manifest lists them (no shard, no
	// columns): each is a shard of its own.
	var again Manifest
	if err := json.Unmarshal([]byte(`{"parts": [{"key": "a", "sha256": "x", "size": 1, "rows": 2}, {"key": "b", "sha256": "y", "size": 1, "rows": 3}]}`), &again); err != nil || len(partBlocks(again.Parts)) != 2 {
		t.Fatalf("the earlier layout's parts: %v, %d shards", err, len(partBlocks(again.Parts)))
	}

	// A shard whose tax part holds another shard's companies.
	bad := *man
	bad.Parts = slices.Clone(man.Parts)
	i := slices.IndexFunc(bad.Parts, func(p Part) bool { return p.Shard == blocks[0][0].Shard && strings.HasSuffix(p.Key, "-tax.parquet") })
	j := slices.IndexFunc(bad.Parts, func(p Part) bool { return p.Shard == blocks[1][0].Shard && strings.HasSuffix(p.Key, "-tax.parquet") })
	bad.Parts[i].FileRef, bad.Parts[j].FileRef = bad.Parts[j].FileRef, bad.Parts[i].FileRef
	if _, err := readColumnsOf(ctx, store, &bad, bad.Indicators); !errors.Is(err, ErrCorruptRaw) {
		t.Fatalf("parts of a shard holding other companies: %v, want ErrCorruptRaw", err)
	}
	// A shard lacking a group's part.
	bad.Parts = slices.Delete(slices.Clone(man.Parts), i, i+1)
	if _, err := readColumnsOf(ctx, store, &bad, bad.Indicators); !errors.Is(err, ErrCorruptRaw) || !strings.Contains(err.Error(), "holds indicator") {
		t.Fatalf("a shard without its tax part: %v, want ErrCorruptRaw", err)
	}
}
