package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xinyi-platform/xinyi/financing"
	financinghttp "github.com/xinyi-platform/xinyi/financing/httpapi"
	"github.com/xinyi-platform/xinyi/financing/servingassess"
	"github.com/xinyi-platform/xinyi/financing/webhooknotify"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving/server"
)

func init() {
	register(command{name: "financing", summary: "the bank–company financing loop: products, approve, stats, repayments, labels, sweep", run: runFinancingHelp})
	register(command{name: "financing products", summary: "list the products of the key's bank", run: runFinancingProducts})
	register(command{name: "financing product-add", summary: "define a product of the key's bank (auto-approval becomes a proposal)", run: runFinancingProductAdd})
	register(command{name: "financing approve", summary: "approve a proposed product change (a second person of the bank)", run: runFinancingApprove})
	register(command{name: "financing stats", summary: "the regulator's view: demand, credit, approval, time to decision, first loans (JSON or CSV)", run: runFinancingStats})
	register(command{name: "financing repayments", summary: "ingest the key's bank's repayment file as its private source", run: runFinancingRepayments})
	register(command{name: "financing labels", summary: "build the key's bank's outcome label files from its repayments", run: runFinancingLabels})
	register(command{name: "financing sweep", summary: "expire requests and offers, send renewal and unanswered notices", run: runFinancingSweep})
}

func runFinancingHelp(_ context.Context, args []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "Usage: xinyi financing <products|product-add|approve|stats|repayments|labels|sweep> [flags]")
	fmt.Fprintln(stdout)
	for _, n := range subcommands("financing") {
		fmt.Fprintf(stdout, "  %-14s %s\n", strings.TrimPrefix(n, "financing "), commands[n].summary)
	}
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
	return nil
}

// noAssessor stands in for serving in the command line, which does not load
// models: steps that need an assessment (inboxes, pre-credit) are the server's.
type noAssessor struct{}

func (noAssessor) Assess(context.Context, access.Principal, string) (financing.Assessment, error) {
	return financing.Assessment{}, fmt.Errorf("%w: the command line does not assess companies; use the server's API", financing.ErrUnavailable)
}

type financingEnv struct {
	fin   *financing.Store
	p     access.Principal
	close func()
}

// openFinancing opens the platform and the financing store and authenticates the
// key (none for sweep, which acts as the system).
func openFinancing(ctx context.Context, f metaFlags, needKey bool) (*financingEnv, error) {
	if needKey && *f.key == "" {
		return nil, errors.New("an API key is required: pass -key or set XINYI_API_KEY (create one with 'xinyi access user')")
	}
	pl, err := openPlatform(ctx, *f.store, *f.dsn, nil, nil)
	if err != nil {
		return nil, err
	}
	var p access.Principal
	if needKey {
		if p, err = pl.acc.Authenticate(ctx, *f.key); err != nil {
			pl.Close()
			return nil, fmt.Errorf("-key: %w", err)
		}
	}
	fin, err := financing.Open(ctx, pl.db, financing.Options{Authorizer: access.NewAuthorizer(pl.acc, pl.log), Audit: pl.log,
		Consents: financing.AccessConsents(pl.acc), Assessor: noAssessor{}, Blob: pl.store})
	if err != nil {
		pl.Close()
		return nil, err
	}
	return &financingEnv{fin: fin, p: p, close: pl.Close}, nil
}

// financingSweepEvery is how often the server sweeps the financing loop.
const financingSweepEvery = time.Hour

// financingDoor serves the financing loop at /v1/financing/ on a running server:
// it assesses through the server's assessment service, reads districts and
// industries from its business registry, notifies banks at their webhook
// endpoints, and sweeps the loop every financingSweepEvery (replicas sweep
// concurrently: each notice is claimed once).
// finDoor builds the financing door and keeps its store for the console.
type finDoor struct{ store *financing.Store }

func (f *finDoor) door(pl *platform, sd server.Doors) (map[string]http.Handler, func(), error) {
	opts := financing.Options{Authorizer: access.NewAuthorizer(pl.acc, pl.log), Audit: pl.log,
		Consents: financing.AccessConsents(pl.acc), Assessor: servingassess.New(sd.Service), Blob: pl.store, Logger: sd.Logger}
	if sd.Directory != nil {
		opts.Directory = financing.RegistryDirectory(sd.Directory)
	}
	if sd.Queue != nil && sd.Endpoints != nil {
		opts.Notifier = webhooknotify.New(sd.Queue, webhooknotify.InstitutionEndpoints(sd.Endpoints))
	}
	ctx, cancel := context.WithCancel(context.Background())
	fin, err := financing.Open(ctx, pl.db, opts)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	h, err := financinghttp.New(financinghttp.Options{Store: fin, Auth: pl.acc, Logger: sd.Logger})
	if err != nil {
		cancel()
		return nil, nil, err
	}
	go func() {
		t := time.NewTicker(financingSweepEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if rep, err := fin.Sweep(ctx); err != nil && ctx.Err() == nil && sd.Logger != nil {
					sd.Logger.Error("financing sweep", "err", err, "report", rep)
				}
			}
		}
	}()
	f.store = fin
	return map[string]http.Handler{"/v1/financing/": h}, cancel, nil
}

// joinDoors builds each door over pl and d and joins their handlers and stops;
// on an error the doors already built are stopped.
func joinDoors(pl *platform, d server.Doors, fns ...func(*platform, server.Doors) (map[string]http.Handler, func(), error)) (map[string]http.Handler, func(), error) {
	out := map[string]http.Handler{}
	var stops []func()
	stopAll := func() {
		for _, s := range stops {
			s()
		}
	}
	for _, fn := range fns {
		hs, stop, err := fn(pl, d)
		if err != nil {
			stopAll()
			return nil, nil, err
		}
		if stop != nil {
			stops = append(stops, stop)
		}
		for p, h := range hs {
			out[p] = h
		}
	}
	return out, stopAll, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func runFinancingProducts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("financing products", stderr)
	mf := addMetaFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := openFinancing(ctx, mf, true)
	if err != nil {
		return err
	}
	defer e.close()
	ps, err := e.fin.Products(ctx, e.p)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tLIMIT CAP\tMAX TERM\tRATE\tAUTO\tRULE (VERSION)")
	for _, p := range ps {
		auto := "off"
		if p.AutoApprove {
			auto = fmt.Sprintf("≤ %.0f", p.AutoCap)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%d\t%.4f\t%s\t%s (v%d)\n", p.ID, p.Name, p.LimitCap, p.MaxTerm, p.Rate, auto, p.Rule, p.RuleVer)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d products\n", len(ps))
	return nil
}

func runFinancingProductAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("financing product-add", stderr)
	mf := addMetaFlags(fs, true)
	var in financing.ProductInput
	fs.StringVar(&in.Name, "name", "", "product name")
	fs.StringVar(&in.Rule, "rule", "", `eligibility rule over rating, colour, industry, age, limit, pd, district, amount, term, guarantee, size (e.g. "rating_rank(rating) <= 2 && pd < 0.05")`)
	fs.Float64Var(&in.LimitCap, "limit-cap", 0, "largest amount, 元")
	fs.IntVar(&in.MaxTerm, "max-term", 12, "longest term, months")
	fs.Float64Var(&in.Rate, "rate", 0, "annual rate (0.0385 for 3.85%)")
	fs.Int64Var(&in.GuarantorID, "guarantor", 0, "institution id of the guarantee institution (0: none)")
	fs.Float64Var(&in.GuarantorShare, "guarantor-share", 0, "the guarantor's share of each loan and loss (0.8 for 80%)")
	fs.Float64Var(&in.AutoCap, "auto-cap", 0, "propose auto-approval up to this amount (a second person approves)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	in.AutoApprove = in.AutoCap > 0
	e, err := openFinancing(ctx, mf, true)
	if err != nil {
		return err
	}
	defer e.close()
	p, prop, err := e.fin.CreateProduct(ctx, e.p, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "product %d %q created\n", p.ID, p.Name)
	if prop != nil {
		fmt.Fprintf(stdout, "auto-approval up to %.0f proposed as proposal %d: another approver of the bank runs 'xinyi financing approve -proposal %d'\n", in.AutoCap, prop.ID, prop.ID)
	}
	return nil
}

func runFinancingApprove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("financing approve", stderr)
	mf := addMetaFlags(fs, true)
	id := fs.Int64("proposal", 0, "proposal id")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id <= 0 {
		return errors.New("-proposal is required")
	}
	e, err := openFinancing(ctx, mf, true)
	if err != nil {
		return err
	}
	defer e.close()
	p, err := e.fin.ApproveProposal(ctx, e.p, *id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "proposal %d approved: product %d %q, auto-approval %v (cap %.0f), rule v%d\n", *id, p.ID, p.Name, p.AutoApprove, p.AutoCap, p.RuleVer)
	return nil
}

func runFinancingStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("financing stats", stderr)
	mf := addMetaFlags(fs, true)
	from := fs.String("from", "", "first day (YYYY-MM-DD; default: the beginning)")
	to := fs.String("to", "", "day after the last (YYYY-MM-DD; default: now)")
	by := fs.String("by", financing.ByDistrict, "group by district, industry or size")
	format := fs.String("format", "csv", "csv or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	q := financing.StatsQuery{By: *by}
	for _, d := range []struct {
		flag, v string
		t       *time.Time
	}{{"-from", *from, &q.From}, {"-to", *to, &q.To}} {
		if d.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.v)
		if err != nil {
			return fmt.Errorf("%s %q is not YYYY-MM-DD", d.flag, d.v)
		}
		*d.t = t
	}
	e, err := openFinancing(ctx, mf, true)
	if err != nil {
		return err
	}
	defer e.close()
	st, err := e.fin.Stats(ctx, e.p, q)
	if err != nil {
		return err
	}
	switch *format {
	case "csv":
		return st.WriteCSV(stdout)
	case "json":
		return printJSON(stdout, st)
	}
	return fmt.Errorf("-format %q: use csv or json", *format)
}

func runFinancingRepayments(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("financing repayments", stderr)
	mf := addMetaFlags(fs, true)
	file := fs.String("file", "", "the bank's repayment file (CSV, JSON Lines, Parquet or .xlsx; columns of the repayment contract)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("-file is required")
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	e, err := openFinancing(ctx, mf, true)
	if err != nil {
		return err
	}
	defer e.close()
	rep, err := e.fin.UploadRepayments(ctx, e.p, *file, f)
	if rep != nil {
		fmt.Fprintln(stdout, rep.Summary())
	}
	return err
}

func runFinancingLabels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("financing labels", stderr)
	mf := addMetaFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := openFinancing(ctx, mf, true)
	if err != nil {
		return err
	}
	defer e.close()
	lf, err := e.fin.BuildLabels(ctx, e.p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d labelled loans (%d bad), %d not yet mature; wrote %s and %s\n", lf.Rows, lf.Positives, lf.Excluded, lf.CSV, lf.Parquet)
	return nil
}

func runFinancingSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("financing sweep", stderr)
	mf := addMetaFlags(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := openFinancing(ctx, mf, false)
	if err != nil {
		return err
	}
	defer e.close()
	rep, err := e.fin.Sweep(ctx)
	fmt.Fprintf(stdout, "%d requests expired, %d offers expired, %d renewal notices, %d unanswered warnings, %d loan consents granted\n",
		rep.RequestsExpired, rep.OffersExpired, rep.Renewals, rep.Unanswered, rep.LoanGrants)
	return err
}
