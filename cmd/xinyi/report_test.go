package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/reports"
)

// TestReportCommand: make a key, issue a report as a bank with the company's
// consent (and be refused without it), verify the file offline, and see a changed
// copy fail.
func TestReportCommand(t *testing.T) {
	if _, err := os.Stat(reports.DefaultFontPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the report font is missing; run scripts/report-tools.sh")
		}
		t.Skip("the report font is missing; run scripts/report-tools.sh")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	keyFile := filepath.Join(dir, "keys", "report.key")
	const company = "91330604MA4UJ7K283"
	if out, errs, code := run(t, "report", "keygen", "--out", keyFile); code != 0 || !strings.Contains(out, "report signing key ed25519:") {
		t.Fatalf("keygen: exit %d, out %q, err %q", code, out, errs)
	}
	key, errs, code := run(t, "access", "user", "-store", store, "-institution", "Shaoxing Bank", "-kind", "bank", "-user", "officer", "-roles", "bank")
	if code != 0 {
		t.Fatalf("access user: exit %d: %s", code, errs)
	}
	key = strings.TrimSpace(key)
	pdf := filepath.Join(dir, "report.pdf")
	args := []string{"report", "--store", store, "--key", key, "--report-key", keyFile, "--company", company, "--purpose", "listing", "--out", pdf}
	if _, errs, code := run(t, args...); code == 0 || !strings.Contains(errs, "consent") {
		t.Fatalf("without consent: exit %d, err %q", code, errs)
	}
	if _, errs, code := run(t, "access", "consent", "-store", store, "-company", company, "-bank", "Shaoxing Bank"); code != 0 {
		t.Fatalf("consent: exit %d: %s", code, errs)
	}
	// The platform knows nothing of the company yet: no report.
	if _, errs, code := run(t, args...); code == 0 || !strings.Contains(errs, "not in the business registry") {
		t.Fatalf("unknown company: exit %d, err %q", code, errs)
	}
	// The business registry delivers the company; no other department has.
	reg := filepath.Join(dir, "companies.csv")
	csv := "code,event_date,name,industry,district,founded,legal_form,status,status_date\n" +
		company + ",2015-03-01,绍兴越城甲乙机械有限公司,C,330602,2015-03-01,有限责任公司,存续,2015-03-01\n"
	if err := os.WriteFile(reg, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := run(t, "ingest", "--store", store, "--source", "companies", reg); code != 0 {
		t.Fatalf("ingest companies: exit %d: %s", code, errs)
	}
	out, errs, code := run(t, args...)
	if code != 0 || !strings.Contains(out, "0 of 11 departments covered") || !strings.Contains(out, "/v1/reports/XYR-") {
		t.Fatalf("report: exit %d, out %q, err %q", code, out, errs)
	}
	out, errs, code = run(t, "report", "verify", "--public-key", keyFile+".pub", pdf)
	if code != 0 || !strings.Contains(out, "signature good") {
		t.Fatalf("verify: exit %d, out %q, err %q", code, out, errs)
	}
	if _, err := exec.LookPath("pdftotext"); err == nil {
		text, err := exec.Command("pdftotext", pdf, "-").Output()
		if err != nil || !strings.Contains(string(text), "上市专用") || !strings.Contains(string(text), "绍兴越城甲乙机械有限公司") {
			t.Errorf("pdftotext: %v: the listing report lacks its purpose: %.200s", err, text)
		}
	}
	data, _ := os.ReadFile(pdf)
	data[len(data)/2] ^= 1
	bad := filepath.Join(dir, "changed.pdf")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := run(t, "report", "verify", "--public-key", keyFile+".pub", bad); code == 0 || !strings.Contains(errs, "signature does not verify") {
		t.Fatalf("a changed file: exit %d, err %q", code, errs)
	}
}
