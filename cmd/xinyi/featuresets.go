package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/xinyi-platform/xinyi/features"
)

func init() {
	register(command{name: "features set", summary: "publish (create --file set.yaml), list or show run-time feature sets", run: runFeaturesSet})
}

// runFeaturesSet is "features set create|list|show".
func runFeaturesSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("features set: want create, list or show")
	}
	switch args[0] {
	case "create":
		return runFeaturesSetCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return runFeaturesSetList(ctx, args[1:], stdout, stderr)
	case "show":
		return runFeaturesSetShow(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("features set: unknown subcommand %q, want create, list or show", args[0])
}

func runFeaturesSetCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("features set create", stderr)
	mf := addMetaFlags(fs, true)
	file := fs.String("file", "", "the set's definition in YAML: name, description, shared, features (indicator: id, or name, type, unit, min, max, categories, zh, en) (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("file", *file); err != nil {
		return err
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, features.MaxSetDefinitionB+1))
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	cat, err := features.DefaultCatalog()
	if err != nil {
		return err
	}
	d, err := features.ParseSetDefinition(data, func(id string) bool { _, err := cat.Indicator(id); return err == nil })
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return err
	}
	defer e.close()
	got, err := e.reg.PublishFeatureSet(ctx, e.p, *d)
	if err != nil {
		return err
	}
	vis := "private to " + e.owner(ctx, got.Owner)
	if got.Shared {
		vis = "shared"
	}
	fmt.Fprintf(stdout, "published feature set %s: %d features (%d request features), %s\n", got.Ref(), len(got.Features), len(got.RequestFeatures()), vis)
	return nil
}

func runFeaturesSetList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("features set list", stderr)
	mf := addMetaFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return err
	}
	defer e.close()
	sets, err := e.reg.FeatureSetDefinitions(ctx, e.p)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SET\tFEATURES\tREQUEST\tOWNER")
	for _, d := range sets {
		owner := "built-in"
		if !d.BuiltIn {
			owner = e.owner(ctx, d.Owner)
			if d.Shared {
				owner += " (shared)"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", d.Ref(), len(d.Features), len(d.RequestFeatures()), owner)
	}
	return tw.Flush()
}

func runFeaturesSetShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("features set show", stderr)
	mf := addMetaFlags(fs, true)
	set := fs.String("set", "", "the set, name/vN or a bare name for its latest version (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("set", *set); err != nil {
		return err
	}
	ref, err := features.ParseSetRef(*set)
	if err != nil {
		return fmt.Errorf("-set: %w", err)
	}
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return err
	}
	defer e.close()
	d, err := e.reg.FeatureSetDefinition(ctx, e.p, ref)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s  %s\n", d.Ref(), d.Description)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tFEATURE\tKIND\tUNIT\tALLOWED\tDESCRIPTION")
	for i, f := range d.Features {
		kind, allowed := "indicator", ""
		if f.Request() {
			kind = "request " + f.Type
			if f.Type == features.FeatureCategorical {
				allowed = strings.Join(f.Categories, ",")
			} else {
				allowed = "[" + bound(f.Min, "-inf") + ", " + bound(f.Max, "+inf") + "]"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, f.Column(), kind, f.Unit, allowed, strings.TrimSpace(f.Zh+" "+f.En))
	}
	return tw.Flush()
}

func bound(b *float64, none string) string {
	if b == nil {
		return none
	}
	return fmt.Sprintf("%g", *b)
}
