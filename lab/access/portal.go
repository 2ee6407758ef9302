package access

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/lab"
)

// Names finds a company's registered name ("" when unknown).
type Names interface {
	CompanyName(code string) string
}

// DirectoryNames names companies from the business registry; a nil directory
// knows no names.
func DirectoryNames(d *datasets.Directory) Names { return directoryNames{d} }

type directoryNames struct{ d *datasets.Directory }

func (n directoryNames) CompanyName(code string) string {
	if n.d == nil {
		return ""
	}
	if r, ok := n.d.Company(code); ok {
		return r.Name
	}
	return ""
}

// Portal implements lab.Portal (the companies' own door) and lab.ConsentAsks (a
// bank's requests) over the access store. The console authorizes the company
// first; refusals the store decides itself (another account's binding, another
// company's consent or request) are recorded here through the same Authorizer.
type Portal struct {
	store *xaccess.Store
	authz *xaccess.Authorizer
	names Names
	now   func() time.Time
}

// Portal returns the portal backend over the adapter's store, naming companies
// with names (nil: by their codes).
func (a *Adapter) Portal(names Names) *Portal {
	return &Portal{store: a.store, authz: a.authz, names: names, now: time.Now}
}

// CompanyName is the company's registered name ("" when unknown).
func (p *Portal) CompanyName(_ context.Context, code string) string {
	if p.names == nil {
		return ""
	}
	return p.names.CompanyName(creditcode.Normalize(code))
}

func (p *Portal) name(code string) string {
	if n := p.CompanyName(context.Background(), code); n != "" {
		return n
	}
	return code
}

// refused records a refusal the store decided and translates it.
func (p *Portal) refused(ctx context.Context, pr lab.Principal, kind, id, op string, err error) error {
	if errors.Is(err, xaccess.ErrForbidden) || errors.Is(err, xaccess.ErrNotFound) {
		err = p.authz.Refused(ctx, pr.Principal, xaccess.ActionActForCompany, xaccess.Resource{Kind: kind, ID: id, Operation: "lab.portal." + op}, err)
	}
	return mapErr(err)
}

// mapErr turns the store's errors into the console's.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, xaccess.ErrForbidden):
		return fmt.Errorf("%w: %w", lab.ErrForbidden, err)
	case errors.Is(err, xaccess.ErrNotFound):
		return fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	case errors.Is(err, xaccess.ErrConflict):
		return fmt.Errorf("%w: %w", lab.ErrConflict, err)
	case errors.Is(err, xaccess.ErrInvalid):
		return fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	case errors.Is(err, xaccess.ErrUnavailable):
		return fmt.Errorf("%w: %w", lab.ErrNotConnected, err)
	}
	return err
}

func (p *Portal) binding(b xaccess.Binding, users map[int64]string) lab.Binding {
	out := lab.Binding{ID: b.ID, Code: b.CompanyCode, Name: p.name(b.CompanyCode), Capacity: b.Capacity, Method: b.Method, State: b.Status,
		Contact: b.Contact, Created: b.CreatedAt, Activated: b.ActivatedAt, Revoked: b.RevokedAt, CodeExpires: b.CodeExpires}
	if users != nil {
		out.User = users[b.UserID]
	}
	return out
}

// Bindings lists the account's bindings, newest first.
func (p *Portal) Bindings(ctx context.Context, pr lab.Principal) ([]lab.Binding, error) {
	bs, err := p.store.BoundCompanies(ctx, pr.UserID)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]lab.Binding, len(bs))
	for i, b := range bs {
		out[i] = p.binding(b, nil)
	}
	return out, nil
}

// StartBinding sends the one-time code to the legal representative.
func (p *Portal) StartBinding(ctx context.Context, pr lab.Principal, code string) (lab.Binding, error) {
	b, err := p.store.StartBinding(ctx, pr.Actor(), pr.UserID, code)
	if err != nil {
		return lab.Binding{}, p.refused(ctx, pr, "company", code, "binding.start", err)
	}
	return p.binding(b, nil), nil
}

// ActivateBinding completes the account's pending binding with the code.
func (p *Portal) ActivateBinding(ctx context.Context, pr lab.Principal, id int64, otp string) (lab.Binding, error) {
	b, err := p.store.ActivateBinding(ctx, pr.Actor(), pr.UserID, id, otp)
	if err != nil {
		return lab.Binding{}, p.refused(ctx, pr, "binding", strconv.FormatInt(id, 10), "binding.activate", err)
	}
	return p.binding(b, nil), nil
}

// EndBinding ends the account's own binding, or a delegate's of a company whose
// legal representative the account is.
func (p *Portal) EndBinding(ctx context.Context, pr lab.Principal, id int64) error {
	if err := p.store.RevokeBinding(ctx, pr.Actor(), pr.UserID, id); err != nil {
		return p.refused(ctx, pr, "binding", strconv.FormatInt(id, 10), "binding.end", err)
	}
	return nil
}

// Delegate names the staff account user to act for code.
func (p *Portal) Delegate(ctx context.Context, pr lab.Principal, code, user string) (lab.Binding, error) {
	u, err := p.store.UserByName(ctx, user)
	if err != nil {
		return lab.Binding{}, p.refused(ctx, pr, "company", code, "delegate", err)
	}
	b, err := p.store.Delegate(ctx, pr.Actor(), pr.UserID, u.ID, code)
	if err != nil {
		return lab.Binding{}, p.refused(ctx, pr, "company", code, "delegate", err)
	}
	return p.binding(b, map[int64]string{u.ID: u.Name}), nil
}

// CompanyBindings lists the accounts acting for code, with their names.
func (p *Portal) CompanyBindings(ctx context.Context, _ lab.Principal, code string) ([]lab.Binding, error) {
	bs, err := p.store.CompanyBindings(ctx, code)
	if err != nil {
		return nil, mapErr(err)
	}
	users := map[int64]string{}
	out := make([]lab.Binding, len(bs))
	for i, b := range bs {
		if _, ok := users[b.UserID]; !ok {
			if u, err := p.store.User(ctx, b.UserID); err == nil {
				users[b.UserID] = u.Name
			}
		}
		out[i] = p.binding(b, users)
	}
	return out, nil
}

// institutionNames caches institution names for one listing.
func (p *Portal) institutionName(ctx context.Context, cache map[int64]string, id int64) string {
	if n, ok := cache[id]; ok {
		return n
	}
	n := strconv.FormatInt(id, 10)
	if in, err := p.store.Institution(ctx, id); err == nil {
		n = in.Name
	}
	cache[id] = n
	return n
}

// Consents lists who holds code's consent, newest first.
func (p *Portal) Consents(ctx context.Context, _ lab.Principal, code string) ([]lab.CompanyConsent, error) {
	cs, err := p.store.Consents(ctx, code)
	if err != nil {
		return nil, mapErr(err)
	}
	now := p.now()
	names := map[int64]string{}
	out := make([]lab.CompanyConsent, len(cs))
	for i, c := range cs {
		out[i] = lab.CompanyConsent{ID: c.ID, Institution: p.institutionName(ctx, names, c.BankID), Scope: c.Scope, Purpose: c.Purpose,
			Granted: c.GrantedAt, Expires: c.ExpiresAt, Revoked: c.RevokedAt,
			Active: c.RevokedAt.IsZero() && !now.Before(c.GrantedAt) && now.Before(c.ExpiresAt)}
	}
	return out, nil
}

// Grantees names the banks and guarantee institutions, by name.
func (p *Portal) Grantees(ctx context.Context) ([]string, error) {
	ins, err := p.store.Institutions(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	var out []string
	for _, in := range ins {
		if in.Kind == xaccess.KindBank || in.Kind == xaccess.KindGuarantor {
			out = append(out, in.Name)
		}
	}
	return out, nil
}

// GrantConsent records the company's own credit-assessment consent for the
// institution named, with purpose "portal".
func (p *Portal) GrantConsent(ctx context.Context, pr lab.Principal, code, institution string, until time.Time) (lab.CompanyConsent, error) {
	in, err := p.store.InstitutionByName(ctx, institution)
	if err != nil {
		return lab.CompanyConsent{}, mapErr(err)
	}
	c, err := p.store.GrantConsent(ctx, pr.Actor(), xaccess.ConsentGrant{CompanyCode: code, BankID: in.ID, Scope: xaccess.ScopeCreditAssessment,
		ExpiresAt: until, Purpose: "portal"})
	if err != nil {
		return lab.CompanyConsent{}, mapErr(err)
	}
	return lab.CompanyConsent{ID: c.ID, Institution: in.Name, Scope: c.Scope, Purpose: c.Purpose, Granted: c.GrantedAt, Expires: c.ExpiresAt, Active: true}, nil
}

// RevokeConsent revokes consent id, which must be one of code's.
func (p *Portal) RevokeConsent(ctx context.Context, pr lab.Principal, code string, id int64) error {
	cs, err := p.store.Consents(ctx, code)
	if err != nil {
		return mapErr(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return mapErr(p.store.RevokeConsent(ctx, pr.Actor(), id))
		}
	}
	return p.refused(ctx, pr, "consent", strconv.FormatInt(id, 10), "consent.revoke",
		fmt.Errorf("%w: consent %d is not one of %s's", xaccess.ErrNotFound, id, creditcode.Normalize(code)))
}

func (p *Portal) requests(ctx context.Context, rs []xaccess.ConsentRequest) []lab.ConsentRequest {
	names := map[int64]string{}
	out := make([]lab.ConsentRequest, len(rs))
	for i, r := range rs {
		by, _, _ := strings.Cut(r.RequestedBy, "@")
		answered, _, _ := strings.Cut(r.AnsweredBy, "@")
		out[i] = lab.ConsentRequest{ID: r.ID, Code: r.CompanyCode, Name: p.name(r.CompanyCode), Institution: p.institutionName(ctx, names, r.BankID),
			Scope: r.Scope, Note: r.Note, Until: r.Until, RequestedBy: by, Requested: r.RequestedAt, State: r.Status,
			AnsweredBy: answered, Answered: r.AnsweredAt}
	}
	return out
}

// ConsentRequests lists the banks' requests to code.
func (p *Portal) ConsentRequests(ctx context.Context, _ lab.Principal, code string) ([]lab.ConsentRequest, error) {
	rs, err := p.store.ConsentRequests(ctx, code)
	if err != nil {
		return nil, mapErr(err)
	}
	return p.requests(ctx, rs), nil
}

// AnswerConsentRequest accepts or declines request id, which must be code's.
func (p *Portal) AnswerConsentRequest(ctx context.Context, pr lab.Principal, code string, id int64, accept bool) (lab.ConsentRequest, error) {
	r, err := p.store.AnswerConsentRequest(ctx, pr.Actor(), code, id, accept)
	if err != nil {
		return lab.ConsentRequest{}, p.refused(ctx, pr, "consent_request", strconv.FormatInt(id, 10), "consent_request.answer", err)
	}
	return p.requests(ctx, []xaccess.ConsentRequest{r})[0], nil
}

// RequestConsent records the bank's request for code's credit-assessment
// consent; internal/access authorizes ActionRequestConsent first.
func (p *Portal) RequestConsent(ctx context.Context, pr lab.Principal, code, note string, until time.Time) (lab.ConsentRequest, error) {
	code = creditcode.Normalize(code)
	if err := p.authz.Authorize(ctx, pr.Principal, xaccess.ActionRequestConsent, xaccess.Resource{Kind: "company", ID: code, Operation: "lab.consent.request"}); err != nil {
		return lab.ConsentRequest{}, mapErr(err)
	}
	r, err := p.store.RequestConsent(ctx, pr.Actor(), pr.InstitutionID, code, xaccess.ScopeCreditAssessment, note, until)
	if err != nil {
		return lab.ConsentRequest{}, mapErr(err)
	}
	return p.requests(ctx, []xaccess.ConsentRequest{r})[0], nil
}

// RequestsOf lists the requests of the signed-in user's institution, newest first.
func (p *Portal) RequestsOf(ctx context.Context, pr lab.Principal) ([]lab.ConsentRequest, error) {
	rs, err := p.store.ConsentRequestsOf(ctx, pr.InstitutionID)
	if err != nil {
		return nil, mapErr(err)
	}
	return p.requests(ctx, rs), nil
}
