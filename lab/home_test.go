package lab_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// TestRegulatorHome: a regulator's home page opens on the region (the index
// and its change, the districts rising most, the latest screenings); a bank's
// does not.
func TestRegulatorHome(t *testing.T) {
	env, srv := setup(t)
	reg := as(t, env, srv, labtest.Regulator)
	if p := reg.post("/lab/screenings", url.Values{"csrf": {reg.csrf("/lab/screenings")}, "model": {"violation:champion"}}); p.status != http.StatusSeeOther {
		t.Fatalf("screening: %d", p.status)
	}
	p := reg.get("/lab/")
	// The fixture's region index is 19 + 1.1 × i at its six dates: 24.5 now, up 1.1.
	for _, want := range []string{`id="home-region"`, "辖区概览", `id="home-index">24.5<`, "&#43;1.1", `id="home-rising"`, "东关街道", `id="home-trend"`, `id="home-screenings"`, "violation（冠军模型）"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("regulator home lacks %q:\n%s", want, p.body)
		}
	}
	bank := as(t, env, srv, labtest.Banker)
	if p := bank.get("/lab/"); strings.Contains(p.body, `id="home-region"`) {
		t.Fatal("a bank's home shows the regulator's overview")
	}
}
