package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// NewModel is the input of CreateModel.
type NewModel struct {
	Name        string `json:"name"`
	Task        Task   `json:"task"`
	Description string `json:"description"`
	Shared      bool   `json:"shared"`
	// OwnerID is the owning institution; zero means the caller's. Only a
	// platform administrator may create a model for another institution.
	OwnerID int64 `json:"owner_id,omitempty"`
}

// CreateModel registers a new model owned by the caller's institution.
func (r *Registry) CreateModel(ctx context.Context, p access.Principal, nm NewModel) (Model, error) {
	const action = "model.create"
	m, err := r.createModel(ctx, p, nm)
	if err != nil {
		return Model{}, r.refuse(ctx, p, action, modelSubject(nm.Name), err, nm)
	}
	return m, nil
}

func (r *Registry) createModel(ctx context.Context, p access.Principal, nm NewModel) (Model, error) {
	m, err := r.newModel(ctx, p, nm)
	if err != nil {
		return Model{}, err
	}
	if err := r.db.Tx(ctx, func(tx *metadb.Tx) error { return r.insertModel(ctx, tx, p, &m) }); err != nil {
		return Model{}, err
	}
	r.notify()
	return m, nil
}

// newModel checks nm and the caller's right to create it, and returns the model
// as it will be stored (without its ID).
func (r *Registry) newModel(ctx context.Context, p access.Principal, nm NewModel) (Model, error) {
	nm.Name = strings.TrimSpace(nm.Name)
	if err := checkModelName(nm.Name); err != nil {
		return Model{}, err
	}
	if _, err := nm.Task.Objectives(); err != nil {
		return Model{}, err
	}
	if len(nm.Description) > 4000 {
		return Model{}, fmt.Errorf("%w: description is %d bytes, limit 4000", ErrInvalid, len(nm.Description))
	}
	owner := p.InstitutionID
	if nm.OwnerID != 0 {
		owner = nm.OwnerID // only a platform administrator may name another institution
	}
	m := Model{Name: nm.Name, Task: nm.Task, OwnerID: owner, Description: nm.Description, Shared: nm.Shared,
		CreatedBy: p.User, CreatedAt: r.now()}
	if err := r.authorize(ctx, p, access.ActionWriteModel, m, "model.create"); err != nil {
		return Model{}, err
	}
	return m, nil
}

// errNameTaken is the answer for a taken model name. Model names are one
// namespace across the platform. The answer is the same whoever holds the name,
// and says nothing of who does or whether a model by that name exists for the
// caller to see.
func errNameTaken(name string) error {
	return fmt.Errorf("%w: model name %q is taken; choose another", ErrConflict, name)
}

// checkNameFree refuses a model name already held (checked again by the unique
// index when the model is inserted).
func (r *Registry) checkNameFree(ctx context.Context, name string) error {
	var n int
	if err := r.db.QueryRow(ctx, "SELECT COUNT(*) FROM registry_models WHERE name = ?", name).Scan(&n); err != nil {
		return fmt.Errorf("registry: check model name %s: %w", name, err)
	}
	if n > 0 {
		return errNameTaken(name)
	}
	return nil
}

// insertModel stores m inside tx, setting its ID, with its change-feed entry and
// audit record.
func (r *Registry) insertModel(ctx context.Context, tx *metadb.Tx, p access.Principal, m *Model) error {
	id, err := tx.InsertID(ctx, `INSERT INTO registry_models (name, task, owner_id, description, shared, created_by, created_at_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, m.Name, string(m.Task), m.OwnerID, m.Description, metadb.Bool(m.Shared), m.CreatedBy, m.CreatedAt.UnixNano())
	if errors.Is(err, metadb.ErrConflict) {
		return errNameTaken(m.Name)
	}
	if err != nil {
		return fmt.Errorf("registry: create model %s: %w", m.Name, err)
	}
	m.ID = id
	if err := r.appendChange(ctx, tx, *m, "model.created", 0, "", p.User); err != nil {
		return err
	}
	_, err = r.log.AppendTx(ctx, tx, audit.Entry{Actor: p.User, Action: "model.create", Subject: modelSubject(m.Name), After: *m})
	return err
}

// Model returns the model called name with its aliases and latest version, if
// the caller may see it.
func (r *Registry) Model(ctx context.Context, p access.Principal, name string) (Model, error) {
	m, err := r.visibleModel(ctx, p, name, "model.read")
	if err != nil {
		return Model{}, err
	}
	if err := r.fillAliases(ctx, &m); err != nil {
		return Model{}, err
	}
	return m, nil
}

// Models lists every model the caller may see, by name.
func (r *Registry) Models(ctx context.Context, p access.Principal) ([]Model, error) {
	rows, err := r.db.Query(ctx, `SELECT id, name, task, owner_id, description, shared, created_by, created_at_ns,
		(SELECT COALESCE(MAX(version), 0) FROM registry_versions v WHERE v.model_id = m.id)
		FROM registry_models m ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("registry: list models: %w", err)
	}
	var out []Model
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("registry: list models: %w", err)
		}
		if canSee(p, m) {
			out = append(out, m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: list models: %w", err)
	}
	for i := range out {
		if err := r.fillAliases(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

const modelColumns = `id, name, task, owner_id, description, shared, created_by, created_at_ns,
	(SELECT COALESCE(MAX(version), 0) FROM registry_versions v WHERE v.model_id = m.id)`

func scanModel(s scanner) (Model, error) {
	var m Model
	var task string
	var shared int
	var ns int64
	if err := s.Scan(&m.ID, &m.Name, &task, &m.OwnerID, &m.Description, &shared, &m.CreatedBy, &ns, &m.Latest); err != nil {
		return Model{}, err
	}
	m.Task, m.Shared, m.CreatedAt = Task(task), shared != 0, time.Unix(0, ns).UTC()
	return m, nil
}

// visibleModel loads a model for operation op and hides it (ErrNotFound, the
// refusal audited) from callers who may not see it.
func (r *Registry) visibleModel(ctx context.Context, p access.Principal, name, op string) (Model, error) {
	m, err := scanModel(r.db.QueryRow(ctx, "SELECT "+modelColumns+" FROM registry_models m WHERE name = ?", name))
	if err != nil {
		if errors.Is(err, metadb.ErrNotFound) || isNoRows(err) {
			return Model{}, fmt.Errorf("%w: model %q", ErrNotFound, name)
		}
		return Model{}, fmt.Errorf("registry: model %s: %w", name, err)
	}
	if err := r.authz.Authorize(ctx, p, access.ActionReadModel, modelResource(m, op)); err != nil {
		if errors.Is(err, access.ErrUnavailable) {
			return Model{}, fmt.Errorf("registry: authorize: %w", err)
		}
		// Another institution's private model is unknown to the caller, exactly as
		// a name nobody holds; the refusal is in the audit log.
		return Model{}, access.MarkAudited(fmt.Errorf("%w: model %q", ErrNotFound, name))
	}
	return m, nil
}

// lockModel re-reads a model inside tx and locks its row, serializing every change
// to the model (version numbering, alias moves, promotions).
func (r *Registry) lockModel(ctx context.Context, tx *metadb.Tx, id int64) (Model, error) {
	// The lock is taken by a plain row UPDATE, which PostgreSQL holds to commit
	// and which SQLite's write transaction already covers.
	if _, err := tx.Exec(ctx, "UPDATE registry_models SET shared = shared WHERE id = ?", id); err != nil {
		return Model{}, fmt.Errorf("registry: lock model %d: %w", id, err)
	}
	m, err := scanModel(tx.QueryRow(ctx, "SELECT "+modelColumns+" FROM registry_models m WHERE id = ?", id))
	if err != nil {
		return Model{}, fmt.Errorf("registry: lock model %d: %w", id, err)
	}
	return m, nil
}

func (r *Registry) fillAliases(ctx context.Context, m *Model) error {
	rows, err := r.db.Query(ctx, "SELECT alias, version FROM registry_aliases WHERE model_id = ? ORDER BY alias", m.ID)
	if err != nil {
		return fmt.Errorf("registry: aliases of %s: %w", m.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		var v int
		if err := rows.Scan(&a, &v); err != nil {
			return fmt.Errorf("registry: aliases of %s: %w", m.Name, err)
		}
		if m.Aliases == nil {
			m.Aliases = map[string]int{}
		}
		m.Aliases[a] = v
	}
	return rows.Err()
}

// ModelUpdate changes the mutable fields of a model; nil fields stay as they are.
type ModelUpdate struct {
	Description *string `json:"description,omitempty"`
	Shared      *bool   `json:"shared,omitempty"`
}

// UpdateModel changes a model's description or shared flag. Only the owning
// institution's writers (or a platform administrator) may.
func (r *Registry) UpdateModel(ctx context.Context, p access.Principal, name string, u ModelUpdate) (Model, error) {
	const action = "model.update"
	m, err := r.updateModel(ctx, p, name, u)
	if err != nil {
		return Model{}, r.refuse(ctx, p, action, modelSubject(name), err, u)
	}
	return m, nil
}

func (r *Registry) updateModel(ctx context.Context, p access.Principal, name string, u ModelUpdate) (Model, error) {
	if u.Description == nil && u.Shared == nil {
		return Model{}, fmt.Errorf("%w: nothing to update (description, shared)", ErrInvalid)
	}
	if u.Description != nil && len(*u.Description) > 4000 {
		return Model{}, fmt.Errorf("%w: description is %d bytes, limit 4000", ErrInvalid, len(*u.Description))
	}
	m, err := r.visibleModel(ctx, p, name, "model.update")
	if err != nil {
		return Model{}, err
	}
	if err := r.authorize(ctx, p, access.ActionWriteModel, m, "model.update"); err != nil {
		return Model{}, err
	}
	var after Model
	err = r.db.Tx(ctx, func(tx *metadb.Tx) error {
		before, err := r.lockModel(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		after = before
		if u.Description != nil {
			after.Description = *u.Description
		}
		if u.Shared != nil {
			after.Shared = *u.Shared
		}
		if _, err := tx.Exec(ctx, "UPDATE registry_models SET description = ?, shared = ? WHERE id = ?", after.Description, metadb.Bool(after.Shared), m.ID); err != nil {
			return fmt.Errorf("registry: update model %s: %w", name, err)
		}
		if err := r.appendChange(ctx, tx, after, "model.updated", 0, "", p.User); err != nil {
			return err
		}
		_, err = r.log.AppendTx(ctx, tx, audit.Entry{Actor: p.User, Action: "model.update", Subject: modelSubject(name), Before: before, After: after})
		return err
	})
	if err != nil {
		return Model{}, err
	}
	r.notify()
	return after, nil
}
