package cases

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the schema migrations of the case tables.
func Migrations() ([]metadb.Migration, error) {
	return metadb.LoadMigrations(migrationFS, "migrations")
}

// Store keeps cases and their steps in the metadata database; every change is
// written with its audit record in one transaction. Its methods do not check
// who is calling: Service does.
type Store struct {
	db  *metadb.DB
	log *audit.Log
}

// OpenStore migrates the case tables in db; changes are audited into log.
func OpenStore(ctx context.Context, db *metadb.DB, log *audit.Log) (*Store, error) {
	if log == nil {
		return nil, fmt.Errorf("%w: the case store needs the audit log", ErrInvalid)
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, "cases", ms); err != nil {
		return nil, fmt.Errorf("cases: open: %w", err)
	}
	return &Store{db: db, log: log}, nil
}

const caseColumns = `id, kind, state, company, source, key_json, owner_id, opened_by, opened_at_ns, deadline_ns,
	statement, original_json, revision, repair_json, decided_at_ns`

func subject(id int64) string { return fmt.Sprintf("case:%d", id) }

// Insert stores a new case (its first step is c.Steps[0]) and audits it. An open
// case of the same kind for the same record gives ErrState.
func (s *Store) Insert(ctx context.Context, c *Case) error {
	if len(c.Steps) != 1 {
		return fmt.Errorf("%w: a new case has exactly its opening step", ErrInvalid)
	}
	key, _ := json.Marshal(c.Record.Key)
	orig, _ := json.Marshal(c.Original)
	rep := ""
	if c.Repair != nil {
		b, _ := json.Marshal(c.Repair)
		rep = string(b)
	}
	err := s.db.Tx(ctx, func(tx *metadb.Tx) error {
		id, err := tx.InsertID(ctx, `INSERT INTO cases (kind, state, active, company, source, record_key, key_json, owner_id,
			opened_by, opened_at_ns, deadline_ns, statement, original_json, revision, repair_json, updated_at_ns)
			VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			string(c.Kind), string(c.State), c.Company, c.Record.Source, c.Record.String(), string(key), c.Owner,
			c.OpenedBy, c.OpenedAt.UnixNano(), c.Deadline.UnixNano(), c.Statement, string(orig), c.Revision, rep, c.OpenedAt.UnixNano())
		if err != nil {
			if metadb.IsUniqueViolation(err) {
				return fmt.Errorf("%w: an open %s case of %s exists", ErrState, c.Kind, c.Record)
			}
			return err
		}
		c.ID = id
		if err := insertStep(ctx, tx, id, 0, c.Steps[0]); err != nil {
			return err
		}
		_, err = s.log.AppendTx(ctx, tx, audit.Entry{Actor: c.Steps[0].By, Action: "case." + string(c.Kind) + ".open",
			Subject: subject(id), After: auditView(c)})
		return err
	})
	if err != nil {
		return fmt.Errorf("cases: insert: %w", err)
	}
	return nil
}

// auditView is what the audit log keeps of a case.
func auditView(c *Case) map[string]any {
	m := map[string]any{"kind": c.Kind, "state": c.State, "company": c.Company, "record": c.Record.String(),
		"owner": c.Owner, "deadline": c.Deadline.UTC().Format(time.RFC3339), "revision": c.Revision}
	if c.Repair != nil {
		m["rules_version"] = c.Repair.RulesVersion
		m["class"] = c.Repair.Class
	}
	return m
}

func insertStep(ctx context.Context, tx *metadb.Tx, id int64, seq int, e Entry) error {
	vals := ""
	if len(e.Values) > 0 {
		b, _ := json.Marshal(e.Values)
		vals = string(b)
	}
	_, err := tx.Exec(ctx, `INSERT INTO case_steps (case_id, seq, step, state, by_name, user_id, at_ns, note, values_json, batch)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, seq, string(e.Step), string(e.State), e.By, e.UserID, e.At.UnixNano(), e.Note, vals, e.Batch)
	return err
}

// Advance applies step e to case id, which must still be in state from (another
// reviewer may have acted meanwhile: ErrState), moves it to e.State, records the
// step and audits it. deadline, when not zero, replaces the deadline; a step
// into a closed state sets the decision time to e.At.
func (s *Store) Advance(ctx context.Context, id int64, from State, e Entry, deadline time.Time) (*Case, error) {
	var out *Case
	err := s.db.Tx(ctx, func(tx *metadb.Tx) error {
		c, err := getCase(ctx, tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE id = ?`+tx.ForUpdate(), id))
		if err != nil {
			return err
		}
		if c.State != from {
			return fmt.Errorf("%w: case %d is %s now, not %s", ErrState, id, c.State, from)
		}
		before := auditView(c)
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM case_steps WHERE case_id = ?`, id).Scan(&n); err != nil {
			return err
		}
		c.State = e.State
		if !deadline.IsZero() {
			c.Deadline = deadline
		}
		var decided int64
		if !e.State.Open() {
			c.DecidedAt = e.At
			decided = e.At.UnixNano()
		}
		if _, err := tx.Exec(ctx, `UPDATE cases SET state = ?, active = ?, deadline_ns = ?, decided_at_ns = ?, updated_at_ns = ? WHERE id = ?`,
			string(c.State), metadb.Bool(c.State.Open()), c.Deadline.UnixNano(), decided, e.At.UnixNano(), id); err != nil {
			return err
		}
		if err := insertStep(ctx, tx, id, n, e); err != nil {
			return err
		}
		after := auditView(c)
		if e.Batch != "" {
			after["batch"] = e.Batch
		}
		if len(e.Values) > 0 {
			after["values"] = e.Values
		}
		if e.Note != "" {
			after["note"] = e.Note
		}
		if _, err := s.log.AppendTx(ctx, tx, audit.Entry{Actor: e.By, Action: "case." + string(c.Kind) + "." + string(e.Step),
			Subject: subject(id), Before: before, After: after}); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		if errors.Is(err, metadb.ErrNotFound) {
			return nil, fmt.Errorf("%w: case %d", ErrNotFound, id)
		}
		if errors.Is(err, ErrState) {
			return nil, err
		}
		return nil, fmt.Errorf("cases: %s case %d: %w", e.Step, id, err)
	}
	return s.Get(ctx, out.ID)
}

// Get returns case id with its steps.
func (s *Store) Get(ctx context.Context, id int64) (*Case, error) {
	c, err := getCase(ctx, s.db.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE id = ?`, id))
	if errors.Is(err, metadb.ErrNotFound) {
		return nil, fmt.Errorf("%w: case %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("cases: get %d: %w", id, err)
	}
	if err := s.steps(ctx, []*Case{c}); err != nil {
		return nil, err
	}
	return c, nil
}

type scanner interface{ Scan(dest ...any) error }

func getCase(_ context.Context, row *sql.Row) (*Case, error) {
	c, err := scanCase(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, metadb.ErrNotFound
	}
	return c, err
}

func scanCase(row scanner) (*Case, error) {
	var c Case
	var kind, state, key, orig, rep string
	var opened, deadline, decided int64
	if err := row.Scan(&c.ID, &kind, &state, &c.Company, &c.Record.Source, &key, &c.Owner, &c.OpenedBy, &opened, &deadline,
		&c.Statement, &orig, &c.Revision, &rep, &decided); err != nil {
		return nil, err
	}
	c.Kind, c.State = Kind(kind), State(state)
	c.OpenedAt, c.Deadline = time.Unix(0, opened).UTC(), time.Unix(0, deadline).UTC()
	if decided != 0 {
		c.DecidedAt = time.Unix(0, decided).UTC()
	}
	if err := json.Unmarshal([]byte(key), &c.Record.Key); err != nil {
		return nil, fmt.Errorf("case %d key: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(orig), &c.Original); err != nil {
		return nil, fmt.Errorf("case %d original: %w", c.ID, err)
	}
	if rep != "" {
		c.Repair = &Repair{}
		if err := json.Unmarshal([]byte(rep), c.Repair); err != nil {
			return nil, fmt.Errorf("case %d repair: %w", c.ID, err)
		}
	}
	return &c, nil
}

// steps loads the steps of cs, in order.
func (s *Store) steps(ctx context.Context, cs []*Case) error {
	if len(cs) == 0 {
		return nil
	}
	byID := make(map[int64]*Case, len(cs))
	ids := make([]any, len(cs))
	for i, c := range cs {
		byID[c.ID] = c
		ids[i] = c.ID
	}
	q := `SELECT case_id, step, state, by_name, user_id, at_ns, note, values_json, batch FROM case_steps WHERE case_id IN (?` +
		strings.Repeat(", ?", len(ids)-1) + `) ORDER BY case_id, seq`
	rows, err := s.db.Query(ctx, q, ids...)
	if err != nil {
		return fmt.Errorf("cases: steps: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, at int64
		var e Entry
		var step, state, vals string
		if err := rows.Scan(&id, &step, &state, &e.By, &e.UserID, &at, &e.Note, &vals, &e.Batch); err != nil {
			return fmt.Errorf("cases: steps: %w", err)
		}
		e.Step, e.State, e.At = Step(step), State(state), time.Unix(0, at).UTC()
		if vals != "" {
			if err := json.Unmarshal([]byte(vals), &e.Values); err != nil {
				return fmt.Errorf("cases: case %d step values: %w", id, err)
			}
		}
		byID[id].Steps = append(byID[id].Steps, e)
	}
	return rows.Err()
}

// Filter selects cases for List. Zero fields select everything.
type Filter struct {
	Company string
	Owner   int64
	Kind    Kind
	States  []State
	// Limit caps the cases returned, newest first. Default 100, at most 1,000.
	Limit int
}

// List returns the cases f selects, newest first, with their steps.
func (s *Store) List(ctx context.Context, f Filter) ([]*Case, error) {
	var where []string
	var args []any
	if f.Company != "" {
		where, args = append(where, "company = ?"), append(args, f.Company)
	}
	if f.Owner != 0 {
		where, args = append(where, "owner_id = ?"), append(args, f.Owner)
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, string(f.Kind))
	}
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	q := `SELECT ` + caseColumns + ` FROM cases`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", f.Limit)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cases: list: %w", err)
	}
	var out []*Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("cases: list: %w", err)
		}
		out = append(out, c)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("cases: list: %w", err)
	}
	if err := s.steps(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Disputed lists the records of company under an open objection (异议标注).
func (s *Store) Disputed(ctx context.Context, company string) ([]Dispute, error) {
	rows, err := s.db.Query(ctx, `SELECT id, source, key_json, opened_at_ns, deadline_ns FROM cases
		WHERE company = ? AND kind = ? AND active = 1 ORDER BY id`, company, string(KindObjection))
	if err != nil {
		return nil, fmt.Errorf("cases: disputed: %w", err)
	}
	defer rows.Close()
	out := []Dispute{}
	for rows.Next() {
		var d Dispute
		var key string
		var opened, deadline int64
		if err := rows.Scan(&d.Case, &d.Record.Source, &key, &opened, &deadline); err != nil {
			return nil, fmt.Errorf("cases: disputed: %w", err)
		}
		if err := json.Unmarshal([]byte(key), &d.Record.Key); err != nil {
			return nil, fmt.Errorf("cases: case %d key: %w", d.Case, err)
		}
		d.Since, d.Deadline = time.Unix(0, opened).UTC(), time.Unix(0, deadline).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}
