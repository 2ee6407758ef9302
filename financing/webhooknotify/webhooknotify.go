// Package webhooknotify delivers the financing loop's notices (renewal reminders
// with a fresh assessment, unanswered-request warnings) to an institution's
// webhook endpoints as durable internal/webhooks deliveries, typed
// "financing.renewal" and "financing.unanswered". A notice to a company
// (Institution 0) has no endpoint and is left to the audit record the loop
// writes.
//
//	n := webhooknotify.New(queue, webhooknotify.SubscribedEndpoints(subscriptions))
//	fin, err := financing.Open(ctx, db, financing.Options{Notifier: n, …})
package webhooknotify

import (
	"context"
	"fmt"
	"slices"

	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// Endpoints lists the webhook endpoints of an institution.
type Endpoints func(ctx context.Context, institution int64) ([]int64, error)

// Notifier is a financing.Notifier over webhook deliveries.
type Notifier struct {
	q         *jobs.Queue
	endpoints Endpoints
}

// New returns the notifier enqueueing on q to the endpoints eps lists.
func New(q *jobs.Queue, eps Endpoints) *Notifier { return &Notifier{q: q, endpoints: eps} }

// Notify implements financing.Notifier.
func (n *Notifier) Notify(ctx context.Context, x financing.Notice) error {
	if x.Institution == 0 {
		return nil
	}
	eps, err := n.endpoints(ctx, x.Institution)
	if err != nil {
		return fmt.Errorf("webhooknotify: endpoints of institution %d: %w", x.Institution, err)
	}
	for _, ep := range eps {
		if _, err := webhooks.Enqueue(ctx, n.q, ep, x.Kind, x); err != nil {
			return fmt.Errorf("webhooknotify: endpoint %d: %w", ep, err)
		}
	}
	return nil
}

// SubscribedEndpoints lists the endpoints an institution's warning
// subscriptions deliver to: a bank hears of its loans where it hears of their
// warnings.
func SubscribedEndpoints(subs *warnings.Subscriptions) Endpoints {
	return func(ctx context.Context, institution int64) ([]int64, error) {
		ss, err := subs.List(ctx, institution)
		if err != nil {
			return nil, err
		}
		var out []int64
		for _, s := range ss {
			out = append(out, s.Endpoint)
		}
		slices.Sort(out)
		return slices.Compact(out), nil
	}
}
