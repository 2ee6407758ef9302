package metadb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

var testMigrations = []metadb.Migration{
	{Version: 1, Name: "items", SQL: `
CREATE TABLE items (
	id {{id}},
	name TEXT NOT NULL UNIQUE,
	payload {{blob}}
);
CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL);
`},
	{Version: 2, Name: "items_note", SQL: `ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT '';`},
}

// TestContract is the one suite every engine must pass.
func TestContract(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx, "test", testMigrations); err != nil {
			t.Fatalf("migrate: %v", err)
		}

		t.Run("migrate is idempotent", func(t *testing.T) {
			if err := db.Migrate(ctx, "test", testMigrations); err != nil {
				t.Fatalf("second migrate: %v", err)
			}
			v, err := db.Version(ctx, "test")
			if err != nil || v != 2 {
				t.Fatalf("version = %d, %v; want 2", v, err)
			}
		})

		t.Run("newer schema is refused", func(t *testing.T) {
			err := db.Migrate(ctx, "test", testMigrations[:1])
			if !errors.Is(err, metadb.ErrMigration) {
				t.Fatalf("migrate with fewer migrations: got %v, want ErrMigration", err)
			}
		})

		t.Run("failed migration leaves nothing", func(t *testing.T) {
			bad := []metadb.Migration{
				{Version: 1, Name: "ok", SQL: "CREATE TABLE half_done (x INTEGER);"},
				{Version: 2, Name: "broken", SQL: "CREATE TABLE nonsense (;"},
			}
			if err := db.Migrate(ctx, "broken", bad); !errors.Is(err, metadb.ErrMigration) {
				t.Fatalf("got %v, want ErrMigration", err)
			}
			if v, _ := db.Version(ctx, "broken"); v != 0 {
				t.Fatalf("version after failed migration = %d, want 0", v)
			}
			if _, err := db.Exec(ctx, "SELECT x FROM half_done"); err == nil {
				t.Fatal("table of the failed batch exists; want rolled back")
			}
		})

		t.Run("insert returns ids", func(t *testing.T) {
			var ids []int64
			for _, name := range []string{"a", "b"} {
				err := db.Tx(ctx, func(tx *metadb.Tx) error {
					id, err := tx.InsertID(ctx, "INSERT INTO items (name, payload) VALUES (?, ?)", name, []byte{0, 1, 2})
					ids = append(ids, id)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if ids[0] <= 0 || ids[1] != ids[0]+1 {
				t.Fatalf("ids = %v, want two consecutive positive ids", ids)
			}
			var payload []byte
			var note string
			if err := metadb.ScanOne(db.QueryRow(ctx, "SELECT payload, note FROM items WHERE id = ?", ids[1]), &payload, &note); err != nil {
				t.Fatal(err)
			}
			if string(payload) != "\x00\x01\x02" || note != "" {
				t.Fatalf("payload %q note %q", payload, note)
			}
		})

		t.Run("unique violation is ErrConflict", func(t *testing.T) {
			err := db.Tx(ctx, func(tx *metadb.Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO items (name) VALUES (?)", "a")
				return err
			})
			if !errors.Is(err, metadb.ErrConflict) {
				t.Fatalf("got %v, want ErrConflict", err)
			}
		})

		t.Run("missing row is ErrNotFound", func(t *testing.T) {
			var id int64
			err := metadb.ScanOne(db.QueryRow(ctx, "SELECT id FROM items WHERE name = ?", "nobody"), &id)
			if !errors.Is(err, metadb.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})

		t.Run("error rolls back", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.Tx(ctx, func(tx *metadb.Tx) error {
				if _, err := tx.Exec(ctx, "INSERT INTO items (name) VALUES (?)", "rolled-back"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("got %v, want boom", err)
			}
			var n int
			if err := metadb.ScanOne(db.QueryRow(ctx, "SELECT COUNT(*) FROM items WHERE name = ?", "rolled-back"), &n); err != nil || n != 0 {
				t.Fatalf("count = %d, %v; want 0", n, err)
			}
		})

		t.Run("read-modify-write transactions serialize", func(t *testing.T) {
			if _, err := db.Exec(ctx, "INSERT INTO counters (name, n) VALUES ('c', 0)"); err != nil {
				t.Fatal(err)
			}
			const workers, each = 6, 15
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						err := db.Tx(ctx, func(tx *metadb.Tx) error {
							var n int64
							if err := metadb.ScanOne(tx.QueryRow(ctx, "SELECT n FROM counters WHERE name = 'c'"+tx.ForUpdate()), &n); err != nil {
								return err
							}
							_, err := tx.Exec(ctx, "UPDATE counters SET n = ? WHERE name = 'c'", n+1)
							return err
						})
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			var n int64
			if err := metadb.ScanOne(db.QueryRow(ctx, "SELECT n FROM counters WHERE name = 'c'"), &n); err != nil {
				t.Fatal(err)
			}
			if n != workers*each {
				t.Fatalf("counter = %d, want %d (lost updates)", n, workers*each)
			}
		})
	})
}

// TestConcurrentMigrate starts several handles on one database at once, as several
// processes would at boot: each migration must apply exactly once.
func TestConcurrentMigrate(t *testing.T) {
	for _, engine := range []struct {
		name string
		dsn  func(t testing.TB) string
	}{{"sqlite", metadbtest.SQLiteDSN}, {"postgres", metadbtest.PostgresDSN}} {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := engine.dsn(t)
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := metadb.Open(ctx, dsn, metadb.Options{})
					if err != nil {
						errs[i] = err
						return
					}
					defer db.Close()
					errs[i] = db.Migrate(ctx, "test", testMigrations)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("handle %d: %v", i, err)
				}
			}
			db, err := metadb.Open(ctx, dsn, metadb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := metadb.ScanOne(db.QueryRow(ctx, "SELECT COUNT(*) FROM xinyi_migrations WHERE component = 'test'"), &n); err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Fatalf("recorded migrations = %d, want 2", n)
			}
		})
	}
}

// TestSQLiteWriteQueue: a write transaction waiting behind another gives up with
// its context, and a nested transaction fails after BusyTimeout instead of
// hanging.
func TestSQLiteWriteQueue(t *testing.T) {
	ctx := context.Background()
	db, err := metadb.Open(ctx, metadbtest.SQLiteDSN(t), metadb.Options{BusyTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Tx(ctx, func(tx *metadb.Tx) error {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := db.Tx(short, func(*metadb.Tx) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiting with a short context: got %v, want DeadlineExceeded", err)
		}
		start := time.Now()
		if err := db.Tx(ctx, func(*metadb.Tx) error { return nil }); !errors.Is(err, metadb.ErrUnavailable) {
			t.Errorf("nested transaction: got %v, want ErrUnavailable", err)
		}
		if el := time.Since(start); el < 200*time.Millisecond {
			t.Errorf("nested transaction gave up after %v, before BusyTimeout", el)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, func(*metadb.Tx) error { return nil }); err != nil {
		t.Fatalf("after the first transaction ended: %v", err)
	}
}

func TestOpenDSN(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		dsn     string
		dialect metadb.Dialect
		err     error
	}{
		{"sqlite url", "sqlite://" + dir + "/a.db", metadb.SQLite, nil},
		{"bare path", dir + "/b.db", metadb.SQLite, nil},
		{"empty", "", 0, metadb.ErrInvalidDSN},
		{"sqlite without file", "sqlite://", 0, metadb.ErrInvalidDSN},
		{"unknown scheme", "mysql://root@localhost/x", 0, metadb.ErrInvalidDSN},
		{"postgres unreachable", "postgres://postgres@127.0.0.1:1/none?connect_timeout=1", 0, metadb.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := metadb.Open(context.Background(), tt.dsn, metadb.Options{})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Dialect() != tt.dialect {
				t.Fatalf("dialect %v, want %v", db.Dialect(), tt.dialect)
			}
			var mode string
			if err := metadb.ScanOne(db.QueryRow(context.Background(), "PRAGMA journal_mode"), &mode); err != nil || mode != "wal" {
				t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
			}
		})
	}
}

func TestRebind(t *testing.T) {
	pg, err := metadb.Open(context.Background(), metadbtest.SQLiteDSN(t), metadb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	// SQLite leaves queries alone.
	if got := pg.Rebind("SELECT ? , ?"); got != "SELECT ? , ?" {
		t.Fatalf("sqlite rebind changed the query: %q", got)
	}
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := metadb.RebindPostgres(tt.in); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  []string
		err   bool
	}{
		{"sorted", fstest.MapFS{
			"m/0002_b.sql": {Data: []byte("B;")},
			"m/0001_a.sql": {Data: []byte("A;")},
			"m/README":     {Data: []byte("ignored")},
		}, []string{"a", "b"}, false},
		{"gap", fstest.MapFS{"m/0001_a.sql": {Data: []byte("A;")}, "m/0003_c.sql": {Data: []byte("C;")}}, nil, true},
		{"bad name", fstest.MapFS{"m/first.sql": {Data: []byte("A;")}}, nil, true},
		{"missing dir", fstest.MapFS{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := metadb.LoadMigrations(tt.files, "m")
			if tt.err {
				if !errors.Is(err, metadb.ErrMigration) {
					t.Fatalf("got %v, want ErrMigration", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.Name)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzRebind(f *testing.F) {
	for _, s := range []string{"SELECT ?", "x = '?' AND ? = ?", "'unterminated ?", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := metadb.RebindPostgres(q)
		// Outside quotes every ? becomes one $n; nothing else changes.
		quoted, n := false, 0
		for i := 0; i < len(q); i++ {
			if q[i] == '\'' {
				quoted = !quoted
			} else if q[i] == '?' && !quoted {
				n++
			}
		}
		if strings.Count(got, "?") != strings.Count(q, "?")-n {
			t.Fatalf("%q -> %q: wrong number of placeholders rewritten", q, got)
		}
		if n > 0 && !strings.Contains(got, fmt.Sprintf("$%d", n)) {
			t.Fatalf("%q -> %q: missing $%d", q, got, n)
		}
	})
}

func BenchmarkTxInsert(b *testing.B) {
	eachEngine(b, func(b *testing.B, db *metadb.DB) {
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			err := db.Tx(ctx, func(tx *metadb.Tx) error {
				_, err := tx.InsertID(ctx, "INSERT INTO items (name) VALUES (?)", fmt.Sprintf("n%d", i))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSQLiteCheckpointer: under back-to-back commits the background checkpointer
// keeps the write-ahead log short (a log that is only checkpointed while commits
// go on never restarts and grows by every commit), and what was committed is
// there after reopening.
func TestSQLiteCheckpointer(t *testing.T) {
	ctx := context.Background()
	dsn := metadbtest.SQLiteDSN(t)
	db, err := metadb.Open(ctx, dsn, metadb.Options{CheckpointInterval: 10 * time.Millisecond, RestartPages: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, "test", testMigrations); err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("x", 3000) // about one page a row
	const rows = 6000
	var largest int64
	for i := range rows {
		err := db.Tx(ctx, func(tx *metadb.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO items (name, payload) VALUES (?, ?)", fmt.Sprintf("n%d", i), payload)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(strings.TrimPrefix(dsn, "sqlite://") + "-wal"); err == nil {
			largest = max(largest, fi.Size())
		}
	}
	// Each commit writes a few pages, 100 MB in all, which a log never restarted
	// would hold whole. Restarted, it stays within a few restarts' worth: about
	// 20 MB on an idle machine, up to 60 MB seen when other test packages starve
	// the checkpointer's goroutine of the 2 cores. The bound is under the whole.
	if largest > 80<<20 {
		t.Errorf("the write-ahead log grew to %d bytes under steady commits, want under 80 MiB", largest)
	}
	t.Logf("largest write-ahead log: %d bytes", largest)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = metadb.Open(ctx, dsn, metadb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := metadb.ScanOne(db.QueryRow(ctx, "SELECT COUNT(*) FROM items"), &n); err != nil || n != rows {
		t.Fatalf("rows after reopening = %d, %v; want %d", n, err, rows)
	}
}

// BenchmarkQueryRow is a point query of the kind hot paths run per request (a
// consent, a key); SQLite runs it from a kept prepared statement.
func BenchmarkQueryRow(b *testing.B) {
	eachEngine(b, func(b *testing.B, db *metadb.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, "INSERT INTO counters (name, n) VALUES (?, ?)", "a", 1); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			var n int64
			if err := metadb.ScanOne(db.QueryRow(ctx, "SELECT n FROM counters WHERE name = ?", "a"), &n); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// eachEngine runs a benchmark body on a fresh migrated SQLite and PostgreSQL
// database.
func eachEngine(b *testing.B, fn func(b *testing.B, db *metadb.DB)) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *metadb.DB
	}{{"sqlite", metadbtest.SQLite}, {"postgres", metadbtest.Postgres}} {
		b.Run(engine.name, func(b *testing.B) {
			db := engine.open(b)
			if err := db.Migrate(context.Background(), "test", testMigrations); err != nil {
				b.Fatal(err)
			}
			fn(b, db)
		})
	}
}
