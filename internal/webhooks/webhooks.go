// Package webhooks delivers the platform's events (warnings, decisions, offers)
// to subscribers' HTTP endpoints by the Standard Webhooks specification: each
// POST carries webhook-id (stable across retries), webhook-timestamp and
// webhook-signature (HMAC-SHA256 over "<id>.<timestamp>.<body>" with every active
// secret of the endpoint, so secrets rotate without a gap). Deliveries are
// durable jobs of internal/jobs: they survive restarts and are retried with
// exponential backoff and jitter for more than 24 hours, each retry signed afresh
// with a current timestamp and the endpoint's current secrets; a delivery that
// runs out of attempts is kept as dead and can be replayed with the same id.
// Endpoints are guarded against server-side request forgery (Guard).
//
//	eps, _ := webhooks.OpenEndpoints(ctx, db, webhooks.Guard{})
//	ep, secret, _ := eps.Create(ctx, institutionID, "https://bank.example/hooks", "warnings")
//	ws := jobs.NewWorkers(); webhooks.Register(ws, eps, webhooks.Guard{}, logger)
//	webhooks.Enqueue(ctx, queue, ep.ID, "warning.opened", payload)
package webhooks

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

var (
	// ErrInvalid: a bad endpoint URL, secret or message.
	ErrInvalid = errors.New("webhooks: invalid")
	// ErrForbiddenAddress: the endpoint resolves to an address the guard refuses.
	ErrForbiddenAddress = errors.New("webhooks: address not allowed")
	// ErrNotFound: no such endpoint (or not the caller's).
	ErrNotFound = errors.New("webhooks: not found")
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Endpoint is a subscriber's HTTP endpoint.
type Endpoint struct {
	ID            int64     `json:"id"`
	InstitutionID int64     `json:"institution_id"`
	URL           string    `json:"url"`
	Description   string    `json:"description"`
	Disabled      bool      `json:"disabled"`
	DisabledWhy   string    `json:"disabled_reason,omitempty"`
	Created       time.Time `json:"created_at"`
	// secrets are the active signing secrets, newest first.
	secrets []string
}

// Endpoints stores endpoints and their secrets in the metadata database.
type Endpoints struct {
	db    *metadb.DB
	guard Guard
	now   func() time.Time
}

// OpenEndpoints migrates the endpoint table in db.
func OpenEndpoints(ctx context.Context, db *metadb.DB, g Guard) (*Endpoints, error) {
	ms, err := metadb.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, "webhooks", ms); err != nil {
		return nil, fmt.Errorf("webhooks: open: %w", err)
	}
	return &Endpoints{db: db, guard: g, now: time.Now}, nil
}

// Create registers an endpoint of an institution and returns it with its first
// signing secret, shown this once.
func (e *Endpoints) Create(ctx context.Context, institution int64, rawURL, description string) (Endpoint, string, error) {
	u, err := e.guard.CheckURL(rawURL)
	if err != nil {
		return Endpoint{}, "", err
	}
	secret := NewSecret()
	sj, _ := json.Marshal([]string{secret})
	now := e.now()
	var id int64
	err = e.db.Tx(ctx, func(tx *metadb.Tx) error {
		id, err = tx.InsertID(ctx, `INSERT INTO webhook_endpoints (institution_id, url, description, secrets_json, created_at_ns, updated_at_ns)
			VALUES (?, ?, ?, ?, ?, ?)`, institution, u.String(), description, string(sj), now.UnixNano(), now.UnixNano())
		return err
	})
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("webhooks: create endpoint: %w", err)
	}
	return Endpoint{ID: id, InstitutionID: institution, URL: u.String(), Description: description, Created: now.UTC(), secrets: []string{secret}}, secret, nil
}

// Get returns an endpoint.
func (e *Endpoints) Get(ctx context.Context, id int64) (Endpoint, error) {
	var ep Endpoint
	var sj string
	var disabled int
	var created int64
	err := metadb.ScanOne(e.db.QueryRow(ctx, `SELECT id, institution_id, url, description, secrets_json, disabled, disabled_reason, created_at_ns
		FROM webhook_endpoints WHERE id = ?`, id), &ep.ID, &ep.InstitutionID, &ep.URL, &ep.Description, &sj, &disabled, &ep.DisabledWhy, &created)
	if errors.Is(err, metadb.ErrNotFound) {
		return Endpoint{}, fmt.Errorf("%w: endpoint %d", ErrNotFound, id)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: endpoint %d: %w", id, err)
	}
	if err := json.Unmarshal([]byte(sj), &ep.secrets); err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: endpoint %d: secrets: %w", id, err)
	}
	ep.Disabled, ep.Created = disabled != 0, time.Unix(0, created).UTC()
	return ep, nil
}

// Rotate adds a new signing secret to an endpoint of institution and returns it.
// The previous secret keeps signing beside it (deliveries carry both
// signatures) until Retire; at most two are active.
func (e *Endpoints) Rotate(ctx context.Context, institution, id int64) (string, error) {
	secret := NewSecret()
	err := e.update(ctx, institution, id, func(secrets []string) []string { return []string{secret, secrets[0]} })
	return secret, err
}

// Retire keeps only the newest signing secret of an endpoint.
func (e *Endpoints) Retire(ctx context.Context, institution, id int64) error {
	return e.update(ctx, institution, id, func(secrets []string) []string { return secrets[:1] })
}

func (e *Endpoints) update(ctx context.Context, institution, id int64, fn func([]string) []string) error {
	return e.db.Tx(ctx, func(tx *metadb.Tx) error {
		var sj string
		var owner int64
		err := metadb.ScanOne(tx.QueryRow(ctx, "SELECT institution_id, secrets_json FROM webhook_endpoints WHERE id = ?"+tx.ForUpdate(), id), &owner, &sj)
		if errors.Is(err, metadb.ErrNotFound) || (err == nil && owner != institution) {
			return fmt.Errorf("%w: endpoint %d", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		var secrets []string
		if err := json.Unmarshal([]byte(sj), &secrets); err != nil || len(secrets) == 0 {
			return fmt.Errorf("webhooks: endpoint %d has no secrets", id)
		}
		b, _ := json.Marshal(fn(secrets))
		_, err = tx.Exec(ctx, "UPDATE webhook_endpoints SET secrets_json = ?, updated_at_ns = ? WHERE id = ?", string(b), e.now().UnixNano(), id)
		return err
	})
}

// Disable stops deliveries to an endpoint (a subscriber's request, or a 410 Gone
// from the endpoint).
func (e *Endpoints) Disable(ctx context.Context, id int64, why string) error {
	_, err := e.db.Exec(ctx, "UPDATE webhook_endpoints SET disabled = 1, disabled_reason = ?, updated_at_ns = ? WHERE id = ?", why, e.now().UnixNano(), id)
	return err
}

// Kind is the job kind of one delivery; QueueName its queue.
const (
	Kind      = "webhook_delivery"
	QueueName = "webhooks"
)

// MaxAttempts of one delivery: with the jobs' default backoff (1 s·n⁴, at most an
// hour between attempts) the last comes about 25 hours after the first.
const MaxAttempts = 30

// Args are one message to one endpoint.
type Args struct {
	Endpoint int64 `json:"endpoint"`
	// ID is the message id (webhook-id), the same on every attempt and replay.
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	// At is when the event happened.
	At time.Time `json:"at"`
}

// Kind names the job kind.
func (Args) Kind() string { return Kind }

// NewMessageID returns a fresh message id.
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "msg_" + strings.TrimRight(base64.RawURLEncoding.EncodeToString(b[:]), "=")
}

// Enqueue queues one message to one endpoint and returns its message id.
func Enqueue(ctx context.Context, q *jobs.Queue, endpoint int64, typ string, data any) (string, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	a := Args{Endpoint: endpoint, ID: NewMessageID(), Type: typ, Data: b, At: time.Now().UTC()}
	_, err = q.Insert(ctx, a, jobs.InsertOptions{Queue: QueueName, MaxAttempts: MaxAttempts})
	return a.ID, err
}

// body is the JSON a subscriber receives.
func (a Args) body() ([]byte, error) {
	return json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{a.Type, a.At, a.Data})
}

// Register installs the delivery worker in ws.
func Register(ws *jobs.Workers, eps *Endpoints, g Guard, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client := g.Client()
	return jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[Args]) error {
		return deliver(ctx, client, eps, j.Args, logger)
	})
}

// deliver makes one attempt: 2xx is done; 410 Gone disables the endpoint and
// stops; a refused address or a disabled or removed endpoint stops; anything
// else (other statuses, timeouts, refused connections) is retried.
func deliver(ctx context.Context, client *http.Client, eps *Endpoints, a Args, logger *slog.Logger) error {
	ep, err := eps.Get(ctx, a.Endpoint)
	if errors.Is(err, ErrNotFound) {
		return jobs.Permanent(err)
	}
	if err != nil {
		return err
	}
	if ep.Disabled {
		return jobs.Permanent(fmt.Errorf("endpoint %d is disabled: %s", ep.ID, ep.DisabledWhy))
	}
	keys := make([][]byte, 0, len(ep.secrets))
	for _, s := range ep.secrets {
		k, err := ParseSecret(s)
		if err != nil {
			return jobs.Permanent(err)
		}
		keys = append(keys, k)
	}
	body, err := a.body()
	if err != nil {
		return jobs.Permanent(err)
	}
	ts := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, strings.NewReader(string(body)))
	if err != nil {
		return jobs.Permanent(fmt.Errorf("%w: endpoint %d: %v", ErrInvalid, ep.ID, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "xinyi-webhooks/1")
	req.Header.Set("webhook-id", a.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", Signature(keys, a.ID, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		if isForbidden(err) {
			return jobs.Permanent(fmt.Errorf("endpoint %d: %w", ep.ID, err))
		}
		return fmt.Errorf("endpoint %d: %w", ep.ID, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusGone:
		if err := eps.Disable(ctx, ep.ID, "the endpoint answered 410 Gone"); err != nil {
			logger.Warn("webhooks: could not disable a gone endpoint", "endpoint", ep.ID, "err", err)
		}
		return jobs.Permanent(fmt.Errorf("endpoint %d answered 410 Gone: disabled", ep.ID))
	}
	return fmt.Errorf("endpoint %d answered %s", ep.ID, resp.Status)
}

// deadStates are the states of a delivery that will not be attempted again: out
// of attempts, or stopped for good.
var deadStates = []string{jobs.StateDiscarded, jobs.StateCancelled}

// Dead lists deliveries that ran out of attempts (or stopped for good), newest
// first.
func Dead(ctx context.Context, q *jobs.Queue, limit int) ([]jobs.Info, error) {
	return q.List(ctx, jobs.ListOptions{Kinds: []string{Kind}, States: deadStates, Limit: limit})
}

// Replay queues a dead delivery again with the same message id.
func Replay(ctx context.Context, q *jobs.Queue, jobID int64) (int64, error) {
	in, err := q.Get(ctx, jobID)
	if err != nil {
		return 0, err
	}
	if in.Kind != Kind || !slices.Contains(deadStates, in.State) {
		return 0, fmt.Errorf("%w: job %d is not a dead webhook delivery (%s %s)", ErrInvalid, jobID, in.Kind, in.State)
	}
	var a Args
	if err := json.Unmarshal(in.Args, &a); err != nil {
		return 0, fmt.Errorf("%w: job %d arguments: %v", ErrInvalid, jobID, err)
	}
	ins, err := q.Insert(ctx, a, jobs.InsertOptions{Queue: QueueName, MaxAttempts: MaxAttempts})
	return ins.ID, err
}

// List returns the endpoints of an institution, newest first.
func (e *Endpoints) List(ctx context.Context, institution int64) ([]Endpoint, error) {
	rows, err := e.db.Query(ctx, `SELECT id FROM webhook_endpoints WHERE institution_id = ? ORDER BY id DESC`, institution)
	if err != nil {
		return nil, fmt.Errorf("webhooks: endpoints of %d: %w", institution, err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Endpoint, 0, len(ids))
	for _, id := range ids {
		ep, err := e.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
	return out, nil
}

// Owned returns endpoint id when it belongs to institution, and ErrNotFound
// otherwise (another institution's endpoint is not revealed).
func (e *Endpoints) Owned(ctx context.Context, institution, id int64) (Endpoint, error) {
	ep, err := e.Get(ctx, id)
	if err == nil && ep.InstitutionID != institution {
		err = fmt.Errorf("%w: endpoint %d", ErrNotFound, id)
	}
	return ep, err
}

// Stop disables an endpoint of institution at its owner's request: nothing more
// is delivered to it (queued deliveries end at their next attempt).
func (e *Endpoints) Stop(ctx context.Context, institution, id int64) error {
	if _, err := e.Owned(ctx, institution, id); err != nil {
		return err
	}
	return e.Disable(ctx, id, "stopped by its owner")
}

// DeadOf lists the dead deliveries (see Dead) to the endpoints of institution,
// newest first, looking at the newest scan dead deliveries of the platform.
func DeadOf(ctx context.Context, q *jobs.Queue, eps *Endpoints, institution int64, scan int) ([]jobs.Info, error) {
	all, err := Dead(ctx, q, scan)
	if err != nil {
		return nil, err
	}
	mine := map[int64]bool{}
	out := []jobs.Info{}
	for _, in := range all {
		var a Args
		if json.Unmarshal(in.Args, &a) != nil {
			continue
		}
		owned, seen := mine[a.Endpoint]
		if !seen {
			_, err := eps.Owned(ctx, institution, a.Endpoint)
			owned = err == nil
			mine[a.Endpoint] = owned
		}
		if owned {
			out = append(out, in)
		}
	}
	return out, nil
}

// DeliveryEndpoint is the endpoint a delivery job is addressed to; ErrNotFound
// when the job is not a webhook delivery.
func DeliveryEndpoint(ctx context.Context, q *jobs.Queue, jobID int64) (int64, error) {
	in, err := q.Get(ctx, jobID)
	if errors.Is(err, jobs.ErrNotFound) {
		return 0, fmt.Errorf("%w: delivery %d", ErrNotFound, jobID)
	}
	if err != nil {
		return 0, err
	}
	var a Args
	if in.Kind != Kind || json.Unmarshal(in.Args, &a) != nil {
		return 0, fmt.Errorf("%w: delivery %d", ErrNotFound, jobID)
	}
	return a.Endpoint, nil
}
