package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// WarningsOptions configure the risk-warning surface. Authorizer and Warnings are
// required.
type WarningsOptions struct {
	Authorizer serving.Authorizer
	Warnings   *warnings.Store
	// Subscriptions, when set, enables /v1/warning-subscriptions.
	Subscriptions *warnings.Subscriptions
	// Endpoints, when set, enables /v1/webhook-endpoints: subscribers register
	// and manage their own endpoints. Queue, when set too, lists and replays
	// their dead deliveries.
	Endpoints *webhooks.Endpoints
	Queue     *jobs.Queue
	// Audit records endpoint changes. Nil: not recorded.
	Audit *audit.Log
	// StreamPoll is how often the server-sent-events feed looks for new
	// warnings. Default 2s.
	StreamPoll time.Duration
	// Library lists the rules (GET /v1/warning-rules) and gives the sensitivity of
	// evidence values, which are withheld above the caller's clearance. Default
	// warnings.DefaultLibrary().
	Library *warnings.Library
	// Limiter, Metrics, MaxBodyBytes, Timeout and Logger are as in Options.
	Limiter      serving.Limiter
	Metrics      *serving.Metrics
	MaxBodyBytes int64
	Timeout      time.Duration
	Logger       *slog.Logger
}

// NewWarnings returns the HTTP handler of risk warnings (mount it beside New's
// for the paths below):
//
//	GET    /v1/warnings?company=&severity=&state=&rule=&area=&district=&industry=&after=&limit=
//	POST   /v1/warnings/{id}/ack
//	GET    /v1/warning-rules
//	GET    /v1/warning-subscriptions
//	POST   /v1/warning-subscriptions   JSON {"endpoint_id", "companies": [...]} or
//	                                   {"endpoint_id", "min_severity", "area", "district",
//	                                   "industry"}; or a
//	                                   text/csv list of company codes with ?endpoint_id=
//	DELETE /v1/warning-subscriptions/{id}
//	GET    /v1/warnings/stream                    server-sent events: each new warning the
//	                                              caller's subscriptions take (as the webhooks
//	                                              would), "id:" its id; Last-Event-ID or ?after=
//	                                              resumes, otherwise the feed starts now
//	GET    /v1/webhook-endpoints                  the institution's endpoints
//	POST   /v1/webhook-endpoints                  {"url", "description"}: 201 with the
//	                                              signing secret, shown this once
//	POST   /v1/webhook-endpoints/{id}/rotate      a new secret beside the current one
//	POST   /v1/webhook-endpoints/{id}/retire      keep only the newest secret
//	DELETE /v1/webhook-endpoints/{id}             stop deliveries to it
//	GET    /v1/webhook-deliveries/dead            deliveries that ran out of attempts
//	POST   /v1/webhook-deliveries/{id}/replay     deliver a dead one again (same webhook-id)
//
// A company's warnings are for those who may assess it (a bank with its consent,
// a regulator); the whole list and filter subscriptions are for those who may
// screen the region. Evidence values above the caller's clearance
// (access.ClearanceOf) are withheld, in answers and in the alerts of the
// subscriptions it makes.
func NewWarnings(o WarningsOptions) (http.Handler, error) {
	if o.Authorizer == nil || o.Warnings == nil {
		return nil, fmt.Errorf("%w: the warnings API needs an authorizer and a warning store", serving.ErrInvalidInput)
	}
	if o.Library == nil {
		lib, err := warnings.DefaultLibrary()
		if err != nil {
			return nil, err
		}
		o.Library = lib
	}
	opts := Options{Authorizer: o.Authorizer, Limiter: o.Limiter, Metrics: o.Metrics, MaxBodyBytes: o.MaxBodyBytes, Timeout: o.Timeout, Logger: o.Logger}
	opts.EnsureDefaults()
	opts.Logger = reqid.Logger(opts.Logger)
	h := &handler{opts: opts, mux: http.NewServeMux()}
	a := &warningsAPI{h: h, o: o}
	h.route("GET /v1/warnings", "warnings_list", h.authed(a.list))
	h.route("POST /v1/warnings/{id}/ack", "warnings_ack", h.authed(a.ack))
	h.route("GET /v1/warning-rules", "warning_rules", h.authed(a.rules))
	if o.Subscriptions != nil {
		h.route("GET /v1/warning-subscriptions", "warning_subscriptions", h.authed(a.subscriptions))
		h.route("POST /v1/warning-subscriptions", "warning_subscribe", h.authed(a.subscribe))
		h.route("DELETE /v1/warning-subscriptions/{id}", "warning_unsubscribe", h.authed(a.unsubscribe))
	}
	if o.Subscriptions != nil {
		// Not route: a stream has no request deadline.
		h.mux.HandleFunc("GET /v1/warnings/stream", a.stream)
	}
	if o.Endpoints != nil {
		h.route("GET /v1/webhook-endpoints", "webhook_endpoints", h.authed(a.endpoints))
		h.route("POST /v1/webhook-endpoints", "webhook_endpoint_create", h.authed(a.createEndpoint))
		h.route("POST /v1/webhook-endpoints/{id}/{op}", "webhook_endpoint_secret", h.authed(a.endpointOp))
		h.route("DELETE /v1/webhook-endpoints/{id}", "webhook_endpoint_stop", h.authed(a.stopEndpoint))
		if o.Queue != nil {
			h.route("GET /v1/webhook-deliveries/dead", "webhook_dead", h.authed(a.dead))
			h.route("POST /v1/webhook-deliveries/{id}/replay", "webhook_replay", h.authed(a.replay))
		}
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: no endpoint %s %s", errNoRoute, r.Method, r.URL.Path))
	})
	return reqid.Middleware(h.mux), nil
}

// hooks authorizes ActionManageWebhooks on endpoint id of the caller's
// institution (0: the institution's endpoints as a whole).
func (a *warningsAPI) hooks(ctx context.Context, p serving.Principal, id int64) error {
	res := access.Resource{Kind: "webhook_endpoint", Owner: p.InstitutionID}
	if id != 0 {
		res.ID = strconv.FormatInt(id, 10)
		ep, err := a.o.Endpoints.Get(ctx, id)
		if err != nil {
			return warningErr(err)
		}
		// Another institution's endpoint: Authorize refuses it, audited.
		res.Owner = ep.InstitutionID
	}
	return warningErr(a.o.Authorizer.Authorize(ctx, p, access.ActionManageWebhooks, res))
}

func (a *warningsAPI) endpoints(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	if err := a.hooks(ctx, p, 0); err != nil {
		return 0, nil, err
	}
	eps, err := a.o.Endpoints.List(ctx, p.InstitutionID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"endpoints": eps}, nil
}

func (a *warningsAPI) createEndpoint(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	if err := a.hooks(ctx, p, 0); err != nil {
		return 0, nil, err
	}
	data, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	var b struct {
		URL         string `json:"url"`
		Description string `json:"description"`
	}
	if err := decodeBytes(data, &b); err != nil {
		return 0, nil, err
	}
	if len([]rune(b.Description)) > 200 {
		return 0, nil, fmt.Errorf("%w: description is at most 200 characters", serving.ErrInvalidInput)
	}
	ep, secret, err := a.o.Endpoints.Create(ctx, p.InstitutionID, b.URL, b.Description)
	if err != nil {
		return 0, nil, endpointErr(err)
	}
	a.audit(ctx, p, "webhook.endpoint.create", ep.ID, ep)
	return http.StatusCreated, map[string]any{"endpoint": ep, "secret": secret}, nil
}

func (a *warningsAPI) endpointOp(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	op := r.PathValue("op")
	if op != "rotate" && op != "retire" {
		return 0, nil, fmt.Errorf("%w: no endpoint %s %s", errNoRoute, r.Method, r.URL.Path)
	}
	if err := a.hooks(ctx, p, id); err != nil {
		return 0, nil, err
	}
	if op == "retire" {
		if err := a.o.Endpoints.Retire(ctx, p.InstitutionID, id); err != nil {
			return 0, nil, warningErr(err)
		}
		a.audit(ctx, p, "webhook.endpoint.retire", id, nil)
		return http.StatusNoContent, nil, nil
	}
	secret, err := a.o.Endpoints.Rotate(ctx, p.InstitutionID, id)
	if err != nil {
		return 0, nil, warningErr(err)
	}
	a.audit(ctx, p, "webhook.endpoint.rotate", id, nil)
	return http.StatusOK, map[string]any{"secret": secret}, nil
}

func (a *warningsAPI) stopEndpoint(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := a.hooks(ctx, p, id); err != nil {
		return 0, nil, err
	}
	if err := a.o.Endpoints.Stop(ctx, p.InstitutionID, id); err != nil {
		return 0, nil, warningErr(err)
	}
	a.audit(ctx, p, "webhook.endpoint.stop", id, nil)
	return http.StatusNoContent, nil, nil
}

func (a *warningsAPI) dead(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	if err := a.hooks(ctx, p, 0); err != nil {
		return 0, nil, err
	}
	ds, err := webhooks.DeadOf(ctx, a.o.Queue, a.o.Endpoints, p.InstitutionID, 1000)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"deliveries": ds}, nil
}

func (a *warningsAPI) replay(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	ep, err := webhooks.DeliveryEndpoint(ctx, a.o.Queue, id)
	if err != nil {
		return 0, nil, warningErr(err)
	}
	if err := a.hooks(ctx, p, ep); err != nil {
		return 0, nil, err
	}
	job, err := webhooks.Replay(ctx, a.o.Queue, id)
	if err != nil {
		return 0, nil, warningErr(err)
	}
	a.audit(ctx, p, "webhook.delivery.replay", id, map[string]int64{"job": job})
	return http.StatusAccepted, map[string]any{"job": job}, nil
}

// endpointErr maps the guard's refusal of an address to invalid input: the
// caller named an endpoint the platform may not call.
func endpointErr(err error) error {
	if errors.Is(err, webhooks.ErrForbiddenAddress) {
		return fmt.Errorf("%w: %w", serving.ErrInvalidInput, err)
	}
	return warningErr(err)
}

// audit records a change of a webhook endpoint in the audit log, when there is
// one.
func (a *warningsAPI) audit(ctx context.Context, p serving.Principal, action string, id int64, after any) {
	if a.o.Audit == nil {
		return
	}
	if _, err := a.o.Audit.Append(context.WithoutCancel(ctx), audit.Entry{Actor: p.Actor(), Action: action,
		Subject: "webhook_endpoint:" + strconv.FormatInt(id, 10), After: after}); err != nil {
		a.h.opts.Logger.Error("audit of a webhook change failed", "action", action, "err", err)
	}
}

type warningsAPI struct {
	h *handler
	o WarningsOptions
}

// warningErr translates the errors of internal/access and serving/warnings into
// the sentinels statusOf maps.
func warningErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrUnavailable):
		return fmt.Errorf("%w: %w", serving.ErrUnavailable, err)
	case errors.Is(err, access.ErrConsentRequired), errors.Is(err, warnings.ErrConsent):
		return fmt.Errorf("%w: %w", serving.ErrConsentRequired, err)
	case errors.Is(err, access.ErrInvalid):
		return fmt.Errorf("%w: %w", serving.ErrInvalidCompanyCode, err)
	case errors.Is(err, access.ErrForbidden):
		return fmt.Errorf("%w: %w", serving.ErrForbidden, err)
	case errors.Is(err, warnings.ErrInput), errors.Is(err, webhooks.ErrInvalid):
		return fmt.Errorf("%w: %w", serving.ErrInvalidInput, err)
	case errors.Is(err, warnings.ErrNotFound), errors.Is(err, webhooks.ErrNotFound):
		return fmt.Errorf("%w: %w", errNoRoute, err)
	}
	return err
}

func (a *warningsAPI) authorize(ctx context.Context, p serving.Principal, action access.Action, company string) error {
	res := access.Resource{Kind: "region", ID: "warnings"}
	if company != "" {
		res = access.Resource{Kind: "company", ID: company}
	}
	return warningErr(a.o.Authorizer.Authorize(ctx, p, action, res))
}

func (a *warningsAPI) list(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	q := r.URL.Query()
	f := warnings.Filter{Company: q.Get("company"), Severity: warnings.Severity(q.Get("severity")), State: q.Get("state"), Rule: q.Get("rule"),
		Area: q.Get("area"), District: q.Get("district"), Industry: q.Get("industry")}
	for name, dst := range map[string]*int64{"after": &f.AfterID} {
		if s := q.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return 0, nil, fmt.Errorf("%w: %s=%q is not a non-negative integer", serving.ErrInvalidInput, name, s)
			}
			*dst = n
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10_000 {
			return 0, nil, fmt.Errorf("%w: limit=%q is not between 1 and 10000", serving.ErrInvalidInput, s)
		}
		f.Limit = n
	}
	action := access.ActionScreen
	if f.Company != "" {
		action = access.ActionAssess
	}
	if err := a.authorize(ctx, p, action, f.Company); err != nil {
		return 0, nil, err
	}
	ws, err := a.o.Warnings.List(ctx, f)
	if err != nil {
		return 0, nil, warningErr(err)
	}
	out := make([]*warnings.Warning, len(ws))
	for i, w := range ws {
		if out[i], err = a.o.Library.RedactWarning(w, access.ClearanceOf(p)); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, map[string]any{"warnings": out}, nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: id %q is not a positive integer", serving.ErrInvalidInput, r.PathValue("id"))
	}
	return id, nil
}

func (a *warningsAPI) ack(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	w, err := a.o.Warnings.Get(ctx, id)
	if err != nil {
		return 0, nil, warningErr(err)
	}
	if err := a.authorize(ctx, p, access.ActionAssess, w.Company); err != nil {
		return 0, nil, err
	}
	if w, err = a.o.Warnings.Ack(ctx, id, p.Actor()); err != nil {
		return 0, nil, warningErr(err)
	}
	if w, err = a.o.Library.RedactWarning(w, access.ClearanceOf(p)); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, w, nil
}

func (a *warningsAPI) rules(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	if err := a.authorize(ctx, p, access.ActionBrowseLibrary, ""); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"version": a.o.Library.Version, "rules": a.o.Library.Rules}, nil
}

func (a *warningsAPI) subscriptions(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	subs, err := a.o.Subscriptions.List(ctx, p.InstitutionID)
	if err != nil {
		return 0, nil, warningErr(err)
	}
	if subs == nil {
		subs = []warnings.Subscription{}
	}
	return http.StatusOK, map[string]any{"subscriptions": subs}, nil
}

type subscribeBody struct {
	EndpointID  int64    `json:"endpoint_id"`
	Companies   []string `json:"companies"`
	MinSeverity string   `json:"min_severity"`
	Area        string   `json:"area"`
	District    string   `json:"district"`
	Industry    string   `json:"industry"`
}

func (a *warningsAPI) subscribe(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	data, err := readBody(r)
	if err != nil {
		return 0, nil, err
	}
	var b subscribeBody
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "text/csv" || mt == "text/plain" {
		if b.EndpointID, err = strconv.ParseInt(r.URL.Query().Get("endpoint_id"), 10, 64); err != nil {
			return 0, nil, fmt.Errorf("%w: a company list needs ?endpoint_id=", serving.ErrInvalidInput)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			code, _, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "\ufeff"), ",")
			if code = strings.TrimSpace(code); code != "" && !strings.EqualFold(code, "company_code") {
				b.Companies = append(b.Companies, code)
			}
		}
	} else if err := decodeBytes(data, &b); err != nil {
		return 0, nil, err
	}
	if b.EndpointID <= 0 {
		return 0, nil, fmt.Errorf("%w: endpoint_id is required", serving.ErrInvalidInput)
	}
	if len(b.Companies) > 0 {
		if b.MinSeverity != "" || b.Area != "" || b.District != "" || b.Industry != "" {
			return 0, nil, fmt.Errorf("%w: subscribe to companies or to a filter, not both", serving.ErrInvalidInput)
		}
		for _, c := range b.Companies {
			if err := a.authorize(ctx, p, access.ActionAssess, c); err != nil {
				return 0, nil, err
			}
		}
		subs, err := a.o.Subscriptions.SubscribeCompanies(ctx, p.InstitutionID, b.EndpointID, access.ClearanceOf(p), b.Companies)
		if err != nil {
			return 0, nil, warningErr(err)
		}
		if subs == nil {
			subs = []warnings.Subscription{}
		}
		return http.StatusCreated, map[string]any{"subscriptions": subs}, nil
	}
	if err := a.authorize(ctx, p, access.ActionScreen, ""); err != nil {
		return 0, nil, err
	}
	sub, err := a.o.Subscriptions.SubscribeFilter(ctx, p.InstitutionID, b.EndpointID, access.ClearanceOf(p),
		warnings.FilterSpec{MinSeverity: warnings.Severity(b.MinSeverity), Area: b.Area, District: b.District, Industry: b.Industry})
	if err != nil {
		return 0, nil, warningErr(err)
	}
	return http.StatusCreated, map[string]any{"subscriptions": []warnings.Subscription{sub}}, nil
}

func (a *warningsAPI) unsubscribe(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := a.o.Subscriptions.Unsubscribe(ctx, p.InstitutionID, id); err != nil {
		return 0, nil, warningErr(err)
	}
	return http.StatusNoContent, nil, nil
}

// feedBatch bounds the warnings one look of the feed reads.
const feedBatch = 500

// stream is the server-sent-events feed of the caller's subscriptions.
func (a *warningsAPI) stream(w http.ResponseWriter, r *http.Request) {
	p, ok := a.h.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	after, err := a.streamStart(ctx, r)
	if err != nil {
		a.h.fail(w, r, err)
		return
	}
	poll := a.o.StreamPoll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives any server write timeout
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 5000\n\n")
	_ = rc.Flush()
	quiet := time.Now()
	for {
		ws, err := a.o.Warnings.List(ctx, warnings.Filter{AfterID: after, Limit: feedBatch})
		if err != nil {
			if ctx.Err() == nil {
				a.h.opts.Logger.ErrorContext(ctx, "warnings feed", "err", err)
				fmt.Fprint(w, "event: error\ndata: {\"message\":\"the warning store is unavailable; reconnect\"}\n\n")
				_ = rc.Flush()
			}
			return
		}
		feed, err := a.o.Subscriptions.Feed(ctx, p.InstitutionID, ws)
		if err != nil {
			if ctx.Err() == nil {
				a.h.opts.Logger.ErrorContext(ctx, "warnings feed", "err", err)
			}
			return
		}
		for _, fw := range feed {
			b, err := json.Marshal(warnings.Alert{Event: warnings.EventOpened, Warning: fw})
			if err != nil {
				return
			}
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", fw.ID, warnings.EventOpened, b)
		}
		if len(ws) > 0 {
			after = ws[len(ws)-1].ID
			// Tell a resuming client how far it has read, even when nothing of
			// this batch was its.
			if len(feed) == 0 {
				fmt.Fprintf(w, "id: %d\n\n", after)
			}
		}
		if len(feed) > 0 || len(ws) > 0 {
			quiet = time.Now()
		} else if time.Since(quiet) >= 15*time.Second {
			fmt.Fprint(w, ": keep-alive\n\n")
			quiet = time.Now()
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if len(ws) == feedBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}

// streamStart is the id after which the feed starts: Last-Event-ID, ?after=, or
// the newest warning now.
func (a *warningsAPI) streamStart(ctx context.Context, r *http.Request) (int64, error) {
	for _, v := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after")} {
		if v == "" {
			continue
		}
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || id < 0 {
			return 0, fmt.Errorf("%w: the feed resumes after a warning id, not %q", serving.ErrInvalidInput, v)
		}
		return id, nil
	}
	return a.o.Warnings.LastID(ctx)
}
