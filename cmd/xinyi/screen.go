package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/progress"
	"github.com/xinyi-platform/xinyi/serving"
	servingaccess "github.com/xinyi-platform/xinyi/serving/access"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
	servingregistry "github.com/xinyi-platform/xinyi/serving/registry"
)

func init() {
	register(command{name: "screen", summary: "score every company of the latest snapshot, rank, tier and write screenings/<id>/", run: runScreen})
}

func runScreen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("screen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		storeDir   = fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set")
		dsn        = fs.String("db", "", "metadata database DSN for the registry and the audit log (default sqlite file <store>/.xinyi/xinyi.db)")
		task       = fs.String("task", "violation", "model to screen with: violation or pd")
		modelFile  = fs.String("model-file", "", "model file to screen with (instead of the registry)")
		model      = fs.String("model", "", "registered model@alias to screen with, e.g. violation@champion")
		serviceKey = fs.String("service-key", os.Getenv("XINYI_SERVICE_KEY"), "API key that reads the registry (with --model)")
		sets       = fs.String("sets", "pd=pd/v1,violation=violation/v1,limit=limit/v1", "feature set of each task")
		policyFile = fs.String("policy", "", "decision policy YAML/JSON (default: the built-in policy)")
		workers    = fs.Int("workers", 0, "scoring goroutines (default GOMAXPROCS)")
		top        = fs.Int("top", 0, "also print the N highest-ranked companies with their tier and reasons")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	t := serving.Task(*task)
	if t != serving.TaskViolation && t != serving.TaskPD {
		return fmt.Errorf("--task %q: want violation or pd", *task)
	}
	if (*modelFile == "") == (*model == "") {
		return errors.New("give exactly one of --model-file and --model")
	}
	pl, err := openPlatform(ctx, *storeDir, *dsn, nil, nil)
	if err != nil {
		return err
	}
	defer pl.Close()
	store, cat, log := pl.store, pl.cat, pl.log
	taskSets, err := servingSets(cat, *sets)
	if err != nil {
		return err
	}
	set := taskSets[t]
	pol, err := readPolicy(*policyFile)
	if err != nil {
		return fmt.Errorf("--policy: %w", err)
	}

	var text []byte
	ref := serving.ModelRef{Task: t, FeatureSet: set.Name, FeatureSetVersion: set.Version}
	// With a model file the screening runs as the machine's operator, who holds the
	// database itself; with a registered model, as the owner of --service-key.
	actor := "cli"
	if u, err := user.Current(); err == nil {
		actor = "cli/" + u.Username
	}
	who := access.Principal{User: actor, Institution: "platform", InstitutionKind: access.KindPlatform, Roles: []access.Role{access.RoleAdmin}}
	if *modelFile != "" {
		if text, err = os.ReadFile(*modelFile); err != nil {
			return err
		}
		ref.Name, ref.Version = filepath.Base(*modelFile), "file"
	} else {
		name, alias, ok := strings.Cut(*model, "@")
		if !ok || name == "" || alias == "" {
			return fmt.Errorf("--model %q is not model@alias", *model)
		}
		p, err := pl.acc.Authenticate(ctx, *serviceKey)
		if err != nil {
			return fmt.Errorf("--service-key: %w", err)
		}
		who = p
		src := servingregistry.New(pl.reg, p)
		if ref, err = src.Resolve(ctx, name, alias); err != nil {
			return err
		}
		ref.Task = t
		if text, err = src.Artifact(ctx, ref); err != nil {
			return err
		}
	}
	sc, err := serving.LoadScorer(text, ref, set)
	if err != nil {
		return err
	}
	holder, err := serving.NewModels(taskSets)
	if err != nil {
		return err
	}
	if err := holder.Install(sc); err != nil {
		return err
	}
	svc, err := serving.New(serving.Options{Models: holder, Features: servingfeatures.NewOnline(nil), Policy: pol, Auditor: log,
		Authorizer: servingaccess.New(pl.acc, log)})
	if err != nil {
		return err
	}
	src := servingfeatures.Snapshots{Store: store}
	pop, err := src.Population(ctx, set)
	if err != nil {
		return err
	}
	bar := progress.New(stderr, "screening", int64(len(pop.Codes)))
	var last int64
	res, err := svc.Screen(ctx, who, pop, serving.ScreenOptions{
		Task: t, Workers: *workers, Progress: func(done, _ int) {
			d := int64(done)
			bar.Add(d - last)
			last = d
		}})
	took := bar.Done()
	if err != nil {
		return err
	}
	infos, err := serving.WriteScreening(ctx, store, res)
	if err != nil {
		return err
	}
	tiers := make([]string, 0, len(res.TierCounts))
	for tier, n := range res.TierCounts {
		tiers = append(tiers, string(tier)+" "+strconv.Itoa(n))
	}
	sort.Strings(tiers)
	fmt.Fprintf(stdout, "screened %d companies (%s as of %s) with %s in %v: %s; %.0f inspections; wrote %s and %s\n",
		res.Companies, res.FeatureSet, res.AsOf.Format("2006-01-02"), res.Model, took.Round(1e6), strings.Join(tiers, ", "),
		res.Inspections, infos[0].Key, infos[1].Key)
	if *top > 0 {
		fmt.Fprintf(stdout, "%5s  %-18s  %11s  %-8s  %s\n", "rank", "company", "probability", "tier", "reasons")
		for _, r := range res.Rows[:min(*top, len(res.Rows))] {
			fmt.Fprintf(stdout, "%5d  %-18s  %11.4f  %-8s  %s\n", r.Rank, r.Company, r.Probability, r.Tier, strings.ReplaceAll(r.Reasons, "|", ", "))
		}
	}
	return nil
}
