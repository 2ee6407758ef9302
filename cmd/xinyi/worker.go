package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	ingesthttp "github.com/xinyi-platform/xinyi/datasets/ingest/httpapi"
	"github.com/xinyi-platform/xinyi/features/matjobs"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
	labtraining "github.com/xinyi-platform/xinyi/lab/training"
	"github.com/xinyi-platform/xinyi/lab/trainjobs"
	"github.com/xinyi-platform/xinyi/serving"
	servingaccess "github.com/xinyi-platform/xinyi/serving/access"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
	servingregistry "github.com/xinyi-platform/xinyi/serving/registry"
	"github.com/xinyi-platform/xinyi/serving/scorejobs"
	"github.com/xinyi-platform/xinyi/serving/screenjobs"
	"github.com/xinyi-platform/xinyi/serving/server"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

func init() {
	register(command{name: "worker", summary: "run durable jobs (screenings, materialization shards) from the jobs database, and nothing else", run: runWorker})
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		storeDir   = fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set")
		dsn        = fs.String("db", "", "metadata database DSN (default sqlite file <store>/.xinyi/xinyi.db)")
		jobsDB     = fs.String("jobs-db", "", jobsDBUsage)
		queues     = fs.String("queues", screenjobs.QueueName+"=1,"+scorejobs.QueueName+"=1,"+warnings.QueueName+"=1,"+webhooks.QueueName+"=4", "queues to work and how many jobs of each at once, queue=N,… ("+screenjobs.QueueName+": screenings, "+scorejobs.QueueName+": the score history, "+warnings.QueueName+": warning evaluations, "+webhooks.QueueName+": webhook deliveries, "+matjobs.QueueName+": materialization shards, "+trainjobs.QueueName+": the console's training runs and sample builds, "+cases.ExpiryQueue+": the daily end of penalties' publicity)")
		allow      = fs.String("webhook-allow", "", "address ranges webhook endpoints may be in although private, loopback or link-local, comma separated CIDRs (an operator's decision)")
		plainHTTP  = fs.Bool("webhook-insecure-http", false, "allow http:// webhook endpoints (tests and loopback demos only)")
		scoring    = fs.Int("workers", 0, "goroutines of one screening, scoring or materialization stage (default GOMAXPROCS)")
		memory     = fs.Int64("memory-mb", 0, "memory budget in MiB of one materialization stage (default 2048)")
		jobTimeout = fs.Duration("job-timeout", time.Hour, "an attempt running longer is cancelled")
		rescue     = fs.Duration("rescue-after", 0, "a job still running this long after it started is taken as abandoned (its worker died) and run again; longer than --job-timeout (default --job-timeout plus 10m)")
		policyFile = fs.String("policy", "", "decision policy YAML/JSON (default: the built-in policy)")
		sets       = fs.String("sets", "pd=pd/v1,violation=violation/v1,limit=limit/v1", "feature set of each task")
		models     = fs.String("models", "pd=pd@champion,violation=violation@champion,limit=limit@champion", "registered model@alias of each task")
		serviceKey = fs.String("service-key", os.Getenv("XINYI_SERVICE_KEY"), "API key the worker reads the registry with (env XINYI_SERVICE_KEY)")
		follow     = fs.Duration("follow", 5*time.Second, "registry poll interval when the change feed cannot wait")
		stopWait   = fs.Duration("stop-wait", 30*time.Second, "on a signal, how long running jobs may finish before they are left for another worker")
		samples    = fs.String("samples", "", "folder of the public data sets the lab's training runs may use (taiwan/, gmsc/, lightgbm-binary/), as given to the console")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	work, err := parseQueues(*queues)
	if err != nil {
		return err
	}
	_, screening := work[screenjobs.QueueName]
	_, scores := work[scorejobs.QueueName]
	needModels := screening || scores
	if needModels && *serviceKey == "" {
		return errors.New("--service-key (or XINYI_SERVICE_KEY) is required: the API key of a platform administrator that reads the registry")
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	pl, err := openPlatform(ctx, *storeDir, *dsn, nil, logger)
	if err != nil {
		return err
	}
	defer pl.Close()
	// Screenings and the score history need the models and the service; a worker
	// of other queues does not.
	var svc *serving.Service
	var follower *serving.Follower
	var svcPrincipal serving.Principal
	if needModels {
		if svc, follower, svcPrincipal, err = screeningService(ctx, pl, *sets, *models, *policyFile, *serviceKey, *follow, logger); err != nil {
			return err
		}
	}
	jdsn, err := jobsDSN(*storeDir, *dsn, *jobsDB)
	if err != nil {
		return err
	}
	guard, err := webhookGuard(*allow, *plainHTTP)
	if err != nil {
		return err
	}
	_, labWork := work[trainjobs.QueueName]
	data, err := publicDataSets(*samples)
	if err != nil {
		return err
	}
	_, alerts := work[warnings.QueueName]
	_, hooks := work[webhooks.QueueName]
	var cd *caseDoor
	if _, ok := work[cases.ExpiryQueue]; ok {
		// Expiry ingests ends of publicity; the worker rematerializes nothing.
		if cd, err = openCaseDoor(ctx, pl, ingesthttp.OwnersByName(pl.acc, nil), "", 1); err != nil {
			return err
		}
	}
	var q *jobs.Queue
	register := func(ws *jobs.Workers) error {
		if cd != nil {
			if err := cd.register(ws); err != nil {
				return err
			}
		}
		if labWork {
			// Training runs and sample builds of the console; registering the result
			// stays with the console.
			tr := labtraining.New(labtraining.Options{Data: data, Store: pl.store, Catalog: pl.cat, Threads: max(*scoring, 0)})
			if err := trainjobs.Register(ws, tr, pl.store, pl.cat); err != nil {
				return err
			}
		}
		if scores {
			if err := scorejobs.Register(ws, scorejobs.Options{Service: svc, Store: pl.store, Principal: svcPrincipal, Workers: *scoring, Logger: logger}); err != nil {
				return err
			}
		}
		if alerts || hooks {
			a, err := server.OpenAlerting(ctx, pl.db, pl.acc, guard)
			if err != nil {
				return err
			}
			return a.Register(ws, pl.store, func() *jobs.Queue { return q }, scores, logger)
		}
		return nil
	}
	q, err = screenjobs.Open(ctx, screenjobs.OpenOptions{DSN: jdsn, Queues: work, Service: svc, Store: pl.store, Scoring: *scoring,
		JobTimeout: *jobTimeout, RescueAfter: *rescue, Logger: logger,
		Register: func(ws *jobs.Workers) error {
			if err := matjobs.Register(ws, pl.store, matjobs.Options{Catalog: pl.cat, Workers: *scoring, MemoryBudget: *memory << 20, Logger: logger}); err != nil {
				return err
			}
			return register(ws)
		}})
	if err != nil {
		return err
	}
	defer q.Close()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	followed := make(chan error, 1)
	if follower != nil {
		go func() { followed <- ignoreCanceled(follower.Run(runCtx)) }()
	}
	if err := q.Start(runCtx); err != nil {
		return err
	}
	names := make([]string, 0, len(work))
	for name, n := range work {
		names = append(names, fmt.Sprintf("%s=%d", name, n))
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "xinyi worker: working %s on the %s jobs database\n", strings.Join(names, ","), q.Engine())

	var ferr error
	select {
	case <-ctx.Done():
	case ferr = <-followed:
	}
	stopCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), *stopWait)
	defer stop()
	if err := q.Stop(stopCtx); err != nil {
		logger.Warn("running jobs did not finish in time; another worker takes them after the rescue delay", "err", err)
	}
	fmt.Fprintln(stdout, "xinyi worker: stopped")
	return ferr
}

// screeningService loads the models of each task through the registry and returns
// the service a screening or scoring runs on, the follower that keeps its models
// current, and the service key's principal.
func screeningService(ctx context.Context, pl *platform, sets, models, policyFile, serviceKey string, follow time.Duration, logger *slog.Logger) (*serving.Service, *serving.Follower, serving.Principal, error) {
	taskSets, err := servingSets(pl.cat, sets)
	if err != nil {
		return nil, nil, serving.Principal{}, err
	}
	bindings, err := modelBindings(models)
	if err != nil {
		return nil, nil, serving.Principal{}, err
	}
	pol, err := readPolicy(policyFile)
	if err != nil {
		return nil, nil, serving.Principal{}, fmt.Errorf("--policy: %w", err)
	}
	svcPrincipal, err := pl.acc.Authenticate(ctx, serviceKey)
	if err != nil {
		return nil, nil, serving.Principal{}, fmt.Errorf("--service-key: %w", err)
	}
	holder, err := serving.NewModels(taskSets)
	if err != nil {
		return nil, nil, serving.Principal{}, err
	}
	// A screening reads whole snapshots, not the online store.
	svc, err := serving.New(serving.Options{Models: holder, Features: servingfeatures.NewOnline(nil), Policy: pol,
		Authorizer: servingaccess.New(pl.acc, pl.log), Auditor: pl.log, Logger: logger})
	if err != nil {
		return nil, nil, serving.Principal{}, err
	}
	follower, err := serving.NewFollower(serving.FollowerOptions{Source: servingregistry.New(pl.reg, svcPrincipal), Models: holder,
		Bindings: bindings, Interval: follow, Logger: logger})
	if err != nil {
		return nil, nil, serving.Principal{}, err
	}
	if err := follower.Sync(ctx); err != nil {
		logger.Warn("not every model could be loaded yet; screenings with a missing model fail and are retried", "err", err)
	}
	return svc, follower, svcPrincipal, nil
}

// modelBindings reads "--models pd=pd@champion,…" into one binding per task.
func modelBindings(spec string) ([]serving.Binding, error) {
	m, err := parseTaskMap("models", spec)
	if err != nil {
		return nil, err
	}
	var out []serving.Binding
	for _, t := range serving.Tasks {
		name, alias, ok := strings.Cut(m[t], "@")
		if !ok || name == "" || alias == "" {
			return nil, fmt.Errorf("--models: %q is not model@alias", m[t])
		}
		out = append(out, serving.Binding{Task: t, Model: name, Alias: alias})
	}
	return out, nil
}

// webhookGuard reads the webhook flags: allow-listed CIDRs and plain HTTP.
func webhookGuard(allow string, plainHTTP bool) (webhooks.Guard, error) {
	g := webhooks.Guard{InsecureHTTP: plainHTTP}
	for _, c := range splitList(allow) {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return g, fmt.Errorf("--webhook-allow: %q is not a CIDR range such as 10.0.0.0/8", c)
		}
		g.Allow = append(g.Allow, p)
	}
	return g, nil
}
