package warnings

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// batchHashPrefix marks the values hash of a warning whose evidence holds
// records of a batch: a later as-of date that updates it keeps them.
const batchHashPrefix = "batch:"

// BatchOf names the batch that opened a warning on arrival, as stored.
func BatchOf(source, id string) string { return source + "/" + id }

// ApplyBatch records what one committed batch fired: a firing of a rule and
// company with an open warning changes nothing (the warning stays as it is),
// one without opens a warning from the batch's arrival date with the records as
// evidence. A batch is applied once (Changes.Already after). A batch that
// arrived before the latest as-of date applied was seen by that date's
// evaluation: it is recorded as covered and fires nothing. Nothing is closed:
// only an as-of evaluation closes.
func (s *Store) ApplyBatch(ctx context.Context, be *BatchEvaluation) (*Changes, error) {
	ch := &Changes{AsOf: be.Arrival}
	now := s.now().UnixNano()
	by := BatchOf(be.Source, be.Batch)
	err := s.db.Tx(ctx, func(tx *metadb.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM warning_batches WHERE source = ? AND batch_id = ?`, be.Source, be.Batch).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			ch.Already = true
			return nil
		}
		var latest sql.NullString
		if err := tx.QueryRow(ctx, `SELECT MAX(asof) FROM warning_evaluations`).Scan(&latest); err != nil {
			return err
		}
		covered := latest.Valid && be.Arrival < latest.String
		if !covered {
			for i := range be.Firings {
				f := &be.Firings[i]
				var id int64
				err := tx.QueryRow(ctx, `SELECT id FROM warnings WHERE state = 'open' AND rule_id = ? AND company = ?`, f.Rule, f.Company).Scan(&id)
				if err == nil {
					ch.Seen++
					continue
				}
				if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				b, err := json.Marshal(f.Evidence)
				if err != nil {
					return err
				}
				h, err := valuesHash(f.Evidence)
				if err != nil {
					return err
				}
				w := &Warning{Rule: f.Rule, Company: f.Company, Severity: f.Severity, Area: f.Area, District: f.District, Industry: f.Industry,
					RulesVersion: be.Version, State: StateOpen, OpenedAsOf: be.Arrival, LastSeenAsOf: be.Arrival, Evidence: b,
					valuesHash: batchHashPrefix + h, OpenedBy: by}
				if err := tx.QueryRow(ctx, `INSERT INTO warnings (rule_id, company, severity, area, district, industry, rules_version, state, opened_asof,
					last_seen_asof, created_at_ns, updated_at_ns, opened_by) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?) RETURNING id`,
					w.Rule, w.Company, string(w.Severity), w.Area, w.District, w.Industry, w.RulesVersion, w.OpenedAsOf, w.LastSeenAsOf, now, now, by).Scan(&w.ID); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO warning_evidence (warning_id, values_hash, evidence_json) VALUES (?, ?, ?)`,
					w.ID, w.valuesHash, string(w.Evidence)); err != nil {
					return err
				}
				ch.Opened = append(ch.Opened, w)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO warning_batches (source, batch_id, arrival, rules_version, records, firings, opened, covered, applied_at_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, be.Source, be.Batch, be.Arrival, be.Version, be.Records, len(be.Firings), len(ch.Opened), boolInt(covered), now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("warnings: apply batch %s of %s: %w", be.Batch, be.Source, err)
	}
	sortWarnings(ch.Opened)
	return ch, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// BatchAlerts returns the warnings a batch opened, for notifying subscribers,
// and whether they were handed to the notifier (BatchNotified).
func (s *Store) BatchAlerts(ctx context.Context, source, id string) (*Changes, bool, error) {
	var (
		arrival  string
		notified int
	)
	err := s.db.QueryRow(ctx, `SELECT arrival, notified FROM warning_batches WHERE source = ? AND batch_id = ?`, source, id).Scan(&arrival, &notified)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, fmt.Errorf("%w: batch %s of %s not applied", ErrNotFound, id, source)
	}
	if err != nil {
		return nil, false, fmt.Errorf("warnings: alerts of batch %s: %w", id, err)
	}
	ch := &Changes{AsOf: arrival}
	rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM warnings WHERE opened_by = ? ORDER BY id`, BatchOf(source, id))
	if err != nil {
		return nil, false, fmt.Errorf("warnings: alerts of batch %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		w, err := scanWarning(rows)
		if err != nil {
			return nil, false, err
		}
		ch.Opened = append(ch.Opened, w)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return ch, notified != 0, s.lastSeen(ctx, ch.Opened)
}

// BatchNotified records that a batch's alerts were handed to the notifier.
func (s *Store) BatchNotified(ctx context.Context, source, id string) error {
	if _, err := s.db.Exec(ctx, `UPDATE warning_batches SET notified = 1 WHERE source = ? AND batch_id = ?`, source, id); err != nil {
		return fmt.Errorf("warnings: mark batch %s notified: %w", id, err)
	}
	return nil
}

// BatchesApplied returns the ids of a source's batches applied so far.
func (s *Store) BatchesApplied(ctx context.Context, source string) (map[string]bool, error) {
	rows, err := s.db.Query(ctx, `SELECT batch_id FROM warning_batches WHERE source = ?`, source)
	if err != nil {
		return nil, fmt.Errorf("warnings: batches of %s: %w", source, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// keepRecords returns evidence b (JSON) with the batch and records of old
// (JSON) added, so an as-of date updating a warning opened on arrival keeps
// the records it rests on.
func keepRecords(b []byte, old string) ([]byte, error) {
	var o Evidence
	if err := json.Unmarshal([]byte(old), &o); err != nil || o.Batch == nil {
		return b, nil
	}
	var e Evidence
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	e.Batch, e.Records, e.RecordCount = o.Batch, o.Records, o.RecordCount
	return json.Marshal(e)
}

func sameValues(stored, h string) bool { return strings.TrimPrefix(stored, batchHashPrefix) == h }
