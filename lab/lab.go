package lab

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cookie names.
const (
	sessionCookie = "xinyi_lab_session"
	preCookie     = "xinyi_lab_pre" // anti-forgery token before sign-in (login and language forms)
	langCookie    = "xinyi_lab_lang"
)

// Options configures the console. Auth is required; every library is optional and its
// pages say "not connected" while it is nil.
type Options struct {
	// Prefix is the path the console is mounted at. Default "/lab/".
	Prefix string
	// Auth turns API keys into principals (internal/access). Required.
	Auth Authenticator
	// Authorizer decides every route and company profile (internal/access) and
	// audits refusals. Nil: the rules of internal/access alone, without consent
	// (a bank then sees no company profile) and unaudited.
	Authorizer Authorizer

	Indicators Indicators
	Statistics Statistics
	Samples    Samples
	Builder    SampleBuilder
	Trainer    Trainer
	Models     Models
	// Drift shows each model's drift against its training sample on its page
	// (nil: not shown).
	Drift      ModelDrift
	Screenings Screenings
	Companies  Companies
	// Jobs lists the platform's durable jobs for its operators (nil: no jobs page).
	Jobs Jobs
	// Sources reports the department sources' freshness (nil: no sources page).
	Sources Sources
	// Risk reads the regional risk index (nil: no risk page).
	Risk RiskIndex
	// Portfolio is a bank's post-loan view and warning inbox (nil: no such
	// pages).
	Portfolio Portfolio
	// RegionWarnings is a regulator's view of the region's open warnings (nil:
	// no such page, and none on the home page).
	RegionWarnings RegionWarnings
	// Subscriptions manages webhook endpoints and warning subscriptions (nil: no
	// such page).
	Subscriptions Subscriptions
	// Reports issues signed credit reports (nil: no reports page).
	Reports Reports
	// Cases are the companies' objections and credit repair (nil: no such
	// pages).
	Cases Cases
	// Financing is the bank–company financing loop (nil: no such pages).
	Financing Financing
	Graphs    GuaranteeGraphs
	// Portal is the companies' own door: enterprise accounts' bindings, their
	// consents and banks' requests (nil: no company pages).
	Portal Portal
	// ConsentAsks lets a bank refused for lack of consent ask the company for it
	// (nil: the refusal page offers no request).
	ConsentAsks ConsentAsks
	// Joint is joint modelling on a bank's own label files (nil: no such
	// pages).
	Joint Joint
	// FeatureSets publishes run-time feature sets (nil: the page says the
	// registry is not connected).
	FeatureSets FeatureSets

	// SessionTTL is how long a sign-in lasts. Default 8h.
	SessionTTL time.Duration
	// MaxUploadBytes bounds an upload form (model file plus golden rows). Default 64 MiB.
	MaxUploadBytes int64
	// SecureCookies marks cookies Secure (set it when served over TLS). Default false.
	SecureCookies bool
	// DefaultLang is "zh" or "en" for users without a language cookie. Default "zh".
	DefaultLang string
	// Logger receives internal errors. Nil discards them.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// DefaultOptions returns the documented defaults (without Auth or libraries).
func DefaultOptions() Options {
	return Options{Prefix: "/lab/", SessionTTL: 8 * time.Hour, MaxUploadBytes: 64 << 20, DefaultLang: "zh"}
}

// EnsureDefaults fills zero fields with the defaults.
func (o *Options) EnsureDefaults() {
	d := DefaultOptions()
	if o.Prefix == "" {
		o.Prefix = d.Prefix
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if !strings.HasPrefix(o.Prefix, "/") {
		o.Prefix = "/" + o.Prefix
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = d.SessionTTL
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = d.MaxUploadBytes
	}
	if o.DefaultLang != "en" {
		o.DefaultLang = "zh"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Server is the console: an http.Handler for everything under Options.Prefix.
type Server struct {
	o        Options
	mux      *http.ServeMux
	sessions *sessions
	pages    map[string]*template.Template
}

// New builds the console. It fails only when Options are unusable.
func New(o Options) (*Server, error) {
	o.EnsureDefaults()
	if o.Auth == nil {
		return nil, fmt.Errorf("%w: Options.Auth is required", ErrInvalidInput)
	}
	s := &Server{o: o, mux: http.NewServeMux(), sessions: newSessions(o.SessionTTL, o.Now)}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) parseTemplates() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	// The layout and the parts several pages share (files named _*.html) go
	// into every page.
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return fmt.Errorf("lab: parse layout: %w", err)
	}
	s.pages = map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return fmt.Errorf("lab: parse %s: %w", n, err)
		}
		s.pages[name] = t
	}
	return nil
}

// ServeHTTP serves the console; a panic below it becomes a plain 500 page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.o.Logger.Error("lab: panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; form-action 'self'; frame-ancestors 'none'")
	s.mux.ServeHTTP(w, r)
}

// req is the state of one request that handlers and templates share.
type req struct {
	w    http.ResponseWriter
	r    *http.Request
	lang *Lang
	sess *session // nil when not signed in
	csrf string   // the token forms must carry
}

func (q *req) ctx() context.Context { return q.r.Context() }

// principal returns the signed-in principal (zero when anonymous).
func (q *req) principal() Principal {
	if q.sess == nil {
		return Principal{}
	}
	return q.sess.principal
}

type handler func(q *req) error

// route describes who may reach a route.
type route struct {
	public bool          // no sign-in needed
	action access.Action // what internal/access must allow (empty: any signed-in user)
	// anyCompany: the page is about the user's own companies in general, so the
	// role part of the action's rule is enough here; every company the page names
	// is authorized on its own.
	anyCompany bool
}

func (s *Server) handle(pattern string, a route, h handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	full := strings.TrimSpace(method + " " + s.o.Prefix + strings.TrimPrefix(path, "/"))
	s.mux.HandleFunc(full, func(w http.ResponseWriter, r *http.Request) {
		q := s.begin(w, r)
		err := s.authorize(q, a)
		if err == nil && r.Method == http.MethodPost {
			err = s.checkCSRF(q)
		}
		if err == nil {
			err = h(q)
		}
		if err != nil {
			s.fail(q, err)
		}
	})
}

func (s *Server) begin(w http.ResponseWriter, r *http.Request) *req {
	q := &req{w: w, r: r}
	lang := s.o.DefaultLang
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == "zh" || c.Value == "en") {
		lang = c.Value
	}
	q.lang = langs[lang]
	if c, err := r.Cookie(sessionCookie); err == nil {
		if ss, ok := s.sessions.get(c.Value); ok {
			q.sess = ss
			q.csrf = ss.csrf
		}
	}
	if q.sess == nil {
		if c, err := r.Cookie(preCookie); err == nil && len(c.Value) >= 32 {
			q.csrf = c.Value
		} else if tok, err := randomToken(); err == nil {
			q.csrf = tok
			http.SetCookie(w, s.cookie(preCookie, tok, 0))
		}
	}
	return q
}

func (s *Server) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: s.o.Prefix, MaxAge: maxAge, HttpOnly: true,
		Secure: s.o.SecureCookies, SameSite: http.SameSiteStrictMode}
}

func (s *Server) authorize(q *req, a route) error {
	if a.public {
		return nil
	}
	if q.sess == nil {
		return ErrUnauthenticated
	}
	if a.action == "" {
		return nil
	}
	if a.anyCompany {
		if _, err := access.Decide(q.principal().Principal, a.action, access.Resource{}); err == nil {
			return nil
		}
		// Refused by the role rule: Authorize says so again and records it.
	}
	return s.allow(q, a.action, access.Resource{Kind: "console", ID: q.r.Method + " " + q.r.URL.Path})
}

// allow asks internal/access (through Options.Authorizer) whether the signed-in
// user may take action on res, and translates its answer to the console's errors.
func (s *Server) allow(q *req, action access.Action, res access.Resource) error {
	p := q.principal().Principal
	var err error
	if s.o.Authorizer != nil {
		err = s.o.Authorizer.Authorize(q.ctx(), p, action, res)
	} else if d, derr := access.Decide(p, action, res); derr != nil {
		err = derr
	} else if d.ConsentScope != "" {
		err = fmt.Errorf("%w: no consent register is connected", access.ErrConsentRequired)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	case errors.Is(err, access.ErrInvalid):
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	case errors.Is(err, access.ErrConsentRequired):
		// Said in the reader's language, with the names the reader knows.
		return fmt.Errorf("%w: %s", ErrConsentRequired, q.lang.Pick(
			fmt.Sprintf("企业%s未向%s授予“信用评估”授权，或授权已到期、已撤销。企业授权后，贵机构即可重新查看。", s.companyLabel(q, res.ID), p.Institution),
			fmt.Sprintf("Company %s has no active credit-assessment consent for %s: never granted, expired or revoked. Once the company grants it, open the profile again.", s.companyLabel(q, res.ID), p.Institution)))
	case errors.Is(err, access.ErrNotBound):
		return fmt.Errorf("%w: %s", ErrForbidden, q.lang.Pick(
			fmt.Sprintf("账户 %s 尚未绑定企业%s，或绑定已结束。请先在“我的企业”中用发送给法定代表人的验证码完成绑定，或请法定代表人授权本账户。", p.User, s.companyLabel(q, res.ID)),
			fmt.Sprintf("Account %s is not bound to company %s, or its binding has ended. Bind it first under My companies with the code sent to the legal representative, or ask the legal representative to delegate to this account.", p.User, s.companyLabel(q, res.ID))))
	case errors.Is(err, access.ErrForbidden):
		if need, ok := roleNeeds[action]; ok {
			return fmt.Errorf("%w: %s", ErrForbidden, q.lang.Pick(
				fmt.Sprintf("%s；%s（%s）的角色：%s。", need[0], p.User, p.Institution, roleWords(q.lang, p.Roles)),
				fmt.Sprintf("%s; %s (%s) has the roles: %s.", need[1], p.User, p.Institution, roleWords(q.lang, p.Roles))))
		}
	}
	return fmt.Errorf("%w: %w", ErrForbidden, err)
}

// companyLabel names a company by its registered name and code, or by its code
// alone when no backend knows the name.
func (s *Server) companyLabel(q *req, code string) string {
	name := ""
	if s.o.Portal != nil {
		name = s.o.Portal.CompanyName(q.ctx(), code)
	}
	if name == "" && s.o.ConsentAsks != nil {
		name = s.o.ConsentAsks.CompanyName(q.ctx(), code)
	}
	if name == "" {
		return code
	}
	return q.lang.Pick(name+"（"+code+"）", name+" ("+code+")")
}

// roleNeeds says, in Chinese and English, what internal/access's rule for an action
// asks of a console user; the rule itself is access.Decide's.
var roleNeeds = map[access.Action][2]string{
	access.ActionBuildSample:     {"样本库与算法库需要数据科学家或管理员角色", "Samples and training need the data scientist or administrator role"},
	access.ActionListModels:      {"模型库与审批需要数据科学家、审批人或管理员角色", "The model library and approvals need the data scientist, approver or administrator role"},
	access.ActionWriteModel:      {"上传和变更模型需要数据科学家或管理员角色", "Uploading and changing models needs the data scientist or administrator role"},
	access.ActionDecidePromotion: {"审批模型上线需要审批人角色", "Deciding a promotion needs the approver role"},
	access.ActionScreen:          {"风险筛查需要监管机构的监管角色，或平台管理员", "Screening needs the regulator role at a regulator, or a platform administrator"},
	access.ActionSourceStatus:    {"数据源状态仅平台管理员可见", "The sources' status is for platform administrators"},
	access.ActionListJobs:        {"后台任务列表仅平台管理员可见", "The job list is for platform administrators"},
	access.ActionFindCompanies:   {"企业画像需要银行的信贷角色或监管机构的监管角色", "Company profiles need the bank role at a bank or the regulator role at a regulator"},
	access.ActionAssess:          {"企业画像需要银行的信贷角色或监管机构的监管角色", "Company profiles need the bank role at a bank or the regulator role at a regulator"},
	access.ActionActForCompany:   {"“我的企业”需要企业用户账户", "My companies needs a company account (the enterprise role)"},
	access.ActionRequestConsent:  {"向企业申请授权需要银行的信贷角色或担保机构的担保角色", "Asking a company for consent needs the bank role at a bank or the guarantor role at a guarantee institution"},
}

// roleWords names roles in the reader's language.
func roleWords(l *Lang, roles []access.Role) string {
	if len(roles) == 0 {
		return l.Pick("无", "none")
	}
	names := map[access.Role][2]string{
		access.RoleDataScientist: {"数据科学家", "data scientist"},
		access.RoleApprover:      {"审批人", "approver"},
		access.RoleAdmin:         {"管理员", "administrator"},
		access.RoleBank:          {"信贷", "bank"},
		access.RoleRegulator:     {"监管", "regulator"},
		access.RoleLab:           {"浏览", "viewer"},
		access.RoleEnterprise:    {"企业", "company"},
		access.RoleGuarantor:     {"担保", "guarantor"},
	}
	out := make([]string, len(roles))
	for i, r := range roles {
		if n, ok := names[r]; ok {
			out[i] = l.Pick(n[0], n[1])
		} else {
			out[i] = string(r)
		}
	}
	return strings.Join(out, l.Pick("、", ", "))
}

// checkCSRF compares the form's token with the session's (or, before sign-in, the
// pre-session cookie's) in constant time. It must run before the form is acted on.
func (s *Server) checkCSRF(q *req) error {
	var got string
	if strings.HasPrefix(q.r.Header.Get("Content-Type"), "multipart/form-data") {
		q.r.Body = http.MaxBytesReader(q.w, q.r.Body, s.o.MaxUploadBytes)
		if err := q.r.ParseMultipartForm(8 << 20); err != nil {
			return fmt.Errorf("%w: the upload is unreadable or larger than %d MiB: %v", ErrInvalidInput, s.o.MaxUploadBytes>>20, err)
		}
		got = q.r.FormValue("csrf")
	} else {
		q.r.Body = http.MaxBytesReader(q.w, q.r.Body, 1<<20)
		if err := q.r.ParseForm(); err != nil {
			return fmt.Errorf("%w: unreadable form: %v", ErrInvalidInput, err)
		}
		got = q.r.PostForm.Get("csrf")
	}
	if !tokenEqual(got, q.csrf) {
		return ErrCSRF
	}
	return nil
}

// view is what every template receives.
type view struct {
	L       *Lang
	Prefix  string
	User    *Principal
	CSRF    string
	Nav     string
	Title   string
	Refresh int // seconds; 0 means no automatic reload
	Path    string
	Flash   string
	Data    any
	// Portal and Asks: the company portal and banks' consent requests are
	// connected (their nav entries show to the users who may use them).
	Portal, Asks bool
	// Joint: joint modelling is connected.
	Joint bool
	// Warnings: the region's warnings are connected.
	Warnings bool
}

func (s *Server) render(q *req, status int, page, nav, title string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("lab: no template %q", page)
	}
	v := view{L: q.lang, Prefix: s.o.Prefix, CSRF: q.csrf, Nav: nav, Title: title, Path: q.r.URL.RequestURI(), Data: data,
		Flash: q.r.URL.Query().Get("flash"), Portal: s.o.Portal != nil, Asks: s.o.ConsentAsks != nil, Joint: s.o.Joint != nil, Warnings: s.o.RegionWarnings != nil}
	if q.sess != nil {
		p := q.sess.principal
		v.User = &p
	}
	if r, ok := data.(interface{ refresh() int }); ok {
		v.Refresh = r.refresh()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return fmt.Errorf("lab: render %s: %w", page, err)
	}
	h := q.w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	q.w.WriteHeader(status)
	_, err := q.w.Write(buf.Bytes())
	return err
}

// redirect answers a form with 303 See Other to a path under the prefix.
func (s *Server) redirect(q *req, path string, flash string) error {
	u := s.o.Prefix + strings.TrimPrefix(path, "/")
	if flash != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "flash=" + url.QueryEscape(flash)
	}
	http.Redirect(q.w, q.r, u, http.StatusSeeOther)
	return nil
}

// statusOf maps an error to its HTTP status and message key: the one place that does.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized, "err.unauthenticated"
	case errors.Is(err, ErrCSRF):
		return http.StatusForbidden, "err.csrf"
	case errors.Is(err, ErrConsentRequired):
		return http.StatusForbidden, "err.consent"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "err.forbidden"
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "err.notfound"
	case errors.Is(err, ErrInvalidInput):
		return http.StatusBadRequest, "err.invalid"
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, "err.conflict"
	case errors.Is(err, ErrNotConnected):
		return http.StatusServiceUnavailable, "err.notconnected"
	}
	return http.StatusInternalServerError, "err.internal"
}

type errorPage struct {
	Status  int
	Heading string
	Detail  string
}

func (s *Server) fail(q *req, err error) {
	status, key := statusOf(err)
	if status == http.StatusUnauthorized && q.r.Method == http.MethodGet {
		http.Redirect(q.w, q.r, s.o.Prefix+"login?next="+url.QueryEscape(q.r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	detail := ""
	if status == http.StatusInternalServerError {
		s.o.Logger.Error("lab: request failed", "method", q.r.Method, "path", q.r.URL.Path, "err", err)
	} else {
		// The heading names the kind of error; the detail keeps only what went wrong.
		detail = err.Error()
		for _, e := range []error{ErrInvalidInput, ErrNotFound, ErrForbidden, ErrConsentRequired, ErrConflict, ErrNotConnected, ErrUnauthenticated} {
			detail = strings.TrimPrefix(detail, e.Error()+": ")
		}
		detail = strings.TrimPrefix(detail, "lab: ")
	}
	if status == http.StatusForbidden && errors.Is(err, ErrCSRF) {
		detail = "" // the heading says it all
	}
	page := errorPage{Status: status, Heading: q.lang.T(key), Detail: detail}
	if rerr := s.render(q, status, "error", "", q.lang.T(key), page); rerr != nil {
		s.o.Logger.Error("lab: render error page", "err", rerr)
		http.Error(q.w, q.lang.T(key), status)
	}
}
