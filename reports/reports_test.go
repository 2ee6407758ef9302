package reports_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/reports"
)

// wantSection is what a section must say, written out by hand from the fixture:
// the span of its data (since, through), the span it speaks for (the period
// 2024-01-01..2026-11-30 cut to the data's) and its records.
type wantSection struct {
	dept                 string
	covered              bool
	since, through       string
	claimedFrom, claimed string
	records              []string // date and ref (or kind) of each record
}

var wantFinancing = []wantSection{
	// P2's publicity ended, P5 is before the period, P4 and P7 are B's.
	{"market", true, "2023-05-01", "2026-11-28", "2024-01-01", "2026-11-28", nil},
	// The tax table holds 2024-01..2026-10 (the later of its start and the
	// penalties'); 2024-09's arrears were corrected to 0.
	{"tax", true, "2024-01-01", "2026-10-31", "2024-01-01", "2026-10-31", []string{"2025-03-10 P1"}},
	// Runs through an earlier date than the others.
	{"social_insurance", true, "2024-01-01", "2026-06-30", "2024-01-01", "2026-06-30", []string{"2025-05-31 social insurance arrears"}},
	{"housing_fund", false, "", "", "", "", nil},
	// One batch of 2026-11-20 with 2026-09 and 2026-10 only.
	{"utilities", true, "2026-09-01", "2026-10-31", "2026-09-01", "2026-10-31", nil},
	// The court table holds 2025-07 only, last arrived 2025-12-01.
	{"courts", true, "2025-07-01", "2025-12-01", "2025-07-01", "2025-12-01", []string{"2025-07-01 (2025)浙0602民初123号"}},
	{"credit", true, "2024-01-01", "2026-10-31", "2024-01-01", "2026-10-31", []string{"2026-02-28 overdue loan"}},
	{"real_estate", false, "", "", "", "", nil},
	// P3 was retracted.
	{"environment", true, "2023-05-01", "2026-11-28", "2024-01-01", "2026-11-28", nil},
}

func TestIssueFinancing(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		r, pdf, err := f.svc.Issue(ctx, f.bank, reports.Request{Company: f.a, Purpose: reports.Financing, From: "2024-01-01", To: "2026-11-30"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r.CompanyName, "绍兴越城甲乙机械有限公司"; got != want {
			t.Errorf("company name %q, want %q", got, want)
		}
		if got, want := r.CompanyStatus, "存续"; got != want {
			t.Errorf("company status %q, want %q", got, want)
		}
		if got, want := r.RequestedAs, "bank"; got != want {
			t.Errorf("requested as %q, want %q", got, want)
		}
		if len(r.Sections) != len(wantFinancing) {
			t.Fatalf("%d sections, want %d", len(r.Sections), len(wantFinancing))
		}
		for i, w := range wantFinancing {
			s := r.Sections[i]
			var recs []string
			for _, rec := range s.Records {
				ref := rec.Ref
				if ref == "" {
					ref = rec.KindEn
				}
				recs = append(recs, rec.Date+" "+ref)
			}
			got := wantSection{s.Department, s.Covered, s.Since, s.Through, s.ClaimedFrom, s.ClaimedTo, recs}
			if got.dept != w.dept || got.covered != w.covered || got.since != w.since || got.through != w.through ||
				got.claimedFrom != w.claimedFrom || got.claimed != w.claimed || !slices.Equal(got.records, w.records) {
				t.Errorf("section %d:\n got %+v\nwant %+v", i, got, w)
			}
		}
		if r.Rating == nil {
			t.Fatal("no rating")
		}
		if got, want := *r.Rating, (reports.Rating{AsOf: "2026-09-30", Rating: "B", Colour: "yellow", Models: []string{"pd=pd-smb@3"},
			PolicyVersion: "policy-v2"}); got.AsOf != want.AsOf || got.Rating != want.Rating || got.Colour != want.Colour ||
			!slices.Equal(got.Models, want.Models) || got.PolicyVersion != want.PolicyVersion {
			t.Errorf("rating %+v, want %+v", got, want)
		}
		wantURL := "https://credit.example.gov.cn/v1/reports/" + r.ID + "/verify"
		if r.VerifyURL != wantURL {
			t.Errorf("verify URL %q, want %q", r.VerifyURL, wantURL)
		}

		if db.Dialect() == metadb.SQLite {
			checkRendering(t, r, pdf, wantURL)
		}
		checkVerification(t, f, r, pdf)

		recs, err := f.log.List(ctx, audit.Filter{Subject: "report:" + r.ID})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rec := range recs {
			got = append(got, rec.Action+"/"+rec.Outcome)
		}
		want := []string{"report.issue/ok", "report.verify/refused", "report.verify/refused", "report.revoke/refused", "report.revoke/ok",
			"report.revoke/refused", "report.verify/refused", "report.verify/refused"}
		if !slices.Equal(got, want) {
			t.Errorf("audit of the report: %q, want %q", got, want)
		}
	})
}

// checkRendering converts the PDF to text and images with poppler: the Chinese
// and English statements are there, no claim goes past a department's data, and
// the QR code decodes to the verification URL.
func checkRendering(t *testing.T, r *reports.Report, pdf []byte, wantURL string) {
	dir := artifacts(t)
	path := filepath.Join(dir, "financing.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(out)
	spaced := strings.Join(strings.Fields(text), " ")
	dense := strings.Join(strings.Fields(text), "")
	for _, want := range []string{
		"企业信用报告", "融资授信专用", "绍兴越城甲乙机械有限公司", r.Company, r.ID, "登记状态 Registry status", "存续 in operation",
		"2024-01-01至2026-11-28期间，市场监管局无行政处罚记录（数据截至2026-11-28）。",
		"2024-01-01至2026-06-30期间，人力社保局有以下1条记录（数据截至2026-06-30）。",
		"2026-07-01至2026-11-30的数据尚未送达本平台",
		"本平台尚未收到住房公积金中心的数据",
		"失信被执行人",
	} {
		if !strings.Contains(dense, strings.Join(strings.Fields(want), "")) {
			t.Errorf("the PDF text lacks %q", want)
		}
	}
	for _, want := range []string{
		"No administrative penalty recorded by the Market regulation bureau between 2024-01-01 and 2026-11-28 (data runs through 2026-11-28).",
		"1 record(s) of the Human resources and social security bureau between 2024-01-01 and 2026-06-30 (data runs through 2026-06-30).",
		"No administrative penalty recorded by the Ecology and environment bureau between 2024-01-01 and 2026-11-28",
		"Data from 2025-12-02 to 2026-11-30 has not reached the platform",
		"1 record(s) of the People's courts between 2025-07-01 and 2025-12-01 (data runs through 2025-12-01). The platform holds none of its data from 2024-01-01 to 2025-06-30",
		"No utility bill arrears recorded by the Power, water and gas utilities between 2026-09-01 and 2026-10-31",
	} {
		if !strings.Contains(spaced, want) {
			t.Errorf("the PDF text lacks %q", want)
		}
	}
	// No department's data reaches the period's end, so nothing is claimed up to it.
	for _, bad := range []string{"and 2026-11-30", "至2026-11-30期间"} {
		if strings.Contains(spaced, bad) || strings.Contains(dense, bad) {
			t.Errorf("the PDF claims %q past the departments' data", bad)
		}
	}
	// Every "between X and Y" names a Y that is some section's claimed end.
	claimed := map[string]bool{}
	for _, s := range r.Sections {
		claimed[s.ClaimedFrom+" "+s.ClaimedTo] = true
	}
	for _, m := range regexp.MustCompile(`between (\d{4}-\d{2}-\d{2}) and (\d{4}-\d{2}-\d{2})`).FindAllStringSubmatch(spaced, -1) {
		if !claimed[m[1]+" "+m[2]] {
			t.Errorf("a statement claims %s to %s, which no section's data spans", m[1], m[2])
		}
	}

	// 200 dpi without anti-aliasing of vector shapes: each QR module is about six
	// whole pixels, as a printed page under a phone's camera is.
	prefix := filepath.Join(dir, "financing")
	if out, err := exec.Command("pdftoppm", "-r", "200", "-aaVector", "no", "-png", path, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pages, _ := filepath.Glob(prefix + "-*.png")
	if len(pages) == 0 {
		t.Fatal("pdftoppm made no page images")
	}
	t.Logf("report %s: %d bytes, %d page(s), images in %s", r.ID, len(pdf), len(pages), dir)
	slices.Sort(pages)
	if got := decodeQR(t, pages[0]); got != wantURL {
		t.Errorf("the QR code says %q, want %q", got, wantURL)
	}
}

// decodeQR reads the QR code in the top right quarter of a page image with
// gozxing, a decoder independent of the encoder.
func decodeQR(t *testing.T, path string) string {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	corner := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(b.Min.X+b.Dx()/2, b.Min.Y, b.Max.X, b.Min.Y+b.Dy()/4))
	bmp, err := gozxing.NewBinaryBitmapFromImage(corner)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("decode the QR code of %s: %v", path, err)
	}
	return res.GetText()
}

// checkVerification: the file verifies offline and online; a flipped byte
// anywhere fails; a revoked report verifies as revoked.
func checkVerification(t *testing.T, f *fixture, r *reports.Report, pdf []byte) {
	ctx := context.Background()
	if _, err := reports.VerifyFile(pdf, f.key.Public()); err != nil {
		t.Fatalf("offline verification of the issued file: %v", err)
	}
	other, _ := reports.GenerateKey()
	if _, err := reports.VerifyFile(pdf, other.Public()); !errors.Is(err, reports.ErrUnknownKey) {
		t.Errorf("verified under another key: %v, want ErrUnknownKey", err)
	}
	v, err := f.svc.Verify(ctx, "anonymous", pdf)
	if err != nil || !v.Valid || v.Status != reports.StatusIssued || v.ReportID != r.ID || v.Company != f.a {
		t.Fatalf("online verification: %+v, %v", v, err)
	}
	// One flipped byte: in the PDF header, in the middle of the content, and in
	// the signature line's report number.
	sigAt := strings.LastIndex(string(pdf), "report=") + len("report=") + 5
	for _, at := range []int{10, len(pdf) / 2, sigAt} {
		bad := slices.Clone(pdf)
		bad[at] ^= 0x01
		if _, err := reports.VerifyFile(bad, f.key.Public()); err == nil {
			t.Errorf("offline verification passed with byte %d of %d flipped", at, len(pdf))
		}
		if at == sigAt {
			continue // an unknown report number; the online check of the other two suffices
		}
		v, err := f.svc.Verify(ctx, "anonymous", bad)
		if err != nil || v.Valid || v.Status != "bad_signature" {
			t.Errorf("online verification with byte %d flipped: %+v, %v; want bad_signature", at, v, err)
		}
	}
	v, err = f.svc.Verify(ctx, "anonymous", pdf[:len(pdf)-30])
	if err != nil || v.Valid || v.Status != "unsigned" {
		t.Errorf("a truncated file: %+v, %v; want unsigned", v, err)
	}

	// Only a platform administrator revokes.
	if _, err := f.svc.Revoke(ctx, f.bank, r.ID, "issued on a mistaken record"); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("a bank revoked: %v, want ErrForbidden", err)
	}
	if _, err := f.svc.Revoke(ctx, f.admin, r.ID, "issued on a mistaken record"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(ctx, f.admin, r.ID, "again"); !errors.Is(err, reports.ErrConflict) {
		t.Errorf("revoked twice: %v, want ErrConflict", err)
	}
	v, err = f.svc.Verify(ctx, "anonymous", pdf)
	if err != nil || v.Valid || v.Status != reports.StatusRevoked || v.RevokeReason != "issued on a mistaken record" {
		t.Errorf("a revoked report verifies as %+v, %v; want revoked", v, err)
	}
	v, err = f.svc.VerifyID(ctx, "anonymous", r.ID)
	if err != nil || v.Valid || v.Status != reports.StatusRevoked {
		t.Errorf("a revoked report's id verifies as %+v, %v; want revoked", v, err)
	}
	// The offline check still passes: it proves the platform signed the file;
	// revocation is known online.
	if _, err := reports.VerifyFile(pdf, f.key.Public()); err != nil {
		t.Errorf("offline verification after revocation: %v", err)
	}
}

// TestPurposeSections: each purpose has its own departments, in order, and its
// own wording; a department the platform has no source for is shown as not
// covered.
func TestPurposeSections(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, metadbtest.SQLite(t))
	tests := []struct {
		purpose    reports.Purpose
		from       string // the default period for the issue day 2026-12-06
		sections   string
		notCovered string
		wording    string
	}{
		{reports.Financing, "2023-12-07", "market tax social_insurance housing_fund utilities courts credit real_estate environment",
			"housing_fund real_estate", "融资授信专用"},
		{reports.Bidding, "2023-12-07", "market tax social_insurance courts environment emergency fire construction", "construction", "招标投标专用"},
		{reports.Listing, "2023-12-07", "market tax social_insurance housing_fund environment emergency fire courts real_estate customs natural_resources",
			"housing_fund real_estate customs natural_resources", "上市专用"},
		{reports.Honours, "2025-12-07", "market tax social_insurance environment emergency courts", "", "评优评先专用"},
	}
	for _, tt := range tests {
		t.Run(string(tt.purpose), func(t *testing.T) {
			r, pdf, err := f.svc.Issue(ctx, f.regulator, reports.Request{Company: f.a, Purpose: tt.purpose})
			if err != nil {
				t.Fatal(err)
			}
			if r.From != tt.from || r.To != "2026-12-06" {
				t.Errorf("period %s to %s, want %s to 2026-12-06", r.From, r.To, tt.from)
			}
			var ids, missing []string
			for _, s := range r.Sections {
				ids = append(ids, s.Department)
				if !s.Covered {
					missing = append(missing, s.Department)
					if s.ClaimedTo != "" || len(s.Records) != 0 || !strings.Contains(s.StatementEn, "states nothing") {
						t.Errorf("%s is not covered but says %q (claimed to %q)", s.Department, s.StatementEn, s.ClaimedTo)
					}
				}
			}
			if got := strings.Join(ids, " "); got != tt.sections {
				t.Errorf("sections %q, want %q", got, tt.sections)
			}
			if got := strings.Join(missing, " "); got != tt.notCovered {
				t.Errorf("not covered %q, want %q", got, tt.notCovered)
			}
			if _, err := reports.VerifyFile(pdf, f.key.Public()); err != nil {
				t.Error(err)
			}
			text := pdfText(t, pdf)
			if !strings.Contains(text, tt.wording) {
				t.Errorf("the PDF lacks %q", tt.wording)
			}
		})
	}
}

// pdfText extracts a PDF's text with pdftotext, all whitespace removed.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	cmd := exec.Command("pdftotext", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), "")
}
