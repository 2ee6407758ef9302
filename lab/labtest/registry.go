// Package labtest holds in-memory implementations of the lab console's library
// interfaces (model library, screenings, company profiles, indicator statistics) for
// the console's handler and browser tests, until the registry, serving and feature
// statistics adapters replace them. Uploaded models are parsed and validated by the
// real gbdt package; everything else is plain data kept in maps. Not for production.
package labtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/lab"
)

// Registry is an in-memory model library with four-eyes promotions.
type Registry struct {
	mu     sync.Mutex
	models map[string]*model
	promos []*lab.Promotion
	asker  map[string]string // promotion id → requester's principal id
	now    func() time.Time
}

type model struct {
	sum      lab.ModelSummary
	versions []lab.Version
	history  []lab.HistoryEntry
}

// NewRegistry returns an empty registry on the given clock (nil: time.Now).
func NewRegistry(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{models: map[string]*model{}, asker: map[string]string{}, now: now}
}

// Models lists the models by name.
func (r *Registry) Models(context.Context) ([]lab.ModelSummary, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]lab.ModelSummary, 0, len(r.models))
	for _, m := range r.models {
		s := m.sum
		s.Aliases = clone(m.sum.Aliases)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b lab.ModelSummary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Model returns one model with versions, promotions and history.
func (r *Registry) Model(_ context.Context, name string) (lab.ModelDetail, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.models[name]
	if !ok {
		return lab.ModelDetail{}, fmt.Errorf("%w: model %q", lab.ErrNotFound, name)
	}
	d := lab.ModelDetail{ModelSummary: m.sum, Versions: slices.Clone(m.versions), History: slices.Clone(m.history)}
	d.Aliases = clone(m.sum.Aliases)
	for _, p := range r.promos {
		if p.Model == name {
			d.Promotions = append(d.Promotions, *p)
		}
	}
	return d, nil
}

// Version returns one version.
func (r *Registry) Version(_ context.Context, name, version string) (lab.Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.models[name]
	if !ok {
		return lab.Version{}, fmt.Errorf("%w: model %q", lab.ErrNotFound, name)
	}
	for _, v := range m.versions {
		if v.Version == version {
			return v, nil
		}
	}
	return lab.Version{}, fmt.Errorf("%w: model %q has no version %q", lab.ErrNotFound, name, version)
}

// Upload parses and validates the file with gbdt, checks the golden rows, and adds a
// version. A file that is not a model, or golden rows that disagree, change nothing.
func (r *Registry) Upload(_ context.Context, u lab.Upload) (lab.Version, error) {
	m, err := gbdt.Parse(u.Data, gbdt.DefaultLimits())
	if err != nil {
		return lab.Version{}, fmt.Errorf("%w: %s is not a usable LightGBM or XGBoost model: %w", lab.ErrInvalidInput, u.FileName, err)
	}
	if err := m.Validate(); err != nil {
		return lab.Version{}, fmt.Errorf("%w: %s: %w", lab.ErrInvalidInput, u.FileName, err)
	}
	golden := 0
	if len(u.Golden) > 0 {
		if golden, err = checkGolden(m, u.Golden); err != nil {
			return lab.Version{}, fmt.Errorf("%w: golden rows: %w", lab.ErrInvalidInput, err)
		}
	}
	sum := sha256.Sum256(u.Data)
	r.mu.Lock()
	defer r.mu.Unlock()
	mm, ok := r.models[u.Model]
	if !ok {
		task := "pd"
		if m.Objective == gbdt.Regression {
			task = "limit"
		}
		mm = &model{sum: lab.ModelSummary{Name: u.Model, Task: task, Aliases: map[string]string{}}}
		r.models[u.Model] = mm
	}
	v := lab.Version{Model: u.Model, Version: "v" + strconv.Itoa(len(mm.versions)+1), Format: m.Source, FeatureSet: u.FeatureSet,
		Sample: u.Sample, CodeVersion: u.CodeVersion, SHA256: hex.EncodeToString(sum[:]), Trees: len(m.Trees), Features: m.NumFeatures(),
		Created: r.now(), CreatedBy: u.By.Name, Golden: golden, Card: u.Card}
	if u.Evaluation != nil {
		v.Evaluation = *u.Evaluation
	}
	mm.versions = append(mm.versions, v)
	mm.sum.Versions = len(mm.versions)
	mm.history = append(mm.history, lab.HistoryEntry{Time: v.Created, Actor: u.By.Name, Action: "version.create",
		Detail: fmt.Sprintf("%s %s from %s (%s, %d trees)", v.Model, v.Version, u.FileName, v.Format, v.Trees)})
	return v, nil
}

// checkGolden compares the model's predictions with CSV rows of feature values
// followed by the expected prediction (a header line is allowed).
func checkGolden(m *gbdt.Model, data []byte) (int, error) {
	rd := csv.NewReader(bytes.NewReader(data))
	rd.FieldsPerRecord = -1
	n := 0
	for line := 1; ; line++ {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("line %d: %w", line, err)
		}
		if line == 1 && len(rec) > 0 {
			if _, err := strconv.ParseFloat(strings.TrimSpace(rec[0]), 64); err != nil && !strings.EqualFold(strings.TrimSpace(rec[0]), "nan") && rec[0] != "" {
				continue // header
			}
		}
		if len(rec) != m.NumFeatures()+1 {
			return n, fmt.Errorf("line %d has %d fields, want %d features and the expected prediction", line, len(rec), m.NumFeatures())
		}
		row := make([]float64, m.NumFeatures())
		for i := range row {
			f := strings.TrimSpace(rec[i])
			if f == "" || strings.EqualFold(f, "nan") {
				row[i] = math.NaN()
				continue
			}
			if row[i], err = strconv.ParseFloat(f, 64); err != nil {
				return n, fmt.Errorf("line %d field %d: %q is not a number", line, i+1, f)
			}
		}
		want, err := strconv.ParseFloat(strings.TrimSpace(rec[len(rec)-1]), 64)
		if err != nil {
			return n, fmt.Errorf("line %d: expected prediction %q is not a number", line, rec[len(rec)-1])
		}
		got, err := m.Predict(row)
		if err != nil {
			return n, fmt.Errorf("line %d: %w", line, err)
		}
		if math.Abs(got-want) > 1e-6*max(1, math.Abs(want)) {
			return n, fmt.Errorf("line %d: the model predicts %.9g, the file expects %.9g", line, got, want)
		}
		n++
	}
	if n == 0 {
		return 0, errors.New("no rows")
	}
	return n, nil
}

// RequestPromotion opens a pending request to point alias at the version.
func (r *Registry) RequestPromotion(_ context.Context, name, version, alias string, by lab.Principal) (lab.Promotion, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.models[name]
	if !ok || !slices.ContainsFunc(m.versions, func(v lab.Version) bool { return v.Version == version }) {
		return lab.Promotion{}, fmt.Errorf("%w: model %q version %q", lab.ErrNotFound, name, version)
	}
	for _, p := range r.promos {
		if p.Model == name && p.Version == version && p.Alias == alias && p.State == "pending" {
			return lab.Promotion{}, fmt.Errorf("%w: %s %s already waits for approval as %s", lab.ErrConflict, name, version, alias)
		}
	}
	p := &lab.Promotion{ID: "p" + strconv.Itoa(len(r.promos)+1), Model: name, Version: version, Alias: alias, State: "pending",
		RequestedBy: by.Name, Requested: r.now()}
	r.promos = append(r.promos, p)
	r.asker[p.ID] = by.ID
	m.history = append(m.history, lab.HistoryEntry{Time: p.Requested, Actor: by.Name, Action: "promotion.request", Detail: version + " → " + alias})
	return *p, nil
}

// Decide approves or rejects a pending request. The requester may not decide their
// own request (four eyes).
func (r *Registry) Decide(_ context.Context, id string, approve bool, reason string, by lab.Principal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.promos, func(p *lab.Promotion) bool { return p.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: promotion %q", lab.ErrNotFound, id)
	}
	p := r.promos[i]
	if p.State != "pending" {
		return fmt.Errorf("%w: promotion %s was already %s", lab.ErrConflict, id, p.State)
	}
	if r.asker[id] == by.ID {
		return fmt.Errorf("%w: %s requested this promotion and cannot decide it; a second approver must", lab.ErrConflict, by.Name)
	}
	p.DecidedBy, p.Decided, p.Reason = by.Name, r.now(), reason
	m := r.models[p.Model]
	if approve {
		p.State = "approved"
		m.sum.Aliases[p.Alias] = p.Version
	} else {
		p.State = "rejected"
	}
	m.history = append(m.history, lab.HistoryEntry{Time: p.Decided, Actor: by.Name, Action: "promotion." + p.State, Detail: p.Version + " → " + p.Alias + " " + reason})
	return nil
}

// Pending lists undecided promotion requests, oldest first.
func (r *Registry) Pending(context.Context) ([]lab.Promotion, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []lab.Promotion
	for _, p := range r.promos {
		if p.State == "pending" {
			out = append(out, *p)
		}
	}
	return out, nil
}
