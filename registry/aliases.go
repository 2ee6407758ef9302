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

// Alias is a movable name for one version of a model.
type Alias struct {
	Model     string    `json:"model"`
	Alias     string    `json:"alias"`
	Version   int       `json:"version"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Promotion states.
const (
	StatePending   = "pending"
	StateApproved  = "approved"
	StateRejected  = "rejected"
	StateWithdrawn = "withdrawn"
)

// Promotion is a request to point a gated alias at a version, decided by a second
// person holding the approver role.
type Promotion struct {
	ID          int64     `json:"id"`
	Model       string    `json:"model"`
	Alias       string    `json:"alias"`
	Version     int       `json:"version"`
	State       string    `json:"state"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	Note        string    `json:"note,omitempty"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	Reason      string    `json:"reason,omitempty"`
	// Previous is the version the alias pointed at when the request was approved
	// (0: none). Set only by Approve.
	Previous int `json:"previous,omitempty"`
}

// Aliases lists the aliases of a model.
func (r *Registry) Aliases(ctx context.Context, p access.Principal, name string) ([]Alias, error) {
	m, err := r.visibleModel(ctx, p, name, "model.aliases.read")
	if err != nil {
		return nil, err
	}
	rows, err := r.db.Query(ctx, "SELECT alias, version, updated_by, updated_at_ns FROM registry_aliases WHERE model_id = ? ORDER BY alias", m.ID)
	if err != nil {
		return nil, fmt.Errorf("registry: aliases of %s: %w", name, err)
	}
	defer rows.Close()
	var out []Alias
	for rows.Next() {
		a := Alias{Model: m.Name}
		var ns int64
		if err := rows.Scan(&a.Alias, &a.Version, &a.UpdatedBy, &ns); err != nil {
			return nil, fmt.Errorf("registry: aliases of %s: %w", name, err)
		}
		a.UpdatedAt = time.Unix(0, ns).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// Resolve returns the version an alias points at.
func (r *Registry) Resolve(ctx context.Context, p access.Principal, name, alias string) (Version, error) {
	m, err := r.visibleModel(ctx, p, name, "model.resolve")
	if err != nil {
		return Version{}, err
	}
	var v int
	err = metadb.ScanOne(r.db.QueryRow(ctx, "SELECT version FROM registry_aliases WHERE model_id = ? AND alias = ?", m.ID, alias), &v)
	if errors.Is(err, metadb.ErrNotFound) {
		return Version{}, fmt.Errorf("%w: model %s has no alias %q", ErrNotFound, name, alias)
	}
	if err != nil {
		return Version{}, fmt.Errorf("registry: resolve %s@%s: %w", name, alias, err)
	}
	return r.version(ctx, m, v)
}

// SetAlias points an ungated alias (e.g. challenger) at a version at once. Gated
// aliases (Options.GatedAliases, default champion) refuse with ErrConflict: they
// move only through RequestPromotion and Approve.
func (r *Registry) SetAlias(ctx context.Context, p access.Principal, name, alias string, version int) (Alias, error) {
	const action = "model.alias.move"
	a, err := r.setAlias(ctx, p, name, alias, version)
	if err != nil {
		return Alias{}, r.refuse(ctx, p, action, modelSubject(name), err, map[string]any{"alias": alias, "version": version})
	}
	return a, nil
}

func (r *Registry) setAlias(ctx context.Context, p access.Principal, name, alias string, version int) (Alias, error) {
	if err := checkAlias(alias); err != nil {
		return Alias{}, err
	}
	m, err := r.visibleModel(ctx, p, name, "model.alias.move")
	if err != nil {
		return Alias{}, err
	}
	if err := r.authorize(ctx, p, access.ActionWriteModel, m, "model.alias.move"); err != nil {
		return Alias{}, err
	}
	if r.gated(alias) {
		return Alias{}, fmt.Errorf("%w: alias %q needs an approved promotion request (four-eyes); use RequestPromotion", ErrConflict, alias)
	}
	if _, err := r.version(ctx, m, version); err != nil {
		return Alias{}, err
	}
	var a Alias
	err = r.db.Tx(ctx, func(tx *metadb.Tx) error {
		var err error
		a, err = r.moveAliasTx(ctx, tx, m, alias, version, p.User, nil)
		return err
	})
	if err != nil {
		return Alias{}, err
	}
	r.notify()
	return a, nil
}

// moveAliasTx moves alias inside tx, with its feed entry and audit record. The
// model row lock serializes concurrent moves of the same model.
func (r *Registry) moveAliasTx(ctx context.Context, tx *metadb.Tx, m Model, alias string, version int, actor string, promo *Promotion) (Alias, error) {
	if _, err := r.lockModel(ctx, tx, m.ID); err != nil {
		return Alias{}, err
	}
	var before int
	err := metadb.ScanOne(tx.QueryRow(ctx, "SELECT version FROM registry_aliases WHERE model_id = ? AND alias = ?", m.ID, alias), &before)
	if err != nil && !errors.Is(err, metadb.ErrNotFound) {
		return Alias{}, fmt.Errorf("registry: read alias %s@%s: %w", m.Name, alias, err)
	}
	a := Alias{Model: m.Name, Alias: alias, Version: version, UpdatedBy: actor, UpdatedAt: r.now()}
	if errors.Is(err, metadb.ErrNotFound) {
		_, err = tx.Exec(ctx, "INSERT INTO registry_aliases (model_id, alias, version, updated_by, updated_at_ns) VALUES (?, ?, ?, ?, ?)",
			m.ID, alias, version, actor, a.UpdatedAt.UnixNano())
	} else {
		_, err = tx.Exec(ctx, "UPDATE registry_aliases SET version = ?, updated_by = ?, updated_at_ns = ? WHERE model_id = ? AND alias = ?",
			version, actor, a.UpdatedAt.UnixNano(), m.ID, alias)
	}
	if err != nil {
		return Alias{}, fmt.Errorf("registry: move alias %s@%s: %w", m.Name, alias, err)
	}
	if promo != nil {
		promo.Previous = before
	}
	if err := r.appendChange(ctx, tx, m, "alias.moved", version, alias, actor); err != nil {
		return Alias{}, err
	}
	after := map[string]any{"alias": alias, "version": version}
	if promo != nil {
		after["promotion"] = promo.ID
		after["requested_by"] = promo.RequestedBy
	}
	var beforeState any
	if before != 0 {
		beforeState = map[string]any{"alias": alias, "version": before}
	}
	if _, err := r.log.AppendTx(ctx, tx, audit.Entry{Actor: actor, Action: "model.alias.move", Subject: modelSubject(m.Name), Before: beforeState, After: after}); err != nil {
		return Alias{}, err
	}
	return a, nil
}

// RequestPromotion asks for alias to point at version; a different user with the
// approver role decides. Any alias may be requested; gated ones must be.
func (r *Registry) RequestPromotion(ctx context.Context, p access.Principal, name, alias string, version int, note string) (Promotion, error) {
	const action = "model.promotion.request"
	pr, err := r.requestPromotion(ctx, p, name, alias, version, note)
	if err != nil {
		return Promotion{}, r.refuse(ctx, p, action, modelSubject(name), err, map[string]any{"alias": alias, "version": version})
	}
	return pr, nil
}

func (r *Registry) requestPromotion(ctx context.Context, p access.Principal, name, alias string, version int, note string) (Promotion, error) {
	if err := checkAlias(alias); err != nil {
		return Promotion{}, err
	}
	if len(note) > 4000 {
		return Promotion{}, fmt.Errorf("%w: note is %d bytes, limit 4000", ErrInvalid, len(note))
	}
	m, err := r.visibleModel(ctx, p, name, "model.promotion.request")
	if err != nil {
		return Promotion{}, err
	}
	if err := r.authorize(ctx, p, access.ActionWriteModel, m, "model.promotion.request"); err != nil {
		return Promotion{}, err
	}
	v, err := r.version(ctx, m, version)
	if err != nil {
		return Promotion{}, err
	}
	if r.gated(alias) && len(v.Metrics) == 0 {
		return Promotion{}, fmt.Errorf("%w: %s version %d has no evaluation; a %s needs one (train it on a platform sample, or register it with the metrics of its hold-out test)", ErrInvalid, m.Name, version, alias)
	}
	pr := Promotion{Model: m.Name, Alias: alias, Version: version, State: StatePending, RequestedBy: p.User, RequestedAt: r.now(), Note: note}
	err = r.db.Tx(ctx, func(tx *metadb.Tx) error {
		if _, err := r.lockModel(ctx, tx, m.ID); err != nil {
			return err
		}
		id, err := tx.InsertID(ctx, `INSERT INTO registry_promotions (model_id, alias, version, state, requested_by, requested_at_ns, note)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, m.ID, alias, version, pr.State, pr.RequestedBy, pr.RequestedAt.UnixNano(), note)
		if err != nil {
			return fmt.Errorf("registry: insert promotion: %w", err)
		}
		pr.ID = id
		if err := r.appendChange(ctx, tx, m, "promotion.requested", version, alias, p.User); err != nil {
			return err
		}
		_, err = r.log.AppendTx(ctx, tx, audit.Entry{Actor: p.User, Action: "model.promotion.request", Subject: modelSubject(m.Name), After: pr})
		return err
	})
	if err != nil {
		return Promotion{}, err
	}
	r.notify()
	return pr, nil
}

// Approve accepts a pending promotion and moves the alias in the same
// transaction. The approver must hold the approver role, belong to the owning
// institution (or be a platform administrator) and not be the requester.
func (r *Registry) Approve(ctx context.Context, p access.Principal, id int64, note string) (Promotion, error) {
	return r.decide(ctx, p, id, StateApproved, note)
}

// Reject declines a pending promotion; the same rules as Approve apply.
func (r *Registry) Reject(ctx context.Context, p access.Principal, id int64, reason string) (Promotion, error) {
	return r.decide(ctx, p, id, StateRejected, reason)
}

// Withdraw cancels a pending promotion; only its requester may.
func (r *Registry) Withdraw(ctx context.Context, p access.Principal, id int64, reason string) (Promotion, error) {
	return r.decide(ctx, p, id, StateWithdrawn, reason)
}

var decisionAction = map[string]string{
	StateApproved:  "model.promotion.approve",
	StateRejected:  "model.promotion.reject",
	StateWithdrawn: "model.promotion.withdraw",
}

func (r *Registry) decide(ctx context.Context, p access.Principal, id int64, state, reason string) (Promotion, error) {
	action := decisionAction[state]
	pr, m, err := r.promotion(ctx, p, id, action)
	subject := fmt.Sprintf("promotion:%d", id)
	if err == nil {
		subject = modelSubject(m.Name)
		err = r.checkDecision(ctx, p, pr, m, state)
	}
	if err == nil && state == StateRejected && strings.TrimSpace(reason) == "" {
		err = fmt.Errorf("%w: a rejection needs a reason the requester can act on", ErrInvalid)
	}
	if err == nil && len(reason) > 4000 {
		err = fmt.Errorf("%w: reason is %d bytes, limit 4000", ErrInvalid, len(reason))
	}
	if err != nil {
		return Promotion{}, r.refuse(ctx, p, action, subject, err, map[string]any{"promotion": id})
	}
	before := pr
	err = r.db.Tx(ctx, func(tx *metadb.Tx) error {
		if _, err := r.lockModel(ctx, tx, m.ID); err != nil {
			return err
		}
		now := r.now()
		res, err := tx.Exec(ctx, "UPDATE registry_promotions SET state = ?, decided_by = ?, decided_at_ns = ?, reason = ? WHERE id = ? AND state = ?",
			state, p.User, now.UnixNano(), reason, id, StatePending)
		if err != nil {
			return fmt.Errorf("registry: decide promotion %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: promotion %d is no longer pending", ErrConflict, id)
		}
		pr.State, pr.DecidedBy, pr.DecidedAt, pr.Reason = state, p.User, now, reason
		if err := r.appendChange(ctx, tx, m, "promotion."+state, pr.Version, pr.Alias, p.User); err != nil {
			return err
		}
		if _, err := r.log.AppendTx(ctx, tx, audit.Entry{Actor: p.User, Action: action, Subject: modelSubject(m.Name), Before: before, After: pr}); err != nil {
			return err
		}
		if state == StateApproved {
			if _, err := r.moveAliasTx(ctx, tx, m, pr.Alias, pr.Version, p.User, &pr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Promotion{}, r.refuse(ctx, p, action, subject, err, map[string]any{"promotion": id})
	}
	r.notify()
	return pr, nil
}

func (r *Registry) checkDecision(ctx context.Context, p access.Principal, pr Promotion, m Model, state string) error {
	if pr.State != StatePending {
		return fmt.Errorf("%w: promotion %d is %s, not pending", ErrConflict, pr.ID, pr.State)
	}
	if state == StateWithdrawn {
		if p.User != pr.RequestedBy {
			return forbidden("only %s, who requested promotion %d, may withdraw it", pr.RequestedBy, pr.ID)
		}
		return nil
	}
	if err := r.authorize(ctx, p, access.ActionDecidePromotion, m, decisionAction[state]); err != nil {
		return err
	}
	if p.User == pr.RequestedBy {
		return forbidden("four-eyes rule: %s requested promotion %d and cannot also decide it", p.User, pr.ID)
	}
	return nil
}

// Promotion returns one promotion request.
func (r *Registry) Promotion(ctx context.Context, p access.Principal, id int64) (Promotion, error) {
	pr, _, err := r.promotion(ctx, p, id, "model.promotion.read")
	return pr, err
}

func (r *Registry) promotion(ctx context.Context, p access.Principal, id int64, op string) (Promotion, Model, error) {
	var modelID int64
	err := metadb.ScanOne(r.db.QueryRow(ctx, "SELECT model_id FROM registry_promotions WHERE id = ?", id), &modelID)
	if errors.Is(err, metadb.ErrNotFound) {
		return Promotion{}, Model{}, fmt.Errorf("%w: promotion %d", ErrNotFound, id)
	}
	if err != nil {
		return Promotion{}, Model{}, fmt.Errorf("registry: promotion %d: %w", id, err)
	}
	m, err := scanModel(r.db.QueryRow(ctx, "SELECT "+modelColumns+" FROM registry_models m WHERE id = ?", modelID))
	if err != nil {
		return Promotion{}, Model{}, fmt.Errorf("registry: promotion %d: %w", id, err)
	}
	if err := r.authz.Authorize(ctx, p, access.ActionReadModel, modelResource(m, op)); err != nil {
		if errors.Is(err, access.ErrUnavailable) {
			return Promotion{}, Model{}, fmt.Errorf("registry: authorize: %w", err)
		}
		return Promotion{}, Model{}, access.MarkAudited(fmt.Errorf("%w: promotion %d", ErrNotFound, id))
	}
	prs, err := r.promotions(ctx, m, "id = ?", id)
	if err != nil {
		return Promotion{}, Model{}, err
	}
	return prs[0], m, nil
}

// Promotions lists the promotion requests of a model, newest first; state ""
// means every state.
func (r *Registry) Promotions(ctx context.Context, p access.Principal, name, state string) ([]Promotion, error) {
	m, err := r.visibleModel(ctx, p, name, "model.promotions.read")
	if err != nil {
		return nil, err
	}
	if state == "" {
		return r.promotions(ctx, m, "model_id = ?", m.ID)
	}
	return r.promotions(ctx, m, "model_id = ? AND state = ?", m.ID, state)
}

func (r *Registry) promotions(ctx context.Context, m Model, where string, args ...any) ([]Promotion, error) {
	rows, err := r.db.Query(ctx, `SELECT id, alias, version, state, requested_by, requested_at_ns, note, decided_by, decided_at_ns, reason
		FROM registry_promotions WHERE `+where+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("registry: promotions of %s: %w", m.Name, err)
	}
	defer rows.Close()
	var out []Promotion
	for rows.Next() {
		pr := Promotion{Model: m.Name}
		var req, dec int64
		if err := rows.Scan(&pr.ID, &pr.Alias, &pr.Version, &pr.State, &pr.RequestedBy, &req, &pr.Note, &pr.DecidedBy, &dec, &pr.Reason); err != nil {
			return nil, fmt.Errorf("registry: promotions of %s: %w", m.Name, err)
		}
		pr.RequestedAt = time.Unix(0, req).UTC()
		if dec != 0 {
			pr.DecidedAt = time.Unix(0, dec).UTC()
		}
		out = append(out, pr)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 && where == "id = ?" {
		return nil, fmt.Errorf("%w: promotion %v", ErrNotFound, args[0])
	}
	return out, nil
}

// History returns the audit records of a model and its versions (including
// refused attempts), oldest first.
func (r *Registry) History(ctx context.Context, p access.Principal, name string, limit int) ([]audit.Record, error) {
	if _, err := r.visibleModel(ctx, p, name, "model.history.read"); err != nil {
		return nil, err
	}
	return r.log.List(ctx, audit.Filter{SubjectPrefix: modelSubject(name), Limit: limit})
}
