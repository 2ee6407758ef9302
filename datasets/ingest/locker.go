package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Locker gives one batch at a time the right to assign revisions of a source
// and commit. A batch holds it from the reading of the stored facts to its
// manifest, so two batches correcting one key get revisions N+1 and N+2, and a
// batch sees every batch committed before it.
type Locker interface {
	// Lock waits until the caller alone holds source's lock, or ctx ends.
	Lock(ctx context.Context, source string) (Lock, error)
}

// Lock is a held lock of a source.
type Lock interface {
	// Context ends when the lock is lost (its cause says why); work under the
	// lock stops then.
	Context() context.Context
	// Commit checks that the lock is still held and returns a context for the
	// write that commits the batch, which ends before the lock could pass to
	// another holder. Call the CancelFunc when the write is done.
	Commit(ctx context.Context) (context.Context, context.CancelFunc, error)
	// Unlock releases the lock.
	Unlock()
}

// localLocker serializes the batches of a source within one process.
type localLocker struct{ locks sync.Map } // source -> chan struct{} (capacity 1)

// NewLocalLocker returns a Locker for one process: enough when no other process
// writes the store's raw sources (tests, a single embedded process).
func NewLocalLocker() Locker { return &localLocker{} }

func (l *localLocker) Lock(ctx context.Context, source string) (Lock, error) {
	ch, _ := l.locks.LoadOrStore(source, make(chan struct{}, 1))
	select {
	case ch.(chan struct{}) <- struct{}{}:
		return localLock(ch.(chan struct{})), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type localLock chan struct{}

func (localLock) Context() context.Context { return context.Background() }
func (localLock) Commit(ctx context.Context) (context.Context, context.CancelFunc, error) {
	return ctx, func() {}, nil
}
func (l localLock) Unlock() { <-l }

// DBLockOptions configure DBLocker.
type DBLockOptions struct {
	// TTL bounds how long the lock of a process that died stays held. Default 30 s.
	TTL time.Duration
}

// DBLocker returns a Locker shared by every process that opens the same
// metadata database (SQLite embedded, PostgreSQL for several instances): the
// lock of a source is the lease "ingest/<source>" (metadb.Lease). The commit
// is fenced by the lease: the manifest is written only after a renewal that
// proves the lease is still this batch's, under a deadline half a TTL before
// the lease could pass on. A killed process holds it no longer than the TTL.
func DBLocker(db *metadb.DB, opts DBLockOptions) Locker {
	return &dbLocker{db: db, opts: opts}
}

type dbLocker struct {
	db   *metadb.DB
	opts DBLockOptions
}

func (l *dbLocker) Lock(ctx context.Context, source string) (Lock, error) {
	lease, err := l.db.AcquireLease(ctx, "ingest/"+source, metadb.LeaseOptions{TTL: l.opts.TTL})
	if err != nil {
		return nil, err
	}
	return dbLock{lease}, nil
}

type dbLock struct{ l *metadb.Lease }

func (d dbLock) Context() context.Context { return d.l.Context() }
func (d dbLock) Commit(ctx context.Context) (context.Context, context.CancelFunc, error) {
	return d.l.Guard(ctx)
}
func (d dbLock) Unlock() { _ = d.l.Release(context.Background()) }
