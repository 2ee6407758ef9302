package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/blob/minio"
)

func init() {
	register(command{name: "generate", summary: "generate a deterministic enterprise universe (raw department tables and labels)", run: runGenerate})
}

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := datasets.DefaultGenerateOptions()
	companies := fs.Int("companies", def.Companies, "number of companies")
	months := fs.Int("months", def.Months, "number of monthly periods")
	seed := fs.Int64("seed", def.Seed, "seed: the same seed gives byte-identical files")
	start := fs.String("start", "2023-01", "first month, YYYY-MM")
	out := fs.String("out", "./xinyi-data", "local folder, or s3://bucket on the MinIO/S3 server named by XINYI_S3_ENDPOINT (with XINYI_S3_ACCESS_KEY, XINYI_S3_SECRET_KEY)")
	shard := fs.Int("shard-size", 0, "companies per part file (0: 32768)")
	workers := fs.Int("workers", 0, "worker goroutines (0: all cores)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	force := fs.Bool("force", false, "generate into a store that already holds raw data, replacing raw/ and labels/ (what was built on the old data goes stale)")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: xinyi generate [flags]")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	m, err := datasets.ParseMonth(*start)
	if err != nil {
		return fmt.Errorf("--start: %w", err)
	}
	opts := datasets.GenerateOptions{
		Companies: *companies, Months: *months, Seed: *seed, Start: m,
		ShardSize: *shard, Workers: *workers,
	}
	if !*quiet {
		opts.Progress = stderr
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	store, closeStore, err := openGenerateStore(ctx, *out)
	if err != nil {
		return err
	}
	defer closeStore()
	existing, err := existingRaw(ctx, store, *out)
	if err != nil {
		return err
	}
	if existing != "" {
		if !*force {
			return errors.New(existing + ": choose a new --out folder, or pass --force to replace them anyway")
		}
		fmt.Fprintln(stderr, "warning: "+existing+" (--force)")
	}
	sum, err := datasets.Generate(ctx, store, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated into %s: %s\n", *out, sum)
	return nil
}

// existingRaw describes what generating into a store that already holds raw
// department data would leave behind, or returns "" for a store without raw data:
// a new universe replaces raw/ and labels/, while the feature snapshots, samples,
// models and screenings built on the old one stay and no longer match it
// (materializing the same dates again finds them already there).
func existingRaw(ctx context.Context, store blob.Store, out string) (string, error) {
	raw, err := store.List(ctx, "raw/")
	if err != nil || len(raw) == 0 {
		return "", err
	}
	var stale []string
	for _, prefix := range []string{"features/", "samples/", "screenings/"} {
		infos, err := store.List(ctx, prefix)
		if err != nil {
			return "", err
		}
		if len(infos) > 0 {
			stale = append(stale, fmt.Sprintf("%s (%d objects)", prefix, len(infos)))
		}
	}
	msg := fmt.Sprintf("%s already holds raw data (%d objects under raw/); generating again replaces raw/ and labels/", out, len(raw))
	if len(stale) > 0 {
		msg += " and leaves " + strings.Join(stale, ", ") + " and the models registered on them stale"
	}
	return msg, nil
}

// openGenerateStore opens --out: s3://bucket through MinIO, anything else as a
// local folder.
func openGenerateStore(ctx context.Context, out string) (blob.Store, func(), error) {
	if bucket, ok := strings.CutPrefix(out, "s3://"); ok {
		endpoint := os.Getenv("XINYI_S3_ENDPOINT")
		if endpoint == "" {
			return nil, nil, fmt.Errorf("--out %s needs XINYI_S3_ENDPOINT (host:port of the MinIO/S3 server)", out)
		}
		s, err := minio.Open(ctx, minio.Options{
			Endpoint: endpoint, AccessKey: os.Getenv("XINYI_S3_ACCESS_KEY"),
			SecretKey: os.Getenv("XINYI_S3_SECRET_KEY"), Bucket: strings.TrimSuffix(bucket, "/"),
		})
		if err != nil {
			return nil, nil, err
		}
		return s, func() {}, nil
	}
	l, err := blob.OpenLocal(out)
	if err != nil {
		return nil, nil, err
	}
	return l, func() { l.Close() }, nil
}
