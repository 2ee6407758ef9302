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

// bucketOf is the spill bucket of a row.
func (b *batch) bucketOf(row []parquet.Value) int32 {
	if k := b.info.contract.Kind; k == datasets.Static || k == datasets.Relation {
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
	for k := range b.spills {
		buckets = append(buckets, k)
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
	sf := b.spills[bucket]
	rows, err := b.readSpill(sf)
	sf.f.Close()
	os.Remove(sf.f.Name())
	if err != nil {
		return err
	}
	// The stored facts this bucket can meet: its month, or the whole source.
	prefix := info.src.Prefix()
	if bucket >= 0 {
		prefix = info.src.MonthPrefix(datasets.Month(bucket))
	}
	index, err := b.loadIndex(prefix)
	if err != nil {
		return err
	}
	type at struct {
		file int
		line int64
	}
	first := make(map[string]at, len(rows))
	var accepted, unchanged, corrected, fresh int64
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
		accepted++
		d := b.digestOf(r.row)
		rev := int32(0)
		if st, ok := index[key]; ok {
			if st.digest == d {
				unchanged++
				continue
			}
			rev = st.rev + 1
			corrected++
		} else {
			fresh++
		}
		r.row[info.arrLeaf] = parquet.Int32Value(int32(b.arrival)).Level(0, 0, info.arrLeaf)
		r.row[info.revLeaf] = parquet.Int32Value(rev).Level(0, 0, info.revLeaf)
		r.sort = b.sortKey(r.row, key)
		keep = append(keep, *r)
	}
	b.mu.Lock()
	b.rep.Accepted += accepted
	b.rep.Unchanged += unchanged
	b.rep.Corrected += corrected
	b.rep.New += fresh
	b.mu.Unlock()
	return b.writeParts(ctx, keep)
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

func (b *batch) closeSpills() {
	for k, sf := range b.spills {
		sf.f.Close()
		os.Remove(sf.f.Name())
		delete(b.spills, k)
	}
}
