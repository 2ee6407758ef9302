package lab

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// The companies' own door. An enterprise account lists its bindings, binds itself
// to a company with the one-time code sent to the legal representative, and,
// once bound, sees the company's own assessment, who holds its consent, grants and
// revokes consent and answers banks' requests. internal/access decides every
// step: the routes below need ActionActForCompany (the role for the list, the
// binding for each company), a bank's request ActionRequestConsent.
func (s *Server) portalRoutes() {
	mine := route{action: access.ActionActForCompany, anyCompany: true}
	ask := route{action: access.ActionRequestConsent}
	s.handle("GET /portal", mine, s.portal)
	s.handle("POST /portal/bindings", mine, s.startBinding)
	s.handle("POST /portal/bindings/{id}/activate", mine, s.activateBinding)
	s.handle("POST /portal/bindings/{id}/end", mine, s.endBinding)
	s.handle("GET /portal/companies/{code}", mine, s.ownCompany)
	s.handle("POST /portal/companies/{code}/delegates", mine, s.delegate)
	s.handle("POST /portal/companies/{code}/consents", mine, s.grantConsent)
	s.handle("POST /portal/companies/{code}/consents/{id}/revoke", mine, s.revokeConsent)
	s.handle("POST /portal/companies/{code}/requests/{id}", mine, s.answerRequest)

	s.handle("GET /consent-requests", ask, s.bankRequests)
	s.handle("POST /companies/{code}/consent-requests", ask, s.requestConsent)
}

// said is an error of the portal backend told in the reader's words; its kind
// (and so its HTTP status) stays the backend's.
type said struct {
	err  error
	text string
}

func (e said) Error() string { return e.text }
func (e said) Unwrap() error { return e.err }

// inWords tells a refusal of the portal backend in the reader's language: the
// message key of the first kind err is, followed in English by the backend's
// own detail. Other errors pass as they are.
func inWords(q *req, err error, kinds ...kindKey) error {
	for _, k := range kinds {
		if errors.Is(err, k.kind) {
			text := q.lang.T(k.key)
			if q.lang.Code == "en" {
				text += " (" + plainDetail(err) + ")"
			}
			return said{err: err, text: text}
		}
	}
	return err
}

type kindKey struct {
	kind error
	key  string
}

// plainDetail is an error's message without the packages' sentinel prefixes.
func plainDetail(err error) string {
	d := err.Error()
	for changed := true; changed; {
		changed = false
		for _, e := range []error{ErrInvalidInput, ErrNotFound, ErrForbidden, ErrConflict, ErrNotConnected, access.ErrActivation, access.ErrNotBound,
			access.ErrInvalid, access.ErrNotFound, access.ErrForbidden, access.ErrConflict, access.ErrUnavailable} {
			if t, ok := strings.CutPrefix(d, e.Error()+": "); ok {
				d, changed = t, true
			}
		}
		if t, ok := strings.CutPrefix(d, "access: "); ok {
			d, changed = t, true
		}
	}
	return d
}

// maxConsent is how far ahead a consent, granted or asked for, may run: a year.
func maxConsent(now time.Time) time.Time { return now.UTC().AddDate(1, 0, 0) }

// untilDate reads a form's date: the consent runs to the end of that day (UTC),
// which must come after today and at most a year ahead.
func (s *Server) untilDate(q *req, field string) (time.Time, error) {
	v := strings.TrimSpace(q.r.PostForm.Get(field))
	d, err := time.Parse(time.DateOnly, v)
	now := s.o.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	last := maxConsent(today)
	if err != nil || !d.After(today) || d.After(last) {
		return time.Time{}, fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.Pick(
			fmt.Sprintf("授权截止日期 %q 应为 %s 至 %s 之间的日期（年-月-日），最长一年", v, today.AddDate(0, 0, 1).Format(time.DateOnly), last.Format(time.DateOnly)),
			fmt.Sprintf("the consent's end date %q must be a date YYYY-MM-DD from %s to %s: at most a year", v, today.AddDate(0, 0, 1).Format(time.DateOnly), last.Format(time.DateOnly))))
	}
	return d.Add(24*time.Hour - time.Second), nil
}

// formID reads a positive id from the path.
func formID(q *req, name string) (int64, error) {
	id, err := strconv.ParseInt(q.r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %s %q is not a positive number", ErrInvalidInput, name, q.r.PathValue(name))
	}
	return id, nil
}

// companyCode reads and checks a unified social credit code (from the path, or a
// form field when field is set).
func companyCode(q *req, field string) (string, error) {
	v := q.r.PathValue("code")
	if field != "" {
		v = q.r.PostForm.Get(field)
	}
	code := creditcode.Normalize(v)
	if err := creditcode.Validate(code); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	return code, nil
}

// actFor asks internal/access whether the signed-in account acts for code now.
func (s *Server) actFor(q *req, code string) error {
	return s.allow(q, access.ActionActForCompany, access.Resource{Kind: "company", ID: code})
}

// actingFor is the company of the request's path that the signed-in account
// acts for: the portal is connected, the code is valid and internal/access lets
// the account act for it.
func (s *Server) actingFor(q *req) (string, error) {
	if err := s.needPortal(); err != nil {
		return "", err
	}
	code, err := companyCode(q, "")
	if err != nil {
		return "", err
	}
	if err := s.actFor(q, code); err != nil {
		return "", err
	}
	return code, nil
}

func (s *Server) needPortal() error {
	if s.o.Portal == nil {
		return fmt.Errorf("%w: company portal", ErrNotConnected)
	}
	return nil
}

type portalData struct {
	Bindings []Binding
}

// portal lists the account's bindings with the forms to bind a company and to
// enter the code.
func (s *Server) portal(q *req) error {
	if err := s.needPortal(); err != nil {
		return err
	}
	bs, err := s.o.Portal.Bindings(q.ctx(), q.principal())
	if err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "portal", "portal", q.lang.T("nav.portal"), portalData{Bindings: bs})
}

func (s *Server) startBinding(q *req) error {
	if err := s.needPortal(); err != nil {
		return err
	}
	code, err := companyCode(q, "code")
	if err != nil {
		return err
	}
	b, err := s.o.Portal.StartBinding(q.ctx(), q.principal(), code)
	if err != nil {
		return inWords(q, err, kindKey{ErrConflict, "portal.errAlreadyBound"}, kindKey{ErrNotFound, "portal.errNoContact"},
			kindKey{ErrInvalidInput, "portal.errNoSMS"})
	}
	return s.redirect(q, "portal", fmt.Sprintf(q.lang.T("portal.sent"), b.Contact))
}

func (s *Server) activateBinding(q *req) error {
	if err := s.needPortal(); err != nil {
		return err
	}
	id, err := formID(q, "id")
	if err != nil {
		return err
	}
	otp := strings.TrimSpace(q.r.PostForm.Get("otp"))
	if len(otp) != 6 || strings.Trim(otp, "0123456789") != "" {
		return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.T("portal.otpShape"))
	}
	b, err := s.o.Portal.ActivateBinding(q.ctx(), q.principal(), id, otp)
	if err != nil {
		return inWords(q, err, kindKey{access.ErrActivation, "portal.errActivation"}, kindKey{ErrNotFound, "portal.errNotYours"})
	}
	return s.redirect(q, "portal/companies/"+url.PathEscape(b.Code), q.lang.T("portal.bound"))
}

func (s *Server) endBinding(q *req) error {
	if err := s.needPortal(); err != nil {
		return err
	}
	id, err := formID(q, "id")
	if err != nil {
		return err
	}
	if err := s.o.Portal.EndBinding(q.ctx(), q.principal(), id); err != nil {
		return inWords(q, err, kindKey{ErrForbidden, "portal.errNotRep"}, kindKey{ErrNotFound, "portal.errNotYours"})
	}
	back := "portal"
	if c := q.r.PostForm.Get("back"); c != "" && creditcode.Validate(c) == nil {
		back = "portal/companies/" + url.PathEscape(c)
	}
	return s.redirect(q, back, q.lang.T("portal.ended"))
}

type ownCompanyData struct {
	Code, Name string
	// Profile is the company's own assessment (nil: none yet, see NoProfile).
	Profile   *companyData
	NoProfile string
	Consents  []CompanyConsent
	Requests  []ConsentRequest
	Accounts  []Binding
	Grantees  []string
	// LegalRep: the signed-in account is the legal representative's (it may
	// delegate and end staff bindings).
	LegalRep bool
	// MinUntil, MaxUntil and DefaultUntil bound the consent date inputs.
	MinUntil, MaxUntil, DefaultUntil string
}

// Pending counts the requests waiting for an answer.
func (d ownCompanyData) Pending() int {
	n := 0
	for _, r := range d.Requests {
		if r.State == "pending" {
			n++
		}
	}
	return n
}

// ownCompany is the company's own page: its assessment as it sees it, its
// consents and the banks' requests, and the accounts acting for it.
func (s *Server) ownCompany(q *req) error {
	code, err := s.actingFor(q)
	if err != nil {
		return err
	}
	p := q.principal()
	ctx := q.ctx()
	today := s.o.Now().UTC().Truncate(24 * time.Hour)
	d := ownCompanyData{Code: code, Name: s.o.Portal.CompanyName(ctx, code),
		MinUntil: today.AddDate(0, 0, 1).Format(time.DateOnly), MaxUntil: maxConsent(today).Format(time.DateOnly),
		DefaultUntil: maxConsent(today).Format(time.DateOnly)}
	if s.o.Companies == nil {
		d.NoProfile = q.lang.T("portal.noAssessor")
	} else if c, err := s.o.Companies.Company(ctx, p, code); err == nil {
		pd, err := s.profileData(q, c)
		if err != nil {
			return err
		}
		d.Profile = &pd
		if d.Name == "" {
			d.Name = c.Name
		}
	} else if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotConnected) {
		d.NoProfile = q.lang.T("portal.noProfile")
	} else {
		return err
	}
	if d.Name == "" {
		d.Name = code
	}
	if d.Consents, err = s.o.Portal.Consents(ctx, p, code); err != nil {
		return err
	}
	if d.Requests, err = s.o.Portal.ConsentRequests(ctx, p, code); err != nil {
		return err
	}
	if d.Accounts, err = s.o.Portal.CompanyBindings(ctx, p, code); err != nil {
		return err
	}
	if d.Grantees, err = s.o.Portal.Grantees(ctx); err != nil {
		return err
	}
	d.LegalRep = slices.ContainsFunc(d.Accounts, func(b Binding) bool {
		return b.User == p.User && b.State == "active" && b.Capacity == "legal_rep"
	})
	return s.render(q, http.StatusOK, "owncompany", "portal", d.Name, d)
}

func (s *Server) delegate(q *req) error {
	code, err := s.actingFor(q)
	if err != nil {
		return err
	}
	user := strings.TrimSpace(q.r.PostForm.Get("user"))
	if user == "" || utf8.RuneCountInString(user) > 64 {
		return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.T("portal.userShape"))
	}
	if _, err := s.o.Portal.Delegate(q.ctx(), q.principal(), code, user); err != nil {
		return inWords(q, err, kindKey{ErrForbidden, "portal.errNotRep"}, kindKey{ErrNotFound, "portal.errNoUser"},
			kindKey{ErrConflict, "portal.errStaffBound"}, kindKey{ErrInvalidInput, "portal.errNotStaff"})
	}
	return s.redirect(q, "portal/companies/"+url.PathEscape(code), fmt.Sprintf(q.lang.T("portal.delegated"), user))
}

func (s *Server) grantConsent(q *req) error {
	code, err := s.actingFor(q)
	if err != nil {
		return err
	}
	inst := strings.TrimSpace(q.r.PostForm.Get("institution"))
	if inst == "" {
		return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.T("portal.chooseInst"))
	}
	until, err := s.untilDate(q, "until")
	if err != nil {
		return err
	}
	if _, err := s.o.Portal.GrantConsent(q.ctx(), q.principal(), code, inst, until); err != nil {
		return inWords(q, err, kindKey{ErrNotFound, "portal.errNoInst"}, kindKey{ErrInvalidInput, "portal.errNotGrantee"})
	}
	return s.redirect(q, "portal/companies/"+url.PathEscape(code), fmt.Sprintf(q.lang.T("portal.grantDone"), inst, until.Format(time.DateOnly)))
}

func (s *Server) revokeConsent(q *req) error {
	code, err := s.actingFor(q)
	if err != nil {
		return err
	}
	id, err := formID(q, "id")
	if err != nil {
		return err
	}
	if err := s.o.Portal.RevokeConsent(q.ctx(), q.principal(), code, id); err != nil {
		return inWords(q, err, kindKey{ErrNotFound, "portal.errNotYours"})
	}
	return s.redirect(q, "portal/companies/"+url.PathEscape(code), q.lang.T("portal.revoked"))
}

func (s *Server) answerRequest(q *req) error {
	code, err := s.actingFor(q)
	if err != nil {
		return err
	}
	id, err := formID(q, "id")
	if err != nil {
		return err
	}
	var accept bool
	switch q.r.PostForm.Get("decision") {
	case "accept":
		accept = true
	case "decline":
	default:
		return fmt.Errorf("%w: decision must be accept or decline", ErrInvalidInput)
	}
	if _, err := s.o.Portal.AnswerConsentRequest(q.ctx(), q.principal(), code, id, accept); err != nil {
		return inWords(q, err, kindKey{ErrNotFound, "portal.errNotYours"}, kindKey{ErrConflict, "portal.errAnswered"})
	}
	key := "portal.declined"
	if accept {
		key = "portal.accepted"
	}
	return s.redirect(q, "portal/companies/"+url.PathEscape(code), q.lang.T(key))
}

// ---- a bank asks for consent ----

type consentNeededData struct {
	Code, Name, Detail string
	MinUntil, MaxUntil string
	// Pending is the bank's request to this company still waiting, if any.
	Pending *ConsentRequest
}

// consentNeeded answers a bank's refused profile with the refusal and a form to
// ask the company for consent.
func (s *Server) consentNeeded(q *req, code string, refusal error) error {
	d := consentNeededData{Code: code, Name: s.o.ConsentAsks.CompanyName(q.ctx(), code)}
	d.Detail = strings.TrimPrefix(refusal.Error(), ErrConsentRequired.Error()+": ")
	today := s.o.Now().UTC().Truncate(24 * time.Hour)
	d.MinUntil, d.MaxUntil = today.AddDate(0, 0, 1).Format(time.DateOnly), maxConsent(today).Format(time.DateOnly)
	mine, err := s.o.ConsentAsks.RequestsOf(q.ctx(), q.principal())
	if err != nil {
		return err
	}
	for i := range mine {
		if mine[i].Code == code && mine[i].State == "pending" {
			d.Pending = &mine[i]
			break
		}
	}
	return s.render(q, http.StatusForbidden, "consentneeded", "companies", q.lang.T("err.consent"), d)
}

func (s *Server) requestConsent(q *req) error {
	if s.o.ConsentAsks == nil {
		return fmt.Errorf("%w: consent requests", ErrNotConnected)
	}
	code, err := companyCode(q, "")
	if err != nil {
		return err
	}
	note := strings.TrimSpace(q.r.PostForm.Get("note"))
	if utf8.RuneCountInString(note) > 500 {
		return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.T("ask.noteShape"))
	}
	until, err := s.untilDate(q, "until")
	if err != nil {
		return err
	}
	if _, err := s.o.ConsentAsks.RequestConsent(q.ctx(), q.principal(), code, note, until); err != nil {
		return inWords(q, err, kindKey{ErrConflict, "ask.errPending"})
	}
	return s.redirect(q, "consent-requests", fmt.Sprintf(q.lang.T("ask.sent"), s.companyLabel(q, code)))
}

func (s *Server) bankRequests(q *req) error {
	if s.o.ConsentAsks == nil {
		return fmt.Errorf("%w: consent requests", ErrNotConnected)
	}
	rs, err := s.o.ConsentAsks.RequestsOf(q.ctx(), q.principal())
	if err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "asks", "asks", q.lang.T("nav.asks"), rs)
}
