package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// ErrNotBound refuses an account acting for a company it is not bound to (never
// bound, activation not completed, or the binding revoked). HTTP 403.
var ErrNotBound = fmt.Errorf("%w: account not bound to the company", ErrForbidden)

// ErrActivation means a wrong, expired or exhausted activation code. HTTP 400.
var ErrActivation = fmt.Errorf("%w: activation failed", ErrInvalid)

// Capacities in which an account acts for a company.
const (
	// CapacityLegalRep: the legal representative (法定代表人) or an account the
	// platform verified as acting with the legal representative's authority.
	CapacityLegalRep = "legal_rep"
	// CapacityDelegate: staff named by the legal representative.
	CapacityDelegate = "delegate"
)

// How a binding was proven.
const (
	// MethodSMS: a one-time code sent to the contact registered for the legal
	// representative in the business registry, entered by the account.
	MethodSMS = "sms"
	// MethodOperator: a platform administrator verified the electronic business
	// licence (企业身份码) or paper evidence; the evidence is recorded.
	MethodOperator = "operator"
	// MethodDelegation: the legal representative's account named this account.
	MethodDelegation = "delegation"
)

// Binding states.
const (
	BindingPending = "pending"
	BindingActive  = "active"
	BindingRevoked = "revoked"
)

// Binding ties a user account to a company it may act for. Only an active binding
// counts: a pending one is waiting for its activation code.
type Binding struct {
	ID          int64     `json:"id"`
	UserID      int64     `json:"user_id"`
	CompanyCode string    `json:"company_code"`
	Capacity    string    `json:"capacity"`
	Method      string    `json:"method"`
	Status      string    `json:"status"`
	Contact     string    `json:"contact,omitempty"` // masked: where the code was sent
	Evidence    string    `json:"evidence,omitempty"`
	DelegatedBy int64     `json:"delegated_by,omitempty"` // the legal representative's binding
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
	CodeExpires time.Time `json:"code_expires_at,omitzero"`
}

// Contact is how the business registry says the legal representative of a company
// is reached.
type Contact struct {
	Name  string // the legal representative
	Phone string // mobile number
}

// Masked is the contact as shown to the account asking for a code: enough to
// recognise, not enough to learn it (138****5678).
func (c Contact) Masked() string {
	p := c.Phone
	if len(p) < 7 {
		return strings.Repeat("*", len(p))
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}

// ContactDirectory finds the legal representative's registered contact of a
// company; an adapter over the business registry (the companies source)
// implements it. It returns an error wrapping ErrNotFound for an unknown company
// or one without a registered contact.
type ContactDirectory interface {
	LegalRepContact(ctx context.Context, companyCode string) (Contact, error)
}

// Sender delivers a one-time code to a contact (an SMS gateway; the demo writes
// an outbox file).
type Sender interface {
	Send(ctx context.Context, to Contact, text string) error
}

// Activation limits.
const (
	activationTTL      = 10 * time.Minute
	activationAttempts = 5
)

// StartBinding begins binding account userID to a company by the legal
// representative's proof: a six-digit code goes to the contact the business
// registry holds for the company, and the binding stays pending until
// ActivateBinding receives it. The account must hold the enterprise role at an
// enterprise institution. Options.Contacts and Options.Sender are required.
func (s *Store) StartBinding(ctx context.Context, actor string, userID int64, companyCode string) (Binding, error) {
	if s.opts.Contacts == nil || s.opts.Sender == nil {
		return Binding{}, fmt.Errorf("%w: binding by code needs a contact directory and a sender, and this platform has none configured", ErrInvalid)
	}
	code, err := s.bindable(ctx, userID, companyCode)
	if err != nil {
		return Binding{}, err
	}
	contact, err := s.opts.Contacts.LegalRepContact(ctx, code)
	if err != nil {
		return Binding{}, fmt.Errorf("access: contact of the legal representative of %s: %w", code, err)
	}
	if contact.Phone == "" {
		return Binding{}, fmt.Errorf("%w: the business registry holds no contact for the legal representative of %s; ask the platform to verify the electronic business licence instead", ErrNotFound, code)
	}
	otp, err := randomDigits(6)
	if err != nil {
		return Binding{}, err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return Binding{}, err
	}
	now := s.now()
	b := Binding{UserID: userID, CompanyCode: code, Capacity: CapacityLegalRep, Method: MethodSMS, Status: BindingPending,
		Contact: contact.Masked(), CreatedBy: actor, CreatedAt: now, CodeExpires: now.Add(activationTTL)}
	err = s.change(ctx, audit.Entry{Actor: actor, Action: "access.binding.start", Subject: "company:" + code},
		func(tx *metadb.Tx) (any, error) {
			var err error
			b.ID, err = insertBinding(ctx, tx, b, salt, otpHash(salt, otp))
			return b, err
		})
	if err != nil {
		return Binding{}, fmt.Errorf("access: start binding: %w", err)
	}
	text := fmt.Sprintf("【信易】%s您好：有账户申请以法定代表人身份管理企业 %s 的信用信息，验证码 %s，%d 分钟内有效。如非您本人申请，请勿将验证码告知他人。",
		contact.Name, code, otp, int(activationTTL/time.Minute))
	if err := s.opts.Sender.Send(ctx, contact, text); err != nil {
		return Binding{}, fmt.Errorf("access: send the activation code: %w", err)
	}
	return b, nil
}

// ActivateBinding completes a pending binding of userID with the code sent to the
// registered contact. A wrong code counts an attempt; after five, or once the
// code has expired, the binding can only be started again.
func (s *Store) ActivateBinding(ctx context.Context, actor string, userID, bindingID int64, otp string) (Binding, error) {
	defer s.dropCache()
	var out Binding
	var failure error
	err := s.db.Tx(ctx, func(tx *metadb.Tx) error {
		b, salt, hash, attempts, err := s.bindingTx(ctx, tx, bindingID)
		if err != nil {
			return err
		}
		if b.UserID != userID {
			return fmt.Errorf("%w: binding %d belongs to another account", ErrNotFound, bindingID)
		}
		now := s.now()
		switch {
		case b.Status != BindingPending:
			failure = fmt.Errorf("%w: binding %d is %s, not waiting for a code", ErrActivation, bindingID, b.Status)
		case !now.Before(b.CodeExpires):
			failure = fmt.Errorf("%w: the code of binding %d expired at %s; ask for a new one", ErrActivation, bindingID, b.CodeExpires.Format(time.RFC3339))
		case attempts >= activationAttempts:
			failure = fmt.Errorf("%w: binding %d had %d wrong codes; ask for a new one", ErrActivation, bindingID, attempts)
		case subtle.ConstantTimeCompare(otpHash(salt, strings.TrimSpace(otp)), hash) != 1:
			if _, err := tx.Exec(ctx, "UPDATE access_bindings SET attempts = attempts + 1 WHERE id = ?", bindingID); err != nil {
				return err
			}
			failure = fmt.Errorf("%w: wrong code for binding %d (%d of %d attempts used)", ErrActivation, bindingID, attempts+1, activationAttempts)
		}
		e := audit.Entry{Actor: actor, Action: "access.binding.activate", Subject: "company:" + b.CompanyCode}
		if failure != nil {
			e.Outcome, e.Reason = audit.OutcomeRefused, failure.Error()
		} else {
			if _, err := tx.Exec(ctx, "UPDATE access_bindings SET status = ?, activated_at_ns = ?, code_hash = NULL WHERE id = ?",
				BindingActive, now.UnixNano(), bindingID); err != nil {
				return err
			}
			b.Status, b.ActivatedAt = BindingActive, now
			out = b
			e.After = b
		}
		if s.opts.Audit != nil {
			if _, err := s.opts.Audit.AppendTx(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Binding{}, err
	}
	if failure != nil {
		return Binding{}, failure
	}
	return out, nil
}

// BindByOperator binds account userID to a company as its legal representative on
// evidence a platform administrator verified (the electronic business licence, a
// sealed authorization); the evidence is recorded. The surface authorizes
// ActionBindCompany first.
func (s *Store) BindByOperator(ctx context.Context, actor string, userID int64, companyCode, evidence string) (Binding, error) {
	defer s.dropCache()
	code, err := s.bindable(ctx, userID, companyCode)
	if err != nil {
		return Binding{}, err
	}
	evidence = strings.TrimSpace(evidence)
	if evidence == "" || utf8.RuneCountInString(evidence) > 500 {
		return Binding{}, fmt.Errorf("%w: an operator's binding records the evidence verified (1-500 characters, e.g. the licence serial)", ErrInvalid)
	}
	now := s.now()
	b := Binding{UserID: userID, CompanyCode: code, Capacity: CapacityLegalRep, Method: MethodOperator, Status: BindingActive,
		Evidence: evidence, CreatedBy: actor, CreatedAt: now, ActivatedAt: now}
	err = s.change(ctx, audit.Entry{Actor: actor, Action: "access.binding.operator", Subject: "company:" + code},
		func(tx *metadb.Tx) (any, error) {
			var err error
			b.ID, err = insertBinding(ctx, tx, b, nil, nil)
			return b, err
		})
	if err != nil {
		return Binding{}, fmt.Errorf("access: bind: %w", err)
	}
	return b, nil
}

// Delegate lets the legal representative's account (fromUserID, holding an active
// legal_rep binding to the company) name staff account toUserID to act for the
// company. The delegation ends when either binding is revoked.
func (s *Store) Delegate(ctx context.Context, actor string, fromUserID, toUserID int64, companyCode string) (Binding, error) {
	defer s.dropCache()
	code := creditcode.Normalize(companyCode)
	rep, err := s.CheckBinding(ctx, fromUserID, code, s.now())
	if err != nil {
		return Binding{}, err
	}
	if rep.Capacity != CapacityLegalRep {
		return Binding{}, fmt.Errorf("%w: only the legal representative's account delegates; this account is itself a delegate of %s", ErrForbidden, code)
	}
	if fromUserID == toUserID {
		return Binding{}, fmt.Errorf("%w: an account cannot delegate to itself", ErrInvalid)
	}
	if _, err := s.bindable(ctx, toUserID, code); err != nil {
		return Binding{}, err
	}
	now := s.now()
	b := Binding{UserID: toUserID, CompanyCode: code, Capacity: CapacityDelegate, Method: MethodDelegation, Status: BindingActive,
		DelegatedBy: rep.ID, CreatedBy: actor, CreatedAt: now, ActivatedAt: now}
	err = s.change(ctx, audit.Entry{Actor: actor, Action: "access.binding.delegate", Subject: "company:" + code},
		func(tx *metadb.Tx) (any, error) {
			var err error
			b.ID, err = insertBinding(ctx, tx, b, nil, nil)
			return b, err
		})
	if err != nil {
		return Binding{}, fmt.Errorf("access: delegate: %w", err)
	}
	return b, nil
}

// RevokeBinding ends a binding and every delegation made under it. byUserID is the
// account asking: the bound account itself, or the legal representative of the
// same company revoking a delegate; 0 means a platform administrator, whom the
// surface has authorized.
func (s *Store) RevokeBinding(ctx context.Context, actor string, byUserID, bindingID int64) error {
	defer s.dropCache()
	b, err := s.Binding(ctx, bindingID)
	if err != nil {
		return err
	}
	if byUserID != 0 && byUserID != b.UserID {
		rep, err := s.CheckBinding(ctx, byUserID, b.CompanyCode, s.now())
		if err != nil || rep.Capacity != CapacityLegalRep {
			return fmt.Errorf("%w: binding %d is another account's; only its legal representative may end it", ErrForbidden, bindingID)
		}
	}
	return s.change(ctx, audit.Entry{Actor: actor, Action: "access.binding.revoke", Subject: "company:" + b.CompanyCode, Before: b},
		func(tx *metadb.Tx) (any, error) {
			now := s.now().UnixNano()
			_, err := tx.Exec(ctx, `UPDATE access_bindings SET status = ?, revoked_at_ns = ?
				WHERE (id = ? OR delegated_by = ?) AND status <> ?`, BindingRevoked, now, bindingID, bindingID, BindingRevoked)
			return map[string]int64{"revoked": bindingID}, err
		})
}

// CheckBinding returns the active binding under which userID acts for companyCode
// at time at, or an error wrapping ErrNotBound. A delegate's binding counts only
// while the delegating legal representative's binding is active.
func (s *Store) CheckBinding(ctx context.Context, userID int64, companyCode string, at time.Time) (Binding, error) {
	code := creditcode.Normalize(companyCode)
	if err := creditcode.Validate(code); err != nil {
		return Binding{}, fmt.Errorf("%w: company code: %w", ErrInvalid, err)
	}
	rows, err := s.db.Query(ctx, bindingSelect+` WHERE user_id = ? AND company_code = ? AND status = ? AND activated_at_ns <= ? ORDER BY id`,
		userID, code, BindingActive, at.UnixNano())
	if err != nil {
		return Binding{}, fmt.Errorf("access: check binding: %w", err)
	}
	bs, err := scanBindings(rows)
	if err != nil {
		return Binding{}, fmt.Errorf("access: check binding: %w", err)
	}
	for _, b := range bs {
		if b.Capacity == CapacityDelegate {
			rep, err := s.Binding(ctx, b.DelegatedBy)
			if err != nil || rep.Status != BindingActive {
				continue
			}
		}
		return b, nil
	}
	return Binding{}, fmt.Errorf("%w: this account has no active binding to %s (bind it with the code sent to the legal representative, or by the platform's verification)", ErrNotBound, code)
}

// BoundCompanies lists the bindings of userID, newest first, every state
// included (the portal shows pending and revoked ones too).
func (s *Store) BoundCompanies(ctx context.Context, userID int64) ([]Binding, error) {
	rows, err := s.db.Query(ctx, bindingSelect+` WHERE user_id = ? ORDER BY id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("access: bindings of user %d: %w", userID, err)
	}
	return scanBindings(rows)
}

// CompanyBindings lists the accounts bound to a company, newest first.
func (s *Store) CompanyBindings(ctx context.Context, companyCode string) ([]Binding, error) {
	rows, err := s.db.Query(ctx, bindingSelect+` WHERE company_code = ? ORDER BY id DESC`, creditcode.Normalize(companyCode))
	if err != nil {
		return nil, fmt.Errorf("access: bindings of %s: %w", companyCode, err)
	}
	return scanBindings(rows)
}

// Binding returns the binding with id.
func (s *Store) Binding(ctx context.Context, id int64) (Binding, error) {
	rows, err := s.db.Query(ctx, bindingSelect+` WHERE id = ?`, id)
	if err != nil {
		return Binding{}, fmt.Errorf("access: binding %d: %w", id, err)
	}
	bs, err := scanBindings(rows)
	if err != nil {
		return Binding{}, fmt.Errorf("access: binding %d: %w", id, err)
	}
	if len(bs) == 0 {
		return Binding{}, fmt.Errorf("%w: binding %d", ErrNotFound, id)
	}
	return bs[0], nil
}

// bindable checks that userID may be bound to the company: a valid code, an
// enabled account with the enterprise role at an enterprise institution, and no
// active binding to the same company yet.
func (s *Store) bindable(ctx context.Context, userID int64, companyCode string) (string, error) {
	code := creditcode.Normalize(companyCode)
	if err := creditcode.Validate(code); err != nil {
		return "", fmt.Errorf("%w: company code: %w", ErrInvalid, err)
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return "", err
	}
	inst, err := s.Institution(ctx, u.InstitutionID)
	if err != nil {
		return "", err
	}
	if u.Disabled || inst.Kind != KindEnterprise || !u.hasRole(RoleEnterprise) {
		return "", fmt.Errorf("%w: only an enabled account with the enterprise role at an enterprise institution acts for a company; %s of %s (%s) is not", ErrInvalid, u.Name, inst.Name, inst.Kind)
	}
	if _, err := s.CheckBinding(ctx, userID, code, s.now()); err == nil {
		return "", fmt.Errorf("%w: %s is already bound to %s", ErrConflict, u.Name, code)
	}
	return code, nil
}

func (u User) hasRole(r Role) bool {
	for _, x := range u.Roles {
		if x == r {
			return true
		}
	}
	return false
}

const bindingSelect = `SELECT id, user_id, company_code, capacity, method, status, contact, evidence, delegated_by, created_by,
	created_at_ns, activated_at_ns, revoked_at_ns, code_expires_at_ns FROM access_bindings`

func insertBinding(ctx context.Context, tx *metadb.Tx, b Binding, salt, hash []byte) (int64, error) {
	return tx.InsertID(ctx, `INSERT INTO access_bindings (user_id, company_code, capacity, method, status, contact, evidence,
		code_salt, code_hash, code_expires_at_ns, delegated_by, created_by, created_at_ns, activated_at_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.UserID, b.CompanyCode, b.Capacity, b.Method, b.Status, b.Contact, b.Evidence, salt, hash,
		unixOrZero(b.CodeExpires), b.DelegatedBy, b.CreatedBy, b.CreatedAt.UnixNano(), unixOrZero(b.ActivatedAt))
}

func (s *Store) bindingTx(ctx context.Context, tx *metadb.Tx, id int64) (b Binding, salt, hash []byte, attempts int, err error) {
	var created, activated, revoked, expires int64
	err = tx.QueryRow(ctx, `SELECT id, user_id, company_code, capacity, method, status, contact, evidence, delegated_by, created_by,
		created_at_ns, activated_at_ns, revoked_at_ns, code_expires_at_ns, code_salt, code_hash, attempts FROM access_bindings WHERE id = ?`+tx.ForUpdate(), id).
		Scan(&b.ID, &b.UserID, &b.CompanyCode, &b.Capacity, &b.Method, &b.Status, &b.Contact, &b.Evidence, &b.DelegatedBy, &b.CreatedBy,
			&created, &activated, &revoked, &expires, &salt, &hash, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return Binding{}, nil, nil, 0, fmt.Errorf("%w: binding %d", ErrNotFound, id)
	}
	if err != nil {
		return Binding{}, nil, nil, 0, fmt.Errorf("access: binding %d: %w", id, err)
	}
	b.CreatedAt, b.ActivatedAt, b.RevokedAt, b.CodeExpires = timeOrZero(created), timeOrZero(activated), timeOrZero(revoked), timeOrZero(expires)
	return b, salt, hash, attempts, nil
}

func scanBindings(rows *sql.Rows) ([]Binding, error) {
	defer rows.Close()
	var out []Binding
	for rows.Next() {
		var b Binding
		var created, activated, revoked, expires int64
		if err := rows.Scan(&b.ID, &b.UserID, &b.CompanyCode, &b.Capacity, &b.Method, &b.Status, &b.Contact, &b.Evidence, &b.DelegatedBy,
			&b.CreatedBy, &created, &activated, &revoked, &expires); err != nil {
			return nil, err
		}
		b.CreatedAt, b.ActivatedAt, b.RevokedAt, b.CodeExpires = timeOrZero(created), timeOrZero(activated), timeOrZero(revoked), timeOrZero(expires)
		out = append(out, b)
	}
	return out, rows.Err()
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOrZero(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func otpHash(salt []byte, otp string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(otp))
	return h.Sum(nil)
}

func randomDigits(n int) (string, error) {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", err
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String(), nil
}
