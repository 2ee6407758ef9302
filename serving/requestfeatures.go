package serving

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/xinyi-platform/xinyi/features"
)

// MaxRequestFeatures bounds the request features one request may send.
const MaxRequestFeatures = features.MaxSetFeatures

// feed says where each feature of a scorer's set comes from when the scorer's set
// is not its task's online set (a set an institution published at run time): a
// catalog indicator from the vector of the first task whose online set holds it,
// a request feature from the values the caller sent. Built by Models.Install and
// kept in the Snapshot; immutable.
type feed struct {
	cols  []feedCol
	tasks []Task // the online sets read (each set's first task), for as-of dates
}

type feedCol struct {
	task Task // the online vector, when req < 0
	col  int  // its column
	req  int  // index in the set's Requests, or -1
}

// feedFor builds the feed of a scorer bound to set from the holder's online sets.
// Every catalog indicator of set must be in one of them.
func (m *Models) feedFor(set FeatureSet) (*feed, error) {
	f := &feed{cols: make([]feedCol, len(set.Indicators))}
	for i, id := range set.Indicators {
		if r := slices.IndexFunc(set.Requests, func(r features.SetFeature) bool { return r.Name == id }); r >= 0 {
			f.cols[i] = feedCol{req: r}
			continue
		}
		found := false
		for _, t := range Tasks {
			if j := slices.Index(m.sets[t].Indicators, id); j >= 0 {
				f.cols[i] = feedCol{task: t, col: j, req: -1}
				if !slices.Contains(f.tasks, t) {
					f.tasks = append(f.tasks, t)
				}
				found = true
				break
			}
		}
		if !found {
			keys := make([]string, 0, len(Tasks))
			for _, t := range Tasks {
				if k := m.sets[t].Key(); !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
			return nil, fmt.Errorf("%w: feature set %s reads indicator %q, which none of the served online sets (%s) holds",
				ErrFeatureSetMismatch, set.Key(), id, strings.Join(keys, ", "))
		}
	}
	return f, nil
}

// build writes the row of the scorer's set from the online vectors (keyed by
// each set's first task) and the set's request values (in set.Requests order).
func (f *feed) build(vecs map[Task][]float64, req []float64) []float64 {
	row := make([]float64, len(f.cols))
	for i, c := range f.cols {
		if c.req >= 0 {
			row[i] = req[c.req]
		} else {
			row[i] = vecs[c.task][c.col]
		}
	}
	return row
}

// RequestFeatures are the request features of every served model, checked: each
// served set's values in its Requests order, keyed by the set's "name/vN".
type RequestFeatures map[string][]float64

// RequestFeatures lists the request features the models of the snapshot read,
// by set, in each set's order (nil when none does).
func (s *Snapshot) RequestFeatures() []FeatureSet {
	var out []FeatureSet
	for _, t := range Tasks {
		sc := s.Scorer(t)
		if sc == nil || len(sc.FeatureSet().Requests) == 0 {
			continue
		}
		if !slices.ContainsFunc(out, func(f FeatureSet) bool { return f.Key() == sc.FeatureSet().Key() }) {
			out = append(out, sc.FeatureSet())
		}
	}
	return out
}

// CheckRequestFeatures checks the request features a caller sent (decoded from
// JSON: a number is a float64 or json.Number, a category a string) against the
// sets of the snapshot's models and returns them as the models read them: a
// number as is, a category as the index of its value in the set's published
// category list (features.SetFeature.Value; the order the model was trained on).
//
// Every request feature of every served set is required. An unknown name, a
// missing feature, a value of the wrong type, a number outside the feature's
// range or a category not in its list is an error wrapping ErrInvalidInput
// and features.ErrBadRequestFeatures that names the feature, the value and what
// is allowed. Names are checked in sorted order, so the first error is stable.
func (s *Snapshot) CheckRequestFeatures(in map[string]any) (RequestFeatures, error) {
	sets := s.RequestFeatures()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %w: %s", ErrInvalidInput, features.ErrBadRequestFeatures, fmt.Sprintf(format, args...))
	}
	if len(in) > MaxRequestFeatures {
		return nil, bad("%d request features, at most %d", len(in), MaxRequestFeatures)
	}
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		known := false
		for _, set := range sets {
			if _, ok := set.Request(k); ok {
				known = true
				break
			}
		}
		if known {
			continue
		}
		for _, t := range Tasks {
			if sc := s.Scorer(t); sc != nil && slices.Contains(sc.FeatureSet().Indicators, k) {
				return nil, bad("%q is an indicator of feature set %s: the platform supplies it from the online store, a request does not", k, sc.FeatureSet().Key())
			}
		}
		if len(sets) == 0 {
			return nil, bad("unknown request feature %q: the served models take no request features", k)
		}
		return nil, bad("unknown request feature %q: the served models take %s", k, requestList(sets))
	}
	if len(sets) == 0 {
		return nil, nil
	}
	out := make(RequestFeatures, len(sets))
	for _, set := range sets {
		vals := make([]float64, len(set.Requests))
		for i := range set.Requests {
			f := &set.Requests[i]
			v, ok := in[f.Name]
			if !ok || v == nil {
				return nil, bad("missing request feature %q (%s) of feature set %s", f.Name, allowed(f), set.Key())
			}
			x, err := requestValue(f, v)
			if err != nil {
				return nil, fmt.Errorf("%w: %w: %w", ErrInvalidInput, features.ErrBadRequestFeatures, err)
			}
			vals[i] = x
		}
		out[set.Key()] = vals
	}
	return out, nil
}

// requestValue reads one decoded JSON value for f.
func requestValue(f *features.SetFeature, v any) (float64, error) {
	switch t := v.(type) {
	case float64:
		return f.Value(t, "", false)
	case json.Number:
		n, err := strconv.ParseFloat(t.String(), 64)
		if err != nil {
			return 0, fmt.Errorf("request feature %q: %s is not a number (%s)", f.Name, t.String(), allowed(f))
		}
		return f.Value(n, "", false)
	case string:
		return f.Value(0, t, true)
	case bool:
		return 0, fmt.Errorf("request feature %q: %t is not a number or a text (%s)", f.Name, t, allowed(f))
	}
	return 0, fmt.Errorf("request feature %q: a JSON %s is not a number or a text (%s)", f.Name, jsonKind(v), allowed(f))
}

// CheckRequestColumn checks the value of a request feature as it arrives in a
// numeric row (OIP tensors): a number within the feature's range, or for a
// categorical feature the code of one of its categories (its index in the set's
// list). A missing value (NaN) is refused: request features are required.
func CheckRequestColumn(f *features.SetFeature, v float64) error {
	if math.IsNaN(v) {
		return fmt.Errorf("%w: %w: missing request feature %q (%s)", ErrInvalidInput, features.ErrBadRequestFeatures, f.Name, allowed(f))
	}
	if f.Type == features.FeatureCategorical {
		if v != math.Trunc(v) || v < 0 || v >= float64(len(f.Categories)) {
			return fmt.Errorf("%w: %w: request feature %q: %g is not the code of a category (0 to %d for %s, in that order)",
				ErrInvalidInput, features.ErrBadRequestFeatures, f.Name, v, len(f.Categories)-1, strings.Join(f.Categories, ", "))
		}
		return nil
	}
	if _, err := f.Value(v, "", false); err != nil {
		return fmt.Errorf("%w: %w: %w", ErrInvalidInput, features.ErrBadRequestFeatures, err)
	}
	return nil
}

// allowed says what a request feature takes.
func allowed(f *features.SetFeature) string {
	if f.Type == features.FeatureCategorical {
		return "categorical: one of " + strings.Join(f.Categories, ", ")
	}
	lo, hi := "-inf", "+inf"
	if f.Min != nil {
		lo = strconv.FormatFloat(*f.Min, 'g', -1, 64)
	}
	if f.Max != nil {
		hi = strconv.FormatFloat(*f.Max, 'g', -1, 64)
	}
	return "numeric in [" + lo + ", " + hi + "]"
}

func requestList(sets []FeatureSet) string {
	var names []string
	for _, s := range sets {
		for _, r := range s.Requests {
			if !slices.Contains(names, r.Name) {
				names = append(names, r.Name)
			}
		}
	}
	return strings.Join(names, ", ")
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// taskIndex is t's position in Tasks.
func taskIndex(t Task) int {
	switch t {
	case TaskViolation:
		return 1
	case TaskLimit:
		return 2
	}
	return 0
}

// populationFeed returns, for a run over a population of online vectors
// (screening, score history), nil when the model of t reads its task's online
// vector as is, or the feed that builds its row; a model that reads request
// features cannot be run over a population and is an error saying so.
func (s *Snapshot) populationFeed(t Task) (*feed, error) {
	fd := s.feeds[taskIndex(t)]
	if fd == nil {
		return nil, nil
	}
	sc := s.Scorer(t)
	if set := sc.FeatureSet(); len(set.Requests) > 0 {
		return nil, fmt.Errorf("%w: the %s model %s reads request features (%s) of feature set %s, which a run over the whole population cannot supply",
			ErrInvalidInput, t, sc.Ref(), strings.Join(set.RequestNames(), ", "), set.Key())
	}
	return fd, nil
}
