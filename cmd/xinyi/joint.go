package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/joint"
)

func init() {
	register(command{name: "joint upload", summary: "upload a bank's label file (code, date, label) as its private sample joined with the platform's indicators; probing files are refused", run: runJointUpload})
	register(command{name: "joint samples", summary: "list the private samples of the key's institution", run: runJointSamples})
	register(command{name: "joint export", summary: "download a private sample as CSV: indicators within the key's clearance, companies without consent pseudonymised", run: runJointExport})
	register(command{name: "joint train", summary: "train on a private sample, print the released (aggregate) evaluation, optionally register the model with the label file as lineage", run: runJointTrain})
}

// jointEnv is the joint-modelling service and the key's principal.
type jointEnv struct {
	svc   *joint.Service
	p     access.Principal
	close func()
}

func openJoint(ctx context.Context, mf metaFlags, threads int) (*jointEnv, error) {
	e, err := openRegistry(ctx, mf)
	if err != nil {
		return nil, err
	}
	key, err := joint.PseudonymKey(ctx, e.store)
	if err != nil {
		e.close()
		return nil, err
	}
	svc, err := joint.New(joint.Options{Store: e.store, Registry: e.reg, Consents: e.acc, Authorizer: access.NewAuthorizer(e.acc, e.log),
		PseudonymKey: key, Threads: threads})
	if err != nil {
		e.close()
		return nil, err
	}
	return &jointEnv{svc: svc, p: e.p, close: e.close}, nil
}

func runJointUpload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("joint upload", stderr)
	mf := addMetaFlags(fs, true)
	name := fs.String("name", "", "sample name (required; a new version when it exists)")
	set := fs.String("set", "pd", "feature set joined, name or name/vN")
	labels := fs.String("labels", "", "the label file: CSV with code, date (YYYY-MM-DD) and label (0/1) columns (required)")
	label := fs.String("label", "default_12m", "name of the outcome")
	kind := fs.String("kind", "default", "outcome kind: default (models of the pd task) or violation")
	horizon := fs.Int("horizon", 12, "months after its date an observation's outcome covers")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, r := range [][2]string{{"name", *name}, {"labels", *labels}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	st, err := os.Stat(*labels)
	if err != nil {
		return fmt.Errorf("--labels: %w", err)
	}
	if st.Size() > features.MaxLabelFileBytes {
		return fmt.Errorf("--labels %s has %d bytes; a label file may have %d MiB at most (nothing was uploaded)", *labels, st.Size(), features.MaxLabelFileBytes>>20)
	}
	data, err := os.ReadFile(*labels)
	if err != nil {
		return fmt.Errorf("--labels: %w", err)
	}
	e, err := openJoint(ctx, mf, 0)
	if err != nil {
		return err
	}
	defer e.close()
	up, rep, err := e.svc.Upload(ctx, e.p, joint.UploadRequest{Name: *name, Set: *set, File: *labels, Data: data, Label: *label, Kind: *kind, Horizon: *horizon})
	if err != nil {
		if rep != nil {
			fmt.Fprintf(stderr, "report: %d rows, %d companies, %d positives; %d before the first snapshot, %d after the newest, %d companies not held\n",
				rep.Rows, rep.Companies, rep.Positives, rep.BeforeFirst, rep.AfterLast, rep.UnknownCompany)
		}
		return fmt.Errorf("%s: %w (nothing was written)", *labels, err)
	}
	m := up.Manifest
	fmt.Fprintf(stdout, "sample %s of %s from %s (sha256 %.12s): %d rows of %d companies joined %s snapshots %s..%s, %d positives; train %d, valid %d, test %d rows\n",
		m.Ref(), e.p.Institution, *labels, up.SHA256, rep.Joined, rep.Companies, m.Set, m.From, m.To, rep.Positives,
		m.Splits["train"].Rows, m.Splits["valid"].Rows, m.Splits["test"].Rows)
	return nil
}

func runJointSamples(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("joint samples", stderr)
	mf := addMetaFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := openJoint(ctx, mf, 0)
	if err != nil {
		return err
	}
	defer e.close()
	list, err := e.svc.Samples(ctx, e.p)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SAMPLE\tSET\tSNAPSHOTS\tROWS\tLABEL FILE")
	for _, m := range list {
		var rows int64
		for _, sp := range m.Splits {
			rows += sp.Rows
		}
		file := ""
		if len(m.Labels) > 0 {
			file = fmt.Sprintf("sha256 %.12s", m.Labels[0].SHA256)
		}
		fmt.Fprintf(tw, "%s\t%s/v%d\t%s..%s\t%d\t%s\n", m.Ref(), m.Set, m.SetVersion, m.From, m.To, rows, file)
	}
	return tw.Flush()
}

func runJointExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("joint export", stderr)
	mf := addMetaFlags(fs, true)
	sample := fs.String("sample", "", "the sample, name or name/vN (required)")
	out := fs.String("out", "", "CSV file to write (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, r := range [][2]string{{"sample", *sample}, {"out", *out}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	e, err := openJoint(ctx, mf, 0)
	if err != nil {
		return err
	}
	defer e.close()
	var rep *features.ExportReport
	if err := writeFileAtomic(*out, func(w io.Writer) error {
		var err error
		rep, err = e.svc.Export(ctx, e.p, *sample, w)
		return err
	}); err != nil {
		return err
	}
	withheld := "none"
	if len(rep.Withheld) > 0 {
		withheld = fmt.Sprintf("%d above %s's clearance (%s)", len(rep.Withheld), e.p.User, strings.Join(rep.Withheld, ", "))
	}
	fmt.Fprintf(stdout, "%s: %d rows, %d indicators; withheld %s; %d rows' companies pseudonymised (no consent to %s)\n",
		*out, rep.Rows, len(rep.Columns), withheld, rep.Pseudonymised, e.p.Institution)
	return nil
}

func runJointTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("joint train", stderr)
	mf := addMetaFlags(fs, true)
	sample := fs.String("sample", "", "the sample, name or name/vN (required)")
	rounds := fs.Int("rounds", 200, "boosting rounds (early stopping on the valid split)")
	threads := fs.Int("threads", 0, "goroutines (default GOMAXPROCS)")
	reg := fs.String("register", "", "register the model under this name (private to the institution; created when missing)")
	scores := fs.String("scores", "", "write the evaluated rows as scored (company, asof, probability, outcome) to this CSV; companies without consent pseudonymised")
	jsonOut := fs.String("json", "", "write the released evaluation as JSON to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("sample", *sample); err != nil {
		return err
	}
	e, err := openJoint(ctx, mf, *threads)
	if err != nil {
		return err
	}
	defer e.close()
	run, err := e.svc.Train(ctx, e.p, joint.TrainRequest{Sample: *sample, Rounds: *rounds})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sample %s: trained %d trees; released %s\n", run.Sample.Ref(), run.Result.Rounds, run.Released)
	if *jsonOut != "" {
		if err := writeFileAtomic(*jsonOut, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(run.Released)
		}); err != nil {
			return err
		}
	}
	if *scores != "" {
		var named int
		if err := writeFileAtomic(*scores, func(w io.Writer) error {
			var err error
			named, err = e.svc.ScoredRows(ctx, e.p, run, w)
			return err
		}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "scored rows in %s: %d companies named (consented), the others pseudonymised\n", *scores, named)
	}
	if *reg != "" {
		v, err := e.svc.Register(ctx, e.p, run, *reg)
		if err != nil {
			if errors.Is(err, joint.ErrInvalid) {
				return err
			}
			return fmt.Errorf("register %s: %w", *reg, err)
		}
		fmt.Fprintf(stdout, "registered %s v%d (lineage: label file %s sha256 %.12s)\n", v.Model, v.Version, v.Lineage.LabelFile, v.Lineage.LabelFileSHA256)
	}
	return nil
}
