package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	regapi "github.com/xinyi-platform/xinyi/registry/httpapi"
	"github.com/xinyi-platform/xinyi/serving"
	servingaccess "github.com/xinyi-platform/xinyi/serving/access"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
	"github.com/xinyi-platform/xinyi/serving/grpcapi"
	"github.com/xinyi-platform/xinyi/serving/httpapi"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/redislimit"
	servingregistry "github.com/xinyi-platform/xinyi/serving/registry"
	"github.com/xinyi-platform/xinyi/serving/screenjobs"
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

// servingSets resolves "name/vN" per task through the catalog.
func servingSets(cat *features.Catalog, spec string) (map[serving.Task]serving.FeatureSet, error) {
	m, err := parseTaskMap("sets", spec)
	if err != nil {
		return nil, err
	}
	out := map[serving.Task]serving.FeatureSet{}
	for t, ref := range m {
		name, ver, ok := strings.Cut(ref, "/v")
		var n int
		if _, err := fmt.Sscanf(ver, "%d", &n); !ok || err != nil {
			return nil, fmt.Errorf("--sets: %q is not name/vN", ref)
		}
		if out[t], err = servingfeatures.SetFromCatalog(cat, name, n); err != nil {
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
		consentTTL = fs.Duration("consent-cache", 5*time.Second, "how long a found consent grant answers from memory; a revocation made by another process applies within it, one made through this server (API or console) at once (0: every check reads the database)")
		pprofAddr  = fs.String("pprof", "", "listen address of the Go profiler (/debug/pprof/: CPU, heap, mutex, block, trace); empty: off")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *jobWorkers < 0 {
		return fmt.Errorf("--job-workers %d is negative", *jobWorkers)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	data, err := publicDataSets(*samples)
	if err != nil {
		return err
	}
	pl, err := openPlatform(ctx, *storeDir, *dsn, data, logger)
	if err != nil {
		return err
	}
	defer pl.Close()
	store, acc, cat, reg, log := pl.store, pl.acc, pl.cat, pl.reg, pl.log
	taskSets, err := servingSets(cat, *sets)
	if err != nil {
		return err
	}
	pol, err := readPolicy(*policyFile)
	if err != nil {
		return fmt.Errorf("--policy: %w", err)
	}
	bindingSpec, err := parseTaskMap("models", *models)
	if err != nil {
		return err
	}
	var bindings []serving.Binding
	for _, t := range serving.Tasks {
		name, alias, ok := strings.Cut(bindingSpec[t], "@")
		if !ok || name == "" || alias == "" {
			return fmt.Errorf("--models: %q is not model@alias", bindingSpec[t])
		}
		bindings = append(bindings, serving.Binding{Task: t, Model: name, Alias: alias})
	}
	if *lang != "zh" && *lang != "en" {
		return fmt.Errorf("--lang %q is not zh or en", *lang)
	}
	if *demo {
		if err := printDemoLogins(ctx, acc, "xinyi serve", stdout); err != nil {
			return err
		}
	}
	if *serviceKey == "" {
		return errors.New("--service-key (or XINYI_SERVICE_KEY) is required: the API key of a platform administrator that reads the registry")
	}
	svcPrincipal, err := acc.Authenticate(ctx, *serviceKey)
	if err != nil {
		return fmt.Errorf("--service-key: %w", err)
	}

	holder, err := serving.NewModels(taskSets)
	if err != nil {
		return err
	}
	metrics := serving.NewMetrics(holder)
	// Online stores: one per distinct feature set, on the newest snapshot that loads.
	online, err := servingfeatures.OpenStores(ctx, servingfeatures.StoresOptions{Store: store, Sets: taskSets, Refresh: *refresh,
		Metrics: metrics, Logger: logger})
	if err != nil {
		return err
	}
	snaps := online.Snapshots()
	cacheSize := 0 // the default
	if *prewarm && len(snaps) > 0 {
		cacheSize = max(30000, 2*len(serving.Tasks)*len(snaps[0].Codes)) // room for every company and model, and a reload
	}
	// Every surface of this process (assessments, OIP, consent grants, the console)
	// authorizes through one access store that remembers found consents for
	// --consent-cache, so a decision does not query the database for its consent;
	// a revocation through this process applies at once, one made by another
	// process within --consent-cache.
	servingAcc, err := access.Open(ctx, pl.db, access.Options{Audit: log, ConsentCacheTTL: max(0, *consentTTL)})
	if err != nil {
		return err
	}
	auth := servingaccess.New(servingAcc, log) // the one Authorize of every route, refusals audited
	svc, err := serving.New(serving.Options{
		Models: holder, Features: online.Source(), Policy: pol,
		Authorizer: auth, Auditor: log, Catalog: servingfeatures.NewCatalog(cat),
		Averages: servingfeatures.MeanAverages(snaps...), Logger: logger, ExplainCache: cacheSize, Metrics: metrics,
	})
	if err != nil {
		return err
	}
	follower, err := serving.NewFollower(serving.FollowerOptions{Source: servingregistry.New(reg, svcPrincipal), Models: holder,
		Bindings: bindings, Interval: *follow, Metrics: metrics, Logger: logger})
	if err != nil {
		return err
	}
	if err := follower.Sync(ctx); err != nil {
		logger.Warn("not every model could be loaded yet; readiness stays false until they are", "err", err)
	}
	jdsn, err := jobsDSN(*storeDir, *dsn, *jobsDB)
	if err != nil {
		return err
	}
	var work map[string]int
	if *jobWorkers > 0 {
		work = map[string]int{screenjobs.QueueName: *jobWorkers}
	}
	jq, err := openScreeningJobs(ctx, jdsn, work, svc, store, 0, logger)
	if err != nil {
		return err
	}
	defer jq.Close()
	if err := jq.Start(ctx); err != nil {
		return err
	}
	screener, err := serving.NewScreener(serving.ScreenerOptions{Service: svc, Source: servingfeatures.Snapshots{Store: store, Logger: logger}, Store: store,
		Logger: logger, Queue: screenjobs.New(jq)})
	if err != nil {
		return err
	}
	oipSrv := oip.New(holder, oip.Options{Version: "0.1", Ready: online.Ready, Authorizer: auth})
	var limiter serving.Limiter = serving.NewRateLimiter(*rate, *burst, nil)
	if *rateRedis != "" {
		mode := redislimit.FailOpen
		if *rateClosed {
			mode = redislimit.FailClosed
		}
		shared, err := redislimit.Open(ctx, redislimit.Options{URL: *rateRedis, Rate: *rate, Burst: *burst, Unavailable: mode, Logger: logger, Health: metrics})
		if err != nil {
			return fmt.Errorf("--rate-redis: %w", err)
		}
		defer shared.Close()
		limiter = shared
	}

	var tlsConf *tls.Config
	if *certFile != "" || *keyFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)
	go func() { errc <- ignoreCanceled(follower.Run(runCtx)) }()
	go func() { errc <- ignoreCanceled(online.Run(runCtx)) }()
	if *prewarm {
		go svc.PrewarmOnChange(runCtx, 5*time.Second, online.Content, online.Codes, logger)
	}

	var (
		graph *features.GuaranteeNetwork
		dir   *datasets.Directory
	)
	if len(snaps) > 0 {
		if graph, err = features.LoadGuaranteeNetwork(ctx, store, snaps[0].AsOf, 0); err != nil {
			logger.Warn("no guarantee network; company profiles show no circle", "err", err)
			graph = nil
		}
		if dir, err = datasets.LoadDirectory(ctx, store, datasets.DayOf(snaps[0].AsOf)); err != nil {
			logger.Warn("no business registry; company profiles name companies by code", "err", err)
			dir = nil
		}
	}
	console, closeConsole, err := newConsole(consoleDeps{store: store, acc: servingAcc, log: log, cat: cat, reg: reg, data: data,
		screener: screener, svc: svc, graph: graph, dir: dir, secure: *secure || tlsConf != nil, lang: *lang, logger: logger})
	if err != nil {
		return err
	}
	defer closeConsole()

	if *pprofAddr != "" {
		lis, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return fmt.Errorf("--pprof: %w", err)
		}
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(int(100 * time.Microsecond))
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(lis) }()
		defer srv.Close()
		fmt.Fprintf(stdout, "profiler on http://%s/debug/pprof/\n", lis.Addr())
	}

	var httpSrv *http.Server
	if *httpAddr != "" {
		api, err := httpapi.New(httpapi.Options{Service: svc, OIP: oipSrv, Authorizer: auth, Consents: auth, Screener: screener, Limiter: limiter,
			Metrics: metrics, Timeout: *timeout, Logger: logger})
		if err != nil {
			return err
		}
		h := http.NewServeMux()
		h.Handle("/", api)
		h.Handle("/v1/registry/", regapi.New(reg, acc, regapi.Options{Logger: logger}))
		h.Handle("/lab/", console)
		h.Handle("/{$}", http.RedirectHandler("/lab/", http.StatusFound))
		lis, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return err
		}
		// No server-wide WriteTimeout: assessments carry their own --timeout deadline,
		// and the registry's change feed long-polls and streams by design.
		httpSrv = &http.Server{Handler: h, TLSConfig: tlsConf, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 5 * time.Minute,
			IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		go func() {
			var err error
			if tlsConf != nil {
				err = httpSrv.ServeTLS(lis, "", "")
			} else {
				err = httpSrv.Serve(lis)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
		scheme := "http"
		if tlsConf != nil {
			scheme = "https"
		}
		fmt.Fprintf(stdout, "HTTP on %s://%s (assessments /v1/assessments, OIP /v2, registry /v1/registry, console /lab/)\n", scheme, lis.Addr())
	}
	var grpcSrv *grpc.Server
	if *grpcAddr != "" {
		var so []grpc.ServerOption
		if tlsConf != nil {
			so = append(so, grpc.Creds(credentials.NewTLS(tlsConf)))
		}
		grpcSrv, err = grpcapi.NewServer(grpcapi.Options{Service: svc, OIP: oipSrv, Authorizer: auth, Limiter: limiter,
			Metrics: metrics, Timeout: *timeout, Logger: logger, ServerOptions: so})
		if err != nil {
			return err
		}
		lis, err := net.Listen("tcp", *grpcAddr)
		if err != nil {
			return err
		}
		go func() { errc <- grpcSrv.Serve(lis) }()
		fmt.Fprintf(stdout, "gRPC on %s\n", lis.Addr())
	}
	snap := holder.Current()
	fmt.Fprintf(stdout, "serving: models %v, policy %s, ready %v\n", snap.Refs(), pol.Version, snap.Complete())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	shutdown, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	if httpSrv != nil {
		_ = httpSrv.Shutdown(shutdown)
	}
	if grpcSrv != nil {
		stopped := make(chan struct{})
		go func() { grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-shutdown.Done():
			grpcSrv.Stop()
		}
	}
	screener.Wait()
	fmt.Fprintln(stdout, "serving: stopped")
	return runErr
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
