package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/xinyi-platform/xinyi/datasets"
)

// Formats of delivered files.
const (
	FormatCSV     = "csv" // any delimited text: comma, tab, semicolon or vertical bar (sniffed)
	FormatJSONL   = "jsonl"
	FormatParquet = "parquet"
	FormatXLSX    = "xlsx"
)

// Encodings of delivered text files.
const (
	EncodingAuto    = "auto" // UTF-8 (BOM or valid UTF-8), else GB18030
	EncodingUTF8    = "utf-8"
	EncodingGBK     = "gbk"
	EncodingGB18030 = "gb18030"
)

// records is a delivered file read as text records.
type records interface {
	// header returns the column names; for JSON Lines it grows as keys appear.
	header() []string
	// next returns the fields of the next record (in header order, possibly
	// shorter than the header) and its line or row number; io.EOF at the end.
	next() ([]string, int64, error)
}

// formatOf decides the format of a file from its name and, failing that, its
// first bytes.
func formatOf(name string, head []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".tsv", ".txt", ".tab":
		return FormatCSV
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL
	case ".parquet", ".pq":
		return FormatParquet
	case ".xlsx":
		return FormatXLSX
	}
	switch {
	case bytes.HasPrefix(head, []byte("PAR1")):
		return FormatParquet
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return FormatXLSX
	case bytes.HasPrefix(bytes.TrimLeft(bytes.TrimPrefix(head, bom), " \t\r\n"), []byte("{")):
		return FormatJSONL
	}
	return FormatCSV
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// sniffPeek is how much of a text file decides its encoding and delimiter.
const sniffPeek = 64 << 10

// textReader returns a reader of the file's text as UTF-8 and the check every
// record must pass, deciding the encoding from the first bytes when enc is auto.
func textReader(br *bufio.Reader, enc string) (io.Reader, string, func([]byte) error, error) {
	head, _ := br.Peek(sniffPeek)
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return nil, "", nil, fmt.Errorf("%w: the file is UTF-16; export it as UTF-8, GBK or GB18030", ErrEncoding)
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return nil, "", nil, fmt.Errorf("%w: the file holds NUL bytes (binary, or UTF-16 without a byte order mark)", ErrEncoding)
	}
	switch strings.ToLower(enc) {
	case "", EncodingAuto:
		if bytes.HasPrefix(head, bom) || validUTF8Prefix(head) {
			enc = EncodingUTF8
		} else {
			enc = EncodingGB18030
		}
	case "utf8", EncodingUTF8:
		enc = EncodingUTF8
	case EncodingGBK, "cp936":
		enc = EncodingGBK
	case EncodingGB18030:
	default:
		return nil, "", nil, fmt.Errorf("%w: encoding %q (use auto, utf-8, gbk or gb18030)", ErrInvalidOptions, enc)
	}
	if enc == EncodingUTF8 {
		if bytes.HasPrefix(head, bom) {
			br.Discard(len(bom))
		}
		return br, enc, func(rec []byte) error {
			if !utf8.Valid(rec) {
				return fmt.Errorf("%w: not valid UTF-8 (is the file GBK? say --encoding gbk)", ErrEncoding)
			}
			return nil
		}, nil
	}
	dec := simplifiedchinese.GB18030.NewDecoder()
	if enc == EncodingGBK {
		dec = simplifiedchinese.GBK.NewDecoder()
	}
	return transform.NewReader(br, dec), enc, func(rec []byte) error {
		if bytes.Contains(rec, []byte("\uFFFD")) {
			return fmt.Errorf("%w: bytes that are not %s", ErrEncoding, strings.ToUpper(enc))
		}
		return nil
	}, nil
}

// validUTF8Prefix says whether b is valid UTF-8, allowing a rune cut at its end.
func validUTF8Prefix(b []byte) bool {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return true
		}
		if len(b) < sniffPeek {
			return false // the whole file was peeked: nothing was cut
		}
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// csvRecords reads delimited text.
type csvRecords struct {
	d     *delimited
	check func([]byte) error
	hdr   []string
}

func newCSVRecords(r io.Reader, check func([]byte) error, lim Limits) (*csvRecords, byte, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	c := &csvRecords{check: check}
	// The delimiter is sniffed from the header line, read with the same bound.
	probe := newDelimited(br, ',', lim.MaxRecordBytes, lim.MaxColumns)
	if err := probe.readLine(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("%w: empty file (no header line)", ErrFormat)
		}
		return nil, 0, err
	}
	delim := sniffDelimiter(probe.buf)
	c.d = newDelimited(br, delim, lim.MaxRecordBytes, lim.MaxColumns)
	c.d.line = 0
	if err := check(probe.buf); err != nil {
		return nil, 0, fmt.Errorf("header line: %w", err)
	}
	rec := string(probe.buf)
	if quotesOpen([]byte(rec), delim) {
		return nil, 0, fmt.Errorf("%w: header line: quoted column name not closed", ErrFormat)
	}
	hdr, err := splitRecord(rec, delim, lim.MaxColumns, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: header line: %v", ErrFormat, err)
	}
	c.hdr = hdr
	c.d.line = 1
	return c, delim, nil
}

func (c *csvRecords) header() []string { return c.hdr }

func (c *csvRecords) next() ([]string, int64, error) {
	f, line, err := c.d.next()
	if err != nil {
		return nil, line, err
	}
	if err := c.check(c.d.buf); err != nil {
		return nil, line, fmt.Errorf("line %d: %w", line, err)
	}
	return f, line, nil
}

// jsonlRecords reads one JSON object per line.
type jsonlRecords struct {
	d      *delimited
	check  func([]byte) error
	hdr    []string
	pos    map[string]int
	fields []string
	max    int
}

func newJSONLRecords(r io.Reader, check func([]byte) error, lim Limits) *jsonlRecords {
	br := bufio.NewReaderSize(r, 64<<10)
	return &jsonlRecords{d: newDelimited(br, ',', lim.MaxRecordBytes, lim.MaxColumns), check: check, pos: map[string]int{}, max: lim.MaxColumns}
}

func (j *jsonlRecords) header() []string { return j.hdr }

func (j *jsonlRecords) next() ([]string, int64, error) {
	for {
		j.d.buf = j.d.buf[:0]
		if err := j.d.readLine(); err != nil {
			return nil, j.d.line + 1, err
		}
		if len(bytes.TrimSpace(j.d.buf)) > 0 {
			break
		}
	}
	line := j.d.line
	if err := j.check(j.d.buf); err != nil {
		return nil, line, fmt.Errorf("line %d: %w", line, err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(j.d.buf, &obj); err != nil {
		return nil, line, &errRecord{"not a JSON object: " + err.Error()}
	}
	j.fields = j.fields[:0]
	for range j.hdr {
		j.fields = append(j.fields, "")
	}
	for k, raw := range obj {
		p, ok := j.pos[k]
		if !ok {
			if len(j.hdr) >= j.max {
				return nil, line, fmt.Errorf("%w: line %d: more than %d distinct keys", ErrFormat, line, j.max)
			}
			p = len(j.hdr)
			j.pos[k] = p
			j.hdr = append(j.hdr, k)
			j.fields = append(j.fields, "")
		}
		v, err := jsonText(raw)
		if err != nil {
			return nil, line, &errRecord{fmt.Sprintf("key %q: %v", k, err)}
		}
		j.fields[p] = v
	}
	return j.fields, line, nil
}

// jsonText is the text form of a JSON scalar: strings unquoted, numbers as
// written, booleans as true/false, null as empty.
func jsonText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 'n':
		return "", nil
	case '{', '[':
		return "", errors.New("nested object or array")
	}
	return string(raw), nil
}

// parquetRecords reads a Parquet file row by row as text.
type parquetRecords struct {
	r     *parquet.Reader
	hdr   []string
	dates []bool
	buf   []parquet.Row
	n, i  int
	row   int64
	out   []string
}

func newParquetRecords(ra io.ReaderAt, size int64, lim Limits) (p *parquetRecords, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: Parquet file cannot be decoded: %v", ErrFormat, r)
		}
	}()
	f, err := parquet.OpenFile(ra, size)
	if err != nil {
		return nil, fmt.Errorf("%w: Parquet file cannot be opened (truncated?): %v", ErrFormat, err)
	}
	cols := f.Schema().Columns()
	if len(cols) > lim.MaxColumns {
		return nil, fmt.Errorf("%w: Parquet file has %d columns, more than %d", ErrFormat, len(cols), lim.MaxColumns)
	}
	p = &parquetRecords{r: parquet.NewReader(f), buf: make([]parquet.Row, 256)}
	for _, path := range cols {
		leaf, _ := f.Schema().Lookup(path...)
		p.hdr = append(p.hdr, strings.Join(path, "."))
		lt := leaf.Node.Type().LogicalType()
		date := false
		if lt != nil {
			_, date = lt.Value.(*format.DateType)
		}
		p.dates = append(p.dates, date)
	}
	return p, nil
}

func (p *parquetRecords) header() []string { return p.hdr }

func (p *parquetRecords) next() (out []string, line int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: row %d: Parquet data cannot be decoded: %v", ErrFormat, p.row+1, r)
		}
	}()
	if p.i == p.n {
		n, err := p.r.ReadRows(p.buf)
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return nil, p.row + 1, io.EOF
			}
			return nil, p.row + 1, fmt.Errorf("%w: row %d: %v", ErrFormat, p.row+1, err)
		}
		p.n, p.i = n, 0
	}
	row := p.buf[p.i]
	p.i++
	p.row++
	p.out = p.out[:0]
	for range p.hdr {
		p.out = append(p.out, "")
	}
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= len(p.out) || v.IsNull() {
			continue
		}
		p.out[c] = valueText(v, p.dates[c])
	}
	return p.out, p.row, nil
}

func valueText(v parquet.Value, date bool) string {
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case parquet.Int32:
		if date {
			return datasets.Day(v.Int32()).String()
		}
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'f', -1, 32)
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'f', -1, 64)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	}
	return v.String()
}

// xlsxRecords reads the first sheet of an Excel workbook.
type xlsxRecords struct {
	f    *excelize.File
	rows *excelize.Rows
	hdr  []string
	row  int64
	max  int
}

func newXLSXRecords(r io.Reader, lim Limits) (x *xlsxRecords, err error) {
	defer func() {
		if r := recover(); r != nil {
			x, err = nil, fmt.Errorf("%w: workbook cannot be read: %v", ErrFormat, r)
		}
	}()
	f, err := excelize.OpenReader(r, excelize.Options{RawCellValue: true, UnzipSizeLimit: lim.MaxXLSXUnzipped, UnzipXMLSizeLimit: 16 << 20})
	if err != nil {
		return nil, fmt.Errorf("%w: workbook cannot be opened (truncated, or not .xlsx?): %v", ErrFormat, err)
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: workbook has no sheet", ErrFormat)
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: sheet %q: %v", ErrFormat, sheets[0], err)
	}
	x = &xlsxRecords{f: f, rows: rows, max: lim.MaxColumns}
	if !rows.Next() {
		x.close()
		return nil, fmt.Errorf("%w: sheet %q is empty (no header row)", ErrFormat, sheets[0])
	}
	hdr, err := rows.Columns()
	if err != nil {
		x.close()
		return nil, fmt.Errorf("%w: sheet %q header row: %v", ErrFormat, sheets[0], err)
	}
	if len(hdr) > lim.MaxColumns {
		x.close()
		return nil, fmt.Errorf("%w: header row has %d columns, more than %d", ErrFormat, len(hdr), lim.MaxColumns)
	}
	x.hdr, x.row = hdr, 1
	return x, nil
}

func (x *xlsxRecords) header() []string { return x.hdr }

func (x *xlsxRecords) next() ([]string, int64, error) {
	for x.rows.Next() {
		x.row++
		cols, err := x.rows.Columns()
		if err != nil {
			return nil, x.row, fmt.Errorf("%w: row %d: %v", ErrFormat, x.row, err)
		}
		if len(cols) > x.max {
			return nil, x.row, fmt.Errorf("%w: row %d has more than %d columns", ErrFormat, x.row, x.max)
		}
		blank := true
		for _, c := range cols {
			if strings.TrimSpace(c) != "" {
				blank = false
				break
			}
		}
		if !blank {
			return cols, x.row, nil
		}
	}
	if err := x.rows.Error(); err != nil {
		return nil, x.row + 1, fmt.Errorf("%w: row %d: %v", ErrFormat, x.row+1, err)
	}
	return nil, x.row + 1, io.EOF
}

func (x *xlsxRecords) close() {
	x.rows.Close()
	x.f.Close()
}
