// Package access adapts internal/access to the lab console: API keys become lab
// principals and consent grants authorize bank users to open company profiles.
//
//	auth := labaccess.New(store, labaccess.Options{})
//	srv, err := lab.New(lab.Options{Auth: auth, Consents: auth, ...})
package access

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab"
)

// Options configures the adapter.
type Options struct {
	// Scope is the consent scope a bank needs to open a company profile.
	// Default "credit_assessment".
	Scope string
	// Now is the clock consent is checked at. Nil means time.Now.
	Now func() time.Time
}

// EnsureDefaults fills zero fields with the defaults.
func (o *Options) EnsureDefaults() {
	if o.Scope == "" {
		o.Scope = "credit_assessment"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Adapter implements lab.Authenticator and lab.Consents over an access store.
type Adapter struct {
	store *xaccess.Store
	o     Options
}

// New wraps store.
func New(store *xaccess.Store, o Options) *Adapter {
	o.EnsureDefaults()
	return &Adapter{store: store, o: o}
}

// Roles maps platform roles to console roles.
var Roles = map[xaccess.Role]lab.Role{
	xaccess.RoleLab:           lab.RoleViewer,
	xaccess.RoleDataScientist: lab.RoleScientist,
	xaccess.RoleApprover:      lab.RoleApprover,
	xaccess.RoleRegulator:     lab.RoleRegulator,
	xaccess.RoleBank:          lab.RoleBank,
	xaccess.RoleAdmin:         lab.RoleAdmin,
}

// Clearance is the indicator clearance of a principal: regulators, admins and the
// platform operator see confidential indicators; data scientists, approvers and banks
// restricted ones; everyone else public ones only.
func Clearance(p xaccess.Principal) lab.Clearance {
	switch {
	case p.HasAny(xaccess.RoleRegulator, xaccess.RoleAdmin) || p.InstitutionKind == xaccess.KindPlatform:
		return lab.ClearConfidential
	case p.HasAny(xaccess.RoleDataScientist, xaccess.RoleApprover, xaccess.RoleBank):
		return lab.ClearRestricted
	}
	return lab.ClearPublic
}

// Authenticate resolves an API key; an unknown, revoked or expired key wraps
// lab.ErrUnauthenticated.
func (a *Adapter) Authenticate(ctx context.Context, key string) (lab.Principal, error) {
	p, err := a.store.Authenticate(ctx, key)
	if err != nil {
		if errors.Is(err, xaccess.ErrUnauthenticated) {
			return lab.Principal{}, fmt.Errorf("%w: %w", lab.ErrUnauthenticated, err)
		}
		return lab.Principal{}, err
	}
	out := lab.Principal{ID: strconv.FormatInt(p.UserID, 10), Name: p.User, Institution: p.Institution,
		InstitutionID: p.InstitutionID, Clearance: Clearance(p), Native: p}
	for _, r := range p.Roles {
		if lr, ok := Roles[r]; ok {
			out.Roles = append(out.Roles, lr)
		}
	}
	return out, nil
}

// HasConsent reports whether p's institution holds an active consent of the
// configured scope for the company.
func (a *Adapter) HasConsent(ctx context.Context, p lab.Principal, code string) (bool, error) {
	_, err := a.store.CheckConsent(ctx, code, p.InstitutionID, a.o.Scope, a.o.Now())
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, xaccess.ErrConsentRequired):
		return false, nil
	case errors.Is(err, xaccess.ErrInvalid):
		return false, fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	}
	return false, err
}

// Login is a user the console can be signed into, with a fresh API key.
type Login struct {
	Institution string
	Kind        xaccess.Kind
	User        string
	Roles       []xaccess.Role
	Key         string // filled by EnsureLogins
}

// EnsureLogins creates the institutions and users of logins that do not exist yet and
// issues each user a new API key labelled "lab" (keys are stored hashed, so an
// existing key cannot be shown again). actor is recorded in the audit log.
func EnsureLogins(ctx context.Context, store *xaccess.Store, actor string, logins []Login) ([]Login, error) {
	out := make([]Login, len(logins))
	for i, l := range logins {
		inst, err := store.InstitutionByName(ctx, l.Institution)
		if errors.Is(err, xaccess.ErrNotFound) {
			inst, err = store.CreateInstitution(ctx, actor, l.Institution, l.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("institution %s: %w", l.Institution, err)
		}
		u, err := store.UserByName(ctx, l.User)
		if errors.Is(err, xaccess.ErrNotFound) {
			u, err = store.CreateUser(ctx, actor, l.User, inst.ID, l.Roles...)
		}
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", l.User, err)
		}
		key, _, err := store.IssueKey(ctx, actor, u.ID, "lab", 0)
		if err != nil {
			return nil, fmt.Errorf("key of %s: %w", l.User, err)
		}
		l.Key = key
		out[i] = l
	}
	return out, nil
}

// DemoLogins are the users of a demonstration console: a data scientist and an
// approver at a bank, a regulator, a bank credit officer and a lab viewer.
func DemoLogins() []Login {
	const bank, reg = "上虞农商银行 demo bank", "上虞区市场监督管理局 demo regulator"
	return []Login{
		{Institution: bank, Kind: xaccess.KindBank, User: "demo-scientist", Roles: []xaccess.Role{xaccess.RoleDataScientist}},
		{Institution: bank, Kind: xaccess.KindBank, User: "demo-approver", Roles: []xaccess.Role{xaccess.RoleApprover}},
		{Institution: bank, Kind: xaccess.KindBank, User: "demo-banker", Roles: []xaccess.Role{xaccess.RoleBank}},
		{Institution: reg, Kind: xaccess.KindRegulator, User: "demo-regulator", Roles: []xaccess.Role{xaccess.RoleRegulator}},
		{Institution: bank, Kind: xaccess.KindBank, User: "demo-viewer", Roles: []xaccess.Role{xaccess.RoleLab}},
	}
}
