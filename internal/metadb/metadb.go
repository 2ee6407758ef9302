package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
)

// Sentinel errors, wrapped with context.
var (
	// ErrInvalidDSN means the DSN names no supported engine or is malformed.
	ErrInvalidDSN = errors.New("metadb: invalid DSN")
	// ErrUnavailable means the database could not be reached.
	ErrUnavailable = errors.New("metadb: database unavailable")
	// ErrConflict means a unique or primary-key constraint refused a write.
	ErrConflict = errors.New("metadb: unique constraint violated")
	// ErrNotFound means a query that must return one row returned none.
	ErrNotFound = errors.New("metadb: no such row")
	// ErrMigration means a migration is malformed or failed to apply.
	ErrMigration = errors.New("metadb: migration failed")
)

// Dialect is the SQL engine behind a DB.
type Dialect int

const (
	// SQLite is the embedded engine (modernc.org/sqlite).
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL through pgx.
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// Options configures Open. The zero value is valid; EnsureDefaults fills it in.
type Options struct {
	// BusyTimeout is how long a SQLite connection waits for the write lock before
	// failing. Default 10s.
	BusyTimeout time.Duration
	// MaxOpenConns caps open connections. Default 8 for SQLite, 16 for PostgreSQL.
	MaxOpenConns int
	// ConnectTimeout bounds the first ping. Default 5s.
	ConnectTimeout time.Duration
	// Logger receives migration and listening-connection messages; nil means silent.
	Logger *slog.Logger
	// ListenBackoff is the first wait before a dropped listening connection (see
	// Listen) is opened again; the wait doubles on each failure up to
	// ListenBackoffMax. Defaults 100ms and 10s.
	ListenBackoff    time.Duration
	ListenBackoffMax time.Duration
	// ListenCheck is how long a listening connection may stay silent before it is
	// pinged, so a connection that died without a word is noticed. Default 30s.
	ListenCheck time.Duration
	// CheckpointInterval is how often a SQLite database copies its write-ahead log
	// back into the database file, from a goroutine of its own. Left to SQLite,
	// the commit that crosses 1,000 WAL pages runs the checkpoint itself, with its
	// fsyncs, while holding the write lock: every transaction queued behind it
	// waits (tens to hundreds of milliseconds on a busy disk). Commits are as
	// durable either way. Default 1s; negative leaves checkpoints to SQLite.
	CheckpointInterval time.Duration
	// RestartPages is the length of the write-ahead log, in pages, past which the
	// checkpointer also restarts it: under steady writes a checkpoint that lets
	// commits go on never catches up with them, and the log only grows. The
	// restart holds this process's write queue for the short checkpoint of what
	// the last one left. Default 16,384 (64 MiB of 4 KiB pages).
	RestartPages int
}

// EnsureDefaults fills zero fields with their defaults for dialect d.
func (o *Options) EnsureDefaults(d Dialect) {
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = 8
		if d == Postgres {
			o.MaxOpenConns = 16
		}
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.ListenBackoff <= 0 {
		o.ListenBackoff = 100 * time.Millisecond
	}
	if o.ListenBackoffMax < o.ListenBackoff {
		o.ListenBackoffMax = max(10*time.Second, o.ListenBackoff)
	}
	if o.ListenCheck <= 0 {
		o.ListenCheck = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = time.Second
	}
	if o.RestartPages <= 0 {
		o.RestartPages = 16384
	}
}

// DB is an open metadata database. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	opts    Options
	// writer serializes this process's SQLite transactions (capacity 1), so they
	// queue in Go instead of in SQLite's busy handler, whose sleeps (up to
	// 100ms each) would dominate tail latency under concurrent writes.
	writer chan struct{}

	// source is the driver's DSN, from which Listen opens its own connections;
	// scope is the PostgreSQL schema that channel names are confined to.
	source string
	scope  string
	// closed ends every Listen when Close is called; listeners counts them, and
	// listenMu orders their start against Close.
	closed    context.Context
	close     context.CancelFunc
	listenMu  sync.Mutex
	listeners sync.WaitGroup
	// stop ends the checkpointer; done is closed when it has returned.
	stop, done chan struct{}
	closeOnce  sync.Once

	// stmts holds SQLite's prepared statements by query text (see DB.stmt).
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	// leaseReady is set once the lease table is migrated (AcquireLease).
	leaseMu    sync.Mutex
	leaseReady bool
}

// maxStmts bounds the prepared statements a SQLite DB keeps.
const maxStmts = 512

// stmt returns the prepared statement of query on a SQLite database, preparing
// it on first use, or nil when it is not kept (PostgreSQL, whose driver keeps
// its own per connection; statements other than one SELECT, INSERT, UPDATE or
// DELETE; a full cache; a failed prepare, whose error running the query
// unprepared reports). SQLite parses a statement anew on every unprepared run,
// which costs more than running the small statements of the hot paths.
func (db *DB) stmt(ctx context.Context, query string) *sql.Stmt {
	if db.dialect != SQLite || !cacheable(query) {
		return nil
	}
	db.stmtMu.Lock()
	st, ok := db.stmts[query]
	full := len(db.stmts) >= maxStmts
	db.stmtMu.Unlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	st, err := db.sql.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if prev, ok := db.stmts[query]; ok {
		st.Close()
		return prev
	}
	if db.stmts == nil || len(db.stmts) >= maxStmts {
		st.Close()
		return nil
	}
	db.stmts[query] = st
	return st
}

// cacheable reports whether query is one SELECT, INSERT, UPDATE, DELETE or WITH
// statement.
func cacheable(query string) bool {
	q := strings.TrimSpace(query)
	if strings.Contains(q, ";") || len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return false
}

// Open connects to the database named by dsn and checks that it answers.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	d, driver, source, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	opts.EnsureDefaults(d)
	if d == SQLite {
		source = sqliteSource(source, opts.BusyTimeout, opts.CheckpointInterval > 0)
	}
	sqldb, err := sql.Open(driver, source)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrInvalidDSN, d, err)
	}
	sqldb.SetMaxOpenConns(opts.MaxOpenConns)
	sqldb.SetMaxIdleConns(opts.MaxOpenConns)
	if err := ping(ctx, sqldb, d, opts); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, d, err)
	}
	db := &DB{sql: sqldb, dialect: d, opts: opts, writer: make(chan struct{}, 1), source: source, stop: make(chan struct{}), done: make(chan struct{}),
		stmts: map[string]*sql.Stmt{}}
	if d == Postgres {
		if err := sqldb.QueryRowContext(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&db.scope); err != nil {
			sqldb.Close()
			return nil, fmt.Errorf("%w: %s: current schema: %v", ErrUnavailable, d, err)
		}
	}
	db.closed, db.close = context.WithCancel(context.Background())
	if d == SQLite && opts.CheckpointInterval > 0 {
		go db.checkpointer()
	} else {
		close(db.done)
	}
	return db, nil
}

// checkpointer copies the write-ahead log into the database file every
// CheckpointInterval, in PASSIVE mode: it takes no write lock, so commits go on
// while it runs (with its fsyncs), and it stops early rather than wait for a
// reader. When the log has grown past RestartPages it restarts it (restartLog).
func (db *DB) checkpointer() {
	defer close(db.done)
	t := time.NewTicker(db.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
		}
		var busy, pages, copied int
		err := db.sql.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &pages, &copied)
		if err == nil && pages >= db.opts.RestartPages {
			err = db.restartLog()
		}
		if err != nil && db.opts.Logger != nil {
			db.opts.Logger.Warn("metadb: WAL checkpoint failed; retrying at the next interval", "err", err)
		}
	}
}

// restartLog takes this process's write turn, as a transaction would, and runs a
// RESTART checkpoint, which waits for readers to leave the log so that the next
// commit writes the log from its beginning instead of growing it. A PASSIVE
// checkpoint first copies what commits added while the last one ran, so the
// write turn is held only for the few commits since and two fsyncs.
func (db *DB) restartLog() error {
	if _, err := db.sql.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		return err
	}
	select {
	case db.writer <- struct{}{}:
	case <-db.stop:
		return nil
	}
	defer func() { <-db.writer }()
	_, err := db.sql.Exec("PRAGMA wal_checkpoint(RESTART)")
	return err
}

// ping opens the first connection. A new connection to a SQLite file switches it to
// WAL, and while several processes do that to a new file at once SQLite answers
// SQLITE_BUSY at once rather than through its busy handler: retry that for up to
// BusyTimeout.
func ping(ctx context.Context, sqldb *sql.DB, d Dialect, opts Options) error {
	pctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	deadline := time.Now().Add(opts.BusyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := sqldb.PingContext(pctx)
		if err == nil || d != SQLite || !sqliteBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-pctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// sqliteBusy reports SQLITE_BUSY (primary result code 5) from the driver.
func sqliteBusy(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == 5
}

// parseDSN picks the engine and the driver's own source string.
func parseDSN(dsn string) (Dialect, string, string, error) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return 0, "", "", fmt.Errorf("%w: empty", ErrInvalidDSN)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			return 0, "", "", fmt.Errorf("%w: %v", ErrInvalidDSN, err)
		}
		return Postgres, "pgx", dsn, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		rest := strings.TrimPrefix(dsn, "sqlite://")
		if rest == "" || rest == "/" {
			return 0, "", "", fmt.Errorf("%w: %q names no file", ErrInvalidDSN, dsn)
		}
		return SQLite, "sqlite", rest, nil
	case strings.Contains(dsn, "://"):
		return 0, "", "", fmt.Errorf("%w: unsupported scheme in %q (want sqlite:// or postgres://)", ErrInvalidDSN, redact(dsn))
	default:
		return SQLite, "sqlite", dsn, nil
	}
}

// redact hides a password in a URL-shaped DSN.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparsable>"
	}
	return u.Redacted()
}

// sqliteSource adds WAL, busy timeout, foreign keys and immediate transactions to a
// file path, keeping any parameters the caller already gave. With checkpointer,
// commits never run a checkpoint themselves (DB.checkpointer does).
func sqliteSource(path string, busy time.Duration, checkpointer bool) string {
	file, query, _ := strings.Cut(path, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		q = url.Values{}
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	if q.Get("_busy_timeout") == "" && q.Get("_timeout") == "" {
		q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if checkpointer {
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Add("_pragma", "journal_size_limit(67108864)")
	}
	return file + "?" + q.Encode()
}

// Dialect reports the engine behind db.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL returns the underlying *sql.DB for callers that need it directly (tests,
// tools). Queries through it are not rebound.
func (db *DB) SQL() *sql.DB { return db.sql }

// Close ends every Listen, stops the checkpointer and closes every connection
// (the last connection to a SQLite file checkpoints what is left of the log).
func (db *DB) Close() error {
	db.listenMu.Lock()
	db.close()
	db.listenMu.Unlock()
	db.listeners.Wait()
	db.closeOnce.Do(func() { close(db.stop) })
	<-db.done
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	db.stmts = nil
	db.stmtMu.Unlock()
	return db.sql.Close()
}

// Rebind rewrites "?" placeholders to "$n" for PostgreSQL. Question marks inside
// single-quoted literals are left alone.
func (db *DB) Rebind(query string) string { return rebind(db.dialect, query) }

func rebind(d Dialect, query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Exec runs a statement outside a transaction.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := db.stmt(ctx, query); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, classify(err)
	}
	res, err := db.sql.ExecContext(ctx, db.Rebind(query), args...)
	return res, classify(err)
}

// Query runs a query outside a transaction.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := db.stmt(ctx, query); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		return rows, classify(err)
	}
	rows, err := db.sql.QueryContext(ctx, db.Rebind(query), args...)
	return rows, classify(err)
}

// QueryRow runs a query expected to return at most one row. Scan errors are
// raw database/sql errors; use ScanOne to map sql.ErrNoRows to ErrNotFound.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := db.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.sql.QueryRowContext(ctx, db.Rebind(query), args...)
}

// Tx runs fn in one transaction and commits if fn returns nil, otherwise rolls
// back. fn must not start another Tx on the same DB. On SQLite the transaction
// holds the write lock from its start, and this process's transactions queue for
// it in order; on
// PostgreSQL it runs at READ COMMITTED, so callers that need serialization lock a
// row with SELECT ... FOR UPDATE (see Tx.ForUpdate).
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if db.dialect == SQLite {
		wait := time.NewTimer(db.opts.BusyTimeout)
		select {
		case db.writer <- struct{}{}:
			wait.Stop()
		case <-ctx.Done():
			wait.Stop()
			return fmt.Errorf("metadb: begin: %w", ctx.Err())
		case <-wait.C:
			return fmt.Errorf("metadb: begin: %w: no write transaction slot within %v", ErrUnavailable, db.opts.BusyTimeout)
		}
		defer func() { <-db.writer }()
	}
	stx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("metadb: begin: %w", classify(err))
	}
	tx := &Tx{tx: stx, dialect: db.dialect, scope: db.scope, db: db}
	defer func() {
		if err != nil {
			_ = stx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = stx.Commit(); err != nil {
		return fmt.Errorf("metadb: commit: %w", classify(err))
	}
	return nil
}

// Tx is one open transaction.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	scope   string
	db      *DB
}

// stmt returns the transaction's use of query's prepared statement, or nil (see
// DB.stmt).
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	st := tx.db.stmt(ctx, query)
	if st == nil {
		return nil
	}
	return tx.tx.StmtContext(ctx, st)
}

// Dialect reports the engine of the transaction.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.stmt(ctx, query); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, classify(err)
	}
	res, err := tx.tx.ExecContext(ctx, rebind(tx.dialect, query), args...)
	return res, classify(err)
}

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, query); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		return rows, classify(err)
	}
	rows, err := tx.tx.QueryContext(ctx, rebind(tx.dialect, query), args...)
	return rows, classify(err)
}

// QueryRow runs a query expected to return at most one row.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, rebind(tx.dialect, query), args...)
}

// InsertID runs an INSERT and returns the generated "id" column. The statement
// must not carry its own RETURNING clause.
func (tx *Tx) InsertID(ctx context.Context, query string, args ...any) (int64, error) {
	var id int64
	var err error
	if st := tx.stmt(ctx, query+" RETURNING id"); st != nil {
		err = st.QueryRowContext(ctx, args...).Scan(&id)
	} else {
		err = tx.tx.QueryRowContext(ctx, rebind(tx.dialect, query)+" RETURNING id", args...).Scan(&id)
	}
	if err != nil {
		return 0, classify(err)
	}
	return id, nil
}

// ForUpdate returns " FOR UPDATE" on PostgreSQL and "" on SQLite (whose
// transactions already hold the write lock), for appending to a SELECT.
func (tx *Tx) ForUpdate() string {
	if tx.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// ScanOne scans a single row, mapping sql.ErrNoRows to ErrNotFound and constraint
// errors to ErrConflict.
func ScanOne(row *sql.Row, dest ...any) error {
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return classify(err)
}

// SQLite extended result codes for constraint violations.
const (
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// classify wraps unique-constraint violations from either engine so that
// errors.Is(err, ErrConflict) holds; other errors pass through unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if IsUniqueViolation(err) {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

// IsUniqueViolation reports whether err is a unique or primary-key violation of
// either engine.
func IsUniqueViolation(err error) bool {
	if errors.Is(err, ErrConflict) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code()
		return c == sqliteConstraintUnique || c == sqliteConstraintPrimaryKey
	}
	return false
}

// Bool converts a Go bool to the integer both engines store in a BOOLINT column.
func Bool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RebindPostgres rewrites "?" placeholders to "$n" as a PostgreSQL DB would.
func RebindPostgres(query string) string { return rebind(Postgres, query) }
