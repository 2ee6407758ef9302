package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	ingesthttp "github.com/xinyi-platform/xinyi/datasets/ingest/httpapi"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

func init() {
	register(command{name: "ingest", summary: "load department files (CSV/TSV, JSON Lines, Parquet, .xlsx; UTF-8, GBK, GB18030) into a raw source", run: runIngest})
	register(command{name: "ingest status", summary: "freshness and rejection rate of every department source", run: runIngestStatus})
	register(command{name: "ingest serve", summary: "serve POST /v1/ingest/{source} for departments (API keys, access rules, audit)", run: runIngestServe})
	register(command{name: "ingest gc", summary: "remove the never-visible parts that refused, failed or killed batches left behind", run: runIngestGC})
}

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ingest", stderr)
	mf := addMetaFlags(fs, false)
	dir := mf.store
	source := fs.String("source", "", "raw source the files belong to (tax, court, companies, ...)")
	batchID := fs.String("batch-id", "", "batch id; default the digest of the files: sending a batch again changes nothing")
	maxBad := fs.Float64("max-bad", 0.05, "share of bad rows above which the whole batch is refused (0: none allowed)")
	format := fs.String("format", "auto", "file format: auto, csv, jsonl, parquet or xlsx")
	encoding := fs.String("encoding", "auto", "text encoding: auto, utf-8, gbk or gb18030")
	asJSON := fs.Bool("json", false, "print the whole report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := required("source", *source); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("give one or more files (- for standard input)")
	}
	var inputs []ingest.Input
	for _, name := range fs.Args() {
		if name == "-" {
			inputs = append(inputs, ingest.Input{Name: "stdin", R: os.Stdin})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		inputs = append(inputs, ingest.Input{Name: name, R: f})
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	// The metadata database holds the lock of each source that every process
	// loading batches shares.
	dsn := *mf.dsn
	if dsn == "" {
		if dsn, err = defaultDSN(*dir); err != nil {
			return err
		}
	}
	db, err := metadb.Open(ctx, dsn, metadb.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	bad := *maxBad
	if bad == 0 {
		bad = -1 // the package's "none allowed"
	}
	rep, err := ingest.New(store).WithLocker(ingest.DBLocker(db, ingest.DBLockOptions{})).Ingest(ctx, *source, inputs, ingest.Options{
		BatchID: *batchID, MaxBad: bad, Format: *format, Encoding: *encoding,
	})
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else {
			for _, ex := range rep.Examples {
				fmt.Fprintf(stdout, "rejected %s:%d %s %s: %s\n", ex.File, ex.Line, ex.Reason, ex.Column, ex.Detail)
			}
			if rep.Quarantine != "" {
				fmt.Fprintf(stdout, "rejected rows: %s\n", rep.Quarantine)
			}
			fmt.Fprintf(stdout, "%s (%.0f rows/s)\n", rep.Summary(), float64(rep.Rows)/max(rep.Elapsed.Seconds(), 1e-9))
		}
	}
	return err
}

func runIngestStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ingest status", stderr)
	dir := fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	sts, err := ingest.Status(ctx, store, time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sts)
	}
	w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SOURCE\tBATCHES\tROWS\tREJECTED\tLAST ARRIVAL\tCADENCE\tFRESH")
	for _, s := range sts {
		last, fresh := "-", "late"
		if s.Batches > 0 {
			last = s.LastArrival.Format(time.RFC3339)
		}
		if !s.Late {
			fresh = "ok"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%.2f%%\t%s\t%dd\t%s\n", s.Source, s.Batches, s.Rows, 100*s.RejectRate(), last, s.CadenceDays, fresh)
	}
	return w.Flush()
}

func runIngestGC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ingest gc", stderr)
	dir := fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set")
	olderThan := fs.Duration("older-than", 24*time.Hour, "keep parts younger than this: they may belong to a batch still running")
	tempDir := fs.String("temp-dir", os.TempDir(), "folder of the temporary files of ingestion (spills of killed runs are removed too)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	contracts, err := datasets.Contracts()
	if err != nil {
		return err
	}
	total := 0
	for _, c := range contracts {
		removed, err := ingest.RemoveOrphans(ctx, store, c.Name, time.Now().Add(-*olderThan))
		total += len(removed)
		if err != nil {
			return err
		}
	}
	temps, err := ingest.RemoveStaleTemps(*tempDir, time.Now().Add(-*olderThan))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed %d orphaned parts and %d temporary files\n", total, temps)
	return nil
}

func runIngestServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ingest serve", stderr)
	mf := addMetaFlags(fs, false)
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve on")
	maxBad := fs.Float64("max-bad", 0.05, "default share of bad rows above which a batch is refused (a request's max_bad overrides)")
	owners := ingestOwnerFlag(fs, "owner", "source=institution: the department that owns a source (repeat for each source)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, closeStore, err := openGenerateStore(ctx, *mf.store)
	if err != nil {
		return err
	}
	defer closeStore()
	db, log, acc, err := openMeta(ctx, mf)
	if err != nil {
		return err
	}
	defer db.Close()
	h, err := ingesthttp.New(ingesthttp.Options{
		Ingester: ingest.New(store).WithLocker(ingest.DBLocker(db, ingest.DBLockOptions{})), Store: store, Auth: acc,
		Authorizer: access.NewAuthorizer(acc, log), Audit: log,
		Owner:  ingesthttp.OwnersByName(acc, owners),
		Ingest: ingest.Options{MaxBad: *maxBad},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "ingest serving on http://%s/v1/ingest/{source}\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return srv.Shutdown(shut)
	}
}

// ingestOwnerFlag adds a repeatable source=institution flag and returns the map
// it fills.
func ingestOwnerFlag(fs *flag.FlagSet, name, usage string) map[string]string {
	owners := map[string]string{}
	fs.Func(name, usage, func(v string) error {
		src, inst, ok := strings.Cut(v, "=")
		if !ok || src == "" || inst == "" {
			return fmt.Errorf("want source=institution, got %q", v)
		}
		if _, err := datasets.ContractOf(src); err != nil {
			return err
		}
		owners[src] = inst
		return nil
	})
	return owners
}
