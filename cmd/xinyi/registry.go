package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/progress"
	labregistry "github.com/xinyi-platform/xinyi/lab/registry"
	"github.com/xinyi-platform/xinyi/registry"
)

// The registry commands work on the metadata database and object store
// directly (the embedded deployment); every change is made as the user of the
// API key given with -key or $XINYI_API_KEY, so roles, ownership, four-eyes and
// the audit trail apply exactly as over HTTP.
func init() {
	register(command{name: "model list", summary: "list the registered models you may see, with aliases", run: runModelList})
	register(command{name: "model show", summary: "show a registered model and its versions, or one version", run: runModelShow})
	register(command{name: "model register", summary: "validate and register a model file as a new version", run: runModelRegister})
	register(command{name: "model alias", summary: "move an alias, or request promotion for a gated one (champion)", run: runModelAlias})
	register(command{name: "model approve", summary: "approve, reject or withdraw a promotion request", run: runModelApprove})
	register(command{name: "model history", summary: "print the audit trail of a model", run: runModelHistory})
	register(command{name: "model cleanup", summary: "remove model artifacts no version references and stale temporary upload files (left by interrupted uploads)", run: runModelCleanup})
	register(command{name: "audit verify", summary: "verify the hash chain of the audit log", run: runAuditVerify})
	register(command{name: "access user", summary: "create a user (and its institution) and print a new API key once", run: runAccessUser})
}

// metaFlags are the storage flags every registry command takes.
type metaFlags struct {
	store, dsn, key *string
}

func addMetaFlags(fs *flag.FlagSet, withKey bool) metaFlags {
	f := metaFlags{
		store: fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set"),
		dsn:   fs.String("db", "", "metadata database DSN (default sqlite file <store>/.xinyi/xinyi.db)"),
	}
	if withKey {
		f.key = fs.String("key", os.Getenv("XINYI_API_KEY"), "API key to act with (env XINYI_API_KEY)")
	}
	return f
}

// regEnv is an opened registry and the principal of the key.
type regEnv struct {
	db    *metadb.DB
	store blob.Store
	log   *audit.Log
	acc   *access.Store
	reg   *registry.Registry
	p     access.Principal
	close func()
}

func openRegistry(ctx context.Context, f metaFlags) (*regEnv, error) {
	if *f.key == "" {
		return nil, errors.New("an API key is required: pass -key or set XINYI_API_KEY (create one with 'xinyi access user')")
	}
	pl, err := openPlatform(ctx, *f.store, *f.dsn, nil, nil)
	if err != nil {
		return nil, err
	}
	p, err := pl.acc.Authenticate(ctx, *f.key)
	if err != nil {
		pl.Close()
		return nil, err
	}
	return &regEnv{db: pl.db, store: pl.store, log: pl.log, acc: pl.acc, reg: pl.reg, p: p, close: pl.Close}, nil
}

// owner names an institution, falling back to its id.
func (e *regEnv) owner(ctx context.Context, id int64) string {
	inst, err := e.acc.Institution(ctx, id)
	if err != nil {
		return strconv.FormatInt(id, 10)
	}
	return inst.Name
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: xinyi %s [flags]\n", name)
		fs.PrintDefaults()
	}
	return fs
}

func required(name, v string) error {
	if v == "" {
		return fmt.Errorf("-%s is required", name)
	}
	return nil
}

func runModelList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model list", stderr)
	mf := addMetaFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return err
	}
	defer e.close()
	ms, err := e.reg.Models(ctx, e.p)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTASK\tOWNER\tLATEST\tALIASES\tSHARED")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%v\n", m.Name, m.Task, e.owner(ctx, m.OwnerID), m.Latest, formatAliases(m.Aliases), m.Shared)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d models visible to %s\n", len(ms), e.p.User)
	return nil
}

func formatAliases(as map[string]int) string {
	if len(as) == 0 {
		return "-"
	}
	var parts []string
	for a, v := range as {
		parts = append(parts, fmt.Sprintf("%s=%d", a, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func runModelShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model show", stderr)
	mf := addMetaFlags(fs, true)
	name := fs.String("name", "", "model name (required)")
	version := fs.Int("version", 0, "show this version in full (JSON) instead of the model")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("name", *name); err != nil {
		return err
	}
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return err
	}
	defer e.close()
	if *version > 0 {
		v, err := e.reg.Version(ctx, e.p, *name, *version)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	m, err := e.reg.Model(ctx, e.p, *name)
	if err != nil {
		return err
	}
	vs, err := e.reg.Versions(ctx, e.p, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s  task %s  owner %s  shared %v  aliases %s\n", m.Name, m.Task, e.owner(ctx, m.OwnerID), m.Shared, formatAliases(m.Aliases))
	if m.Description != "" {
		fmt.Fprintln(stdout, m.Description)
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSHA256\tSOURCE\tFEATURE SET\tCOLUMNS\tTREES\tPARITY\tCREATED BY\tCREATED AT")
	for _, v := range vs {
		parity := "-"
		if v.Parity != nil {
			parity = parityText(v.Parity)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\n", v.Version, v.ArtifactDigest[:12], v.SourceFormat, versionSet(v),
			len(v.Columns), len(v.Features), v.NumTrees, parity, v.CreatedBy, v.CreatedAt.Format(time.RFC3339))
	}
	tw.Flush()
	return nil
}

// versionSet is the feature-set reference a version is bound to.
func versionSet(v registry.Version) string {
	return features.SetRef{Name: v.FeatureSet, Version: v.FeatureSetVersion}.String()
}

// parityText summarizes a parity report: rows, largest margin difference and
// the tolerance used.
func parityText(r *registry.ParityReport) string {
	return fmt.Sprintf("%d rows, max margin diff %.3g within %g+%g×|margin|", r.Rows, r.MaxAbsDiff, r.Tolerance, r.ToleranceRel)
}

// parityFile is the JSON of -parity: ParityInput, also accepting "prediction"
// for "expected" so golden files written next to XGBoost fixtures work as is.
type parityFile struct {
	registry.ParityInput
	Prediction []float64 `json:"prediction"`
}

func readParity(path string, tol, tolRel float64) (*registry.ParityInput, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pf parityFile
	if err := json.Unmarshal(b, &pf); err != nil {
		return nil, fmt.Errorf("-parity %s: %w", path, err)
	}
	in := pf.ParityInput
	if len(in.Expected) == 0 {
		in.Expected = pf.Prediction
	}
	if tol > 0 {
		in.Tolerance = tol
	}
	if tolRel > 0 {
		in.ToleranceRel = tolRel
	}
	return &in, nil
}

func runModelRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model register", stderr)
	mf := addMetaFlags(fs, true)
	name := fs.String("name", "", "model name (required)")
	file := fs.String("file", "", "model file: LightGBM text, XGBoost JSON, UBJSON or legacy binary (required)")
	set := fs.String("set", "", "feature set the model is bound to, name/vN, or a bare name for its latest version (required)")
	columns := fs.String("columns", "", "the feature each column of the file reads, in the file's order, comma separated (required for files without feature names)")
	fs.StringVar(columns, "features", "", "former name of -columns")
	parity := fs.String("parity", "", "JSON file with golden rows in the model's column order and your tool's predictions: {\"rows\": [[...]], \"expected\": [...]}")
	tol := fs.Float64("tolerance", 0, "absolute parity tolerance on margins, at most the platform's (default the file's, else the platform's)")
	tolRel := fs.Float64("tolerance-rel", 0, "relative parity tolerance on margins, at most the platform's (default the file's, else the platform's)")
	task := fs.String("task", "", "create the model first with this task (pd, violation, limit) if it does not exist")
	desc := fs.String("description", "", "description of a model created with -task")
	shared := fs.Bool("shared", false, "let other institutions see a model created with -task")
	metrics := fs.String("metrics", "", "metrics to record as reported by you, name=value,... (e.g. auc=0.81,ks=0.45)")
	evalFile := fs.String("eval", "", "labelled evaluation CSV (the model's inputs in its column order, then the 0/1 outcome; at least 200 rows) that the platform scores: its AUC and KS are the version's evidence for becoming champion")
	codeVersion := fs.String("code-version", "", "revision of the code that trained the model (lineage)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, r := range [][2]string{{"name", *name}, {"file", *file}, {"set", *set}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	ref, err := features.ParseSetRef(*set)
	if err != nil {
		return fmt.Errorf("-set: %w", err)
	}
	up := registry.Upload{FeatureSet: ref.Name, FeatureSetVersion: ref.Version,
		Lineage: registry.Lineage{Kind: "uploaded", Filename: filepath.Base(*file), CodeVersion: *codeVersion}}
	if *columns != "" {
		up.Columns = strings.Split(*columns, ",")
	}
	if *metrics != "" {
		up.Metrics = map[string]float64{}
		for _, kv := range strings.Split(*metrics, ",") {
			k, v, ok := strings.Cut(kv, "=")
			x, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil {
				return fmt.Errorf("-metrics: %q is not name=number", kv)
			}
			up.Metrics[k] = x
		}
	}
	if *parity != "" {
		if up.Parity, err = readParity(*parity, *tol, *tolRel); err != nil {
			return err
		}
	}
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return err
	}
	defer e.close()
	bar := progress.New(stderr, "register "+*name, 3)
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	up.Data, err = registry.ReadUpload(f, e.reg.MaxUploadBytes())
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	bar.Add(1)
	if *evalFile != "" {
		bar.Note("scoring the evaluation file")
		data, err := readBounded(*evalFile, e.reg.MaxUploadBytes())
		if err != nil {
			bar.Done()
			return fmt.Errorf("-eval: %w", err)
		}
		m, err := labregistry.EvaluateFile(up.Data, data, gbdt.DefaultLimits())
		if err != nil {
			bar.Done()
			return fmt.Errorf("-eval %s: %w", *evalFile, err)
		}
		if up.Metrics == nil {
			up.Metrics = map[string]float64{}
		}
		maps.Copy(up.Metrics, m)
		sum := sha256.Sum256(data)
		up.Lineage.Note = fmt.Sprintf("evaluated by the platform on %s (sha256 %x): %d rows, %d with outcome 1",
			filepath.Base(*evalFile), sum, int(m["eval_rows"]), int(m["eval_positives"]))
	}
	bar.Add(1)
	bar.Note("validating and storing")
	var v registry.Version
	if *task != "" {
		// A model that does not exist yet is created with this version, or not
		// at all: a refused upload leaves no empty model behind.
		if _, err = e.reg.Model(ctx, e.p, *name); errors.Is(err, registry.ErrNotFound) {
			bar.Note("creating model")
			_, v, err = e.reg.CreateAndRegister(ctx, e.p, registry.NewModel{Name: *name, Task: registry.Task(*task), Description: *desc, Shared: *shared}, up)
		} else if err == nil {
			v, err = e.reg.Register(ctx, e.p, *name, up)
		}
	} else {
		v, err = e.reg.Register(ctx, e.p, *name, up)
	}
	if err != nil {
		bar.Done()
		return err
	}
	bar.Add(1)
	bar.Done()
	parityNote := "no parity check"
	if v.Parity != nil {
		parityNote = "parity " + parityText(v.Parity)
	}
	fmt.Fprintf(stdout, "registered %s version %d: %s %s, %d trees, %d of %d features of %s in its own column order, sha256 %s, %s\n",
		v.Model, v.Version, v.SourceFormat, v.Objective, v.NumTrees, len(v.Columns), len(v.Features), versionSet(v), v.ArtifactDigest, parityNote)
	return nil
}

func runModelAlias(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model alias", stderr)
	mf := addMetaFlags(fs, true)
	name := fs.String("name", "", "model name (required)")
	alias := fs.String("alias", "", "alias, e.g. challenger or champion (required)")
	version := fs.Int("version", 0, "version to point the alias at (required)")
	note := fs.String("note", "", "note for the approver (gated aliases)")
	request := fs.Bool("request", false, "always file a promotion request, even for an ungated alias")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("name", *name); err != nil {
		return err
	}
	if err := required("alias", *alias); err != nil {
		return err
	}
	if *version <= 0 {
		return errors.New("-version is required (>= 1)")
	}
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return err
	}
	defer e.close()
	if !*request {
		a, err := e.reg.SetAlias(ctx, e.p, *name, *alias, *version)
		if err == nil {
			fmt.Fprintf(stdout, "%s@%s -> version %d\n", a.Model, a.Alias, a.Version)
			return nil
		}
		if !errors.Is(err, registry.ErrConflict) || !strings.Contains(err.Error(), "promotion") {
			return err
		}
	}
	pr, err := e.reg.RequestPromotion(ctx, e.p, *name, *alias, *version, *note)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "promotion request %d: %s@%s -> version %d is pending; another user with the approver role runs 'xinyi model approve -id %d'\n",
		pr.ID, pr.Model, pr.Alias, pr.Version, pr.ID)
	return nil
}

func runModelApprove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model approve", stderr)
	mf := addMetaFlags(fs, true)
	id := fs.Int64("id", 0, "promotion request id (omit with -name to list pending requests)")
	name := fs.String("name", "", "with no -id: list the pending requests of this model")
	reject := fs.Bool("reject", false, "reject instead of approve")
	withdraw := fs.Bool("withdraw", false, "withdraw your own request instead")
	note := fs.String("note", "", "note or reason recorded with the decision")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *reject && *withdraw {
		return errors.New("-reject and -withdraw exclude each other")
	}
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return err
	}
	defer e.close()
	if *id == 0 {
		if *name == "" {
			return errors.New("-id is required (or -name to list pending requests)")
		}
		prs, err := e.reg.Promotions(ctx, e.p, *name, registry.StatePending)
		if err != nil {
			return err
		}
		for _, pr := range prs {
			fmt.Fprintf(stdout, "%d\t%s@%s -> %d\trequested by %s at %s\t%s\n", pr.ID, pr.Model, pr.Alias, pr.Version, pr.RequestedBy, pr.RequestedAt.Format(time.RFC3339), pr.Note)
		}
		fmt.Fprintf(stdout, "%d pending promotion requests for %s\n", len(prs), *name)
		return nil
	}
	var pr registry.Promotion
	switch {
	case *reject:
		pr, err = e.reg.Reject(ctx, e.p, *id, *note)
	case *withdraw:
		pr, err = e.reg.Withdraw(ctx, e.p, *id, *note)
	default:
		pr, err = e.reg.Approve(ctx, e.p, *id, *note)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "promotion %d %s by %s: %s@%s -> version %d\n", pr.ID, pr.State, pr.DecidedBy, pr.Model, pr.Alias, pr.Version)
	return nil
}

func runModelHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model history", stderr)
	mf := addMetaFlags(fs, true)
	name := fs.String("name", "", "model name (required)")
	limit := fs.Int("limit", 1000, "most records to print")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("name", *name); err != nil {
		return err
	}
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return err
	}
	defer e.close()
	recs, err := e.reg.History(ctx, e.p, *name, *limit)
	if err != nil {
		return err
	}
	for _, r := range recs {
		line := fmt.Sprintf("%6d  %s  %-10s %-26s %-22s %s", r.Seq, r.Time.Format(time.RFC3339), r.Actor, r.Action, r.Subject, r.Outcome)
		if r.Reason != "" {
			line += ": " + r.Reason
		}
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stdout, "%d audit records for %s\n", len(recs), *name)
	return nil
}

func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit verify", stderr)
	mf := addMetaFlags(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, log, _, err := openMeta(ctx, mf)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	var bar *progress.Bar
	var shown int64
	rep, err := log.VerifyProgress(ctx, func(done, total int64) {
		if bar == nil {
			bar = progress.New(stderr, "verify audit log", total)
		}
		bar.Add(done - shown)
		shown = done
	})
	if bar != nil {
		bar.Done()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit log intact: %d records verified in %s, head %s\n", rep.Records, time.Since(start).Round(time.Millisecond), rep.Head)
	return nil
}

func runAccessUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("access user", stderr)
	mf := addMetaFlags(fs, false)
	inst := fs.String("institution", "", "institution name; created if missing (required)")
	kind := fs.String("kind", "bank", "kind of a new institution: bank, regulator or platform")
	user := fs.String("user", "", "user name (required)")
	roles := fs.String("roles", "", "comma-separated roles: data_scientist, approver, admin, bank, regulator, lab (required)")
	ttl := fs.Duration("ttl", 0, "key lifetime (0: no expiry)")
	actor := fs.String("actor", "operator", "name recorded in the audit log as who made the change")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, r := range [][2]string{{"institution", *inst}, {"user", *user}, {"roles", *roles}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	var rs []access.Role
	for _, s := range strings.Split(*roles, ",") {
		r, err := access.ParseRole(s)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	db, _, acc, err := openMeta(ctx, mf)
	if err != nil {
		return err
	}
	defer db.Close()
	in, err := acc.InstitutionByName(ctx, *inst)
	if errors.Is(err, access.ErrNotFound) {
		k, kerr := access.ParseKind(*kind)
		if kerr != nil {
			return kerr
		}
		in, err = acc.CreateInstitution(ctx, *actor, *inst, k)
	}
	if err != nil {
		return err
	}
	u, err := acc.CreateUser(ctx, *actor, *user, in.ID, rs...)
	if err != nil {
		return err
	}
	key, meta, err := acc.IssueKey(ctx, *actor, u.ID, "cli", *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "user %s (%s) of %s (%s) created; API key %s shown once below:\n", u.Name, *roles, in.Name, in.Kind, meta.ID)
	fmt.Fprintln(stdout, key)
	return nil
}

func runModelCleanup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model cleanup", stderr)
	mf := addMetaFlags(fs, false)
	grace := fs.Duration("grace", time.Hour, "keep unreferenced artifacts younger than this (uploads in flight)")
	tempGrace := fs.Duration("temp-grace", time.Hour, "keep temporary upload files written to within this (writes in progress)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *grace < 0 {
		return errors.New("-grace must be >= 0")
	}
	if *tempGrace <= 0 {
		return errors.New("-temp-grace must be > 0: a shorter one could remove the file of a write in progress")
	}
	db, log, _, err := openMeta(ctx, mf)
	if err != nil {
		return err
	}
	defer db.Close()
	store, closeStore, err := openGenerateStore(ctx, *mf.store)
	if err != nil {
		return err
	}
	defer closeStore()
	// Cleanup needs no feature sets; an empty set list keeps it independent of
	// the catalog.
	reg, err := registry.Open(ctx, db, store, registry.StaticFeatureSets{}, log, registry.Options{OrphanGrace: max(*grace, time.Nanosecond), TempGrace: *tempGrace})
	if err != nil {
		return err
	}
	rep, err := reg.Cleanup(ctx)
	if err != nil {
		return err
	}
	for _, k := range rep.Removed {
		fmt.Fprintln(stderr, "removed", k)
	}
	for _, k := range rep.TempsRemoved {
		fmt.Fprintln(stderr, "removed temporary file", k)
	}
	fmt.Fprintf(stdout, "cleanup: %d artifacts scanned, %d referenced, %d young orphans kept, %d orphans removed; %d stale temporary upload files removed (%d bytes), %d recent ones kept\n",
		rep.Scanned, rep.Referenced, rep.Young, len(rep.Removed), len(rep.TempsRemoved), rep.TempBytes, rep.TempsKept)
	return nil
}
