package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/reports"
	"github.com/xinyi-platform/xinyi/reports/scorehistory"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

func init() {
	register(command{name: "report", summary: "issue a signed PDF credit report of one company (--company, --purpose financing|bidding|listing|honours)", run: runReport})
	register(command{name: "report verify", summary: "check a credit report file's signature offline with the platform's public key", run: runReportVerify})
	register(command{name: "report keygen", summary: "make an Ed25519 report signing key (FILE and FILE.pub) for a demo or a new platform", run: runReportKeygen})
}

// reportDeps is what a report service is opened on.
type reportDeps struct {
	store   blob.Store
	db      *metadb.DB
	acc     *access.Store
	log     *audit.Log
	keyFile string
	baseURL string
	font    string
}

// openReports opens the report service: the signing key from keyFile, ratings
// from the score history in the store.
func openReports(ctx context.Context, d reportDeps) (*reports.Service, error) {
	if d.keyFile == "" {
		return nil, errors.New("--report-key (or XINYI_REPORT_KEY) is required: the Ed25519 signing key; make one with 'xinyi report keygen --out FILE'")
	}
	key, err := reports.LoadKey(d.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--report-key: %w", err)
	}
	return reports.Open(ctx, d.db, reports.Options{Store: d.store, Signer: key, Authorizer: access.NewAuthorizer(d.acc, d.log), Audit: d.log,
		Scores: scorehistory.New(scores.NewReader(d.store, 0)), BaseURL: d.baseURL, FontPath: d.font})
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		storeDir = fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set")
		dsn      = fs.String("db", "", "metadata database DSN (default sqlite file <store>/.xinyi/xinyi.db)")
		apiKey   = fs.String("key", os.Getenv("XINYI_API_KEY"), "API key of who asks for the report: the company's bound account, a bank with its consent, or a regulator (env XINYI_API_KEY)")
		keyFile  = fs.String("report-key", os.Getenv("XINYI_REPORT_KEY"), "Ed25519 signing key file (env XINYI_REPORT_KEY)")
		baseURL  = fs.String("base-url", "http://localhost:8080", "the platform's public address: the QR code holds <base-url>/v1/reports/{id}/verify")
		font     = fs.String("font", reports.DefaultFontPath, "CJK TrueType font embedded in the PDF")
		company  = fs.String("company", "", "unified social credit code of the company")
		purpose  = fs.String("purpose", "financing", "what the report is for: financing, bidding, listing or honours")
		from     = fs.String("from", "", "first day of the period, YYYY-MM-DD (default: 36 months back, 12 for honours)")
		to       = fs.String("to", "", "last day of the period, YYYY-MM-DD (default: today)")
		out      = fs.String("out", "", "PDF file to write (default <report number>.pdf)")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *company == "" {
		return errors.New("--company is required")
	}
	p, err := reports.ParsePurpose(*purpose)
	if err != nil {
		return fmt.Errorf("--purpose: %w", err)
	}
	store, closeStore, err := openGenerateStore(ctx, *storeDir)
	if err != nil {
		return err
	}
	defer closeStore()
	db, log, acc, err := openMeta(ctx, metaFlags{store: storeDir, dsn: dsn})
	if err != nil {
		return err
	}
	defer db.Close()
	who, err := acc.Authenticate(ctx, *apiKey)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	svc, err := openReports(ctx, reportDeps{store: store, db: db, acc: acc, log: log, keyFile: *keyFile, baseURL: *baseURL, font: *font})
	if err != nil {
		return err
	}
	r, pdf, err := svc.Issue(ctx, who, reports.Request{Company: *company, Purpose: p, From: *from, To: *to})
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = r.ID + ".pdf"
	}
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		return err
	}
	covered := 0
	for _, s := range r.Sections {
		if s.Covered {
			covered++
		}
	}
	fmt.Fprintf(stdout, "report %s for %s (%s, %s to %s): %d of %d departments covered, %d bytes signed by %s, written to %s; verify at %s\n",
		r.ID, r.Company, r.Purpose, r.From, r.To, covered, len(r.Sections), len(pdf), r.KeyID, path, r.VerifyURL)
	return nil
}

func runReportVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubFile := fs.String("public-key", os.Getenv("XINYI_REPORT_KEY"), "the platform's public key file (FILE.pub of 'xinyi report keygen'; a private key file also serves; env XINYI_REPORT_KEY)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: xinyi report verify [--public-key FILE] REPORT.pdf")
	}
	if *pubFile == "" {
		return errors.New("--public-key (or XINYI_REPORT_KEY) is required")
	}
	pub, err := reports.LoadPublicKey(*pubFile)
	if err != nil {
		return fmt.Errorf("--public-key: %w", err)
	}
	data, err := readBounded(fs.Arg(0), 64<<20)
	if err != nil {
		return err
	}
	s, err := reports.VerifyFile(data, pub)
	if err != nil {
		return fmt.Errorf("%s does not verify: %w", fs.Arg(0), err)
	}
	fmt.Fprintf(stdout, "%s: signature good: report %s signed by %s, sha256 %x; whether it has been revoked is answered online at /v1/reports/%s/verify\n",
		fs.Arg(0), s.ReportID, s.KeyID, s.Digest, s.ReportID)
	return nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a report", path, limit)
	}
	return data, nil
}

func runReportKeygen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "private key file to write (mode 0600); the public key goes to FILE.pub")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return errors.New("usage: xinyi report keygen --out FILE")
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	k, err := reports.GenerateKey()
	if err != nil {
		return err
	}
	if err := reports.WriteKeyFiles(k, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report signing key %s written to %s (public key %s.pub)\n", k.ID, *out, *out)
	return nil
}
