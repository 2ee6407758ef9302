package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// delimited reads CSV-like records (RFC 4180 quoting, any one-byte delimiter) with
// bounded memory: a record longer than maxRecord bytes or with more than maxCols
// fields is an error before anything of that size is allocated.
type delimited struct {
	br        *bufio.Reader
	delim     byte
	maxRecord int
	maxCols   int
	line      int64 // physical lines consumed
	buf       []byte
	fields    []string
}

// errRecord is a problem confined to one record (the reader can go on).
type errRecord struct{ msg string }

func (e *errRecord) Error() string { return e.msg }

func newDelimited(br *bufio.Reader, delim byte, maxRecord, maxCols int) *delimited {
	return &delimited{br: br, delim: delim, maxRecord: maxRecord, maxCols: maxCols}
}

// readLine appends one physical line (without its line end) to d.buf. It returns
// io.EOF only when nothing was read.
func (d *delimited) readLine() error {
	start := len(d.buf)
	for {
		chunk, err := d.br.ReadSlice('\n')
		if len(d.buf)+len(chunk) > d.maxRecord+2 {
			return fmt.Errorf("%w: line %d is longer than %d bytes", ErrFormat, d.line+1, d.maxRecord)
		}
		d.buf = append(d.buf, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(d.buf) == start {
				return io.EOF
			}
			break
		}
		return fmt.Errorf("line %d: %w", d.line+1, err)
	}
	d.line++
	d.buf = bytes.TrimSuffix(d.buf, []byte("\n"))
	d.buf = bytes.TrimSuffix(d.buf, []byte("\r"))
	return nil
}

// next returns the fields of the next record and the line it starts on. Blank
// lines are skipped. The fields are valid until the next call.
func (d *delimited) next() ([]string, int64, error) {
	for {
		d.buf = d.buf[:0]
		if err := d.readLine(); err != nil {
			return nil, d.line + 1, err
		}
		if len(d.buf) > 0 {
			break
		}
	}
	first := d.line
	// A quoted field may hold line ends: read on while a quote is open.
	for quotesOpen(d.buf, d.delim) {
		d.buf = append(d.buf, '\n')
		if err := d.readLine(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, first, fmt.Errorf("%w: line %d: quoted field not closed at end of file (truncated?)", ErrFormat, first)
			}
			return nil, first, err
		}
	}
	fields, err := splitRecord(string(d.buf), d.delim, d.maxCols, d.fields[:0])
	d.fields = fields
	if err != nil {
		var re *errRecord
		if errors.As(err, &re) {
			return nil, first, err
		}
		return nil, first, fmt.Errorf("%w: line %d: %v", ErrFormat, first, err)
	}
	return fields, first, nil
}

// quotesOpen says whether rec ends inside a quoted field (as splitRecord reads it).
func quotesOpen(rec []byte, delim byte) bool {
	if bytes.IndexByte(rec, '"') < 0 {
		return false // most records: one scan, not one a field
	}
	i := 0
	for {
		if i < len(rec) && rec[i] == '"' {
			j := i + 1
			for {
				k := bytes.IndexByte(rec[j:], '"')
				if k < 0 {
					return true
				}
				j += k + 1
				if j < len(rec) && rec[j] == '"' {
					j++
					continue
				}
				break
			}
			i = j
		}
		k := bytes.IndexByte(rec[i:], delim)
		if k < 0 {
			return false
		}
		i += k + 1
	}
}

// splitRecord splits one record. Unquoted fields are substrings of rec; quoted
// fields have their doubled quotes undone. A quote inside an unquoted field is
// taken literally; text after a closing quote is an error of the record.
func splitRecord(rec string, delim byte, maxCols int, out []string) ([]string, error) {
	i := 0
	for {
		if len(out) >= maxCols {
			return nil, fmt.Errorf("more than %d columns", maxCols)
		}
		if i < len(rec) && rec[i] == '"' {
			var b strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(rec[j:], '"')
				if k < 0 {
					return nil, &errRecord{"quoted field not closed"}
				}
				b.WriteString(rec[j : j+k])
				j += k + 1
				if j < len(rec) && rec[j] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				break
			}
			out = append(out, b.String())
			if j == len(rec) {
				return out, nil
			}
			if rec[j] != delim {
				return nil, &errRecord{fmt.Sprintf("text after the closing quote of field %d", len(out))}
			}
			i = j + 1
			if i == len(rec) {
				return append(out, ""), nil
			}
			continue
		}
		k := strings.IndexByte(rec[i:], delim)
		if k < 0 {
			return append(out, rec[i:]), nil
		}
		out = append(out, rec[i:i+k])
		i += k + 1
		if i == len(rec) {
			if len(out) >= maxCols {
				return nil, fmt.Errorf("more than %d columns", maxCols)
			}
			return append(out, ""), nil
		}
	}
}

// sniffDelimiter picks the delimiter of a header line: of tab, comma, semicolon
// and vertical bar, the one occurring most often outside quotes (comma on a tie
// or when none occurs).
func sniffDelimiter(header []byte) byte {
	counts := map[byte]int{}
	in := false
	for _, c := range header {
		if c == '"' {
			in = !in
			continue
		}
		if !in {
			switch c {
			case '\t', ',', ';', '|':
				counts[c]++
			}
		}
	}
	best, n := byte(','), counts[',']
	for _, c := range []byte{'\t', ';', '|'} {
		if counts[c] > n {
			best, n = c, counts[c]
		}
	}
	return best
}
