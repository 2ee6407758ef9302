// Package server is the serving runtime of one `xinyi serve` process: it builds
// the online feature stores, the model holder and its registry follower, the
// assessment service, the durable screening queue, the rate limiter, and the HTTP,
// gRPC and admin listeners, runs them, and shuts them down in order. The command
// only maps its flags to Options.
//
// Every instance is stateless: models come from the registry (followed through
// its change feed, polling as the fallback), features from the object store's
// snapshots, screenings from the jobs database, and per-key rate limits from Redis
// when RateRedis is set, so any number of instances can serve behind a balancer.
//
//	srv, err := server.New(ctx, server.Options{…})
//	if err != nil { … }
//	err = srv.Run(ctx) // until ctx ends
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	"github.com/xinyi-platform/xinyi/registry"
	regapi "github.com/xinyi-platform/xinyi/registry/httpapi"
	"github.com/xinyi-platform/xinyi/serving"
	servingaccess "github.com/xinyi-platform/xinyi/serving/access"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
	"github.com/xinyi-platform/xinyi/serving/grpcapi"
	"github.com/xinyi-platform/xinyi/serving/httpapi"
	"github.com/xinyi-platform/xinyi/serving/inspection"
	"github.com/xinyi-platform/xinyi/serving/modeldrift"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/portal"
	"github.com/xinyi-platform/xinyi/serving/portfolio"
	"github.com/xinyi-platform/xinyi/serving/redislimit"
	servingregistry "github.com/xinyi-platform/xinyi/serving/registry"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
	"github.com/xinyi-platform/xinyi/serving/scorejobs"
	"github.com/xinyi-platform/xinyi/serving/scores"
	"github.com/xinyi-platform/xinyi/serving/screencompare"
	"github.com/xinyi-platform/xinyi/serving/screenjobs"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// Options configure a serving process. Store, DB, Audit, Catalog, Registry,
// ServiceKey, Sets, Bindings and Policy are required.
type Options struct {
	// Store is the object store of snapshots, models and screening results.
	Store blob.Store
	// DB is the metadata database; Audit its audit log.
	DB    *metadb.DB
	Audit *audit.Log
	// Access is the access store of the registry API (opened by the caller for
	// its own commands). Nil: the server's own access store is used.
	Access *access.Store
	// Contacts and Sender bind company accounts by a one-time code sent to the
	// legal representative's registered contact (access.Options). Nil: accounts
	// are bound only by an operator's verification.
	Contacts access.ContactDirectory
	Sender   access.Sender
	// Catalog is the indicator catalog; Registry the model registry.
	Catalog  *features.Catalog
	Registry *registry.Registry
	// ServiceKey is the API key of a platform administrator the server reads the
	// registry with.
	ServiceKey string

	// Sets is the feature set of each task, Bindings the model alias each task
	// serves, Policy the decision policy.
	Sets     map[serving.Task]serving.FeatureSet
	Bindings []serving.Binding
	Policy   *policy.Policy

	// HTTPAddr, GRPCAddr and AdminAddr are listen addresses; empty turns that
	// listener off. The admin listener serves the Go profiler (/debug/pprof/),
	// /metrics and /healthz, apart from the API so it can stay on a private
	// network.
	HTTPAddr, GRPCAddr, AdminAddr string
	// TLS, when set, serves HTTP and gRPC over TLS.
	TLS *tls.Config

	// Rate and Burst limit each API key (Rate 0: unlimited). With RateRedis (a
	// redis:// URL) the replicas share one budget per key; RateFailClosed
	// refuses requests while that Redis is unreachable instead of allowing them.
	Rate           float64
	Burst          int
	RateRedis      string
	RateFailClosed bool

	// Timeout is the deadline of each request (default 2 s); Refresh how often
	// the online stores look for a newer snapshot (default 5 minutes); Follow the
	// registry poll interval when the change feed cannot wait (default 5 s);
	// ConsentCache how long a found consent grant answers from memory (0: every
	// check reads the database).
	Timeout, Refresh, Follow, ConsentCache time.Duration

	// JobsDSN is the jobs database screenings are queued in; JobWorkers how many
	// screenings this process runs at once (0: it only enqueues, for `xinyi
	// worker` processes to run).
	JobsDSN    string
	JobWorkers int

	// Prewarm computes every company's reasons in the background after each
	// snapshot or model change.
	Prewarm bool

	// ScoreHistory keeps the score history current: the server enqueues a
	// score_history job (serving/scorejobs) for every new snapshot, champion or
	// policy, checking every ScoreEvery (default 15 s). The history is read at
	// /v1/companies/{code}/scores either way.
	ScoreHistory bool
	ScoreEvery   time.Duration

	// ExtraQueues are further queues the server works when JobWorkers > 0, with
	// RegisterJobs installing their workers (the console's training runs and
	// sample builds, which the command wires from lab).
	ExtraQueues  map[string]int
	RegisterJobs func(*jobs.Workers) error
	// Doors, when set, returns further HTTP handlers by path prefix built over
	// the server's own parts (its assessment service, jobs queue, webhook
	// endpoints): the companies' cases, credit reports, financing. Stop, when
	// not nil, is called at shutdown.
	Doors func(d Doors) (handlers map[string]http.Handler, stop func(), err error)

	// Webhooks guards the subscribers' endpoints warnings are delivered to
	// (allow-listed address ranges, plain HTTP for tests).
	Webhooks webhooks.Guard

	// Console, when set, builds the web console mounted at /lab/ over what the
	// server built; the returned func stops its background work.
	Console func(Console) (http.Handler, func(), error)

	// Mounts are further HTTP handlers by path prefix (e.g. "/v1/ingest/" for
	// department deliveries), beside the API, the registry and the console.
	Mounts map[string]http.Handler

	// HTTPMiddleware, when set, wraps the whole HTTP mux (API, registry, console):
	// request ids and trace spans (internal/telemetry). GRPCOptions are added to
	// the gRPC server's (interceptors, stats handlers).
	HTTPMiddleware func(http.Handler) http.Handler
	GRPCOptions    []grpc.ServerOption

	// Logger receives the process's structured log (nil: discarded); Stdout the
	// lines that announce listeners and state (nil: discarded).
	Logger *slog.Logger
	Stdout io.Writer
}

// Console is what the server hands to Options.Console.
type Console struct {
	Access   *access.Store
	Service  *serving.Service
	Screener *serving.Screener
	// Graph and Directory are nil when the newest snapshot has no guarantee
	// network or business registry to show.
	Graph     *features.GuaranteeNetwork
	Directory *datasets.Directory
	// Secure is true when the server speaks TLS (cookies are then Secure).
	Secure bool
	// Jobs is the jobs database the server queues screenings in, for the
	// console's job list.
	Jobs *jobs.Queue
	// Risk is the regional risk index the API serves too.
	Risk *riskindex.Cache
	// ModelDrift is the models' drift against their training samples, which the
	// API serves too.
	ModelDrift func(ctx context.Context) (*modeldrift.Report, error)
	// Portfolio is a bank's post-loan view, Warnings the warning store behind
	// its inbox, and Authorizer the one Authorize (acknowledgements).
	Portfolio  portfolio.Sources
	Warnings   *warnings.Store
	Authorizer *servingaccess.Authorizer
	// Endpoints and Subscriptions are the subscribers' webhook endpoints and
	// warning subscriptions.
	Endpoints     *webhooks.Endpoints
	Subscriptions *warnings.Subscriptions
}

// Doors are the parts of a running server further doors are built over.
type Doors struct {
	Access     *access.Store
	Authorizer *servingaccess.Authorizer
	Service    *serving.Service
	Queue      *jobs.Queue
	Endpoints  *webhooks.Endpoints
	Directory  *datasets.Directory
	Logger     *slog.Logger
}

// Server is one serving process, listening once New returns.
type Server struct {
	opts     Options
	logger   *slog.Logger
	out      io.Writer
	holder   *serving.Models
	svc      *serving.Service
	online   *servingfeatures.Stores
	follower *serving.Follower
	jobs     *jobs.Queue
	screener *serving.Screener

	httpSrv, adminSrv *http.Server
	httpLis, adminLis net.Listener
	grpcSrv           *grpc.Server
	grpcLis           net.Listener
	closers           []func()
	endpoints         *webhooks.Endpoints // the subscribers' webhook endpoints, for model-drift notices
	warnings          *warnings.Store     // the warnings' lifecycle, for the sweep of committed batches
	drift             *modeldrift.Cache   // the models' input drift, served and told to owners
}

func (o *Options) check() error {
	switch {
	case o.Store == nil, o.DB == nil, o.Audit == nil, o.Catalog == nil, o.Registry == nil:
		return fmt.Errorf("%w: the server needs a store, a metadata database, an audit log, a catalog and a registry", serving.ErrInvalidInput)
	case o.ServiceKey == "":
		return fmt.Errorf("%w: a service key is required: the API key of a platform administrator that reads the registry", serving.ErrInvalidInput)
	case len(o.Sets) == 0 || len(o.Bindings) == 0:
		return fmt.Errorf("%w: the server needs each task's feature set and model binding", serving.ErrInvalidInput)
	case o.Policy == nil:
		return fmt.Errorf("%w: the server needs a decision policy", serving.ErrInvalidInput)
	case o.JobWorkers < 0:
		return fmt.Errorf("%w: job workers %d is negative", serving.ErrInvalidInput, o.JobWorkers)
	case o.JobsDSN == "":
		return fmt.Errorf("%w: the server needs a jobs database", serving.ErrInvalidInput)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Minute
	}
	if o.Follow <= 0 {
		o.Follow = 5 * time.Second
	}
	if o.ScoreEvery <= 0 {
		o.ScoreEvery = 15 * time.Second
	}
	o.ConsentCache = max(0, o.ConsentCache)
	return nil
}

// New builds the server and opens its listeners; nothing is served until Run.
// On error everything opened is closed again.
func New(ctx context.Context, opts Options) (s *Server, err error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	s = &Server{opts: opts, logger: opts.Logger, out: opts.Stdout}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.out == nil {
		s.out = io.Discard
	}
	defer func() {
		if err != nil {
			s.close()
			s = nil
		}
	}()
	if err := s.build(ctx); err != nil {
		return nil, err
	}
	if err := s.listen(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) build(ctx context.Context) error {
	o, logger := s.opts, s.logger
	// Every surface of this process (assessments, OIP, consent grants, the console)
	// authorizes through one access store that remembers found consents for
	// ConsentCache, so a decision does not query the database for its consent; a
	// revocation through this process applies at once, one made by another process
	// within ConsentCache.
	acc, err := access.Open(ctx, o.DB, access.Options{Audit: o.Audit, ConsentCacheTTL: o.ConsentCache, Contacts: o.Contacts, Sender: o.Sender})
	if err != nil {
		return err
	}
	alerting, err := OpenAlerting(ctx, o.DB, acc, o.Webhooks)
	if err == nil {
		s.endpoints, s.warnings = alerting.Endpoints, alerting.Warnings
	}
	if err != nil {
		return err
	}
	svcPrincipal, err := acc.Authenticate(ctx, o.ServiceKey)
	if err != nil {
		return fmt.Errorf("service key: %w", err)
	}
	if s.holder, err = serving.NewModels(o.Sets); err != nil {
		return err
	}
	metrics := serving.NewMetrics(s.holder)
	// Each department source's freshness and quality (xinyi_source_*).
	sources := ingest.NewStatusCollector(o.Store, 30*time.Second, logger)
	if err := metrics.Registry().Register(sources); err != nil {
		return err
	}
	// Online stores: one per distinct feature set, on the newest snapshot that
	// loads. A value is stale when its snapshot is old or its department source
	// is late (the same status as the metrics).
	online := features.OnlineOptions{Freshness: sources}
	if o.Catalog != nil {
		online.SourceOf = func(indicator string) string {
			if ind, err := o.Catalog.Indicator(indicator); err == nil {
				return ind.Source()
			}
			return ""
		}
	}
	if s.online, err = servingfeatures.OpenStores(ctx, servingfeatures.StoresOptions{Store: o.Store, Sets: o.Sets, Refresh: o.Refresh,
		Online: online, Metrics: metrics, Logger: logger}); err != nil {
		return err
	}
	snaps := s.online.Snapshots()
	cacheSize := 0 // the default
	if o.Prewarm && len(snaps) > 0 {
		cacheSize = max(30000, 2*len(serving.Tasks)*len(snaps[0].Codes)) // room for every company and model, and a reload
	}
	regAcc := o.Access
	if regAcc == nil {
		regAcc = acc
	}
	auth := servingaccess.New(acc, o.Audit) // the one Authorize of every route, refusals audited
	history := scores.NewReader(o.Store, 0)
	if s.svc, err = serving.New(serving.Options{
		Models: s.holder, Features: s.online.Source(), Policy: o.Policy,
		Authorizer: auth, Auditor: o.Audit, Catalog: servingfeatures.NewCatalog(o.Catalog),
		Averages: servingfeatures.MeanAverages(snaps...), Logger: logger, ExplainCache: cacheSize, Metrics: metrics,
		History: history,
	}); err != nil {
		return err
	}
	regSource := servingregistry.New(o.Registry, svcPrincipal)
	// Model drift compares each model with the training sample its lineage names.
	s.drift = modeldrift.NewCache(o.Store, modeldrift.Options{Samples: regSource})
	if s.follower, err = serving.NewFollower(serving.FollowerOptions{Source: regSource, Models: s.holder,
		Bindings: o.Bindings, Interval: o.Follow, Metrics: metrics, Logger: logger}); err != nil {
		return err
	}
	if err := s.follower.Sync(ctx); err != nil {
		logger.Warn("not every model could be loaded yet; readiness stays false until they are", "err", err)
	}
	var work map[string]int
	if o.JobWorkers > 0 {
		work = map[string]int{screenjobs.QueueName: o.JobWorkers, scorejobs.QueueName: 1}
		maps.Copy(work, AlertQueues)
		maps.Copy(work, o.ExtraQueues)
	}
	register := func(ws *jobs.Workers) error {
		if err := scorejobs.Register(ws, scorejobs.Options{Service: s.svc, Store: o.Store, Principal: svcPrincipal, Logger: logger}); err != nil {
			return err
		}
		if o.RegisterJobs != nil {
			if err := o.RegisterJobs(ws); err != nil {
				return err
			}
		}
		return alerting.Register(ws, o.Store, func() *jobs.Queue { return s.jobs }, o.ScoreHistory, logger)
	}
	if s.jobs, err = screenjobs.Open(ctx, screenjobs.OpenOptions{DSN: o.JobsDSN, Queues: work, Service: s.svc, Store: o.Store, Logger: logger,
		Register: register}); err != nil {
		return err
	}
	s.closers = append(s.closers, func() { _ = s.jobs.Close() })
	if s.screener, err = serving.NewScreener(serving.ScreenerOptions{Service: s.svc, Source: servingfeatures.Snapshots{Store: o.Store, Logger: logger},
		Store: o.Store, Logger: logger, Queue: screenjobs.New(s.jobs)}); err != nil {
		return err
	}
	insp, err := inspection.Open(ctx, inspection.Options{DB: o.DB, Store: o.Store, Screenings: screenjobs.New(s.jobs),
		Authorizer: auth, Audit: o.Audit, Logger: logger})
	if err != nil {
		return err
	}
	oipSrv := oip.New(s.holder, oip.Options{Version: "0.1", Ready: s.online.Ready, Authorizer: auth})
	var limiter serving.Limiter = serving.NewRateLimiter(o.Rate, o.Burst, nil)
	if o.RateRedis != "" {
		mode := redislimit.FailOpen
		if o.RateFailClosed {
			mode = redislimit.FailClosed
		}
		shared, err := redislimit.Open(ctx, redislimit.Options{URL: o.RateRedis, Rate: o.Rate, Burst: o.Burst, Unavailable: mode, Logger: logger, Health: metrics})
		if err != nil {
			return fmt.Errorf("rate limit Redis: %w", err)
		}
		s.closers = append(s.closers, func() { _ = shared.Close() })
		limiter = shared
	}

	if o.HTTPAddr != "" {
		risk := riskindex.NewCache(o.Store, riskindex.V1)
		graph, dir := loadProfiles(ctx, o.Store, snaps, logger)
		copts := screencompare.Options{Jobs: s.screener}
		if dir != nil {
			copts.Names = dir
		}
		compare, err := screencompare.New(copts)
		if err != nil {
			return err
		}
		api, err := httpapi.New(httpapi.Options{Service: s.svc, OIP: oipSrv, Authorizer: auth, Consents: auth, Screener: s.screener, Limiter: limiter,
			Metrics: metrics, Timeout: o.Timeout, Logger: logger, Inspections: insp, Compare: compare,
			RiskIndex: risk, Drift: func(ctx context.Context) ([]scores.DriftPoint, error) { return scores.Drift(ctx, o.Store) },
			Movers: func(ctx context.Context, f riskindex.MoverFilter) (*riskindex.Movers, error) {
				return riskindex.FindMovers(ctx, o.Store, f)
			},
			Circles:    riskindex.NewCircles(o.Store),
			SmallFirms: riskindex.NewSmallFirmTopic(o.Store, riskindex.V1),
			ModelDrift: func(ctx context.Context) (*modeldrift.Report, error) {
				return s.drift.Report(ctx, s.holder.Current())
			}})
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/", api)
		mux.Handle("/v1/registry/", regapi.New(o.Registry, regAcc, regapi.Options{Logger: logger}))
		wapi, err := httpapi.NewWarnings(httpapi.WarningsOptions{Authorizer: auth, Warnings: alerting.Warnings, Subscriptions: alerting.Subscriptions,
			Endpoints: alerting.Endpoints, Queue: s.jobs, Audit: o.Audit,
			Limiter: limiter, Metrics: metrics, Timeout: o.Timeout, Logger: logger})
		if err != nil {
			return err
		}
		for _, p := range []string{"/v1/warnings", "/v1/warnings/", "/v1/warning-rules", "/v1/warning-subscriptions", "/v1/warning-subscriptions/",
			"/v1/webhook-endpoints", "/v1/webhook-endpoints/", "/v1/webhook-deliveries/"} {
			mux.Handle(p, wapi)
		}
		// The companies' door and banks' consent requests.
		ph := portal.New(portal.Options{Access: acc, Auth: acc, Authorizer: access.NewAuthorizer(acc, o.Audit), Assessor: s.svc, Logger: logger})
		for _, p := range []string{"/v1/portal/", "/v1/consent-requests", "/v1/admin/bindings", "/v1/admin/bindings/"} {
			mux.Handle(p, ph)
		}
		// A bank's post-loan view.
		named := func(code string) (string, string, string, bool) {
			if dir == nil {
				return "", "", "", false
			}
			r, ok := dir.Company(code)
			return r.Name, r.DistrictName, datasets.IndustryName(r.Industry), ok
		}
		pfs := portfolio.Sources{Consents: acc, Warnings: alerting.Warnings, Runs: history, Company: named,
			Manifests: func(ctx context.Context) ([]*scores.Manifest, error) { return scores.Runs(ctx, o.Store) }}
		pf, err := httpapi.NewPortfolio(httpapi.PortfolioOptions{Authorizer: auth, Limiter: limiter, Metrics: metrics,
			Options: httpapi.Options{Timeout: 4 * o.Timeout, Logger: logger}, Sources: pfs})
		if err != nil {
			return err
		}
		mux.Handle("/v1/portfolio", pf)
		if o.Doors != nil {
			hs, stop, err := o.Doors(Doors{Access: acc, Authorizer: auth, Service: s.svc, Queue: s.jobs, Endpoints: alerting.Endpoints,
				Directory: dir, Logger: logger})
			if err != nil {
				return err
			}
			if stop != nil {
				s.closers = append(s.closers, stop)
			}
			for prefix, h := range hs {
				mux.Handle(prefix, h)
			}
		}
		for prefix, h := range o.Mounts {
			mux.Handle(prefix, h)
		}
		if o.Console != nil {
			c := Console{Access: acc, Service: s.svc, Screener: s.screener, Secure: o.TLS != nil, Jobs: s.jobs, Risk: risk,
				Portfolio: pfs, Warnings: alerting.Warnings, Authorizer: auth, Endpoints: alerting.Endpoints, Subscriptions: alerting.Subscriptions}
			c.Graph, c.Directory = graph, dir
			c.ModelDrift = func(ctx context.Context) (*modeldrift.Report, error) { return s.drift.Report(ctx, s.holder.Current()) }
			console, stop, err := o.Console(c)
			if err != nil {
				return err
			}
			s.closers = append(s.closers, stop)
			mux.Handle("/lab/", console)
			mux.Handle("/{$}", http.RedirectHandler("/lab/", http.StatusFound))
		}
		var handler http.Handler = mux
		if o.HTTPMiddleware != nil {
			handler = o.HTTPMiddleware(mux)
		}
		// No server-wide WriteTimeout: assessments carry their own Timeout deadline,
		// and the registry's change feed long-polls and streams by design.
		s.httpSrv = &http.Server{Handler: handler, TLSConfig: o.TLS, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 5 * time.Minute,
			IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	}
	if o.GRPCAddr != "" {
		so := append([]grpc.ServerOption(nil), o.GRPCOptions...)
		if o.TLS != nil {
			so = append(so, grpc.Creds(credentials.NewTLS(o.TLS)))
		}
		if s.grpcSrv, err = grpcapi.NewServer(grpcapi.Options{Service: s.svc, OIP: oipSrv, Authorizer: auth, Limiter: limiter,
			Metrics: metrics, Timeout: o.Timeout, Logger: logger, ServerOptions: so}); err != nil {
			return err
		}
	}
	if o.AdminAddr != "" {
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(int(100 * time.Microsecond))
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.Handle("GET /metrics", metrics)
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
		s.adminSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}
	return nil
}

// loadProfiles reads the guarantee network and business registry of the newest
// snapshot for the console's company profiles; either is nil when missing.
func loadProfiles(ctx context.Context, store blob.Store, snaps []*features.Snapshot, logger *slog.Logger) (*features.GuaranteeNetwork, *datasets.Directory) {
	if len(snaps) == 0 {
		return nil, nil
	}
	graph, err := features.LoadGuaranteeNetwork(ctx, store, snaps[0].AsOf, 0)
	if err != nil {
		logger.Warn("no guarantee network; company profiles show no circle", "err", err)
		graph = nil
	}
	dir, err := datasets.LoadDirectory(ctx, store, datasets.DayOf(snaps[0].AsOf))
	if err != nil {
		logger.Warn("no business registry; company profiles name companies by code", "err", err)
		dir = nil
	}
	return graph, dir
}

func (s *Server) listen() error {
	var err error
	if s.httpSrv != nil {
		if s.httpLis, err = net.Listen("tcp", s.opts.HTTPAddr); err != nil {
			return fmt.Errorf("HTTP listener: %w", err)
		}
	}
	if s.grpcSrv != nil {
		if s.grpcLis, err = net.Listen("tcp", s.opts.GRPCAddr); err != nil {
			return fmt.Errorf("gRPC listener: %w", err)
		}
	}
	if s.adminSrv != nil {
		if s.adminLis, err = net.Listen("tcp", s.opts.AdminAddr); err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
	}
	return nil
}

// HTTPAddr is the address the HTTP listener is bound to ("" when off).
func (s *Server) HTTPAddr() string { return addrOf(s.httpLis) }

// GRPCAddr is the address the gRPC listener is bound to ("" when off).
func (s *Server) GRPCAddr() string { return addrOf(s.grpcLis) }

// AdminAddr is the address the admin listener is bound to ("" when off).
func (s *Server) AdminAddr() string { return addrOf(s.adminLis) }

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// Service is the assessment service the server answers with.
func (s *Server) Service() *serving.Service { return s.svc }

// Run serves until ctx ends or a listener fails, then stops the listeners
// (letting requests in flight finish for up to 10 s), waits for local
// screenings, and closes what New opened. A Server runs once.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 5)
	if err := s.jobs.Start(runCtx); err != nil {
		return err
	}
	go func() { errc <- ignoreCanceled(s.follower.Run(runCtx)) }()
	go func() { errc <- ignoreCanceled(s.online.Run(runCtx)) }()
	if s.opts.Prewarm {
		go s.svc.PrewarmOnChange(runCtx, 5*time.Second, s.online.Content, s.online.Codes, s.logger)
	}
	if s.opts.ScoreHistory {
		go scorejobs.Watch(runCtx, s.jobs, s.svc, s.opts.Store, s.opts.ScoreEvery, s.logger)
	}
	go warnings.Watch(runCtx, s.jobs, warnings.Source{Store: s.opts.Store, RequireScores: s.opts.ScoreHistory}, s.opts.ScoreEvery, s.logger)
	if s.warnings != nil {
		// Batches committed without a listener (the ingest command, another
		// process) are picked up within a minute.
		go warnings.WatchBatches(runCtx, s.jobs, s.warnings, s.opts.Store, nil, time.Minute, s.logger)
	}
	if s.endpoints != nil {
		go modeldrift.Watch(runCtx, s.drift, s.holder.Current, s.jobs, s.endpoints, 30*time.Minute, s.logger)
	}
	if s.adminSrv != nil {
		go func() { _ = s.adminSrv.Serve(s.adminLis) }()
		fmt.Fprintf(s.out, "admin on http://%s (/debug/pprof/, /metrics, /healthz)\n", s.adminLis.Addr())
	}
	if s.httpSrv != nil {
		go func() {
			var err error
			if s.opts.TLS != nil {
				err = s.httpSrv.ServeTLS(s.httpLis, "", "")
			} else {
				err = s.httpSrv.Serve(s.httpLis)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
		scheme := "http"
		if s.opts.TLS != nil {
			scheme = "https"
		}
		fmt.Fprintf(s.out, "HTTP on %s://%s (assessments /v1/assessments, OIP /v2, registry /v1/registry, console /lab/)\n", scheme, s.httpLis.Addr())
	}
	if s.grpcSrv != nil {
		go func() { errc <- s.grpcSrv.Serve(s.grpcLis) }()
		fmt.Fprintf(s.out, "gRPC on %s\n", s.grpcLis.Addr())
	}
	snap := s.holder.Current()
	fmt.Fprintf(s.out, "serving: models %v, policy %s, ready %v\n", snap.Refs(), s.opts.Policy.Version, snap.Complete())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	shutdown, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	if s.httpSrv != nil {
		_ = s.httpSrv.Shutdown(shutdown)
	}
	if s.grpcSrv != nil {
		stopped := make(chan struct{})
		go func() { s.grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-shutdown.Done():
			s.grpcSrv.Stop()
		}
	}
	if s.adminSrv != nil {
		_ = s.adminSrv.Close()
	}
	s.screener.Wait()
	fmt.Fprintln(s.out, "serving: stopped")
	return runErr
}

// close releases what New opened, newest first; listeners not yet served are
// closed too.
func (s *Server) close() {
	for _, l := range []net.Listener{s.httpLis, s.grpcLis, s.adminLis} {
		if l != nil {
			_ = l.Close()
		}
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Run builds a server with opts and runs it until ctx ends.
func Run(ctx context.Context, opts Options) error {
	s, err := New(ctx, opts)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
