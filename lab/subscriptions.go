package lab

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// WebhookEndpoint is one of an institution's webhook endpoints.
type WebhookEndpoint struct {
	ID          int64
	URL         string
	Description string
	Disabled    bool
	Created     time.Time
}

// WarningSubscription routes warnings to an endpoint: one company, or a filter.
type WarningSubscription struct {
	ID, EndpointID                        int64
	Company, CompanyName                  string
	MinSeverity, Area, District, Industry string
	Created                               time.Time
}

// Subscriptions manages an institution's webhook endpoints and warning
// subscriptions (internal/webhooks, serving/warnings). Optional.
type Subscriptions interface {
	Endpoints(ctx context.Context, p Principal) ([]WebhookEndpoint, error)
	// CreateEndpoint returns the endpoint and its signing secret, shown once.
	CreateEndpoint(ctx context.Context, p Principal, url, description string) (WebhookEndpoint, string, error)
	RotateEndpoint(ctx context.Context, p Principal, id int64) (string, error)
	StopEndpoint(ctx context.Context, p Principal, id int64) error
	Subscriptions(ctx context.Context, p Principal) ([]WarningSubscription, error)
	// SubscribePortfolio subscribes endpoint to every company whose consent the
	// institution holds now, and returns how many subscriptions it made.
	SubscribePortfolio(ctx context.Context, p Principal, endpoint int64) (int, error)
	Unsubscribe(ctx context.Context, p Principal, id int64) error
}

type subscriptionsData struct {
	Endpoints []WebhookEndpoint
	Subs      []WarningSubscription
	// Secret is a new or rotated signing secret, shown once, for endpoint
	// SecretFor.
	Secret    string
	SecretFor int64
	Made      int // subscriptions just made (-1: none asked)
}

func (s *Server) subscriptionsPage(q *req, d subscriptionsData) error {
	if s.o.Subscriptions == nil {
		return fmt.Errorf("%w: subscriptions", ErrNotConnected)
	}
	var err error
	if d.Endpoints, err = s.o.Subscriptions.Endpoints(q.ctx(), q.principal()); err != nil {
		return err
	}
	if d.Subs, err = s.o.Subscriptions.Subscriptions(q.ctx(), q.principal()); err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "subscriptions", "subscriptions", q.lang.T("nav.subscriptions"), d)
}

func (s *Server) subscriptions(q *req) error {
	return s.subscriptionsPage(q, subscriptionsData{Made: -1})
}

// postedID reads a positive id from a form field.
func postedID(q *req, name string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(q.r.PostFormValue(name)), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %s %q", ErrInvalidInput, name, q.r.PostFormValue(name))
	}
	return id, nil
}

// subscriptionsPost takes one of the page's forms.
func (s *Server) subscriptionsPost(q *req) error {
	if s.o.Subscriptions == nil {
		return fmt.Errorf("%w: subscriptions", ErrNotConnected)
	}
	p, sub := q.principal(), s.o.Subscriptions
	d := subscriptionsData{Made: -1}
	switch q.r.PostFormValue("op") {
	case "create":
		ep, secret, err := sub.CreateEndpoint(q.ctx(), p, strings.TrimSpace(q.r.PostFormValue("url")), strings.TrimSpace(q.r.PostFormValue("description")))
		if err != nil {
			return err
		}
		d.Secret, d.SecretFor = secret, ep.ID
	case "rotate":
		id, err := postedID(q, "endpoint")
		if err != nil {
			return err
		}
		if d.Secret, err = sub.RotateEndpoint(q.ctx(), p, id); err != nil {
			return err
		}
		d.SecretFor = id
	case "stop":
		id, err := postedID(q, "endpoint")
		if err != nil {
			return err
		}
		if err := sub.StopEndpoint(q.ctx(), p, id); err != nil {
			return err
		}
	case "portfolio":
		id, err := postedID(q, "endpoint")
		if err != nil {
			return err
		}
		if d.Made, err = sub.SubscribePortfolio(q.ctx(), p, id); err != nil {
			return err
		}
	case "unsubscribe":
		id, err := postedID(q, "subscription")
		if err != nil {
			return err
		}
		if err := sub.Unsubscribe(q.ctx(), p, id); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: unknown operation %q", ErrInvalidInput, q.r.PostFormValue("op"))
	}
	return s.subscriptionsPage(q, d)
}

func (s *Server) subscriptionRoutes() {
	r := route{action: access.ActionManageWebhooks}
	s.handle("GET /subscriptions", r, s.subscriptions)
	s.handle("POST /subscriptions", r, s.subscriptionsPost)
}

func init() {
	for k, v := range subscriptionMessages {
		messages[k] = v
	}
}

var subscriptionMessages = map[string][2]string{
	"nav.subscriptions":  {"预警推送", "Alert delivery"},
	"home.subscriptions": {"登记本机构接收预警的地址（Webhook，带签名），订阅贷后企业的预警", "Register your institution's signed webhook endpoints and subscribe to your companies' warnings"},
	"sub.note":           {"预警按 Standard Webhooks 规范推送：每条消息带 webhook-id、时间戳与 HMAC-SHA256 签名，失败后按指数退避重试 24 小时以上。密钥只显示一次。", "Warnings are delivered by the Standard Webhooks specification: each message carries webhook-id, a timestamp and an HMAC-SHA256 signature, and failures are retried with exponential backoff for more than 24 hours. A secret is shown once."},
	"sub.endpoints":      {"接收地址", "Endpoints"},
	"sub.url":            {"地址", "URL"},
	"sub.description":    {"说明", "Description"},
	"sub.created":        {"登记时间", "Registered"},
	"sub.state":          {"状态", "State"},
	"sub.active":         {"启用", "active"},
	"sub.stopped":        {"已停用", "stopped"},
	"sub.create":         {"登记地址", "Register endpoint"},
	"sub.rotate":         {"更换密钥", "Rotate secret"},
	"sub.stop":           {"停用", "Stop"},
	"sub.secret":         {"签名密钥（仅此一次显示，请妥善保存）：", "Signing secret (shown this once; keep it safe): "},
	"sub.secretFor":      {"地址编号", "endpoint"},
	"sub.subs":           {"订阅", "Subscriptions"},
	"sub.company":        {"企业", "Company"},
	"sub.filter":         {"筛选条件", "Filter"},
	"sub.to":             {"推送至", "Delivered to"},
	"sub.portfolio":      {"订阅全部贷后企业", "Subscribe to every company you follow"},
	"sub.made":           {"已新增订阅：", "Subscriptions made: "},
	"sub.unsubscribe":    {"取消订阅", "Unsubscribe"},
	"sub.minSeverity":    {"最低级别", "min. severity"},
	"sub.none":           {"尚未登记接收地址。", "No endpoint registered yet."},
}
