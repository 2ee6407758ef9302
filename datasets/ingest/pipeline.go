package ingest

import (
	"context"
	"errors"
	"io"
	"runtime"

	"github.com/parquet-go/parquet-go"
)

// The first pass over a file runs as a pipeline: one goroutine reads records
// (the format's reader, which must see the file in order), workers convert and
// validate runs of records (chunks) and encode the accepted rows as spill
// records, and the batch's goroutine takes the chunks back in file order to
// append them to the spills and count and quarantine the rejected rows. The
// spills, the reasons, the examples and the quarantine are therefore exactly
// what reading the file record by record makes; a handful of chunks are in
// flight at a time, so memory stays bounded.

// Chunk sizes: a chunk is sent on when it holds this many records or bytes.
const (
	chunkRecords = 2048
	chunkBytes   = 512 << 10
)

// recordChunk is a run of consecutive records of one file.
type recordChunk struct {
	bind *binding
	// The records: the text of every field end to end, the end of each field
	// in text, the end of each record's fields in ends, its line and, for a
	// record that could not be split, why (its fields are then empty).
	text   []byte
	ends   []uint32
	recEnd []uint32
	lines  []int64
	bad    []string

	// What a worker made of them.
	str     string // text as a string: the fields are its substrings
	spilled map[int32]*spillChunk
	spare   [][]byte // buffers of spilled kept for the next use
	scratch []byte   // the byte arrays of the row being converted
	rejects []chunkReject
	err     error
	done    chan struct{}
}

// spillChunk is the encoded spill records of one bucket from one chunk.
type spillChunk struct {
	data []byte
	rows int
}

// chunkReject is a rejected record of a chunk, by its index.
type chunkReject struct {
	rec int
	err *rowError
}

func (c *recordChunk) reset() {
	c.bind = nil
	c.text, c.ends, c.recEnd, c.lines, c.bad = c.text[:0], c.ends[:0], c.recEnd[:0], c.lines[:0], c.bad[:0]
	c.str, c.rejects, c.err = "", c.rejects[:0], nil
	// A chunk holds rows of a few buckets; the buckets of a file may be many
	// (one per month): a few buffers are kept, not one per bucket ever seen.
	for k, s := range c.spilled {
		if len(c.spare) < 4 {
			c.spare = append(c.spare, s.data[:0])
		}
		delete(c.spilled, k)
	}
	c.done = make(chan struct{})
}

func (c *recordChunk) add(fields []string, line int64) {
	for _, f := range fields {
		c.text = append(c.text, f...)
		c.ends = append(c.ends, uint32(len(c.text)))
	}
	c.recEnd = append(c.recEnd, uint32(len(c.ends)))
	c.lines = append(c.lines, line)
	c.bad = append(c.bad, "")
}

func (c *recordChunk) addBad(msg string, line int64) {
	c.recEnd = append(c.recEnd, uint32(len(c.ends)))
	c.lines = append(c.lines, line)
	c.bad = append(c.bad, msg)
}

func (c *recordChunk) full() bool {
	return len(c.lines) >= chunkRecords || len(c.text) >= chunkBytes
}

// fields returns the fields of record i (after str is set), reusing out.
func (c *recordChunk) fields(i int, out []string) []string {
	out = out[:0]
	from := uint32(0)
	if i > 0 {
		from = c.recEnd[i-1]
	}
	start := uint32(0)
	if from > 0 {
		start = c.ends[from-1]
	}
	for _, end := range c.ends[from:c.recEnd[i]] {
		out = append(out, c.str[start:end])
		start = end
	}
	return out
}

// convertChunk is a worker's part: it validates and converts every record of
// c and encodes the accepted rows, file being the index of c's file.
func (b *batch) convertChunk(c *recordChunk, file int, xlsx bool, row []parquet.Value, fields []string) []string {
	defer close(c.done)
	c.str = string(c.text)
	if c.spilled == nil {
		c.spilled = map[int32]*spillChunk{}
	}
	for i := range c.lines {
		if c.bad[i] != "" {
			c.rejects = append(c.rejects, chunkReject{i, &rowError{ReasonRecord, "", c.bad[i]}})
			continue
		}
		fields = c.fields(i, fields)
		c.scratch = c.scratch[:0]
		if rerr := c.bind.convert(fields, row, b.arrival, xlsx, &c.scratch); rerr != nil {
			c.rejects = append(c.rejects, chunkReject{i, rerr})
			continue
		}
		bucket := b.bucketOf(row)
		sc := c.spilled[bucket]
		if sc == nil {
			sc = &spillChunk{}
			if n := len(c.spare); n > 0 {
				sc.data, c.spare = c.spare[n-1], c.spare[:n-1]
			}
			c.spilled[bucket] = sc
		}
		var err error
		if sc.data, err = b.encodeSpill(sc.data, file, c.lines[i], row); err != nil {
			c.err = err
			return fields
		}
		sc.rows++
	}
	return fields
}

// readRecords runs the first pass over one file's records (see above). bind is
// the binding of its header (nil for JSON Lines, bound as keys appear); it
// returns the final binding and the number of records read.
func (b *batch) readRecords(recs records, name string, file int, bind *binding, jsonl, xlsx bool) (*binding, int64, error) {
	workers := max(1, runtime.GOMAXPROCS(0))
	inFlight := 2*workers + 2
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()

	free := make(chan *recordChunk, inFlight)
	for range inFlight {
		free <- &recordChunk{}
	}
	work := make(chan *recordChunk, inFlight)
	ordered := make(chan *recordChunk, inFlight)
	var readErr error
	var records int64
	readerDone := make(chan struct{})
	// The reader: records in file order, in chunks, to the workers and, in the
	// same order, to the committer.
	go func() {
		defer close(readerDone)
		defer close(work)
		defer close(ordered)
		var c *recordChunk
		send := func() bool {
			if c == nil || len(c.lines) == 0 {
				return true
			}
			select {
			case work <- c:
			case <-ctx.Done():
				return false
			}
			ordered <- c // never blocks: at most inFlight chunks exist
			c = nil
			return true
		}
		bound := 0
		if bind != nil {
			bound = len(recs.header())
		}
		for {
			fields, line, err := recs.next()
			if errors.Is(err, io.EOF) {
				break
			}
			bad := ""
			if err != nil {
				var re *errRecord
				if !errors.As(err, &re) {
					readErr = err
					break
				}
				bad = re.msg
			}
			if err == nil && jsonl && (bind == nil || len(recs.header()) != bound) {
				nb, err := b.info.bind(recs.header(), name, true)
				if err != nil {
					readErr = err
					break
				}
				bind, bound = nb, len(recs.header())
				// A chunk has one binding: the records bound before go on.
				if !send() {
					return
				}
				if c != nil {
					c.bind = bind
				}
			}
			if c == nil {
				select {
				case c = <-free:
				case <-ctx.Done():
					return
				}
				c.reset()
				c.bind = bind
			}
			records++
			if err != nil {
				c.addBad(bad, line)
			} else {
				c.add(fields, line)
			}
			if c.full() {
				if err := ctx.Err(); err != nil {
					return
				}
				if !send() {
					return
				}
			}
		}
		send()
	}()
	// The workers.
	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		done := make(chan struct{})
		for range workers {
			go func() {
				defer func() { done <- struct{}{} }()
				row := make([]parquet.Value, b.info.ncols)
				var fields []string
				for c := range work {
					fields = b.convertChunk(c, file, xlsx, row, fields)
				}
			}()
		}
		for range workers {
			<-done
		}
	}()
	// The committer, in file order.
	var err error
	for c := range ordered {
		if err == nil {
			select {
			case <-c.done:
				err = b.commitChunk(c, name)
			case <-ctx.Done():
				err = ctx.Err()
			}
			if err != nil {
				cancel()
			}
		}
		if err == nil {
			free <- c
		}
	}
	<-readerDone
	cancel()
	<-workersDone
	if err != nil {
		return bind, records, err
	}
	if readErr != nil {
		return bind, records, readErr
	}
	return bind, records, b.ctx.Err()
}

// commitChunk appends a converted chunk to the spills and rejects its bad rows,
// in their order.
func (b *batch) commitChunk(c *recordChunk, name string) error {
	if c.err != nil {
		return c.err
	}
	b.rep.Rows += int64(len(c.lines))
	var fields []string
	for _, r := range c.rejects {
		var f []string
		if c.bad[r.rec] == "" {
			fields = c.fields(r.rec, fields)
			f = fields
		}
		if err := b.reject(name, c.lines[r.rec], r.err, f); err != nil {
			return err
		}
	}
	for bucket, sc := range c.spilled {
		if sc.rows == 0 {
			continue
		}
		if err := b.writeSpill(bucket, sc.data, sc.rows); err != nil {
			return err
		}
	}
	return nil
}
