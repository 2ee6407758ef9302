package metadb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ErrLeaseLost reports a lease that expired or was taken over before its holder
// released it: the work it guarded must not be committed.
var ErrLeaseLost = errors.New("metadb: lease lost")

// LeaseOptions configure AcquireLease.
type LeaseOptions struct {
	// TTL is how long a lease stays held without renewal: the longest a crashed
	// holder blocks the next one. The holder renews it every TTL/3. Default 30 s.
	TTL time.Duration
	// Poll is the first wait between attempts while another process holds the
	// lease; it doubles up to one second. Default 50 ms.
	Poll time.Duration
	// Holder describes the holder in the table (for people). Default host:pid.
	Holder string
}

func (o *LeaseOptions) ensureDefaults() {
	if o.TTL <= 0 {
		o.TTL = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 50 * time.Millisecond
	}
	if o.Holder == "" {
		host, _ := os.Hostname()
		o.Holder = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
}

var leaseMigrations = []Migration{{Version: 1, Name: "leases", SQL: `
CREATE TABLE xinyi_leases (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	token BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	acquired_at BIGINT NOT NULL
);`}}

// Lease is a named, expiring, exclusive hold shared by every process of one
// metadata database (a row of xinyi_leases). Each acquisition takes the next
// fencing token of its name, so a holder can prove it still holds the lease
// (Guard) even after a pause in which the lease expired and another took it.
// While held, a goroutine renews it; Context is cancelled, with ErrLeaseLost as
// its cause, once a renewal finds it expired or taken, and on Release.
type Lease struct {
	db     *DB
	name   string
	holder string
	token  int64
	ttl    time.Duration

	mu sync.Mutex
	// valid is this process's bound on the expiry: the local time when the
	// newest successful renewal began, plus the TTL. The database's clock decides
	// expiry; the local bound is never later than it.
	valid time.Time

	ctx      context.Context
	cancel   context.CancelCauseFunc
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	once     sync.Once
}

// halt stops the renewal and waits for it to end.
func (l *Lease) halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// AcquireLease waits until it holds the lease called name and returns it, or
// returns ctx's error. A lease whose holder died is taken once its TTL has run
// out. Release it when done.
func (db *DB) AcquireLease(ctx context.Context, name string, opts LeaseOptions) (*Lease, error) {
	opts.ensureDefaults()
	if name == "" {
		return nil, errors.New("metadb: lease: empty name")
	}
	db.leaseMu.Lock()
	if !db.leaseReady {
		if err := db.Migrate(ctx, "metadb.leases", leaseMigrations); err != nil {
			db.leaseMu.Unlock()
			return nil, err
		}
		db.leaseReady = true
	}
	db.leaseMu.Unlock()
	wait := opts.Poll
	for {
		began := time.Now()
		token, err := db.tryLease(ctx, name, opts)
		if err != nil {
			return nil, err
		}
		if token > 0 {
			l := &Lease{db: db, name: name, holder: opts.Holder, token: token, ttl: opts.TTL, valid: began.Add(opts.TTL),
				stop: make(chan struct{}), done: make(chan struct{})}
			l.ctx, l.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
			go l.renewLoop()
			return l, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("metadb: lease %s: %w", name, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// nowMicros is the database's clock in microseconds: PostgreSQL's for every
// process that shares it, the local one for SQLite (whose processes share a host).
func (tx *Tx) nowMicros(ctx context.Context) (int64, error) {
	if tx.dialect != Postgres {
		return time.Now().UnixMicro(), nil
	}
	var now int64
	err := ScanOne(tx.QueryRow(ctx, "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT"), &now)
	return now, err
}

// tryLease takes the lease when it is free or expired and returns its new token,
// or 0 while another holds it.
func (db *DB) tryLease(ctx context.Context, name string, opts LeaseOptions) (token int64, err error) {
	err = db.Tx(ctx, func(tx *Tx) error {
		now, err := tx.nowMicros(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO xinyi_leases (name, holder, token, expires_at, acquired_at) VALUES (?, '', 0, 0, 0) ON CONFLICT (name) DO NOTHING", name); err != nil {
			return err
		}
		var cur, expires int64
		if err := ScanOne(tx.QueryRow(ctx, "SELECT token, expires_at FROM xinyi_leases WHERE name = ?"+tx.ForUpdate(), name), &cur, &expires); err != nil {
			return err
		}
		if expires > now {
			return nil
		}
		token = cur + 1
		_, err = tx.Exec(ctx, "UPDATE xinyi_leases SET holder = ?, token = ?, expires_at = ?, acquired_at = ? WHERE name = ?",
			opts.Holder, token, now+opts.TTL.Microseconds(), now, name)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("metadb: lease %s: %w", name, err)
	}
	return token, nil
}

// Name returns the lease's name.
func (l *Lease) Name() string { return l.name }

// Token returns the fencing token of this acquisition: every acquisition of a
// name has a greater one than the last.
func (l *Lease) Token() int64 { return l.token }

// Context is done once the lease is lost (cause ErrLeaseLost) or released.
func (l *Lease) Context() context.Context { return l.ctx }

// renew extends the lease by its TTL if this acquisition still holds it.
func (l *Lease) renew(ctx context.Context) error {
	began := time.Now()
	var n int64
	err := l.db.Tx(ctx, func(tx *Tx) error {
		now, err := tx.nowMicros(ctx)
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, "UPDATE xinyi_leases SET expires_at = ? WHERE name = ? AND token = ? AND expires_at > ?",
			now+l.ttl.Microseconds(), l.name, l.token, now)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("metadb: renew lease %s: %w", l.name, err)
	}
	if n == 0 {
		err := fmt.Errorf("%w: %s (token %d) expired or was taken", ErrLeaseLost, l.name, l.token)
		l.cancel(err)
		return err
	}
	l.mu.Lock()
	l.valid = began.Add(l.ttl)
	l.mu.Unlock()
	return nil
}

func (l *Lease) renewLoop() {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(l.ctx, l.ttl/3)
			err := l.renew(ctx)
			cancel()
			if errors.Is(err, ErrLeaseLost) {
				return
			}
			// Another error (the database unreachable for a moment) is tried again
			// at the next tick; Guard refuses once the local bound has passed.
			l.mu.Lock()
			expired := time.Now().After(l.valid)
			l.mu.Unlock()
			if expired {
				l.cancel(fmt.Errorf("%w: %s (token %d) could not be renewed before it expired: %v", ErrLeaseLost, l.name, l.token, err))
				return
			}
		}
	}
}

// Guard renews the lease now and returns a context that ends, at the latest,
// half a TTL later, well before the lease could pass to another holder. Writes
// that must happen under the lease (a commit) run under that context and are
// abandoned when it ends. It returns ErrLeaseLost when the lease is no longer
// this holder's.
func (l *Lease) Guard(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := context.Cause(l.ctx); err != nil {
		return nil, nil, err
	}
	if err := l.renew(ctx); err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	deadline := l.valid.Add(-l.ttl / 2)
	l.mu.Unlock()
	gctx, cancel := context.WithDeadline(ctx, deadline)
	stop := context.AfterFunc(l.ctx, cancel)
	return gctx, func() { stop(); cancel() }, nil
}

// Release gives the lease up (if this acquisition still holds it) and stops
// its renewal. It is safe to call more than once.
func (l *Lease) Release(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		l.halt()
		err = l.db.Tx(ctx, func(tx *Tx) error {
			_, err := tx.Exec(ctx, "UPDATE xinyi_leases SET expires_at = 0, holder = '' WHERE name = ? AND token = ?", l.name, l.token)
			return err
		})
		l.cancel(context.Canceled)
		if err != nil {
			err = fmt.Errorf("metadb: release lease %s: %w", l.name, err)
		}
	})
	return err
}
