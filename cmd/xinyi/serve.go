package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	ingesthttp "github.com/xinyi-platform/xinyi/datasets/ingest/httpapi"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/internal/telemetry"
	labtraining "github.com/xinyi-platform/xinyi/lab/training"
	"github.com/xinyi-platform/xinyi/lab/trainjobs"
	"github.com/xinyi-platform/xinyi/reports"
	reportshttp "github.com/xinyi-platform/xinyi/reports/httpapi"
	"github.com/xinyi-platform/xinyi/serving"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/server"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

func init() {
	register(command{name: "serve", summary: "serve credit assessments, OIP v2 (HTTP and gRPC) and screening jobs", run: runServe})
}

// parseTaskMap reads "pd=a,violation=b,limit=c".
func parseTaskMap(flagName, s string) (map[serving.Task]string, error) {
	out := map[serving.Task]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		t := serving.Task(strings.TrimSpace(k))
		if !ok || !t.Valid() || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("--%s: %q is not task=value with task pd, violation or limit", flagName, part)
		}
		out[t] = strings.TrimSpace(v)
	}
	for _, t := range serving.Tasks {
		if _, ok := out[t]; !ok {
			return nil, fmt.Errorf("--%s names no %s", flagName, t)
		}
	}
	return out, nil
}

// servingSets resolves "name/vN" (or a bare name: the latest version) per task
// through the catalog.
func servingSets(cat *features.Catalog, spec string) (map[serving.Task]serving.FeatureSet, error) {
	m, err := parseTaskMap("sets", spec)
	if err != nil {
		return nil, err
	}
	out := map[serving.Task]serving.FeatureSet{}
	for t, ref := range m {
		r, err := features.ParseSetRef(ref)
		if err != nil {
			return nil, fmt.Errorf("--sets: %w", err)
		}
		if out[t], err = servingfeatures.SetFromCatalog(cat, r.Name, r.Version); err != nil {
			return nil, fmt.Errorf("--sets %s: %w", ref, err)
		}
	}
	return out, nil
}

func readPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return policy.Default()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return policy.Parse(b)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		storeDir   = fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set")
		dsn        = fs.String("db", "", "metadata database DSN (default sqlite file <store>/.xinyi/xinyi.db)")
		httpAddr   = fs.String("http", "127.0.0.1:8080", "HTTP listen address (empty: off)")
		grpcAddr   = fs.String("grpc", "127.0.0.1:9090", "gRPC listen address (empty: off)")
		adminAddr  = fs.String("admin", "", "admin listen address: the Go profiler (/debug/pprof/: CPU, heap, mutex, block, trace), /metrics and /healthz, apart from the API (empty: off)")
		certFile   = fs.String("tls-cert", "", "TLS certificate (PEM) for HTTP and gRPC")
		keyFile    = fs.String("tls-key", "", "TLS private key (PEM)")
		policyFile = fs.String("policy", "", "decision policy YAML/JSON (default: the built-in policy)")
		sets       = fs.String("sets", "pd=pd/v1,violation=violation/v1,limit=limit/v1", "feature set of each task")
		models     = fs.String("models", "pd=pd@champion,violation=violation@champion,limit=limit@champion", "registered model@alias of each task")
		serviceKey = fs.String("service-key", os.Getenv("XINYI_SERVICE_KEY"), "API key serving reads the registry with (env XINYI_SERVICE_KEY)")
		rate       = fs.Float64("rate", 500, "requests per second per API key (0: unlimited)")
		burst      = fs.Int("burst", 1000, "burst per API key")
		rateRedis  = fs.String("rate-redis", "", "Redis URL (redis://host:6379/0) where replicas share each API key's rate limit (empty: each process keeps its own)")
		rateClosed = fs.Bool("rate-fail-closed", false, "refuse requests while the --rate-redis server is unreachable (default: allow them, logged and counted)")
		timeout    = fs.Duration("timeout", 2*time.Second, "deadline of each request")
		refresh    = fs.Duration("refresh", 5*time.Minute, "how often the online stores look for a newer snapshot (one that fails to load is retried within seconds and the newest intact one served meanwhile)")
		follow     = fs.Duration("follow", 5*time.Second, "registry poll interval when the change feed cannot wait")
		samples    = fs.String("samples", "", "folder of the public data sets the console offers for training (taiwan/, gmsc/, lightgbm-binary/); empty: none")
		demo       = fs.Bool("demo-logins", false, "create the demo institutions and users if missing and print a fresh API key for each")
		lang       = fs.String("lang", "zh", "default language of the console: zh or en")
		secure     = fs.Bool("secure-cookies", false, "mark console cookies Secure (set when TLS or a TLS proxy fronts the server)")
		jobsDB     = fs.String("jobs-db", "", jobsDBUsage)
		jobWorkers = fs.Int("job-workers", 1, "screenings this server runs at once from the jobs database (0: only enqueue, for `xinyi worker` processes to run)")
		prewarm    = fs.Bool("prewarm", true, "compute every company's TreeSHAP reasons in the background after each snapshot or model change (about 2 KB per company)")
		history    = fs.Bool("score-history", true, "keep the score history current: queue a scoring of the whole region for every new snapshot, champion or policy (run by --job-workers or `xinyi worker --queues scoring=1`)")
		otlp       = fs.String("otlp-endpoint", "", "OTLP/HTTP collector for traces: host:port or http(s)://host:port[/path] (empty: tracing off)")
		otlpPlain  = fs.Bool("otlp-insecure", false, "send traces to a host:port --otlp-endpoint over plain HTTP")
		sample     = fs.Float64("trace-sample", 1, "fraction of new traces sampled, in (0, 1]; a caller's traceparent keeps its own decision")
		allow      = fs.String("webhook-allow", "", "address ranges webhook endpoints may be in although private, loopback or link-local, comma separated CIDRs (an operator's decision)")
		plainHTTP  = fs.Bool("webhook-insecure-http", false, "allow http:// webhook endpoints (tests and loopback demos only)")
		caseSets   = fs.String("case-refresh-sets", "pd,violation,limit,full", "feature sets rematerialized (as jobs) for snapshots dated on or after a record a case corrected or repaired; empty: none")
		batchSets  = fs.String("ingest-refresh-sets", "pd,violation,limit,full", "feature sets whose stored snapshots a durable job refreshes after each batch delivered to /v1/ingest (the batch's companies only); empty: none")
		smsOutbox  = fs.String("sms-outbox", "", "file the one-time codes that bind company accounts are appended to, one line each (the spool of an SMS gateway; the demo's users read it); empty: accounts are bound only by an operator's verification (POST /v1/admin/bindings)")
		consentTTL = fs.Duration("consent-cache", 5*time.Second, "how long a found consent grant answers from memory; a revocation made by another process applies within it, one made through this server (API or console) at once (0: every check reads the database)")
	)
	reportKey := fs.String("report-key", os.Getenv("XINYI_REPORT_KEY"), "Ed25519 key file that signs credit reports at /v1/reports (env XINYI_REPORT_KEY; empty: no reports on this server; make one with 'xinyi report keygen')")
	reportURL := fs.String("report-base-url", "", "public address of the platform printed in reports' QR codes as <url>/v1/reports/{id}/verify (default http://<--http>)")
	reportFont := fs.String("report-font", reports.DefaultFontPath, "CJK TrueType font embedded in credit reports")
	owners := ingestOwnerFlag(fs, "ingest-owner", "source=institution: the department that owns a raw source and may deliver it at POST /v1/ingest/{source} (repeat for each source; none: no ingestion on this server)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *jobWorkers < 0 {
		return fmt.Errorf("--job-workers %d is negative", *jobWorkers)
	}
	if *lang != "zh" && *lang != "en" {
		return fmt.Errorf("--lang %q is not zh or en", *lang)
	}
	// Every line logged for a request carries its request id (and trace id).
	logger := reqid.Logger(slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	tr, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "xinyi", Endpoint: *otlp, Insecure: *otlpPlain, SampleRatio: *sample})
	if err != nil {
		return fmt.Errorf("--otlp-endpoint/--trace-sample: %w", err)
	}
	defer func() {
		c, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer done()
		_ = tr.Shutdown(c)
	}()
	tr.SetGlobal()
	data, err := publicDataSets(*samples)
	if err != nil {
		return err
	}
	pl, err := openPlatform(ctx, *storeDir, *dsn, data, logger)
	if err != nil {
		return err
	}
	defer pl.Close()
	taskSets, err := servingSets(pl.cat, *sets)
	if err != nil {
		return err
	}
	pol, err := readPolicy(*policyFile)
	if err != nil {
		return fmt.Errorf("--policy: %w", err)
	}
	bindings, err := modelBindings(*models)
	if err != nil {
		return err
	}
	if *demo {
		if err := printDemoLogins(ctx, pl.acc, "xinyi serve", stdout); err != nil {
			return err
		}
	}
	if *serviceKey == "" {
		return errors.New("--service-key (or XINYI_SERVICE_KEY) is required: the API key of a platform administrator that reads the registry")
	}
	var tlsConf *tls.Config
	if *certFile != "" || *keyFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	jdsn, err := jobsDSN(*storeDir, *dsn, *jobsDB)
	if err != nil {
		return err
	}
	guard, err := webhookGuard(*allow, *plainHTTP)
	if err != nil {
		return err
	}
	var contacts access.ContactDirectory
	var sender access.Sender
	if *smsOutbox != "" {
		contacts, sender = datasets.NewContacts(pl.store, 0), &access.FileSender{Path: *smsOutbox}
	}
	cd, err := openCaseDoor(ctx, pl, ingesthttp.OwnersByName(pl.acc, owners), *caseSets, 1)
	if err != nil {
		return err
	}
	fd := &finDoor{} // the doors are built before the console, which reads its store
	mounts := map[string]http.Handler{}
	// The department door is built with the server's jobs queue: each committed
	// batch of a source the warning rules watch queues its evaluation at once,
	// and every batch queues the refresh of the snapshots it reaches.
	refreshSets := splitSets(*batchSets)
	ingestDoor := func(pl *platform, d server.Doors) (map[string]http.Handler, func(), error) {
		if len(owners) == 0 {
			return nil, nil, nil
		}
		g := ingest.New(pl.store).WithLocker(ingest.DBLocker(pl.db, ingest.DBLockOptions{})).Listen(ingest.Listeners{
			warnings.BatchListener{Queue: d.Queue}, &batchRefresh{cat: pl.cat, sets: refreshSets, queue: d.Queue}})
		h, err := ingesthttp.New(ingesthttp.Options{Ingester: g, Store: pl.store, Auth: pl.acc,
			Authorizer: access.NewAuthorizer(pl.acc, pl.log), Audit: pl.log, Owner: ingesthttp.OwnersByName(pl.acc, owners),
			Ingest: ingest.Options{Logger: logger}})
		if err != nil {
			return nil, nil, err
		}
		return map[string]http.Handler{"/v1/ingest/": h}, nil, nil
	}
	var reps *reports.Service // nil: no reports
	if *reportKey != "" {
		base := *reportURL
		if base == "" {
			base = "http://" + *httpAddr
		}
		svc, err := openReports(ctx, reportDeps{store: pl.store, db: pl.db, acc: pl.acc, log: pl.log, keyFile: *reportKey, baseURL: base, font: *reportFont})
		if err != nil {
			return err
		}
		h, err := reportshttp.New(reportshttp.Options{Service: svc, Auth: pl.acc, Logger: logger})
		if err != nil {
			return err
		}
		mounts["/v1/reports"], mounts["/v1/reports/"] = h, h
		reps = svc
	}
	err = server.Run(ctx, server.Options{
		Store: pl.store, DB: pl.db, Audit: pl.log, Access: pl.acc, Catalog: pl.cat, Registry: pl.reg, ServiceKey: *serviceKey,
		Sets: taskSets, Bindings: bindings, Policy: pol,
		HTTPAddr: *httpAddr, GRPCAddr: *grpcAddr, AdminAddr: *adminAddr, TLS: tlsConf,
		Rate: *rate, Burst: *burst, RateRedis: *rateRedis, RateFailClosed: *rateClosed,
		Timeout: *timeout, Refresh: *refresh, Follow: *follow, ConsentCache: *consentTTL,
		Contacts: contacts, Sender: sender,
		JobsDSN: jdsn, JobWorkers: *jobWorkers, Prewarm: *prewarm, ScoreHistory: *history, Webhooks: guard,
		Console: func(c server.Console) (http.Handler, func(), error) {
			console, stop, err := newConsole(consoleDeps{store: pl.store, acc: c.Access, log: pl.log, cat: pl.cat, reg: pl.reg, data: data,
				screener: c.Screener, svc: c.Service, graph: c.Graph, dir: c.Directory, jobs: c.Jobs, risk: c.Risk, drift: c.ModelDrift,
				portfolio: c.Portfolio, warnings: c.Warnings, authz: c.Authorizer, endpoints: c.Endpoints, subs: c.Subscriptions, reports: reps, cases: cd.svc, financing: fd.store, secure: *secure || c.Secure, lang: *lang, logger: logger})
			if err != nil {
				return nil, nil, err
			}
			return console, stop, nil
		},
		ExtraQueues: map[string]int{trainjobs.QueueName: 1, cases.ExpiryQueue: 1},
		RegisterJobs: func(ws *jobs.Workers) error {
			if err := cd.register(ws); err != nil {
				return err
			}
			return trainjobs.Register(ws, labtraining.New(labtraining.Options{Data: data, Store: pl.store, Catalog: pl.cat}), pl.store, pl.cat)
		},
		Doors: func(d server.Doors) (map[string]http.Handler, func(), error) {
			return joinDoors(pl, d, ingestDoor, cd.door, fd.door)
		},
		Mounts: mounts, HTTPMiddleware: tr.Handler, GRPCOptions: tr.GRPCServerOptions(),
		Logger: logger, Stdout: stdout,
	})
	return mapServerErr(err)
}

// mapServerErr names the flag behind an error of the server's options.
func mapServerErr(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range []struct{ prefix, flag string }{
		{"service key: ", "--service-key"}, {"rate limit Redis: ", "--rate-redis"},
		{"HTTP listener: ", "--http"}, {"gRPC listener: ", "--grpc"}, {"admin listener: ", "--admin"},
	} {
		if strings.HasPrefix(err.Error(), m.prefix) {
			return fmt.Errorf("%s: %w", m.flag, errors.Unwrap(err))
		}
	}
	return err
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
