// Package access adapts internal/access to the lab console: API keys become lab
// principals, and internal/access's one Authorize decides every route and company
// profile (consent included), recording refusals in the audit log. Portal is the
// companies' own door (bindings proven by the legal representative, consents,
// answers to banks' requests) and banks' consent requests over the same store;
// refusals the store decides are recorded through the same Authorizer.
//
//	auth := labaccess.New(store, auditLog)
//	portal := auth.Portal(labaccess.DirectoryNames(directory))
//	srv, err := lab.New(lab.Options{Auth: auth, Authorizer: auth, Portal: portal, ConsentAsks: portal, ...})
package access

import (
	"context"
	"errors"
	"fmt"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/lab"
)

// Adapter implements lab.Authenticator and lab.Authorizer over an access store.
type Adapter struct {
	store *xaccess.Store
	authz *xaccess.Authorizer
}

// New wraps store; refusals are recorded in log.
func New(store *xaccess.Store, log *audit.Log) *Adapter {
	return &Adapter{store: store, authz: xaccess.NewAuthorizer(store, log)}
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
	return lab.Principal{Principal: p, Clearance: lab.Clearance(xaccess.ClearanceOf(p))}, nil
}

// Authorize is internal/access's Authorize.
func (a *Adapter) Authorize(ctx context.Context, p xaccess.Principal, action xaccess.Action, res xaccess.Resource) error {
	return a.authz.Authorize(ctx, p, action, res)
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
// DemoPenaltyDepartment is the demo's department owning the penalty source.
const DemoPenaltyDepartment = "上虞区市场监管局执法大队 demo department"

func DemoLogins() []Login {
	const bank, reg = "上虞农商银行 demo bank", "上虞区市场监督管理局 demo regulator"
	return []Login{
		{Institution: bank, Kind: xaccess.KindBank, User: "demo-scientist", Roles: []xaccess.Role{xaccess.RoleDataScientist}},
		{Institution: bank, Kind: xaccess.KindBank, User: "demo-approver", Roles: []xaccess.Role{xaccess.RoleApprover}},
		{Institution: bank, Kind: xaccess.KindBank, User: "demo-banker", Roles: []xaccess.Role{xaccess.RoleBank}},
		{Institution: reg, Kind: xaccess.KindRegulator, User: "demo-regulator", Roles: []xaccess.Role{xaccess.RoleRegulator}},
		{Institution: bank, Kind: xaccess.KindBank, User: "demo-viewer", Roles: []xaccess.Role{xaccess.RoleLab}},
		// A company's own account: it acts for a company once bound to it (the
		// demo binds it to its sample company by an operator's verification).
		{Institution: "企业用户 demo companies", Kind: xaccess.KindEnterprise, User: "demo-company", Roles: []xaccess.Role{xaccess.RoleEnterprise}},
		// The department that delivers administrative penalties and reviews the
		// objections and repairs about them (the demo's --ingest-owner).
		{Institution: DemoPenaltyDepartment, Kind: xaccess.KindDepartment, User: "demo-department", Roles: []xaccess.Role{xaccess.RoleDepartment}},
	}
}
