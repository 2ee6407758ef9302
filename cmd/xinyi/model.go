package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/progress"
)

func init() {
	register(command{name: "model inspect", summary: "describe a LightGBM or XGBoost model file (format, objective, trees, features)", run: runModelInspect})
	register(command{name: "model convert", summary: "convert a LightGBM or XGBoost model file to canonical LightGBM text", run: runModelConvert})
}

// modelFlags are the limits shared by both subcommands.
func modelFlags(fs *flag.FlagSet) *gbdt.Limits {
	def := gbdt.DefaultLimits()
	lim := def
	fs.Int64Var(&lim.MaxBytes, "max-bytes", def.MaxBytes, "largest model file accepted")
	fs.IntVar(&lim.MaxTrees, "max-trees", def.MaxTrees, "most trees accepted")
	fs.IntVar(&lim.MaxDepth, "max-depth", def.MaxDepth, "deepest tree accepted")
	fs.IntVar(&lim.MaxFeatures, "max-features", def.MaxFeatures, "most features accepted")
	return &lim
}

// readModel reads and parses a model file, refusing files above the size limit
// without reading them whole.
func readModel(path string, lim gbdt.Limits) (*gbdt.Model, gbdt.Format, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, lim.MaxBytes+1))
	if err != nil {
		return nil, "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, "", 0, fmt.Errorf("%s is larger than %d bytes (see -max-bytes)", path, lim.MaxBytes)
	}
	format, err := gbdt.Detect(data)
	if err != nil {
		return nil, "", 0, fmt.Errorf("%s: %w", path, err)
	}
	m, err := gbdt.Parse(data, lim)
	if err != nil {
		return nil, "", 0, fmt.Errorf("%s: %w", path, err)
	}
	return m, format, len(data), nil
}

func runModelInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("model inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: xinyi model inspect [flags] <model file>")
		fs.PrintDefaults()
	}
	lim := modelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one model file")
	}
	path := fs.Arg(0)
	m, format, size, err := readModel(path, *lim)
	if err != nil {
		return err
	}
	w := func(k string, v any) { fmt.Fprintf(stdout, "%-12s %v\n", k, v) }
	w("file", path)
	w("bytes", size)
	w("format", format)
	w("source", m.Source)
	w("objective", m.Objective)
	if m.Objective == gbdt.Binary {
		w("sigmoid", m.Sigmoid)
		w("base score", fmt.Sprintf("%.9g (margin), %.9g (probability)", m.BaseScore, 1/(1+math.Exp(-m.Sigmoid*m.BaseScore))))
	} else if m.Objective == gbdt.Gamma {
		w("base score", fmt.Sprintf("%.9g (margin, log), %.9g (prediction)", m.BaseScore, math.Exp(m.BaseScore)))
	} else {
		w("base score", fmt.Sprintf("%.9g", m.BaseScore))
	}
	w("trees", len(m.Trees))
	w("leaves", m.NumLeaves())
	w("max depth", m.Depth())
	w("features", m.NumFeatures())
	names := m.FeatureNames
	const show = 12
	if len(names) > show {
		w("names", fmt.Sprintf("%v ... (%d more)", names[:show], len(names)-show))
	} else {
		w("names", names)
	}
	return nil
}

func runModelConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("model convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: xinyi model convert [flags] <input model> <output LightGBM text>")
		fs.PrintDefaults()
	}
	lim := modelFlags(fs)
	force := fs.Bool("force", false, "overwrite the output file if it exists")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("want an input and an output file")
	}
	in, out := fs.Arg(0), fs.Arg(1)
	if _, err := os.Stat(out); err == nil && !*force {
		return fmt.Errorf("%s exists (use -force to overwrite)", out)
	}
	bar := progress.New(stderr, "convert", 3)
	m, format, _, err := readModel(in, *lim)
	if err != nil {
		bar.Done()
		return err
	}
	bar.Add(1)
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		bar.Done()
		return err
	}
	bar.Add(1)
	if err := writeFileAtomic(out, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
		bar.Done()
		return err
	}
	bar.Add(1)
	elapsed := bar.Done()
	fmt.Fprintf(stdout, "converted %s (%s, %s, %d trees, %d features) to %s (LightGBM v3 text, %d bytes) in %v\n",
		in, format, m.Objective, len(m.Trees), m.NumFeatures(), out, buf.Len(), elapsed.Round(1e6))
	return nil
}
