package labtest

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// RepPhone is the mobile number every test company's legal representative has
// registered; codes go to it, shown masked as RepMasked.
const (
	RepPhone  = "13812345678"
	RepMasked = "138****5678"
)

// Contacts is the business registry's contacts of legal representatives: every
// valid code of the test region has one, other codes none.
type Contacts struct{}

// LegalRepContact returns the registered contact of code's legal representative.
func (Contacts) LegalRepContact(_ context.Context, code string) (xaccess.Contact, error) {
	if creditcode.Validate(code) != nil || code[2:8] != "330604" {
		return xaccess.Contact{}, fmt.Errorf("%w: %s is not registered in the test region", xaccess.ErrNotFound, code)
	}
	return xaccess.Contact{Name: "张伟", Phone: RepPhone}, nil
}

// Outbox keeps the messages sent to legal representatives.
type Outbox struct {
	mu   sync.Mutex
	sent []string
}

// Send records text.
func (o *Outbox) Send(_ context.Context, to xaccess.Contact, text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, to.Phone+" "+text)
	return nil
}

var otpRE = regexp.MustCompile(`验证码 (\d{6})`)

// LastCode returns the one-time code of the newest message.
func (o *Outbox) LastCode(t testing.TB) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == 0 {
		t.Fatal("no code was sent")
	}
	m := otpRE.FindStringSubmatch(o.sent[len(o.sent)-1])
	if m == nil {
		t.Fatalf("no code in %q", o.sent[len(o.sent)-1])
	}
	return m[1]
}
