package metadb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrUnsupported means the engine lacks the ability asked for (Listen on SQLite).
var ErrUnsupported = errors.New("metadb: not supported by this engine")

// maxChannel is PostgreSQL's longest identifier (NAMEDATALEN-1 bytes).
const maxChannel = 63

// Notification is one message received by Listen.
type Notification struct {
	// Payload is the text given to Tx.Notify; empty when Listening is set.
	Payload string
	// Listening marks that the connection has just started listening, the
	// first time or again after it dropped. Notifications sent before it may
	// have been missed, so a reader re-reads whatever state it follows.
	Listening bool
}

// Notify sends payload to the listeners of channel when the transaction commits
// (PostgreSQL NOTIFY, delivered once per committed transaction and dropped on
// rollback). On SQLite, which has no listeners, it does nothing.
func (tx *Tx) Notify(ctx context.Context, channel, payload string) error {
	if tx.dialect != Postgres {
		return nil
	}
	ch, err := scopedChannel(tx.scope, channel)
	if err != nil {
		return err
	}
	if _, err := tx.tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", ch, payload); err != nil {
		return fmt.Errorf("metadb: notify %s: %w", channel, classify(err))
	}
	return nil
}

// Listen receives the notifications sent to channel by Tx.Notify from any
// process sharing the database, on a connection of its own outside the pool.
// When that connection drops it is opened again after Options.ListenBackoff,
// doubling up to Options.ListenBackoffMax; every time listening (re)starts the
// channel receives a Notification with Listening set, since messages sent while
// it was down are lost. The channel is closed when ctx ends or the DB closes;
// the reader must keep reading until then.
//
// The connection's application_name is "metadb listen " and the channel's name
// within the server. Channel names are confined to the connection's current schema, so
// deployments (and tests) that share one server in different schemas do not
// hear each other. On SQLite Listen returns ErrUnsupported: its readers poll.
func (db *DB) Listen(ctx context.Context, channel string) (<-chan Notification, error) {
	if db.dialect != Postgres {
		return nil, fmt.Errorf("%w: listen on %s", ErrUnsupported, db.dialect)
	}
	ch, err := scopedChannel(db.scope, channel)
	if err != nil {
		return nil, err
	}
	db.listenMu.Lock()
	defer db.listenMu.Unlock()
	if db.closed.Err() != nil {
		return nil, fmt.Errorf("%w: database closed", ErrUnavailable)
	}
	lctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(db.closed, cancel)
	out := make(chan Notification)
	db.listeners.Add(1)
	go func() {
		defer db.listeners.Done()
		defer close(out)
		defer stop()
		defer cancel()
		db.listen(lctx, ch, out)
	}()
	return out, nil
}

// listen holds one listening connection at a time until ctx ends.
func (db *DB) listen(ctx context.Context, channel string, out chan<- Notification) {
	log := db.opts.Logger.With("channel", channel)
	wait := db.opts.ListenBackoff
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, channel, out, func() { wait = db.opts.ListenBackoff })
		if ctx.Err() != nil {
			return
		}
		log.Warn("metadb: listening connection lost; readers poll until it is back", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, db.opts.ListenBackoffMax)
	}
}

// listenOnce opens a connection, listens on channel, announces it and passes
// notifications on until the connection fails or ctx ends. listening runs once
// LISTEN has succeeded.
func (db *DB) listenOnce(ctx context.Context, channel string, out chan<- Notification, listening func()) error {
	cfg, err := pgx.ParseConfig(db.source)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidDSN, err)
	}
	// Named so operators (and tests) can tell it from pooled connections.
	cfg.RuntimeParams["application_name"] = "metadb listen " + channel
	cctx, cancel := context.WithTimeout(ctx, db.opts.ConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	listening()
	if !send(ctx, out, Notification{Listening: true}) {
		return ctx.Err()
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, db.opts.ListenCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if !send(ctx, out, Notification{Payload: n.Payload}) {
				return ctx.Err()
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, db.opts.ConnectTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		default:
			return fmt.Errorf("wait: %w", err)
		}
	}
}

func send(ctx context.Context, out chan<- Notification, n Notification) bool {
	select {
	case out <- n:
		return true
	case <-ctx.Done():
		return false
	}
}

// scopedChannel names channel within schema: "schema.channel", or when that is
// longer than PostgreSQL's 63-byte identifier limit, the channel's first 30
// bytes and a hash of the whole.
func scopedChannel(schema, channel string) (string, error) {
	if channel == "" || len(channel) > maxChannel {
		return "", fmt.Errorf("metadb: channel name %q must be 1-%d bytes", channel, maxChannel)
	}
	for _, c := range channel {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "", fmt.Errorf("metadb: channel name %q may hold only letters, digits and '_'", channel)
		}
	}
	if schema == "" {
		return channel, nil
	}
	full := schema + "." + channel
	if len(full) <= maxChannel {
		return full, nil
	}
	sum := sha256.Sum256([]byte(full))
	return channel[:min(len(channel), 30)] + "." + hex.EncodeToString(sum[:16]), nil
}
