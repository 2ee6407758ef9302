package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Change is one entry of the change feed. Seq numbers start at 1, have no gaps and
// are committed in order, so a reader that remembers the last Seq it saw and asks
// for the ones after it never misses or repeats a change.
type Change struct {
	Seq     int64     `json:"seq"`
	Model   string    `json:"model"`
	Kind    string    `json:"kind"` // model.created, version.created, alias.moved, promotion.requested|approved|rejected|withdrawn
	Version int       `json:"version,omitempty"`
	Alias   string    `json:"alias,omitempty"`
	Actor   string    `json:"actor"`
	At      time.Time `json:"at"`
	modelID int64
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// appendChange adds a feed entry inside tx. The head row lock makes concurrent
// writers take sequence numbers in commit order.
func (r *Registry) appendChange(ctx context.Context, tx *metadb.Tx, m Model, kind string, version int, alias, actor string) error {
	var seq int64
	if err := metadb.ScanOne(tx.QueryRow(ctx, "SELECT seq FROM registry_feed_head WHERE id = 1"+tx.ForUpdate()), &seq); err != nil {
		return fmt.Errorf("registry: read feed head: %w", err)
	}
	seq++
	if _, err := tx.Exec(ctx, `INSERT INTO registry_changes (seq, model_id, model_name, kind, version, alias, actor, at_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, seq, m.ID, m.Name, kind, version, alias, actor, r.now().UnixNano()); err != nil {
		return fmt.Errorf("registry: append change %d: %w", seq, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE registry_feed_head SET seq = ? WHERE id = 1", seq); err != nil {
		return fmt.Errorf("registry: move feed head: %w", err)
	}
	if err := tx.Notify(ctx, feedChannel, strconv.FormatInt(seq, 10)); err != nil {
		return fmt.Errorf("registry: announce change %d: %w", seq, err)
	}
	return nil
}

// feedChannel is the metadb notification channel on which every committed change
// is announced (its payload is the change's seq) to the other processes sharing
// the database.
const feedChannel = "xinyi_registry"

// listen starts, once per Registry and on PostgreSQL only, the listening
// connection that wakes this process's feed waiters when another process
// commits a change. It lives until the DB closes; while it is down, waiters
// poll at Options.PollInterval, and when it is back they re-read at once.
func (r *Registry) listen() {
	r.listenOnce.Do(func() {
		if r.db.Dialect() != metadb.Postgres {
			return
		}
		ch, err := r.db.Listen(context.Background(), feedChannel)
		if err != nil {
			r.opts.Logger.Warn("registry: change feed falls back to polling", "err", err, "poll_interval", r.opts.PollInterval)
			return
		}
		go func() {
			starts := 0
			for n := range ch {
				if n.Listening {
					if starts++; starts > 1 {
						r.opts.Logger.Info("registry: change feed notifications resumed; polling covered the gap", "restarts", starts-1)
					}
				}
				r.notify()
			}
		}()
	})
}

// Changes returns up to limit (default 100, at most 1000) changes with seq > after
// on models the caller may see, and the newest seq of the whole feed (the value to
// pass as after next time, even when every change was filtered out).
func (r *Registry) Changes(ctx context.Context, p access.Principal, after int64, limit int) ([]Change, int64, error) {
	if after < 0 {
		return nil, 0, fmt.Errorf("%w: after must be >= 0, got %d", ErrInvalid, after)
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	rows, err := r.db.Query(ctx, fmt.Sprintf(`SELECT c.seq, c.model_id, c.model_name, c.kind, c.version, c.alias, c.actor, c.at_ns, m.owner_id, m.shared
		FROM registry_changes c JOIN registry_models m ON m.id = c.model_id WHERE c.seq > ? ORDER BY c.seq LIMIT %d`, limit), after)
	if err != nil {
		return nil, 0, fmt.Errorf("registry: changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	last := after
	for rows.Next() {
		var c Change
		var ns, owner int64
		var shared int
		if err := rows.Scan(&c.Seq, &c.modelID, &c.Model, &c.Kind, &c.Version, &c.Alias, &c.Actor, &ns, &owner, &shared); err != nil {
			return nil, 0, fmt.Errorf("registry: changes: %w", err)
		}
		c.At = time.Unix(0, ns).UTC()
		last = c.Seq
		if canSee(p, Model{OwnerID: owner, Shared: shared != 0}) {
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("registry: changes: %w", err)
	}
	return out, last, nil
}

// WaitChanges is Changes that waits up to wait (capped by Options.MaxWait) for at
// least one visible change after after. Changes committed by this process wake it
// at once; on PostgreSQL, so do changes by other processes sharing the database,
// announced by NOTIFY in the transaction of the change and received on one
// listening connection per Registry, opened by the first wait. Without that
// connection (SQLite, or PostgreSQL while it reconnects) changes by other
// processes are seen within Options.PollInterval. It returns an empty list when
// the wait ends first.
func (r *Registry) WaitChanges(ctx context.Context, p access.Principal, after int64, limit int, wait time.Duration) ([]Change, int64, error) {
	wait = min(max(wait, 0), r.opts.MaxWait)
	if wait > 0 {
		r.listen()
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(r.opts.PollInterval)
	defer poll.Stop()
	for {
		woken := r.changedChan() // before the query, so no commit slips between
		changes, last, err := r.Changes(ctx, p, after, limit)
		if err != nil || len(changes) > 0 || wait == 0 {
			return changes, last, err
		}
		after = last
		select {
		case <-woken:
		case <-poll.C:
		case <-deadline.C:
			return nil, last, nil
		case <-ctx.Done():
			return nil, last, ctx.Err()
		}
	}
}
