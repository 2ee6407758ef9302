package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/joint"
	"github.com/xinyi-platform/xinyi/lab"
	labaccess "github.com/xinyi-platform/xinyi/lab/access"
	labfeatures "github.com/xinyi-platform/xinyi/lab/features"
	labjobs "github.com/xinyi-platform/xinyi/lab/jobs"
	labjoint "github.com/xinyi-platform/xinyi/lab/joint"
	labregistry "github.com/xinyi-platform/xinyi/lab/registry"
	labserving "github.com/xinyi-platform/xinyi/lab/serving"
	labtraining "github.com/xinyi-platform/xinyi/lab/training"
	"github.com/xinyi-platform/xinyi/lab/trainjobs"
	"github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/reports"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/modeldrift"
	"github.com/xinyi-platform/xinyi/serving/portfolio"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

func init() {
	register(command{name: "lab", summary: "serve the lab web console (indicators, samples, training, models, approvals) at /lab/", run: runLab})
}

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		storeDir = fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set")
		dsn      = fs.String("db", "", "metadata database DSN (default sqlite file <store>/.xinyi/xinyi.db)")
		addr     = fs.String("addr", "127.0.0.1:8070", "HTTP listen address")
		samples  = fs.String("samples", "", "folder of the public data sets offered as training samples (taiwan/, gmsc/, lightgbm-binary/); empty: none")
		demo     = fs.Bool("demo-logins", false, "create the demo institutions and users if missing and print a fresh API key for each")
		secure   = fs.Bool("secure-cookies", false, "mark cookies Secure (when a TLS proxy fronts the console)")
		lang     = fs.String("lang", "zh", "default language: zh or en")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *lang != "zh" && *lang != "en" {
		return fmt.Errorf("-lang %q is not zh or en", *lang)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	data, err := publicDataSets(*samples)
	if err != nil {
		return err
	}
	pl, err := openPlatform(ctx, *storeDir, *dsn, data, logger)
	if err != nil {
		return err
	}
	defer pl.Close()
	console, closeConsole, err := newConsole(consoleDeps{store: pl.store, acc: pl.acc, log: pl.log, cat: pl.cat, reg: pl.reg, data: data,
		secure: *secure, lang: *lang, logger: logger})
	if err != nil {
		return err
	}
	defer closeConsole()
	mux := http.NewServeMux()
	mux.Handle("/lab/", console)
	mux.Handle("/{$}", http.RedirectHandler("/lab/", http.StatusFound))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/lab/"
	if *demo {
		if err := printDemoLogins(ctx, pl.acc, "xinyi lab", stdout); err != nil {
			ln.Close()
			return err
		}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "lab console at %s (%d indicators, %d samples; store %s)\n", url, len(pl.cat.Indicators()), len(data), *storeDir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// printDemoLogins creates the demo institutions and users if missing and prints a
// fresh API key for each.
func printDemoLogins(ctx context.Context, acc *access.Store, actor string, stdout io.Writer) error {
	logins, err := labaccess.EnsureLogins(ctx, acc, actor, labaccess.DemoLogins())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "demo logins (API keys; paste one into the sign-in page):")
	for _, l := range logins {
		roles := make([]string, len(l.Roles))
		for i, r := range l.Roles {
			roles[i] = string(r)
		}
		fmt.Fprintf(stdout, "  %-15s %-15s %s\n", l.User, strings.Join(roles, ","), l.Key)
	}
	return nil
}

// publicDataSets lists the public data sets found under dir (taiwan/, gmsc/,
// lightgbm-binary/) that the console offers as training samples.
func publicDataSets(dir string) ([]labtraining.DataSet, error) {
	if dir == "" {
		return nil, nil
	}
	var data []labtraining.DataSet
	for _, d := range labtraining.PublicDataSets(dir) {
		if _, err := os.Stat(d.Path); err == nil {
			data = append(data, d)
		}
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("-samples %s holds none of taiwan/, gmsc/, lightgbm-binary/", dir)
	}
	return data, nil
}

// consoleDeps is what the lab console is built from. serve passes its screener and
// assessment service as well, which adds screenings and company profiles (with the
// guarantee circle when graph is set).
type consoleDeps struct {
	store    blob.Store
	acc      *access.Store
	log      *audit.Log
	cat      *features.Catalog
	reg      *registry.Registry
	data     []labtraining.DataSet                                 // public data sets offered for training; nil: no trainer
	screener *serving.Screener                                     // nil: no screenings
	svc      *serving.Service                                      // nil: no company profiles
	graph    *features.GuaranteeNetwork                            // nil: profiles without the guarantee circle
	dir      *datasets.Directory                                   // nil: profiles name companies by code
	jobs     *jobs.Queue                                           // nil: no job list
	risk     *riskindex.Cache                                      // nil: no risk page
	drift    func(ctx context.Context) (*modeldrift.Report, error) // nil: no drift on model pages
	// portfolio, warnings and authz make the post-loan and inbox pages (warnings
	// nil: none).
	portfolio portfolio.Sources
	warnings  *warnings.Store
	authz     labserving.Authorizer
	endpoints *webhooks.Endpoints     // nil: no alert-delivery page
	subs      *warnings.Subscriptions // with endpoints
	reports   *reports.Service        // nil: no reports page
	cases     *cases.Service          // nil: no objection and repair pages
	financing *financing.Store        // nil: no financing pages
	secure    bool
	lang      string
	logger    *slog.Logger
}

// newConsole wires the console over the platform's packages; the returned func stops
// its background jobs.
func newConsole(d consoleDeps) (*lab.Server, func(), error) {
	auth := labaccess.New(d.acc, d.log)
	models := labregistry.New(d.reg)
	built := labfeatures.NewSamples(d.store, d.cat)
	trainer := labtraining.New(labtraining.Options{Data: d.data, Store: d.store, Catalog: d.cat, Models: models})
	stop := func() { trainer.Close(); built.Close() }
	opts := lab.Options{Auth: auth, Authorizer: auth, Indicators: labfeatures.NewIndicators(d.cat), Statistics: labfeatures.NewStatistics(d.store, d.cat),
		Samples: built, Builder: built, Models: models, FeatureSets: models, SecureCookies: d.secure, DefaultLang: d.lang, Logger: d.logger}
	opts.Samples, opts.Trainer = lab.JoinSamples{trainer, built}, trainer
	if d.jobs != nil {
		// Runs and builds are jobs of the lab queue: every console sees them, and a
		// worker of that queue (xinyi worker --queues lab=1) does them.
		opts.Trainer, opts.Builder = trainjobs.NewTrainer(d.jobs, trainer, d.store), trainjobs.NewBuilder(d.jobs, built)
	}
	if d.screener != nil {
		opts.Screenings = labserving.NewScreenings(d.screener, d.store).WithExplorer(d.dir, d.cat)
	}
	if d.svc != nil {
		opts.Companies = labserving.NewCompanies(d.svc, d.cat).WithDirectory(d.dir)
	}
	if d.graph != nil {
		opts.Graphs = labfeatures.NewGraphs(d.graph)
	}
	if d.jobs != nil {
		opts.Jobs = labjobs.New(d.jobs)
	}
	// The companies' own door and banks' consent requests, with companies named
	// from the business registry when the directory is loaded.
	portal := auth.Portal(labaccess.DirectoryNames(d.dir))
	opts.Portal, opts.ConsentAsks = portal, portal
	opts.Sources = labfeatures.NewSources(d.store)
	if d.risk != nil {
		opts.Risk = labserving.NewRisk(d.risk).WithTopics(d.store)
	}
	if d.drift != nil {
		opts.Drift = labserving.NewDrift(d.drift, d.cat)
	}
	if d.warnings != nil && d.authz != nil {
		lib, err := warnings.DefaultLibrary()
		if err != nil {
			stop()
			return nil, nil, err
		}
		opts.Portfolio = labserving.NewPortfolio(d.portfolio, d.warnings, lib, d.authz)
		var names func(string) string
		if d.dir != nil {
			names = func(code string) string { r, _ := d.dir.Company(code); return r.Name }
		}
		opts.RegionWarnings = labserving.NewRegionWarnings(d.warnings, lib, names)
	}
	if d.endpoints != nil && d.subs != nil && d.authz != nil {
		var names func(string) string
		if d.dir != nil {
			names = func(code string) string { r, _ := d.dir.Company(code); return r.Name }
		}
		opts.Subscriptions = labserving.NewSubscriptions(d.endpoints, d.subs, d.portfolio, d.authz, names)
	}
	if d.reports != nil {
		opts.Reports = labserving.NewReports(d.reports)
	}
	if d.cases != nil {
		var names func(string) string
		if d.dir != nil {
			names = func(code string) string { r, _ := d.dir.Company(code); return r.Name }
		}
		opts.Cases = labserving.NewCaseRecords(labserving.NewCases(d.cases, names), cases.RawRecords{Store: d.store}, access.NewAuthorizer(d.acc, d.log))
	}
	if d.financing != nil {
		var names func(string) string
		if d.dir != nil {
			names = func(code string) string { r, _ := d.dir.Company(code); return r.Name }
		}
		fin := labserving.NewFinancing(d.financing, d.acc, names)
		if d.dir != nil {
			districts := map[string]string{}
			for _, code := range d.dir.Codes() {
				r, _ := d.dir.Company(code)
				districts[r.District] = r.DistrictName
			}
			fin.District = func(code string) string { return districts[code] }
		}
		opts.Financing = fin
	}
	// Joint modelling on the banks' own label files, in their private prefixes.
	key, err := joint.PseudonymKey(context.Background(), d.store)
	if err != nil {
		stop()
		return nil, nil, err
	}
	jsvc, err := joint.New(joint.Options{Store: d.store, Registry: d.reg, Consents: d.acc, Authorizer: access.NewAuthorizer(d.acc, d.log),
		PseudonymKey: key, Catalog: d.cat})
	if err != nil {
		stop()
		return nil, nil, err
	}
	if opts.Joint, err = labjoint.New(jsvc, labjoint.Options{Catalog: d.cat}); err != nil {
		stop()
		return nil, nil, err
	}
	console, err := lab.New(opts)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return console, stop, nil
}
