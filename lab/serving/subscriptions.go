package serving

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/serving/portfolio"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// Subscriptions implements lab.Subscriptions over the webhook endpoints and the
// warning subscriptions; the route has authorized ActionManageWebhooks, and each
// change names the caller's own institution (another's endpoint is not found).
type Subscriptions struct {
	eps   *webhooks.Endpoints
	subs  *warnings.Subscriptions
	src   portfolio.Sources
	auth  Authorizer
	names func(code string) string
}

// NewSubscriptions returns the console's alert-delivery page backend; names
// (optional) names companies.
func NewSubscriptions(eps *webhooks.Endpoints, subs *warnings.Subscriptions, src portfolio.Sources, auth Authorizer, names func(string) string) *Subscriptions {
	return &Subscriptions{eps: eps, subs: subs, src: src, auth: auth, names: names}
}

func subsErr(err error) error {
	switch {
	case errors.Is(err, webhooks.ErrInvalid), errors.Is(err, webhooks.ErrForbiddenAddress), errors.Is(err, warnings.ErrInput):
		return fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	case errors.Is(err, webhooks.ErrNotFound), errors.Is(err, warnings.ErrNotFound):
		return fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	case errors.Is(err, warnings.ErrConsent), errors.Is(err, access.ErrConsentRequired):
		return fmt.Errorf("%w: %w", lab.ErrConsentRequired, err)
	}
	return err
}

func endpointOf(e webhooks.Endpoint) lab.WebhookEndpoint {
	return lab.WebhookEndpoint{ID: e.ID, URL: e.URL, Description: e.Description, Disabled: e.Disabled, Created: e.Created}
}

// Endpoints implements lab.Subscriptions.
func (s *Subscriptions) Endpoints(ctx context.Context, p lab.Principal) ([]lab.WebhookEndpoint, error) {
	eps, err := s.eps.List(ctx, p.InstitutionID)
	if err != nil {
		return nil, err
	}
	out := make([]lab.WebhookEndpoint, len(eps))
	for i, e := range eps {
		out[i] = endpointOf(e)
	}
	return out, nil
}

// CreateEndpoint implements lab.Subscriptions.
func (s *Subscriptions) CreateEndpoint(ctx context.Context, p lab.Principal, url, description string) (lab.WebhookEndpoint, string, error) {
	if len([]rune(description)) > 200 {
		return lab.WebhookEndpoint{}, "", fmt.Errorf("%w: a description is at most 200 characters", lab.ErrInvalidInput)
	}
	e, secret, err := s.eps.Create(ctx, p.InstitutionID, url, description)
	if err != nil {
		return lab.WebhookEndpoint{}, "", subsErr(err)
	}
	return endpointOf(e), secret, nil
}

// RotateEndpoint implements lab.Subscriptions.
func (s *Subscriptions) RotateEndpoint(ctx context.Context, p lab.Principal, id int64) (string, error) {
	secret, err := s.eps.Rotate(ctx, p.InstitutionID, id)
	return secret, subsErr(err)
}

// StopEndpoint implements lab.Subscriptions.
func (s *Subscriptions) StopEndpoint(ctx context.Context, p lab.Principal, id int64) error {
	return subsErr(s.eps.Stop(ctx, p.InstitutionID, id))
}

// Subscriptions implements lab.Subscriptions.
func (s *Subscriptions) Subscriptions(ctx context.Context, p lab.Principal) ([]lab.WarningSubscription, error) {
	subs, err := s.subs.List(ctx, p.InstitutionID)
	if err != nil {
		return nil, err
	}
	out := make([]lab.WarningSubscription, len(subs))
	for i, x := range subs {
		out[i] = lab.WarningSubscription{ID: x.ID, EndpointID: x.Endpoint, Company: x.Company, MinSeverity: string(x.MinSeverity), Area: x.Area,
			District: x.District, Industry: x.Industry, Created: x.Created}
		if x.Company != "" && s.names != nil {
			out[i].CompanyName = s.names(x.Company)
		}
	}
	return out, nil
}

// SubscribePortfolio implements lab.Subscriptions: every company whose consent
// the institution holds now, each authorized again (ActionAssess).
func (s *Subscriptions) SubscribePortfolio(ctx context.Context, p lab.Principal, endpoint int64) (int, error) {
	followed, err := portfolio.Followed(ctx, s.src.Consents, p.InstitutionID, time.Now())
	if err != nil {
		return 0, err
	}
	have, err := s.subs.List(ctx, p.InstitutionID)
	if err != nil {
		return 0, err
	}
	subscribed := map[string]bool{}
	for _, x := range have {
		if x.Endpoint == endpoint && x.Company != "" {
			subscribed[x.Company] = true
		}
	}
	var codes []string
	for _, c := range followed {
		if subscribed[c.CompanyCode] {
			continue
		}
		if err := s.auth.Authorize(ctx, p.Principal, access.ActionAssess, access.Resource{Kind: "company", ID: c.CompanyCode, Operation: "warning.subscribe"}); err != nil {
			return 0, subsErr(err)
		}
		codes = append(codes, c.CompanyCode)
	}
	if len(codes) == 0 {
		return 0, nil
	}
	made, err := s.subs.SubscribeCompanies(ctx, p.InstitutionID, endpoint, access.ClearanceOf(p.Principal), codes)
	if err != nil {
		return 0, subsErr(err)
	}
	return len(made), nil
}

// Unsubscribe implements lab.Subscriptions.
func (s *Subscriptions) Unsubscribe(ctx context.Context, p lab.Principal, id int64) error {
	if err := s.subs.Unsubscribe(ctx, p.InstitutionID, id); err != nil {
		return subsErr(fmt.Errorf("subscription %s: %w", strconv.FormatInt(id, 10), err))
	}
	return nil
}
