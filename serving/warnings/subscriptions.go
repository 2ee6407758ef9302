package warnings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
)

// ErrConsent: a bank subscribed to, or would be alerted about, a company that has
// not granted it consent.
var ErrConsent = errors.New("warnings: company consent required")

// Subscription routes warnings to a webhook endpoint: a bank's subscription names
// one company (it must hold the company's consent, checked again at every alert);
// a filter subscription (a regulator's) names no company and takes every warning
// of at least MinSeverity, of Area, District and Industry when set.
type Subscription struct {
	ID          int64    `json:"id"`
	Institution int64    `json:"institution_id"`
	Endpoint    int64    `json:"endpoint_id"`
	Company     string   `json:"company,omitempty"`
	MinSeverity Severity `json:"min_severity,omitempty"`
	Area        string   `json:"area,omitempty"`
	District    string   `json:"district,omitempty"`
	Industry    string   `json:"industry,omitempty"`
	// Clearance is the subscriber's (access.ClearanceOf): evidence values above it
	// are withheld from its alerts.
	Clearance string    `json:"clearance"`
	Created   time.Time `json:"created_at"`
}

// ConsentChecker answers whether a bank may see a company (access.Store).
type ConsentChecker interface {
	CheckConsent(ctx context.Context, companyCode string, bankID int64, scope string, at time.Time) (access.Consent, error)
}

// EndpointGetter returns a webhook endpoint (webhooks.Endpoints).
type EndpointGetter interface {
	Get(ctx context.Context, id int64) (webhooks.Endpoint, error)
}

// SubscriptionOptions configure Subscriptions.
type SubscriptionOptions struct {
	// Consent decides whether a bank may follow a company. Required.
	Consent ConsentChecker
	// Endpoints checks that an endpoint is the subscriber's. Required.
	Endpoints EndpointGetter
	// Scope is the consent scope alerts need (default access.ScopeCreditAssessment).
	Scope string
	// Library gives the sensitivity of evidence values (nil: DefaultLibrary).
	Library *Library
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Subscriptions stores subscriptions in the metadata database and turns a date's
// changes into webhook deliveries.
type Subscriptions struct {
	db   *metadb.DB
	opts SubscriptionOptions
}

// OpenSubscriptions migrates the warning tables in db.
func OpenSubscriptions(ctx context.Context, db *metadb.DB, o SubscriptionOptions) (*Subscriptions, error) {
	if o.Consent == nil || o.Endpoints == nil {
		return nil, fmt.Errorf("%w: subscriptions need a consent checker and the endpoints", ErrInput)
	}
	if o.Scope == "" {
		o.Scope = access.ScopeCreditAssessment
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Library == nil {
		lib, err := DefaultLibrary()
		if err != nil {
			return nil, err
		}
		o.Library = lib
	}
	if _, err := Open(ctx, db); err != nil {
		return nil, err
	}
	return &Subscriptions{db: db, opts: o}, nil
}

func (s *Subscriptions) endpoint(ctx context.Context, institution, id int64) error {
	ep, err := s.opts.Endpoints.Get(ctx, id)
	if err != nil {
		return err
	}
	if ep.InstitutionID != institution {
		return fmt.Errorf("%w: endpoint %d is not institution %d's", webhooks.ErrNotFound, id, institution)
	}
	return nil
}

// SubscribeCompanies subscribes a bank's endpoint to companies (one or many, as
// from an uploaded list); every company must have granted the bank consent, else
// nothing is subscribed and the error names the first that has not. Companies
// already subscribed are kept as they are.
func (s *Subscriptions) SubscribeCompanies(ctx context.Context, institution, endpoint int64, clearance string, companies []string) ([]Subscription, error) {
	if len(companies) == 0 {
		return nil, fmt.Errorf("%w: no companies to subscribe to", ErrInput)
	}
	if clearanceRank(clearance) == 0 {
		return nil, fmt.Errorf("%w: clearance %q is not public, restricted or confidential", ErrInput, clearance)
	}
	if err := s.endpoint(ctx, institution, endpoint); err != nil {
		return nil, err
	}
	now := s.opts.Now()
	for _, c := range companies {
		if _, err := s.opts.Consent.CheckConsent(ctx, c, institution, s.opts.Scope, now); err != nil {
			if errors.Is(err, access.ErrConsentRequired) || errors.Is(err, access.ErrInvalid) {
				return nil, fmt.Errorf("%w: %v", ErrConsent, err)
			}
			return nil, err
		}
	}
	var out []Subscription
	err := s.db.Tx(ctx, func(tx *metadb.Tx) error {
		for _, c := range companies {
			rows, err := tx.Query(ctx, `INSERT INTO warning_subscriptions (institution_id, endpoint_id, company, min_severity, area, district, industry, clearance,
				created_at_ns) VALUES (?, ?, ?, '', '', '', '', ?, ?) ON CONFLICT (institution_id, endpoint_id, company) WHERE company <> '' DO NOTHING RETURNING id`,
				institution, endpoint, c, clearance, now.UnixNano())
			if err != nil {
				return err
			}
			sub := Subscription{Institution: institution, Endpoint: endpoint, Company: c, Clearance: clearance, Created: now.UTC()}
			if rows.Next() {
				err = rows.Scan(&sub.ID)
				out = append(out, sub)
			}
			rows.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("warnings: subscribe: %w", err)
	}
	return out, nil
}

// FilterSpec selects warnings for a filter subscription; zero fields select all.
type FilterSpec struct {
	// MinSeverity: blue takes all, yellow takes yellow and red, red only red.
	MinSeverity Severity `json:"min_severity,omitempty"`
	Area        string   `json:"area,omitempty"`
	// District is the 6-digit division code and Industry the GB/T 4754 section
	// letter of the business registry.
	District string `json:"district,omitempty"`
	Industry string `json:"industry,omitempty"`
}

// SubscribeFilter subscribes an endpoint to every warning f selects.
func (s *Subscriptions) SubscribeFilter(ctx context.Context, institution, endpoint int64, clearance string, f FilterSpec) (Subscription, error) {
	minSeverity := f.MinSeverity
	if clearanceRank(clearance) == 0 {
		return Subscription{}, fmt.Errorf("%w: clearance %q is not public, restricted or confidential", ErrInput, clearance)
	}
	switch minSeverity {
	case "", Red, Yellow, Blue:
	default:
		return Subscription{}, fmt.Errorf("%w: severity %q is not red, yellow or blue", ErrInput, minSeverity)
	}
	if err := s.endpoint(ctx, institution, endpoint); err != nil {
		return Subscription{}, err
	}
	now := s.opts.Now()
	sub := Subscription{Institution: institution, Endpoint: endpoint, MinSeverity: minSeverity, Area: strings.TrimSpace(f.Area),
		District: strings.TrimSpace(f.District), Industry: strings.TrimSpace(f.Industry), Clearance: clearance, Created: now.UTC()}
	rows, err := s.db.Query(ctx, `INSERT INTO warning_subscriptions (institution_id, endpoint_id, company, min_severity, area, district, industry,
		clearance, created_at_ns) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?) RETURNING id`, institution, endpoint, string(minSeverity), sub.Area,
		sub.District, sub.Industry, clearance, now.UnixNano())
	if err != nil {
		return Subscription{}, fmt.Errorf("warnings: subscribe: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		err = rows.Scan(&sub.ID)
	}
	return sub, err
}

// Unsubscribe removes one of an institution's subscriptions.
func (s *Subscriptions) Unsubscribe(ctx context.Context, institution, id int64) error {
	res, err := s.db.Exec(ctx, `DELETE FROM warning_subscriptions WHERE id = ? AND institution_id = ?`, id, institution)
	if err != nil {
		return fmt.Errorf("warnings: unsubscribe %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: subscription %d", ErrNotFound, id)
	}
	return nil
}

// List returns an institution's subscriptions (institution 0: everyone's).
func (s *Subscriptions) List(ctx context.Context, institution int64) ([]Subscription, error) {
	q := `SELECT id, institution_id, endpoint_id, company, min_severity, area, district, industry, clearance, created_at_ns FROM warning_subscriptions`
	var args []any
	if institution != 0 {
		q += ` WHERE institution_id = ?`
		args = append(args, institution)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("warnings: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		var (
			sub Subscription
			sev string
			ns  int64
		)
		if err := rows.Scan(&sub.ID, &sub.Institution, &sub.Endpoint, &sub.Company, &sev, &sub.Area, &sub.District, &sub.Industry, &sub.Clearance, &ns); err != nil {
			return nil, err
		}
		sub.MinSeverity, sub.Created = Severity(sev), time.Unix(0, ns).UTC()
		out = append(out, sub)
	}
	return out, rows.Err()
}

func severityRank(s Severity) int {
	switch s {
	case Red:
		return 3
	case Yellow:
		return 2
	case Blue:
		return 1
	}
	return 0
}

func (sub Subscription) matches(w *Warning) bool {
	if sub.Company != "" {
		return sub.Company == w.Company
	}
	return severityRank(w.Severity) >= severityRank(sub.MinSeverity) && (sub.Area == "" || sub.Area == w.Area) &&
		(sub.District == "" || sub.District == w.District) && (sub.Industry == "" || sub.Industry == w.Industry)
}

// Alert is the data of a warning.opened or warning.closed webhook.
type Alert struct {
	Event   string   `json:"event"`
	Warning *Warning `json:"warning"`
}

// Event types of the webhooks.
const (
	EventOpened = "warning.opened"
	EventClosed = "warning.closed"
)

// MessageID is the stable webhook-id of one alert to one endpoint: a retried or
// re-notified alert keeps it, so receivers can drop duplicates.
func MessageID(warning int64, event string, endpoint int64) string {
	return fmt.Sprintf("msg_warning_%d_%s_%d", warning, strings.TrimPrefix(event, "warning."), endpoint)
}

// Notifier returns the Notifier that enqueues one webhook delivery per matching
// subscription and opened or closed warning on q. A company subscription whose
// consent has been revoked gets nothing; evidence values above a subscription's
// clearance are withheld.
func (s *Subscriptions) Notifier(q *jobs.Queue) Notifier {
	return func(ctx context.Context, ch *Changes) error {
		_, err := s.Notify(ctx, q, ch)
		return err
	}
}

// Notify enqueues the deliveries of ch and returns how many it enqueued.
func (s *Subscriptions) Notify(ctx context.Context, q *jobs.Queue, ch *Changes) (int, error) {
	subs, err := s.List(ctx, 0)
	if err != nil {
		return 0, err
	}
	byCompany := map[string][]Subscription{}
	var filters []Subscription
	for _, sub := range subs {
		if sub.Company != "" {
			byCompany[sub.Company] = append(byCompany[sub.Company], sub)
		} else {
			filters = append(filters, sub)
		}
	}
	now := s.opts.Now()
	consent := map[[2]string]bool{}
	allowed := func(sub Subscription) (bool, error) {
		key := [2]string{fmt.Sprint(sub.Institution), sub.Company}
		if ok, seen := consent[key]; seen {
			return ok, nil
		}
		_, err := s.opts.Consent.CheckConsent(ctx, sub.Company, sub.Institution, s.opts.Scope, now)
		if err != nil && !errors.Is(err, access.ErrConsentRequired) && !errors.Is(err, access.ErrInvalid) {
			return false, err
		}
		consent[key] = err == nil
		return err == nil, nil
	}
	at, err := time.Parse(time.DateOnly, ch.AsOf)
	if err != nil {
		return 0, fmt.Errorf("%w: changes of %q", ErrInput, ch.AsOf)
	}
	n := 0
	send := func(event string, w *Warning) error {
		targets := byCompany[w.Company]
		sent := map[int64]bool{}
		for _, sub := range slices.Concat(targets, filters) {
			if !sub.matches(w) || sent[sub.Endpoint] {
				continue
			}
			if sub.Company != "" {
				ok, err := allowed(sub)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			rw, err := s.opts.Library.RedactWarning(w, sub.Clearance)
			if err != nil {
				return err
			}
			data, err := json.Marshal(Alert{Event: event, Warning: rw})
			if err != nil {
				return err
			}
			a := webhooks.Args{Endpoint: sub.Endpoint, ID: MessageID(w.ID, event, sub.Endpoint), Type: event, Data: data, At: at}
			if _, err := q.Insert(ctx, a, jobs.InsertOptions{Queue: webhooks.QueueName, MaxAttempts: webhooks.MaxAttempts, Unique: true}); err != nil {
				return fmt.Errorf("warnings: enqueue alert %s: %w", a.ID, err)
			}
			sent[sub.Endpoint] = true
			n++
		}
		return nil
	}
	for _, w := range ch.Opened {
		if err := send(EventOpened, w); err != nil {
			return n, err
		}
	}
	for _, w := range ch.Closed {
		if err := send(EventClosed, w); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Feed keeps, of ws, the warnings the subscriptions of institution take, by the
// rule of the webhook alerts: a company subscription only while the consent
// holds (checked now), a filter subscription by its filter; each kept warning's
// evidence is redacted to the clearance of the subscription that took it. It is
// what the institution's server-sent-events feed carries.
func (s *Subscriptions) Feed(ctx context.Context, institution int64, ws []*Warning) ([]*Warning, error) {
	subs, err := s.List(ctx, institution)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	now := s.opts.Now()
	consent := map[string]bool{}
	var out []*Warning
	for _, w := range ws {
		for _, sub := range subs {
			if !sub.matches(w) {
				continue
			}
			if sub.Company != "" {
				ok, seen := consent[sub.Company]
				if !seen {
					_, err := s.opts.Consent.CheckConsent(ctx, sub.Company, institution, s.opts.Scope, now)
					if err != nil && !errors.Is(err, access.ErrConsentRequired) && !errors.Is(err, access.ErrInvalid) {
						return nil, err
					}
					ok = err == nil
					consent[sub.Company] = ok
				}
				if !ok {
					continue
				}
			}
			rw, err := s.opts.Library.RedactWarning(w, sub.Clearance)
			if err != nil {
				return nil, err
			}
			out = append(out, rw)
			break
		}
	}
	return out, nil
}
