package features

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// SampleOptions configure BuildSample.
type SampleOptions struct {
	// Name of the sample (a path segment). Required.
	Name string
	// Set is the feature set, "pd" (latest version) or "pd/v1". Required.
	Set string
	// Label is the label name (see Labels). Default: the set's label.
	Label string
	// From and To bound the snapshot dates used (inclusive). Required.
	From, To time.Time
	// ValidFrom and TestFrom split the rows out of time: snapshots before ValidFrom go
	// to train, before TestFrom to valid, the rest to test. Default: the last two
	// snapshot dates in range are test and valid (with three or more dates).
	ValidFrom, TestFrom time.Time
	// BuildAt is the knowledge date of the sample: no snapshot, outcome or label window
	// after it is used. Default: Now().
	BuildAt time.Time
	// Catalog is the indicator library. Default DefaultCatalog().
	Catalog *Catalog
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// AllCompanies keeps every company of each snapshot instead of the label's
	// population at risk (LabelDef.Exposure), e.g. for a pre-credit model of firms
	// without loans. Default false.
	AllCompanies bool
}

// SampleSplit describes one split file of a sample.
type SampleSplit struct {
	FileRef
	Positives    int64    `json:"positives,omitempty"`
	PositiveRate *float64 `json:"positive_rate,omitempty"`
	LabelMean    *float64 `json:"label_mean,omitempty"`
	AsOf         []string `json:"asof"`
}

// SampleManifest is the lineage of a training sample, written last.
type SampleManifest struct {
	Name       string                 `json:"name"`
	Version    int                    `json:"version"`
	Set        string                 `json:"set"`
	SetVersion int                    `json:"set_version"`
	Indicators []string               `json:"indicators"`
	Label      LabelDef               `json:"label"`
	Population string                 `json:"population"` // which companies enter: "all", or "<indicator> > 0"
	From       string                 `json:"from"`
	To         string                 `json:"to"`
	BuildAt    string                 `json:"build_at"`
	CreatedAt  time.Time              `json:"created_at"`
	Splits     map[string]SampleSplit `json:"splits"`
	Snapshots  []FileRef              `json:"snapshots"`
	Labels     []FileRef              `json:"labels"`
}

// SamplePrefix returns the key prefix of a sample version.
func SamplePrefix(name string, version int) string {
	return fmt.Sprintf("samples/%s/v%d/", name, version)
}

// BuildSample joins labels with the set's snapshots point in time: a row per company
// and snapshot date D with the snapshot's values and the label over (D, D+horizon],
// counting only outcomes that arrived by BuildAt and only dates whose label window ends
// by BuildAt. It writes samples/<name>/v<N>/{train,valid,test}.parquet and then
// manifest.json, N being one more than the latest version.
func BuildSample(ctx context.Context, store blob.Store, opts SampleOptions) (*SampleManifest, error) {
	if opts.Catalog == nil {
		c, err := DefaultCatalog()
		if err != nil {
			return nil, err
		}
		opts.Catalog = c
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BuildAt.IsZero() {
		opts.BuildAt = opts.Now()
	}
	if opts.Name == "" || strings.ContainsAny(opts.Name, "/\\ ") {
		return nil, fmt.Errorf("%w: sample name %q (a non-empty name without slashes or spaces)", ErrInvalidOptions, opts.Name)
	}
	if opts.From.IsZero() || opts.To.IsZero() || opts.To.Before(opts.From) {
		return nil, fmt.Errorf("%w: sample date range %s..%s", ErrInvalidOptions, opts.From.Format(time.DateOnly), opts.To.Format(time.DateOnly))
	}
	set, err := opts.Catalog.Set(opts.Set, 0)
	if err != nil {
		return nil, err
	}
	if opts.Label == "" {
		opts.Label = set.Label
	}
	def, err := LabelByName(opts.Label)
	if err != nil {
		return nil, err
	}
	buildAt := DayOf(opts.BuildAt)
	all, err := ListSnapshots(ctx, store, set.Name, set.Version)
	if err != nil {
		return nil, err
	}
	var days []Day
	for _, d := range all {
		if d >= DayOf(opts.From) && d <= DayOf(opts.To) && d <= buildAt && horizonEnd(d, def.Horizon) <= buildAt {
			days = append(days, d)
		}
	}
	if len(days) == 0 {
		return nil, fmt.Errorf("%w: %s has no snapshot in %s..%s whose %d-month label window ends by %s",
			ErrNoSnapshotStored, set.Key(), opts.From.Format(time.DateOnly), opts.To.Format(time.DateOnly), def.Horizon, buildAt)
	}
	labels, err := readLabels(ctx, store)
	if err != nil {
		return nil, err
	}
	if labels == nil {
		return nil, fmt.Errorf("%w: no files under labels/", ErrNoInput)
	}
	validFrom, testFrom := DayOf(opts.ValidFrom), DayOf(opts.TestFrom)
	if opts.ValidFrom.IsZero() || opts.TestFrom.IsZero() {
		switch {
		case len(days) >= 3:
			validFrom, testFrom = days[len(days)-2], days[len(days)-1]
		default:
			validFrom, testFrom = days[len(days)-1]+1, days[len(days)-1]+1
		}
	}
	split := func(d Day) string {
		switch {
		case d < validFrom:
			return "train"
		case d < testFrom:
			return "valid"
		}
		return "test"
	}
	versions, err := store.List(ctx, "samples/"+opts.Name+"/")
	if err != nil {
		return nil, fmt.Errorf("features: list samples/%s/: %w", opts.Name, err)
	}
	version := 1
	for _, in := range versions {
		var v int
		if _, err := fmt.Sscanf(strings.TrimPrefix(in.Key, "samples/"+opts.Name+"/"), "v%d/manifest.json", &v); err == nil && v >= version {
			version = v + 1
		}
	}
	man := &SampleManifest{Name: opts.Name, Version: version, Set: set.Name, SetVersion: set.Version, Indicators: set.Indicators,
		Label: def, From: DayOf(opts.From).String(), To: DayOf(opts.To).String(), BuildAt: buildAt.String(),
		CreatedAt: opts.Now().UTC(), Splits: map[string]SampleSplit{}, Labels: labels.inputs}
	w := newSampleWriter(set.Indicators, def)
	defer w.release()
	width := len(set.Indicators)
	exposure := -1
	man.Population = "all"
	if def.Exposure != "" && !opts.AllCompanies {
		if exposure = slices.Index(set.Indicators, def.Exposure); exposure < 0 {
			return nil, fmt.Errorf("features: label %s selects its population by %s, which feature set %s does not hold (or build the sample over all companies)", def.Name, def.Exposure, set.Key())
		}
		man.Population = def.Exposure + " > 0"
	}
	for _, d := range days {
		snap, sm, err := ReadSnapshot(ctx, store, set.Name, set.Version, d)
		if err != nil {
			return nil, err
		}
		mb, _ := json.Marshal(sm)
		man.Snapshots = append(man.Snapshots, FileRef{Key: ManifestKey(set.Name, set.Version, d), SHA256: blob.SHA256Hex(mb), Rows: sm.Rows})
		sp := split(d)
		w.addDate(sp, d)
		for i, code := range snap.Codes {
			if exposure >= 0 && !(snap.Values[i*width+exposure] > 0) { // NaN and <= 0: not at risk
				continue
			}
			y, ok := labels.label(code, d, def, buildAt)
			if !ok || math.IsNaN(y) {
				continue
			}
			w.add(sp, code, d, snap.Values[i*width:(i+1)*width], y)
		}
	}
	if err := w.write(ctx, store, man); err != nil {
		return nil, err
	}
	return man, nil
}

// sampleWriter gathers a sample's rows by split and writes the split files and
// then the manifest (a sample exists only once its manifest does).
type sampleWriter struct {
	def   LabelDef
	width int
	accs  map[string]*sampleAcc
}

type sampleAcc struct {
	b     *array.RecordBuilder
	rows  int64
	pos   int64
	sum   float64
	asofs []string
}

// sampleSplits are the split names, in order.
var sampleSplits = []string{"train", "valid", "test"}

func newSampleWriter(indicators []string, def LabelDef) *sampleWriter {
	fields := []arrow.Field{{Name: "code", Type: arrow.BinaryTypes.String}, {Name: "asof", Type: arrow.BinaryTypes.String}}
	for _, id := range indicators {
		fields = append(fields, arrow.Field{Name: id, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: def.Name, Type: arrow.PrimitiveTypes.Float64})
	schema := arrow.NewSchema(fields, nil)
	w := &sampleWriter{def: def, width: len(indicators), accs: map[string]*sampleAcc{}}
	for _, name := range sampleSplits {
		w.accs[name] = &sampleAcc{b: array.NewRecordBuilder(memory.DefaultAllocator, schema)}
	}
	return w
}

func (w *sampleWriter) release() {
	for _, a := range w.accs {
		a.b.Release()
	}
}

// addDate records that split holds rows as of d (once per date).
func (w *sampleWriter) addDate(split string, d Day) {
	a := w.accs[split]
	if n := len(a.asofs); n == 0 || a.asofs[n-1] != d.String() {
		a.asofs = append(a.asofs, d.String())
	}
}

// add appends one row: the company, the as-of date of its values, the values
// (NaN: missing) and the label.
func (w *sampleWriter) add(split, code string, asof Day, values []float64, y float64) {
	a := w.accs[split]
	a.b.Field(0).(*array.StringBuilder).Append(code)
	a.b.Field(1).(*array.StringBuilder).Append(asof.String())
	for j, v := range values {
		fb := a.b.Field(2 + j).(*array.Float64Builder)
		if math.IsNaN(v) {
			fb.AppendNull()
		} else {
			fb.Append(v)
		}
	}
	a.b.Field(2 + w.width).(*array.Float64Builder).Append(y)
	a.rows++
	a.sum += y
	if y == 1 {
		a.pos++
	}
}

// write stores the splits under man's prefix, fills man.Splits and writes the
// manifest last.
func (w *sampleWriter) write(ctx context.Context, store blob.Store, man *SampleManifest) error {
	prefix := SamplePrefix(man.Name, man.Version)
	for _, name := range sampleSplits {
		a := w.accs[name]
		rec := a.b.NewRecord()
		var buf bytes.Buffer
		err := writeRecordParquet(&buf, rec)
		rec.Release()
		if err != nil {
			return fmt.Errorf("features: encode sample %s: %w", name, err)
		}
		key := prefix + name + ".parquet"
		info, err := store.Put(ctx, key, bytes.NewReader(buf.Bytes()))
		if err != nil {
			return fmt.Errorf("features: write %s: %w", key, err)
		}
		sp := SampleSplit{FileRef: FileRef{Key: key, SHA256: info.SHA256, Size: info.Size, Rows: a.rows}, AsOf: a.asofs}
		if a.rows > 0 {
			if w.def.Regression {
				sp.LabelMean = num(a.sum / float64(a.rows))
			} else {
				sp.Positives = a.pos
				sp.PositiveRate = num(float64(a.pos) / float64(a.rows))
			}
		}
		man.Splits[name] = sp
	}
	b, err := json.MarshalIndent(man, "", " ")
	if err != nil {
		return fmt.Errorf("features: encode sample manifest: %w", err)
	}
	if _, err := store.Put(ctx, prefix+"manifest.json", bytes.NewReader(b)); err != nil {
		return fmt.Errorf("features: write %smanifest.json: %w", prefix, err)
	}
	return nil
}
