package features

import (
	"bufio"
	"cmp"
	"context"
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
// outcome (0 or 1).
type Observation struct {
	Code  string
	Date  Day
	Label float64
}

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
	// MinRows and MinPositives refuse a file too small to be a model's sample
	// (and small enough to probe single companies). Defaults 200 and 20.
	MinRows, MinPositives int
	// Catalog is the indicator library. Default DefaultCatalog().
	Catalog *Catalog
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// ObservedReport says what became of a label file's rows.
type ObservedReport struct {
	Rows int `json:"rows"`
	// Joined rows are in the sample; the others had no snapshot on or before
	// their date, or a company the snapshot does not hold.
	Joined         int `json:"joined"`
	BeforeFirst    int `json:"before_first_snapshot"`
	UnknownCompany int `json:"unknown_company"`
	Positives      int `json:"positives"`
}

// BuildObservedSample joins a bank's own label file with the set's snapshots
// point in time: each observation takes the values of the newest snapshot dated
// on or before its date, so the sample holds only what was known when the
// outcome's clock started. Snapshots are read from snapshots; the sample is
// written to dest (a bank's private prefix) as
// samples/<name>/v<N>/{train,valid,test}.parquet and manifest.json. The split
// is out of time: observations on the newest snapshot date go to test, the
// date before to valid (with three dates or more). A file with duplicate
// (company, date) rows, too few rows or positives, or no joinable row is
// refused and nothing is written.
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
		opts.MinRows = 200
	}
	if opts.MinPositives <= 0 {
		opts.MinPositives = 20
	}
	if opts.Name == "" || strings.ContainsAny(opts.Name, "/\\ ") {
		return nil, nil, fmt.Errorf("%w: sample name %q (a non-empty name without slashes or spaces)", ErrInvalidOptions, opts.Name)
	}
	set, err := opts.Catalog.Set(opts.Set, 0)
	if err != nil {
		return nil, nil, err
	}
	rep := &ObservedReport{Rows: len(opts.Observations)}
	obs := slices.Clone(opts.Observations)
	slices.SortFunc(obs, func(a, b Observation) int {
		if c := cmp.Compare(a.Date, b.Date); c != 0 {
			return c
		}
		return strings.Compare(a.Code, b.Code)
	})
	for i := range obs {
		if i > 0 && obs[i].Code == obs[i-1].Code && obs[i].Date == obs[i-1].Date {
			return nil, nil, fmt.Errorf("%w: %s on %s appears twice", ErrObservations, obs[i].Code, obs[i].Date)
		}
		if obs[i].Label != 0 && obs[i].Label != 1 {
			return nil, nil, fmt.Errorf("%w: the label of %s on %s is %v, want 0 or 1", ErrObservations, obs[i].Code, obs[i].Date, obs[i].Label)
		}
	}
	if len(obs) < opts.MinRows {
		return nil, nil, fmt.Errorf("%w: %d rows; a sample needs at least %d (a smaller file could single out companies)", ErrObservations, len(obs), opts.MinRows)
	}
	days, err := ListSnapshots(ctx, snapshots, set.Name, set.Version)
	if err != nil {
		return nil, nil, err
	}
	if len(days) == 0 {
		return nil, nil, fmt.Errorf("%w: %s has no snapshot", ErrNoSnapshotStored, set.Key())
	}
	// Each observation's snapshot: the newest dated on or before it.
	byDay := map[Day][]Observation{}
	for _, o := range obs {
		i, found := slices.BinarySearch(days, o.Date)
		if !found {
			i--
		}
		if i < 0 {
			rep.BeforeFirst++
			continue
		}
		byDay[days[i]] = append(byDay[days[i]], o)
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
	if rep.Joined < opts.MinRows || rep.Positives < opts.MinPositives {
		return nil, rep, fmt.Errorf("%w: %d of %d rows joined a snapshot (%d before the first snapshot, %d companies not in it) with %d positives; a sample needs at least %d rows and %d positives",
			ErrObservations, rep.Joined, rep.Rows, rep.BeforeFirst, rep.UnknownCompany, rep.Positives, opts.MinRows, opts.MinPositives)
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
	return man, rep, nil
}

// PopulationLabelFile is the population of a sample built from a label file: its
// rows, each as of the newest snapshot on or before its date.
const PopulationLabelFile = "label file"

// MaxObservations bounds a label file's rows.
const MaxObservations = 5_000_000

// ReadObservations reads a label file: CSV with a header naming a company code
// column (code, company, company_code or 统一社会信用代码), a date column (date,
// observation_date, asof) and a label column (label, outcome, y, default);
// other columns are ignored. A UTF-8 byte-order mark is allowed. Every code's
// check digit is verified; a bad row is an error naming its line.
func ReadObservations(r io.Reader) ([]Observation, error) {
	br := bufio.NewReader(r)
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
		out = append(out, Observation{Code: code, Date: DayOf(t), Label: y})
	}
	return out, nil
}
