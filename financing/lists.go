package financing

import (
	"context"
	"fmt"
	"slices"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// List kinds.
const (
	listGuarantor = "guarantor" // a guarantee institution's whitelist
	listSupport   = "support"   // a government list of firms to support (培育池)
)

// SupportList is a government list of firms to support (培育池), pushed to every
// participating bank: their inboxes mark its members.
type SupportList struct {
	ID    int64    `json:"id"`
	Name  string   `json:"name"`
	Codes []string `json:"codes"`
}

// codes validates, normalizes and deduplicates company codes, bounded by
// Options.MaxBatch.
func (s *Store) codes(in []string) ([]string, error) {
	if len(in) > s.opts.MaxBatch {
		return nil, fmt.Errorf("%w: %d company codes, at most %d", ErrInvalid, len(in), s.opts.MaxBatch)
	}
	out := make([]string, 0, len(in))
	for i, c := range in {
		code, err := company(c)
		if err != nil {
			return nil, fmt.Errorf("code %d: %w", i+1, err)
		}
		out = append(out, code)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (s *Store) replaceList(ctx context.Context, tx *metadb.Tx, owner int64, kind, name, actor string, codes []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM financing_list_codes WHERE list_id IN (SELECT id FROM financing_lists WHERE owner_id = ? AND kind = ? AND name = ?)`,
		owner, kind, name); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM financing_lists WHERE owner_id = ? AND kind = ? AND name = ?`, owner, kind, name); err != nil {
		return err
	}
	if len(codes) == 0 {
		return nil
	}
	id, err := tx.InsertID(ctx, `INSERT INTO financing_lists (owner_id, kind, name, created_by, created_at_ns) VALUES (?, ?, ?, ?, ?)`,
		owner, kind, name, actor, ns(s.now()))
	if err != nil {
		return err
	}
	for _, c := range codes {
		if _, err := tx.Exec(ctx, `INSERT INTO financing_list_codes (list_id, code) VALUES (?, ?)`, id, c); err != nil {
			return err
		}
	}
	return nil
}

// PushSupportList records (or replaces) a regulator's list of firms to support;
// every participating bank's inbox marks its members.
func (s *Store) PushSupportList(ctx context.Context, p access.Principal, name string, codes []string) (SupportList, error) {
	res := access.Resource{Kind: "financing.support", ID: name, Operation: "financing.support.push"}
	if err := s.allow(ctx, p, access.ActionFinancingStats, res); err != nil {
		return SupportList{}, err
	}
	if !productNameRE.MatchString(name) {
		return SupportList{}, fmt.Errorf("%w: list name %q", ErrInvalid, name)
	}
	cs, err := s.codes(codes)
	if err != nil {
		return SupportList{}, err
	}
	l := SupportList{Name: name, Codes: cs}
	err = s.change(ctx, &audit.Entry{Actor: p.Actor(), Action: "financing.support.push", Subject: "financing.support:" + name}, func(tx *metadb.Tx) (any, error) {
		if err := s.replaceList(ctx, tx, p.InstitutionID, listSupport, name, p.Actor(), cs); err != nil {
			return nil, err
		}
		return map[string]any{"name": name, "codes": len(cs)}, nil
	})
	if err != nil {
		return SupportList{}, fmt.Errorf("financing: support list: %w", err)
	}
	return l, nil
}

// supported returns, per company code among codes, the names of the support
// lists it is on.
func (s *Store) supported(ctx context.Context) (map[string][]string, error) {
	rows, err := s.db.Query(ctx, `SELECT c.code, l.name FROM financing_lists l JOIN financing_list_codes c ON c.list_id = l.id WHERE l.kind = ?`, listSupport)
	if err != nil {
		return nil, fmt.Errorf("financing: support lists: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var code, name string
		if err := rows.Scan(&code, &name); err != nil {
			return nil, err
		}
		out[code] = append(out[code], name)
	}
	return out, rows.Err()
}
