package financing

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the schema migrations of the financing tables.
func Migrations() ([]metadb.Migration, error) {
	return metadb.LoadMigrations(migrationFS, "migrations")
}

// Store is the financing loop over the metadata database. Every method takes the
// principal acting and asks the Authorizer first.
type Store struct {
	db   *metadb.DB
	opts Options

	mu    sync.Mutex
	rules map[string]*Rule // compiled rules by text
}

// Open migrates the financing schema in db and returns the store.
func Open(ctx context.Context, db *metadb.DB, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	switch {
	case opts.Authorizer == nil:
		return nil, fmt.Errorf("%w: Options.Authorizer is required", ErrInvalid)
	case opts.Audit == nil:
		return nil, fmt.Errorf("%w: Options.Audit is required", ErrInvalid)
	case opts.Consents == nil:
		return nil, fmt.Errorf("%w: Options.Consents is required", ErrInvalid)
	case opts.Assessor == nil:
		return nil, fmt.Errorf("%w: Options.Assessor is required", ErrInvalid)
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, "financing", ms); err != nil {
		return nil, fmt.Errorf("financing: open: %w", err)
	}
	return &Store{db: db, opts: opts, rules: map[string]*Rule{}}, nil
}

func (s *Store) now() time.Time { return time.Unix(0, s.opts.Now().UnixNano()).UTC() }

// rule returns the compiled rule of text, compiling it once.
func (s *Store) rule(text string) (*Rule, error) {
	s.mu.Lock()
	r, ok := s.rules[text]
	s.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := CompileRule(text)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.rules) > 10_000 {
		clear(s.rules)
	}
	s.rules[text] = r
	s.mu.Unlock()
	return r, nil
}

// allow asks the Authorizer; refusals are audited there.
func (s *Store) allow(ctx context.Context, p access.Principal, a access.Action, res access.Resource) error {
	return s.opts.Authorizer.Authorize(ctx, p, a, res)
}

// refuse records a refusal the financing rules decided (four-eyes, another
// bank's request) and returns err marked audited.
func (s *Store) refuse(ctx context.Context, p access.Principal, a access.Action, res access.Resource, err error) error {
	return s.opts.Authorizer.Refused(ctx, p, a, res, err)
}

// change runs fn in a transaction and appends e, with After from fn, in it.
// fn may set fields of e (the subject of a row it inserts).
func (s *Store) change(ctx context.Context, e *audit.Entry, fn func(tx *metadb.Tx) (after any, err error)) error {
	return s.db.Tx(ctx, func(tx *metadb.Tx) error {
		after, err := fn(tx)
		if err != nil {
			return err
		}
		if e.After == nil {
			e.After = after
		}
		_, err = s.opts.Audit.AppendTx(ctx, tx, *e)
		return err
	})
}

// company checks and normalizes a company code.
func company(code string) (string, error) {
	c := creditcode.Normalize(code)
	if err := creditcode.Validate(c); err != nil {
		return "", fmt.Errorf("%w: company code: %w", ErrInvalid, err)
	}
	return c, nil
}

func companyRes(code string) access.Resource { return access.Resource{Kind: "company", ID: code} }

func finite(what string, x, lo, hi float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < lo || x > hi {
		return fmt.Errorf("%w: %s %v out of range [%v, %v]", ErrInvalid, what, x, lo, hi)
	}
	return nil
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// addMonths adds n calendar months, clamping to the month's last day.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

func noRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, metadb.ErrNotFound)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

var nan = math.NaN()

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
