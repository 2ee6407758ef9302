// Package webhooknotify delivers the financing loop's notices (renewal reminders
// with a fresh assessment, unanswered-request warnings) to an institution's
// webhook endpoints as durable internal/webhooks deliveries, typed
// "financing.renewal" and "financing.unanswered". A notice to a company
// (Institution 0) has no endpoint and is left to the audit record the loop
// writes.
//
//	n := webhooknotify.New(queue, webhooknotify.InstitutionEndpoints(endpoints))
//	fin, err := financing.Open(ctx, db, financing.Options{Notifier: n, …})
package webhooknotify

import (
	"context"
	"fmt"
	"slices"

	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
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

// InstitutionEndpoints lists the endpoints an institution registered and has
// not stopped.
func InstitutionEndpoints(eps *webhooks.Endpoints) Endpoints {
	return func(ctx context.Context, institution int64) ([]int64, error) {
		list, err := eps.List(ctx, institution)
		if err != nil {
			return nil, err
		}
		var out []int64
		for _, ep := range list {
			if !ep.Disabled {
				out = append(out, ep.ID)
			}
		}
		slices.Sort(out)
		return out, nil
	}
}
