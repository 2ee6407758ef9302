package financing_test

import (
	"context"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// company signs in a company's own account, bound to code by an operator on
// verified evidence.
func (w *world) company(t *testing.T, name, code string) access.Principal {
	t.Helper()
	p := w.user(t, "企业用户", access.KindEnterprise, name, access.RoleEnterprise)
	if _, err := w.access.BindByOperator(context.Background(), "operator", p.UserID, code, "licence "+code); err != nil {
		t.Fatal(err)
	}
	return p
}
