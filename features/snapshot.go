package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// ErrNoSnapshotStored reports that the offline store holds no (visible) snapshot of a set.
var ErrNoSnapshotStored = errors.New("features: no snapshot stored")

// ListSnapshots returns the as-of dates of the visible snapshots (those with a
// manifest) of a set version, sorted.
func ListSnapshots(ctx context.Context, store blob.Store, set string, version int) ([]Day, error) {
	prefix := setPrefix(set, version)
	keys, err := blob.Keys(ctx, store, prefix)
	if err != nil {
		return nil, fmt.Errorf("features: list %s: %w", prefix, err)
	}
	out := []Day{}
	for _, k := range keys {
		if d, file, ok := snapshotFile(prefix, k); ok && file == "_manifest.json" {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// setPrefix is the key prefix of the snapshots of a set version.
func setPrefix(set string, version int) string { return fmt.Sprintf("features/%s/v%d/", set, version) }

// snapshotFile splits the key of an object under a set version's prefix into
// the as-of date of its snapshot and its file name within it; false for an
// object of no snapshot (a staged run's, say).
func snapshotFile(prefix, key string) (Day, string, bool) {
	dir, file, ok := strings.Cut(strings.TrimPrefix(key, prefix), "/")
	if !ok || !strings.HasPrefix(dir, "asof=") {
		return 0, "", false
	}
	t, err := time.Parse(time.DateOnly, strings.TrimPrefix(dir, "asof="))
	if err != nil {
		return 0, "", false
	}
	return DayOf(t), file, true
}

func readBlob(ctx context.Context, store blob.Store, key string) ([]byte, error) {
	b, _, err := blob.ReadAll(ctx, store, key)
	if err != nil {
		return nil, fmt.Errorf("features: read %s: %w", key, err)
	}
	return b, nil
}

// fileBuffers hold the buffers files are read into before they are decoded
// (*[]byte), so that reading many leaves no garbage of their size.
var fileBuffers sync.Pool

func fileBuffer() *[]byte {
	if b, ok := fileBuffers.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

// ReadManifest reads the manifest of one snapshot; a missing one wraps ErrNoSnapshotStored.
func ReadManifest(ctx context.Context, store blob.Store, set string, version int, asof Day) (*Manifest, error) {
	m := new(Manifest)
	if err := decodeManifest(ctx, store, set, version, asof, m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeManifest reads the manifest of a snapshot into into.
func decodeManifest(ctx context.Context, store blob.Store, set string, version int, asof Day, into any) error {
	key := ManifestKey(set, version, asof)
	b, err := readBlob(ctx, store, key)
	if errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("%w: %s/v%d as of %s", ErrNoSnapshotStored, set, version, asof)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorruptRaw, key, err)
	}
	return nil
}

// ReadSnapshot reads a visible snapshot into memory.
func ReadSnapshot(ctx context.Context, store blob.Store, set string, version int, asof Day) (*Snapshot, *Manifest, error) {
	m, err := ReadManifest(ctx, store, set, version, asof)
	if err != nil {
		return nil, nil, err
	}
	s, err := readParts(ctx, store, m)
	return s, m, err
}

// LatestSnapshot reads the latest visible snapshot of a set version.
func LatestSnapshot(ctx context.Context, store blob.Store, set string, version int) (*Snapshot, *Manifest, error) {
	days, err := ListSnapshots(ctx, store, set, version)
	if err != nil {
		return nil, nil, err
	}
	if len(days) == 0 {
		return nil, nil, fmt.Errorf("%w: %s/v%d", ErrNoSnapshotStored, set, version)
	}
	return ReadSnapshot(ctx, store, set, version, days[len(days)-1])
}

// LatestIntactSnapshot reads the newest visible snapshot of a set version that
// reads whole (every part present and matching its digest), going back one as-of
// date at a time past ones that do not; skipped says why each newer one was passed
// over. It fails only when no snapshot reads.
func LatestIntactSnapshot(ctx context.Context, store blob.Store, set string, version int) (snap *Snapshot, m *Manifest, skipped []error, err error) {
	days, err := ListSnapshots(ctx, store, set, version)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(days) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: %s/v%d", ErrNoSnapshotStored, set, version)
	}
	for i := len(days) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return nil, nil, skipped, err
		}
		snap, m, err := ReadSnapshot(ctx, store, set, version, days[i])
		if err == nil {
			return snap, m, skipped, nil
		}
		skipped = append(skipped, fmt.Errorf("%s/v%d as of %s: %w", set, version, days[i], err))
	}
	return nil, nil, skipped, fmt.Errorf("no snapshot of %s/v%d reads: %w", set, version, errors.Join(skipped...))
}

// LoadOnline loads the latest snapshot of a set version into an online store.
func LoadOnline(ctx context.Context, store blob.Store, set string, version int, dst OnlineLoader) (*Manifest, error) {
	s, m, err := LatestSnapshot(ctx, store, set, version)
	if err != nil {
		return nil, err
	}
	return m, dst.Load(ctx, s)
}

// readParts reads the part files a manifest lists, checking their digests and row
// counts against it, with its patches applied.
func readParts(ctx context.Context, store blob.Store, m *Manifest) (*Snapshot, error) {
	return readColumnsOf(ctx, store, m, m.Indicators)
}

// readColumnsOf reads the indicators names (a subset of the manifest's, in any
// order) of every company of a snapshot, with its patches applied in order.
func readColumnsOf(ctx context.Context, store blob.Store, m *Manifest, names []string) (*Snapshot, error) {
	asof, err := time.Parse(time.DateOnly, m.AsOf)
	if err != nil {
		return nil, fmt.Errorf("%w: manifest of %s/v%d: bad as-of %q", ErrCorruptRaw, m.Set, m.Version, m.AsOf)
	}
	c, err := readSnapshotColumns(ctx, store, m, names, nil)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Set: fmt.Sprintf("%s/v%d", m.Set, m.Version), AsOf: asof, Names: slices.Clone(names), Codes: c.codes}
	w := len(names)
	s.Values = make([]float64, len(c.codes)*w)
	for j, col := range c.cols {
		for r, v := range col {
			s.Values[r*w+j] = v
		}
	}
	return s, nil
}

// snapshotColumns are some indicators of every company of a snapshot, held
// column by column: cols[x][i] is indicator x of company codes[i].
type snapshotColumns struct {
	codes []string
	cols  [][]float64
	// likely are the companies the snapshot likely holds, in order (another
	// date's): a shard whose parts hold them shares them instead of decoding
	// its codes.
	likely []string
}

// readSnapshotColumns reads the indicators names (a subset of the manifest's,
// in any order) of every company of a snapshot, column by column as the files
// hold them, with its patches applied in order.
func readSnapshotColumns(ctx context.Context, store blob.Store, m *Manifest, names, likely []string) (*snapshotColumns, error) {
	if m.Rows < 0 {
		return nil, fmt.Errorf("%w: manifest of %s/v%d as of %s: %d rows", ErrCorruptRaw, m.Set, m.Version, m.AsOf, m.Rows)
	}
	s := &snapshotColumns{cols: make([][]float64, len(names)), likely: likely}
	if err := readSnapshotParts(ctx, store, m.Parts, names, s); err != nil {
		return nil, err
	}
	if len(m.Patches) == 0 {
		return s, nil
	}
	// Each patch row replaces its company's values of the patch's indicators.
	pos := make(map[string]int, len(s.codes))
	for i, c := range s.codes {
		pos[c] = i
	}
	for _, p := range m.Patches {
		cols := p.Columns
		if len(cols) == 0 {
			cols = m.Indicators
		}
		var at []int // position in s of each patched column read
		var read []string
		for _, c := range cols {
			if k := slices.Index(names, c); k >= 0 {
				at = append(at, k)
				read = append(read, c)
			}
		}
		if len(read) == 0 {
			continue
		}
		ps := &snapshotColumns{cols: make([][]float64, len(read))}
		if err := readSnapshotParts(ctx, store, []Part{{FileRef: p.FileRef}}, read, ps); err != nil {
			return nil, err
		}
		for i, c := range ps.codes {
			j, ok := pos[c]
			if !ok {
				return nil, fmt.Errorf("%w: %s: company %s of a patch is in no part", ErrCorruptRaw, p.Key, c)
			}
			for x, k := range at {
				s.cols[k][j] = ps.cols[x][i]
			}
		}
	}
	return s, nil
}

// Shards is the number of company shards the snapshot's parts hold.
func (m *Manifest) Shards() int { return len(partBlocks(m.Parts)) }

// partBlocks splits the parts of a manifest by shard: the parts of one shard
// follow each other and hold its companies; a part without columns is a shard
// of its own.
func partBlocks(parts []Part) [][]Part {
	var out [][]Part
	for i, p := range parts {
		if i == 0 || len(p.Columns) == 0 || len(parts[i-1].Columns) == 0 || p.Shard != parts[i-1].Shard {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], p)
	}
	return out
}

// readSnapshotParts appends the rows of parts to s (its indicators names),
// reading of each shard only the parts that hold one of them, and checking
// their digests and row counts, and that the parts of a shard hold the same
// companies.
func readSnapshotParts(ctx context.Context, store blob.Store, parts []Part, names []string, s *snapshotColumns) error {
	blocks := partBlocks(parts)
	for _, b := range blocks {
		holder := make([]int, len(names)) // the part of b holding each name
		for x, name := range names {
			holder[x] = slices.IndexFunc(b, func(p Part) bool { return len(p.Columns) == 0 || slices.Contains(p.Columns, name) })
			if holder[x] < 0 {
				return fmt.Errorf("%w: no part of shard %d holds indicator %s", ErrCorruptRaw, b[0].Shard, name)
			}
		}
		need := slices.Compact(slices.Sorted(slices.Values(holder)))
		if len(need) == 0 {
			need = []int{0} // the companies alone
		}
		base := len(s.codes)
		for k, i := range need {
			p := b[i]
			// The store verified the content against its recorded digest as it
			// read it (blob.Store.Get): comparing that digest with the
			// manifest's is enough.
			buf := fileBuffer()
			data, info, err := blob.ReadAllInto(ctx, store, p.Key, *buf)
			if err != nil {
				return fmt.Errorf("features: read %s: %w", p.Key, err)
			}
			// The decoded columns hold copies: the buffer is free again after.
			*buf = data
			defer fileBuffers.Put(buf)
			sum := info.SHA256
			if sum == "" {
				sum = blob.SHA256Hex(data)
			}
			if p.SHA256 != "" && sum != p.SHA256 {
				return fmt.Errorf("%w: %s: sha256 differs from the manifest", ErrCorruptRaw, p.Key)
			}
			var read []string
			var at []int
			for x, h := range holder {
				if h == i {
					read, at = append(read, names[x]), append(at, x)
				}
			}
			// The first part gives the shard's companies; its other parts must
			// hold the same.
			cols, key, want, off := append([]string{"code"}, read...), "", []string(nil), 1
			if k > 0 {
				cols, key, want, off = read, "code", s.codes[base:], 0
			}
			var c []column
			var n int
			decode := k == 0 // the codes, from this part
			if decode && p.Rows >= 0 && int64(len(s.likely)-base) >= p.Rows {
				// The companies expected: kept when the part holds them (a
				// three-index slice, so that appending copies).
				likely := s.likely[base : base+int(p.Rows) : base+int(p.Rows)]
				if c, n, err = readColumnsWith(data, p.Key, read, "code", likely); err == nil {
					if base == 0 {
						s.codes = likely
					} else {
						s.codes = append(s.codes, likely...)
					}
					decode, off = false, 0
				}
			}
			if decode || k > 0 {
				if c, n, err = readColumnsWith(data, p.Key, cols, key, want); err != nil {
					return err
				}
			}
			if int64(n) != p.Rows {
				return fmt.Errorf("%w: %s: %d rows, manifest says %d", ErrCorruptRaw, p.Key, n, p.Rows)
			}
			if decode {
				if c[0].bytes == nil && n > 0 {
					return fmt.Errorf("%w: %s: column code is not a string", ErrCorruptRaw, p.Key)
				}
				for r := 0; r < n; r++ {
					s.codes = append(s.codes, c[0].dict[c[0].bytes[r]])
				}
			}
			for j, x := range at {
				f := c[j+off].f64
				if len(f) != n { // not a column of doubles: no values
					f = make([]float64, n)
					for r := range f {
						f[r] = math.NaN()
					}
				}
				if len(blocks) == 1 {
					s.cols[x] = f // the decoded column itself: no copy
				} else {
					s.cols[x] = append(s.cols[x], f...)
				}
			}
		}
	}
	return nil
}
