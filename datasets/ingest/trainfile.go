package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// TrainFileOptions say how to read a data scientist's own delimited file for training.
type TrainFileOptions struct {
	Target      string   // label column (required)
	ID          string   // row identifier column, not a feature (optional)
	Time        string   // observation time column, not a feature (optional); sortable text
	Categorical []string // columns read as categories even when they hold numbers
	Encoding    string   // auto (default), utf-8, gbk or gb18030
	MaxCells    int64    // rows × columns bound (default 30 million: each cell is held as text until its column is typed)
	MaxColumns  int      // default 2,000
	MaxRecord   int      // longest record in bytes (default 1 MiB)
	// MaxCategories is the most distinct categories a text column keeps; the
	// rarer ones are merged into one "other" code (default 255).
	MaxCategories int
}

// EnsureDefaults fills the zero fields of o.
func (o *TrainFileOptions) EnsureDefaults() {
	if o.Encoding == "" {
		o.Encoding = EncodingAuto
	}
	if o.MaxCells <= 0 {
		o.MaxCells = 30_000_000
	}
	if o.MaxColumns <= 0 {
		o.MaxColumns = 2000
	}
	if o.MaxRecord <= 0 {
		o.MaxRecord = 1 << 20
	}
	if o.MaxCategories <= 0 {
		o.MaxCategories = 255
	}
}

// ErrTrainFile marks a training file that cannot be used as it is.
var ErrTrainFile = errors.New("ingest: training file refused")

// TrainFile is a training file read into columns.
type TrainFile struct {
	Features   []string
	Columns    [][]float64         // Columns[j][i]; NaN is missing; a categorical column holds its codes
	Label      []float64           // 0 or 1
	LabelNote  string              // how the file's label values were mapped, e.g. "label 2 → 1, 1 → 0"
	IDs        []string            // with Options.ID
	Times      []string            // with Options.Time
	Categories map[string][]string // categorical feature → its categories; code k is Categories[k]
	Delimiter  byte
	Encoding   string
}

// IsMissing says whether a field is a missing value: "", NA, NaN or null (any case).
func IsMissing(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "na", "nan", "null", "n/a":
		return true
	}
	return false
}

// labelCodings are the label codings a file may use, as (negative, positive).
var labelCodings = [][2]string{{"0", "1"}, {"1", "2"}, {"no", "yes"}, {"false", "true"}, {"否", "是"}, {"n", "y"}}

// normLabel is a label value as compared with the codings: lower case, and a
// whole number without its decimals ("1.0" is "1").
func normLabel(v string) string {
	n := strings.ToLower(strings.TrimSpace(v))
	if f, err := strconv.ParseFloat(n, 64); err == nil && f == math.Trunc(f) && !math.IsInf(f, 0) {
		n = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return n
}

// MapLabels maps the distinct label values of a file (normalised by normLabel,
// mapped to their spelling in the file) to 0/1 and describes the mapping; the
// returned map is keyed by normalised value.
func MapLabels(norm map[string]string) (map[string]float64, string, error) {
	for _, c := range labelCodings {
		if len(norm) > 2 {
			break
		}
		_, hasNeg := norm[c[0]]
		_, hasPos := norm[c[1]]
		ok := (hasNeg || hasPos) && len(norm) == btoi(hasNeg)+btoi(hasPos)
		if !ok {
			continue
		}
		m := map[string]float64{}
		var parts []string
		if hasPos {
			m[c[1]] = 1
			parts = append(parts, norm[c[1]]+" → 1")
		}
		if hasNeg {
			m[c[0]] = 0
			parts = append(parts, norm[c[0]]+" → 0")
		}
		return m, "label " + strings.Join(parts, ", "), nil
	}
	vals := make([]string, 0, len(norm))
	for _, v := range norm {
		vals = append(vals, strconv.Quote(v))
	}
	sort.Strings(vals)
	return nil, "", fmt.Errorf("%w: label values %s are not a binary coding (want 0/1, 1/2, yes/no, true/false or 是/否)", ErrTrainFile, strings.Join(vals, ", "))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ReadTrainFile reads a delimited file (delimiter sniffed from the header; UTF-8
// with or without BOM, GBK or GB18030) for training: numeric columns as numbers,
// text columns and those named categorical as category codes, the label mapped
// to 0/1. size is the file's length in bytes, or -1 when unknown: a file whose
// size already exceeds the cell bound is refused before anything is read.
func ReadTrainFile(r io.Reader, size int64, o TrainFileOptions) (*TrainFile, error) {
	o.EnsureDefaults()
	if o.Target == "" {
		return nil, fmt.Errorf("%w: no target column given", ErrInvalidOptions)
	}
	// A cell takes at least two bytes (a value and a delimiter), so a file over
	// 2 × MaxCells bytes cannot be within the bound; its real shape is checked as read.
	if size > 0 && size/2 > o.MaxCells {
		return nil, fmt.Errorf("%w: the file has %d bytes, more than the bound of %d cells allows (rows × columns)", ErrTrainFile, size, o.MaxCells)
	}
	br := bufio.NewReaderSize(r, sniffPeek)
	text, enc, check, err := textReader(br, o.Encoding)
	if err != nil {
		return nil, err
	}
	tbr := bufio.NewReaderSize(text, sniffPeek)
	head, _ := tbr.Peek(sniffPeek)
	if i := strings.IndexAny(string(head), "\r\n"); i >= 0 {
		head = head[:i]
	}
	delim := sniffDelimiter(head)
	d := newDelimited(tbr, delim, o.MaxRecord, o.MaxColumns)
	hdr, _, err := d.next()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the file is empty", ErrTrainFile)
	}
	if err != nil {
		return nil, recordErr(err, 1)
	}
	tf, err := readTrainRecords(hdr, d.next, check, o)
	if err != nil {
		return nil, err
	}
	tf.Delimiter, tf.Encoding = delim, enc
	return tf, nil
}

// ReadTrainParquet reads a Parquet file for training as ReadTrainFile reads a
// delimited one; a column's values are read as their text.
func ReadTrainParquet(ra io.ReaderAt, size int64, o TrainFileOptions) (*TrainFile, error) {
	o.EnsureDefaults()
	if o.Target == "" {
		return nil, fmt.Errorf("%w: no target column given", ErrInvalidOptions)
	}
	p, err := newParquetRecords(ra, size, Limits{MaxColumns: o.MaxColumns})
	if err != nil {
		return nil, err
	}
	tf, err := readTrainRecords(p.header(), p.next, func([]byte) error { return nil }, o)
	if err != nil {
		return nil, err
	}
	tf.Encoding = "parquet"
	return tf, nil
}

// readTrainRecords reads the records after a header into a TrainFile; check
// is the encoding check every field passes.
func readTrainRecords(hdr []string, next func() ([]string, int64, error), check func([]byte) error, o TrainFileOptions) (*TrainFile, error) {
	header := make([]string, len(hdr))
	index := map[string]int{}
	for j, h := range hdr {
		h = strings.TrimSpace(h)
		if j == 0 {
			h = strings.TrimPrefix(h, "\uFEFF")
		}
		if err := check([]byte(h)); err != nil {
			return nil, err
		}
		if h == "" {
			return nil, fmt.Errorf("%w: column %d has no name", ErrTrainFile, j+1)
		}
		if _, dup := index[h]; dup {
			return nil, fmt.Errorf("%w: column %q appears twice", ErrTrainFile, h)
		}
		header[j] = h
		index[h] = j
	}
	role := func(flag, name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		j, ok := index[name]
		if !ok {
			return -1, fmt.Errorf("%w: %s column %q is not in the file (columns: %s)", ErrTrainFile, flag, name, strings.Join(header, ", "))
		}
		return j, nil
	}
	ti, err := role("target", o.Target)
	if err != nil {
		return nil, err
	}
	ii, err := role("id", o.ID)
	if err != nil {
		return nil, err
	}
	tmi, err := role("time", o.Time)
	if err != nil {
		return nil, err
	}
	forced := map[int]bool{}
	for _, c := range o.Categorical {
		j, err := role("categorical", c)
		if err != nil {
			return nil, err
		}
		forced[j] = true
	}
	ncol := int64(len(header))
	raw := make([][]string, len(header))
	labels := map[string]string{} // normalised → first spelling
	var rows int64
	for {
		rec, line, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, recordErr(err, line)
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%w: line %d has %d fields, the header has %d", ErrTrainFile, line, len(rec), len(header))
		}
		rows++
		if rows*ncol > o.MaxCells {
			return nil, fmt.Errorf("%w: more than %d rows × %d columns exceeds the bound of %d cells", ErrTrainFile, rows-1, ncol, o.MaxCells)
		}
		for j, f := range rec {
			if err := check([]byte(f)); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			f = strings.TrimSpace(f)
			if j == ti {
				if IsMissing(f) {
					return nil, fmt.Errorf("%w: line %d: the label %q is missing", ErrTrainFile, line, o.Target)
				}
				if n := normLabel(f); labels[n] == "" {
					labels[n] = f
				}
				if len(labels) > 2 {
					_, _, err := MapLabels(labels)
					return nil, err
				}
			}
			raw[j] = append(raw[j], strings.Clone(f))
		}
	}
	if rows == 0 {
		return nil, fmt.Errorf("%w: the file has a header and no rows", ErrTrainFile)
	}
	lm, note, err := MapLabels(labels)
	if err != nil {
		return nil, err
	}
	tf := &TrainFile{LabelNote: note, Categories: map[string][]string{}}
	tf.Label = make([]float64, rows)
	for i, v := range raw[ti] {
		tf.Label[i] = lm[normLabel(v)]
	}
	if ii >= 0 {
		tf.IDs = raw[ii]
	}
	if tmi >= 0 {
		tf.Times = raw[tmi]
	}
	for j, name := range header {
		if j == ti || j == ii || j == tmi {
			continue
		}
		col, ok := numericColumn(raw[j])
		if !ok || forced[j] {
			var cats []string
			col, cats = categoryColumn(raw[j], o.MaxCategories)
			tf.Categories[name] = cats
		}
		tf.Features = append(tf.Features, name)
		tf.Columns = append(tf.Columns, col)
		raw[j] = nil
	}
	if len(tf.Features) == 0 {
		return nil, fmt.Errorf("%w: no feature columns besides target, id and time", ErrTrainFile)
	}
	return tf, nil
}

func recordErr(err error, line int64) error {
	var re *errRecord
	if errors.As(err, &re) {
		return fmt.Errorf("%w: line %d: %s", ErrFormat, line, re.msg)
	}
	return err
}

// numericColumn parses a column as finite numbers; ok is false when a
// non-missing field is not one.
func numericColumn(vals []string) ([]float64, bool) {
	out := make([]float64, len(vals))
	for i, v := range vals {
		if IsMissing(v) {
			out[i] = math.NaN()
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, false
		}
		out[i] = f
	}
	return out, true
}

// OtherCategory names the code that stands for the merged rare categories.
const OtherCategory = "(other)"

// categoryColumn codes a column's categories 0..k-1, most frequent first (ties
// by name); beyond maxCats-1 categories the rarer ones share the last code,
// named OtherCategory. Missing values stay NaN.
func categoryColumn(vals []string, maxCats int) ([]float64, []string) {
	count := map[string]int{}
	for _, v := range vals {
		if !IsMissing(v) {
			count[v]++
		}
	}
	cats := make([]string, 0, len(count))
	for c := range count {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(a, b int) bool {
		if count[cats[a]] != count[cats[b]] {
			return count[cats[a]] > count[cats[b]]
		}
		return cats[a] < cats[b]
	})
	if len(cats) > maxCats {
		cats = append(cats[:maxCats-1], OtherCategory)
	}
	code := make(map[string]float64, len(cats))
	for k, c := range cats {
		code[c] = float64(k)
	}
	other := float64(len(cats) - 1)
	out := make([]float64, len(vals))
	for i, v := range vals {
		switch c, ok := code[v]; {
		case IsMissing(v):
			out[i] = math.NaN()
		case ok:
			out[i] = c
		default:
			out[i] = other
		}
	}
	return out, cats
}
