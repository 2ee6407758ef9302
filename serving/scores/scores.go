// Package scores keeps the region's score history: every company's figures (PD,
// score, rating, colour, limit, violation probability, inspection tier) as of each
// snapshot date, with the models and policy that produced them, in the object store:
//
//	scores/asof=YYYY-MM-DD/<run>/part-00000.parquet   one row per company, sorted by code
//	scores/asof=YYYY-MM-DD/<run>/_manifest.json       models, policy, companies, digest; written last
//
// A run is one scoring of one as-of date by one set of models and one policy; a
// champion change scores the date again as a new run, and readers take the newest
// run of each date. A run becomes visible when its manifest is written; a run
// without one is ignored.
package scores

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/training"
)

// Prefix is where score runs live in the store.
const Prefix = "scores/"

// ErrCorrupt: a run's manifest or part does not read or does not match its digest.
var ErrCorrupt = errors.New("scores: corrupt run")

// Row is one company's figures in a run.
type Row struct {
	Company   string  `parquet:"company_code" json:"company_code"`
	PD        float64 `parquet:"pd" json:"pd"`
	Score     float64 `parquet:"score" json:"score"`
	Rating    string  `parquet:"rating" json:"rating"`
	Colour    string  `parquet:"colour" json:"colour"`
	Limit     float64 `parquet:"limit" json:"limit"`
	Violation float64 `parquet:"violation_probability" json:"violation_probability"`
	Tier      string  `parquet:"inspection_tier" json:"inspection_tier"`
}

// Manifest describes a run.
type Manifest struct {
	AsOf      string                 `json:"as_of"`
	Run       string                 `json:"run"`
	Models    []serving.ModelVersion `json:"models"`
	Policy    string                 `json:"policy"`
	Companies int                    `json:"companies"`
	Generated time.Time              `json:"generated_at"`
	Part      string                 `json:"part"`
	SHA256    string                 `json:"sha256"`
	Size      int64                  `json:"size"`
}

// RunName names the run of a set of models and a policy: the same models and
// policy scoring the same date again write the same run.
func RunName(models []serving.ModelVersion, policy string) string {
	ms := slices.Clone(models)
	slices.SortFunc(ms, func(a, b serving.ModelVersion) int { return cmp.Compare(a.Task, b.Task) })
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%s=%s@%s\n", m.Task, m.Name, m.Version)
	}
	fmt.Fprintf(h, "policy=%s\n", policy)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func runPrefix(asOf, run string) string { return Prefix + "asof=" + asOf + "/" + run + "/" }

// ManifestKey is the manifest of a run.
func ManifestKey(asOf, run string) string { return runPrefix(asOf, run) + "_manifest.json" }

// Write stores the decisions of one as-of date as a run: the part first, the
// manifest last. All decisions must share their as-of date, models and policy.
func Write(ctx context.Context, store blob.Store, ds []*serving.Decision, now time.Time) (*Manifest, error) {
	if len(ds) == 0 {
		return nil, fmt.Errorf("%w: no decisions to store", serving.ErrInvalidInput)
	}
	first := ds[0]
	asOf := first.AsOf.Format(time.DateOnly)
	rows := make([]Row, len(ds))
	for i, d := range ds {
		if d.AsOf.Format(time.DateOnly) != asOf || d.PolicyVersion != first.PolicyVersion || !slices.Equal(d.Models, first.Models) {
			return nil, fmt.Errorf("%w: decision %d (%s) is not of the run's date, models and policy", serving.ErrInvalidInput, i, d.Company)
		}
		rows[i] = Row{Company: d.Company, PD: d.PD, Score: d.Score, Rating: string(d.Rating), Colour: string(d.Colour), Limit: d.Limit,
			Violation: d.Violation, Tier: string(d.InspectionTier)}
	}
	slices.SortFunc(rows, func(a, b Row) int { return cmp.Compare(a.Company, b.Company) })
	for i := 1; i < len(rows); i++ {
		if rows[i].Company == rows[i-1].Company {
			return nil, fmt.Errorf("%w: company %s scored twice", serving.ErrInvalidInput, rows[i].Company)
		}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf, parquet.Compression(&parquet.Zstd))
	if _, err := w.Write(rows); err != nil {
		return nil, fmt.Errorf("scores %s: parquet: %w", asOf, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("scores %s: parquet: %w", asOf, err)
	}
	run := RunName(first.Models, first.PolicyVersion)
	part := runPrefix(asOf, run) + "part-00000.parquet"
	info, err := blob.PutBytes(ctx, store, part, buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("scores %s: store part: %w", asOf, err)
	}
	m := &Manifest{AsOf: asOf, Run: run, Models: first.Models, Policy: first.PolicyVersion, Companies: len(rows), Generated: now.UTC(),
		Part: part, SHA256: info.SHA256, Size: info.Size}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if _, err := blob.PutBytes(ctx, store, ManifestKey(asOf, run), b); err != nil {
		return nil, fmt.Errorf("scores %s: store manifest: %w", asOf, err)
	}
	return m, nil
}

// Runs lists the visible runs, the newest run of each as-of date only, oldest
// date first.
func Runs(ctx context.Context, store blob.Store) ([]*Manifest, error) {
	infos, err := store.List(ctx, Prefix)
	if err != nil {
		return nil, fmt.Errorf("scores: list: %w", err)
	}
	newest := map[string]*Manifest{}
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, "/_manifest.json") {
			continue
		}
		m, err := readManifest(ctx, store, in.Key)
		if err != nil {
			return nil, err
		}
		if cur, ok := newest[m.AsOf]; !ok || m.Generated.After(cur.Generated) {
			newest[m.AsOf] = m
		}
	}
	out := make([]*Manifest, 0, len(newest))
	for _, m := range newest {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *Manifest) int { return cmp.Compare(a.AsOf, b.AsOf) })
	return out, nil
}

func readManifest(ctx context.Context, store blob.Store, key string) (*Manifest, error) {
	b, _, err := blob.ReadAll(ctx, store, key)
	if err != nil {
		return nil, fmt.Errorf("scores: read %s: %w", key, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil || m.AsOf == "" || m.Part == "" {
		return nil, fmt.Errorf("%w: %s does not parse as a run manifest", ErrCorrupt, key)
	}
	return &m, nil
}

// Reader implements serving.ScoreHistory over the store.
var _ serving.ScoreHistory = (*Reader)(nil)

// Reader answers history questions from the store, keeping the most recently
// read runs in memory (a run is immutable once visible).
type Reader struct {
	store blob.Store
	keep  int

	mu    sync.Mutex
	runs  map[string][]Row // part key → rows sorted by company
	order []string         // part keys, least recently used first
}

// NewReader returns a reader of store keeping up to keep runs in memory (0: 24).
func NewReader(store blob.Store, keep int) *Reader {
	if keep <= 0 {
		keep = 24
	}
	return &Reader{store: store, keep: keep, runs: map[string][]Row{}}
}

// History returns a company's figures over time, oldest first; dates on which
// the company was not scored are left out.
func (r *Reader) History(ctx context.Context, code string) ([]serving.ScorePoint, error) {
	runs, err := Runs(ctx, r.store)
	if err != nil {
		return nil, err
	}
	var out []serving.ScorePoint
	for _, m := range runs {
		rows, err := r.Rows(ctx, m)
		if err != nil {
			return nil, err
		}
		i, ok := slices.BinarySearchFunc(rows, code, func(row Row, c string) int { return cmp.Compare(row.Company, c) })
		if ok {
			row := rows[i]
			out = append(out, serving.ScorePoint{AsOf: m.AsOf, Models: m.Models, Policy: m.Policy, PD: row.PD, Score: row.Score, Rating: row.Rating,
				Colour: row.Colour, Limit: row.Limit, Violation: row.Violation, Tier: row.Tier})
		}
	}
	return out, nil
}

// Rows returns a run's rows, sorted by company; the caller must not change them.
func (r *Reader) Rows(ctx context.Context, m *Manifest) ([]Row, error) {
	r.mu.Lock()
	rows, ok := r.runs[m.Part]
	if ok {
		r.touch(m.Part)
	}
	r.mu.Unlock()
	if ok {
		return rows, nil
	}
	b, info, err := blob.ReadAll(ctx, r.store, m.Part)
	if err != nil {
		return nil, fmt.Errorf("scores: read %s: %w", m.Part, err)
	}
	if info.SHA256 != m.SHA256 {
		return nil, fmt.Errorf("%w: %s has digest %s, its manifest says %s", ErrCorrupt, m.Part, info.SHA256, m.SHA256)
	}
	rows, err = parquet.Read[Row](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, m.Part, err)
	}
	if !slices.IsSortedFunc(rows, func(a, b Row) int { return cmp.Compare(a.Company, b.Company) }) {
		return nil, fmt.Errorf("%w: %s is not sorted by company", ErrCorrupt, m.Part)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.runs[m.Part]; !ok {
		r.runs[m.Part] = rows
		r.order = append(r.order, m.Part)
		for len(r.order) > r.keep {
			delete(r.runs, r.order[0])
			r.order = r.order[1:]
		}
	}
	return rows, nil
}

func (r *Reader) touch(key string) {
	if i := slices.Index(r.order, key); i >= 0 {
		r.order = append(append(r.order[:i:i], r.order[i+1:]...), key)
	}
}

// DriftPoint is how far one figure's distribution in a run has moved from the
// first run of the same model: the population stability index over deciles of
// the baseline.
type DriftPoint struct {
	Task    serving.Task `json:"task"`
	Model   string       `json:"model"`
	Version string       `json:"version"`
	AsOf    string       `json:"as_of"`
	// Baseline is the as-of date of the first run of this model version.
	Baseline string  `json:"baseline"`
	PSI      float64 `json:"psi"`
	// Level is "stable" (PSI < 0.1), "watch" (< 0.25) or "act".
	Level string `json:"level"`
}

// figureOf is the figure a task's model produces in a run's rows.
func figureOf(t serving.Task, r Row) float64 {
	switch t {
	case serving.TaskViolation:
		return r.Violation
	case serving.TaskLimit:
		return r.Limit
	}
	return r.PD
}

// Drift compares, for every task, each run's distribution of the task's figure
// (PD, violation probability, limit) with the first run scored by the same model
// version, oldest date first.
func Drift(ctx context.Context, store blob.Store) ([]DriftPoint, error) {
	runs, err := Runs(ctx, store)
	if err != nil {
		return nil, err
	}
	reader := NewReader(store, 2)
	var out []DriftPoint
	for _, task := range serving.Tasks {
		var base []float64
		var baseRef, baseAsOf string
		for _, run := range runs {
			i := slices.IndexFunc(run.Models, func(m serving.ModelVersion) bool { return m.Task == task })
			if i < 0 {
				continue
			}
			m := run.Models[i]
			rows, err := reader.Rows(ctx, run)
			if err != nil {
				return nil, err
			}
			vals := make([]float64, len(rows))
			for j, r := range rows {
				vals[j] = figureOf(task, r)
			}
			ref := m.Name + "@" + m.Version
			if ref != baseRef {
				base, baseRef, baseAsOf = vals, ref, run.AsOf
			}
			psi, err := training.PSI(base, vals, 10)
			if err != nil {
				return nil, fmt.Errorf("scores: drift of %s as of %s: %w", task, run.AsOf, err)
			}
			level := "stable"
			switch {
			case psi >= 0.25:
				level = "act"
			case psi >= 0.1:
				level = "watch"
			}
			out = append(out, DriftPoint{Task: task, Model: m.Name, Version: m.Version, AsOf: run.AsOf, Baseline: baseAsOf, PSI: psi, Level: level})
		}
	}
	return out, nil
}
