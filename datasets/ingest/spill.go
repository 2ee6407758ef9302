package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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
	f    *os.File
	w    *bufio.Writer
	rows int
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

// spill appends an accepted row (values in leaf order) to its bucket's file.
func (b *batch) spill(file int, line int64, row []parquet.Value) error {
	bucket := b.bucketOf(row)
	sf := b.spills[bucket]
	if sf == nil {
		f, err := os.CreateTemp(b.opts.TempDir, "xinyi-ingest-spill-*")
		if err != nil {
			return fmt.Errorf("ingest: spill: %w", err)
		}
		sf = &spillFile{f: f, w: bufio.NewWriterSize(f, 32<<10)}
		b.spills[bucket] = sf
	}
	var buf [binary.MaxVarintLen64]byte
	rec := make([]byte, 0, 256)
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
			return fmt.Errorf("ingest: spill: column %d of kind %v", i, v.Kind())
		}
	}
	n := binary.PutUvarint(buf[:], uint64(len(rec)))
	sf.w.Write(buf[:n])
	if _, err := sf.w.Write(rec); err != nil {
		return fmt.Errorf("ingest: spill: %w", err)
	}
	sf.rows++
	return nil
}

// spilled is one row read back from a spill file.
type spilled struct {
	file int
	line int64
	row  []parquet.Value
	sort string
}

// readSpill reads every row of a bucket back, in the order they were spilled.
func (b *batch) readSpill(sf *spillFile) ([]spilled, error) {
	if err := sf.w.Flush(); err != nil {
		return nil, fmt.Errorf("ingest: spill: %w", err)
	}
	if _, err := sf.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("ingest: spill: %w", err)
	}
	br := bufio.NewReaderSize(sf.f, 64<<10)
	schema := b.info.schema
	kinds := make([]parquet.Kind, b.info.ncols)
	for i, path := range schema.Columns() {
		l, _ := schema.Lookup(path...)
		kinds[i] = l.Node.Type().Kind()
	}
	out := make([]spilled, 0, sf.rows)
	for range sf.rows {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("ingest: spill: %w", err)
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(br, rec); err != nil {
			return nil, fmt.Errorf("ingest: spill: %w", err)
		}
		r := bytes.NewReader(rec)
		file, _ := binary.ReadUvarint(r)
		line, _ := binary.ReadUvarint(r)
		pos := len(rec) - r.Len()
		row := make([]parquet.Value, b.info.ncols)
		for i, k := range kinds {
			var v parquet.Value
			switch {
			case i == b.info.arrLeaf || i == b.info.revLeaf:
				v = parquet.Int32Value(0)
			case k == parquet.ByteArray || k == parquet.FixedLenByteArray:
				l, m := binary.Uvarint(rec[pos:])
				pos += m
				v = parquet.ByteArrayValue(rec[pos : pos+int(l) : pos+int(l)])
				pos += int(l)
			case k == parquet.Int32:
				v = parquet.Int32Value(int32(binary.LittleEndian.Uint32(rec[pos:])))
				pos += 4
			case k == parquet.Double:
				v = parquet.DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(rec[pos:])))
				pos += 8
			case k == parquet.Boolean:
				v = parquet.BooleanValue(rec[pos] == 1)
				pos++
			default:
				return nil, errors.New("ingest: spill: unknown column kind")
			}
			row[i] = v.Level(0, 0, i)
		}
		out = append(out, spilled{file: int(file), line: int64(line), row: row})
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
			for bucket := range work {
				if err := b.processBucket(ctx, bucket); err != nil {
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

func (b *batch) processBucket(ctx context.Context, bucket int32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	info := b.info
	var rows []spilled
	if sf := b.spills[bucket]; sf != nil { // nil: a month the batch omits whole (withdraw)
		var err error
		rows, err = b.readSpill(sf)
		sf.f.Close()
		os.Remove(sf.f.Name())
		if err != nil {
			return err
		}
	}
	// The stored facts this bucket can meet: its month, or the whole source. The
	// values of a fact are kept only for the keys a retraction or end of publicity
	// names, or all of them when the omitted keys are withdrawn.
	prefix := info.src.Prefix()
	if bucket >= 0 {
		prefix = info.src.MonthPrefix(datasets.Month(bucket))
	}
	var need map[string]bool
	for i := range rows {
		if datasets.RowKind(rows[i].row[info.kindLeaf].Int32()).Void() {
			if need == nil {
				need = map[string]bool{}
			}
			need[info.keyOf(rows[i].row)] = true
		}
	}
	index, err := b.loadIndex(prefix, need, b.withdraw, len(rows))
	if err != nil {
		return err
	}
	type at struct {
		file int
		line int64
	}
	first := make(map[string]at, len(rows))
	var accepted, unchanged, corrected, fresh, retracted, unpublished, withdrawn int64
	keep := rows[:0] // rows already read are not needed again
	for i := range rows {
		r := &rows[i]
		key := info.keyOf(r.row)
		if prev, dup := first[key]; dup {
			if err := b.reject(b.files[r.file], r.line, &rowError{ReasonDuplicateKey, strings.Join(info.contract.Key, "+"),
				fmt.Sprintf("%s repeats the key of line %d of %s", info.keyText(r.row), prev.line, b.files[prev.file])}, nil); err != nil {
				return err
			}
			continue
		}
		first[key] = at{r.file, r.line}
		kind := datasets.RowKind(r.row[info.kindLeaf].Int32())
		st, stored := index[key]
		if kind.Void() {
			if !stored {
				if err := b.reject(b.files[r.file], r.line, &rowError{ReasonUnknownKey, strings.Join(info.contract.Key, "+"),
					fmt.Sprintf("%s of %s: no stored fact has this key", kind, info.keyText(r.row))}, nil); err != nil {
					return err
				}
				continue
			}
			b.fill(r.row, st.row)
		}
		accepted++
		d := b.digestOf(r.row)
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
		r.row[info.arrLeaf] = parquet.Int32Value(int32(b.arrival)).Level(0, 0, info.arrLeaf)
		r.row[info.revLeaf] = parquet.Int32Value(rev).Level(0, 0, info.revLeaf)
		r.sort = b.sortKey(r.row, key)
		keep = append(keep, *r)
	}
	if b.withdraw {
		// A full delivery that omits a key in force withdraws it. A fact already
		// retracted or no longer public stays as it is.
		for key, st := range index {
			if _, sent := first[key]; sent || st.kind.Void() {
				continue
			}
			row := []parquet.Value(st.row)
			row[info.kindLeaf] = parquet.Int32Value(int32(datasets.RowRetraction)).Level(0, 0, info.kindLeaf)
			row[info.arrLeaf] = parquet.Int32Value(int32(b.arrival)).Level(0, 0, info.arrLeaf)
			row[info.revLeaf] = parquet.Int32Value(st.rev+1).Level(0, 0, info.revLeaf)
			for l := range row {
				row[l] = row[l].Level(0, 0, l)
			}
			keep = append(keep, spilled{row: row, sort: b.sortKey(row, key)})
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
	return b.writeParts(ctx, keep)
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

// sortKey orders rows within a part: event month, code, event date, key.
func (b *batch) sortKey(row []parquet.Value, key string) string {
	info := b.info
	day := datasets.Day(row[info.dateLeaf].Int32())
	sk := make([]byte, 0, 64)
	sk = binary.BigEndian.AppendUint32(sk, uint32(day.Month()))
	sk = append(sk, row[info.codeLeaf].ByteArray()...)
	sk = append(sk, 0)
	sk = binary.BigEndian.AppendUint32(sk, uint32(int32(day))+1<<31)
	sk = append(sk, 0)
	sk = append(sk, key...)
	return string(sk)
}

// writeParts writes rows as parts of their event months, at most PartRows each.
func (b *batch) writeParts(ctx context.Context, rows []spilled) error {
	slices.SortFunc(rows, func(x, y spilled) int { return strings.Compare(x.sort, y.sort) })
	n := 0
	for start := 0; start < len(rows); {
		m := datasets.Day(rows[start].row[b.info.dateLeaf].Int32()).Month()
		end := start
		for end < len(rows) && end-start < b.opts.PartRows && datasets.Day(rows[end].row[b.info.dateLeaf].Int32()).Month() == m {
			end++
		}
		if err := b.writePart(ctx, m, n, rows[start:end]); err != nil {
			return err
		}
		start, n = end, n+1
	}
	return nil
}

func (b *batch) writePart(ctx context.Context, m datasets.Month, n int, rows []spilled) error {
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, b.info.schema,
		parquet.Compression(&parquet.Snappy),
		parquet.MaxRowsPerRowGroup(1<<16),
		parquet.CreatedBy("xinyi", "ingest", "1"))
	prows := make([]parquet.Row, len(rows))
	for i := range rows {
		prows[i] = rows[i].row
	}
	if _, err := w.WriteRows(prows); err != nil {
		return fmt.Errorf("ingest: encode %s month %s: %w", b.info.src.Name, m, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("ingest: encode %s month %s: %w", b.info.src.Name, m, err)
	}
	// Part numbers are unique within a month: a bucket is one month, or (static
	// and relation sources) the only bucket.
	key := datasets.BatchPartKey(b.info.src.Name, m, b.attempt, n)
	b.mu.Lock()
	b.written = append(b.written, key)
	b.mu.Unlock()
	in, err := b.g.store.Put(ctx, key, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return fmt.Errorf("ingest: write %s: %w", key, err)
	}
	b.mu.Lock()
	b.rep.Parts = append(b.rep.Parts, datasets.BatchPart{Key: key, SHA256: in.SHA256, Size: in.Size, Rows: int64(len(rows))})
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
