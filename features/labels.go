package features

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// ErrUnknownLabel reports a label name the feature store does not define.
var ErrUnknownLabel = errors.New("features: unknown label")

// LabelDef defines a training label from the outcomes under labels/: for a snapshot as of
// D, the outcome Kind with an event date in (D, D + Horizon months].
type LabelDef struct {
	Name    string
	Kind    string // outcome kind in the labels table: default, violation, limit
	Horizon int    // months after the as-of date
	// Regression labels take the amount of the first outcome in the horizon; binary
	// labels are 1 when there is one and 0 otherwise.
	Regression bool
	// PerformingOnly leaves out a company at as-of date D when an outcome of Kind
	// had already happened and arrived by D: a PD development sample covers the
	// obligors not yet in default, whose next default is the unknown (a company still
	// in default would be "predicted" by its current overdue days).
	PerformingOnly bool `json:",omitempty"`
	// Exposure, when set, is the indicator that defines the population at risk: a
	// row enters the sample only when the company's value of it as of D is present
	// and positive. Default needs a loan outstanding (only a borrower can be 90 days
	// overdue); counting companies without one would fill the sample with negatives
	// any model finds by asking "is this a borrower?". The feature set must hold it.
	Exposure string `json:",omitempty"`
}

// Labels are the label definitions feature sets and samples may name.
var Labels = []LabelDef{
	{Name: "default_12m", Kind: "default", Horizon: 12, PerformingOnly: true, Exposure: "loan.balance.last_3m"},
	{Name: "violation_12m", Kind: "violation", Horizon: 12},
	{Name: "limit", Kind: "limit", Horizon: 12, Regression: true},
}

// LabelByName returns the label definition called name.
func LabelByName(name string) (LabelDef, error) {
	for _, l := range Labels {
		if l.Name == name {
			return l, nil
		}
	}
	names := make([]string, len(Labels))
	for i, l := range Labels {
		names[i] = l.Name
	}
	return LabelDef{}, fmt.Errorf("%w: %q (one of %s)", ErrUnknownLabel, name, strings.Join(names, ", "))
}

// Outcome is one row of the labels table.
type Outcome struct {
	Kind     string
	Event    Day
	Arrival  Day
	Revision int32
	Amount   float64
}

// labelIndex holds the outcomes per company code.
type labelIndex struct {
	byCode    map[string][]Outcome
	lastEvent Day // latest outcome event date seen: windows ending after it are incomplete
	inputs    []FileRef
	// inspections are the recorded inspection results per company code, each
	// inspection with its revisions (raw/inspections/): a problem found is a
	// violation outcome as of the inspection date, known from its arrival.
	inspections map[string]map[string][]inspectionResult
}

// inspectionResult is one revision of a recorded inspection result.
type inspectionResult struct {
	Event, Arrival Day
	Revision       int32
	Problem        bool
}

// loadLabels reads every file under labels/ and raw/inspections/; nil when there is
// none, or when the set's label is known as of none of the run's dates (its
// window ends after the last outcome), so that no statistic can use it.
func (m *materializer) loadLabels(ctx context.Context) (*labelIndex, error) {
	def, err := LabelByName(m.plan.set.Label)
	if err != nil || def.Regression {
		return nil, nil // labelIndex.outcomes gives no label for it
	}
	return readLabelsFor(ctx, m.store, func(last Day) bool {
		return slices.ContainsFunc(m.plan.asofs, func(d Day) bool { return horizonEnd(d, def.Horizon) <= last })
	})
}

func readLabels(ctx context.Context, store blob.Store) (*labelIndex, error) {
	return readLabelsFor(ctx, store, nil)
}

// readLabelsFor reads the labels as readLabels does, unless need, told the
// latest outcome event date, says they are of no use: then it decodes only
// the event dates and returns nil.
func readLabelsFor(ctx context.Context, store blob.Store, need func(lastEvent Day) bool) (*labelIndex, error) {
	infos, err := store.List(ctx, "labels/")
	if err != nil {
		return nil, fmt.Errorf("features: list labels/: %w", err)
	}
	li := &labelIndex{byCode: map[string][]Outcome{}}
	var files [][]byte
	infos = slices.DeleteFunc(infos, func(in blob.Info) bool { return !strings.HasSuffix(in.Key, ".parquet") })
	for _, in := range infos {
		data, err := readBlob(ctx, store, in.Key)
		if err != nil {
			return nil, err
		}
		files = append(files, data)
		if need == nil {
			continue
		}
		c, n, err := readColumns(data, in.Key, []string{"event_date"})
		if err != nil {
			return nil, err
		}
		for r := range n {
			li.lastEvent = max(li.lastEvent, Day(c[0].i32[r]))
		}
	}
	if need != nil && !need(li.lastEvent) {
		return nil, nil
	}
	for i, in := range infos {
		data := files[i]
		c, n, err := readColumns(data, in.Key, []string{"code", "event_date", "arrival_date", "revision", "kind", "amount"})
		if err != nil {
			return nil, err
		}
		for r := 0; r < n; r++ {
			o := Outcome{Kind: c[4].dict[c[4].bytes[r]], Event: Day(c[1].i32[r]), Arrival: Day(c[2].i32[r]), Revision: c[3].i32[r], Amount: c[5].f64[r]}
			code := c[0].dict[c[0].bytes[r]]
			li.byCode[code] = append(li.byCode[code], o)
			li.lastEvent = max(li.lastEvent, o.Event)
		}
		li.inputs = append(li.inputs, FileRef{Key: in.Key, SHA256: in.SHA256, Size: in.Size})
	}
	if err := li.readInspections(ctx, store); err != nil {
		return nil, err
	}
	if len(li.inputs) == 0 {
		return nil, nil
	}
	return li, nil
}

// readInspections adds the recorded inspection results under raw/inspections/.
// They do not move lastEvent: that marks where the generated outcomes end.
func (li *labelIndex) readInspections(ctx context.Context, store blob.Store) error {
	prefix := datasets.InspectionSource().Prefix()
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("features: list %s: %w", prefix, err)
	}
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".parquet") {
			continue
		}
		data, err := readBlob(ctx, store, in.Key)
		if err != nil {
			return err
		}
		c, n, err := readColumns(data, in.Key, []string{"code", "event_date", "arrival_date", "revision", "inspection_id", "outcome"})
		if err != nil {
			return err
		}
		if li.inspections == nil {
			li.inspections = map[string]map[string][]inspectionResult{}
		}
		for r := 0; r < n; r++ {
			code, id := c[0].dict[c[0].bytes[r]], c[4].dict[c[4].bytes[r]]
			byID := li.inspections[code]
			if byID == nil {
				byID = map[string][]inspectionResult{}
				li.inspections[code] = byID
			}
			byID[id] = append(byID[id], inspectionResult{Event: Day(c[1].i32[r]), Arrival: Day(c[2].i32[r]), Revision: c[3].i32[r],
				Problem: datasets.InspectionFoundProblem(c[5].dict[c[5].bytes[r]])})
		}
		li.inputs = append(li.inputs, FileRef{Key: in.Key, SHA256: in.SHA256, Size: in.Size})
	}
	return nil
}

// inspectedViolation reports whether an inspection of code found a problem on a day
// in (after, end], as far as was known by knownBy: per inspection, the revision in
// force is the highest among those arrived by knownBy.
func (li *labelIndex) inspectedViolation(code string, after, end, knownBy Day) bool {
	for _, revs := range li.inspections[code] {
		var cur *inspectionResult
		for i := range revs {
			r := &revs[i]
			if r.Arrival <= knownBy && (cur == nil || r.Revision > cur.Revision) {
				cur = r
			}
		}
		if cur != nil && cur.Problem && cur.Event > after && cur.Event <= end && cur.Event <= knownBy {
			return true
		}
	}
	return false
}

// horizonEnd returns the last day of the label window of asof.
func horizonEnd(asof Day, months int) Day {
	t := asof.Time()
	// The same day months later, clamped to the month's end (2025-02-28 + 12 → 2026-02-28).
	m := Month(t.Year()*12+int(t.Month())-1) + Month(months)
	end := m.FirstDay() + Day(t.Day()-1)
	return min(end, m.LastDay())
}

// label returns the label value of one company for a snapshot as of asof, using only
// outcomes that arrived by knownBy; ok is false when the window is not complete by
// knownBy (the outcome cannot be known yet).
func (li *labelIndex) label(code string, asof Day, def LabelDef, knownBy Day) (float64, bool) {
	end := horizonEnd(asof, def.Horizon)
	if end > knownBy {
		return math.NaN(), false
	}
	var first *Outcome
	for i := range li.byCode[code] {
		o := &li.byCode[code][i]
		if def.PerformingOnly && o.Kind == def.Kind && o.Event <= asof && o.Arrival <= asof {
			return math.NaN(), false // already in default as far as anyone knew at asof
		}
	}
	for i := range li.byCode[code] {
		o := &li.byCode[code][i]
		if o.Kind != def.Kind || o.Event <= asof || o.Event > end || o.Arrival > knownBy {
			continue
		}
		if first == nil || o.Event < first.Event || o.Event == first.Event && o.Revision > first.Revision {
			first = o
		}
	}
	if first == nil && def.Kind == datasets.LabelViolation && !def.Regression && li.inspectedViolation(code, asof, end, knownBy) {
		return 1, true
	}
	if def.Regression {
		if first == nil {
			return math.NaN(), true
		}
		return first.Amount, true
	}
	if first == nil {
		return 0, true
	}
	return 1, true
}

// outcomes returns the binary label per code for the statistics of a snapshot, using
// every outcome known now; nil when the label is a regression label, unknown, or its
// window is not complete in the data.
func (li *labelIndex) outcomes(codes []string, asof Day, name string) []float64 {
	def, err := LabelByName(name)
	if err != nil || def.Regression {
		return nil
	}
	if horizonEnd(asof, def.Horizon) > li.lastEvent {
		return nil
	}
	y := make([]float64, len(codes))
	for i, c := range codes {
		y[i], _ = li.label(c, asof, def, DayOf(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)))
	}
	return y
}
