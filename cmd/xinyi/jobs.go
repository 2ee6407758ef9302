package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xinyi-platform/xinyi/internal/jobs"
)

func init() {
	register(command{name: "jobs", summary: "list durable jobs with kind, state, attempts, progress and error", run: runJobs})
}

const jobsDBUsage = "jobs database DSN (default: the --db PostgreSQL database, else sqlite file <store>/.xinyi/jobs.db)"

// jobsDSN is the jobs database: --jobs-db, else the metadata database when it is
// PostgreSQL, else a SQLite file of its own beside the embedded metadata database
// (River keeps one writer connection to it).
func jobsDSN(store, metaDSN, jobsDB string) (string, error) {
	if jobsDB != "" {
		return jobsDB, nil
	}
	if strings.HasPrefix(metaDSN, "postgres://") || strings.HasPrefix(metaDSN, "postgresql://") {
		return metaDSN, nil
	}
	if strings.HasPrefix(store, "s3://") {
		return "", fmt.Errorf("--jobs-db is required with an s3:// store and a SQLite metadata database")
	}
	dir := filepath.Join(store, ".xinyi")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("jobs folder: %w", err)
	}
	return "sqlite://" + filepath.Join(dir, "jobs.db"), nil
}

// parseQueues reads "screening=2,other=1" into queue → workers.
func parseQueues(spec string) (map[string]int, error) {
	out := map[string]int{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, num, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(num)
		if !ok || name == "" || err != nil || n < 1 {
			return nil, fmt.Errorf("--queues: %q is not queue=workers with workers >= 1", part)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--queues: %q given twice", name)
		}
		out[name] = n
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--queues: no queue to work")
	}
	return out, nil
}

func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		storeDir = fs.String("store", "xinyi-data", "object store folder whose .xinyi/ holds the embedded jobs database")
		dsn      = fs.String("db", "", "metadata database DSN (only to find a PostgreSQL jobs database)")
		jobsDB   = fs.String("jobs-db", "", jobsDBUsage)
		state    = fs.String("state", "", "only jobs in these states, comma separated: available, running, retryable, scheduled, pending, completed, cancelled, discarded")
		kind     = fs.String("kind", "", "only jobs of these kinds, comma separated (e.g. screening)")
		limit    = fs.Int("limit", 50, "newest jobs to list")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	d, err := jobsDSN(*storeDir, *dsn, *jobsDB)
	if err != nil {
		return err
	}
	q, err := jobs.Open(ctx, jobs.Options{DSN: d})
	if err != nil {
		return err
	}
	defer q.Close()
	list, err := q.List(ctx, jobs.ListOptions{States: splitList(*state), Kinds: splitList(*kind), Limit: *limit})
	if err != nil {
		return err
	}
	printJobs(stdout, list)
	return nil
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func printJobs(w io.Writer, list []jobs.Info) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tATTEMPTS\tPROGRESS\tCREATED\tERROR")
	states := map[string]int{}
	for _, in := range list {
		states[in.State]++
		prog := "-"
		if in.Total > 0 {
			prog = fmt.Sprintf("%d/%d (%.0f%%)", in.Done, in.Total, 100*float64(in.Done)/float64(in.Total))
			if in.Note != "" && !jobs.Finished(in.State) {
				prog += " " + in.Note
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", in.ID, in.Kind, in.State, in.Attempt, in.MaxAttempts, prog,
			in.CreatedAt.Local().Format(time.DateTime), oneLine(in.Error, 80))
	}
	tw.Flush()
	names := make([]string, 0, len(states))
	for s, n := range states {
		names = append(names, fmt.Sprintf("%d %s", n, s))
	}
	sort.Strings(names)
	fmt.Fprintf(w, "%d jobs", len(list))
	if len(names) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(names, ", "))
	}
	fmt.Fprintln(w)
}

// oneLine keeps the first line of s, cut to n runes.
func oneLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
