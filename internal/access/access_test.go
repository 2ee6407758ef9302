package access_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Codes from the GB 32100-2015 example and published registrations.
const (
	companyA = "91350100M000100Y43"
	companyB = "914403001922038216"
)

func TestContract(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
		log, err := audit.Open(ctx, db, audit.Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		s, err := access.Open(ctx, db, access.Options{Now: clk.Now, Audit: log})
		if err != nil {
			t.Fatal(err)
		}
		bank, err := s.CreateInstitution(ctx, "admin", "Shangyu Rural Bank", access.KindBank)
		if err != nil {
			t.Fatal(err)
		}
		regulator, err := s.CreateInstitution(ctx, "admin", "Shangyu AMR", access.KindRegulator)
		if err != nil {
			t.Fatal(err)
		}
		alice, err := s.CreateUser(ctx, "admin", "alice", bank.ID, access.RoleDataScientist, access.RoleBank, access.RoleDataScientist)
		if err != nil {
			t.Fatal(err)
		}
		if len(alice.Roles) != 2 {
			t.Fatalf("roles %v: duplicates not removed", alice.Roles)
		}

		t.Run("names are unique", func(t *testing.T) {
			if _, err := s.CreateInstitution(ctx, "admin", "Shangyu Rural Bank", access.KindBank); !errors.Is(err, access.ErrConflict) {
				t.Fatalf("duplicate institution: %v", err)
			}
			if _, err := s.CreateUser(ctx, "admin", "alice", bank.ID); !errors.Is(err, access.ErrConflict) {
				t.Fatalf("duplicate user: %v", err)
			}
		})

		t.Run("bad input", func(t *testing.T) {
			tests := []struct {
				name string
				err  error
				want error
			}{
				{"unknown kind", func() error { _, err := s.CreateInstitution(ctx, "admin", "X", "insurer"); return err }(), access.ErrInvalid},
				{"empty name", func() error { _, err := s.CreateInstitution(ctx, "admin", "", access.KindBank); return err }(), access.ErrInvalid},
				{"unknown role", func() error { _, err := s.CreateUser(ctx, "admin", "bob", bank.ID, "root"); return err }(), access.ErrInvalid},
				{"unknown institution", func() error { _, err := s.CreateUser(ctx, "admin", "bob", 9999); return err }(), access.ErrNotFound},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if !errors.Is(tt.err, tt.want) {
						t.Fatalf("got %v, want %v", tt.err, tt.want)
					}
				})
			}
		})

		key, meta, err := s.IssueKey(ctx, "admin", alice.ID, "laptop", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}

		t.Run("key is stored only as its hash", func(t *testing.T) {
			var stored []byte
			if err := metadb.ScanOne(db.QueryRow(ctx, "SELECT hash FROM access_api_keys WHERE id = ?", meta.ID), &stored); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(key))
			if string(stored) != string(sum[:]) {
				t.Fatal("stored hash is not sha256 of the key")
			}
			if !strings.Contains(key, meta.ID) || len(key) != 3+12+1+43 {
				t.Fatalf("key %q: want xy_<12 hex>_<43 base64url>", key)
			}
		})

		t.Run("authenticate", func(t *testing.T) {
			p, err := s.Authenticate(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if p.User != "alice" || p.InstitutionID != bank.ID || p.InstitutionKind != access.KindBank || !p.Has(access.RoleDataScientist) || p.Has(access.RoleApprover) {
				t.Fatalf("principal %+v", p)
			}
			if err := p.Require("approve", access.RoleApprover); !errors.Is(err, access.ErrForbidden) {
				t.Fatalf("Require approver: %v", err)
			}
		})

		t.Run("bad keys", func(t *testing.T) {
			wrongSecret := key[:len(key)-4] + "AAAA"
			if wrongSecret == key {
				wrongSecret = key[:len(key)-4] + "BBBB"
			}
			tests := []struct{ name, key string }{
				{"empty", ""},
				{"malformed", "hello"},
				{"wrong secret", wrongSecret},
				{"unknown id", "xy_000000000000_" + key[len(key)-43:]},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if _, err := s.Authenticate(ctx, tt.key); !errors.Is(err, access.ErrUnauthenticated) {
						t.Fatalf("got %v, want ErrUnauthenticated", err)
					}
				})
			}
		})

		t.Run("expired, revoked and disabled keys fail", func(t *testing.T) {
			k2, m2, err := s.IssueKey(ctx, "admin", alice.ID, "ci", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(ctx, k2); err != nil {
				t.Fatal(err)
			}
			clk.Add(2 * time.Hour)
			if _, err := s.Authenticate(ctx, k2); !errors.Is(err, access.ErrUnauthenticated) {
				t.Fatalf("expired key: %v", err)
			}
			if _, err := s.Authenticate(ctx, key); err != nil {
				t.Fatalf("24h key after 2h: %v", err)
			}
			if err := s.RevokeKey(ctx, "admin", meta.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(ctx, key); !errors.Is(err, access.ErrUnauthenticated) {
				t.Fatalf("revoked key: %v", err)
			}
			if err := s.RevokeKey(ctx, "admin", "nosuchkey000"); !errors.Is(err, access.ErrNotFound) {
				t.Fatalf("revoke unknown: %v", err)
			}
			bob, err := s.CreateUser(ctx, "admin", "bob", regulator.ID, access.RoleRegulator)
			if err != nil {
				t.Fatal(err)
			}
			kb, _, err := s.IssueKey(ctx, "admin", bob.ID, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.DisableUser(ctx, "admin", bob.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(ctx, kb); !errors.Is(err, access.ErrUnauthenticated) {
				t.Fatalf("disabled user: %v", err)
			}
			keys, err := s.Keys(ctx, alice.ID)
			if err != nil || len(keys) != 2 {
				t.Fatalf("keys %+v, %v", keys, err)
			}
			for _, k := range keys {
				if revoked := !k.RevokedAt.IsZero(); revoked != (k.ID == meta.ID) {
					t.Fatalf("key %s revoked=%v", k.ID, revoked)
				}
				if k.ID == m2.ID && !k.ExpiresAt.Equal(m2.CreatedAt.Add(time.Hour)) {
					t.Fatalf("key %s expires %v", k.ID, k.ExpiresAt)
				}
			}
		})

		t.Run("listings", func(t *testing.T) {
			insts, err := s.Institutions(ctx)
			if err != nil || len(insts) != 2 || insts[0].Name != "Shangyu AMR" || insts[1].Kind != access.KindBank {
				t.Fatalf("institutions %+v, %v", insts, err)
			}
			users, err := s.Users(ctx, bank.ID)
			if err != nil || len(users) != 1 || users[0].Name != "alice" || len(users[0].Roles) != 2 {
				t.Fatalf("users of the bank %+v, %v", users, err)
			}
			all, err := s.Users(ctx, 0)
			if err != nil || len(all) != 2 {
				t.Fatalf("all users %+v, %v", all, err)
			}
		})
		t.Run("roles change", func(t *testing.T) {
			if err := s.SetRoles(ctx, "admin", alice.ID, access.RoleApprover); err != nil {
				t.Fatal(err)
			}
			u, err := s.UserByName(ctx, "alice")
			if err != nil || len(u.Roles) != 1 || u.Roles[0] != access.RoleApprover {
				t.Fatalf("roles %v, %v", u.Roles, err)
			}
		})

		t.Run("consent", func(t *testing.T) {
			now := clk.Now()
			c, err := s.GrantConsent(ctx, "alice", access.ConsentGrant{CompanyCode: " " + strings.ToLower(companyA), BankID: bank.ID, Scope: "credit_assessment", ExpiresAt: now.Add(30 * 24 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if c.CompanyCode != companyA {
				t.Fatalf("code not normalized: %q", c.CompanyCode)
			}
			tests := []struct {
				name    string
				code    string
				bank    int64
				scope   string
				at      time.Time
				wantErr error
			}{
				{"granted", companyA, bank.ID, "credit_assessment", now.Add(time.Hour), nil},
				{"other scope", companyA, bank.ID, "screening", now.Add(time.Hour), access.ErrConsentRequired},
				{"other company", companyB, bank.ID, "credit_assessment", now.Add(time.Hour), access.ErrConsentRequired},
				{"other bank", companyA, regulator.ID, "credit_assessment", now.Add(time.Hour), access.ErrConsentRequired},
				{"before grant", companyA, bank.ID, "credit_assessment", now.Add(-time.Hour), access.ErrConsentRequired},
				{"after expiry", companyA, bank.ID, "credit_assessment", now.Add(31 * 24 * time.Hour), access.ErrConsentRequired},
				{"bad check digit", "91350100M000100Y44", bank.ID, "credit_assessment", now, access.ErrInvalid},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					_, err := s.CheckConsent(ctx, tt.code, tt.bank, tt.scope, tt.at)
					if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
						t.Fatalf("got %v, want %v", err, tt.wantErr)
					}
				})
			}
			// Row-level outputs name the consenting company and pseudonymise the other.
			consented, err := s.ConsentedCompanies(ctx, bank.ID, "", now.Add(time.Hour))
			if err != nil || len(consented) != 1 || consented[0] != companyA {
				t.Fatalf("consented companies %v, %v", consented, err)
			}
			key := []byte(strings.Repeat("k", 32))
			names, err := access.NewPseudonyms(key, bank.ID, consented)
			if err != nil {
				t.Fatal(err)
			}
			other, err := access.NewPseudonyms(key, regulator.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte{0, 0, 0, 0, 0, 0, 0, byte(bank.ID)})
			mac.Write([]byte(companyB))
			wantB := "P" + hex.EncodeToString(mac.Sum(nil))[:16]
			if got := names.Name(companyA); got != companyA {
				t.Fatalf("consenting company named %q", got)
			}
			if got := names.Name(companyB); got != wantB || names.Name(companyB) != got {
				t.Fatalf("pseudonym of B %q, want %q (stable)", got, wantB)
			}
			if other.Name(companyB) == wantB || other.Name(companyA) == companyA {
				t.Fatalf("another institution's pseudonyms %q %q line up with the bank's", other.Name(companyB), other.Name(companyA))
			}
			if _, err := access.NewPseudonyms(key[:31], bank.ID, nil); !errors.Is(err, access.ErrPseudonymKey) {
				t.Fatalf("short key: %v", err)
			}
			if err := s.RevokeConsent(ctx, "alice", c.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CheckConsent(ctx, companyA, bank.ID, "credit_assessment", now.Add(time.Hour)); !errors.Is(err, access.ErrConsentRequired) {
				t.Fatalf("after revoke: %v", err)
			}
			list, err := s.Consents(ctx, companyA)
			if err != nil || len(list) != 1 || list[0].RevokedAt.IsZero() {
				t.Fatalf("consents %+v, %v", list, err)
			}
		})

		t.Run("consent refuses bad grants", func(t *testing.T) {
			now := clk.Now()
			tests := []struct {
				name string
				g    access.ConsentGrant
				want error
			}{
				{"not a bank", access.ConsentGrant{CompanyCode: companyA, BankID: regulator.ID, Scope: "credit_assessment", ExpiresAt: now.Add(time.Hour)}, access.ErrInvalid},
				{"bad code", access.ConsentGrant{CompanyCode: "123", BankID: bank.ID, Scope: "credit_assessment", ExpiresAt: now.Add(time.Hour)}, access.ErrInvalid},
				{"past expiry", access.ConsentGrant{CompanyCode: companyA, BankID: bank.ID, Scope: "credit_assessment", ExpiresAt: now.Add(-time.Hour)}, access.ErrInvalid},
				{"bad scope", access.ConsentGrant{CompanyCode: companyA, BankID: bank.ID, Scope: "Credit Assessment", ExpiresAt: now.Add(time.Hour)}, access.ErrInvalid},
				{"unknown bank", access.ConsentGrant{CompanyCode: companyA, BankID: 9999, Scope: "credit_assessment", ExpiresAt: now.Add(time.Hour)}, access.ErrNotFound},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if _, err := s.GrantConsent(ctx, "alice", tt.g); !errors.Is(err, tt.want) {
						t.Fatalf("got %v, want %v", err, tt.want)
					}
				})
			}
		})

		t.Run("changes are audited", func(t *testing.T) {
			rep, err := log.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := log.List(ctx, audit.Filter{Action: "access.consent.grant"})
			if err != nil || len(recs) != 1 || recs[0].Subject != "company:"+companyA {
				t.Fatalf("consent audit records %+v, %v", recs, err)
			}
			// 2 institutions, 2 users, 3 keys issued, 1 revoked, disable, roles, grant, revoke.
			if rep.Records != 12 {
				t.Fatalf("audit records %d, want 12", rep.Records)
			}
		})
	})
}

// TestCacheAcrossProcesses: a key revoked by another process stays accepted by a
// caching Store for at most CacheTTL, and is refused after.
func TestCacheAcrossProcesses(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
		admin, err := access.Open(ctx, db, access.Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		server, err := access.Open(ctx, db, access.Options{Now: clk.Now, CacheTTL: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		inst, _ := admin.CreateInstitution(ctx, "admin", "Bank", access.KindBank)
		u, _ := admin.CreateUser(ctx, "admin", "u", inst.ID, access.RoleBank)
		key, meta, err := admin.IssueKey(ctx, "admin", u.ID, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		p, err := server.Authenticate(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		p.Roles[0] = access.RoleAdmin // callers may not change the cached principal
		if err := admin.RevokeKey(ctx, "admin", meta.ID); err != nil {
			t.Fatal(err)
		}
		clk.Add(9 * time.Second)
		p, err = server.Authenticate(ctx, key)
		if err != nil || p.Roles[0] != access.RoleBank {
			t.Fatalf("within the TTL: %+v, %v", p, err)
		}
		clk.Add(2 * time.Second)
		if _, err := server.Authenticate(ctx, key); !errors.Is(err, access.ErrUnauthenticated) {
			t.Fatalf("after the TTL: %v, want ErrUnauthenticated", err)
		}
	})
}

// TestConsentCache: with ConsentCacheTTL a consent revoked by another process is
// honoured for at most the TTL, one revoked here ends at once, and a consent's
// own expiry always applies.
func TestConsentCache(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
		admin, err := access.Open(ctx, db, access.Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		server, err := access.Open(ctx, db, access.Options{Now: clk.Now, ConsentCacheTTL: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		bank, _ := admin.CreateInstitution(ctx, "admin", "Bank", access.KindBank)
		grant := func(s *access.Store, d time.Duration) access.Consent {
			c, err := s.GrantConsent(ctx, "company", access.ConsentGrant{CompanyCode: companyA, BankID: bank.ID, Scope: "credit_assessment", ExpiresAt: clk.Now().Add(d)})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		check := func() error {
			_, err := server.CheckConsent(ctx, companyA, bank.ID, "credit_assessment", clk.Now())
			return err
		}
		c := grant(admin, time.Hour)
		if err := check(); err != nil {
			t.Fatal(err)
		}
		if err := admin.RevokeConsent(ctx, "company", c.ID); err != nil {
			t.Fatal(err)
		}
		clk.Add(4 * time.Second)
		if err := check(); err != nil {
			t.Fatalf("other process's revocation within the TTL: %v", err)
		}
		clk.Add(2 * time.Second)
		if err := check(); !errors.Is(err, access.ErrConsentRequired) {
			t.Fatalf("after the TTL: %v", err)
		}
		c = grant(server, time.Hour)
		if err := check(); err != nil {
			t.Fatal(err)
		}
		if err := server.RevokeConsent(ctx, "company", c.ID); err != nil {
			t.Fatal(err)
		}
		if err := check(); !errors.Is(err, access.ErrConsentRequired) {
			t.Fatalf("own revocation: %v", err)
		}
		grant(admin, 3*time.Second)
		if err := check(); err != nil {
			t.Fatal(err)
		}
		clk.Add(3 * time.Second)
		if err := check(); !errors.Is(err, access.ErrConsentRequired) {
			t.Fatalf("consent expired while cached: %v", err)
		}
	})
}

func FuzzAuthenticate(f *testing.F) {
	ctx := context.Background()
	db := metadbtest.SQLite(f)
	s, err := access.Open(ctx, db, access.Options{})
	if err != nil {
		f.Fatal(err)
	}
	inst, err := s.CreateInstitution(ctx, "admin", "Bank", access.KindBank)
	if err != nil {
		f.Fatal(err)
	}
	u, err := s.CreateUser(ctx, "admin", "u", inst.ID, access.RoleBank)
	if err != nil {
		f.Fatal(err)
	}
	key, _, err := s.IssueKey(ctx, "admin", u.ID, "", 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key)
	f.Add("xy_")
	f.Add(key[:len(key)-1] + "\x00")
	f.Fuzz(func(t *testing.T, k string) {
		p, err := s.Authenticate(ctx, k)
		if strings.TrimSpace(k) == key {
			if err != nil || p.User != "u" {
				t.Fatalf("valid key refused: %v", err)
			}
			return
		}
		if !errors.Is(err, access.ErrUnauthenticated) {
			t.Fatalf("%q: got %v, want ErrUnauthenticated", k, err)
		}
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *metadb.DB
	}{{"sqlite", metadbtest.SQLite}, {"postgres", metadbtest.Postgres}} {
		b.Run(engine.name, func(b *testing.B) {
			ctx := context.Background()
			db := engine.open(b)
			round := 0
			for _, c := range []struct {
				name string
				ttl  time.Duration
			}{{"uncached", -1}, {"cached", time.Minute}} {
				b.Run(c.name, func(b *testing.B) {
					s, err := access.Open(ctx, db, access.Options{CacheTTL: c.ttl})
					if err != nil {
						b.Fatal(err)
					}
					round++
					inst, _ := s.CreateInstitution(ctx, "admin", fmt.Sprintf("Bank %d", round), access.KindBank)
					u, _ := s.CreateUser(ctx, "admin", fmt.Sprintf("u%d", round), inst.ID, access.RoleBank)
					key, _, err := s.IssueKey(ctx, "admin", u.ID, "", 0)
					if err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := s.Authenticate(ctx, key); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

func BenchmarkCheckConsent(b *testing.B) {
	ctx := context.Background()
	db := metadbtest.SQLite(b)
	round := 0
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"uncached", 0}, {"cached", time.Second}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := access.Open(ctx, db, access.Options{ConsentCacheTTL: c.ttl})
			if err != nil {
				b.Fatal(err)
			}
			round++
			inst, _ := s.CreateInstitution(ctx, "admin", fmt.Sprintf("Bank %d", round), access.KindBank)
			if _, err := s.GrantConsent(ctx, "admin", access.ConsentGrant{CompanyCode: companyA, BankID: inst.ID, Scope: "credit_assessment", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.CheckConsent(ctx, companyA, inst.ID, "credit_assessment", now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
