package lab_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/lab/labtest"
)

func (b *browser) uploadLabels(name string, data []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", b.csrf("/lab/joint"))
	_ = mw.WriteField("name", name)
	_ = mw.WriteField("set", "pd")
	fw, _ := mw.CreateFormFile("labels", name+".csv")
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+"/lab/joint", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// TestJointConsole: the console's joint-modelling pages keep the controls of
// package joint: the download holds only indicators within the scientist's
// clearance and names only the companies that consented to her bank; another
// bank's scientist finds neither the sample nor the run (404, as for unknown
// names, and audited); a user without the data-scientist role is refused.
func TestJointConsole(t *testing.T) {
	ctx := context.Background()
	env := labtest.NewEnv(t, labtest.EnvOptions{Joint: true})
	srv := httptest.NewServer(env.Handler)
	t.Cleanup(srv.Close)
	consented := env.JointLabels.Codes[:2]
	for _, c := range consented {
		if _, err := env.Access.GrantConsent(ctx, "setup", xaccess.ConsentGrant{CompanyCode: c, BankID: env.BankID, Scope: xaccess.ScopeCreditAssessment,
			ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	chen := as(t, env, srv, labtest.Scientist)
	if p := chen.uploadLabels("loans", env.JointLabels.File); p.status != http.StatusOK || !strings.Contains(p.body, "loans/v1") {
		t.Fatalf("upload: %d\n%s", p.status, p.body)
	}
	p := chen.get("/lab/joint/samples/loans/v1/download")
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("download: %d %s", p.status, p.body)
	}
	rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(rows[0], labtest.ConfidentialIndicator) || !slices.Contains(rows[0], "court.amount.count_24m") {
		t.Fatalf("download header %v: confidential %s in it, or public court.amount.count_24m missing", rows[0], labtest.ConfidentialIndicator)
	}
	var named []string
	for _, r := range rows[1:] {
		if creditcode.Validate(r[1]) == nil {
			named = append(named, r[1])
		}
	}
	slices.Sort(named)
	want := slices.Sorted(slices.Values(consented))
	if !slices.Equal(named, want) || len(rows)-1 != len(env.JointLabels.Codes) {
		t.Fatalf("the download names %v, want only the consenting %v (%d rows)", named, want, len(rows)-1)
	}
	// A run of chen's.
	p = chen.post("/lab/joint/train", map[string][]string{"csrf": {chen.csrf("/lab/joint")}, "sample": {"loans/v1"}})
	runPath := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !regexp.MustCompile(`^/lab/joint/runs/j[0-9a-f]{12}\?`).MatchString(runPath) {
		t.Fatalf("train: %d %q\n%s", p.status, runPath, p.body)
	}
	runPath, _, _ = strings.Cut(runPath, "?")
	if p := chen.get(runPath); p.status != http.StatusOK || !strings.Contains(p.body, "joint-lift") {
		t.Fatalf("run page: %d", p.status)
	}

	// Bank B's scientist.
	bank2, err := env.Access.InstitutionByName(ctx, labtest.Bank2Name)
	if err != nil {
		t.Fatal(err)
	}
	u, err := env.Access.CreateUser(ctx, "setup", "qin", bank2.ID, xaccess.RoleDataScientist)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := env.Access.IssueKey(ctx, "setup", u.ID, "lab", 0)
	if err != nil {
		t.Fatal(err)
	}
	qin := newBrowser(t, srv)
	qin.login(key)
	if p := qin.get("/lab/joint"); p.status != http.StatusOK || strings.Contains(p.body, "loans/v1") || strings.Contains(p.body, runPath) {
		t.Fatalf("bank B's page: %d, shows bank A's sample or run", p.status)
	}
	for _, path := range []string{"/lab/joint/samples/loans/v1/download", "/lab/joint/samples/nothing/v1/download", runPath} {
		if p := qin.get(path); p.status != http.StatusNotFound {
			t.Fatalf("bank B's GET %s: %d", path, p.status)
		}
	}
	if p := qin.post("/lab/joint/train", map[string][]string{"csrf": {qin.csrf("/lab/joint")}, "sample": {"loans/v1"}}); p.status != http.StatusNotFound {
		t.Fatalf("bank B trains on bank A's sample: %d", p.status)
	}
	recs, err := env.Audit.List(ctx, audit.Filter{Actor: "qin@" + labtest.Bank2Name + "/" + strings.SplitN(key, "_", 3)[1], Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, r := range recs {
		if r.Outcome == audit.OutcomeRefused && strings.HasPrefix(r.Subject, "sample:") {
			refused++
		}
	}
	if refused != 3 {
		t.Fatalf("%d of bank B's 3 sample lookups audited: %+v", refused, recs)
	}
	// The bank role alone is not a data scientist's.
	if p := as(t, env, srv, labtest.Banker).get("/lab/joint"); p.status != http.StatusForbidden {
		t.Fatalf("the banker's joint page: %d", p.status)
	}
}
