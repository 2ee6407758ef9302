package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Errors of the package, wrapped with the file, line and column involved.
var (
	// ErrFormat reports a file that cannot be read as its format (a truncated file,
	// an unclosed quote, a line beyond the limits, a header without required columns).
	ErrFormat = errors.New("ingest: malformed file")
	// ErrEncoding reports text that is not in the declared or detected encoding.
	ErrEncoding = errors.New("ingest: wrong text encoding")
	// ErrInvalidOptions reports options that cannot be used (an unknown source, a bad batch id).
	ErrInvalidOptions = errors.New("ingest: invalid options")
	// ErrRefused reports a batch with more bad rows than Options.MaxBad allows; the
	// report says why and nothing of the batch is visible.
	ErrRefused = errors.New("ingest: batch refused")
)

// Limits bound what one file may make the process hold.
type Limits struct {
	// MaxRecordBytes bounds one record (a line, or a quoted record over several
	// lines, or a JSON object). Default 1 MiB.
	MaxRecordBytes int
	// MaxColumns bounds the fields of a record and the columns of a header. Default 1024.
	MaxColumns int
	// MaxXLSXBytes bounds an Excel workbook (it is read whole). Default 256 MiB.
	MaxXLSXBytes int64
	// MaxXLSXUnzipped bounds a workbook's unzipped size. Default 1 GiB.
	MaxXLSXUnzipped int64
}

// Options configure one batch.
type Options struct {
	// BatchID names the batch ([A-Za-z0-9._-], at most 100 characters, not
	// starting with a dot). Default: "sha256-" and the first 32 hex digits of the
	// digest of the source name and the files' contents.
	BatchID string
	// MaxBad is the share of rejected rows above which the whole batch is refused.
	// Default 0.05; a negative value refuses a batch with any bad row.
	MaxBad float64
	// Format forces the format of every file (csv, jsonl, parquet, xlsx).
	// Default: from the file name, else from its first bytes.
	Format string
	// Encoding of text files: auto (default), utf-8, gbk or gb18030.
	Encoding string
	// Limits bound the memory a file may take. Zero fields take their defaults.
	Limits Limits
	// PartRows is the most rows of one part file; a month with more is written
	// as several parts. Default 200,000.
	PartRows int
	// Examples is the number of rejected rows quoted in the report. Default 10.
	Examples int
	// Now is the clock that stamps the arrival. Default time.Now.
	Now func() time.Time
	// Location is where the day of arrival is counted. Default China Standard
	// Time (UTC+8): a delivery at 07:00 in Shaoxing arrives that day, not the
	// day before by UTC.
	Location *time.Location
	// TempDir holds spooled Parquet and Excel uploads and the quarantine being
	// written. Default os.TempDir().
	TempDir string
	// Logger receives one line per batch. Default: none.
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxBad == 0 {
		o.MaxBad = 0.05
	}
	if o.Limits.MaxRecordBytes <= 0 {
		o.Limits.MaxRecordBytes = 1 << 20
	}
	if o.Limits.MaxColumns <= 0 {
		o.Limits.MaxColumns = 1024
	}
	if o.Limits.MaxXLSXBytes <= 0 {
		o.Limits.MaxXLSXBytes = 256 << 20
	}
	if o.Limits.MaxXLSXUnzipped <= 0 {
		o.Limits.MaxXLSXUnzipped = 1 << 30
	}
	if o.PartRows <= 0 {
		o.PartRows = 200_000
	}
	if o.Examples <= 0 {
		o.Examples = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = ChinaStandardTime
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
}

// Input is one delivered file. R is read once; an *os.File is used in place
// for Parquet and Excel, other readers are spooled to a temporary file.
type Input struct {
	Name string
	R    io.Reader
}

// FileReport describes one file of a batch.
type FileReport struct {
	Name      string   `json:"name"`
	Format    string   `json:"format"`
	Encoding  string   `json:"encoding,omitempty"`
	Delimiter string   `json:"delimiter,omitempty"`
	SHA256    string   `json:"sha256"`
	Rows      int64    `json:"rows"`
	Ignored   []string `json:"ignored_columns,omitempty"` // header columns the contract does not know
}

// Rejection is one rejected row.
type Rejection struct {
	File   string   `json:"file"`
	Line   int64    `json:"line"`
	Reason string   `json:"reason"`
	Column string   `json:"column,omitempty"`
	Detail string   `json:"detail"`
	Record []string `json:"record,omitempty"`
}

// Report is the result of a batch; committed, it is the batch manifest.
type Report struct {
	ID         string       `json:"id"`
	Source     string       `json:"source"`
	Digest     string       `json:"digest"`
	AcceptedAt time.Time    `json:"accepted_at"`
	Arrival    string       `json:"arrival_date"`
	Files      []FileReport `json:"files"`

	Rows      int64 `json:"rows"`      // records read
	Accepted  int64 `json:"accepted"`  // rows that passed validation
	New       int64 `json:"new"`       // accepted rows of a key not stored before (revision 0)
	Corrected int64 `json:"corrected"` // accepted records that changed a stored fact (next revision)
	Unchanged int64 `json:"unchanged"` // accepted rows equal to the stored fact: nothing written
	Rejected  int64 `json:"rejected"`

	// Retracted and Unpublished count the retraction and end-of-publicity rows
	// written (next revision of their key); Withdrawn counts the retractions a full
	// delivery wrote for the keys in force it omits (contract omitted: withdrawn).
	Retracted   int64 `json:"retracted,omitempty"`
	Unpublished int64 `json:"unpublished,omitempty"`
	Withdrawn   int64 `json:"withdrawn,omitempty"`
	// Note says why omitted keys were not withdrawn (a batch with rejected rows
	// or no rows withdraws nothing).
	Note string `json:"note,omitempty"`

	Reasons    map[string]int64     `json:"reasons,omitempty"`
	Examples   []Rejection          `json:"examples,omitempty"`
	Quarantine string               `json:"quarantine,omitempty"` // key of the rejected rows (JSON Lines)
	Parts      []datasets.BatchPart `json:"parts"`
	Refused    string               `json:"refused,omitempty"` // why the batch was refused

	// Repeated is set when the batch id was committed before and this report is
	// the stored one.
	Repeated bool          `json:"-"`
	Elapsed  time.Duration `json:"elapsed_ns"`
}

// Summary is a one-line account of the report.
func (r *Report) Summary() string {
	s := fmt.Sprintf("%s batch %s: %d rows, %d accepted (%d new, %d corrected, %d unchanged), %d rejected",
		r.Source, r.ID, r.Rows, r.Accepted, r.New, r.Corrected, r.Unchanged, r.Rejected)
	if r.Retracted+r.Unpublished+r.Withdrawn > 0 {
		s += fmt.Sprintf("; %d retracted, %d ended publicity, %d omitted keys withdrawn", r.Retracted, r.Unpublished, r.Withdrawn)
	}
	if len(r.Reasons) > 0 {
		keys := make([]string, 0, len(r.Reasons))
		for k := range r.Reasons {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%d", k, r.Reasons[k]))
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	if r.Repeated {
		s += "; already committed, nothing changed"
	}
	if r.Refused != "" {
		s += "; refused: " + r.Refused
	}
	return s
}

// ChinaStandardTime is UTC+8, the default Location of the day of arrival.
var ChinaStandardTime = time.FixedZone("CST", 8*60*60)

// QuarantinePrefix returns the key prefix of a batch's quarantine.
func QuarantinePrefix(source, id string) string { return "quarantine/" + source + "/" + id + "/" }

// Ingester loads batches into a store. The batches of one source take its
// lock (Locker) from the reading of the stored facts to the commit, so that
// revisions never interleave.
type Ingester struct {
	store  blob.Store
	seed   maphash.Seed
	locker Locker
	// listener, when set, is told of every committed batch (Listen).
	listener Listener
}

// New returns an Ingester writing to store whose batches of one source are
// serialized within this process only. Processes that share a store share
// a Locker too (WithLocker, DBLocker).
func New(store blob.Store) *Ingester {
	return &Ingester{store: store, seed: maphash.MakeSeed(), locker: NewLocalLocker()}
}

// WithLocker makes g take l's lock of a source for each batch, and returns g.
func (g *Ingester) WithLocker(l Locker) *Ingester {
	g.locker = l
	return g
}

var batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$`)

// sourceInfo is what a batch needs of its source, derived from the contract.
type sourceInfo struct {
	src      datasets.Source
	contract *datasets.Contract
	schema   *parquet.Schema
	ncols    int
	leaf     []int          // contract column -> leaf index
	headers  map[string]int // HeaderKey -> contract column
	keyLeaf  []int
	keyCol   []int // contract column of each key column
	codeLeaf int
	dateLeaf int
	arrLeaf  int
	revLeaf  int
	kindLeaf int             // row_kind
	kindHdr  map[string]bool // HeaderKey of the shared row_kind column's names
	isKey    []bool          // per contract column
	dateKey  bool            // event_date is a key column
	withdraw bool            // a full delivery retracts the keys in force it omits
}

// testHook, set in tests, is called under the source's lock when the lock is
// taken ("locked"), before the manifest is written ("commit") and after
// ("committed").
var testHook func(stage string)

// contractOf finds a source's contract (replaced in tests).
var contractOf = datasets.ContractOf

func newSourceInfo(name string) (*sourceInfo, error) {
	c, err := contractOf(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	s := &sourceInfo{src: c.Source(), contract: c, headers: map[string]int{}}
	s.schema = s.src.StoredSchema()
	s.ncols = len(s.schema.Columns())
	leafOf := func(n string) int {
		l, ok := s.schema.Lookup(n)
		if !ok {
			return -1
		}
		return l.ColumnIndex
	}
	for ci := range c.Columns {
		col := &c.Columns[ci]
		s.leaf = append(s.leaf, leafOf(col.Name))
		for _, n := range col.Names() {
			s.headers[datasets.HeaderKey(n)] = ci
		}
	}
	for _, k := range c.Key {
		s.keyLeaf = append(s.keyLeaf, leafOf(k))
		for ci := range c.Columns {
			if c.Columns[ci].Name == k {
				s.keyCol = append(s.keyCol, ci)
			}
		}
	}
	s.codeLeaf, s.dateLeaf = leafOf("code"), leafOf("event_date")
	s.arrLeaf, s.revLeaf = leafOf("arrival_date"), leafOf("revision")
	s.kindLeaf = leafOf(datasets.RowKindColumn)
	s.kindHdr = map[string]bool{}
	if c.RowKind != nil {
		for _, n := range c.RowKind.Names() {
			s.kindHdr[datasets.HeaderKey(n)] = true
		}
	}
	s.isKey = make([]bool, len(c.Columns))
	for _, ci := range s.keyCol {
		s.isKey[ci] = true
	}
	s.dateKey = slices.Contains(c.Key, "event_date")
	s.withdraw = c.Delivery == datasets.Full && c.Omitted == datasets.OmittedWithdrawn
	return s, nil
}

// Ingest validates and loads one batch of a source (see the package documentation).
// A batch refused for its share of bad rows returns its report and an error
// wrapping ErrRefused; a file that cannot be read returns an error naming the
// file and line, and leaves nothing visible.
func (g *Ingester) Ingest(ctx context.Context, source string, inputs []Input, opts Options) (*Report, error) {
	start := time.Now()
	opts.EnsureDefaults()
	info, err := newSourceInfo(source)
	if err != nil {
		return nil, err
	}
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%w: no files", ErrInvalidOptions)
	}
	if opts.BatchID != "" {
		if !batchIDPattern.MatchString(opts.BatchID) {
			return nil, fmt.Errorf("%w: batch id %q: use letters, digits, '.', '_' and '-' (at most 100)", ErrInvalidOptions, opts.BatchID)
		}
		if rep, err := g.committed(ctx, source, opts.BatchID); err != nil || rep != nil {
			return rep, err
		}
	}
	now := opts.Now().In(opts.Location)
	b := &batch{
		g: g, ctx: ctx, info: info, opts: opts,
		arrival:  datasets.DayOf(now),
		attempt:  randomHex(8),
		withdraw: info.withdraw,
		spills:   map[int32]*spillFile{},
		rep: &Report{Source: source, AcceptedAt: now.UTC(), Arrival: datasets.DayOf(now).String(),
			Reasons: map[string]int64{}},
	}
	defer b.closeQuarantine()
	defer b.closeSpills()
	// The first pass (reading and validating the files) needs nothing stored;
	// the second (stored facts, revisions, parts) and the commit run under the
	// source's lock, so that a batch sees every batch committed before it.
	if err := b.read(inputs); err != nil {
		return nil, err
	}
	rep := b.rep
	if rep.ID == "" {
		rep.ID = "sha256-" + rep.Digest[:32]
	}
	lock, err := g.locker.Lock(ctx, source)
	if err != nil {
		return nil, fmt.Errorf("ingest: lock source %s: %w", source, err)
	}
	defer lock.Unlock()
	// Work under the lock stops when the lock is lost.
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(lock.Context(), func() { cancel(context.Cause(lock.Context())) })
	defer stop()
	b.ctx = lctx
	// Committed while this batch was read or waited for the lock?
	if prev, err := g.committed(lctx, source, rep.ID); err != nil || prev != nil {
		return prev, err
	}
	if testHook != nil {
		testHook("locked")
	}
	if err := b.process(); err != nil {
		b.removeParts()
		return nil, err
	}
	if rep.Rows > 0 && float64(rep.Rejected) > math.Max(opts.MaxBad, 0)*float64(rep.Rows) {
		b.removeParts()
		rep.Parts = nil
		rep.Refused = fmt.Sprintf("%d of %d rows rejected (%.1f%%), more than the %.1f%% allowed",
			rep.Rejected, rep.Rows, 100*float64(rep.Rejected)/float64(rep.Rows), 100*math.Max(opts.MaxBad, 0))
		if err := b.writeQuarantine(); err != nil {
			return nil, err
		}
		rep.Elapsed = time.Since(start)
		data, _ := json.MarshalIndent(rep, "", "  ")
		key := QuarantinePrefix(source, rep.ID) + "refused.json"
		if _, err := g.store.Put(ctx, key, bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("ingest: write %s: %w", key, err)
		}
		return rep, fmt.Errorf("%w: %s", ErrRefused, rep.Summary())
	}
	if err := b.writeQuarantine(); err != nil {
		b.removeParts()
		return nil, err
	}
	rep.Elapsed = time.Since(start)
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		b.removeParts()
		return nil, fmt.Errorf("ingest: encode manifest: %w", err)
	}
	key := datasets.BatchManifestKey(source, rep.ID)
	if testHook != nil {
		testHook("commit")
	}
	cctx, done, err := lock.Commit(lctx)
	if err != nil {
		b.removeParts()
		return nil, fmt.Errorf("ingest: commit %s: %w", key, err)
	}
	_, err = g.store.Put(cctx, key, bytes.NewReader(data))
	done()
	if err != nil {
		b.removeParts()
		return nil, fmt.Errorf("ingest: commit %s: %w", key, err)
	}
	if testHook != nil {
		testHook("committed")
	}
	if opts.Logger != nil {
		opts.Logger.Info("ingest batch", "source", source, "batch", rep.ID, "rows", rep.Rows,
			"accepted", rep.Accepted, "rejected", rep.Rejected, "parts", len(rep.Parts), "elapsed", rep.Elapsed)
	}
	if g.listener != nil {
		if err := g.listener.BatchCommitted(ctx, rep); err != nil && opts.Logger != nil {
			opts.Logger.Warn("ingest: a listener failed on a committed batch; the batch stands", "source", source, "batch", rep.ID, "err", err)
		}
	}
	return rep, nil
}

// committed returns the stored report of batch id, or nil when there is none.
func (g *Ingester) committed(ctx context.Context, source, id string) (*Report, error) {
	rep, err := ReadReport(ctx, g.store, source, id)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rep.Repeated = true
	return rep, nil
}

// ReadReport reads the manifest of a committed batch.
func ReadReport(ctx context.Context, store blob.Store, source, id string) (*Report, error) {
	key := datasets.BatchManifestKey(source, id)
	data, _, err := blob.ReadAll(ctx, store, key)
	if err != nil {
		return nil, fmt.Errorf("ingest: read %s: %w", key, err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("ingest: %s: %w", key, err)
	}
	return &rep, nil
}

// History returns the reports of every committed batch of a source, oldest first.
func History(ctx context.Context, store blob.Store, source string) ([]*Report, error) {
	infos, err := store.List(ctx, datasets.BatchPrefix(source))
	if err != nil {
		return nil, fmt.Errorf("ingest: list %s: %w", datasets.BatchPrefix(source), err)
	}
	var out []*Report
	for _, in := range infos {
		id, ok := strings.CutSuffix(strings.TrimPrefix(in.Key, datasets.BatchPrefix(source)), ".json")
		if !ok {
			continue
		}
		rep, err := ReadReport(ctx, store, source, id)
		if err != nil {
			return nil, err
		}
		out = append(out, rep)
	}
	slices.SortStableFunc(out, func(a, b *Report) int { return a.AcceptedAt.Compare(b.AcceptedAt) })
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// stored is the fact in force for a key: its highest revision, its kind, a digest
// of its values and, when the batch needs them, the values themselves.
type stored struct {
	rev     int32
	arrival int32
	kind    datasets.RowKind
	digest  uint64
	row     parquet.Row // nil unless loadIndex was asked to keep it
}

type batch struct {
	g       *Ingester
	ctx     context.Context
	info    *sourceInfo
	opts    Options
	arrival datasets.Day
	attempt string
	// withdraw: this full delivery retracts the keys in force it omits.
	withdraw bool
	rep      *Report
	files    []string // input names, by index

	spills map[int32]*spillFile

	mu      sync.Mutex // guards rep, written and the quarantine while buckets run in parallel
	written []string

	qfile *os.File
	qw    *bufio.Writer
}

// read is the first pass: it reads and validates every file into the spills
// and sets the batch's digest and id.
func (b *batch) read(inputs []Input) error {
	digest := sha256.New()
	digest.Write([]byte(b.info.src.Name + "\n"))
	for _, in := range inputs {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		fr, err := b.readFile(in)
		if err != nil {
			return fmt.Errorf("%s: %w", in.Name, err)
		}
		digest.Write([]byte(fr.SHA256 + "\n"))
		b.rep.Files = append(b.rep.Files, *fr)
	}
	b.rep.Digest = hex.EncodeToString(digest.Sum(nil))
	b.rep.ID = b.opts.BatchID
	return nil
}

// readFile reads one input through its format's reader into the batch.
func (b *batch) readFile(in Input) (*FileReport, error) {
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(in.R, h), 64<<10)
	head, _ := br.Peek(8)
	format := strings.ToLower(b.opts.Format)
	if format == "" || format == "auto" {
		format = formatOf(in.Name, head)
	}
	fr := &FileReport{Name: in.Name, Format: format}
	defer func() { b.files = append(b.files, in.Name) }()
	var recs records
	xlsx := false
	switch format {
	case FormatCSV, "tsv":
		fr.Format = FormatCSV
		r, enc, check, err := textReader(br, b.opts.Encoding)
		if err != nil {
			return nil, err
		}
		c, delim, err := newCSVRecords(r, check, b.opts.Limits)
		if err != nil {
			return nil, err
		}
		fr.Encoding, fr.Delimiter, recs = enc, string(delim), c
	case FormatJSONL:
		r, enc, check, err := textReader(br, b.opts.Encoding)
		if err != nil {
			return nil, err
		}
		fr.Encoding, recs = enc, newJSONLRecords(r, check, b.opts.Limits)
	case FormatParquet:
		ra, size, done, err := b.seekable(in, br)
		if err != nil {
			return nil, err
		}
		defer done()
		p, err := newParquetRecords(ra, size, b.opts.Limits)
		if err != nil {
			return nil, err
		}
		recs = p
	case FormatXLSX:
		ra, size, done, err := b.seekable(in, br)
		if err != nil {
			return nil, err
		}
		defer done()
		if size > b.opts.Limits.MaxXLSXBytes {
			return nil, fmt.Errorf("%w: workbook of %d bytes, more than %d", ErrFormat, size, b.opts.Limits.MaxXLSXBytes)
		}
		x, err := newXLSXRecords(io.NewSectionReader(ra, 0, size), b.opts.Limits)
		if err != nil {
			return nil, err
		}
		defer x.close()
		recs, xlsx = x, true
	default:
		return nil, fmt.Errorf("%w: format %q (use csv, jsonl, parquet or xlsx)", ErrInvalidOptions, format)
	}
	// JSON Lines has no header line: its columns are bound as keys appear.
	jsonl := format == FormatJSONL
	var bind *binding
	if !jsonl {
		var err error
		if bind, err = b.info.bind(recs.header(), in.Name, false); err != nil {
			return nil, err
		}
		fr.Ignored = bind.ignored
	}
	bind, rows, err := b.readRecords(recs, in.Name, len(b.files), bind, jsonl, xlsx)
	fr.Rows = rows
	if err != nil {
		return nil, err
	}
	if jsonl && bind != nil {
		fr.Ignored = bind.ignored
	}
	// Whatever follows the last record still belongs to the file's digest.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, err
	}
	fr.SHA256 = hex.EncodeToString(h.Sum(nil))
	return fr, nil
}

// seekable gives random access to a Parquet or Excel input: an *os.File in
// place (hashed by reading it through), anything else spooled to a temporary file.
func (b *batch) seekable(in Input, br *bufio.Reader) (io.ReaderAt, int64, func(), error) {
	if f, ok := in.R.(*os.File); ok {
		st, err := f.Stat()
		if err == nil && st.Mode().IsRegular() {
			if _, err := io.Copy(io.Discard, br); err != nil { // through the tee: the digest
				return nil, 0, nil, err
			}
			return f, st.Size(), func() {}, nil
		}
	}
	tmp, err := os.CreateTemp(b.opts.TempDir, "xinyi-ingest-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("ingest: spool: %w", err)
	}
	done := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, br)
	if err != nil {
		done()
		return nil, 0, nil, fmt.Errorf("ingest: spool: %w", err)
	}
	return tmp, n, done, nil
}

// keyOf is the key of a row (values in leaf order) in a compact binary form.
func (s *sourceInfo) keyOf(row []parquet.Value) string {
	return string(s.appendKey(make([]byte, 0, 32), row))
}

// appendKey appends the key of a row (keyOf) to k.
func (s *sourceInfo) appendKey(k []byte, row []parquet.Value) []byte {
	for _, l := range s.keyLeaf {
		k = appendValue(k, row[l])
	}
	return k
}

// keyText is the key of a row as people read it ("913306… 2024-03-31").
func (s *sourceInfo) keyText(row []parquet.Value) string {
	var parts []string
	for i, l := range s.keyLeaf {
		v := row[l]
		switch {
		case v.Kind() == parquet.Int32 && (s.contract.Columns[s.keyCol[i]].Type == datasets.TypeDate || s.contract.Columns[s.keyCol[i]].Type == datasets.TypeMonthEnd):
			parts = append(parts, datasets.Day(v.Int32()).String())
		default:
			parts = append(parts, valueText(v, false))
		}
	}
	return strings.Join(parts, " ")
}

// appendValue appends an unambiguous binary form of v: byte arrays with their
// length, numbers in fixed width.
func appendValue(k []byte, v parquet.Value) []byte {
	switch v.Kind() {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		k = binary.AppendUvarint(k, uint64(len(v.ByteArray())))
		return append(k, v.ByteArray()...)
	case parquet.Int32:
		return binary.LittleEndian.AppendUint32(k, uint32(v.Int32()))
	case parquet.Double:
		return binary.LittleEndian.AppendUint64(k, math.Float64bits(v.Double()))
	case parquet.Boolean:
		if v.Boolean() {
			return append(k, 1)
		}
		return append(k, 0)
	}
	return append(k, v.String()...)
}

// digestOf hashes the values of a row other than arrival_date and revision.
func (b *batch) digestOf(row []parquet.Value) uint64 {
	var stack [256]byte
	buf := stack[:0]
	for i, v := range row {
		if i != b.info.arrLeaf && i != b.info.revLeaf {
			buf = appendValue(buf, v)
		}
	}
	return maphash.Bytes(b.g.seed, buf)
}

// removeParts deletes the parts this attempt wrote (they were never visible).
func (b *batch) removeParts() {
	for _, k := range b.written {
		b.g.store.Delete(context.WithoutCancel(b.ctx), k)
	}
	b.written = nil
}

// keyEntry is one key a bucket meets: its first row in the batch (-1 for a
// stored key the batch does not hold) and the stored fact in force, if any.
type keyEntry struct {
	first   int32
	keepRow bool // keep the stored values (a retraction or end of publicity names the key)
	has     bool
	write   bool // the batch's row of the key (first) is written
	st      stored
	key     string // set for the keys only stored
}

func (e *keyEntry) stored() (stored, bool) { return e.st, e.has }

// loadIndex reads the visible stored rows under prefix into the entries of
// their keys (lookup: key to entry; or, when cur is not nil, the entries in key
// order matched by cur): per key the highest revision (the latest
// arrival among equals), its kind and the digest of its values, and the values
// themselves for the entries that ask (keepRow). Stored keys without an entry
// are skipped, or added when all is set (a full delivery withdraws them), with
// their values. The stored rows are read by column (eachGroup).
// The files and their columns are read into mem's buffers.
func (b *batch) loadIndex(prefix string, lookup map[string]int32, cur *keyCursor, entries []keyEntry, all bool, mem *bucketMemory) ([]keyEntry, error) {
	ctx, store, info := b.ctx, b.g.store, b.info
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("ingest: list %s: %w", prefix, err)
	}
	if infos, err = datasets.VisibleParts(ctx, store, info.src.Name, infos); err != nil {
		return nil, err
	}
	var kb, db []byte
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".parquet") || !strings.Contains(in.Key, "/month=") {
			continue
		}
		data, _, err := blob.ReadAllInto(ctx, store, in.Key, mem.file)
		if err != nil {
			return nil, fmt.Errorf("ingest: read %s: %w", in.Key, err)
		}
		mem.file = data
		if len(mem.cols) != info.ncols {
			mem.cols = make([]columnValues, info.ncols)
		}
		if cur != nil {
			cur.reset() // each file from the start
		}
		err = eachGroup(data, in.Key, info, mem.cols, func(cols []columnValues, n int) {
			revs, arrs, kinds := &cols[info.revLeaf], &cols[info.arrLeaf], &cols[info.kindLeaf]
			for r := range n {
				kb = kb[:0]
				for _, l := range info.keyLeaf {
					kb = cols[l].appendTo(kb, r)
				}
				var i int32
				var ok bool
				if cur != nil {
					i = cur.find(kb)
					ok = i >= 0
				} else {
					i, ok = lookup[string(kb)]
				}
				if !ok {
					if !all {
						continue
					}
					i = int32(len(entries))
					key := string(kb)
					lookup[key] = i
					entries = append(entries, keyEntry{first: -1, keepRow: true, key: key})
				}
				e := &entries[i]
				rev, arr := revs.int32At(r), arrs.int32At(r)
				if e.has && (e.st.rev > rev || e.st.rev == rev && e.st.arrival > arr) {
					continue
				}
				db = db[:0]
				for l := range cols {
					if l != info.arrLeaf && l != info.revLeaf {
						db = cols[l].appendTo(db, r)
					}
				}
				e.has = true
				e.st = stored{rev: rev, arrival: arr, kind: datasets.RowKind(kinds.int32At(r)), digest: maphash.Bytes(b.g.seed, db)}
				if all || e.keepRow {
					e.st.row = make(parquet.Row, len(cols))
					for l := range cols {
						e.st.row[l] = cols[l].value(r, l).Clone()
					}
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// eachRow calls fn with every row of a stored Parquet file, its values in the
// stored schema's leaf order; a file without row_kind (the generator's, or parts
// ingested before the column existed) reads as records. The values of row are
// valid until fn returns.
func eachRow(data []byte, name string, info *sourceInfo, row []parquet.Value, fn func([]parquet.Value)) error {
	return eachGroup(data, name, info, nil, func(cols []columnValues, n int) {
		for r := range n {
			for l := range cols {
				row[l] = cols[l].value(r, l)
			}
			fn(row)
		}
	})
}

// eachGroup calls fn with successive groups of n rows of a stored Parquet file,
// as one columnValues per leaf of the stored schema (see eachRow). A file whose
// columns are all required and flat, as the platform writes them, is decoded
// column by column from its pages; any other through parquet-go's row reader.
// The columns are valid until fn returns. They are read into cols when it
// holds a columnValues per leaf (a caller reading file after file reuses their
// buffers), else into new ones.
func eachGroup(data []byte, name string, info *sourceInfo, cols []columnValues, fn func(cols []columnValues, n int)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, name, r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, name, err)
	}
	// Map the file's columns to the schema's by name.
	fileLeaf := make([]int, info.ncols)
	kinds := make([]parquet.Kind, info.ncols)
	flat := true
	for i, path := range info.schema.Columns() {
		sl, _ := info.schema.Lookup(path...)
		kinds[i] = sl.Node.Type().Kind()
		l, ok := f.Schema().Lookup(path...)
		if !ok && i == info.kindLeaf {
			fileLeaf[i] = -1
			continue
		}
		if !ok {
			return fmt.Errorf("%w: %s: no column %s", datasets.ErrCorrupt, name, strings.Join(path, "."))
		}
		fileLeaf[i] = l.ColumnIndex
		if l.MaxRepetitionLevel != 0 || l.MaxDefinitionLevel != 0 || l.Node.Type().Kind() != kinds[i] {
			flat = false
		}
	}
	if len(cols) != info.ncols {
		cols = make([]columnValues, info.ncols)
	}
	records := func(c *columnValues, n int) { // row_kind of a file without the column
		c.kind, c.generic = parquet.Int32, false
		c.i32 = slices.Grow(c.i32[:0], n)[:n]
		clear(c.i32)
	}
	if flat {
		for _, rg := range f.RowGroups() {
			n := rg.NumRows()
			chunks := rg.ColumnChunks()
			for i, l := range fileLeaf {
				if l < 0 {
					records(&cols[i], int(n))
					continue
				}
				if err := cols[i].read(chunks[l], kinds[i], n); err != nil {
					return fmt.Errorf("%w: %s: column %s: %v", datasets.ErrCorrupt, name, strings.Join(info.schema.Columns()[i], "."), err)
				}
			}
			fn(cols, int(n))
		}
		return nil
	}
	r := parquet.NewReader(f)
	defer r.Close()
	rows := make([]parquet.Row, 1024)
	byCol := make([]parquet.Value, len(f.Schema().Columns()))
	for {
		n, err := r.ReadRows(rows)
		if n > 0 {
			for i := range cols {
				cols[i].kind, cols[i].generic, cols[i].values = kinds[i], true, cols[i].values[:0]
			}
			for _, fr := range rows[:n] {
				for _, v := range fr {
					if c := v.Column(); c >= 0 && c < len(byCol) {
						byCol[c] = v
					}
				}
				for i, l := range fileLeaf {
					v := parquet.Int32Value(int32(datasets.RowRecord))
					if l >= 0 {
						v = byCol[l]
					}
					cols[i].values = append(cols[i].values, v)
				}
			}
			fn(cols, n)
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, name, err)
		}
	}
}

// reject counts a bad row, keeps it as an example and writes it to the quarantine.
func (b *batch) reject(file string, line int64, e *rowError, fields []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rep.Rejected++
	b.rep.Reasons[e.reason]++
	rec := make([]string, 0, min(len(fields), 256))
	for _, f := range fields[:min(len(fields), 256)] {
		if len(f) > 1024 {
			f = f[:1024]
		}
		rec = append(rec, strings.Clone(f)) // not the whole chunk's text kept alive for it
	}
	rj := Rejection{File: file, Line: line, Reason: e.reason, Column: e.column, Detail: e.detail, Record: rec}
	if len(b.rep.Examples) < b.opts.Examples {
		b.rep.Examples = append(b.rep.Examples, rj)
	}
	if b.qw == nil {
		f, err := os.CreateTemp(b.opts.TempDir, "xinyi-quarantine-*")
		if err != nil {
			return fmt.Errorf("ingest: quarantine: %w", err)
		}
		b.qfile, b.qw = f, bufio.NewWriter(f)
	}
	data, _ := json.Marshal(rj)
	b.qw.Write(data)
	return b.qw.WriteByte('\n')
}

// writeQuarantine stores the rejected rows, if any, as JSON Lines.
func (b *batch) writeQuarantine() error {
	if b.qw == nil {
		return nil
	}
	if err := b.qw.Flush(); err != nil {
		return fmt.Errorf("ingest: quarantine: %w", err)
	}
	if _, err := b.qfile.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("ingest: quarantine: %w", err)
	}
	key := QuarantinePrefix(b.info.src.Name, b.rep.ID) + "rejected.jsonl"
	if _, err := b.g.store.Put(b.ctx, key, b.qfile); err != nil {
		return fmt.Errorf("ingest: write %s: %w", key, err)
	}
	b.rep.Quarantine = key
	return nil
}

func (b *batch) closeQuarantine() {
	if b.qfile != nil {
		b.qfile.Close()
		os.Remove(b.qfile.Name())
	}
}
