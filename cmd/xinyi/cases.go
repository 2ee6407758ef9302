package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	ingesthttp "github.com/xinyi-platform/xinyi/datasets/ingest/httpapi"
	"github.com/xinyi-platform/xinyi/internal/access"
)

// The case commands act, like the registry's, as the user of the API key given
// with -key or $XINYI_API_KEY: the same rules, refusals and audit as over HTTP.
func init() {
	register(command{name: "cases list", summary: "list a company's own objections and repairs, or a reviewer's queue", run: runCasesList})
	register(command{name: "cases show", summary: "show one case with its steps", run: runCasesShow})
	register(command{name: "cases decide", summary: "take a step on a case: correct, reject, approve, set the deadline, withdraw", run: runCasesDecide})
	register(command{name: "cases expire", summary: "end the publicity of every penalty whose maximum period has passed (idempotent)", run: runCasesExpire})
}

// caseEnv is an opened case service and the principal of the key. Cases are
// opened by companies over HTTP, so the commands need no source owners: each
// case names its reviewing department.
type caseEnv struct {
	svc   *cases.Service
	p     access.Principal
	close func()
}

func openCases(ctx context.Context, f metaFlags, needKey bool) (*caseEnv, error) {
	if needKey && *f.key == "" {
		return nil, errors.New("an API key is required: pass -key or set XINYI_API_KEY (create one with 'xinyi access user')")
	}
	store, closeStore, err := openGenerateStore(ctx, *f.store)
	if err != nil {
		return nil, err
	}
	db, log, acc, err := openMeta(ctx, f)
	if err != nil {
		closeStore()
		return nil, err
	}
	closeAll := func() { db.Close(); closeStore() }
	cs, err := cases.OpenStore(ctx, db, log)
	if err != nil {
		closeAll()
		return nil, err
	}
	svc, err := cases.New(cases.Options{Store: cs, Ingest: ingest.New(store).WithLocker(ingest.DBLocker(db, ingest.DBLockOptions{})), Records: cases.RawRecords{Store: store},
		Authorizer: access.NewAuthorizer(acc, log), Audit: log, Owner: ingesthttp.OwnersByName(acc, nil)})
	if err != nil {
		closeAll()
		return nil, err
	}
	env := &caseEnv{svc: svc, close: closeAll}
	if needKey {
		if env.p, err = acc.Authenticate(ctx, *f.key); err != nil {
			closeAll()
			return nil, err
		}
	}
	return env, nil
}

func runCasesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cases list", stderr)
	mf := addMetaFlags(fs, true)
	company := fs.String("company", "", "the company's own cases (an enterprise account bound to it)")
	queue := fs.String("queue", "", "a reviewer's queue instead: review (your department's records) or authority (repairs awaiting the credit authority)")
	open := fs.Bool("open", false, "only the cases still waiting for someone")
	kind := fs.String("kind", "", "objection or repair (default both)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	req := cases.ListRequest{Company: *company, Queue: cases.Queue(*queue), Open: *open}
	if *kind != "" {
		k, err := cases.ParseKind(*kind)
		if err != nil {
			return err
		}
		req.Kind = k
	}
	env, err := openCases(ctx, mf, true)
	if err != nil {
		return err
	}
	defer env.close()
	cs, err := env.svc.List(ctx, env.p, req)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, cs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tCOMPANY\tRECORD\tOPENED\tDEADLINE")
	now := time.Now()
	for _, c := range cs {
		deadline := c.Deadline.Format(time.DateOnly)
		if c.Overdue(now) {
			deadline += " (overdue)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Kind, c.State, c.Company, c.Record, c.OpenedAt.Format(time.DateOnly), deadline)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d cases\n", len(cs))
	return nil
}

func runCasesShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cases show", stderr)
	mf := addMetaFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := caseArg(fs)
	if err != nil {
		return err
	}
	env, err := openCases(ctx, mf, true)
	if err != nil {
		return err
	}
	defer env.close()
	c, err := env.svc.Get(ctx, env.p, id)
	if err != nil {
		return err
	}
	return writeJSON(stdout, c)
}

// valuesFlag collects repeated column=value pairs.
type valuesFlag map[string]string

func (v valuesFlag) String() string { return "" }

func (v valuesFlag) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want column=value, got %q", s)
	}
	v[strings.TrimSpace(k)] = val
	return nil
}

func runCasesDecide(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cases decide", stderr)
	mf := addMetaFlags(fs, true)
	correct := valuesFlag{}
	fs.Var(correct, "correct", "column=value: correct the disputed record (repeat per column); it goes in through ingestion now")
	reject := fs.String("reject", "", "reject the case with these reasons")
	approve := fs.Bool("approve", false, "approve a repair: the department's step, then the credit authority's (another person)")
	withdraw := fs.Bool("withdraw", false, "withdraw the case (the company)")
	deadline := fs.String("deadline", "", "set the review deadline (YYYY-MM-DD, the day's end in China Standard Time, or RFC 3339)")
	note := fs.String("note", "", "a note recorded with the step")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := caseArg(fs)
	if err != nil {
		return err
	}
	steps := 0
	for _, set := range []bool{len(correct) > 0, *reject != "", *approve, *withdraw, *deadline != ""} {
		if set {
			steps++
		}
	}
	if steps != 1 {
		return errors.New("give exactly one of -correct, -reject, -approve, -withdraw or -deadline")
	}
	var until time.Time
	if *deadline != "" {
		if until, err = time.Parse(time.RFC3339, *deadline); err != nil {
			d, derr := time.ParseInLocation(time.DateOnly, *deadline, ingest.ChinaStandardTime)
			if derr != nil {
				return fmt.Errorf("-deadline %q is neither YYYY-MM-DD nor RFC 3339", *deadline)
			}
			until = d.AddDate(0, 0, 1).Add(-time.Second)
		}
	}
	env, err := openCases(ctx, mf, true)
	if err != nil {
		return err
	}
	defer env.close()
	var c *cases.Case
	switch {
	case len(correct) > 0:
		c, err = env.svc.Correct(ctx, env.p, id, correct, *note)
	case *reject != "":
		c, err = env.svc.Reject(ctx, env.p, id, *reject)
	case *approve:
		c, err = env.svc.Approve(ctx, env.p, id, *note)
	case *withdraw:
		c, err = env.svc.Withdraw(ctx, env.p, id, *note)
	default:
		c, err = env.svc.SetDeadline(ctx, env.p, id, until, *note)
	}
	if err != nil {
		return err
	}
	last := c.Steps[len(c.Steps)-1]
	fmt.Fprintf(stdout, "case %d (%s of %s): %s by %s, now %s", c.ID, c.Kind, c.Record, last.Step, last.By, c.State)
	if last.Batch != "" {
		fmt.Fprintf(stdout, "; ingested as batch %s", last.Batch)
	}
	fmt.Fprintln(stdout)
	return nil
}

func runCasesExpire(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cases expire", stderr)
	mf := addMetaFlags(fs, false)
	asOf := fs.String("as-of", "", "the day whose passed maxima end (YYYY-MM-DD; default today in China Standard Time)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	day := time.Now()
	if *asOf != "" {
		d, err := time.ParseInLocation(time.DateOnly, *asOf, ingest.ChinaStandardTime)
		if err != nil {
			return fmt.Errorf("-as-of %q is not YYYY-MM-DD", *asOf)
		}
		day = d
	}
	env, err := openCases(ctx, mf, false)
	if err != nil {
		return err
	}
	defer env.close()
	out, err := env.svc.ExpirePublicity(ctx, day)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "publicity ended for %d penalty records as of %s (rules %s)", out.Ended, out.AsOf, out.RulesVersion)
	if out.Batch != "" {
		fmt.Fprintf(stdout, "; batch %s", out.Batch)
	}
	fmt.Fprintln(stdout)
	return nil
}

func caseArg(fs *flag.FlagSet) (int64, error) {
	if fs.NArg() != 1 {
		return 0, errors.New("give the case id")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("case id %q is not a positive integer", fs.Arg(0))
	}
	return id, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
