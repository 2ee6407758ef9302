package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/features/matjobs"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/progress"
)

func init() {
	register(command{name: "features list", summary: "list the indicators of the catalog or of one feature set", run: runFeaturesList})
	register(command{name: "features show", summary: "show one indicator or feature set, with its latest statistics", run: runFeaturesShow})
	register(command{name: "features materialize", summary: "materialize a feature set as of dates into offline snapshots", run: runFeaturesMaterialize})
	register(command{name: "features refresh", summary: "bring a feature set's stored snapshots up to date after one ingestion batch (only the companies and indicators it touched)", run: runFeaturesRefresh})
	register(command{name: "features stats", summary: "print the statistics of a stored snapshot", run: runFeaturesStats})
	register(command{name: "features sample", summary: "build a point-in-time training sample from snapshots and labels", run: runFeaturesSample})
	register(command{name: "features sample-labels", summary: "build a bank's private sample from its own label file (code, date, label) joined with the snapshots as of each date", run: runFeaturesSampleLabels})
}

func parseDates(s string) ([]time.Time, error) {
	var out []time.Time
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, part)
		if err != nil {
			return nil, fmt.Errorf("date %q is not YYYY-MM-DD", part)
		}
		out = append(out, t)
	}
	return out, nil
}

func parseDate(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q is not YYYY-MM-DD", name, s)
	}
	return t, nil
}

func runFeaturesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("features list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := fs.String("set", "", "only the indicators of this feature set (name or name/vN)")
	dim := fs.String("dimension", "", "only this dimension (capital, operating, profitability, solvency, growth, compliance, network)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cat, err := features.DefaultCatalog()
	if err != nil {
		return err
	}
	inds := cat.Indicators()
	if *set != "" {
		s, err := cat.Set(*set, 0)
		if err != nil {
			return err
		}
		inds = cat.SetIndicators(s)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDIMENSION\tAGG\tWINDOW\tDIRECTION\tSENSITIVITY\tNAME")
	n := 0
	for _, ind := range inds {
		if *dim != "" && string(ind.Dimension) != *dim {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", ind.ID, ind.Dimension, ind.Aggregation, ind.Window, ind.Direction, ind.Sensitivity, ind.NameZH)
		n++
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d indicators; feature sets:", n)
	for _, s := range cat.Sets() {
		fmt.Fprintf(stdout, " %s (%d)", s.Key(), len(s.Indicators))
	}
	fmt.Fprintln(stdout)
	return nil
}

func runFeaturesShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("features show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("store", "xinyi-data", "object store folder (for the latest statistics)")
	set := fs.String("set", "", "feature set whose latest snapshot statistics to show with the indicator")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: xinyi features show [--set S] <indicator id | set name>")
	}
	cat, err := features.DefaultCatalog()
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	ind, err := cat.Indicator(name)
	if err != nil {
		s, serr := cat.Set(name, 0)
		if serr != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s  %s (label %s)\n", s.Key(), s.Description, s.Label)
		for _, in := range cat.SetIndicators(s) {
			fmt.Fprintf(stdout, "  %-42s %s\n", in.ID, in.NameZH)
		}
		return nil
	}
	src, _ := cat.Source(ind.Source())
	fmt.Fprintf(stdout, "%s\n  %s / %s\n  %s\n", ind.ID, ind.NameZH, ind.NameEN, ind.Description)
	fmt.Fprintf(stdout, "  dimension    %s %s\n  source       %s (%s, %s)\n  column       %s\n  aggregation  %s over %d months\n",
		ind.Dimension, features.DimensionZH(ind.Dimension), strings.Join(ind.Sources, ", "), src.NameZH, src.Department, ind.Column, ind.Aggregation, ind.Window)
	fmt.Fprintf(stdout, "  unit         %s\n  direction    %s\n  sensitivity  %s\n  defined at   %s\n", ind.Unit, ind.Direction, ind.Sensitivity, ind.Pos)
	if *set == "" {
		return nil
	}
	s, err := cat.Set(*set, 0)
	if err != nil {
		return err
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	days, err := features.ListSnapshots(ctx, store, s.Name, s.Version)
	if err != nil {
		return err
	}
	if len(days) == 0 {
		return fmt.Errorf("no snapshot of %s in %s", s.Key(), *dir)
	}
	m, err := features.ReadManifest(ctx, store, s.Name, s.Version, days[len(days)-1])
	if err != nil {
		return err
	}
	for _, st := range m.Stats {
		if st.ID == ind.ID {
			printStats(stdout, m, []features.IndicatorStats{st})
			return nil
		}
	}
	return fmt.Errorf("%s is not in %s", ind.ID, s.Key())
}

// bars draws one progress bar per materialization stage.
type bars struct {
	w  io.Writer
	mu sync.Mutex
	m  map[string]*progress.Bar
}

func (b *bars) add(stage string, done, total int64) {
	b.mu.Lock()
	bar, ok := b.m[stage]
	if !ok {
		bar = progress.New(b.w, stage, total)
		b.m[stage] = bar
	}
	b.mu.Unlock()
	bar.Add(done)
}

func (b *bars) done() {
	for _, bar := range b.m {
		bar.Done()
	}
}

func runFeaturesMaterialize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("features materialize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("store", "xinyi-data", "object store: local folder, or s3://bucket (see xinyi generate) holding raw/ and receiving features/")
	set := fs.String("set", "", "feature set, name or name/vN (required)")
	asof := fs.String("asof", "", "snapshot dates, comma separated YYYY-MM-DD (required)")
	force := fs.Bool("force", false, "recompute snapshots that already exist")
	workers := fs.Int("workers", 0, "goroutines (default GOMAXPROCS)")
	memory := fs.Int64("memory-mb", 0, "approximate memory budget in MiB for raw columns and computed values (default 2048)")
	shards := fs.Int("shards", 1, "split the companies into this many shards run as durable jobs by xinyi worker --queues "+matjobs.QueueName+"=N (more than 1 implies --queue)")
	queue := fs.Bool("queue", false, "run as durable jobs (plan, shards, commit) on the "+matjobs.QueueName+" queue instead of in this process")
	detach := fs.Bool("detach", false, "with --queue or --shards: print the plan job's id and return without waiting")
	dsn := fs.String("db", "", "metadata database DSN (only to find a PostgreSQL jobs database)")
	jobsDB := fs.String("jobs-db", "", jobsDBUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *set == "" || *asof == "" {
		return errors.New("--set and --asof are required")
	}
	dates, err := parseDates(*asof)
	if err != nil {
		return err
	}
	if *shards < 1 {
		return fmt.Errorf("--shards %d: want 1 or more", *shards)
	}
	if *shards > 1 || *queue {
		cat, err := features.DefaultCatalog()
		if err != nil {
			return err
		}
		jdsn, err := jobsDSN(*dir, *dsn, *jobsDB)
		if err != nil {
			return err
		}
		res, err := enqueueMaterialize(ctx, jdsn, cat, matjobs.Request{Set: *set, AsOf: dates, Shards: *shards, Force: *force}, *detach, stdout, stderr)
		if err != nil || res == nil {
			return err
		}
		printMaterialized(stdout, res)
		return nil
	}
	if *detach {
		return errors.New("--detach needs --queue or --shards above 1")
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	// Keep the Go heap near the budget (the collector otherwise lets it grow to twice
	// the live data) unless the operator set GOMEMLIMIT.
	if os.Getenv("GOMEMLIMIT") == "" {
		budget := *memory << 20
		if budget <= 0 {
			budget = 2 << 30
		}
		debug.SetMemoryLimit(budget * 3 / 2)
	}
	b := &bars{w: stderr, m: map[string]*progress.Bar{}}
	res, err := features.Materialize(ctx, store, features.Options{Set: *set, AsOf: dates, Force: *force, Workers: *workers,
		MemoryBudget: *memory << 20, Progress: b.add})
	b.done()
	if err != nil {
		return err
	}
	printMaterialized(stdout, res)
	return nil
}

func runFeaturesRefresh(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("features refresh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("store", "xinyi-data", "object store: local folder, or s3://bucket")
	set := fs.String("set", "", "feature set, name or name/vN (required; repeat the command for each set)")
	source := fs.String("source", "", "raw source of the batch (required)")
	batch := fs.String("batch", "", "id of the committed batch, as xinyi ingest printed it (required)")
	asof := fs.String("asof", "", "limit to these stored dates, comma separated YYYY-MM-DD (default: every stored date the batch reaches)")
	queue := fs.Bool("queue", false, "enqueue it as a durable job for xinyi worker --queues "+matjobs.QueueName+"=N and return")
	dsn := fs.String("db", "", "metadata database DSN (only to find a PostgreSQL jobs database)")
	jobsDB := fs.String("jobs-db", "", jobsDBUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *set == "" || *source == "" || *batch == "" {
		return errors.New("--set, --source and --batch are required")
	}
	if *queue {
		if *asof != "" {
			return errors.New("--asof cannot be used with --queue: the job refreshes every stored date the batch reaches")
		}
		cat, err := features.DefaultCatalog()
		if err != nil {
			return err
		}
		jdsn, err := jobsDSN(*dir, *dsn, *jobsDB)
		if err != nil {
			return err
		}
		q, err := jobs.Open(ctx, jobs.Options{DSN: jdsn})
		if err != nil {
			return err
		}
		defer q.Close()
		ins, err := matjobs.EnqueueRefresh(ctx, q, cat, *set, *source, *batch)
		if err != nil {
			return err
		}
		how := "enqueued as"
		if ins.Duplicate {
			how = "already enqueued as"
		}
		fmt.Fprintf(stdout, "refresh of %s after %s batch %s %s job %d on the %q queue\n", *set, *source, *batch, how, ins.ID, matjobs.QueueName)
		return nil
	}
	var dates []time.Time
	if *asof != "" {
		var err error
		if dates, err = parseDates(*asof); err != nil {
			return err
		}
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	res, err := features.Refresh(ctx, store, features.RefreshOptions{Options: features.Options{Set: *set, AsOf: dates}, Source: *source, Batch: *batch})
	if err != nil {
		return err
	}
	var days []string
	for _, s := range res.Snapshots {
		days = append(days, s.AsOf.String())
	}
	how := "patched the touched companies' " + *source + " indicators"
	if len(res.Columns) > 0 {
		how += " of " + strings.Join(res.Columns, ", ")
	}
	if res.Full {
		how = "materialized whole (the batch's source reaches every company)"
	}
	switch {
	case res.Unused:
		how = "the set reads nothing of this source"
	case len(days) == 0:
		how = "no stored snapshot is as of the batch's arrival or later"
	}
	fmt.Fprintf(stdout, "refreshed %s/v%d after %s batch %s: %d companies touched, %d snapshots [%s] %s in %s\n",
		res.Set, res.Version, *source, *batch, res.Touched, len(days), strings.Join(days, " "), how, res.Elapsed.Round(time.Millisecond))
	return nil
}

// printMaterialized prints the one-line summary of a materialization.
func printMaterialized(stdout io.Writer, res *features.Result) {
	var made, skipped int
	var rows int64
	for _, s := range res.Snapshots {
		if s.Skipped {
			skipped++
		} else {
			made++
			rows += s.Rows
		}
	}
	fmt.Fprintf(stdout, "materialized %s/v%d: %d snapshots (%d already existed), %d rows, %d companies, %d raw records from %d files in %s (%.0f records/s, %d shards)\n",
		res.Set, res.Version, made, skipped, rows, res.Companies, res.RawRecords, res.RawFiles, res.Elapsed.Round(time.Millisecond),
		float64(res.RawRecords)/max(res.Elapsed.Seconds(), 1e-9), res.Shards)
}

func printStats(w io.Writer, m *features.Manifest, stats []features.IndicatorStats) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s/v%d as of %s, %d rows\n", m.Set, m.Version, m.AsOf, m.Rows)
	fmt.Fprintln(tw, "INDICATOR\tCOVERAGE\tMEAN\tP50\tPSI\tIV\tAUC")
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.4g", *p)
	}
	for _, st := range stats {
		p50 := "-"
		if len(st.Quantiles) > 3 {
			p50 = fmt.Sprintf("%.4g", st.Quantiles[3])
		}
		fmt.Fprintf(tw, "%s\t%.1f%%\t%s\t%s\t%s\t%s\t%s\n", st.ID, 100*st.Coverage, f(st.Mean), p50, f(st.PSI), f(st.IV), f(st.AUC))
	}
	tw.Flush()
}

func runFeaturesStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("features stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("store", "xinyi-data", "object store folder")
	set := fs.String("set", "", "feature set, name or name/vN (required)")
	asof := fs.String("asof", "", "snapshot date YYYY-MM-DD (default: the latest)")
	sortBy := fs.String("sort", "", "order rows by iv, auc, psi or coverage (descending)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *set == "" {
		return errors.New("--set is required")
	}
	cat, err := features.DefaultCatalog()
	if err != nil {
		return err
	}
	s, err := cat.Set(*set, 0)
	if err != nil {
		return err
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	var d features.Day
	if *asof != "" {
		t, err := parseDate("asof", *asof)
		if err != nil {
			return err
		}
		d = features.DayOf(t)
	} else {
		days, err := features.ListSnapshots(ctx, store, s.Name, s.Version)
		if err != nil {
			return err
		}
		if len(days) == 0 {
			return fmt.Errorf("no snapshot of %s in %s; run 'xinyi features materialize' first", s.Key(), *dir)
		}
		d = days[len(days)-1]
	}
	m, err := features.ReadManifest(ctx, store, s.Name, s.Version, d)
	if err != nil {
		return err
	}
	stats := m.Stats
	key := func(st features.IndicatorStats) float64 {
		var p *float64
		switch *sortBy {
		case "iv":
			p = st.IV
		case "auc":
			p = st.AUC
		case "psi":
			p = st.PSI
		case "coverage":
			return st.Coverage
		}
		if p == nil {
			return -1
		}
		return *p
	}
	if *sortBy != "" {
		sort.SliceStable(stats, func(i, j int) bool { return key(stats[i]) > key(stats[j]) })
	}
	printStats(stdout, m, stats)
	return nil
}

func runFeaturesSample(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("features sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("store", "xinyi-data", "object store folder")
	name := fs.String("name", "", "sample name (required)")
	set := fs.String("set", "", "feature set, name or name/vN (required)")
	label := fs.String("label", "", "label: default_12m, violation_12m or limit (default: the set's label)")
	from := fs.String("from", "", "first snapshot date YYYY-MM-DD (required)")
	to := fs.String("to", "", "last snapshot date YYYY-MM-DD (required)")
	validFrom := fs.String("valid-from", "", "snapshots from this date go to valid (default: the second-to-last)")
	testFrom := fs.String("test-from", "", "snapshots from this date go to test (default: the last)")
	buildAt := fs.String("build-at", "", "knowledge date: nothing known after it is used (default: today)")
	all := fs.Bool("all-companies", false, "keep every company instead of the label's population at risk (default: borrowers for default_12m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || *set == "" || *from == "" || *to == "" {
		return errors.New("--name, --set, --from and --to are required")
	}
	opts := features.SampleOptions{Name: *name, Set: *set, Label: *label, AllCompanies: *all}
	var err error
	for _, p := range []struct {
		flag string
		val  string
		dst  *time.Time
	}{{"from", *from, &opts.From}, {"to", *to, &opts.To}, {"valid-from", *validFrom, &opts.ValidFrom}, {"test-from", *testFrom, &opts.TestFrom}, {"build-at", *buildAt, &opts.BuildAt}} {
		if *p.dst, err = parseDate(p.flag, p.val); err != nil {
			return err
		}
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	bar := progress.New(stderr, "sample "+*name, 1)
	m, err := features.BuildSample(ctx, store, opts)
	bar.Add(1)
	bar.Done()
	if err != nil {
		return err
	}
	rate := func(s features.SampleSplit) string {
		if s.PositiveRate != nil {
			return fmt.Sprintf("%.2f%% positive", 100**s.PositiveRate)
		}
		if s.LabelMean != nil {
			return fmt.Sprintf("mean %.4g", *s.LabelMean)
		}
		return "empty"
	}
	fmt.Fprintf(stdout, "sample %s v%d from %s/v%d, label %s: train %d rows (%s), valid %d (%s), test %d (%s) under %s\n",
		m.Name, m.Version, m.Set, m.SetVersion, m.Label.Name, m.Splits["train"].Rows, rate(m.Splits["train"]),
		m.Splits["valid"].Rows, rate(m.Splits["valid"]), m.Splits["test"].Rows, rate(m.Splits["test"]), features.SamplePrefix(m.Name, m.Version))
	return nil
}

func runFeaturesSampleLabels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("features sample-labels", stderr)
	mf := addMetaFlags(fs, false)
	bank := fs.String("bank", "", "the institution whose label file it is; the sample is written under its private prefix banks/<id>/ (required)")
	name := fs.String("name", "", "sample name (required)")
	set := fs.String("set", "", "feature set joined, name or name/vN (required)")
	labels := fs.String("labels", "labels/financing.csv", "the label file (CSV: code, date, label): a key under the bank's prefix, or a local file with --labels-file")
	file := fs.Bool("labels-file", false, "--labels names a local file instead of a key under the bank's prefix")
	label := fs.String("label", "default_12m", "name of the label column")
	kind := fs.String("kind", "default", "outcome kind: default (models of the pd task) or violation")
	horizon := fs.Int("horizon", 12, "months after its date an observation's outcome covers")
	minRows := fs.Int("min-rows", 200, "refuse a file with fewer joined rows (a smaller one could single out companies)")
	minPos := fs.Int("min-positives", 20, "refuse a file with fewer positives")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, r := range [][2]string{{"bank", *bank}, {"name", *name}, {"set", *set}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	store, closeStore, err := openGenerateStore(ctx, *mf.store)
	if err != nil {
		return err
	}
	defer closeStore()
	db, _, acc, err := openMeta(ctx, mf)
	if err != nil {
		return err
	}
	defer db.Close()
	inst, err := acc.InstitutionByName(ctx, *bank)
	if err != nil {
		return fmt.Errorf("--bank %q: %w", *bank, err)
	}
	prefix := "banks/" + strconv.FormatInt(inst.ID, 10) + "/"
	dest, err := blob.WithPrefix(store, prefix)
	if err != nil {
		return err
	}
	var data []byte
	src := features.FileRef{Key: prefix + *labels}
	if *file {
		if st, err := os.Stat(*labels); err != nil {
			return fmt.Errorf("--labels: %w", err)
		} else if st.Size() > features.MaxLabelFileBytes {
			return fmt.Errorf("--labels %s has %d bytes; a label file may have %d MiB at most (nothing was written)", *labels, st.Size(), features.MaxLabelFileBytes>>20)
		}
		if data, err = os.ReadFile(*labels); err != nil {
			return fmt.Errorf("--labels: %w", err)
		}
		src = features.FileRef{Key: *labels, SHA256: blob.SHA256Hex(data), Size: int64(len(data))}
	} else {
		var info blob.Info
		if info, err = dest.Stat(ctx, *labels); err == nil && info.Size > features.MaxLabelFileBytes {
			return fmt.Errorf("--labels %s%s has %d bytes; a label file may have %d MiB at most (nothing was written)", prefix, *labels, info.Size, features.MaxLabelFileBytes>>20)
		}
		if data, info, err = blob.ReadAll(ctx, dest, *labels); err != nil {
			return fmt.Errorf("--labels %s%s: %w", prefix, *labels, err)
		}
		src.SHA256, src.Size = info.SHA256, info.Size
	}
	obs, err := features.ReadObservations(bytes.NewReader(data))
	if err != nil {
		return err
	}
	m, rep, err := features.BuildObservedSample(ctx, store, dest, features.ObservedOptions{Name: *name, Set: *set, Label: *label, Kind: *kind,
		Horizon: *horizon, Observations: obs, Source: src, MinRows: *minRows, MinPositives: *minPos})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sample %s v%d of %s from %s (sha256 %.12s): %d of %d rows joined (%d before the first snapshot, %d companies not in it), %d positives; train %d, valid %d, test %d rows under %s%s\n",
		m.Name, m.Version, inst.Name, src.Key, src.SHA256, rep.Joined, rep.Rows, rep.BeforeFirst, rep.UnknownCompany, rep.Positives,
		m.Splits["train"].Rows, m.Splits["valid"].Rows, m.Splits["test"].Rows, prefix, features.SamplePrefix(m.Name, m.Version))
	return nil
}
