package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/reports"
	"github.com/xinyi-platform/xinyi/reports/httpapi"
)

const company = "91330604MA4UJ7K283"

func needFont(t *testing.T) {
	if _, err := os.Stat(reports.DefaultFontPath); err == nil {
		if _, err := exec.LookPath("pdftotext"); err == nil {
			return
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the report font or poppler-utils is missing; run scripts/report-tools.sh")
	}
	t.Skip("the report font or poppler-utils is missing; run scripts/report-tools.sh")
}

// TestRoutes walks a report's life over HTTP: issued by a bank with consent,
// fetched, verified by upload and by id, revoked by an administrator, then
// verifying as revoked; refusals answer with the platform's error shape.
func TestRoutes(t *testing.T) {
	needFont(t)
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	bankKey, bank := accesstest.User(t, acc, "Shaoxing Bank", access.KindBank, "officer", access.RoleBank)
	otherKey, _ := accesstest.User(t, acc, "Other Bank", access.KindBank, "other", access.RoleBank)
	adminKey, _ := accesstest.User(t, acc, "Platform", access.KindPlatform, "root", access.RoleAdmin)
	if _, err := acc.GrantConsent(ctx, "setup", access.ConsentGrant{CompanyCode: company, BankID: bank.InstitutionID,
		Scope: access.ScopeCreditAssessment, ExpiresAt: time.Now().AddDate(1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The business registry knows the company; no department has delivered more.
	var reg bytes.Buffer
	w := parquet.NewGenericWriter[datasets.CompanyRow](&reg)
	if _, err := w.Write([]datasets.CompanyRow{{Code: company, EventDate: 16500, ArrivalDate: 19000, Name: "绍兴越城甲乙机械有限公司",
		Industry: "C", District: "330602", LegalForm: "有限责任公司", Status: datasets.StatusActive}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src, _ := datasets.SourceByName(datasets.SourceCompanies)
	if _, err := blob.PutBytes(ctx, store, src.Key(datasets.Month(2015*12), 0), reg.Bytes()); err != nil {
		t.Fatal(err)
	}
	key, _ := reports.GenerateKey()
	svc, err := reports.Open(ctx, db, reports.Options{Store: store, Signer: key, Authorizer: access.NewAuthorizer(acc, log), Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Options{Service: svc, Auth: acc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	call := func(method, path, key, ctype string, body []byte) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	errCode := func(b []byte) string {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return e.Error.Code
	}

	issue := []byte(`{"company_code":"` + company + `","purpose":"bidding"}`)
	refusals := []struct {
		name, method, path, key string
		body                    []byte
		status                  int
		code                    string
	}{
		{"no key", "POST", "/v1/reports", "", issue, 401, "unauthenticated"},
		{"bank without consent", "POST", "/v1/reports", otherKey, issue, 403, "consent_required"},
		{"malformed body", "POST", "/v1/reports", bankKey, []byte(`{"company_code":`), 400, "invalid_input"},
		{"unknown field", "POST", "/v1/reports", bankKey, []byte(`{"company":"x"}`), 400, "invalid_input"},
		{"bad code", "POST", "/v1/reports", bankKey, []byte(`{"company_code":"91330604MA4UJ7K280","purpose":"bidding"}`), 400, "invalid_input"},
		{"unknown report", "GET", "/v1/reports/XYR-20261206-AAAAAAAA", bankKey, nil, 404, "not_found"},
		{"unknown route", "GET", "/v1/reportz", bankKey, nil, 404, "not_found"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			status, b := call(tt.method, tt.path, tt.key, "application/json", tt.body)
			if status != tt.status || errCode(b) != tt.code {
				t.Errorf("got %d %s, want %d %s", status, b, tt.status, tt.code)
			}
		})
	}

	status, b := call("POST", "/v1/reports", bankKey, "application/json", issue)
	if status != http.StatusCreated {
		t.Fatalf("issue: %d %s", status, b)
	}
	var rep struct {
		ID        string `json:"id"`
		PDF       string `json:"pdf_url"`
		VerifyURL string `json:"verify_url"`
		Sections  []reports.Section
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Sections) == 0 || rep.VerifyURL != "http://localhost:8080/v1/reports/"+rep.ID+"/verify" {
		t.Errorf("issued %s", b)
	}
	status, pdf := call("GET", rep.PDF, bankKey, "", nil)
	if status != http.StatusOK || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("pdf: %d %.80s", status, pdf)
	}
	if status, b := call("GET", rep.PDF, otherKey, "", nil); status != http.StatusForbidden {
		t.Errorf("another bank fetched the PDF: %d %s", status, b)
	}
	verify := func(method, path string, body []byte) reports.Verification {
		t.Helper()
		status, b := call(method, path, "", "application/pdf", body)
		var v reports.Verification
		if status != http.StatusOK || json.Unmarshal(b, &v) != nil {
			t.Fatalf("%s %s: %d %s", method, path, status, b)
		}
		return v
	}
	if v := verify("POST", "/v1/reports/verify", pdf); !v.Valid || v.Status != "issued" || v.ReportID != rep.ID {
		t.Errorf("upload verification: %+v", v)
	}
	bad := bytes.Clone(pdf)
	bad[len(bad)/3] ^= 0x20
	if v := verify("POST", "/v1/reports/verify", bad); v.Valid || v.Status != "bad_signature" {
		t.Errorf("a changed file verifies as %+v", v)
	}
	if v := verify("GET", "/v1/reports/"+rep.ID+"/verify", nil); !v.Valid {
		t.Errorf("id verification: %+v", v)
	}
	if status, b := call("POST", "/v1/reports/"+rep.ID+"/revoke", bankKey, "application/json", []byte(`{"reason":"x"}`)); status != 403 {
		t.Errorf("a bank revoked: %d %s", status, b)
	}
	if status, b := call("POST", "/v1/reports/"+rep.ID+"/revoke", adminKey, "application/json", []byte(`{"reason":"mistaken record"}`)); status != 200 {
		t.Fatalf("revoke: %d %s", status, b)
	}
	if status, b := call("POST", "/v1/reports/"+rep.ID+"/revoke", adminKey, "application/json", []byte(`{"reason":"again"}`)); status != 409 {
		t.Errorf("revoked twice: %d %s", status, b)
	}
	// A browser (the phone that scanned the QR code) gets a page.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/reports/"+rep.ID+"/verify", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(page, []byte("已撤销 Revoked")) ||
			!bytes.Contains(page, []byte("mistaken record")) {
			t.Errorf("verification page: %d %s", resp.StatusCode, page)
		}
	}
	for _, v := range []reports.Verification{verify("GET", "/v1/reports/"+rep.ID+"/verify", nil), verify("POST", "/v1/reports/verify", pdf)} {
		if v.Valid || v.Status != "revoked" || v.RevokeReason != "mistaken record" {
			t.Errorf("a revoked report verifies as %+v", v)
		}
	}
}
