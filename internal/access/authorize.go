package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xinyi-platform/xinyi/internal/audit"
)

// ErrUnavailable means a dependency of a decision (the consent table) could not be
// read; the caller may retry. HTTP 503.
var ErrUnavailable = errors.New("access: unavailable")

// errAudited marks a refusal whose audit record Authorize has already written, so a
// caller that audits its own refusals does not write a second one (see Audited).
var errAudited = errors.New("access: refusal audited")

// Audited reports whether err is a refusal that Authorize has already recorded in
// the audit log.
func Audited(err error) bool { return errors.Is(err, errAudited) }

// ScopeCreditAssessment is the consent scope a bank needs to see a company's credit
// decision or profile.
const ScopeCreditAssessment = "credit_assessment"

// Action is what a principal asks to do. Each action has one rule in Decide.
type Action string

// The actions every surface (serving, registry, console) authorizes.
const (
	// ActionAssess: see one company's credit decision (assessment, profile). A
	// regulator's user with the regulator role may; a bank's user with the bank role
	// may when the company granted the bank consent for Resource.Scope; the
	// company's own account may when it is bound to the company.
	ActionAssess Action = "company.assess"
	// ActionFindCompanies: search companies and reach the profile pages (each
	// profile is then ActionAssess). The roles of ActionAssess, without consent.
	ActionFindCompanies Action = "company.find"
	// ActionScreen: screen the whole region. Regulators and platform administrators.
	ActionScreen Action = "region.screen"
	// ActionViewJob: see a screening job and its result. The owner institution and
	// platform administrators.
	ActionViewJob Action = "job.view"
	// ActionListJobs: list every durable job of the platform (screenings,
	// materialization shards, …) with its progress and errors. Platform
	// administrators only: the list spans every institution.
	ActionListJobs Action = "job.list"
	// ActionSourceStatus: see every department source's freshness and quality
	// (batches, rejections, lateness against its cadence). Platform
	// administrators.
	ActionSourceStatus Action = "source.status"
	// ActionReadModel: see a registered model, its versions and artifacts, or run
	// it (OIP). The owner institution, anyone when it is shared, and platform
	// administrators.
	ActionReadModel Action = "model.read"
	// ActionDownloadModel: take a registered model's file away (its artifact or
	// the original upload). The rule of ActionReadModel, and Resource.Sensitivity
	// (the highest sensitivity of the indicators the model reads) within the
	// principal's clearance (ClearanceOf): a model over indicators above it is
	// served to its owner, never handed over, since its split thresholds would
	// reveal the values.
	ActionDownloadModel Action = "model.download"
	// ActionWriteModel: create a model, upload versions, move ungated aliases,
	// request promotion. A data scientist, lab user or administrator of the owner
	// institution (Resource.Owner 0: a new model, owned by the caller's institution),
	// or a platform administrator.
	ActionWriteModel Action = "model.write"
	// ActionDecidePromotion: approve or reject a promotion request. An approver of
	// the owner institution (or of the platform). The registry adds the four-eyes
	// rule: the requester never decides.
	ActionDecidePromotion Action = "model.promotion.decide"
	// ActionListModels: the model library and the approvals list of one's own
	// institution. Data scientists, approvers and administrators.
	ActionListModels Action = "model.list"
	// ActionBuildSample: build training samples and train in the lab. Data
	// scientists and administrators.
	ActionBuildSample Action = "sample.build"
	// ActionBrowseLibrary: the indicator library. Every signed-in user.
	ActionBrowseLibrary Action = "library.browse"
	// ActionManageConsent: record or revoke a company's consent grant (on its
	// signed authorization). Platform administrators.
	ActionManageConsent Action = "consent.manage"
	// ActionInspect: draw a 双随机 inspection plan from a screening and record its
	// results. A user with the regulator role at the regulator that owns the
	// screening or plan (Resource.Owner); nobody else, platform administrators
	// included: inspecting is the regulator's own act.
	ActionInspect Action = "region.inspect"
	// ActionViewInspections: see inspection plans, their exports and hit rates. A
	// user with the regulator role at the owner institution (Resource.Owner), or a
	// platform administrator.
	ActionViewInspections Action = "inspection.view"
	// ActionIngest: deliver records into a raw source. A user with the department
	// role at the department that owns the source (Resource.Owner), or a platform
	// administrator.
	ActionIngest Action = "source.ingest"
	// ActionReadIngest: read a source's ingestion history and quarantine. The
	// roles of ActionIngest.
	ActionReadIngest Action = "source.history"
	// ActionCaseReview: review a company's objection or repair application about a
	// record (see its case, set its deadline, correct the record, reject, take the
	// first approval step of a repair). A user with the department role at the
	// department that owns the record's source (Resource.Owner); nobody else,
	// platform administrators included: reviewing is the department's own act.
	ActionCaseReview Action = "case.review"
	// ActionCaseAuthority: take the credit authority's step of a repair (the
	// second, final approval, or a rejection) and see the repair cases awaiting
	// it. A user with the regulator role at a regulator. The cases package adds
	// the rule that the two steps are taken by two different people.
	ActionCaseAuthority Action = "case.authority"

	// ActionActForCompany: act for one company (Resource.ID its code): see its own
	// profile, grant and revoke its consents, answer consent requests, dispute its
	// records, apply for credit repair, ask for its credit report, post financing
	// requests. A user with the enterprise role at an enterprise institution whose
	// account holds an active binding to the company (see Binding): who may act
	// for a company is proven, never claimed.
	ActionActForCompany Action = "company.act"
	// ActionBindCompany: bind an account to a company on verified evidence (the
	// electronic business licence), or end any binding. Platform administrators.
	ActionBindCompany Action = "company.bind"
	// ActionRequestConsent: ask a company for consent, and list one's own
	// requests. A user with the bank role at a bank, or the guarantor role at a
	// guarantee institution.
	ActionRequestConsent Action = "consent.request"
	// ActionManageWebhooks: register, list, rotate and stop the institution's
	// webhook endpoints and replay their dead deliveries. A user with the bank role
	// at a bank, the regulator role at a regulator or the guarantor role at a
	// guarantee institution, or an administrator of such an institution; only the
	// institution's own endpoints (Resource.Owner, 0 for a new one).
	ActionManageWebhooks Action = "webhook.manage"
	// ActionPortfolio: the post-loan view of the companies whose consent the
	// institution holds now. A user with the bank role at a bank or the
	// guarantor role at a guarantee institution; only its own.
	ActionPortfolio Action = "portfolio.view"
	// ActionFinancingBank: act as a lender in the financing loop: define products,
	// read the inbox of requests addressed to the bank, make or decline offers,
	// push pre-credit offers, record disbursements and repayments, build the
	// bank's outcome labels. A user with the bank role at a bank; Resource.Owner,
	// when set, is the bank the product, request answer or loan belongs to and
	// must be the principal's.
	ActionFinancingBank Action = "financing.bank"
	// ActionFinancingApprove: approve a proposed change of a product (switching
	// auto-approval on, changing the rule of an auto-approving product). A user
	// with the approver role at the bank that owns the product (Resource.Owner).
	// The financing package adds the four-eyes rule: the proposer never approves.
	ActionFinancingApprove Action = "financing.approve"
	// ActionFinancingGuarantee: set a guarantee institution's eligibility rule and
	// whitelist, guarantee loans in batches, record its share of losses. A user
	// with the guarantor role at a guarantee institution; Resource.Owner, when
	// set, must be that institution.
	ActionFinancingGuarantee Action = "financing.guarantee"
	// ActionFinancingStats: the regulator's view of the financing loop (demand
	// against credit, approval rates, time to decision, first loans, unanswered
	// requests) in aggregates only, and pushing government whitelists of firms to
	// support (培育池) to banks. A user with the regulator role at a regulator.
	ActionFinancingStats Action = "financing.stats"
)

// Reports (package reports).
const (
	// ActionRevokeReport: revoke an issued credit report (Resource{Kind: "report",
	// ID: report number}), e.g. one issued on a mistaken record. Platform
	// administrators.
	ActionRevokeReport Action = "report.revoke"
)

// Feature sets published at run time (package registry).
const (
	// ActionPublishFeatureSet: publish a version of a feature set for the
	// institution Resource.Owner. The data_scientist, lab or admin role of that
	// institution, or a platform administrator.
	ActionPublishFeatureSet Action = "featureset.publish"
	// ActionReadFeatureSet: read a published feature set (or bind a model to
	// it): its owner, any institution when Resource.Shared, or the platform.
	ActionReadFeatureSet Action = "featureset.read"
)

// Resource is what an action is applied to. Only the fields an action's rule reads
// matter; the rest stay zero.
type Resource struct {
	// Kind and ID name the resource in messages and audit records ("company",
	// "91330604MA4UJ7K21X"; "model", "pd").
	Kind, ID string
	// Owner is the owning institution of a model or job; 0 for none (a model not yet
	// created).
	Owner int64
	// Shared makes a model readable by every institution.
	Shared bool
	// Scope is the consent scope an assessment needs. Default ScopeCreditAssessment.
	Scope string
	// Sensitivity is the highest indicator sensitivity the resource reveals
	// (ActionDownloadModel); empty for none.
	Sensitivity string
	// Operation is what the surface calls the attempt ("model.promotion.approve"),
	// recorded as the action of a refusal's audit record. Default the Action.
	Operation string
}

// Subject is the audit subject of the resource, e.g. "company:9133…".
func (r Resource) Subject() string {
	if r.Kind == "" {
		return ""
	}
	if r.ID == "" {
		return r.Kind
	}
	return r.Kind + ":" + r.ID
}

// Actor is how audit records name the principal: the user and the public id of
// the key used, "user@institution/key".
func (p Principal) Actor() string {
	if p.User == "" && p.Institution == "" {
		return "anonymous"
	}
	s := p.User + "@" + p.Institution
	if p.KeyID != "" {
		s += "/" + p.KeyID
	}
	return s
}

// PlatformWide reports whether p acts for the whole platform: an administrator of
// the platform institution.
func (p Principal) PlatformWide() bool { return p.Has(RoleAdmin) && p.InstitutionKind == KindPlatform }

// within reports whether p holds one of roles, an administrator holding every role
// of its own institution.
func (p Principal) within(roles ...Role) bool { return p.HasAny(roles...) || p.Has(RoleAdmin) }

// Indicator sensitivities, in increasing order; a principal's clearance is the
// highest it may see.
const (
	SensitivityPublic       = "public"
	SensitivityRestricted   = "restricted"
	SensitivityConfidential = "confidential"
)

// SensitivityRank orders the sensitivities: public 1, restricted 2,
// confidential 3; 0 for anything else.
func SensitivityRank(s string) int {
	switch s {
	case SensitivityPublic:
		return 1
	case SensitivityRestricted:
		return 2
	case SensitivityConfidential:
		return 3
	}
	return 0
}

// ClearanceAllows reports whether a principal cleared for clearance may see
// something of the given sensitivity; an empty sensitivity (nothing sensitive)
// is always allowed, an unknown one never.
func ClearanceAllows(clearance, sensitivity string) bool {
	if sensitivity == "" {
		return true
	}
	r := SensitivityRank(sensitivity)
	return r > 0 && r <= SensitivityRank(clearance)
}

// ClearanceOf is the highest indicator sensitivity p may see: regulators,
// administrators and the platform operator see confidential indicators; data
// scientists, approvers and banks restricted ones; everyone else public ones.
func ClearanceOf(p Principal) string {
	switch {
	case p.HasAny(RoleRegulator, RoleAdmin) || p.InstitutionKind == KindPlatform:
		return SensitivityConfidential
	case p.HasAny(RoleDataScientist, RoleApprover, RoleBank):
		return SensitivityRestricted
	}
	return SensitivityPublic
}

// Decision is what Decide says beyond yes or no: the consent a yes depends on.
type Decision struct {
	// ConsentScope, when not empty, is the consent of company ConsentCompany the
	// principal's institution must hold for the answer to be yes.
	ConsentScope   string
	ConsentCompany string
	// BindingCompany, when not empty, is the company the principal's account must
	// hold an active binding to.
	BindingCompany string
}

// Decide applies the rule of action to p and res without looking anything up: it
// returns an error wrapping ErrForbidden when the rule refuses, or the consent the
// permission still depends on. Authorize is Decide plus the consent check and the
// audit of refusals; a surface that only shows or hides a link may call Decide.
func Decide(p Principal, action Action, res Resource) (Decision, error) {
	refuse := func(format string, args ...any) (Decision, error) {
		return Decision{}, fmt.Errorf("%w: %s", ErrForbidden, fmt.Sprintf(format, args...))
	}
	who := func() string {
		return fmt.Sprintf("user %s of %s has roles %s", p.User, p.Institution, roleNames(p.Roles))
	}
	regulator := p.Has(RoleRegulator) && p.InstitutionKind == KindRegulator
	bank := p.Has(RoleBank) && p.InstitutionKind == KindBank
	switch action {
	case ActionAssess:
		switch {
		case regulator:
			return Decision{}, nil
		case bank:
			scope := res.Scope
			if scope == "" {
				scope = ScopeCreditAssessment
			}
			return Decision{ConsentScope: scope, ConsentCompany: res.ID}, nil
		case p.Has(RoleEnterprise) && p.InstitutionKind == KindEnterprise:
			// A company sees its own decision, through a bound account.
			return Decision{BindingCompany: res.ID}, nil
		}
		return refuse("a company's credit decision needs the bank role (at a bank, with the company's consent), the regulator role (at a regulator) or the company's own bound account; %s", who())
	case ActionFindCompanies:
		if regulator || bank {
			return Decision{}, nil
		}
		return refuse("company profiles need the bank role (at a bank) or the regulator role (at a regulator); %s", who())
	case ActionScreen:
		if regulator || p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("screening the region needs the regulator role (at a regulator) or a platform administrator; %s", who())
	case ActionViewJob:
		if (res.Owner != 0 && res.Owner == p.InstitutionID) || p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("%s belongs to another institution", res.Subject())
	case ActionListJobs:
		if p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("the platform's job list needs a platform administrator; %s", who())
	case ActionSourceStatus:
		if p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("the status of every department source needs a platform administrator; %s", who())
	case ActionReadModel:
		if (res.Owner != 0 && res.Owner == p.InstitutionID) || res.Shared || p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("%s is private to another institution", res.Subject())
	case ActionDownloadModel:
		if !((res.Owner != 0 && res.Owner == p.InstitutionID) || res.Shared || p.PlatformWide()) {
			return refuse("%s is private to another institution", res.Subject())
		}
		if clear := ClearanceOf(p); !ClearanceAllows(clear, res.Sensitivity) {
			return refuse("%s reads %s indicators and %s of %s is cleared for %s ones at most: the model is served, its file is not handed over (its split thresholds would reveal the values)",
				res.Subject(), res.Sensitivity, p.User, p.Institution, clear)
		}
		return Decision{}, nil
	case ActionWriteModel:
		if !p.within(RoleDataScientist, RoleLab) {
			return refuse("changing models needs the data_scientist, lab or admin role; %s", who())
		}
		if res.Owner != 0 && res.Owner != p.InstitutionID && !p.PlatformWide() {
			return refuse("%s belongs to another institution", res.Subject())
		}
		return Decision{}, nil
	case ActionDecidePromotion:
		if !p.Has(RoleApprover) {
			return refuse("deciding a promotion needs the approver role; %s", who())
		}
		if res.Owner != 0 && res.Owner != p.InstitutionID && !p.PlatformWide() {
			return refuse("%s belongs to another institution", res.Subject())
		}
		return Decision{}, nil
	case ActionListModels:
		if p.within(RoleDataScientist, RoleApprover) {
			return Decision{}, nil
		}
		return refuse("the model library needs the data_scientist, approver or admin role; %s", who())
	case ActionBuildSample:
		if p.within(RoleDataScientist) {
			return Decision{}, nil
		}
		return refuse("samples and training need the data_scientist or admin role; %s", who())
	case ActionBrowseLibrary:
		if p.UserID != 0 || p.User != "" {
			return Decision{}, nil
		}
		return refuse("the indicator library needs a signed-in user")
	case ActionInspect:
		if !regulator {
			return refuse("inspection plans and results need the regulator role (at a regulator); %s", who())
		}
		if res.Owner == 0 || res.Owner != p.InstitutionID {
			return refuse("%s belongs to another institution", res.Subject())
		}
		return Decision{}, nil
	case ActionViewInspections:
		if (regulator && res.Owner != 0 && res.Owner == p.InstitutionID) || p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("%s is another institution's, or needs the regulator role; %s", res.Subject(), who())
	case ActionIngest, ActionReadIngest:
		if p.PlatformWide() {
			return Decision{}, nil
		}
		if !p.Has(RoleDepartment) || p.InstitutionKind != KindDepartment {
			return refuse("department records are delivered by a user with the department role at a department, or a platform administrator; %s", who())
		}
		if res.Owner == 0 || res.Owner != p.InstitutionID {
			return refuse("%s belongs to another department", res.Subject())
		}
		return Decision{}, nil
	case ActionCaseReview:
		if !p.Has(RoleDepartment) || p.InstitutionKind != KindDepartment {
			return refuse("cases about a department's records are reviewed by a user with the department role at that department; %s", who())
		}
		if res.Owner == 0 || res.Owner != p.InstitutionID {
			return refuse("%s is about a record of another department", res.Subject())
		}
		return Decision{}, nil
	case ActionCaseAuthority:
		if regulator {
			return Decision{}, nil
		}
		return refuse("the credit authority's step of a repair needs the regulator role (at a regulator); %s", who())
	case ActionActForCompany:
		if p.Has(RoleEnterprise) && p.InstitutionKind == KindEnterprise {
			return Decision{BindingCompany: res.ID}, nil
		}
		return refuse("acting for a company needs an enterprise account bound to it; %s", who())
	case ActionBindCompany:
		if p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("binding an account to a company on verified evidence needs a platform administrator; %s", who())
	case ActionRequestConsent:
		if bank || p.Has(RoleGuarantor) && p.InstitutionKind == KindGuarantor {
			return Decision{}, nil
		}
		return refuse("asking a company for consent needs the bank role (at a bank) or the guarantor role (at a guarantee institution); %s", who())
	case ActionPublishFeatureSet:
		if !p.within(RoleDataScientist, RoleLab) {
			return refuse("publishing a feature set needs the data_scientist, lab or admin role; %s", who())
		}
		if res.Owner != p.InstitutionID && !p.PlatformWide() {
			return refuse("%s belongs to another institution", res.Subject())
		}
		return Decision{}, nil
	case ActionReadFeatureSet:
		if (res.Owner != 0 && res.Owner == p.InstitutionID) || res.Shared || p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("%s is private to another institution", res.Subject())
	case ActionRevokeReport:
		if p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("revoking a credit report needs a platform administrator; %s", who())
	case ActionManageWebhooks:
		subscriber := bank || regulator || p.Has(RoleGuarantor) && p.InstitutionKind == KindGuarantor ||
			p.Has(RoleAdmin) && (p.InstitutionKind == KindBank || p.InstitutionKind == KindRegulator || p.InstitutionKind == KindGuarantor)
		if !subscriber {
			return refuse("webhook endpoints are managed by a bank's, regulator's or guarantee institution's users with its role, or its administrator; %s", who())
		}
		if res.Owner != 0 && res.Owner != p.InstitutionID {
			return refuse("%s belongs to another institution", res.Subject())
		}
		return Decision{}, nil
	case ActionPortfolio:
		if bank || p.Has(RoleGuarantor) && p.InstitutionKind == KindGuarantor {
			return Decision{}, nil
		}
		return refuse("the post-loan view needs the bank role (at a bank) or the guarantor role (at a guarantee institution); %s", who())
	case ActionFinancingBank:
		if !bank {
			return refuse("the financing loop needs the bank role (at a bank); %s", who())
		}
		if res.Owner != 0 && res.Owner != p.InstitutionID {
			return refuse("%s belongs to another bank", res.Subject())
		}
		return Decision{}, nil
	case ActionFinancingApprove:
		if !p.Has(RoleApprover) || p.InstitutionKind != KindBank {
			return refuse("approving a financing product change needs the approver role (at a bank); %s", who())
		}
		if res.Owner == 0 || res.Owner != p.InstitutionID {
			return refuse("%s belongs to another bank", res.Subject())
		}
		return Decision{}, nil
	case ActionFinancingGuarantee:
		if !p.Has(RoleGuarantor) || p.InstitutionKind != KindGuarantor {
			return refuse("guarantees need the guarantor role (at a guarantee institution); %s", who())
		}
		if res.Owner != 0 && res.Owner != p.InstitutionID {
			return refuse("%s belongs to another guarantee institution", res.Subject())
		}
		return Decision{}, nil
	case ActionFinancingStats:
		if regulator {
			return Decision{}, nil
		}
		return refuse("financing statistics and support lists need the regulator role (at a regulator); %s", who())
	case ActionManageConsent:
		if p.PlatformWide() {
			return Decision{}, nil
		}
		return refuse("consent grants are recorded by a platform administrator on the company's signed authorization; %s", who())
	}
	return refuse("unknown action %q", action)
}

func roleNames(rs []Role) string {
	if len(rs) == 0 {
		return "none"
	}
	return joinRoles(rs)
}

// ConsentChecker finds the consent under which a bank may query a company; *Store
// implements it. It returns an error wrapping ErrConsentRequired when there is none
// and ErrInvalid for a malformed company code.
type ConsentChecker interface {
	CheckConsent(ctx context.Context, companyCode string, bankID int64, scope string, at time.Time) (Consent, error)
}

// BindingChecker finds the binding under which an account acts for a company;
// *Store implements it. It returns an error wrapping ErrNotBound when there is
// none and ErrInvalid for a malformed company code.
type BindingChecker interface {
	CheckBinding(ctx context.Context, userID int64, companyCode string, at time.Time) (Binding, error)
}

// Auditor appends to the audit log; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Record, error)
}

// Authorizer is the one place every surface asks whether a principal may act: role,
// ownership or sharing, and the company's consent, with every refusal audited.
type Authorizer struct {
	// Consents checks consent grants. Required for ActionAssess by banks.
	Consents ConsentChecker
	// Bindings checks company accounts' bindings. Required for
	// ActionActForCompany.
	Bindings BindingChecker
	// Audit receives a record of every refusal. Nil: refusals are not recorded
	// (tests of rules only).
	Audit Auditor
	// Now is the clock consent is checked at. Default time.Now.
	Now func() time.Time
}

// NewAuthorizer returns the Authorizer over an access store, auditing into log.
func NewAuthorizer(store *Store, log *audit.Log) *Authorizer {
	a := &Authorizer{Consents: store, Bindings: store}
	if log != nil {
		a.Audit = log
	}
	return a
}

// Authorize returns nil when p may apply action to res. A refusal wraps
// ErrForbidden or ErrConsentRequired (ErrInvalid for a malformed company code) and
// is recorded in the audit log before Authorize returns; a failure to read the
// consent table wraps ErrUnavailable and is not a refusal. When the refusal cannot
// be recorded, the error also wraps ErrUnavailable: nothing is refused unrecorded.
func (a *Authorizer) Authorize(ctx context.Context, p Principal, action Action, res Resource) error {
	d, err := Decide(p, action, res)
	if err == nil && d.BindingCompany != "" {
		if a.Bindings == nil {
			err = fmt.Errorf("%w: no binding checker is configured", ErrUnavailable)
		} else if _, err = a.Bindings.CheckBinding(ctx, p.UserID, d.BindingCompany, a.now()); err != nil &&
			!errors.Is(err, ErrNotBound) && !errors.Is(err, ErrInvalid) {
			err = fmt.Errorf("%w: binding check: %w", ErrUnavailable, err)
		}
	}
	if err == nil && d.ConsentScope != "" {
		if a.Consents == nil {
			err = fmt.Errorf("%w: no consent checker is configured", ErrUnavailable)
		} else {
			_, err = a.Consents.CheckConsent(ctx, d.ConsentCompany, p.InstitutionID, d.ConsentScope, a.now())
			if err != nil && !errors.Is(err, ErrConsentRequired) && !errors.Is(err, ErrInvalid) {
				err = fmt.Errorf("%w: consent check: %w", ErrUnavailable, err)
			}
		}
	}
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return a.refused(ctx, p, action, res, err)
}

func (a *Authorizer) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Refused records a refusal that a surface decided itself (an unknown resource, a
// rule of its domain) and returns err marked as audited.
func (a *Authorizer) Refused(ctx context.Context, p Principal, action Action, res Resource, err error) error {
	if err == nil || Audited(err) {
		return err
	}
	return a.refused(ctx, p, action, res, err)
}

func (a *Authorizer) refused(ctx context.Context, p Principal, action Action, res Resource, err error) error {
	if a.Audit == nil {
		return err
	}
	subject := res.Subject()
	if subject == "" {
		subject = string(action)
	}
	op := res.Operation
	if op == "" {
		op = string(action)
	}
	// The record must land even when the caller has gone away.
	if _, aerr := a.Audit.Append(context.WithoutCancel(ctx), audit.Entry{Actor: p.Actor(), Action: op, Subject: subject,
		Outcome: audit.OutcomeRefused, Reason: err.Error(), After: map[string]any{"roles": p.Roles, "institution": p.Institution}}); aerr != nil {
		return fmt.Errorf("%w: audit of a refusal: %w (refusal: %w)", ErrUnavailable, aerr, err)
	}
	return MarkAudited(err)
}

// MarkAudited marks err as a refusal already in the audit log, for a surface that
// answers an audited refusal with an error of its own (another institution's
// private model is "not found").
func MarkAudited(err error) error { return fmt.Errorf("%w%w", err, auditedMark{}) }

// auditedMark wraps errAudited without changing the message.
type auditedMark struct{}

func (auditedMark) Error() string { return "" }
func (auditedMark) Unwrap() error { return errAudited }
