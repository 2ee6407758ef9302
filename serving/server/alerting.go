package server

import (
	"context"
	"log/slog"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// Alerting is a process's warning and webhook machinery: the warnings'
// lifecycle, the subscriptions and the subscribers' endpoints, all in the
// metadata database. Servers and workers open the same.
type Alerting struct {
	Warnings      *warnings.Store
	Subscriptions *warnings.Subscriptions
	Endpoints     *webhooks.Endpoints
	Guard         webhooks.Guard
}

// OpenAlerting opens (and migrates) the alerting tables in db; acc decides
// whether a bank may follow a company (its consent).
func OpenAlerting(ctx context.Context, db *metadb.DB, acc *access.Store, g webhooks.Guard) (*Alerting, error) {
	a := &Alerting{Guard: g}
	var err error
	if a.Warnings, err = warnings.Open(ctx, db); err != nil {
		return nil, err
	}
	if a.Endpoints, err = webhooks.OpenEndpoints(ctx, db, g); err != nil {
		return nil, err
	}
	if a.Subscriptions, err = warnings.OpenSubscriptions(ctx, db, warnings.SubscriptionOptions{Consent: acc, Endpoints: a.Endpoints}); err != nil {
		return nil, err
	}
	return a, nil
}

// AlertQueues are the queues of warning evaluations and webhook deliveries a
// working process takes, and how many of each at once.
var AlertQueues = map[string]int{warnings.QueueName: 1, webhooks.QueueName: 4}

// Register installs the warnings_eval, warnings_batch and webhook_delivery
// workers: a warning evaluation reads the store's snapshots (and, with
// requireScores, waits for the date's score run), a batch evaluation the
// records of one committed department batch, and both alert the subscribers
// through queue().
func (a *Alerting) Register(ws *jobs.Workers, store blob.Store, queue func() *jobs.Queue, requireScores bool, logger *slog.Logger) error {
	o := warnings.JobOptions{Source: warnings.Source{Store: store, RequireScores: requireScores}, Warnings: a.Warnings,
		Notify: func(ctx context.Context, ch *warnings.Changes) error {
			return a.Subscriptions.Notifier(queue())(ctx, ch)
		},
		Logger: logger}
	if err := warnings.Register(ws, o); err != nil {
		return err
	}
	if err := warnings.RegisterBatches(ws, o); err != nil {
		return err
	}
	return webhooks.Register(ws, a.Endpoints, a.Guard, logger)
}
