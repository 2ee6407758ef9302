package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

var (
	// ErrUnknownSample reports a sample name or version with no manifest in the store.
	ErrUnknownSample = errors.New("features: unknown sample")
	// ErrCorruptSample reports a sample whose manifest or split files do not agree
	// with each other (digest, row count, columns) or cannot be decoded.
	ErrCorruptSample = errors.New("features: corrupt sample")
)

// SampleSplits are the split names of a sample, in training order.
var SampleSplits = []string{"train", "valid", "test"}

// ParseSampleRef splits a sample reference "name" or "name/vN" into the name and the
// version (0 when the reference names no version, meaning the latest).
func ParseSampleRef(ref string) (name string, version int, err error) {
	name, v, hasVersion := strings.Cut(ref, "/")
	if name == "" || strings.ContainsAny(name, "/\\ ") {
		return "", 0, fmt.Errorf("%w: sample reference %q (want name or name/vN)", ErrUnknownSample, ref)
	}
	if err := blob.ValidateKey(SampleManifestKey(name, 1)); err != nil {
		return "", 0, fmt.Errorf("%w: sample reference %q: %v", ErrUnknownSample, ref, err)
	}
	if !hasVersion {
		return name, 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if !strings.HasPrefix(v, "v") || err != nil || n < 1 {
		return "", 0, fmt.Errorf("%w: sample reference %q: version %q (want v1, v2, ...)", ErrUnknownSample, ref, v)
	}
	return name, n, nil
}

// SampleVersions lists the versions of sample name that have a manifest, ascending.
func SampleVersions(ctx context.Context, store blob.Store, name string) ([]int, error) {
	prefix := "samples/" + name + "/"
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("features: list %s: %w", prefix, err)
	}
	var out []int
	for _, in := range infos {
		rest, ok := strings.CutSuffix(strings.TrimPrefix(in.Key, prefix), "/manifest.json")
		if !ok || !strings.HasPrefix(rest, "v") {
			continue
		}
		if v, err := strconv.Atoi(rest[1:]); err == nil && v > 0 {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// SampleManifestKey returns the object key of a sample version's manifest.
func SampleManifestKey(name string, version int) string {
	return SamplePrefix(name, version) + "manifest.json"
}

// OpenSample reads and checks the manifest of a sample: ref is "name" (the latest
// version) or "name/vN". An unknown name or version wraps ErrUnknownSample; a manifest
// that cannot be decoded or contradicts its key wraps ErrCorruptSample.
func OpenSample(ctx context.Context, store blob.Store, ref string) (*SampleManifest, error) {
	name, version, err := ParseSampleRef(ref)
	if err != nil {
		return nil, err
	}
	versions, err := SampleVersions(ctx, store, name)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: no sample named %q in the store", ErrUnknownSample, name)
	}
	if version == 0 {
		version = versions[len(versions)-1]
	} else if !slices.Contains(versions, version) {
		return nil, fmt.Errorf("%w: sample %s has no version %d (versions %s)", ErrUnknownSample, name, version, joinInts(versions))
	}
	key := SampleManifestKey(name, version)
	b, _, err := blob.ReadAll(ctx, store, key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: sample %s/v%d: %s is gone", ErrUnknownSample, name, version, key)
	}
	if err != nil {
		return nil, fmt.Errorf("features: read sample %s/v%d manifest: %w", name, version, err)
	}
	m := new(SampleManifest)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: sample %s/v%d: manifest %s: %v", ErrCorruptSample, name, version, key, err)
	}
	if err := m.check(name, version); err != nil {
		return nil, err
	}
	return m, nil
}

// Ref returns "name/vN".
func (m *SampleManifest) Ref() string { return m.Name + "/v" + strconv.Itoa(m.Version) }

// ManifestKey returns the object key of the manifest.
func (m *SampleManifest) ManifestKey() string { return SampleManifestKey(m.Name, m.Version) }

// check verifies that a decoded manifest is the one stored under name/vN and is
// usable for training.
func (m *SampleManifest) check(name string, version int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: sample %s/v%d: %s", ErrCorruptSample, name, version, fmt.Sprintf(format, args...))
	}
	if m.Name != name || m.Version != version {
		return bad("manifest names %s/v%d", m.Name, m.Version)
	}
	if len(m.Indicators) == 0 {
		return bad("manifest lists no indicator")
	}
	seen := map[string]bool{"code": true, "asof": true}
	for _, id := range m.Indicators {
		if seen[id] || id == m.Label.Name {
			return bad("indicator %q appears twice or clashes with another column", id)
		}
		seen[id] = true
	}
	// The manifest's label definition is the one the sample was built with; a later
	// change to the definition in Labels does not invalidate it.
	if m.Label.Name == "" || m.Label.Kind == "" || m.Label.Horizon <= 0 {
		return bad("label %+v lacks a name, an outcome kind or a horizon", m.Label)
	}
	if len(m.Splits) == 0 {
		return bad("manifest lists no split")
	}
	for s, sp := range m.Splits {
		if want := SamplePrefix(name, version) + s + ".parquet"; sp.Key != want {
			return bad("split %s is stored at %q, want %q", s, sp.Key, want)
		}
		if sp.Rows < 0 || len(sp.SHA256) != 64 {
			return bad("split %s: rows %d, sha256 %q", s, sp.Rows, sp.SHA256)
		}
	}
	return nil
}

// ReadSampleSplit reads one split ("train", "valid" or "test") of a sample opened with
// OpenSample as an Arrow record with the columns code and asof (strings), every
// indicator of the manifest in its order (float64, null where missing) and the label
// (float64, never null). The file is read through the blob store (its sha256 verified)
// and must have the digest and row count the manifest recorded. The caller releases
// the record.
func ReadSampleSplit(ctx context.Context, store blob.Store, m *SampleManifest, split string) (arrow.Record, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: no sample manifest", ErrUnknownSample)
	}
	ref := m.Ref()
	sp, ok := m.Splits[split]
	if !ok {
		have := make([]string, 0, len(m.Splits))
		for _, s := range SampleSplits {
			if _, ok := m.Splits[s]; ok {
				have = append(have, s)
			}
		}
		return nil, fmt.Errorf("%w: sample %s has no split %q (splits %s)", ErrUnknownSample, ref, split, strings.Join(have, ", "))
	}
	data, _, err := blob.ReadAll(ctx, store, sp.Key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: sample %s split %s: %s is missing", ErrCorruptSample, ref, split, sp.Key)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: sample %s split %s: %w", ErrCorruptSample, ref, split, err)
	}
	if got := blob.SHA256Hex(data); got != sp.SHA256 {
		return nil, fmt.Errorf("%w: sample %s split %s: %s has sha256 %s, the manifest recorded %s", ErrCorruptSample, ref, split, sp.Key, got, sp.SHA256)
	}
	cols := append(append([]string{"code", "asof"}, m.Indicators...), m.Label.Name)
	dec, rows, err := readColumns(data, sp.Key, cols)
	if err != nil {
		return nil, fmt.Errorf("%w: sample %s split %s: %w", ErrCorruptSample, ref, split, err)
	}
	if int64(rows) != sp.Rows {
		return nil, fmt.Errorf("%w: sample %s split %s: %d rows, the manifest recorded %d", ErrCorruptSample, ref, split, rows, sp.Rows)
	}
	fields := []arrow.Field{{Name: "code", Type: arrow.BinaryTypes.String}, {Name: "asof", Type: arrow.BinaryTypes.String}}
	for _, id := range m.Indicators {
		fields = append(fields, arrow.Field{Name: id, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: m.Label.Name, Type: arrow.PrimitiveTypes.Float64})
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	for i := 0; i < 2; i++ {
		c := dec[i]
		if c.bytes == nil && rows > 0 {
			return nil, fmt.Errorf("%w: sample %s split %s: column %s is not a string column", ErrCorruptSample, ref, split, cols[i])
		}
		sb := b.Field(i).(*array.StringBuilder)
		sb.Reserve(rows)
		for _, k := range c.bytes {
			sb.Append(c.dict[k])
		}
	}
	for j := range m.Indicators {
		c := dec[2+j]
		if c.f64 == nil && rows > 0 {
			return nil, fmt.Errorf("%w: sample %s split %s: indicator %s is not a float column", ErrCorruptSample, ref, split, cols[2+j])
		}
		fb := b.Field(2 + j).(*array.Float64Builder)
		fb.Reserve(rows)
		for _, v := range c.f64 {
			if math.IsNaN(v) {
				fb.AppendNull()
			} else {
				fb.Append(v)
			}
		}
	}
	y := dec[len(cols)-1]
	if y.f64 == nil && rows > 0 {
		return nil, fmt.Errorf("%w: sample %s split %s: label %s is not a float column", ErrCorruptSample, ref, split, m.Label.Name)
	}
	for i, v := range y.f64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: sample %s split %s: label %s is missing in row %d", ErrCorruptSample, ref, split, m.Label.Name, i)
		}
		if !m.Label.Regression && v != 0 && v != 1 {
			return nil, fmt.Errorf("%w: sample %s split %s: binary label %s is %v in row %d", ErrCorruptSample, ref, split, m.Label.Name, v, i)
		}
	}
	b.Field(len(cols)-1).(*array.Float64Builder).AppendValues(y.f64, nil)
	return b.NewRecord(), nil
}

// SampleMonotone returns a monotone constraint per indicator of the sample, in the
// manifest's order, from the catalog's directions (direction of the prediction as
// the indicator grows):
//
//   - binary risk labels (default, violation) predict a probability of a bad
//     outcome: higher_better gives -1, higher_worse +1;
//   - the regression label limit predicts a credit limit, which grows with the
//     company's quality: higher_better gives +1, higher_worse -1;
//   - none gives 0.
//
// An indicator the catalog does not define is an error wrapping ErrUnknownIndicator.
func SampleMonotone(cat *Catalog, m *SampleManifest) ([]int8, error) {
	if cat == nil || m == nil {
		return nil, fmt.Errorf("%w: SampleMonotone needs a catalog and a manifest", ErrInvalidOptions)
	}
	sign := int8(1) // risk: worse means more risk
	if m.Label.Regression {
		sign = -1 // limit: worse means a smaller limit
	}
	out := make([]int8, len(m.Indicators))
	for i, id := range m.Indicators {
		ind, err := cat.Indicator(id)
		if err != nil {
			return nil, fmt.Errorf("sample %s: %w", m.Ref(), err)
		}
		switch ind.Direction {
		case HigherWorse:
			out[i] = sign
		case HigherBetter:
			out[i] = -sign
		}
	}
	return out, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = "v" + strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
