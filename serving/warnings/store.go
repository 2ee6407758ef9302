package warnings

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/metadb"
)

var (
	// ErrNotFound: no such warning.
	ErrNotFound = errors.New("warnings: not found")
	// ErrOutOfOrder: an evaluation older than one already applied.
	ErrOutOfOrder = errors.New("warnings: evaluation out of order")
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// The states of a warning.
const (
	StateOpen   = "open"
	StateClosed = "closed"
)

// Warning is one warning's life: opened at the first date its rule fired for the
// company, last seen at the latest date it still fired (for an open warning, the
// latest date applied), closed at the first date it no longer did.
type Warning struct {
	ID           int64           `json:"id"`
	Rule         string          `json:"rule"`
	Company      string          `json:"company"`
	Severity     Severity        `json:"severity"`
	Area         string          `json:"area"`
	District     string          `json:"district,omitempty"`
	Industry     string          `json:"industry,omitempty"`
	RulesVersion string          `json:"rules_version"`
	State        string          `json:"state"`
	OpenedAsOf   string          `json:"opened_as_of"`
	LastSeenAsOf string          `json:"last_seen_as_of"`
	ClosedAsOf   string          `json:"closed_as_of,omitempty"`
	Evidence     json.RawMessage `json:"evidence"`
	AckedBy      string          `json:"acknowledged_by,omitempty"`
	AckedAt      *time.Time      `json:"acknowledged_at,omitempty"`
	// OpenedBy names the batch ("source/id") that opened the warning on its
	// arrival; empty for a warning an as-of evaluation opened.
	OpenedBy string `json:"opened_by,omitempty"`

	valuesHash string
}

// Changes are what applying one date did: the alerts to send.
type Changes struct {
	AsOf string `json:"as_of"`
	// Already is true when the date had been applied before; nothing changed.
	Already bool       `json:"already,omitempty"`
	Opened  []*Warning `json:"opened"`
	// Updated are unacknowledged open warnings whose evidence changed; an
	// acknowledged warning is updated silently.
	Updated []*Warning `json:"updated"`
	// Closed warnings carry no evidence here (Get, List and Alerts give it).
	Closed []*Warning `json:"closed"`
	// Seen counts open warnings that still fired (updated or not).
	Seen int `json:"seen"`
}

// Store keeps warnings in the metadata database.
type Store struct {
	db  *metadb.DB
	now func() time.Time
}

// Open migrates the warning tables in db.
func Open(ctx context.Context, db *metadb.DB) (*Store, error) {
	ms, err := metadb.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, "warnings", ms); err != nil {
		return nil, fmt.Errorf("warnings: open: %w", err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// Applied returns the dates applied so far, oldest first.
func (s *Store) Applied(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT asof FROM warning_evaluations ORDER BY asof`)
	if err != nil {
		return nil, fmt.Errorf("warnings: applied dates: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

type openRow struct {
	id       int64
	evidence string
	acked    bool
	w        *Warning
}

// Apply records one date's evaluation: a firing with an open warning of its rule
// and company updates it (last seen, evidence), one without opens a warning, and
// an open warning whose rule no longer fires is closed. Dates must be applied in
// order; applying a date again changes nothing (Changes.Already). Writes go in
// batches, so a region's month is a few hundred statements.
func (s *Store) Apply(ctx context.Context, ev *Evaluation) (*Changes, error) {
	ch := &Changes{AsOf: ev.AsOf}
	now := s.now().UnixNano()
	err := s.db.Tx(ctx, func(tx *metadb.Tx) error {
		var latest string
		rows, err := tx.Query(ctx, `SELECT asof FROM warning_evaluations ORDER BY asof DESC LIMIT 1`)
		if err != nil {
			return err
		}
		if rows.Next() {
			if err := rows.Scan(&latest); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		switch {
		case latest == ev.AsOf:
			ch.Already = true
			return nil
		case latest > ev.AsOf:
			return fmt.Errorf("%w: %s is before %s, already applied", ErrOutOfOrder, ev.AsOf, latest)
		}
		open := map[key]*Warning{}
		// An open warning fired at the latest applied date (or it would have been
		// closed), so its last-seen date is that date: only a closing writes it.
		rows, err = tx.Query(ctx, `SELECT `+openColumns+` FROM warnings w JOIN warning_evidence e ON e.warning_id = w.id WHERE w.state = 'open'`)
		if err != nil {
			return err
		}
		for rows.Next() {
			w, err := scanOpen(rows)
			if err != nil {
				rows.Close()
				return err
			}
			open[key{w.Rule, w.Company}] = w
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var (
			changed []*Warning
			opened  []*Warning
			seen    = make(map[key]bool, len(ev.Firings))
		)
		for i := range ev.Firings {
			f := &ev.Firings[i]
			k := key{f.Rule, f.Company}
			if seen[k] {
				return fmt.Errorf("%w: rule %s fired twice for %s", ErrInput, f.Rule, f.Company)
			}
			seen[k] = true
			b, err := json.Marshal(f.Evidence)
			if err != nil {
				return err
			}
			h, err := valuesHash(f.Evidence)
			if err != nil {
				return err
			}
			if w, ok := open[k]; ok {
				ch.Seen++
				same := sameValues(w.valuesHash, h)
				if !same && strings.HasPrefix(w.valuesHash, batchHashPrefix) {
					// Opened on a batch's arrival: keep the records it rests on.
					var old string
					if err := tx.QueryRow(ctx, `SELECT evidence_json FROM warning_evidence WHERE warning_id = ?`, w.ID).Scan(&old); err != nil {
						return err
					}
					if b, err = keepRecords(b, old); err != nil {
						return err
					}
					h = batchHashPrefix + h
				}
				w.LastSeenAsOf, w.Evidence, w.valuesHash = ev.AsOf, b, h
				if !same {
					changed = append(changed, w)
					if w.AckedBy == "" {
						ch.Updated = append(ch.Updated, w)
					}
				}
				continue
			}
			opened = append(opened, &Warning{Rule: f.Rule, Company: f.Company, Severity: f.Severity, Area: f.Area, District: f.District, Industry: f.Industry,
				RulesVersion: ev.Version,
				State:        StateOpen, OpenedAsOf: ev.AsOf, LastSeenAsOf: ev.AsOf, Evidence: b, valuesHash: h})
		}
		var closed []int64
		for k, w := range open {
			// A warning a batch opened after this date is not this date's to close.
			if !seen[k] && w.OpenedAsOf <= ev.AsOf {
				w.State, w.ClosedAsOf, w.LastSeenAsOf = StateClosed, ev.AsOf, max(latest, w.OpenedAsOf)
				ch.Closed = append(ch.Closed, w)
				closed = append(closed, w.ID)
			}
		}
		if tx.Dialect() == metadb.SQLite {
			// SQLite is in process: one prepared statement per row is its fastest
			// way; PostgreSQL takes the rows in batches (below).
			for _, w := range changed {
				if _, err := tx.Exec(ctx, `UPDATE warning_evidence SET evidence_json = ?, values_hash = ? WHERE warning_id = ?`,
					string(w.Evidence), w.valuesHash, w.ID); err != nil {
					return err
				}
			}
			changed = nil
		}
		if err := inChunks(changed, 500, func(ws []*Warning) error {
			args := make([]any, 0, 3*len(ws))
			vals := make([]string, len(ws))
			for i, w := range ws {
				vals[i] = "(CAST(? AS BIGINT), ?, ?)"
				args = append(args, w.ID, string(w.Evidence), w.valuesHash)
			}
			// VALUES names its columns column1, column2, … in SQLite and PostgreSQL alike.
			_, err := tx.Exec(ctx, `UPDATE warning_evidence SET evidence_json = v.column2, values_hash = v.column3
				FROM (VALUES `+strings.Join(vals, ", ")+`) AS v WHERE warning_evidence.warning_id = v.column1`, args...)
			return err
		}); err != nil {
			return err
		}
		if err := inChunks(closed, 500, func(ids []int64) error {
			// A warning opened on a batch's arrival after the latest date was last
			// seen on its opening.
			_, err := tx.Exec(ctx, `UPDATE warnings SET state = 'closed', closed_asof = ?,
				last_seen_asof = CASE WHEN opened_asof > ? THEN opened_asof ELSE ? END, updated_at_ns = ? WHERE id IN (`+
				marks(len(ids))+`)`, append([]any{ev.AsOf, latest, latest, now}, anys(ids)...)...)
			return err
		}); err != nil {
			return err
		}
		if err := inChunks(opened, 300, func(ws []*Warning) error {
			args := make([]any, 0, 10*len(ws))
			vals := make([]string, len(ws))
			byKey := make(map[key]*Warning, len(ws))
			for i, w := range ws {
				vals[i] = "(?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)"
				args = append(args, w.Rule, w.Company, string(w.Severity), w.Area, w.District, w.Industry, w.RulesVersion, ev.AsOf, ev.AsOf, now, now)
				byKey[key{w.Rule, w.Company}] = w
			}
			rows, err := tx.Query(ctx, `INSERT INTO warnings (rule_id, company, severity, area, district, industry, rules_version, state, opened_asof, last_seen_asof,
				created_at_ns, updated_at_ns) VALUES `+strings.Join(vals, ", ")+` RETURNING id, rule_id, company`, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var (
					id int64
					k  key
				)
				if err := rows.Scan(&id, &k.rule, &k.company); err != nil {
					return err
				}
				if w := byKey[k]; w != nil {
					w.ID = id
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			rows.Close()
			args = args[:0]
			for i, w := range ws {
				vals[i] = "(?, ?, ?)"
				args = append(args, w.ID, w.valuesHash, string(w.Evidence))
			}
			_, err = tx.Exec(ctx, `INSERT INTO warning_evidence (warning_id, values_hash, evidence_json) VALUES `+strings.Join(vals, ", "), args...)
			return err
		}); err != nil {
			return err
		}
		ch.Opened = opened
		_, err = tx.Exec(ctx, `INSERT INTO warning_evaluations (asof, prev_asof, rules_version, companies, firings, opened, updated, closed, applied_at_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ev.AsOf, ev.PrevAsOf, ev.Version, ev.Companies, len(ev.Firings), len(ch.Opened), len(ch.Updated), len(ch.Closed), now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("warnings: apply %s: %w", ev.AsOf, err)
	}
	sortWarnings(ch.Opened)
	sortWarnings(ch.Updated)
	sortWarnings(ch.Closed)
	return ch, nil
}

type key struct{ rule, company string }

func inChunks[T any](xs []T, n int, fn func([]T) error) error {
	for len(xs) > 0 {
		k := min(n, len(xs))
		if err := fn(xs[:k]); err != nil {
			return err
		}
		xs = xs[k:]
	}
	return nil
}

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anys(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// valuesHash identifies the values of evidence (its dates move every time and
// do not count): a lasting warning whose values stay the same is not rewritten.
func valuesHash(e Evidence) (string, error) {
	b, err := json.Marshal(e.Values)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8]), nil
}

func sortWarnings(ws []*Warning) {
	slices.SortFunc(ws, func(a, b *Warning) int { return cmp.Compare(a.ID, b.ID) })
}

const columns = `id, rule_id, company, severity, area, district, industry, rules_version, state, opened_asof, last_seen_asof, closed_asof,
	COALESCE((SELECT evidence_json FROM warning_evidence WHERE warning_evidence.warning_id = warnings.id), '{}'), acked_by, acked_at_ns, opened_by`

const openColumns = `w.id, w.rule_id, w.company, w.severity, w.area, w.district, w.industry, w.rules_version, w.opened_asof, e.values_hash,
	w.acked_by`

func scanOpen(r scanner) (*Warning, error) {
	var (
		w   = Warning{State: StateOpen}
		sev string
	)
	if err := r.Scan(&w.ID, &w.Rule, &w.Company, &sev, &w.Area, &w.District, &w.Industry, &w.RulesVersion, &w.OpenedAsOf, &w.valuesHash, &w.AckedBy); err != nil {
		return nil, err
	}
	w.Severity = Severity(sev)
	return &w, nil
}

type scanner interface{ Scan(...any) error }

func scanWarning(r scanner) (*Warning, error) {
	var (
		w       Warning
		sev, ev string
		ackedNs int64
	)
	if err := r.Scan(&w.ID, &w.Rule, &w.Company, &sev, &w.Area, &w.District, &w.Industry, &w.RulesVersion, &w.State, &w.OpenedAsOf, &w.LastSeenAsOf, &w.ClosedAsOf,
		&ev, &w.AckedBy, &ackedNs, &w.OpenedBy); err != nil {
		return nil, err
	}
	w.Severity, w.Evidence = Severity(sev), json.RawMessage(ev)
	if ackedNs != 0 {
		t := time.Unix(0, ackedNs).UTC()
		w.AckedAt = &t
	}
	return &w, nil
}

// Get returns one warning.
func (s *Store) Get(ctx context.Context, id int64) (*Warning, error) {
	w, err := scanWarning(s.db.QueryRow(ctx, `SELECT `+columns+` FROM warnings WHERE id = ?`, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: warning %d", ErrNotFound, id)
		}
		return nil, fmt.Errorf("warnings: get %d: %w", id, err)
	}
	return w, s.lastSeen(ctx, []*Warning{w})
}

// lastSeen sets the last-seen date of open warnings: the latest date applied.
func (s *Store) lastSeen(ctx context.Context, ws []*Warning) error {
	var latest sql.NullString
	if err := s.db.QueryRow(ctx, `SELECT MAX(asof) FROM warning_evaluations`).Scan(&latest); err != nil {
		return fmt.Errorf("warnings: latest date: %w", err)
	}
	for _, w := range ws {
		if w.State == StateOpen && latest.Valid {
			w.LastSeenAsOf = max(latest.String, w.OpenedAsOf)
		}
	}
	return nil
}

// Ack records that user acknowledged a warning: while it stays open its updates
// are no longer alerted. Acknowledging again keeps the first acknowledgement.
func (s *Store) Ack(ctx context.Context, id int64, user string) (*Warning, error) {
	if strings.TrimSpace(user) == "" {
		return nil, fmt.Errorf("%w: acknowledging warning %d needs a user", ErrInput, id)
	}
	res, err := s.db.Exec(ctx, `UPDATE warnings SET acked_by = ?, acked_at_ns = ?, updated_at_ns = ? WHERE id = ? AND acked_by = ''`,
		user, s.now().UnixNano(), s.now().UnixNano(), id)
	if err != nil {
		return nil, fmt.Errorf("warnings: ack %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Get(ctx, id); err != nil {
			return nil, err
		}
	}
	return s.Get(ctx, id)
}

// Filter selects warnings; zero fields select all.
type Filter struct {
	Company   string
	Companies []string
	Severity  Severity
	State     string
	Rule      string
	Area      string
	District  string
	Industry  string
	// AfterID pages: only warnings with a larger id.
	AfterID int64
	// BeforeID pages newest first: only warnings with a smaller id.
	BeforeID int64
	// Newest orders the answer by id descending (newest first).
	Newest bool
	// Limit caps the answer (0: 1,000).
	Limit int
}

// List returns warnings matching f in id order (newest first with f.Newest).
func (s *Store) List(ctx context.Context, f Filter) ([]*Warning, error) {
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q := `SELECT ` + columns + ` FROM warnings`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	order := "id"
	if f.Newest {
		order = "id DESC"
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", order, limit)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("warnings: list: %w", err)
	}
	defer rows.Close()
	var out []*Warning
	for rows.Next() {
		w, err := scanWarning(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.lastSeen(ctx, out)
}

// where is f as SQL conditions and their arguments.
func (f Filter) where() ([]string, []any, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.Company != "" {
		add("company = ?", f.Company)
	}
	if len(f.Companies) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(f.Companies)), ", ")
		where = append(where, "company IN ("+ph+")")
		for _, c := range f.Companies {
			args = append(args, c)
		}
	}
	if f.Severity != "" {
		switch f.Severity {
		case Red, Yellow, Blue:
		default:
			return nil, nil, fmt.Errorf("%w: severity %q is not red, yellow or blue", ErrInput, f.Severity)
		}
		add("severity = ?", string(f.Severity))
	}
	if f.State != "" {
		if f.State != StateOpen && f.State != StateClosed {
			return nil, nil, fmt.Errorf("%w: state %q is not open or closed", ErrInput, f.State)
		}
		add("state = ?", f.State)
	}
	if f.Rule != "" {
		add("rule_id = ?", f.Rule)
	}
	if f.Area != "" {
		add("area = ?", f.Area)
	}
	if f.District != "" {
		add("district = ?", f.District)
	}
	if f.Industry != "" {
		add("industry = ?", f.Industry)
	}
	if f.AfterID > 0 {
		add("id > ?", f.AfterID)
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	return where, args, nil
}

// Count is the number of warnings of one severity, district, industry and rule.
type Count struct {
	Severity Severity
	District string
	Industry string
	Rule     string
	N        int
}

// Counts counts the warnings matching f (its paging and limit aside) by
// severity, district, industry and rule: a region's warnings at a glance.
func (s *Store) Counts(ctx context.Context, f Filter) ([]Count, error) {
	f.AfterID, f.BeforeID = 0, 0
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	q := `SELECT severity, district, industry, rule_id, COUNT(*) FROM warnings`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += ` GROUP BY severity, district, industry, rule_id ORDER BY severity, district, industry, rule_id`
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("warnings: count: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		var sev string
		if err := rows.Scan(&sev, &c.District, &c.Industry, &c.Rule, &c.N); err != nil {
			return nil, fmt.Errorf("warnings: count: %w", err)
		}
		c.Severity = Severity(sev)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Alerts returns the warnings a date opened and closed, for notifying
// subscribers; Notified marks them sent. A notifier that fails before marking
// sends them again (at least once).
func (s *Store) Alerts(ctx context.Context, asof string) (*Changes, bool, error) {
	var notified int
	err := s.db.QueryRow(ctx, `SELECT notified FROM warning_evaluations WHERE asof = ?`, asof).Scan(&notified)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, fmt.Errorf("%w: no evaluation applied as of %s", ErrNotFound, asof)
	}
	if err != nil {
		return nil, false, fmt.Errorf("warnings: alerts of %s: %w", asof, err)
	}
	ch := &Changes{AsOf: asof}
	for _, q := range []struct {
		cond string
		dst  *[]*Warning
	}{{"opened_asof = ? AND opened_by = ''", &ch.Opened}, {"closed_asof = ?", &ch.Closed}} {
		rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM warnings WHERE `+q.cond+` ORDER BY id`, asof)
		if err != nil {
			return nil, false, fmt.Errorf("warnings: alerts of %s: %w", asof, err)
		}
		for rows.Next() {
			w, err := scanWarning(rows)
			if err != nil {
				rows.Close()
				return nil, false, err
			}
			*q.dst = append(*q.dst, w)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, false, err
		}
	}
	if err := s.lastSeen(ctx, slices.Concat(ch.Opened, ch.Closed)); err != nil {
		return nil, false, err
	}
	return ch, notified != 0, nil
}

// Unnotified lists the applied dates up to through whose alerts were not
// handed to the notifier yet, oldest first.
func (s *Store) Unnotified(ctx context.Context, through string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT asof FROM warning_evaluations WHERE notified = 0 AND asof <= ? ORDER BY asof`, through)
	if err != nil {
		return nil, fmt.Errorf("warnings: dates to notify: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Notified records that a date's alerts were handed to the notifier.
func (s *Store) Notified(ctx context.Context, asof string) error {
	if _, err := s.db.Exec(ctx, `UPDATE warning_evaluations SET notified = 1 WHERE asof = ?`, asof); err != nil {
		return fmt.Errorf("warnings: mark %s notified: %w", asof, err)
	}
	return nil
}

// LastID is the id of the newest warning (0: none): where a feed that starts now
// begins.
func (s *Store) LastID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM warnings`).Scan(&id); err != nil {
		return 0, fmt.Errorf("warnings: last id: %w", err)
	}
	return id, nil
}
