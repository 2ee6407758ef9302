package datasets

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Contacts finds the legal representative's registered contact of a company in
// the business registry (the companies source), for the one-time codes that bind
// company accounts (access.ContactDirectory). It reads the registry as known
// today and reads it again once it is older than TTL, so a contact the registry
// changes reaches the door within TTL.
type Contacts struct {
	store blob.Store
	ttl   time.Duration
	now   func() time.Time

	mu     sync.Mutex
	dir    *Directory
	loaded time.Time
}

// NewContacts reads the registry in store; ttl 0 means 10 minutes.
func NewContacts(store blob.Store, ttl time.Duration) *Contacts {
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	return &Contacts{store: store, ttl: ttl, now: time.Now}
}

// LegalRepContact returns the legal representative's name and registered mobile
// number, or an error wrapping access.ErrNotFound for a company the registry does
// not hold.
func (c *Contacts) LegalRepContact(ctx context.Context, code string) (access.Contact, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.dir == nil || now.Sub(c.loaded) > c.ttl {
		d, err := LoadDirectory(ctx, c.store, DayOf(now))
		if err != nil {
			return access.Contact{}, fmt.Errorf("datasets: business registry: %w", err)
		}
		c.dir, c.loaded = d, now
	}
	r, ok := c.dir.Company(code)
	if !ok {
		return access.Contact{}, fmt.Errorf("%w: company %s is not in the business registry", access.ErrNotFound, code)
	}
	return access.Contact{Name: r.LegalRep, Phone: r.LegalRepPhone}, nil
}
