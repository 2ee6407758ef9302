package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrBadSetDefinition is wrapped by every error of a feature-set definition.
var ErrBadSetDefinition = errors.New("features: bad feature-set definition")

// Bounds of a definition, checked before anything is kept.
const (
	MaxSetFeatures    = 4096
	MaxSetCategories  = 1024
	MaxSetTextBytes   = 2000
	MaxSetDefinitionB = 4 << 20
)

// Request feature types.
const (
	FeatureNumeric     = "numeric"
	FeatureCategorical = "categorical"
)

// SetFeature is one entry of a run-time feature set: either a catalog indicator
// (Indicator set) or a request feature the caller supplies at request time
// (Name and Type set).
type SetFeature struct {
	Indicator string `yaml:"indicator,omitempty" json:"indicator,omitempty"`

	Name       string   `yaml:"name,omitempty" json:"name,omitempty"`
	Type       string   `yaml:"type,omitempty" json:"type,omitempty"` // numeric or categorical
	Unit       string   `yaml:"unit,omitempty" json:"unit,omitempty"`
	Min        *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max        *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	Categories []string `yaml:"categories,omitempty" json:"categories,omitempty"`
	Zh         string   `yaml:"zh,omitempty" json:"zh,omitempty"`
	En         string   `yaml:"en,omitempty" json:"en,omitempty"`
}

// Request reports whether f is a request feature.
func (f SetFeature) Request() bool { return f.Indicator == "" }

// Column is the name a model's column reads: the indicator id or the request
// feature's name.
func (f SetFeature) Column() string {
	if f.Indicator != "" {
		return f.Indicator
	}
	return f.Name
}

// SetDefinition is a feature set an institution publishes at run time: an
// ordered list of catalog indicators and request features. A published version
// is immutable; Version is given by the publisher (the next one).
type SetDefinition struct {
	Name        string       `yaml:"name" json:"name"`
	Version     int          `yaml:"version,omitempty" json:"version,omitempty"`
	Description string       `yaml:"description,omitempty" json:"description,omitempty"`
	Shared      bool         `yaml:"shared,omitempty" json:"shared,omitempty"`
	Features    []SetFeature `yaml:"features" json:"features"`
	// Set by the publisher, not read from files.
	Owner   int64 `yaml:"-" json:"owner_id,omitempty"`
	BuiltIn bool  `yaml:"-" json:"built_in,omitempty"`
}

// Ref is the definition's exact reference.
func (d *SetDefinition) Ref() SetRef { return SetRef{Name: d.Name, Version: d.Version} }

// Columns returns the feature names in the set's order.
func (d *SetDefinition) Columns() []string {
	out := make([]string, len(d.Features))
	for i, f := range d.Features {
		out[i] = f.Column()
	}
	return out
}

// RequestFeatures returns the set's request features in order.
func (d *SetDefinition) RequestFeatures() []SetFeature {
	var out []SetFeature
	for _, f := range d.Features {
		if f.Request() {
			out = append(out, f)
		}
	}
	return out
}

var requestNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// ParseSetDefinition reads a YAML (or JSON) definition, refusing unknown fields,
// and validates it. known reports whether an id is a catalog indicator; nil
// accepts none.
func ParseSetDefinition(data []byte, known func(string) bool) (*SetDefinition, error) {
	d, err := DecodeSetDefinition(data)
	if err != nil {
		return nil, err
	}
	if err := d.Validate(known); err != nil {
		return nil, err
	}
	return d, nil
}

// DecodeSetDefinition reads a YAML definition (unknown fields refused) without
// validating it, for a caller that hands it to the registry, which validates it
// against its own catalog when it publishes.
func DecodeSetDefinition(data []byte) (*SetDefinition, error) {
	if len(data) > MaxSetDefinitionB {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadSetDefinition, len(data), MaxSetDefinitionB)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var d SetDefinition
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSetDefinition, err)
	}
	return &d, nil
}

// Validate checks d: a valid name, 1..MaxSetFeatures features, each an indicator
// the catalog knows or a well-formed request feature, no name twice. Errors wrap
// ErrBadSetDefinition and name what is wrong.
func (d *SetDefinition) Validate(known func(string) bool) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: set %q: %s", ErrBadSetDefinition, d.Name, fmt.Sprintf(format, args...))
	}
	d.Name = strings.TrimSpace(d.Name)
	if !validSetName(d.Name) || len(d.Name) > 64 {
		return bad("name must be 1-64 characters without '/', '@' or white space")
	}
	if d.Version < 0 {
		return bad("version %d: versions start at 1", d.Version)
	}
	if len(d.Description) > MaxSetTextBytes {
		return bad("description is %d bytes, limit %d", len(d.Description), MaxSetTextBytes)
	}
	if len(d.Features) == 0 {
		return bad("no features")
	}
	if len(d.Features) > MaxSetFeatures {
		return bad("%d features, limit %d", len(d.Features), MaxSetFeatures)
	}
	seen := make(map[string]bool, len(d.Features))
	for i := range d.Features {
		f := &d.Features[i]
		if err := f.validate(known); err != nil {
			return bad("feature %d: %v", i+1, err)
		}
		if seen[f.Column()] {
			return bad("feature %q is listed twice", f.Column())
		}
		seen[f.Column()] = true
	}
	return nil
}

func (f *SetFeature) validate(known func(string) bool) error {
	for _, s := range []string{f.Unit, f.Zh, f.En} {
		if len(s) > MaxSetTextBytes {
			return fmt.Errorf("a text of %d bytes, limit %d", len(s), MaxSetTextBytes)
		}
	}
	if f.Indicator != "" {
		if f.Name != "" || f.Type != "" || f.Min != nil || f.Max != nil || len(f.Categories) > 0 {
			return fmt.Errorf("indicator %q: an indicator takes no name, type, range or categories (the catalog defines them)", f.Indicator)
		}
		if known == nil || !known(f.Indicator) {
			return fmt.Errorf("indicator %q is not in the catalog", f.Indicator)
		}
		return nil
	}
	if !requestNameRE.MatchString(f.Name) {
		return fmt.Errorf("request feature %q: a name is 1-64 letters, digits, '_', '.' or '-', starting with a letter (or give indicator: for a catalog indicator)", f.Name)
	}
	if known != nil && known(f.Name) {
		return fmt.Errorf("request feature %q has the id of a catalog indicator", f.Name)
	}
	switch f.Type {
	case FeatureNumeric:
		if len(f.Categories) > 0 {
			return fmt.Errorf("request feature %q: a numeric feature has no categories", f.Name)
		}
		for _, b := range []*float64{f.Min, f.Max} {
			if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
				return fmt.Errorf("request feature %q: bounds must be finite", f.Name)
			}
		}
		if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			return fmt.Errorf("request feature %q: min %g above max %g", f.Name, *f.Min, *f.Max)
		}
	case FeatureCategorical:
		if f.Min != nil || f.Max != nil {
			return fmt.Errorf("request feature %q: a categorical feature has no range", f.Name)
		}
		if len(f.Categories) == 0 || len(f.Categories) > MaxSetCategories {
			return fmt.Errorf("request feature %q: %d categories, want 1 to %d", f.Name, len(f.Categories), MaxSetCategories)
		}
		seen := make(map[string]bool, len(f.Categories))
		for _, c := range f.Categories {
			if c == "" || len(c) > 256 || seen[c] {
				return fmt.Errorf("request feature %q: category %q is empty, longer than 256 bytes or repeated", f.Name, c)
			}
			seen[c] = true
		}
	default:
		return fmt.Errorf("request feature %q: type %q, want numeric or categorical", f.Name, f.Type)
	}
	return nil
}

// Value checks a value a caller gives for request feature f and returns it as
// the model reads it: a numeric value as is, a category as its index in
// Categories (the order of the published set). A value outside the range or the
// categories is an error naming the feature.
func (f *SetFeature) Value(num float64, cat string, isCat bool) (float64, error) {
	switch f.Type {
	case FeatureNumeric:
		if isCat {
			return 0, fmt.Errorf("request feature %q is numeric in [%s, %s], got the text %q", f.Name, bound(f.Min, "-inf"), bound(f.Max, "+inf"), cat)
		}
		if math.IsNaN(num) || math.IsInf(num, 0) {
			return 0, fmt.Errorf("request feature %q: %g is not a finite number in [%s, %s]", f.Name, num, bound(f.Min, "-inf"), bound(f.Max, "+inf"))
		}
		if (f.Min != nil && num < *f.Min) || (f.Max != nil && num > *f.Max) {
			return 0, fmt.Errorf("request feature %q: %g is outside [%s, %s]", f.Name, num, bound(f.Min, "-inf"), bound(f.Max, "+inf"))
		}
		return num, nil
	case FeatureCategorical:
		if !isCat {
			return 0, fmt.Errorf("request feature %q is categorical (one of %s), got the number %g", f.Name, strings.Join(f.Categories, ", "), num)
		}
		i := slices.Index(f.Categories, cat)
		if i < 0 {
			return 0, fmt.Errorf("request feature %q: %q is not one of %s", f.Name, cat, strings.Join(f.Categories, ", "))
		}
		return float64(i), nil
	}
	return 0, fmt.Errorf("request feature %q has type %q", f.Name, f.Type)
}

func bound(b *float64, none string) string {
	if b == nil {
		return none
	}
	return fmt.Sprintf("%g", *b)
}

// ErrBadRequestFeatures is wrapped by every error of RequestValues: a missing,
// unknown or invalid request feature, named in the message.
var ErrBadRequestFeatures = errors.New("features: bad request features")

// RequestValues checks the request features a caller sends ("features": {name:
// value} decoded from JSON: a number is a float64 or json.Number, a category a
// string) against d and returns each as the model reads it (SetFeature.Value).
// Every request feature of d must be given and nothing else: a missing one, an
// unknown name or a catalog indicator (the platform supplies those) is an error
// naming it. A set without request features takes an empty or nil map and
// allocates nothing.
func (d *SetDefinition) RequestValues(in map[string]any) (map[string]float64, error) {
	bad := func(format string, args ...any) (map[string]float64, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadRequestFeatures, fmt.Sprintf(format, args...))
	}
	var out map[string]float64
	for i := range d.Features {
		f := &d.Features[i]
		if !f.Request() {
			continue
		}
		v, ok := in[f.Name]
		if !ok || v == nil {
			return bad("set %s needs request feature %q (%s)", d.Ref(), f.Name, f.Type)
		}
		var x float64
		var err error
		switch t := v.(type) {
		case float64:
			x, err = f.Value(t, "", false)
		case json.Number:
			n, perr := t.Float64()
			if perr != nil {
				return bad("request feature %q: %q is not a number", f.Name, t.String())
			}
			x, err = f.Value(n, "", false)
		case string:
			x, err = f.Value(0, t, true)
		default:
			return bad("request feature %q: want a number or a text, got %T", f.Name, v)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequestFeatures, err)
		}
		if out == nil {
			out = make(map[string]float64, len(in))
		}
		out[f.Name] = x
	}
	if len(in) != len(out) {
		var extra []string
		for k := range in {
			if _, ok := out[k]; !ok {
				extra = append(extra, k)
			}
		}
		slices.Sort(extra)
		for _, k := range extra {
			if slices.ContainsFunc(d.Features, func(f SetFeature) bool { return f.Indicator == k }) {
				return bad("%q is an indicator of set %s: the platform supplies it, a request does not", k, d.Ref())
			}
		}
		return bad("set %s has no request feature %q", d.Ref(), extra[0])
	}
	return out, nil
}
