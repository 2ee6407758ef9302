package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Sentinel errors, wrapped with context.
var (
	// ErrUnauthenticated means no key, a malformed key, or an unknown, revoked or
	// expired key, or a disabled user. HTTP 401.
	ErrUnauthenticated = errors.New("access: unauthenticated")
	// ErrForbidden means the principal lacks the role or ownership needed. HTTP 403.
	ErrForbidden = errors.New("access: forbidden")
	// ErrNotFound means an unknown institution, user, key or consent. HTTP 404.
	ErrNotFound = errors.New("access: not found")
	// ErrConflict means the name is taken. HTTP 409.
	ErrConflict = errors.New("access: already exists")
	// ErrInvalid means bad input: unknown role or kind, empty name, bad company code. HTTP 400.
	ErrInvalid = errors.New("access: invalid input")
	// ErrConsentRequired means the company has not granted the bank the scope, or
	// the grant expired or was revoked. HTTP 403.
	ErrConsentRequired = errors.New("access: company consent required")
)

// Kind is the kind of an institution.
type Kind string

// Institution kinds.
const (
	KindBank      Kind = "bank"
	KindRegulator Kind = "regulator"
	KindPlatform  Kind = "platform"
	// KindDepartment is a government department that delivers records (tax
	// bureau, courts, utilities, ...).
	KindDepartment Kind = "department"
	// KindEnterprise holds companies' own accounts (企业用户): each account acts
	// only for the companies it is bound to (see Binding).
	KindEnterprise Kind = "enterprise"
	// KindGuarantor is a credit guarantee institution (担保机构) that shares the
	// risk of banks' loans.
	KindGuarantor Kind = "guarantor"
)

// Role is a permission held by a user.
type Role string

// Roles. Registry writes need data_scientist (or lab), promotions need approver,
// serving needs bank or regulator, and admin may do anything within the platform.
const (
	RoleDataScientist Role = "data_scientist"
	RoleApprover      Role = "approver"
	RoleAdmin         Role = "admin"
	RoleBank          Role = "bank"
	RoleRegulator     Role = "regulator"
	RoleLab           Role = "lab"
	// RoleDepartment delivers its department's records and reads their ingestion
	// history (only its own sources).
	RoleDepartment Role = "department"
	// RoleEnterprise acts for the companies its account is bound to (an
	// enterprise institution's accounts).
	RoleEnterprise Role = "enterprise"
	// RoleGuarantor is a guarantee institution's staff.
	RoleGuarantor Role = "guarantor"
)

var knownRoles = []Role{RoleDataScientist, RoleApprover, RoleAdmin, RoleBank, RoleRegulator, RoleLab, RoleDepartment, RoleEnterprise, RoleGuarantor}

// ParseRole checks that s names a known role.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(s))
	if !slices.Contains(knownRoles, r) {
		return "", fmt.Errorf("%w: unknown role %q (want one of %v)", ErrInvalid, s, knownRoles)
	}
	return r, nil
}

// ParseKind checks that s names a known institution kind.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.TrimSpace(s)); k {
	case KindBank, KindRegulator, KindPlatform, KindDepartment, KindEnterprise, KindGuarantor:
		return k, nil
	}
	return "", fmt.Errorf("%w: unknown institution kind %q (want bank, regulator, platform, department, enterprise or guarantor)", ErrInvalid, s)
}

// Institution is a bank, a regulator or the platform operator.
type Institution struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Kind      Kind      `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
}

// User belongs to one institution and holds roles.
type User struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	InstitutionID int64     `json:"institution_id"`
	Roles         []Role    `json:"roles"`
	Disabled      bool      `json:"disabled"`
	CreatedAt     time.Time `json:"created_at"`
}

// APIKey is the stored, non-secret part of a key.
type APIKey struct {
	ID        string    `json:"id"` // the lookup prefix, shown in key listings and logs
	UserID    int64     `json:"user_id"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero: never
	RevokedAt time.Time `json:"revoked_at,omitzero"` // zero: active
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID          int64
	User            string
	InstitutionID   int64
	Institution     string
	InstitutionKind Kind
	Roles           []Role
	KeyID           string
}

// Has reports whether p holds role r.
func (p Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

// HasAny reports whether p holds at least one of roles.
func (p Principal) HasAny(roles ...Role) bool {
	for _, r := range roles {
		if p.Has(r) {
			return true
		}
	}
	return false
}

// Require returns an error wrapping ErrForbidden unless p holds one of roles.
func (p Principal) Require(action string, roles ...Role) error {
	if p.HasAny(roles...) {
		return nil
	}
	return fmt.Errorf("%w: %s needs role %s; user %s has %v", ErrForbidden, action, joinRoles(roles), p.User, p.Roles)
}

func joinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// Options configures a Store. The zero value is valid.
type Options struct {
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Audit, when set, receives a record of every change (institutions, users,
	// roles, keys, consents). Nil means no audit.
	Audit *audit.Log
	// CacheTTL is how long Authenticate remembers a verified key, so the hot path
	// of serving does not query the database per request. Changes made through
	// this Store (revoke, disable, roles) drop the cache at once; changes made by
	// another process sharing the database take effect within CacheTTL. Key
	// expiry is always checked. Default 5s; negative disables the cache.
	CacheTTL time.Duration
	// CacheSize bounds the cached keys (and the cached consents). Default 10,000.
	CacheSize int
	// ConsentCacheTTL, when positive, lets CheckConsent answer from memory for a
	// consent it found within the last ConsentCacheTTL. Only found consents are
	// cached (a new grant is seen at once), each still ends at its own expiry,
	// and a revocation made through this Store applies at once; one made by
	// another process applies within ConsentCacheTTL. Default 0: every check
	// queries the database.
	ConsentCacheTTL time.Duration
	// Contacts finds the legal representative's registered contact of a company,
	// where StartBinding sends its one-time code. Nil: accounts are bound only by
	// an operator's verification.
	Contacts ContactDirectory
	// Sender delivers one-time codes. Nil: as for Contacts.
	Sender Sender
}

// EnsureDefaults fills zero fields.
func (o *Options) EnsureDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = 5 * time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10_000
	}
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the schema migrations of the access tables.
func Migrations() ([]metadb.Migration, error) {
	return metadb.LoadMigrations(migrationFS, "migrations")
}

// Store holds institutions, users, keys and consents in the metadata database.
// Its methods do not check who is calling: they are the trusted building blocks an
// administrative surface (CLI, admin API) calls after its own authorization. Each
// change is recorded in the audit log when Options.Audit is set, with actor as
// given.
type Store struct {
	db   *metadb.DB
	opts Options

	mu       sync.Mutex
	cache    map[[32]byte]cachedKey // sha256 of the key -> principal
	consents map[consentKey]cachedConsent
}

type consentKey struct {
	code, scope string
	bank        int64
}

type cachedConsent struct {
	c     Consent
	until int64 // unix ns
}

// cachedKey is a verified key remembered by Authenticate.
type cachedKey struct {
	p       Principal
	expires int64 // key expiry (unix ns), 0 = never
	until   int64 // cache entry valid until (unix ns, monotonic-free wall time)
}

// Open migrates the access schema in db and returns the store.
func Open(ctx context.Context, db *metadb.DB, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, "access", ms); err != nil {
		return nil, fmt.Errorf("access: open: %w", err)
	}
	return &Store{db: db, opts: opts, cache: map[[32]byte]cachedKey{}, consents: map[consentKey]cachedConsent{}}, nil
}

// dropCache forgets every cached key; called after any change that can affect
// authentication.
func (s *Store) dropCache() {
	s.mu.Lock()
	clear(s.cache)
	clear(s.consents)
	s.mu.Unlock()
}

var nameRE = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._@()-]{0,127}$`)

func checkName(what, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%w: %s name %q must be 1-128 letters, digits, spaces or ._@()- and start with a letter or digit", ErrInvalid, what, s)
	}
	return nil
}

// change runs fn in a transaction and appends an audit record in it when auditing.
func (s *Store) change(ctx context.Context, e audit.Entry, fn func(tx *metadb.Tx) (after any, err error)) error {
	return s.db.Tx(ctx, func(tx *metadb.Tx) error {
		after, err := fn(tx)
		if err != nil {
			return err
		}
		if s.opts.Audit != nil {
			e.After = after
			if _, err := s.opts.Audit.AppendTx(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func conflictOr(err error, format string, args ...any) error {
	if errors.Is(err, metadb.ErrConflict) {
		return fmt.Errorf("%w: "+format, append([]any{ErrConflict}, args...)...)
	}
	return fmt.Errorf("access: "+format+": %w", append(args, err)...)
}

// CreateInstitution adds an institution.
func (s *Store) CreateInstitution(ctx context.Context, actor, name string, kind Kind) (Institution, error) {
	if err := checkName("institution", name); err != nil {
		return Institution{}, err
	}
	if _, err := ParseKind(string(kind)); err != nil {
		return Institution{}, err
	}
	inst := Institution{Name: name, Kind: kind, CreatedAt: s.now()}
	err := s.change(ctx, audit.Entry{Actor: actor, Action: "access.institution.create", Subject: "institution:" + name},
		func(tx *metadb.Tx) (any, error) {
			id, err := tx.InsertID(ctx, "INSERT INTO access_institutions (name, kind, created_at_ns) VALUES (?, ?, ?)", name, string(kind), inst.CreatedAt.UnixNano())
			inst.ID = id
			return inst, err
		})
	if err != nil {
		return Institution{}, conflictOr(err, "institution %q", name)
	}
	return inst, nil
}

// Institution returns the institution with id.
func (s *Store) Institution(ctx context.Context, id int64) (Institution, error) {
	return s.institution(ctx, "id = ?", id)
}

// InstitutionByName returns the institution called name.
func (s *Store) InstitutionByName(ctx context.Context, name string) (Institution, error) {
	return s.institution(ctx, "name = ?", name)
}

func (s *Store) institution(ctx context.Context, where string, arg any) (Institution, error) {
	var inst Institution
	var kind string
	var ns int64
	err := metadb.ScanOne(s.db.QueryRow(ctx, "SELECT id, name, kind, created_at_ns FROM access_institutions WHERE "+where, arg), &inst.ID, &inst.Name, &kind, &ns)
	if errors.Is(err, metadb.ErrNotFound) {
		return Institution{}, fmt.Errorf("%w: institution %v", ErrNotFound, arg)
	}
	if err != nil {
		return Institution{}, fmt.Errorf("access: institution %v: %w", arg, err)
	}
	inst.Kind, inst.CreatedAt = Kind(kind), time.Unix(0, ns).UTC()
	return inst, nil
}

// CreateUser adds a user to an institution with roles.
func (s *Store) CreateUser(ctx context.Context, actor, name string, institutionID int64, roles ...Role) (User, error) {
	if err := checkName("user", name); err != nil {
		return User{}, err
	}
	roles, err := normalizeRoles(roles)
	if err != nil {
		return User{}, err
	}
	if _, err := s.Institution(ctx, institutionID); err != nil {
		return User{}, err
	}
	u := User{Name: name, InstitutionID: institutionID, Roles: roles, CreatedAt: s.now()}
	err = s.change(ctx, audit.Entry{Actor: actor, Action: "access.user.create", Subject: "user:" + name},
		func(tx *metadb.Tx) (any, error) {
			id, err := tx.InsertID(ctx, "INSERT INTO access_users (name, institution_id, created_at_ns) VALUES (?, ?, ?)", name, institutionID, u.CreatedAt.UnixNano())
			if err != nil {
				return nil, err
			}
			u.ID = id
			return u, insertRoles(ctx, tx, id, roles)
		})
	if err != nil {
		return User{}, conflictOr(err, "user %q", name)
	}
	return u, nil
}

func normalizeRoles(roles []Role) ([]Role, error) {
	out := make([]Role, 0, len(roles))
	for _, r := range roles {
		if _, err := ParseRole(string(r)); err != nil {
			return nil, err
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out, nil
}

func insertRoles(ctx context.Context, tx *metadb.Tx, userID int64, roles []Role) error {
	for _, r := range roles {
		if _, err := tx.Exec(ctx, "INSERT INTO access_user_roles (user_id, role) VALUES (?, ?)", userID, string(r)); err != nil {
			return err
		}
	}
	return nil
}

// SetRoles replaces the roles of a user.
func (s *Store) SetRoles(ctx context.Context, actor string, userID int64, roles ...Role) error {
	defer s.dropCache()
	roles, err := normalizeRoles(roles)
	if err != nil {
		return err
	}
	before, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	return s.change(ctx, audit.Entry{Actor: actor, Action: "access.user.roles", Subject: "user:" + before.Name, Before: before.Roles},
		func(tx *metadb.Tx) (any, error) {
			if _, err := tx.Exec(ctx, "DELETE FROM access_user_roles WHERE user_id = ?", userID); err != nil {
				return nil, err
			}
			return roles, insertRoles(ctx, tx, userID, roles)
		})
}

// DisableUser blocks every key of a user from authenticating.
func (s *Store) DisableUser(ctx context.Context, actor string, userID int64) error {
	defer s.dropCache()
	u, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	return s.change(ctx, audit.Entry{Actor: actor, Action: "access.user.disable", Subject: "user:" + u.Name},
		func(tx *metadb.Tx) (any, error) {
			_, err := tx.Exec(ctx, "UPDATE access_users SET disabled = 1 WHERE id = ?", userID)
			return map[string]bool{"disabled": true}, err
		})
}

// User returns the user with id.
func (s *Store) User(ctx context.Context, id int64) (User, error) { return s.user(ctx, "id = ?", id) }

// UserByName returns the user called name.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	return s.user(ctx, "name = ?", name)
}

func (s *Store) user(ctx context.Context, where string, arg any) (User, error) {
	var u User
	var disabled int
	var ns int64
	err := metadb.ScanOne(s.db.QueryRow(ctx, "SELECT id, name, institution_id, disabled, created_at_ns FROM access_users WHERE "+where, arg),
		&u.ID, &u.Name, &u.InstitutionID, &disabled, &ns)
	if errors.Is(err, metadb.ErrNotFound) {
		return User{}, fmt.Errorf("%w: user %v", ErrNotFound, arg)
	}
	if err != nil {
		return User{}, fmt.Errorf("access: user %v: %w", arg, err)
	}
	u.Disabled, u.CreatedAt = disabled != 0, time.Unix(0, ns).UTC()
	u.Roles, err = s.roles(ctx, u.ID)
	return u, err
}

func (s *Store) roles(ctx context.Context, userID int64) ([]Role, error) {
	rows, err := s.db.Query(ctx, "SELECT role FROM access_user_roles WHERE user_id = ? ORDER BY role", userID)
	if err != nil {
		return nil, fmt.Errorf("access: roles of user %d: %w", userID, err)
	}
	defer rows.Close()
	var roles []Role
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("access: roles of user %d: %w", userID, err)
		}
		roles = append(roles, Role(r))
	}
	return roles, rows.Err()
}

func (s *Store) now() time.Time { return time.Unix(0, s.opts.Now().UnixNano()).UTC() }

// API keys have the form "xy_<12 hex id>_<43 base64url characters>": the id finds
// the stored row, the whole key is hashed with sha256 and compared in constant
// time. Only the hash is stored; the key is shown once, by IssueKey.
const (
	keyPrefix    = "xy_"
	keyIDLen     = 12
	keySecretLen = 43 // base64url of 32 bytes, no padding
	keyLen       = len(keyPrefix) + keyIDLen + 1 + keySecretLen
)

// IssueKey creates a key for a user and returns it; the key itself is not stored
// and cannot be shown again. ttl <= 0 means the key does not expire.
func (s *Store) IssueKey(ctx context.Context, actor string, userID int64, label string, ttl time.Duration) (string, APIKey, error) {
	u, err := s.User(ctx, userID)
	if err != nil {
		return "", APIKey{}, err
	}
	var idb [keyIDLen / 2]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", APIKey{}, fmt.Errorf("access: random: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", APIKey{}, fmt.Errorf("access: random: %w", err)
	}
	k := APIKey{ID: hex.EncodeToString(idb[:]), UserID: userID, Label: label, CreatedAt: s.now()}
	if ttl > 0 {
		k.ExpiresAt = k.CreatedAt.Add(ttl)
	}
	key := keyPrefix + k.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(key))
	var exp int64
	if !k.ExpiresAt.IsZero() {
		exp = k.ExpiresAt.UnixNano()
	}
	err = s.change(ctx, audit.Entry{Actor: actor, Action: "access.key.issue", Subject: "user:" + u.Name},
		func(tx *metadb.Tx) (any, error) {
			_, err := tx.Exec(ctx, "INSERT INTO access_api_keys (id, user_id, hash, label, created_at_ns, expires_at_ns) VALUES (?, ?, ?, ?, ?, ?)",
				k.ID, userID, sum[:], label, k.CreatedAt.UnixNano(), exp)
			return k, err
		})
	if err != nil {
		return "", APIKey{}, fmt.Errorf("access: issue key: %w", err)
	}
	return key, k, nil
}

// RevokeKey stops a key from authenticating. Revoking a revoked key is not an error.
func (s *Store) RevokeKey(ctx context.Context, actor, keyID string) error {
	defer s.dropCache()
	return s.change(ctx, audit.Entry{Actor: actor, Action: "access.key.revoke", Subject: "key:" + keyID},
		func(tx *metadb.Tx) (any, error) {
			res, err := tx.Exec(ctx, "UPDATE access_api_keys SET revoked_at_ns = ? WHERE id = ? AND revoked_at_ns = 0", s.now().UnixNano(), keyID)
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				var one int
				if err := metadb.ScanOne(tx.QueryRow(ctx, "SELECT 1 FROM access_api_keys WHERE id = ?", keyID), &one); err != nil {
					return nil, fmt.Errorf("%w: key %s", ErrNotFound, keyID)
				}
			}
			return map[string]bool{"revoked": true}, nil
		})
}

// dummyHash is compared against when a key id is unknown, so that unknown and
// wrong keys take the same time.
var dummyHash = sha256.Sum256([]byte("xinyi: no such key"))

// Authenticate resolves an API key to its principal. Every failure (malformed,
// unknown, wrong secret, revoked, expired, disabled user) wraps ErrUnauthenticated
// and the message does not reveal which part was right.
func (s *Store) Authenticate(ctx context.Context, key string) (Principal, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return Principal{}, fmt.Errorf("%w: no API key given", ErrUnauthenticated)
	}
	if len(key) != keyLen || !strings.HasPrefix(key, keyPrefix) || key[len(keyPrefix)+keyIDLen] != '_' {
		return Principal{}, fmt.Errorf("%w: malformed API key (want xy_<id>_<secret>)", ErrUnauthenticated)
	}
	id := key[len(keyPrefix) : len(keyPrefix)+keyIDLen]
	sum := sha256.Sum256([]byte(key))
	now := s.opts.Now().UnixNano()
	if s.opts.CacheTTL > 0 {
		s.mu.Lock()
		c, ok := s.cache[sum]
		s.mu.Unlock()
		// The map is keyed by the full hash, so a hit is a verified key.
		if ok && now < c.until {
			if c.expires != 0 && now >= c.expires {
				return Principal{}, fmt.Errorf("%w: API key %s expired", ErrUnauthenticated, id)
			}
			p := c.p
			p.Roles = slices.Clone(p.Roles)
			return p, nil
		}
	}
	var p Principal
	var stored []byte
	var disabled int
	var exp, revoked int64
	var kind string
	err := metadb.ScanOne(s.db.QueryRow(ctx, `SELECT k.hash, k.expires_at_ns, k.revoked_at_ns, u.id, u.name, u.disabled, i.id, i.name, i.kind
		FROM access_api_keys k JOIN access_users u ON u.id = k.user_id JOIN access_institutions i ON i.id = u.institution_id
		WHERE k.id = ?`, id), &stored, &exp, &revoked, &p.UserID, &p.User, &disabled, &p.InstitutionID, &p.Institution, &kind)
	if errors.Is(err, metadb.ErrNotFound) {
		subtle.ConstantTimeCompare(sum[:], dummyHash[:])
		return Principal{}, fmt.Errorf("%w: unknown API key %s", ErrUnauthenticated, id)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("access: authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(sum[:], stored) != 1 {
		return Principal{}, fmt.Errorf("%w: unknown API key %s", ErrUnauthenticated, id)
	}
	switch {
	case revoked != 0:
		return Principal{}, fmt.Errorf("%w: API key %s was revoked", ErrUnauthenticated, id)
	case exp != 0 && now >= exp:
		return Principal{}, fmt.Errorf("%w: API key %s expired", ErrUnauthenticated, id)
	case disabled != 0:
		return Principal{}, fmt.Errorf("%w: user %s is disabled", ErrUnauthenticated, p.User)
	}
	p.InstitutionKind, p.KeyID = Kind(kind), id
	if p.Roles, err = s.roles(ctx, p.UserID); err != nil {
		return Principal{}, err
	}
	if s.opts.CacheTTL > 0 {
		s.mu.Lock()
		if len(s.cache) >= s.opts.CacheSize {
			clear(s.cache)
		}
		cp := p
		cp.Roles = slices.Clone(p.Roles)
		s.cache[sum] = cachedKey{p: cp, expires: exp, until: now + int64(s.opts.CacheTTL)}
		s.mu.Unlock()
	}
	return p, nil
}

// Keys lists the keys of a user (never their secrets).
func (s *Store) Keys(ctx context.Context, userID int64) ([]APIKey, error) {
	rows, err := s.db.Query(ctx, "SELECT id, label, created_at_ns, expires_at_ns, revoked_at_ns FROM access_api_keys WHERE user_id = ? ORDER BY created_at_ns", userID)
	if err != nil {
		return nil, fmt.Errorf("access: keys of user %d: %w", userID, err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k := APIKey{UserID: userID}
		var c, e, r int64
		if err := rows.Scan(&k.ID, &k.Label, &c, &e, &r); err != nil {
			return nil, fmt.Errorf("access: keys of user %d: %w", userID, err)
		}
		k.CreatedAt = time.Unix(0, c).UTC()
		if e != 0 {
			k.ExpiresAt = time.Unix(0, e).UTC()
		}
		if r != 0 {
			k.RevokedAt = time.Unix(0, r).UTC()
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// Institutions lists every institution by name.
func (s *Store) Institutions(ctx context.Context) ([]Institution, error) {
	rows, err := s.db.Query(ctx, "SELECT id, name, kind, created_at_ns FROM access_institutions ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("access: institutions: %w", err)
	}
	defer rows.Close()
	var out []Institution
	for rows.Next() {
		var inst Institution
		var kind string
		var ns int64
		if err := rows.Scan(&inst.ID, &inst.Name, &kind, &ns); err != nil {
			return nil, fmt.Errorf("access: institutions: %w", err)
		}
		inst.Kind, inst.CreatedAt = Kind(kind), time.Unix(0, ns).UTC()
		out = append(out, inst)
	}
	return out, rows.Err()
}

// Users lists the users of an institution by name (every user when
// institutionID is 0), with their roles.
func (s *Store) Users(ctx context.Context, institutionID int64) ([]User, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM access_users WHERE ? = 0 OR institution_id = ? ORDER BY name`, institutionID, institutionID)
	if err != nil {
		return nil, fmt.Errorf("access: users: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("access: users: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("access: users: %w", err)
	}
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		u, err := s.User(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}
