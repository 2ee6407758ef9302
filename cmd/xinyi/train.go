package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/progress"
	"github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/training"
)

func init() {
	register(command{name: "train", summary: "train a GBDT model on a feature-store sample or a data file, write LightGBM text and a model card, optionally register it", run: runTrain})
}

var trainLoaders = map[string]func(string) (*datasets.Table, error){
	"taiwan":          datasets.LoadTaiwan,
	"gmsc":            datasets.LoadGMSC,
	"lightgbm-binary": datasets.LoadLightGBMBinary,
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := training.DefaultParams()
	mf := addMetaFlags(fs, true)
	var (
		sample    = fs.String("sample", "", "feature-store sample in --store, name (latest version) or name/vN: trains on its train split, stops early on valid, evaluates on test")
		data      = fs.String("data", "", "training data file (instead of --sample)")
		format    = fs.String("format", "", "named public layout of --data: taiwan, gmsc or lightgbm-binary (without it --data is your own CSV/TSV file, read with --target)")
		idCol     = fs.String("id", "", "with --data and no --format: row identifier column (not a feature)")
		weightCol = fs.String("weight", "", "with --data and no --format: row weight column (not supported yet)")
		timeCol   = fs.String("time", "", "with --data and no --format: observation time column (sortable, e.g. 2024-03-31); the validation and test rows are the latest ones")
		catCols   = fs.String("categorical", "", "with --data and no --format: comma-separated columns read as categories even when they hold numbers (text columns always are)")
		catSplits = fs.String("category-splits", "sets", "with --data and no --format: how category columns split: 'sets' (a set of categories against the rest, LightGBM's categorical splits) or 'codes' (their frequency codes as ordered numbers)")
		encoding  = fs.String("encoding", "auto", "with --data and no --format: text encoding, auto, utf-8, gbk or gb18030")
		testFile  = fs.String("test", "", "separate test file of the same format (optional, with --data)")
		target    = fs.String("target", "", "target column; must be the format's target when given (with --data)")
		objective = fs.String("objective", "", "objective: binary, regression (L2) or gamma (log link, for a positive amount; errors count relative to it) (default binary; with --sample it follows the label: gamma for limit, whose rows with a limit of 0 are left out; regression trains a limit with L2 on yuan)")
		out       = fs.String("out", "", "model file to write, canonical LightGBM text (required)")
		card      = fs.String("card", "", "model card path prefix: writes <prefix>.json and <prefix>.md (default: --out without extension + .card)")
		validFrac = fs.Float64("valid-fraction", 0.2, "share of the training rows held out for validation and early stopping (0: none; with --data)")
		testFrac  = fs.Float64("test-fraction", 0, "share of the rows held out as a test set when --test is not given (0: none; with --data)")
		monotone  = fs.String("monotone", "", "monotone constraints: 'none', or e.g. 'age=-1,NumberOfTimes90DaysLate=+1'; with --sample the default is the catalog's directions")
		register  = fs.String("register", "", "with --sample: register the model under this name in the registry of --store (created with the label's task if missing)")
		shared    = fs.Bool("shared", false, "with --register: a model this run creates is readable by other institutions (regulators screening with it, other banks)")
		codeVer   = fs.String("code-version", "", "revision of the code that trained the model, recorded as lineage with --register")
		bank      = fs.String("bank", "", "with --sample: the sample is the private one of this institution (under banks/<id>/, built by 'xinyi features sample-labels')")
		exportCSV = fs.String("export-csv", "", "with --sample: write its splits as <prefix>.{train,valid,test}.csv (indicators and label, empty = missing) for other tools, and train nothing")
		p         = def
	)
	fs.IntVar(&p.NumRounds, "rounds", def.NumRounds, "boosting rounds")
	fs.Float64Var(&p.LearningRate, "lr", def.LearningRate, "learning rate")
	fs.IntVar(&p.NumLeaves, "leaves", def.NumLeaves, "maximum leaves per tree")
	fs.IntVar(&p.MaxDepth, "max-depth", def.MaxDepth, "maximum tree depth (0: no limit)")
	fs.IntVar(&p.MinDataInLeaf, "min-data", def.MinDataInLeaf, "minimum rows per leaf")
	fs.Float64Var(&p.MinSumHessianInLeaf, "min-hessian", def.MinSumHessianInLeaf, "minimum sum of hessians per leaf")
	fs.Float64Var(&p.LambdaL1, "l1", def.LambdaL1, "L1 regularization of leaf outputs")
	fs.Float64Var(&p.LambdaL2, "l2", def.LambdaL2, "L2 regularization of leaf outputs")
	fs.Float64Var(&p.MaxDeltaStep, "max-delta-step", def.MaxDeltaStep, "bound of a leaf's output before the learning rate (0: none, 1 for gamma; negative: none for gamma either)")
	fs.IntVar(&p.MaxBins, "bins", def.MaxBins, "maximum bins per feature (2..255)")
	fs.Float64Var(&p.BaggingFraction, "bagging", def.BaggingFraction, "fraction of rows per tree")
	fs.Float64Var(&p.FeatureFraction, "feature-fraction", def.FeatureFraction, "fraction of features per tree")
	fs.Float64Var(&p.ScalePosWeight, "scale-pos-weight", def.ScalePosWeight, "weight of positive rows (binary)")
	fs.IntVar(&p.EarlyStoppingRounds, "early-stopping", -1, "stop after this many rounds without validation improvement (0: off; default 20 with --sample, off with --data)")
	fs.StringVar(&p.Metric, "metric", "", "validation metric: auc, logloss, l2 or rmse_log (default auc for binary, l2 for regression, rmse_log for gamma)")
	fs.IntVar(&p.Threads, "threads", 0, "goroutines (default GOMAXPROCS)")
	fs.Uint64Var(&p.Seed, "seed", def.Seed, "seed of the splits and of sampling")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *shared && *register == "" {
		return errors.New("--shared goes with --register")
	}
	if *exportCSV != "" {
		if *sample == "" || *out != "" || *register != "" {
			return errors.New("--export-csv goes with --sample alone (no --out, no --register)")
		}
		return exportSampleCSV(ctx, *mf.store, *sample, *exportCSV, *objective, stdout)
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	if st, err := os.Stat(filepath.Dir(*out)); err != nil || !st.IsDir() {
		return fmt.Errorf("--out %s: folder %s does not exist", *out, filepath.Dir(*out))
	}
	var ts *trainSets
	var err error
	switch {
	case *sample != "" && *data != "":
		return errors.New("give either --sample (a feature-store sample) or --data (a file), not both")
	case *sample != "":
		if *format != "" || *testFile != "" || *target != "" {
			return errors.New("--format, --test and --target go with --data; a --sample brings its own splits and label")
		}
		if p.EarlyStoppingRounds < 0 {
			p.EarlyStoppingRounds = 20
		}
		prefix := ""
		if *bank != "" {
			if prefix, err = bankPrefix(ctx, mf, *bank); err != nil {
				return err
			}
		}
		ts, err = loadSampleSets(ctx, *mf.store, prefix, *sample, *objective, *monotone, &p)
	case *data != "" && *format != "":
		if *idCol != "" || *weightCol != "" || *timeCol != "" || *catCols != "" {
			return errors.New("--id, --weight, --time and --categorical go with a file of your own (--data without --format)")
		}
		if *register != "" {
			return errors.New("--register needs --sample: a model registered from the trainer carries its feature-store sample as lineage (register a file with 'xinyi model register')")
		}
		if p.EarlyStoppingRounds < 0 {
			p.EarlyStoppingRounds = 0
		}
		ts, err = loadFileSets(*data, *format, *testFile, *target, *objective, *monotone, *validFrac, *testFrac, &p)
	case *data != "":
		if *register != "" {
			return errors.New("--register needs --sample: a model registered from the trainer carries its feature-store sample as lineage (register a file with 'xinyi model register')")
		}
		if *weightCol != "" {
			return errors.New("--weight: the trainer has no row weights yet; drop the column or the flag")
		}
		if *testFile != "" {
			return errors.New("--test goes with --format; with your own file use --test-fraction (or --time for the latest rows)")
		}
		if p.EarlyStoppingRounds < 0 {
			p.EarlyStoppingRounds = 0
		}
		var cats []string
		if *catCols != "" {
			cats = strings.Split(*catCols, ",")
		}
		if *catSplits != "sets" && *catSplits != "codes" {
			return fmt.Errorf("--category-splits %q: want sets or codes", *catSplits)
		}
		ts, err = loadOwnFileSets(*data, ingest.TrainFileOptions{Target: *target, ID: *idCol, Time: *timeCol, Categorical: cats, Encoding: *encoding},
			*objective, *monotone, *catSplits == "sets", *validFrac, *testFrac, &p, stderr)
	default:
		return errors.New("--sample (with --store), or --data (with --target, or --format), are required")
	}
	if err != nil {
		return err
	}

	var env *regEnv
	if *register != "" {
		// Open the registry before training: a bad key fails in a second, not after the run.
		if env, err = openRegistry(ctx, mf); err != nil {
			return err
		}
		defer env.close()
	}

	bar := progress.New(stderr, "train", int64(p.NumRounds))
	p.Progress = func(r training.Round) {
		if r.HasValidSet {
			bar.Note(fmt.Sprintf("valid %s (best %s @%d)", metricText(r.Metric, r.Valid, ts.unit), metricText(r.Metric, r.BestValid, ts.unit), r.BestRound))
		} else {
			bar.Note("train " + metricText(r.Metric, r.Train, ts.unit))
		}
		bar.Add(1)
	}
	model, res, err := training.Train(ctx, ts.train, ts.valid, p)
	bar.Done()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, model.WriteLightGBM); err != nil {
		return fmt.Errorf("write model: %w", err)
	}

	c, err := training.NewCard(training.CardInput{Name: filepath.Base(*out), DataName: ts.dataName,
		Target: ts.target, Created: time.Now(), Model: model, Result: res, Train: ts.train, Valid: ts.valid, Test: ts.test,
		Eval: training.EvalOptions{Threads: p.Threads}})
	if err != nil {
		return err
	}
	prefix := *card
	if prefix == "" {
		prefix = strings.TrimSuffix(*out, filepath.Ext(*out)) + ".card"
	}
	if err := writeFileAtomic(prefix+".json", c.WriteJSON); err != nil {
		return fmt.Errorf("write model card: %w", err)
	}
	if err := writeFileAtomic(prefix+".md", c.WriteMarkdown); err != nil {
		return fmt.Errorf("write model card: %w", err)
	}

	summary := fmt.Sprintf("trained %d trees (%d rounds run) on %d rows in %.2fs", res.Rounds, res.RoundsRun, ts.train.Rows(), res.Elapsed.Seconds())
	if ts.sample != nil {
		summary = fmt.Sprintf("sample %s: %s", ts.sample.Manifest.Ref(), summary)
	}
	if !math.IsNaN(res.BestValid) {
		summary += "; valid " + metricText(res.Metric, res.BestValid, ts.unit)
	}
	if e := c.Metrics["test"]; e != nil {
		if p.Objective == gbdt.Binary {
			summary += fmt.Sprintf("; test auc %.4f ks %.4f", e.AUC, e.KS)
		} else {
			summary += "; test " + amountErrorsText(e, ts.unit)
		}
	}
	if ts.sample != nil {
		if n := ts.sample.LeftOut["train"] + ts.sample.LeftOut["valid"] + ts.sample.LeftOut["test"]; n > 0 {
			summary += fmt.Sprintf("; %d rows with a %s of 0 left out (refusals, for the PD model and the policy)", n, ts.sample.Manifest.Label.Kind)
		}
	}
	summary += fmt.Sprintf("; model %s, card %s.{json,md}", *out, prefix)
	if len(ts.categories) > 0 {
		cp := prefix + ".categories.json"
		if err := writeCategories(cp, ts.categories); err != nil {
			return fmt.Errorf("write category codes: %w", err)
		}
		summary += ", category codes " + cp
	}
	if env != nil {
		v, err := registerSampleModel(ctx, env, *register, *shared, ts.sample, model, c, *codeVer)
		if err != nil {
			return fmt.Errorf("model written to %s but not registered: %w", *out, err)
		}
		summary += fmt.Sprintf("; registered %s v%d", v.Model, v.Version)
	}
	fmt.Fprintln(stdout, summary)
	return nil
}

// trainSets are the data of one training run.
type trainSets struct {
	train, valid, test *training.Dataset
	dataName, target   string
	sample             *training.Sample    // nil for a data file
	unit               string              // of a regression label ("yuan" for a limit), or ""
	categories         map[string][]string // codes of the text columns of a file of one's own
}

// metricText formats a validation metric for people: l2 (a mean squared error in
// the label's unit squared) as its root, in the label's unit with thousands
// separators; rmse_log (of a gamma model) with the typical factor it stands for;
// auc and logloss as they are.
func metricText(metric string, v float64, unit string) string {
	switch {
	case metric == training.MetricL2 && v >= 0:
		return "rmse " + amountText(math.Sqrt(v), unit)
	case metric == training.MetricRMSELog && v >= 0:
		return fmt.Sprintf("rmse of log %.4f (×%.2f)", v, math.Exp(v))
	}
	return fmt.Sprintf("%s %.4f", metric, v)
}

// amountErrorsText says how far a regression or gamma model's amounts are off:
// "median error 21.9%, rmse of log 0.3012 (×1.35), rmse 1,234,567 yuan".
func amountErrorsText(e *training.Evaluation, unit string) string {
	var parts []string
	if e.MdAPE != nil {
		parts = append(parts, fmt.Sprintf("median error %.1f%%", 100**e.MdAPE))
	}
	if e.RMSELog != nil {
		parts = append(parts, metricText(training.MetricRMSELog, *e.RMSELog, unit))
	}
	return strings.Join(append(parts, "rmse "+amountText(e.RMSE, unit)), ", ")
}

// amountText writes an error in the label's unit: whole units with thousands
// separators when they are large (a limit in yuan), else four decimals.
func amountText(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) < 1000 {
		s := fmt.Sprintf("%.4f", v)
		if unit != "" {
			s += " " + unit
		}
		return s
	}
	digits := strconv.FormatFloat(math.Round(math.Abs(v)), 'f', 0, 64)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if unit != "" {
		b.WriteString(" " + unit)
	}
	return b.String()
}

// loadSampleSets reads a feature-store sample and sets the objective and the
// monotone constraints of p from its label and the catalog.
func loadSampleSets(ctx context.Context, storeDir, prefix, ref, objective, monotone string, p *training.Params) (*trainSets, error) {
	root, closeStore, err := openGenerateStore(ctx, storeDir)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	var store blob.Store = root
	if prefix != "" {
		if store, err = blob.WithPrefix(root, prefix); err != nil {
			return nil, err
		}
	}
	explicit := monotone != "" && monotone != "none" && monotone != "catalog"
	s, err := training.LoadSample(ctx, store, ref, training.SampleOptions{NoMonotone: monotone == "none" || explicit, Objective: gbdt.Objective(objective)})
	if errors.Is(err, training.ErrInvalidParams) {
		return nil, fmt.Errorf("--objective %s: %w", objective, err)
	}
	if err != nil {
		return nil, fmt.Errorf("--sample %s in %s: %w", ref, storeDir, err)
	}
	p.Objective, p.Monotone = s.Objective, s.Monotone
	if explicit {
		if p.Monotone, err = training.ParseMonotone(monotone, s.Train.Features); err != nil {
			return nil, err
		}
	}
	ts := &trainSets{train: s.Train, valid: s.Valid, test: s.Test, dataName: s.DataName(), target: s.Manifest.Label.Name, sample: s}
	if s.Manifest.Label.Regression && s.Manifest.Label.Kind == "limit" {
		ts.unit = "yuan"
	}
	return ts, nil
}

// exportSampleCSV writes the splits of a sample as CSV files: the rows the
// objective trains on (a limit sample's gamma leaves out limits of 0; objective
// "regression" keeps them).
func exportSampleCSV(ctx context.Context, storeDir, ref, prefix, objective string, stdout io.Writer) error {
	var p training.Params
	ts, err := loadSampleSets(ctx, storeDir, "", ref, objective, "none", &p)
	if err != nil {
		return err
	}
	var wrote []string
	for _, sp := range []struct {
		name string
		d    *training.Dataset
	}{{"train", ts.train}, {"valid", ts.valid}, {"test", ts.test}} {
		if sp.d == nil {
			continue
		}
		path := prefix + "." + sp.name + ".csv"
		if err := writeFileAtomic(path, func(w io.Writer) error { return training.WriteCSV(w, sp.d, ts.target) }); err != nil {
			return fmt.Errorf("export %s: %w", path, err)
		}
		wrote = append(wrote, fmt.Sprintf("%s (%d rows)", path, sp.d.Rows()))
	}
	left := ""
	if n := ts.sample.LeftOut["train"] + ts.sample.LeftOut["valid"] + ts.sample.LeftOut["test"]; n > 0 {
		left = fmt.Sprintf("; %d rows with a %s of 0 left out, as %s trains (--objective regression keeps them)", n, ts.sample.Manifest.Label.Kind, ts.sample.Objective)
	}
	fmt.Fprintf(stdout, "sample %s: %d indicators and label %s written to %s%s\n", ts.sample.Manifest.Ref(), len(ts.train.Features), ts.target, strings.Join(wrote, ", "), left)
	return nil
}

// loadFileSets loads a public data file and splits it as the flags say.
func loadFileSets(data, format, testFile, target, objective, monotone string, validFrac, testFrac float64, p *training.Params) (*trainSets, error) {
	load, ok := trainLoaders[format]
	if !ok {
		return nil, fmt.Errorf("unknown --format %q (want taiwan, gmsc or lightgbm-binary)", format)
	}
	switch objective {
	case "binary", "":
		p.Objective = gbdt.Binary
	case "regression":
		p.Objective = gbdt.Regression
	case "gamma":
		p.Objective = gbdt.Gamma
	default:
		return nil, fmt.Errorf("unknown --objective %q (want binary, regression or gamma)", objective)
	}
	if validFrac < 0 || validFrac >= 1 || testFrac < 0 || testFrac >= 1 {
		return nil, fmt.Errorf("--valid-fraction %v and --test-fraction %v must be in [0, 1)", validFrac, testFrac)
	}
	all, targetName, err := loadTrainTable(load, data, target)
	if err != nil {
		return nil, err
	}
	if monotone != "none" {
		if p.Monotone, err = training.ParseMonotone(monotone, all.Features); err != nil {
			return nil, err
		}
	}
	var train, valid, test *training.Dataset = all, nil, nil
	strata := func(d *training.Dataset) []float64 {
		if p.Objective == gbdt.Binary {
			return d.Label
		}
		return make([]float64, d.Rows()) // one stratum: a plain random split
	}
	if testFile != "" {
		if test, _, err = loadTrainTable(load, testFile, target); err != nil {
			return nil, err
		}
	} else if testFrac > 0 {
		tr, te, err := training.StratifiedSplit(strata(train), testFrac, p.Seed)
		if err != nil {
			return nil, fmt.Errorf("test split: %w", err)
		}
		train, test = train.Subset(tr), train.Subset(te)
	}
	if validFrac > 0 {
		tr, va, err := training.StratifiedSplit(strata(train), validFrac, p.Seed+1)
		if err != nil {
			return nil, fmt.Errorf("validation split: %w", err)
		}
		train, valid = train.Subset(tr), train.Subset(va)
	}
	return &trainSets{train: train, valid: valid, test: test, dataName: format + ":" + filepath.Base(data), target: targetName}, nil
}

// registerSampleModel registers a model trained on s as the next version of name,
// creating the model with the label's task when it does not exist.
// The lineage names the sample, its version and its manifest (whose sha256 the
// registry records) and describes the label in its note.
func registerSampleModel(ctx context.Context, env *regEnv, name string, shared bool, s *training.Sample, model *gbdt.Model, c *training.Card, codeVersion string) (registry.Version, error) {
	card, err := json.Marshal(c)
	if err != nil {
		return registry.Version{}, fmt.Errorf("encode model card: %w", err)
	}
	m := s.Manifest
	up := registry.Upload{FeatureSet: m.Set, FeatureSetVersion: m.SetVersion, Metrics: training.CardMetrics(c), ModelCard: card,
		Lineage: registry.Lineage{Kind: "trained", Sample: m.Name, SampleVersion: m.Version, SampleManifest: m.ManifestKey(),
			CodeVersion: codeVersion, Note: s.LabelNote()}}
	if _, err := env.reg.Model(ctx, env.p, name); errors.Is(err, registry.ErrNotFound) {
		task, err := s.Task()
		if err != nil {
			return registry.Version{}, err
		}
		if _, err := env.reg.CreateModel(ctx, env.p, registry.NewModel{Name: name, Task: registry.Task(task), Shared: shared,
			Description: "trained on feature-store sample " + m.Ref()}); err != nil {
			if errors.Is(err, registry.ErrConflict) {
				// The name is held by a model this user cannot see: another institution's.
				return registry.Version{}, fmt.Errorf("the model name %q is taken by another institution (model names are one namespace across the platform); choose another, e.g. --register %s-%s", name, name, suggestSuffix(env.p))
			}
			return registry.Version{}, err
		}
	} else if err != nil {
		return registry.Version{}, err
	}
	return env.reg.RegisterModel(ctx, env.p, name, model, up)
}

// suggestSuffix is a name part that tells the caller's models apart: the user's
// institution in lower-case letters and digits, or "mine".
func suggestSuffix(p access.Principal) string {
	var b strings.Builder
	for _, r := range strings.ToLower(p.Institution) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" || len(s) > 24 {
		return "mine"
	}
	return s
}

// loadTrainTable loads a data file and converts it for training.
func loadTrainTable(load func(string) (*datasets.Table, error), path, target string) (*training.Dataset, string, error) {
	tab, err := load(path)
	if err != nil {
		return nil, "", err
	}
	defer tab.Release()
	if target != "" && target != tab.Target {
		return nil, "", fmt.Errorf("--target %q: the file's target column is %q", target, tab.Target)
	}
	d, err := training.FromArrow(tab.Record, tab.Features, tab.Target)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return d, tab.Target, nil
}

// writeFileAtomic writes path through a temporary file in the same folder and
// renames it into place, so a reader never sees a half-written file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// bankPrefix is the private prefix (banks/<id>/) of the institution called name.
func bankPrefix(ctx context.Context, mf metaFlags, name string) (string, error) {
	db, _, acc, err := openMeta(ctx, mf)
	if err != nil {
		return "", err
	}
	defer db.Close()
	inst, err := acc.InstitutionByName(ctx, name)
	if err != nil {
		return "", fmt.Errorf("--bank %q: %w", name, err)
	}
	return "banks/" + strconv.FormatInt(inst.ID, 10) + "/", nil
}
