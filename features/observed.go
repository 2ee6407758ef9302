package features

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// ErrObservations is a label file that cannot make a sample: bad rows, unknown
// companies only, too few rows or positives. Nothing is written.
var ErrObservations = errors.New("features: label file refused")

// Observation is one row of a bank's own label file: the company, the date the
// outcome's clock starts (a loan's disbursement, an application) and the
// outcome (0 or 1). Line is its line in the file (0 when not read from one).
type Observation struct {
	Code  string
	Date  Day
	Label float64
	Line  int
}

// The label-file policy of a joint model (ObservedOptions): what a bank's file
// must hold so that neither the sample nor the evaluation of a model trained
// on it singles out a company.
const (
	// DefaultMinRows: a file with fewer joined rows is refused.
	DefaultMinRows = 200
	// DefaultMinPositives: a file with fewer positive outcomes is refused.
	DefaultMinPositives = 20
	// DefaultMinCompanies: a file naming fewer distinct companies is refused
	// (a single- or few-company file asks about those companies, not about
	// credit risk).
	DefaultMinCompanies = 100
	// DefaultMinChangedRows: a file that differs from an earlier file of the
	// same bank by at least one and fewer than this many rows is refused: the
	// difference of the two models' evaluations would be about those rows.
	DefaultMinChangedRows = 50
	// DefaultMaxStaleDays: an observation more than this many days after the
	// newest snapshot is outside the snapshots (no indicator of its time has
	// been materialized yet).
	DefaultMaxStaleDays = 92
)

// ObservedOptions configure BuildObservedSample.
type ObservedOptions struct {
	// Name of the sample (a path segment). Required.
	Name string
	// Set is the feature set whose snapshots are joined ("pd", "pd/v1"). Required.
	Set string
	// Label names the label column. Default "outcome".
	Label string
	// Horizon is how many months after its date an observation's outcome covers
	// (a loan's first 12 months). Default 12.
	Horizon int
	// Kind is the outcome's kind: default (a loan's; models of the pd task) or
	// violation. Default "default".
	Kind string
	// Observations are the label file's rows. Required.
	Observations []Observation
	// Source names the label file and its digest, kept as the sample's lineage.
	Source FileRef
	// MinRows, MinPositives and MinCompanies refuse a file too small to be a
	// model's sample, or small enough to probe single companies. Defaults
	// DefaultMinRows, DefaultMinPositives and DefaultMinCompanies.
	MinRows, MinPositives, MinCompanies int
	// MinChangedRows refuses a file nearly identical to an earlier one of the
	// same bank (see DefaultMinChangedRows, the default). Each accepted file
	// leaves a fingerprint (sorted 64-bit hashes of its rows) under
	// label-prints/ in dest, which later files are compared with; an identical
	// file is allowed (it teaches nothing new).
	MinChangedRows int
	// MaxStaleDays bounds how long after the newest snapshot an observation may
	// be. Default DefaultMaxStaleDays.
	MaxStaleDays int
	// Catalog is the indicator library. Default DefaultCatalog().
	Catalog *Catalog
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// ObservedReport says what became of a label file's rows. A refused file's
// report holds what was counted up to the refusal.
type ObservedReport struct {
	Rows      int `json:"rows"`
	Companies int `json:"companies"`
	// Joined rows are in the sample. Rows dated before the first snapshot,
	// after the newest one by more than MaxStaleDays (or after today), and rows
	// whose company the snapshot of their date does not hold, refuse the file.
	Joined         int `json:"joined"`
	BeforeFirst    int `json:"before_first_snapshot"`
	AfterLast      int `json:"after_last_snapshot"`
	UnknownCompany int `json:"unknown_company"`
	Positives      int `json:"positives"`
	// FirstSnapshot and LastSnapshot are the snapshot dates the file was held
	// against.
	FirstSnapshot string `json:"first_snapshot,omitempty"`
	LastSnapshot  string `json:"last_snapshot,omitempty"`
	// Refusal names why a refused file was refused: duplicate, label, rows,
	// companies, positives, dates, unknown_company, joined or near_duplicate.
	Refusal string `json:"refusal,omitempty"`
	// Limit is the policy bound the file missed (MinRows for "rows", …).
	Limit int `json:"limit,omitempty"`
	// Examples name up to five offending rows of a refused file, Offenders
	// the same rows as data.
	Examples  []string   `json:"examples,omitempty"`
	Offenders []Offender `json:"offenders,omitempty"`
	// ChangedRows is the smallest number of rows by which the file differs
	// from an earlier file of the bank (-1: no earlier file).
	ChangedRows int `json:"changed_rows"`
}

// Offender is one offending row of a refused label file.
type Offender struct {
	Line    int    `json:"line,omitempty"`
	Code    string `json:"code"`
	Date    string `json:"date"`
	Problem string `json:"problem"` // before_first, after_last, unknown_company, duplicate, label
}

func (r *ObservedReport) example(o Observation, problem, format string, args ...any) {
	if len(r.Examples) < 5 {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
		r.Offenders = append(r.Offenders, Offender{Line: o.Line, Code: o.Code, Date: o.Date.String(), Problem: problem})
	}
}

// refuse records why in rep and returns err.
func (r *ObservedReport) refuse(why string, limit int, err error) error {
	r.Refusal, r.Limit = why, limit
	return err
}

func (o Observation) where() string {
	if o.Line > 0 {
		return fmt.Sprintf("line %d (%s, %s)", o.Line, o.Code, o.Date)
	}
	return fmt.Sprintf("%s on %s", o.Code, o.Date)
}

// BuildObservedSample joins a bank's own label file with the set's snapshots
// point in time: each observation takes the values of the newest snapshot dated
// on or before its date, so the sample holds only what was known when the
// outcome's clock started. Snapshots are read from snapshots; the sample is
// written to dest (a bank's private prefix) as
// samples/<name>/v<N>/{train,valid,test}.parquet and manifest.json. The split
// is out of time: observations on the newest snapshot date go to test, the
// date before to valid (with three dates or more).
//
// A file is refused, with a report and nothing written, when it has duplicate
// (company, date) rows or labels other than 0 and 1; rows dated outside the
// snapshots or naming companies the snapshots do not hold; too few rows,
// positives or companies; or when it differs from an earlier file of the same
// bank by only a few rows (ObservedOptions.MinChangedRows).
func BuildObservedSample(ctx context.Context, snapshots, dest blob.Store, opts ObservedOptions) (*SampleManifest, *ObservedReport, error) {
	if opts.Catalog == nil {
		c, err := DefaultCatalog()
		if err != nil {
			return nil, nil, err
		}
		opts.Catalog = c
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Label == "" {
		opts.Label = "outcome"
	}
	switch opts.Kind {
	case "":
		opts.Kind = "default"
	case "default", "violation":
	default:
		return nil, nil, fmt.Errorf("%w: outcome kind %q is not default or violation", ErrInvalidOptions, opts.Kind)
	}
	if opts.Horizon <= 0 {
		opts.Horizon = 12
	}
	if opts.MinRows <= 0 {
		opts.MinRows = DefaultMinRows
	}
	if opts.MinPositives <= 0 {
		opts.MinPositives = DefaultMinPositives
	}
	if opts.MinCompanies <= 0 {
		opts.MinCompanies = DefaultMinCompanies
	}
	if opts.MinChangedRows <= 0 {
		opts.MinChangedRows = DefaultMinChangedRows
	}
	if opts.MaxStaleDays <= 0 {
		opts.MaxStaleDays = DefaultMaxStaleDays
	}
	if opts.Name == "" || strings.ContainsAny(opts.Name, "/\\ ") {
		return nil, nil, fmt.Errorf("%w: sample name %q (a non-empty name without slashes or spaces)", ErrInvalidOptions, opts.Name)
	}
	set, err := opts.Catalog.Set(opts.Set, 0)
	if err != nil {
		return nil, nil, err
	}
	rep := &ObservedReport{Rows: len(opts.Observations), ChangedRows: -1}
	obs := slices.Clone(opts.Observations)
	slices.SortFunc(obs, func(a, b Observation) int {
		if c := cmp.Compare(a.Date, b.Date); c != 0 {
			return c
		}
		return strings.Compare(a.Code, b.Code)
	})
	companies := map[string]bool{}
	for i := range obs {
		if i > 0 && obs[i].Code == obs[i-1].Code && obs[i].Date == obs[i-1].Date {
			rep.example(obs[i], "duplicate", "%s", obs[i].where())
			return nil, rep, rep.refuse("duplicate", 0, fmt.Errorf("%w: %s and %s are the same company on the same date; each (company, date) may appear once", ErrObservations, obs[i-1].where(), obs[i].where()))
		}
		if obs[i].Label != 0 && obs[i].Label != 1 {
			rep.example(obs[i], "label", "%s", obs[i].where())
			return nil, rep, rep.refuse("label", 0, fmt.Errorf("%w: the label of %s is %v, want 0 or 1", ErrObservations, obs[i].where(), obs[i].Label))
		}
		companies[obs[i].Code] = true
		if obs[i].Label == 1 {
			rep.Positives++
		}
	}
	rep.Companies = len(companies)
	if len(obs) < opts.MinRows {
		return nil, rep, rep.refuse("rows", opts.MinRows, fmt.Errorf("%w: %d rows; a sample needs at least %d (a smaller file could single out companies)", ErrObservations, len(obs), opts.MinRows))
	}
	if rep.Companies < opts.MinCompanies {
		return nil, rep, rep.refuse("companies", opts.MinCompanies, fmt.Errorf("%w: the %d rows name %d companies; a sample needs at least %d different companies (a file about a few companies asks about them, not about credit risk)",
			ErrObservations, len(obs), rep.Companies, opts.MinCompanies))
	}
	if rep.Positives < opts.MinPositives {
		return nil, rep, rep.refuse("positives", opts.MinPositives, fmt.Errorf("%w: %d positive outcomes; a sample needs at least %d", ErrObservations, rep.Positives, opts.MinPositives))
	}
	rep.Positives = 0 // counted again over the joined rows
	days, err := ListSnapshots(ctx, snapshots, set.Name, set.Version)
	if err != nil {
		return nil, nil, err
	}
	if len(days) == 0 {
		return nil, rep, fmt.Errorf("%w: %s has no snapshot", ErrNoSnapshotStored, set.Key())
	}
	rep.FirstSnapshot, rep.LastSnapshot = days[0].String(), days[len(days)-1].String()
	// Each observation's snapshot: the newest dated on or before it.
	latest := days[len(days)-1].Time().AddDate(0, 0, opts.MaxStaleDays)
	if today := DayOf(opts.Now()).Time(); today.Before(latest) {
		latest = today
	}
	byDay := map[Day][]Observation{}
	for _, o := range obs {
		i, found := slices.BinarySearch(days, o.Date)
		if !found {
			i--
		}
		switch {
		case i < 0:
			rep.BeforeFirst++
			rep.example(o, "before_first", "%s is before the first snapshot %s", o.where(), days[0])
			continue
		case o.Date.Time().After(latest):
			rep.AfterLast++
			rep.example(o, "after_last", "%s is after %s (the newest snapshot %s plus %d days, or today)", o.where(), DayOf(latest), days[len(days)-1], opts.MaxStaleDays)
			continue
		}
		byDay[days[i]] = append(byDay[days[i]], o)
	}
	if rep.BeforeFirst+rep.AfterLast > 0 {
		return nil, rep, rep.refuse("dates", opts.MaxStaleDays, fmt.Errorf("%w: %d rows are dated outside the snapshots of %s (%s..%s): %d before the first, %d too long after the newest; e.g. %s",
			ErrObservations, rep.BeforeFirst+rep.AfterLast, set.Key(), days[0], days[len(days)-1], rep.BeforeFirst, rep.AfterLast, strings.Join(rep.Examples, "; ")))
	}
	used := make([]Day, 0, len(byDay))
	for d := range byDay {
		used = append(used, d)
	}
	slices.Sort(used)
	split := func(d Day) string {
		switch n := len(used); {
		case n >= 3 && d == used[n-1]:
			return "test"
		case n >= 3 && d == used[n-2]:
			return "valid"
		}
		return "train"
	}
	def := LabelDef{Name: opts.Label, Kind: opts.Kind, Horizon: opts.Horizon}
	w := newSampleWriter(set.Indicators, def)
	defer w.release()
	man := &SampleManifest{Set: set.Name, SetVersion: set.Version, Indicators: set.Indicators, Label: def, Population: PopulationLabelFile,
		CreatedAt: opts.Now().UTC(), Splits: map[string]SampleSplit{}, Labels: []FileRef{opts.Source}}
	width := len(set.Indicators)
	for _, d := range used {
		snap, sm, err := ReadSnapshot(ctx, snapshots, set.Name, set.Version, d)
		if err != nil {
			return nil, nil, err
		}
		index := make(map[string]int, len(snap.Codes))
		for i, c := range snap.Codes {
			index[c] = i
		}
		sp := split(d)
		w.addDate(sp, d)
		joined := 0
		for _, o := range byDay[d] {
			i, ok := index[o.Code]
			if !ok {
				rep.UnknownCompany++
				rep.example(o, "unknown_company", "%s: the snapshot of %s does not hold the company", o.where(), d)
				continue
			}
			w.add(sp, o.Code, d, snap.Values[i*width:(i+1)*width], o.Label)
			joined++
			if o.Label == 1 {
				rep.Positives++
			}
		}
		if joined > 0 {
			man.Snapshots = append(man.Snapshots, FileRef{Key: ManifestKey(set.Name, set.Version, d), Rows: sm.Rows})
		}
		rep.Joined += joined
	}
	if rep.UnknownCompany > 0 {
		return nil, rep, rep.refuse("unknown_company", 0, fmt.Errorf("%w: %d rows name companies the platform does not hold at their date (unknown codes, or companies registered later); e.g. %s",
			ErrObservations, rep.UnknownCompany, strings.Join(rep.Examples, "; ")))
	}
	if rep.Joined < opts.MinRows || rep.Positives < opts.MinPositives {
		return nil, rep, rep.refuse("joined", opts.MinRows, fmt.Errorf("%w: %d of %d rows joined a snapshot with %d positives; a sample needs at least %d rows and %d positives",
			ErrObservations, rep.Joined, rep.Rows, rep.Positives, opts.MinRows, opts.MinPositives))
	}
	fp := fingerprint(obs)
	changed, err := nearestPrint(ctx, dest, fp)
	if err != nil {
		return nil, nil, err
	}
	rep.ChangedRows = changed
	if changed > 0 && changed < opts.MinChangedRows {
		return nil, rep, rep.refuse("near_duplicate", opts.MinChangedRows, fmt.Errorf("%w: the file differs from an earlier label file of the institution by %d rows; a new file must differ by at least %d (two models on files a few rows apart would reveal those rows' companies)",
			ErrObservations, changed, opts.MinChangedRows))
	}
	man.From, man.To, man.BuildAt = used[0].String(), used[len(used)-1].String(), DayOf(opts.Now()).String()
	versions, err := dest.List(ctx, "samples/"+opts.Name+"/")
	if err != nil {
		return nil, nil, fmt.Errorf("features: list samples/%s/: %w", opts.Name, err)
	}
	man.Name, man.Version = opts.Name, 1
	for _, in := range versions {
		var v int
		if _, err := fmt.Sscanf(strings.TrimPrefix(in.Key, "samples/"+opts.Name+"/"), "v%d/manifest.json", &v); err == nil && v >= man.Version {
			man.Version = v + 1
		}
	}
	if err := w.write(ctx, dest, man); err != nil {
		return nil, nil, err
	}
	// The fingerprint is written after the sample: a file whose sample failed
	// to write does not count as uploaded.
	if changed != 0 {
		if err := putPrint(ctx, dest, fp); err != nil {
			return nil, nil, err
		}
	}
	return man, rep, nil
}

// LabelPrintPrefix holds the fingerprints of a bank's accepted label files,
// under its private prefix.
const LabelPrintPrefix = "label-prints/"

// fingerprint is the sorted 64-bit hashes of (code, date, label) of obs.
func fingerprint(obs []Observation) []uint64 {
	out := make([]uint64, len(obs))
	for i, o := range obs {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%g", o.Code, o.Date, o.Label)))
		out[i] = binary.BigEndian.Uint64(h[:8])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// symmetricDifference counts the hashes in exactly one of a and b (both sorted).
func symmetricDifference(a, b []uint64) int {
	n, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			i++
			j++
		case a[i] < b[j]:
			n++
			i++
		default:
			n++
			j++
		}
	}
	return n + len(a) - i + len(b) - j
}

// nearestPrint is the smallest symmetric difference between print and the
// fingerprints stored in dest, -1 when there is none.
func nearestPrint(ctx context.Context, dest blob.Store, fp []uint64) (int, error) {
	infos, err := dest.List(ctx, LabelPrintPrefix)
	if err != nil {
		return 0, fmt.Errorf("features: list %s: %w", LabelPrintPrefix, err)
	}
	best := -1
	for _, in := range infos {
		if in.Size%8 != 0 || in.Size > 8*MaxObservations {
			return 0, fmt.Errorf("features: fingerprint %s has %d bytes, not a list of 64-bit hashes", in.Key, in.Size)
		}
		data, _, err := blob.ReadAll(ctx, dest, in.Key)
		if err != nil {
			return 0, fmt.Errorf("features: read %s: %w", in.Key, err)
		}
		prev := make([]uint64, len(data)/8)
		for i := range prev {
			prev[i] = binary.BigEndian.Uint64(data[8*i:])
		}
		if d := symmetricDifference(fp, prev); best < 0 || d < best {
			best = d
		}
	}
	return best, nil
}

func putPrint(ctx context.Context, dest blob.Store, fp []uint64) error {
	data := make([]byte, 8*len(fp))
	for i, h := range fp {
		binary.BigEndian.PutUint64(data[8*i:], h)
	}
	key := LabelPrintPrefix + blob.SHA256Hex(data) + ".bin"
	if _, err := dest.Put(ctx, key, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("features: write %s: %w", key, err)
	}
	return nil
}

// PopulationLabelFile is the population of a sample built from a label file: its
// rows, each as of the newest snapshot on or before its date.
const PopulationLabelFile = "label file"

// MaxObservations bounds a label file's rows.
const MaxObservations = 5_000_000

// MaxLabelFileBytes bounds a label file's size: 5 million rows of code, date,
// label and a few columns of the bank's own fit well within it.
const MaxLabelFileBytes = 256 << 20

// boundedReader fails once more than max bytes have been read.
type boundedReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n > b.max {
		return 0, fmt.Errorf("%w: the file is larger than %d MiB", ErrObservations, b.max>>20)
	}
	if rest := b.max + 1 - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		return n, fmt.Errorf("%w: the file is larger than %d MiB", ErrObservations, b.max>>20)
	}
	return n, err
}

// ReadObservations reads a label file: CSV with a header naming a company code
// column (code, company, company_code or 统一社会信用代码), a date column (date,
// observation_date, asof) and a label column (label, outcome, y, default);
// other columns are ignored. A UTF-8 byte-order mark is allowed. Every code's
// check digit is verified; a bad row is an error naming its line. A file
// larger than MaxLabelFileBytes or with more than MaxObservations rows is
// refused once the bound is passed, without reading the rest.
func ReadObservations(r io.Reader) ([]Observation, error) {
	br := bufio.NewReader(&boundedReader{r: r, max: MaxLabelFileBytes})
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrObservations, err)
	}
	col := func(names ...string) int {
		for i, h := range header {
			if slices.Contains(names, strings.ToLower(strings.TrimSpace(h))) {
				return i
			}
		}
		return -1
	}
	ci, di, li := col("code", "company", "company_code", "统一社会信用代码"), col("date", "observation_date", "asof", "观察日期"), col("label", "outcome", "y", "default", "标签")
	if ci < 0 || di < 0 || li < 0 {
		return nil, fmt.Errorf("%w: the header %q needs a code, a date and a label column", ErrObservations, header)
	}
	var out []Observation
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrObservations, line, err)
		}
		if len(out) >= MaxObservations {
			return nil, fmt.Errorf("%w: more than %d rows", ErrObservations, MaxObservations)
		}
		if max(ci, di, li) >= len(rec) {
			return nil, fmt.Errorf("%w: line %d has %d fields", ErrObservations, line, len(rec))
		}
		code := creditcode.Normalize(rec[ci])
		if err := creditcode.Validate(code); err != nil {
			return nil, fmt.Errorf("%w: line %d: company code %q: %v", ErrObservations, line, rec[ci], err)
		}
		t, err := time.Parse(time.DateOnly, strings.TrimSpace(rec[di]))
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: date %q is not YYYY-MM-DD", ErrObservations, line, rec[di])
		}
		y, err := strconv.ParseFloat(strings.TrimSpace(rec[li]), 64)
		if err != nil || (y != 0 && y != 1) || math.IsNaN(y) {
			return nil, fmt.Errorf("%w: line %d: label %q is not 0 or 1", ErrObservations, line, rec[li])
		}
		out = append(out, Observation{Code: code, Date: DayOf(t), Label: y, Line: line})
	}
	return out, nil
}
