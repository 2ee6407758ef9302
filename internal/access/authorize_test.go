package access_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

func principal(id int64, kind access.Kind, roles ...access.Role) access.Principal {
	return access.Principal{UserID: id, User: "u" + string(rune('0'+id)), InstitutionID: id, Institution: "inst", InstitutionKind: kind, Roles: roles, KeyID: "k"}
}

// TestDecide writes the platform's rules out by hand, one row a case: who may do
// what, and which yes still depends on the company's consent.
func TestDecide(t *testing.T) {
	var (
		bank      = principal(1, access.KindBank, access.RoleBank)
		otherBank = principal(2, access.KindBank, access.RoleBank)
		regulator = principal(3, access.KindRegulator, access.RoleRegulator)
		// The regulator role held by a bank's user gives nothing: the institution
		// must be a regulator.
		bankWithRegulatorRole = principal(1, access.KindBank, access.RoleRegulator)
		scientist             = principal(1, access.KindBank, access.RoleDataScientist)
		approver              = principal(1, access.KindBank, access.RoleApprover)
		viewer                = principal(1, access.KindBank, access.RoleLab)
		bankAdmin             = principal(1, access.KindBank, access.RoleAdmin)
		platformAdmin         = principal(9, access.KindPlatform, access.RoleAdmin)
		anonymous             = access.Principal{}
		enterprise            = principal(4, access.KindEnterprise, access.RoleEnterprise)
		// The enterprise role at a bank is not a company account.
		bankWithEnterpriseRole = principal(1, access.KindBank, access.RoleEnterprise)
		guarantor              = principal(5, access.KindGuarantor, access.RoleGuarantor)
	)
	company := access.Resource{Kind: "company", ID: "91330604MA4UJ7K283"}
	own := access.Resource{Kind: "model", ID: "pd", Owner: 1}
	foreign := access.Resource{Kind: "model", ID: "pd", Owner: 2}
	shared := access.Resource{Kind: "model", ID: "pd", Owner: 2, Shared: true}
	const yes, no, consent, bound = "yes", "no", "consent", "bound"
	tests := []struct {
		name   string
		p      access.Principal
		action access.Action
		res    access.Resource
		want   string
	}{
		{"bank assesses with consent", bank, access.ActionAssess, company, consent},
		{"regulator assesses", regulator, access.ActionAssess, company, yes},
		{"bank user with regulator role", bankWithRegulatorRole, access.ActionAssess, company, no},
		{"data scientist assesses", scientist, access.ActionAssess, company, no},
		{"viewer assesses", viewer, access.ActionAssess, company, no},
		{"platform admin assesses", platformAdmin, access.ActionAssess, company, no},
		{"bank finds companies", bank, access.ActionFindCompanies, access.Resource{}, yes},
		{"scientist finds companies", scientist, access.ActionFindCompanies, access.Resource{}, no},
		{"regulator screens", regulator, access.ActionScreen, access.Resource{}, yes},
		{"platform admin screens", platformAdmin, access.ActionScreen, access.Resource{}, yes},
		{"bank screens", bank, access.ActionScreen, access.Resource{}, no},
		{"bank admin screens", bankAdmin, access.ActionScreen, access.Resource{}, no},
		{"owner sees job", regulator, access.ActionViewJob, access.Resource{Kind: "screening", Owner: 3}, yes},
		{"other sees job", otherBank, access.ActionViewJob, access.Resource{Kind: "screening", Owner: 3}, no},
		{"ownerless job", bank, access.ActionViewJob, access.Resource{Kind: "screening"}, no},
		{"platform admin sees job", platformAdmin, access.ActionViewJob, access.Resource{Kind: "screening", Owner: 3}, yes},
		{"regulator draws from own screening", regulator, access.ActionInspect, access.Resource{Kind: "screening", Owner: 3}, yes},
		{"regulator draws from another's screening", regulator, access.ActionInspect, access.Resource{Kind: "screening", Owner: 4}, no},
		{"regulator draws from ownerless screening", regulator, access.ActionInspect, access.Resource{Kind: "screening"}, no},
		{"bank draws a plan", bank, access.ActionInspect, access.Resource{Kind: "plan", Owner: 1}, no},
		{"bank user with regulator role records", bankWithRegulatorRole, access.ActionInspect, access.Resource{Kind: "plan", Owner: 1}, no},
		{"platform admin records", platformAdmin, access.ActionInspect, access.Resource{Kind: "plan", Owner: 9}, no},
		{"regulator sees own plans", regulator, access.ActionViewInspections, access.Resource{Kind: "plan", Owner: 3}, yes},
		{"regulator sees another's plan", regulator, access.ActionViewInspections, access.Resource{Kind: "plan", Owner: 4}, no},
		{"bank sees its own institution's hit rates", bank, access.ActionViewInspections, access.Resource{Kind: "inspections", Owner: 1}, no},
		{"platform admin sees plans", platformAdmin, access.ActionViewInspections, access.Resource{Kind: "plan", Owner: 3}, yes},
		{"platform admin lists jobs", platformAdmin, access.ActionListJobs, access.Resource{}, yes},
		{"bank admin lists jobs", bankAdmin, access.ActionListJobs, access.Resource{}, no},
		{"regulator lists jobs", regulator, access.ActionListJobs, access.Resource{}, no},
		{"platform admin sees sources", platformAdmin, access.ActionSourceStatus, access.Resource{}, yes},
		{"bank admin sees sources", bankAdmin, access.ActionSourceStatus, access.Resource{}, no},
		{"owner reads model", bank, access.ActionReadModel, own, yes},
		{"other bank reads private model", otherBank, access.ActionReadModel, own, no},
		{"anyone reads shared model", bank, access.ActionReadModel, shared, yes},
		{"regulator reads private model", regulator, access.ActionReadModel, foreign, no},
		{"platform admin reads any model", platformAdmin, access.ActionReadModel, foreign, yes},
		// Downloads: ownership as for reading, and the model's indicators within
		// the clearance (a bank's scientist: restricted).
		{"scientist downloads own restricted model", scientist, access.ActionDownloadModel, access.Resource{Kind: "model", ID: "pd", Owner: 1, Sensitivity: "restricted"}, yes},
		{"scientist downloads own model of its own features", scientist, access.ActionDownloadModel, own, yes},
		{"scientist downloads own confidential model", scientist, access.ActionDownloadModel, access.Resource{Kind: "model", ID: "pd", Owner: 1, Sensitivity: "confidential"}, no},
		{"bank downloads own confidential model", bank, access.ActionDownloadModel, access.Resource{Kind: "model", ID: "pd", Owner: 1, Sensitivity: "confidential"}, no},
		{"unknown sensitivity is never cleared", scientist, access.ActionDownloadModel, access.Resource{Kind: "model", ID: "pd", Owner: 1, Sensitivity: "secret"}, no},
		{"other bank downloads private model", otherBank, access.ActionDownloadModel, own, no},
		{"viewer downloads shared public model", viewer, access.ActionDownloadModel, access.Resource{Kind: "model", ID: "pd", Owner: 2, Shared: true, Sensitivity: "public"}, yes},
		{"viewer downloads shared restricted model", viewer, access.ActionDownloadModel, access.Resource{Kind: "model", ID: "pd", Owner: 2, Shared: true, Sensitivity: "restricted"}, no},
		{"platform admin downloads confidential model", platformAdmin, access.ActionDownloadModel, access.Resource{Kind: "model", ID: "pd", Owner: 2, Sensitivity: "confidential"}, yes},
		{"scientist writes own model", scientist, access.ActionWriteModel, own, yes},
		{"scientist creates a model", scientist, access.ActionWriteModel, access.Resource{Kind: "model", ID: "new"}, yes},
		{"scientist writes shared foreign model", scientist, access.ActionWriteModel, shared, no},
		{"approver writes model", approver, access.ActionWriteModel, own, no},
		{"bank officer writes model", bank, access.ActionWriteModel, own, no},
		{"bank admin writes own model", bankAdmin, access.ActionWriteModel, own, yes},
		{"platform admin writes foreign model", platformAdmin, access.ActionWriteModel, foreign, yes},
		{"approver decides own", approver, access.ActionDecidePromotion, own, yes},
		{"approver decides foreign", approver, access.ActionDecidePromotion, foreign, no},
		{"scientist decides", scientist, access.ActionDecidePromotion, own, no},
		{"scientist lists models", scientist, access.ActionListModels, access.Resource{}, yes},
		{"viewer lists models", viewer, access.ActionListModels, access.Resource{}, no},
		{"scientist builds sample", scientist, access.ActionBuildSample, access.Resource{}, yes},
		{"approver builds sample", approver, access.ActionBuildSample, access.Resource{}, no},
		{"viewer browses", viewer, access.ActionBrowseLibrary, access.Resource{}, yes},
		{"anonymous browses", anonymous, access.ActionBrowseLibrary, access.Resource{}, no},
		{"platform admin grants consent", platformAdmin, access.ActionManageConsent, company, yes},
		{"bank admin grants consent", bankAdmin, access.ActionManageConsent, company, no},
		{"scientist publishes its set", scientist, access.ActionPublishFeatureSet, access.Resource{Kind: "feature_set", ID: "sme", Owner: 1}, yes},
		{"scientist publishes for another", scientist, access.ActionPublishFeatureSet, access.Resource{Kind: "feature_set", ID: "sme", Owner: 2}, no},
		{"bank role publishes a set", bank, access.ActionPublishFeatureSet, access.Resource{Kind: "feature_set", ID: "sme", Owner: 1}, no},
		{"platform publishes for a bank", platformAdmin, access.ActionPublishFeatureSet, access.Resource{Kind: "feature_set", ID: "sme", Owner: 1}, yes},
		{"read own set", viewer, access.ActionReadFeatureSet, access.Resource{Kind: "feature_set", ID: "sme", Owner: 1}, yes},
		{"read another's private set", otherBank, access.ActionReadFeatureSet, access.Resource{Kind: "feature_set", ID: "sme", Owner: 1}, no},
		{"read another's shared set", otherBank, access.ActionReadFeatureSet, access.Resource{Kind: "feature_set", ID: "sme", Owner: 1, Shared: true}, yes},
		{"platform admin revokes a report", platformAdmin, access.ActionRevokeReport, access.Resource{Kind: "report", ID: "XYR-20261206-AAAAAAAA"}, yes},
		{"bank admin revokes a report", bankAdmin, access.ActionRevokeReport, access.Resource{Kind: "report", ID: "XYR-20261206-AAAAAAAA"}, no},
		{"regulator revokes a report", regulator, access.ActionRevokeReport, access.Resource{Kind: "report", ID: "XYR-20261206-AAAAAAAA"}, no},
		{"department reviews a case of its source", principal(5, access.KindDepartment, access.RoleDepartment), access.ActionCaseReview, access.Resource{Kind: "case", ID: "1", Owner: 5}, yes},
		{"department reviews another's case", principal(5, access.KindDepartment, access.RoleDepartment), access.ActionCaseReview, access.Resource{Kind: "case", ID: "1", Owner: 6}, no},
		{"department reviews an ownerless case", principal(5, access.KindDepartment, access.RoleDepartment), access.ActionCaseReview, access.Resource{Kind: "case", ID: "1"}, no},
		{"regulator reviews a department's case", regulator, access.ActionCaseReview, access.Resource{Kind: "case", ID: "1", Owner: 3}, no},
		{"platform admin reviews a case", platformAdmin, access.ActionCaseReview, access.Resource{Kind: "case", ID: "1", Owner: 9}, no},
		{"regulator takes the authority step", regulator, access.ActionCaseAuthority, access.Resource{Kind: "case", ID: "1"}, yes},
		{"bank user with regulator role takes the authority step", bankWithRegulatorRole, access.ActionCaseAuthority, access.Resource{Kind: "case", ID: "1"}, no},
		{"department takes the authority step", principal(5, access.KindDepartment, access.RoleDepartment), access.ActionCaseAuthority, access.Resource{Kind: "case", ID: "1"}, no},
		{"bank officer acts in financing at its bank", bank, access.ActionFinancingBank, access.Resource{Kind: "product", Owner: 1}, yes},
		{"bank officer reads its inbox", bank, access.ActionFinancingBank, access.Resource{Kind: "inbox"}, yes},
		{"bank officer acts on another bank's product", bank, access.ActionFinancingBank, access.Resource{Kind: "product", Owner: 2}, no},
		{"scientist acts in financing", scientist, access.ActionFinancingBank, access.Resource{Kind: "inbox"}, no},
		{"regulator acts as a lender", regulator, access.ActionFinancingBank, access.Resource{Kind: "inbox"}, no},
		{"approver approves own bank's product", approver, access.ActionFinancingApprove, access.Resource{Kind: "product", Owner: 1}, yes},
		{"approver approves another bank's product", approver, access.ActionFinancingApprove, access.Resource{Kind: "product", Owner: 2}, no},
		{"approver approves an ownerless product", approver, access.ActionFinancingApprove, access.Resource{Kind: "product"}, no},
		{"bank officer approves", bank, access.ActionFinancingApprove, access.Resource{Kind: "product", Owner: 1}, no},
		{"guarantor guarantees", guarantor, access.ActionFinancingGuarantee, access.Resource{Kind: "guarantor", Owner: 5}, yes},
		{"guarantor acts for another", guarantor, access.ActionFinancingGuarantee, access.Resource{Kind: "guarantor", Owner: 6}, no},
		{"bank guarantees", bank, access.ActionFinancingGuarantee, access.Resource{Kind: "guarantor"}, no},
		{"regulator sees financing statistics", regulator, access.ActionFinancingStats, access.Resource{}, yes},
		{"bank sees financing statistics", bank, access.ActionFinancingStats, access.Resource{}, no},
		{"platform admin sees financing statistics", platformAdmin, access.ActionFinancingStats, access.Resource{}, no},
		{"unknown action", platformAdmin, access.Action("model.eat"), own, no},
		{"company account acts if bound", enterprise, access.ActionActForCompany, company, bound},
		{"enterprise role at a bank acts for a company", bankWithEnterpriseRole, access.ActionActForCompany, company, no},
		{"bank acts for a company", bank, access.ActionActForCompany, company, no},
		{"platform admin acts for a company", platformAdmin, access.ActionActForCompany, company, no},
		{"company account sees its own decision if bound", enterprise, access.ActionAssess, company, bound},
		{"company account finds companies", enterprise, access.ActionFindCompanies, company, no},
		{"platform admin binds an account", platformAdmin, access.ActionBindCompany, company, yes},
		{"bank admin binds an account", bankAdmin, access.ActionBindCompany, company, no},
		{"company account binds itself by operator", enterprise, access.ActionBindCompany, company, no},
		{"bank asks for consent", bank, access.ActionRequestConsent, company, yes},
		{"guarantor asks for consent", guarantor, access.ActionRequestConsent, company, yes},
		{"regulator asks for consent", regulator, access.ActionRequestConsent, company, no},
		{"bank manages its webhooks", bank, access.ActionManageWebhooks, access.Resource{Kind: "webhook_endpoint", ID: "3", Owner: 1}, yes},
		{"bank manages another's webhooks", bank, access.ActionManageWebhooks, access.Resource{Kind: "webhook_endpoint", ID: "3", Owner: 2}, no},
		{"bank admin registers a webhook", bankAdmin, access.ActionManageWebhooks, access.Resource{Kind: "webhook_endpoint"}, yes},
		{"regulator registers a webhook", regulator, access.ActionManageWebhooks, access.Resource{Kind: "webhook_endpoint"}, yes},
		{"data scientist registers a webhook", scientist, access.ActionManageWebhooks, access.Resource{Kind: "webhook_endpoint"}, no},
		{"bank views its portfolio", bank, access.ActionPortfolio, access.Resource{}, yes},
		{"regulator views a bank's portfolio", regulator, access.ActionPortfolio, access.Resource{}, no},
		{"company account registers a webhook", enterprise, access.ActionManageWebhooks, access.Resource{Kind: "webhook_endpoint"}, no},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := access.Decide(tt.p, tt.action, tt.res)
			got := yes
			switch {
			case err != nil:
				got = no
				if !errors.Is(err, access.ErrForbidden) {
					t.Fatalf("refusal %v does not wrap ErrForbidden", err)
				}
			case d.BindingCompany != "":
				got = bound
				if d.BindingCompany != tt.res.ID || d.ConsentScope != "" {
					t.Fatalf("decision %+v", d)
				}
			case d.ConsentScope != "":
				got = consent
				if d.ConsentScope != access.ScopeCreditAssessment || d.ConsentCompany != tt.res.ID {
					t.Fatalf("decision %+v", d)
				}
			}
			if got != tt.want {
				t.Fatalf("got %s, want %s (err %v)", got, tt.want, err)
			}
		})
	}
}

// TestDecideNamesRoles: a refusal names the caller's real roles and the roles the
// action needs, in the platform's own role names.
func TestDecideNamesRoles(t *testing.T) {
	_, err := access.Decide(principal(1, access.KindBank, access.RoleDataScientist), access.ActionDecidePromotion, access.Resource{Kind: "model", ID: "pd", Owner: 1})
	if err == nil || !strings.Contains(err.Error(), "approver role") || !strings.Contains(err.Error(), "has roles data_scientist") {
		t.Fatalf("message %v", err)
	}
}

// failingConsents is a consent table that cannot be read.
type failingConsents struct{}

func (failingConsents) CheckConsent(context.Context, string, int64, string, time.Time) (access.Consent, error) {
	return access.Consent{}, errors.New("connection refused")
}

// TestAuthorizeAuditsRefusals runs Authorize over the real store and audit log on
// both engines: every refusal (role, consent, bad code) is one refused record naming
// the action and subject; a grant is no record; a consent table that cannot be read
// is unavailable and no refusal; the chain verifies.
func TestAuthorizeAuditsRefusals(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		log, err := audit.Open(ctx, db, audit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		store, err := access.Open(ctx, db, access.Options{Audit: log})
		if err != nil {
			t.Fatal(err)
		}
		_, p := accesstest.User(t, store, "Weihai Bank", access.KindBank, "officer", access.RoleBank)
		code, err := creditcode.New('9', '1', "330604", "MA4UJ7K2")
		if err != nil {
			t.Fatal(err)
		}
		authz := access.NewAuthorizer(store, log)
		refused := func(t *testing.T, wantAction, wantSubject string) {
			t.Helper()
			recs, err := log.List(ctx, audit.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			last := recs[len(recs)-1]
			if last.Outcome != audit.OutcomeRefused || last.Action != wantAction || last.Subject != wantSubject || last.Actor != p.Actor() {
				t.Fatalf("last record %+v, want a refusal of %s on %s", last, wantAction, wantSubject)
			}
		}
		count := func() int {
			recs, err := log.List(ctx, audit.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			return len(recs)
		}

		err = authz.Authorize(ctx, p, access.ActionAssess, access.Resource{Kind: "company", ID: code})
		if !errors.Is(err, access.ErrConsentRequired) || !access.Audited(err) {
			t.Fatalf("no consent: %v (audited %v)", err, access.Audited(err))
		}
		refused(t, string(access.ActionAssess), "company:"+code)

		err = authz.Authorize(ctx, p, access.ActionScreen, access.Resource{Kind: "population", ID: "violation/v1"})
		if !errors.Is(err, access.ErrForbidden) {
			t.Fatalf("bank screens: %v", err)
		}
		refused(t, string(access.ActionScreen), "population:violation/v1")

		err = authz.Authorize(ctx, p, access.ActionReadModel, access.Resource{Kind: "model", ID: "pd", Owner: p.InstitutionID + 1, Operation: "model.resolve"})
		if !errors.Is(err, access.ErrForbidden) {
			t.Fatalf("foreign model: %v", err)
		}
		refused(t, "model.resolve", "model:pd")

		err = authz.Authorize(ctx, p, access.ActionAssess, access.Resource{Kind: "company", ID: code[:17] + "#"})
		if !errors.Is(err, access.ErrInvalid) {
			t.Fatalf("bad code: %v", err)
		}
		refused(t, string(access.ActionAssess), "company:"+code[:17]+"#")

		if _, err := store.GrantConsent(ctx, "portal", access.ConsentGrant{CompanyCode: code, BankID: p.InstitutionID, Scope: access.ScopeCreditAssessment,
			ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		n := count()
		if err := authz.Authorize(ctx, p, access.ActionAssess, access.Resource{Kind: "company", ID: code}); err != nil {
			t.Fatalf("with consent: %v", err)
		}
		if count() != n {
			t.Fatal("a permission wrote an audit record")
		}

		down := &access.Authorizer{Consents: failingConsents{}, Audit: log}
		err = down.Authorize(ctx, p, access.ActionAssess, access.Resource{Kind: "company", ID: code})
		if !errors.Is(err, access.ErrUnavailable) || errors.Is(err, access.ErrConsentRequired) || access.Audited(err) {
			t.Fatalf("unreadable consents: %v", err)
		}
		if count() != n {
			t.Fatal("an outage was recorded as a refusal")
		}
		if rep, err := log.Verify(ctx); err != nil {
			t.Fatalf("chain: %v %+v", err, rep)
		}
	})
}

// failingAudit cannot append.
type failingAudit struct{}

func (failingAudit) Append(context.Context, audit.Entry) (audit.Record, error) {
	return audit.Record{}, errors.New("disk full")
}

// TestRefusalThatCannotBeRecorded: nothing is refused unrecorded; an audit log that
// cannot be written makes the answer unavailable (retry), still a refusal.
func TestRefusalThatCannotBeRecorded(t *testing.T) {
	a := &access.Authorizer{Audit: failingAudit{}}
	err := a.Authorize(context.Background(), principal(1, access.KindBank, access.RoleBank), access.ActionScreen, access.Resource{})
	if !errors.Is(err, access.ErrUnavailable) || !errors.Is(err, access.ErrForbidden) || access.Audited(err) {
		t.Fatalf("got %v", err)
	}
}

func TestMarkAudited(t *testing.T) {
	base := errors.New("registry: not found: model \"pd\"")
	err := access.MarkAudited(base)
	if !access.Audited(err) || !errors.Is(err, base) || err.Error() != base.Error() {
		t.Fatalf("marked %q audited=%v", err, access.Audited(err))
	}
	if access.Audited(base) {
		t.Fatal("an unmarked error reads as audited")
	}
}
