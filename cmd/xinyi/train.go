package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/progress"
	"github.com/xinyi-platform/xinyi/training"
)

func init() {
	register(command{name: "train", summary: "train a GBDT model on a data file, write LightGBM text and a model card", run: runTrain})
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
	var (
		data      = fs.String("data", "", "training data file (required)")
		format    = fs.String("format", "", "data file format: taiwan, gmsc or lightgbm-binary (required)")
		testFile  = fs.String("test", "", "separate test file of the same format (optional)")
		target    = fs.String("target", "", "target column; must be the format's target when given")
		objective = fs.String("objective", "binary", "objective: binary or regression")
		out       = fs.String("out", "", "model file to write, canonical LightGBM text (required)")
		card      = fs.String("card", "", "model card path prefix: writes <prefix>.json and <prefix>.md (default: --out without extension + .card)")
		validFrac = fs.Float64("valid-fraction", 0.2, "share of the training rows held out for validation and early stopping (0: none)")
		testFrac  = fs.Float64("test-fraction", 0, "share of the rows held out as a test set when --test is not given (0: none)")
		monotone  = fs.String("monotone", "", "monotone constraints, e.g. 'age=-1,NumberOfTimes90DaysLate=+1'")
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
	fs.IntVar(&p.MaxBins, "bins", def.MaxBins, "maximum bins per feature (2..255)")
	fs.Float64Var(&p.BaggingFraction, "bagging", def.BaggingFraction, "fraction of rows per tree")
	fs.Float64Var(&p.FeatureFraction, "feature-fraction", def.FeatureFraction, "fraction of features per tree")
	fs.Float64Var(&p.ScalePosWeight, "scale-pos-weight", def.ScalePosWeight, "weight of positive rows (binary)")
	fs.IntVar(&p.EarlyStoppingRounds, "early-stopping", 0, "stop after this many rounds without validation improvement (0: off)")
	fs.StringVar(&p.Metric, "metric", "", "validation metric: auc, logloss or l2 (default auc for binary, l2 for regression)")
	fs.IntVar(&p.Threads, "threads", 0, "goroutines (default GOMAXPROCS)")
	fs.Uint64Var(&p.Seed, "seed", def.Seed, "seed of the splits and of sampling")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *format == "" || *out == "" {
		return errors.New("--data, --format and --out are required")
	}
	if st, err := os.Stat(filepath.Dir(*out)); err != nil || !st.IsDir() {
		return fmt.Errorf("--out %s: folder %s does not exist", *out, filepath.Dir(*out))
	}
	load, ok := trainLoaders[*format]
	if !ok {
		return fmt.Errorf("unknown --format %q (want taiwan, gmsc or lightgbm-binary)", *format)
	}
	switch *objective {
	case "binary":
		p.Objective = gbdt.Binary
	case "regression":
		p.Objective = gbdt.Regression
	default:
		return fmt.Errorf("unknown --objective %q (want binary or regression)", *objective)
	}
	if *validFrac < 0 || *validFrac >= 1 || *testFrac < 0 || *testFrac >= 1 {
		return fmt.Errorf("--valid-fraction %v and --test-fraction %v must be in [0, 1)", *validFrac, *testFrac)
	}

	all, targetName, err := loadTrainTable(load, *data, *target)
	if err != nil {
		return err
	}
	if p.Monotone, err = training.ParseMonotone(*monotone, all.Features); err != nil {
		return err
	}
	var train, valid, test *training.Dataset = all, nil, nil
	strata := func(d *training.Dataset) []float64 {
		if p.Objective == gbdt.Binary {
			return d.Label
		}
		return make([]float64, d.Rows()) // one stratum: a plain random split
	}
	if *testFile != "" {
		if test, _, err = loadTrainTable(load, *testFile, *target); err != nil {
			return err
		}
	} else if *testFrac > 0 {
		tr, te, err := training.StratifiedSplit(strata(train), *testFrac, p.Seed)
		if err != nil {
			return fmt.Errorf("test split: %w", err)
		}
		train, test = train.Subset(tr), train.Subset(te)
	}
	if *validFrac > 0 {
		tr, va, err := training.StratifiedSplit(strata(train), *validFrac, p.Seed+1)
		if err != nil {
			return fmt.Errorf("validation split: %w", err)
		}
		train, valid = train.Subset(tr), train.Subset(va)
	}

	bar := progress.New(stderr, "train", int64(p.NumRounds))
	p.Progress = func(r training.Round) {
		if r.HasValidSet {
			bar.Note(fmt.Sprintf("valid %s %.5f (best %.5f @%d)", r.Metric, r.Valid, r.BestValid, r.BestRound))
		} else {
			bar.Note(fmt.Sprintf("train %s %.5f", r.Metric, r.Train))
		}
		bar.Add(1)
	}
	model, res, err := training.Train(ctx, train, valid, p)
	bar.Done()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, model.WriteLightGBM); err != nil {
		return fmt.Errorf("write model: %w", err)
	}

	c, err := training.NewCard(training.CardInput{Name: filepath.Base(*out), DataName: *format + ":" + filepath.Base(*data),
		Target: targetName, Created: time.Now(), Model: model, Result: res, Train: train, Valid: valid, Test: test,
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

	summary := fmt.Sprintf("trained %d trees (%d rounds run) on %d rows in %.2fs", res.Rounds, res.RoundsRun, train.Rows(), res.Elapsed.Seconds())
	if !math.IsNaN(res.BestValid) {
		summary += fmt.Sprintf("; valid %s %.4f", res.Metric, res.BestValid)
	}
	if e := c.Metrics["test"]; e != nil {
		if p.Objective == gbdt.Binary {
			summary += fmt.Sprintf("; test auc %.4f ks %.4f", e.AUC, e.KS)
		} else {
			summary += fmt.Sprintf("; test rmse %.5f", e.RMSE)
		}
	}
	fmt.Fprintf(stdout, "%s; model %s, card %s.{json,md}\n", summary, *out, prefix)
	return nil
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
