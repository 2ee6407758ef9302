package ingest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
)

// A batch is processed in two passes so that memory does not grow with the file:
// the first validates each record and appends the converted row to a temporary
// spill file of its bucket (its event month; one bucket for static and relation
// sources, whose keys do not hold the month); the second takes the buckets one
// at a time, loads the stored facts of that month, rejects keys repeated within
// the batch, assigns revisions and writes the parts. Memory is bounded by the
// rows of one bucket (one month of the source), not by the size of the file.

type spillFile struct {
	f     *os.File
	w     *bufio.Writer
	rows  int
	bytes int64
}

// bucketOf is the spill bucket of a row. A retraction or end of publicity of an
// event source keyed by an id (penalty_id, case_id) names no event date: it
// goes to the bucket of the whole source, where its stored fact is found, and
// takes that fact's event date (its part is still written in the event month).
func (b *batch) bucketOf(row []parquet.Value) int32 {
	if k := b.info.contract.Kind; k == datasets.Static || k == datasets.Relation {
		return -1
	}
	if !b.info.dateKey && datasets.RowKind(row[b.info.kindLeaf].Int32()).Void() {
		return -1
	}
	return int32(datasets.Day(row[b.info.dateLeaf].Int32()).Month())
}

// encodeSpill appends the spill record of an accepted row (values in leaf
// order) of line of the file-th input to dst.
func (b *batch) encodeSpill(dst []byte, file int, line int64, row []parquet.Value) ([]byte, error) {
	var buf [binary.MaxVarintLen64]byte
	var stack [256]byte
	rec := stack[:0]
	rec = binary.AppendUvarint(rec, uint64(file))
	rec = binary.AppendUvarint(rec, uint64(line))
	for i, v := range row {
		if i == b.info.arrLeaf || i == b.info.revLeaf {
			continue
		}
		switch v.Kind() {
		case parquet.ByteArray, parquet.FixedLenByteArray:
			rec = binary.AppendUvarint(rec, uint64(len(v.ByteArray())))
			rec = append(rec, v.ByteArray()...)
		case parquet.Int32:
			rec = binary.LittleEndian.AppendUint32(rec, uint32(v.Int32()))
		case parquet.Double:
			rec = binary.LittleEndian.AppendUint64(rec, math.Float64bits(v.Double()))
		case parquet.Boolean:
			if v.Boolean() {
				rec = append(rec, 1)
			} else {
				rec = append(rec, 0)
			}
		default:
			return dst, fmt.Errorf("ingest: spill: column %d of kind %v", i, v.Kind())
		}
	}
	n := binary.PutUvarint(buf[:], uint64(len(rec)))
	dst = append(dst, buf[:n]...)
	return append(dst, rec...), nil
}

// writeSpill appends rows encoded spill records (encodeSpill) to the file of bucket.
func (b *batch) writeSpill(bucket int32, data []byte, rows int) error {
	sf := b.spills[bucket]
	if sf == nil {
		f, err := os.CreateTemp(b.opts.TempDir, "xinyi-ingest-spill-*")
		if err != nil {
			return fmt.Errorf("ingest: spill: %w", err)
		}
		sf = &spillFile{f: f, w: bufio.NewWriterSize(f, 32<<10)}
		b.spills[bucket] = sf
	}
	if _, err := sf.w.Write(data); err != nil {
		return fmt.Errorf("ingest: spill: %w", err)
	}
	sf.rows += rows
	sf.bytes += int64(len(data))
	return nil
}

// spilled is one row read back from a spill file. Its values stay encoded
// (rec) until its part is written, unless row holds them: a retraction or end
// of publicity filled from the stored fact, or a withdrawal.
type spilled struct {
	file int
	line int64
	rec  []byte          // the values as encodeSpill wrote them, arrival and revision left out
	row  []parquet.Value // the values when they are not rec's
	key  string          // the key's compact binary form (sourceInfo.appendKey)
	code []byte
	date int32
	// month of date, kept: parts and their order go by it
	month datasets.Month
	kind  datasets.RowKind
	rev   int32 // the revision it is written with
}

// spillLayout says how to walk a spill record: the kind of each leaf (-1 for
// arrival and revision, which are not spilled).
type spillLayout struct {
	kinds []parquet.Kind
	skip  []bool
}

func (s *sourceInfo) spillLayout() spillLayout {
	l := spillLayout{kinds: make([]parquet.Kind, s.ncols), skip: make([]bool, s.ncols)}
	for i, path := range s.schema.Columns() {
		leaf, _ := s.schema.Lookup(path...)
		l.kinds[i] = leaf.Node.Type().Kind()
		l.skip[i] = i == s.arrLeaf || i == s.revLeaf
	}
	return l
}

var errSpillShort = errors.New("ingest: spill: record cut short")

// field returns the encoded value of leaf c at pos of rec (the form appendValue
// writes) and the position after it.
func (l *spillLayout) field(rec []byte, pos, c int) ([]byte, int, error) {
	n := 0
	switch l.kinds[c] {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		v, m := uvarintAt(rec, pos)
		if m <= 0 || uint64(len(rec)-pos-m) < v {
			return nil, 0, errSpillShort
		}
		n = m + int(v)
	case parquet.Int32:
		n = 4
	case parquet.Double:
		n = 8
	case parquet.Boolean:
		n = 1
	default:
		return nil, 0, errors.New("ingest: spill: unknown column kind")
	}
	if len(rec)-pos < n {
		return nil, 0, errSpillShort
	}
	return rec[pos : pos+n], pos + n, nil
}

// decode sets the values of row other than arrival and revision from rec,
// without levels or column indexes (the parts are written column by column).
func (l *spillLayout) decode(rec []byte, row []parquet.Value) error {
	return l.decodeAt(rec, row, 1, 0)
}

// decodeAt is decode into the i-th row of values laid out column by column,
// stride values a column: the value of leaf c goes to values[c*stride+i]. It
// walks rec as field does, in one pass.
func (l *spillLayout) decodeAt(rec []byte, values []parquet.Value, stride, i int) error {
	pos := 0
	for c, k := range l.kinds {
		if l.skip[c] {
			continue
		}
		var v parquet.Value
		switch k {
		case parquet.ByteArray, parquet.FixedLenByteArray:
			n, m := uvarintAt(rec, pos)
			if m <= 0 || uint64(len(rec)-pos-m) < n {
				return errSpillShort
			}
			start := pos + m
			pos = start + int(n)
			v = parquet.ByteArrayValue(rec[start:pos:pos])
		case parquet.Int32:
			if len(rec)-pos < 4 {
				return errSpillShort
			}
			v = parquet.Int32Value(int32(binary.LittleEndian.Uint32(rec[pos:])))
			pos += 4
		case parquet.Double:
			if len(rec)-pos < 8 {
				return errSpillShort
			}
			v = parquet.DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(rec[pos:])))
			pos += 8
		case parquet.Boolean:
			if len(rec)-pos < 1 {
				return errSpillShort
			}
			v = parquet.BooleanValue(rec[pos] == 1)
			pos++
		default:
			return errors.New("ingest: spill: unknown column kind")
		}
		values[c*stride+i] = v
	}
	return nil
}

// uvarintAt is binary.Uvarint of rec[pos:], a length below 128 (one byte) read
// without the loop.
func uvarintAt(rec []byte, pos int) (uint64, int) {
	if pos < len(rec) && rec[pos] < 0x80 {
		return uint64(rec[pos]), 1
	}
	if pos > len(rec) {
		return 0, 0
	}
	return binary.Uvarint(rec[pos:])
}

// bucketMemory is where one of process's workers reads its buckets back: the
// buffers of a bucket are reused by the next (the bucket's parts are written
// before the worker takes another).
type bucketMemory struct {
	data    []byte
	rows    []spilled
	kb      []byte
	ends    []int
	entries []keyEntry
	entryOf []int32
	sorted  []sortEntry
	lookup  map[string]int32
	refs    []keyRef
	keep    []int32
	// The stored files of the bucket's revision index and their columns.
	file []byte
	cols []columnValues
	// The values of a few hundred rows being written, column by column.
	values []parquet.Value
	// The part writer and its output, reset for each part.
	w   *parquet.Writer
	out bytes.Buffer
}

// grow returns s resized to n elements, reallocated (with room to spare: the
// next bucket may be a little larger) only when too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/8)
	}
	return s[:n]
}

// readSpill reads every row of a bucket back, in the order they were spilled.
// The file is read whole into mem; each row keeps its encoded values and the
// parts of them the second pass looks at (key, code, event date, kind).
func (b *batch) readSpill(sf *spillFile, mem *bucketMemory) ([]spilled, error) {
	if err := sf.w.Flush(); err != nil {
		return nil, fmt.Errorf("ingest: spill: %w", err)
	}
	if _, err := sf.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("ingest: spill: %w", err)
	}
	mem.data = grow(mem.data, int(sf.bytes))
	data := mem.data
	if _, err := io.ReadFull(sf.f, data); err != nil {
		return nil, fmt.Errorf("ingest: spill: %w", err)
	}
	info := b.info
	lay := info.spillLayout()
	isKey := make([]int, info.ncols) // position of the leaf in the key, or -1
	for c := range isKey {
		isKey[c] = slices.Index(info.keyLeaf, c)
	}
	keyPart := make([][]byte, len(info.keyLeaf))
	mem.rows = grow(mem.rows, sf.rows)
	mem.ends = grow(mem.ends, sf.rows)
	out, kb := mem.rows, mem.kb[:0]
	next := 0
	for i := range out {
		n, m := binary.Uvarint(data[next:])
		if m <= 0 || uint64(len(data)-next-m) < n {
			return nil, errSpillShort
		}
		rec := data[next+m : next+m+int(n)]
		next += m + int(n)
		file, m1 := binary.Uvarint(rec)
		if m1 <= 0 {
			return nil, errSpillShort
		}
		line, m2 := binary.Uvarint(rec[m1:])
		if m2 <= 0 {
			return nil, errSpillShort
		}
		r := spilled{file: int(file), line: int64(line), rec: rec[m1+m2:]}
		pos := 0
		for c := range lay.kinds {
			if lay.skip[c] {
				continue
			}
			f, next, err := lay.field(r.rec, pos, c)
			if err != nil {
				return nil, err
			}
			pos = next
			switch {
			case c == info.codeLeaf:
				_, m := binary.Uvarint(f)
				r.code = f[m:]
			case c == info.dateLeaf:
				r.date = int32(binary.LittleEndian.Uint32(f))
			case c == info.kindLeaf:
				r.kind = datasets.RowKind(int32(binary.LittleEndian.Uint32(f)))
			}
			if k := isKey[c]; k >= 0 {
				keyPart[k] = f
			}
		}
		for _, f := range keyPart { // the key in the key's order, as appendKey makes it
			kb = append(kb, f...)
		}
		mem.ends[i] = len(kb)
		r.month = datasets.Day(r.date).Month()
		out[i] = r
	}
	mem.kb = kb
	// The keys as substrings of one string: no allocation a row.
	keys, start := string(kb), 0
	for i := range out {
		out[i].key, start = keys[start:mem.ends[i]], mem.ends[i]
	}
	return out, nil
}

// process is the second pass: the buckets, several at once, each with its own
// stored facts, duplicates, revisions and parts.
func (b *batch) process() error {
	buckets := make([]int32, 0, len(b.spills))
	rows := 0
	for k, sf := range b.spills {
		buckets = append(buckets, k)
		rows += sf.rows
	}
	if b.withdraw {
		switch {
		case b.rep.Rejected > 0:
			b.withdraw = false
			b.rep.Note = fmt.Sprintf("omitted keys not withdrawn: %d rows rejected", b.rep.Rejected)
		case rows == 0:
			b.withdraw = false
			b.rep.Note = "omitted keys not withdrawn: the delivery holds no rows"
		case b.info.contract.Kind == datasets.Static || b.info.contract.Kind == datasets.Relation:
			// One bucket, the whole source.
		default:
			// Months the delivery omits whole are processed too, with no rows.
			months, err := b.storedMonths()
			if err != nil {
				return err
			}
			for _, m := range months {
				if _, ok := b.spills[int32(m)]; !ok {
					buckets = append(buckets, int32(m))
				}
			}
		}
	}
	slices.Sort(buckets)
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	work := make(chan int32)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range min(runtime.GOMAXPROCS(0), len(buckets)) {
		wg.Go(func() {
			var mem bucketMemory
			for bucket := range work {
				if err := b.processBucket(ctx, bucket, &mem); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		})
	}
feed:
	for _, k := range buckets {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := b.ctx.Err(); err != nil {
		return err
	}
	slices.SortFunc(b.rep.Parts, func(x, y datasets.BatchPart) int { return strings.Compare(x.Key, y.Key) })
	return nil
}

func (b *batch) processBucket(ctx context.Context, bucket int32, mem *bucketMemory) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	info := b.info
	var rows []spilled
	if sf := b.spills[bucket]; sf != nil { // nil: a month the batch omits whole (withdraw)
		var err error
		rows, err = b.readSpill(sf, mem)
		sf.f.Close()
		os.Remove(sf.f.Name())
		if err != nil {
			return err
		}
	}
	// Each key's entry holds its first row and, once loaded, the stored fact
	// in force.
	lay := info.spillLayout()
	entries := grow(mem.entries, len(rows))[:0]
	mem.entryOf = grow(mem.entryOf, len(rows))
	entryOf := mem.entryOf // the entry of a row's key: a row other than its first repeats it
	var lookup map[string]int32
	var cur *keyCursor
	if b.withdraw {
		// The stored keys the batch omits get entries too: by hashing.
		if mem.lookup == nil {
			mem.lookup = make(map[string]int32, len(rows))
		}
		lookup = mem.lookup
		clear(lookup)
		defer clear(lookup) // its keys point into this bucket's rows
		for i := range rows {
			r := &rows[i]
			e, seen := lookup[r.key]
			if !seen {
				e = int32(len(entries))
				lookup[r.key] = e
				entries = append(entries, keyEntry{first: int32(i)})
			}
			entryOf[i] = e
			if r.kind.Void() {
				entries[e].keepRow = true
			}
		}
	} else {
		mem.refs = grow(mem.refs, len(rows))
		entries, mem.refs = sortedEntries(rows, entries, mem.refs, entryOf)
		cur = &keyCursor{entries: entries, refs: mem.refs, rows: rows}
	}
	// The stored facts this bucket can meet: its month, or the whole source. The
	// values of a fact are kept only for the keys a retraction or end of publicity
	// names, or all of them when the omitted keys are withdrawn.
	prefix := info.src.Prefix()
	if bucket >= 0 {
		prefix = info.src.MonthPrefix(datasets.Month(bucket))
	}
	entries, err := b.loadIndex(prefix, lookup, cur, entries, b.withdraw, mem)
	if err != nil {
		return err
	}
	mem.entries = entries
	var accepted, unchanged, corrected, fresh, retracted, unpublished, withdrawn int64
	// values decodes the values of a row (for a message, or to fill them).
	values := func(r *spilled) ([]parquet.Value, error) {
		row := make([]parquet.Value, info.ncols)
		row[info.arrLeaf] = parquet.Int32Value(0).Level(0, 0, info.arrLeaf)
		row[info.revLeaf] = parquet.Int32Value(0).Level(0, 0, info.revLeaf)
		return row, lay.decode(r.rec, row)
	}
	for i := range rows {
		r := &rows[i]
		e := entryOf[i]
		if entries[e].first != int32(i) {
			prev := &rows[entries[e].first]
			row, err := values(r)
			if err != nil {
				return err
			}
			if err := b.reject(b.files[r.file], r.line, &rowError{ReasonDuplicateKey, strings.Join(info.contract.Key, "+"),
				fmt.Sprintf("%s repeats the key of line %d of %s", info.keyText(row), prev.line, b.files[prev.file])}, nil); err != nil {
				return err
			}
			continue
		}
		kind := r.kind
		st, stored := entries[e].stored()
		var d uint64
		if kind.Void() {
			row, err := values(r)
			if err != nil {
				return err
			}
			if !stored {
				if err := b.reject(b.files[r.file], r.line, &rowError{ReasonUnknownKey, strings.Join(info.contract.Key, "+"),
					fmt.Sprintf("%s of %s: no stored fact has this key", kind, info.keyText(row))}, nil); err != nil {
					return err
				}
				continue
			}
			b.fill(row, st.row)
			r.row, r.code, r.date = row, row[info.codeLeaf].ByteArray(), row[info.dateLeaf].Int32()
			r.month = datasets.Day(r.date).Month()
			d = b.digestOf(row)
		} else {
			// The spill record holds the values as digestOf encodes them.
			d = maphash.Bytes(b.g.seed, r.rec)
		}
		accepted++
		rev := int32(0)
		switch {
		case stored && st.digest == d:
			unchanged++
			continue
		case stored:
			rev = st.rev + 1
			switch kind {
			case datasets.RowRetraction:
				retracted++
			case datasets.RowEndOfPublicity:
				unpublished++
			default:
				corrected++
			}
		default:
			fresh++
		}
		r.rev = rev
		entries[e].write = true
	}
	// The rows to write, by index: in the order of their entries, so that rows
	// sorted by key come to writeParts in (or near) the order of the parts.
	mem.keep = grow(mem.keep, len(rows))[:0]
	keep := mem.keep
	for e := range entries {
		if entries[e].write {
			keep = append(keep, entries[e].first)
		}
	}
	if b.withdraw {
		// A full delivery that omits a key in force withdraws it. A fact already
		// retracted or no longer public stays as it is.
		for i := range entries {
			e := &entries[i]
			if e.first >= 0 || !e.has || e.st.kind.Void() {
				continue
			}
			row := []parquet.Value(e.st.row)
			row[info.kindLeaf] = parquet.Int32Value(int32(datasets.RowRetraction)).Level(0, 0, info.kindLeaf)
			for l := range row {
				row[l] = row[l].Level(0, 0, l)
			}
			keep = append(keep, int32(len(rows)))
			rows = append(rows, spilled{row: row, key: e.key, code: row[info.codeLeaf].ByteArray(),
				date: row[info.dateLeaf].Int32(), month: datasets.Day(row[info.dateLeaf].Int32()).Month(),
				kind: datasets.RowRetraction, rev: e.st.rev + 1})
			withdrawn++
		}
	}
	b.mu.Lock()
	b.rep.Accepted += accepted
	b.rep.Unchanged += unchanged
	b.rep.Corrected += corrected
	b.rep.New += fresh
	b.rep.Retracted += retracted
	b.rep.Unpublished += unpublished
	b.rep.Withdrawn += withdrawn
	b.mu.Unlock()
	mem.keep = keep
	return b.writeParts(ctx, rows, keep, mem)
}

// fill copies into row the values of the stored fact in force other than its key
// and the platform's columns: a retraction or end of publicity names only the
// key, and carries the values it voids.
func (b *batch) fill(row []parquet.Value, from parquet.Row) {
	info := b.info
	for ci, l := range info.leaf {
		if !info.isKey[ci] && l >= 0 {
			row[l] = from[l].Level(0, 0, l)
		}
	}
}

// compareRows orders rows within a part: event month, code, event date, key.
func compareRows(x, y *spilled) int {
	if c := cmp.Compare(x.month, y.month); c != 0 {
		return c
	}
	if c := bytes.Compare(x.code, y.code); c != 0 {
		return c
	}
	if c := cmp.Compare(x.date, y.date); c != 0 {
		return c
	}
	return strings.Compare(x.key, y.key)
}

// sortEntry is a row's place in the order of its part: month, the first 16
// bytes of its code (big-endian, so that they compare as the bytes do) and its
// index; equal entries are told apart by compareRows. Sorting these small
// entries side by side is much cheaper than comparing rows scattered in memory.
// An entry also carries what writePart takes of its row (the spill record and
// the revision), read while the row is at hand: the parts are then written
// from the entries in their order, without going back to the rows.
type sortEntry struct {
	month  datasets.Month
	row    int32
	hi, lo uint64
	rec    []byte // nil when the row's values are in its row (spilled.row)
	rev    int32
}

func codePrefix(code []byte) (hi, lo uint64) {
	var b [16]byte
	copy(b[:], code)
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// writeParts writes the rows of rows listed in keep as parts of their event
// months, at most PartRows each. The rows are ordered through an index
// (mem.sorted), not moved; a keep already in order sorts in linear time.
func (b *batch) writeParts(ctx context.Context, rows []spilled, keep []int32, mem *bucketMemory) error {
	mem.sorted = grow(mem.sorted, len(keep))
	for i, k := range keep {
		r := &rows[k]
		hi, lo := codePrefix(r.code)
		e := sortEntry{month: r.month, row: k, hi: hi, lo: lo, rev: r.rev}
		if r.row == nil {
			e.rec = r.rec
		}
		mem.sorted[i] = e
	}
	slices.SortFunc(mem.sorted, func(x, y sortEntry) int {
		if c := cmp.Compare(x.month, y.month); c != 0 {
			return c
		}
		if c := cmp.Compare(x.hi, y.hi); c != 0 {
			return c
		}
		if c := cmp.Compare(x.lo, y.lo); c != 0 {
			return c
		}
		return compareRows(&rows[x.row], &rows[y.row])
	})
	sorted := mem.sorted
	n := 0
	for start := 0; start < len(sorted); {
		m := sorted[start].month
		end := start
		for end < len(sorted) && end-start < b.opts.PartRows && sorted[end].month == m {
			end++
		}
		if err := b.writePart(ctx, m, n, rows, sorted[start:end], mem); err != nil {
			return err
		}
		start, n = end, n+1
	}
	return nil
}

// partRowGroup is the most rows of a row group of a part.
const partRowGroup = 1 << 16

// writePart writes the rows of part n of month m, in the order of their
// entries (see sortEntry).
func (b *batch) writePart(ctx context.Context, m datasets.Month, n int, all []spilled, order []sortEntry, mem *bucketMemory) error {
	buf := &mem.out
	buf.Reset()
	if mem.w == nil {
		mem.w = parquet.NewWriter(buf, b.info.schema,
			parquet.Compression(&snappyCodec{}),
			parquet.PageBufferSize(64<<10),
			parquet.CreatedBy("xinyi", "ingest", "1"))
	} else {
		mem.w.Reset(buf)
	}
	w := mem.w
	// The values are written column by column, a few hundred rows at a time,
	// decoded from the spill records into the same buffers.
	info := b.info
	lay := info.spillLayout()
	const batchRows = 512
	mem.values = grow(mem.values, batchRows*info.ncols)
	values := mem.values
	cols := w.ColumnWriters()
	arrival := parquet.Int32Value(int32(b.arrival)).Level(0, 0, info.arrLeaf)
	fail := func(err error) error { return fmt.Errorf("ingest: encode %s month %s: %w", b.info.src.Name, m, err) }
	for start := 0; start < len(order); start += batchRows {
		k := min(batchRows, len(order)-start)
		for i := range k {
			e := &order[start+i]
			if e.rec == nil {
				for c, v := range all[e.row].row {
					values[c*batchRows+i] = v
				}
			} else if err := lay.decodeAt(e.rec, values, batchRows, i); err != nil {
				return err
			}
			values[info.arrLeaf*batchRows+i] = arrival
			values[info.revLeaf*batchRows+i] = parquet.Int32Value(e.rev).Level(0, 0, info.revLeaf)
		}
		for c, cw := range cols {
			if _, err := cw.WriteRowValues(values[c*batchRows : c*batchRows+k]); err != nil {
				return fail(err)
			}
		}
		if end := start + k; end%partRowGroup == 0 && end < len(order) {
			if err := w.Flush(); err != nil {
				return fail(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	// Part numbers are unique within a month: a bucket is one month, or (static
	// and relation sources) the only bucket.
	key := datasets.BatchPartKey(b.info.src.Name, m, b.attempt, n)
	b.mu.Lock()
	b.written = append(b.written, key)
	b.mu.Unlock()
	// The part is put under the batch's context, not the workers': when another
	// bucket fails, a part being put still finishes (and is removed with the
	// others), so that nothing of the batch is in flight once Ingest returns; a
	// put cancelled half way may still land on an object store after its caller
	// gave up.
	in, err := b.g.store.Put(b.ctx, key, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return fmt.Errorf("ingest: write %s: %w", key, err)
	}
	b.mu.Lock()
	b.rep.Parts = append(b.rep.Parts, datasets.BatchPart{Key: key, SHA256: in.SHA256, Size: in.Size, Rows: int64(len(order))})
	b.mu.Unlock()
	return nil
}

// storedMonths lists the event months of the source's visible parts.
func (b *batch) storedMonths() ([]datasets.Month, error) {
	prefix := b.info.src.Prefix()
	infos, err := b.g.store.List(b.ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("ingest: list %s: %w", prefix, err)
	}
	if infos, err = datasets.VisibleParts(b.ctx, b.g.store, b.info.src.Name, infos); err != nil {
		return nil, err
	}
	var out []datasets.Month
	for _, in := range infos {
		dir, file, ok := strings.Cut(strings.TrimPrefix(in.Key, prefix), "/")
		if !ok || !strings.HasSuffix(file, ".parquet") || !strings.HasPrefix(dir, "month=") {
			continue
		}
		m, err := datasets.ParseMonth(strings.TrimPrefix(dir, "month="))
		if err != nil {
			continue
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (b *batch) closeSpills() {
	for k, sf := range b.spills {
		sf.f.Close()
		os.Remove(sf.f.Name())
		delete(b.spills, k)
	}
}
