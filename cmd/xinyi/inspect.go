package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	servingaccess "github.com/xinyi-platform/xinyi/serving/access"
	"github.com/xinyi-platform/xinyi/serving/inspection"
	"github.com/xinyi-platform/xinyi/serving/screenjobs"
)

func init() {
	register(command{name: "inspect", summary: "the inspection loop: plan, results, record, hit-rate (run 'xinyi inspect' for each)", run: runInspectHelp})
	register(command{name: "inspect plan", summary: "draw a 双随机 inspection plan from a finished screening", run: runInspectPlan})
	register(command{name: "inspect results", summary: "show a plan's firms and results, or export it as CSV or JSON", run: runInspectResults})
	register(command{name: "inspect record", summary: "record (or correct) the result of one inspection", run: runInspectRecord})
	register(command{name: "inspect hit-rate", summary: "share of inspections that found a problem, per tier and plan, against the random baseline", run: runInspectHitRate})
}

func runInspectHelp(_ context.Context, args []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "Usage: xinyi inspect <plan|results|record|hit-rate> [flags]")
	fmt.Fprintln(stdout)
	for _, n := range []string{"inspect plan", "inspect results", "inspect record", "inspect hit-rate"} {
		fmt.Fprintf(stdout, "  %-18s %s\n", strings.TrimPrefix(n, "inspect "), commands[n].summary)
	}
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
	return nil
}

// inspectEnv is an opened inspection service and the principal of the key.
type inspectEnv struct {
	svc   *inspection.Service
	p     access.Principal
	close func()
}

// openInspect opens the store, the metadata database and (for drawing) the jobs
// database that holds the screenings, and authenticates the key.
func openInspect(ctx context.Context, f metaFlags, jobsDB string, withJobs bool) (*inspectEnv, error) {
	if *f.key == "" {
		return nil, errors.New("an API key is required: pass -key or set XINYI_API_KEY (a regulator's key; create one with 'xinyi access user')")
	}
	store, closeStore, err := openGenerateStore(ctx, *f.store)
	if err != nil {
		return nil, err
	}
	db, log, acc, err := openMeta(ctx, f)
	if err != nil {
		closeStore()
		return nil, err
	}
	closeAll := func() { db.Close(); closeStore() }
	p, err := acc.Authenticate(ctx, *f.key)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("-key: %w", err)
	}
	opts := inspection.Options{DB: db, Store: store, Authorizer: servingaccess.New(acc, log), Audit: log}
	if withJobs {
		d, err := jobsDSN(*f.store, *f.dsn, jobsDB)
		if err != nil {
			closeAll()
			return nil, err
		}
		q, err := jobs.Open(ctx, jobs.Options{DSN: d})
		if err != nil {
			closeAll()
			return nil, err
		}
		opts.Screenings = screenjobs.New(q)
		prev := closeAll
		closeAll = func() { _ = q.Close(); prev() }
	}
	svc, err := inspection.Open(ctx, opts)
	if err != nil {
		closeAll()
		return nil, err
	}
	return &inspectEnv{svc: svc, p: p, close: closeAll}, nil
}

func runInspectPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mf := addMetaFlags(fs, true)
	var (
		jobsDB     = fs.String("jobs-db", "", jobsDBUsage)
		screening  = fs.String("screening", "", "id of a finished screening job of your institution (required)")
		inspectors = fs.String("inspectors", "", "inspectors to assign, comma separated (required)")
		perFirm    = fs.Int("per-firm", 0, "inspectors per firm (default 2)")
		seed       = fs.Int64("seed", -1, "seed of the draw, 0 to 2^53-1 (default: drawn at random and recorded with the plan)")
		out        = fs.String("o", "", "also write the plan to this file: .csv (Excel, Chinese headers) or .json")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *screening == "" || *inspectors == "" {
		return errors.New("--screening and --inspectors are required")
	}
	env, err := openInspect(ctx, mf, *jobsDB, true)
	if err != nil {
		return err
	}
	defer env.close()
	o := inspection.DrawOptions{Inspectors: splitList(*inspectors), InspectorsPerFirm: *perFirm}
	if *seed >= 0 {
		s := uint64(*seed)
		o.Seed = &s
	}
	plan, err := env.svc.Draw(ctx, env.p, *screening, o)
	if err != nil {
		return err
	}
	var tiers []string
	for _, t := range plan.Tiers {
		tiers = append(tiers, fmt.Sprintf("%s %d of %d at %g", t.Tier, t.Drawn, t.Companies, t.SamplingRatio))
	}
	fmt.Fprintf(stdout, "plan %d from screening %s, seed %d: %d firms (%s), %d inspectors, %d per firm\n", plan.ID, plan.Screening, plan.Seed,
		len(plan.Items), strings.Join(tiers, ", "), len(plan.Inspectors), plan.InspectorsPerFirm)
	if *out != "" {
		return exportPlan(ctx, env, plan.ID, *out, stdout)
	}
	return nil
}

func exportPlan(ctx context.Context, env *inspectEnv, id int64, file string, stdout io.Writer) error {
	format := strings.TrimPrefix(strings.ToLower(file[strings.LastIndex(file, ".")+1:]), ".")
	if format != "csv" && format != "json" {
		return fmt.Errorf("-o %s: name a .csv or .json file", file)
	}
	data, _, err := env.svc.Export(ctx, env.p, id, format)
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", file, len(data))
	return nil
}

func runInspectResults(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect results", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mf := addMetaFlags(fs, true)
	var (
		plan = fs.Int64("plan", 0, "plan id (required)")
		out  = fs.String("o", "", "write the plan to this file instead: .csv (Excel, Chinese headers) or .json")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *plan <= 0 {
		return errors.New("--plan is required")
	}
	env, err := openInspect(ctx, mf, "", false)
	if err != nil {
		return err
	}
	defer env.close()
	if *out != "" {
		return exportPlan(ctx, env, *plan, *out, stdout)
	}
	p, err := env.svc.Get(ctx, env.p, *plan)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPANY\tTIER\tPROBABILITY\tINSPECTORS\tDATE\tOUTCOME\tCATEGORY\tREVISION")
	done := 0
	for _, it := range p.Items {
		date, outcome, cat, rev := "-", "-", "", ""
		if r := it.Result; r != nil {
			date, outcome, cat, rev = r.Date, r.Outcome, r.Category, fmt.Sprint(r.Revision)
			done++
		}
		fmt.Fprintf(tw, "%s\t%s\t%.4f\t%s\t%s\t%s\t%s\t%s\n", it.Company, it.Tier, it.Probability, strings.Join(it.Inspectors, ","), date, outcome, cat, rev)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "plan %d (screening %s, seed %d): %d of %d firms have a result\n", p.ID, p.Screening, p.Seed, done, len(p.Items))
	return nil
}

func runInspectRecord(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mf := addMetaFlags(fs, true)
	cats := make([]string, len(inspection.Categories))
	for i, c := range inspection.Categories {
		cats[i] = c.ID + " (" + c.NameZH + ")"
	}
	var (
		plan       = fs.Int64("plan", 0, "plan id (required)")
		company    = fs.String("company", "", "unified social credit code of the firm inspected (required)")
		outcome    = fs.String("outcome", "", "no_problem, problem or rectify (required)")
		category   = fs.String("category", "", "category of the problem found: "+strings.Join(cats, ", "))
		date       = fs.String("date", "", "day of the inspection, YYYY-MM-DD (required)")
		inspector  = fs.String("inspector", "", "inspector who inspected, one of the firm's team (required)")
		note       = fs.String("note", "", "free-text note")
		correction = fs.Bool("correction", false, "replace the recorded result with a new revision")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *plan <= 0 || *company == "" || *outcome == "" || *date == "" || *inspector == "" {
		return errors.New("--plan, --company, --outcome, --date and --inspector are required")
	}
	env, err := openInspect(ctx, mf, "", false)
	if err != nil {
		return err
	}
	defer env.close()
	r, err := env.svc.Record(ctx, env.p, *plan, inspection.ResultInput{Company: *company, Outcome: *outcome, Category: *category, Date: *date,
		Inspector: *inspector, Note: *note, Correction: *correction})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "recorded %s of %s in plan %d (revision %d, inspected %s, arrived %s): %s\n", r.Outcome, r.Company, r.Plan, r.Revision, r.Date, r.Arrival, r.Key)
	return nil
}

func runInspectHitRate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect hit-rate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mf := addMetaFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	env, err := openInspect(ctx, mf, "", false)
	if err != nil {
		return err
	}
	defer env.close()
	hr, err := env.svc.HitRates(ctx, env.p)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAN\tDRAWN\tTIER\tCOMPANIES\tDRAWN FIRMS\tINSPECTED\tFOUND\tHIT RATE")
	row := func(plan, drawn string, r inspection.Rate) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", plan, drawn, r.Tier, r.Companies, r.Drawn, r.Inspected, r.Found, pct(r.HitRate))
	}
	for _, p := range hr.Plans {
		for _, r := range append(p.Tiers, p.Overall) {
			row(fmt.Sprint(p.Plan), p.DrawnAt.Format("2006-01-02"), r)
		}
	}
	for _, r := range append(hr.Tiers, hr.Overall) {
		row("all", "-", r)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lift := "-"
	if hr.Lift != nil {
		lift = fmt.Sprintf("%.2f×", *hr.Lift)
	}
	fmt.Fprintf(stdout, "%d plans: hit rate %s against a random baseline of %s (lift %s)\n%s\n", len(hr.Plans), pct(hr.Overall.HitRate), pct(hr.Baseline), lift, hr.Method)
	return nil
}

func pct(f *float64) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", *f*100)
}
