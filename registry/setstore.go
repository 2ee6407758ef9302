package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// IndicatorCatalog is the optional ability of a FeatureSets to say whether an id
// is a catalog indicator. Without it a published set may hold request features
// only.
type IndicatorCatalog interface {
	Known(id string) bool
}

// BuiltInSets is the optional ability of a FeatureSets to list the built-in sets
// as definitions (indicators only), for listings.
type BuiltInSets interface {
	Definitions() []features.SetDefinition
}

func setSubject(ref features.SetRef) string { return "feature_set:" + ref.String() }

func setResource(d *features.SetDefinition, op string) access.Resource {
	return access.Resource{Kind: "feature_set", ID: d.Name, Owner: d.Owner, Shared: d.Shared, Operation: op}
}

// PublishFeatureSet stores def as the next version of the run-time feature set
// def.Name for the caller's institution (def.Owner, when set, for a platform
// administrator). A name is owned by the institution that published its first
// version; built-in names are taken. def.Version, when given, must be the next
// version (a guard against two publishers racing). A published version is never
// changed. Refusals are audited.
func (r *Registry) PublishFeatureSet(ctx context.Context, p access.Principal, def features.SetDefinition) (features.SetDefinition, error) {
	const op = "featureset.publish"
	d, err := r.publishFeatureSet(ctx, p, def)
	if err != nil {
		return features.SetDefinition{}, r.refuse(ctx, p, op, setSubject(def.Ref()), err, nil)
	}
	return d, nil
}

func (r *Registry) publishFeatureSet(ctx context.Context, p access.Principal, d features.SetDefinition) (features.SetDefinition, error) {
	var known func(string) bool
	if ic, ok := r.features.(IndicatorCatalog); ok {
		known = ic.Known
	}
	d.Features = slices.Clone(d.Features)
	if err := d.Validate(known); err != nil {
		return features.SetDefinition{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if d.Owner == 0 || !p.PlatformWide() {
		d.Owner = p.InstitutionID
	}
	d.BuiltIn = false
	if err := r.authz.Authorize(ctx, p, access.ActionPublishFeatureSet, setResource(&d, "featureset.publish")); err != nil {
		if errors.Is(err, access.ErrUnavailable) {
			return features.SetDefinition{}, fmt.Errorf("registry: authorize: %w", err)
		}
		return features.SetDefinition{}, fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	if _, _, err := r.features.FeatureSet(ctx, features.SetRef{Name: d.Name}); err == nil {
		return features.SetDefinition{}, fmt.Errorf("%w: %q is a built-in feature set; choose another name", ErrConflict, d.Name)
	} else if !errors.Is(err, ErrUnknownFeatureSet) {
		return features.SetDefinition{}, fmt.Errorf("registry: feature set %s: %w", d.Name, err)
	}
	body, err := json.Marshal(storedSet{Description: d.Description, Features: d.Features})
	if err != nil {
		return features.SetDefinition{}, fmt.Errorf("registry: encode feature set: %w", err)
	}
	want := d.Version
	now := r.now()
	err = r.db.Tx(ctx, func(tx *metadb.Tx) error {
		var latest int
		var owner int64
		err := tx.QueryRow(ctx, `SELECT version, owner_id FROM registry_feature_sets WHERE name = ? ORDER BY version DESC LIMIT 1`, d.Name).Scan(&latest, &owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("registry: feature set %s: %w", d.Name, err)
		case owner != d.Owner:
			// The same answer as for a name nobody may see: the name is taken.
			return fmt.Errorf("%w: feature set name %q is taken; choose another", ErrConflict, d.Name)
		}
		d.Version = latest + 1
		if want != 0 && want != d.Version {
			return fmt.Errorf("%w: feature set %s: version %d asked, the next version is %d (published versions never change)", ErrConflict, d.Name, want, d.Version)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO registry_feature_sets (name, version, owner_id, shared, definition_json, created_by, created_at_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, d.Name, d.Version, d.Owner, metadb.Bool(d.Shared), string(body), p.User, now.UnixNano()); err != nil {
			return fmt.Errorf("registry: store feature set %s: %w", d.Ref(), err)
		}
		_, err = r.log.AppendTx(ctx, tx, audit.Entry{Actor: p.User, Action: "featureset.publish", Subject: setSubject(d.Ref()), After: d})
		return err
	})
	if err != nil {
		return features.SetDefinition{}, err
	}
	return d, nil
}

// FeatureSetDefinition returns the feature set ref names as the caller p may see
// it: a built-in set (visible to all) or a run-time set of p's institution or a
// shared one. A bare name is the latest version. A set p may not see is
// ErrNotFound, audited.
func (r *Registry) FeatureSetDefinition(ctx context.Context, p access.Principal, ref features.SetRef) (features.SetDefinition, error) {
	d, err := r.resolveSet(ctx, &p, ref)
	if err != nil {
		if errors.Is(err, ErrUnknownFeatureSet) {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return features.SetDefinition{}, r.refuse(ctx, p, "featureset.read", setSubject(ref), err, nil)
	}
	return d, nil
}

// FeatureSetDefinitions lists the sets p may see: every built-in set, then the
// run-time versions of p's institution and the shared ones, by name and version.
func (r *Registry) FeatureSetDefinitions(ctx context.Context, p access.Principal) ([]features.SetDefinition, error) {
	var out []features.SetDefinition
	if b, ok := r.features.(BuiltInSets); ok {
		out = append(out, b.Definitions()...)
	}
	rows, err := r.db.Query(ctx, `SELECT name, version, owner_id, shared, definition_json FROM registry_feature_sets ORDER BY name, version`)
	if err != nil {
		return nil, fmt.Errorf("registry: list feature sets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanSet(rows)
		if err != nil {
			return nil, err
		}
		if _, err := access.Decide(p, access.ActionReadFeatureSet, setResource(&d, "")); err == nil {
			out = append(out, d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: list feature sets: %w", err)
	}
	return out, nil
}

// storedSet is the definition_json of a stored version.
type storedSet struct {
	Description string                `json:"description"`
	Features    []features.SetFeature `json:"features"`
}

func scanSet(s scanner) (features.SetDefinition, error) {
	var d features.SetDefinition
	var shared int
	var body string
	if err := s.Scan(&d.Name, &d.Version, &d.Owner, &shared, &body); err != nil {
		return d, err
	}
	d.Shared = shared != 0
	var st storedSet
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return d, fmt.Errorf("registry: feature set %s: stored definition: %w", d.Ref(), err)
	}
	d.Description, d.Features = st.Description, st.Features
	return d, nil
}

// resolveSet finds ref among the built-in sets, then among the run-time sets p
// may read (p nil: built-in sets only). A set p may not read is unknown to p.
// Errors for a missing set wrap ErrUnknownFeatureSet.
func (r *Registry) resolveSet(ctx context.Context, p *access.Principal, ref features.SetRef) (features.SetDefinition, error) {
	exact, cols, err := r.features.FeatureSet(ctx, ref)
	if err == nil {
		d := features.SetDefinition{Name: exact.Name, Version: exact.Version, Shared: true, BuiltIn: true,
			Features: make([]features.SetFeature, len(cols))}
		for i, c := range cols {
			d.Features[i] = features.SetFeature{Indicator: c}
		}
		return d, nil
	}
	if !errors.Is(err, ErrUnknownFeatureSet) {
		return features.SetDefinition{}, err
	}
	if p == nil || ref.Version < 0 {
		return features.SetDefinition{}, err
	}
	q := `SELECT name, version, owner_id, shared, definition_json FROM registry_feature_sets WHERE name = ? AND version = ?`
	args := []any{ref.Name, ref.Version}
	if ref.Latest() {
		q = `SELECT name, version, owner_id, shared, definition_json FROM registry_feature_sets WHERE name = ? ORDER BY version DESC LIMIT 1`
		args = args[:1]
	}
	d, serr := scanSet(r.db.QueryRow(ctx, q, args...))
	if errors.Is(serr, sql.ErrNoRows) {
		return features.SetDefinition{}, err
	}
	if serr != nil {
		return features.SetDefinition{}, fmt.Errorf("registry: feature set %s: %w", ref, serr)
	}
	if _, derr := access.Decide(*p, access.ActionReadFeatureSet, setResource(&d, "")); derr != nil {
		return features.SetDefinition{}, err // private to another institution: unknown to p
	}
	return d, nil
}
