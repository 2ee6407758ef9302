package access

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ErrPseudonymKey is a pseudonymisation key too short to keep codes from being
// guessed back (fewer than 32 bytes).
var ErrPseudonymKey = errors.New("access: pseudonymisation key must be at least 32 bytes")

// Pseudonyms names companies in the row-level outputs released to one bank
// (exported sample rows, scored rows): a company that granted the bank consent
// is named by its code, any other by a pseudonym, "P" and 16 hex digits of
// HMAC-SHA256(key, bank id, code). A pseudonym is stable for one bank (its
// rows of two exports line up) and differs between banks (two banks cannot
// join their exports on it); without the key it cannot be turned back into a
// code, although the 18-character codes of a region are few enough that the key
// must stay the platform's.
type Pseudonyms struct {
	key       []byte
	bank      int64
	consented map[string]bool
}

// NewPseudonyms returns the naming for bank: consented lists the companies that
// granted it consent (see ConsentedCompanies).
func NewPseudonyms(key []byte, bank int64, consented []string) (*Pseudonyms, error) {
	if len(key) < 32 {
		return nil, ErrPseudonymKey
	}
	p := &Pseudonyms{key: append([]byte(nil), key...), bank: bank, consented: make(map[string]bool, len(consented))}
	for _, c := range consented {
		p.consented[c] = true
	}
	return p, nil
}

// Name is how the bank's row-level outputs name company code.
func (p *Pseudonyms) Name(code string) string {
	if p.consented[code] {
		return code
	}
	return p.Pseudonym(code)
}

// Pseudonym is code's pseudonym for the bank, consented or not.
func (p *Pseudonyms) Pseudonym(code string) string {
	m := hmac.New(sha256.New, p.key)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(p.bank))
	m.Write(b[:])
	m.Write([]byte(code))
	return "P" + hex.EncodeToString(m.Sum(nil)[:8])
}

// Consented reports whether code is named in the clear.
func (p *Pseudonyms) Consented(code string) bool { return p.consented[code] }

// ConsentedCompanies lists the companies whose consent for scope bank holds at
// at (ScopeCreditAssessment when scope is empty).
func (s *Store) ConsentedCompanies(ctx context.Context, bank int64, scope string, at time.Time) ([]string, error) {
	if scope == "" {
		scope = ScopeCreditAssessment
	}
	cs, err := s.ActiveConsentsOf(ctx, bank, scope, at)
	if err != nil {
		return nil, fmt.Errorf("access: consents of institution %d: %w", bank, err)
	}
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.CompanyCode)
	}
	return out, nil
}
