package access_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// registry is a business registry with one registered contact per company.
type registry map[string]access.Contact

func (r registry) LegalRepContact(_ context.Context, code string) (access.Contact, error) {
	c, ok := r[code]
	if !ok {
		return access.Contact{}, access.ErrNotFound
	}
	return c, nil
}

// outbox keeps what was sent, by phone number.
type outbox struct {
	mu   sync.Mutex
	sent map[string][]string
}

func (o *outbox) Send(_ context.Context, to access.Contact, text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent[to.Phone] = append(o.sent[to.Phone], text)
	return nil
}

var otpRE = regexp.MustCompile(`验证码 ([0-9]{6})`)

// lastCode is the code in the last message sent to phone.
func (o *outbox) lastCode(t *testing.T, phone string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	msgs := o.sent[phone]
	if len(msgs) == 0 {
		t.Fatalf("nothing sent to %s", phone)
	}
	m := otpRE.FindStringSubmatch(msgs[len(msgs)-1])
	if m == nil {
		t.Fatalf("no code in %q", msgs[len(msgs)-1])
	}
	return m[1]
}

func TestCompanyBinding(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
		log, err := audit.Open(ctx, db, audit.Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		box := &outbox{sent: map[string][]string{}}
		reg := registry{companyA: {Name: "张伟", Phone: "13812345678"}, companyB: {Name: "李娜"}}
		s, err := access.Open(ctx, db, access.Options{Now: clk.Now, Audit: log, Contacts: reg, Sender: box})
		if err != nil {
			t.Fatal(err)
		}
		az := access.NewAuthorizer(s, log)
		az.Now = clk.Now
		portal, err := s.CreateInstitution(ctx, "admin", "企业用户", access.KindEnterprise)
		if err != nil {
			t.Fatal(err)
		}
		bank, err := s.CreateInstitution(ctx, "admin", "上虞农商银行", access.KindBank)
		if err != nil {
			t.Fatal(err)
		}
		newUser := func(name string, inst int64, roles ...access.Role) access.Principal {
			u, err := s.CreateUser(ctx, "admin", name, inst, roles...)
			if err != nil {
				t.Fatal(err)
			}
			key, _, err := s.IssueKey(ctx, "admin", u.ID, "test", 0)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Authenticate(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		rep := newUser("zhangwei", portal.ID, access.RoleEnterprise)
		staff := newUser("finance-clerk", portal.ID, access.RoleEnterprise)
		other := newUser("someone-else", portal.ID, access.RoleEnterprise)
		banker := newUser("loan-officer", bank.ID, access.RoleBank)
		self := access.Resource{Kind: "company", ID: companyA}

		t.Run("an account that has not completed activation cannot act", func(t *testing.T) {
			b, err := s.StartBinding(ctx, rep.Actor(), rep.UserID, companyA)
			if err != nil {
				t.Fatal(err)
			}
			if b.Status != access.BindingPending || b.Contact != "138****5678" {
				t.Fatalf("binding %+v: want pending, sent to 138****5678", b)
			}
			err = az.Authorize(ctx, rep, access.ActionActForCompany, self)
			if !errors.Is(err, access.ErrNotBound) || !access.Audited(err) {
				t.Fatalf("pending binding: got %v, want an audited ErrNotBound", err)
			}
			// A wrong code counts an attempt and binds nothing.
			code := box.lastCode(t, "13812345678")
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			if _, err := s.ActivateBinding(ctx, rep.Actor(), rep.UserID, b.ID, wrong); !errors.Is(err, access.ErrActivation) {
				t.Fatalf("wrong code: %v", err)
			}
			// Another account cannot use the code.
			if _, err := s.ActivateBinding(ctx, other.Actor(), other.UserID, b.ID, code); !errors.Is(err, access.ErrNotFound) {
				t.Fatalf("another account's binding: %v", err)
			}
			if err := az.Authorize(ctx, rep, access.ActionActForCompany, self); !errors.Is(err, access.ErrNotBound) {
				t.Fatalf("after a wrong code: %v", err)
			}
			got, err := s.ActivateBinding(ctx, rep.Actor(), rep.UserID, b.ID, code)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != access.BindingActive || got.Capacity != access.CapacityLegalRep {
				t.Fatalf("activated %+v", got)
			}
			if err := az.Authorize(ctx, rep, access.ActionActForCompany, self); err != nil {
				t.Fatalf("bound account: %v", err)
			}
			// Bound to A, not to B.
			if err := az.Authorize(ctx, rep, access.ActionActForCompany, access.Resource{Kind: "company", ID: companyB}); !errors.Is(err, access.ErrNotBound) {
				t.Fatalf("a company the account is not bound to: %v", err)
			}
			// A code is used once.
			if _, err := s.ActivateBinding(ctx, rep.Actor(), rep.UserID, b.ID, code); !errors.Is(err, access.ErrActivation) {
				t.Fatalf("code used twice: %v", err)
			}
		})

		t.Run("codes expire and attempts run out", func(t *testing.T) {
			b, err := s.StartBinding(ctx, other.Actor(), other.UserID, companyA)
			if err != nil {
				t.Fatal(err)
			}
			code := box.lastCode(t, "13812345678")
			clk.Add(11 * time.Minute)
			if _, err := s.ActivateBinding(ctx, other.Actor(), other.UserID, b.ID, code); !errors.Is(err, access.ErrActivation) || !strings.Contains(err.Error(), "expired") {
				t.Fatalf("expired code: %v", err)
			}
			b, err = s.StartBinding(ctx, other.Actor(), other.UserID, companyA)
			if err != nil {
				t.Fatal(err)
			}
			code = box.lastCode(t, "13812345678")
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			for range 5 {
				if _, err := s.ActivateBinding(ctx, other.Actor(), other.UserID, b.ID, wrong); !errors.Is(err, access.ErrActivation) {
					t.Fatal(err)
				}
			}
			if _, err := s.ActivateBinding(ctx, other.Actor(), other.UserID, b.ID, code); !errors.Is(err, access.ErrActivation) {
				t.Fatalf("right code after five wrong ones: %v", err)
			}
		})

		t.Run("no registered contact", func(t *testing.T) {
			if _, err := s.StartBinding(ctx, other.Actor(), other.UserID, companyB); !errors.Is(err, access.ErrNotFound) {
				t.Fatalf("company without a registered contact: %v", err)
			}
			if _, err := s.StartBinding(ctx, banker.Actor(), banker.UserID, companyA); !errors.Is(err, access.ErrInvalid) {
				t.Fatalf("a bank's account: %v", err)
			}
		})

		t.Run("delegation lasts while the legal representative's binding does", func(t *testing.T) {
			if _, err := s.Delegate(ctx, other.Actor(), other.UserID, staff.UserID, companyA); !errors.Is(err, access.ErrNotBound) {
				t.Fatalf("delegation by an unbound account: %v", err)
			}
			d, err := s.Delegate(ctx, rep.Actor(), rep.UserID, staff.UserID, companyA)
			if err != nil {
				t.Fatal(err)
			}
			if err := az.Authorize(ctx, staff, access.ActionActForCompany, self); err != nil {
				t.Fatalf("delegate: %v", err)
			}
			if _, err := s.Delegate(ctx, staff.Actor(), staff.UserID, other.UserID, companyA); !errors.Is(err, access.ErrForbidden) {
				t.Fatalf("a delegate delegating: %v", err)
			}
			if err := s.RevokeBinding(ctx, staff.Actor(), staff.UserID, mustRepBinding(t, s, rep.UserID)); !errors.Is(err, access.ErrForbidden) {
				t.Fatalf("a delegate ending the legal representative's binding: %v", err)
			}
			if err := s.RevokeBinding(ctx, rep.Actor(), rep.UserID, d.ID); err != nil {
				t.Fatal(err)
			}
			if err := az.Authorize(ctx, staff, access.ActionActForCompany, self); !errors.Is(err, access.ErrNotBound) {
				t.Fatalf("revoked delegate: %v", err)
			}
		})

		t.Run("consent requests", func(t *testing.T) {
			if err := az.Authorize(ctx, banker, access.ActionRequestConsent, self); err != nil {
				t.Fatal(err)
			}
			if err := az.Authorize(ctx, rep, access.ActionRequestConsent, self); !errors.Is(err, access.ErrForbidden) {
				t.Fatalf("a company's account asking for consent: %v", err)
			}
			until := clk.Now().AddDate(0, 6, 0)
			r, err := s.RequestConsent(ctx, banker.Actor(), bank.ID, companyA, access.ScopeCreditAssessment, "经营贷 300 万元预授信", until)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.RequestConsent(ctx, banker.Actor(), bank.ID, companyA, access.ScopeCreditAssessment, "", until); !errors.Is(err, access.ErrConflict) {
				t.Fatalf("second pending request: %v", err)
			}
			if _, err := s.CheckConsent(ctx, companyA, bank.ID, access.ScopeCreditAssessment, clk.Now()); !errors.Is(err, access.ErrConsentRequired) {
				t.Fatalf("before the answer: %v", err)
			}
			if _, err := s.AnswerConsentRequest(ctx, rep.Actor(), companyB, r.ID, true); !errors.Is(err, access.ErrNotFound) {
				t.Fatalf("answering for another company: %v", err)
			}
			got, err := s.AnswerConsentRequest(ctx, rep.Actor(), companyA, r.ID, true)
			if err != nil {
				t.Fatal(err)
			}
			c, err := s.CheckConsent(ctx, companyA, bank.ID, access.ScopeCreditAssessment, clk.Now())
			if err != nil {
				t.Fatalf("after acceptance: %v", err)
			}
			if c.ID != got.ConsentID || c.Purpose != "consent_request:"+strconv.FormatInt(r.ID, 10) || !c.ExpiresAt.Equal(until) {
				t.Fatalf("grant %+v from request %+v", c, got)
			}
			if _, err := s.AnswerConsentRequest(ctx, rep.Actor(), companyA, r.ID, false); !errors.Is(err, access.ErrConflict) {
				t.Fatalf("answered twice: %v", err)
			}
			// The company revokes the grant itself.
			if err := s.RevokeConsent(ctx, rep.Actor(), c.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CheckConsent(ctx, companyA, bank.ID, access.ScopeCreditAssessment, clk.Now()); !errors.Is(err, access.ErrConsentRequired) {
				t.Fatalf("after revocation: %v", err)
			}
			r2, err := s.RequestConsent(ctx, banker.Actor(), bank.ID, companyA, access.ScopeCreditAssessment, "", until)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := s.AnswerConsentRequest(ctx, rep.Actor(), companyA, r2.ID, false); err != nil || d.Status != access.RequestDeclined || d.ConsentID != 0 {
				t.Fatalf("decline: %+v %v", d, err)
			}
		})

		t.Run("the audit chain holds every step", func(t *testing.T) {
			if _, err := log.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			recs, err := log.List(ctx, audit.Filter{Subject: "company:" + companyA})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, r := range recs {
				seen[r.Action+"/"+r.Outcome] = true
			}
			for _, want := range []string{"access.binding.start/ok", "access.binding.activate/refused", "access.binding.activate/ok",
				"access.binding.delegate/ok", "access.binding.revoke/ok", "access.consent.request/ok", "access.consent.grant/ok",
				"access.consent.decline/ok", "company.act/refused"} {
				if !seen[want] {
					t.Errorf("no audit record %s in %v", want, seen)
				}
			}
		})
	})
}

func mustRepBinding(t *testing.T, s *access.Store, userID int64) int64 {
	t.Helper()
	bs, err := s.BoundCompanies(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Status == access.BindingActive {
			return b.ID
		}
	}
	t.Fatalf("user %d has no active binding", userID)
	return 0
}
