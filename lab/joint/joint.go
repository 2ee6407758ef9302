// Package joint adapts joint modelling (package joint) to the lab console:
// a bank's data scientist uploads a label file, reads the file's report,
// downloads the sample within her clearance, trains and reads the released
// evaluation, and registers the model. Every call runs as the signed-in
// user's access principal; the service authorizes and audits each one.
// Finished runs are kept in memory (Options.MaxRuns) until registered or
// pushed out, each visible to its own institution only.
//
//	j, _ := labjoint.New(svc, labjoint.Options{Sets: []string{"pd"}})
//	srv, _ := lab.New(lab.Options{Joint: j, ...})
package joint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	labregistry "github.com/xinyi-platform/xinyi/lab/registry"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	xjoint "github.com/xinyi-platform/xinyi/joint"
	"github.com/xinyi-platform/xinyi/lab"
	xregistry "github.com/xinyi-platform/xinyi/registry"
)

// Options configure the adapter.
type Options struct {
	// Sets are the feature sets offered for joining. Default ["pd"].
	Sets []string
	// MaxRuns is how many finished runs are kept. Default 64.
	MaxRuns int
	// Rounds of a console training run. Default 200.
	Rounds int
	// Catalog gives the indicators' sensitivities. Default features.DefaultCatalog().
	Catalog *features.Catalog
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Joint is the console's joint-modelling backend.
type Joint struct {
	svc *xjoint.Service
	o   Options

	mu   sync.Mutex
	runs []*run // oldest first
}

type run struct {
	id      string
	inst    int64
	by      string
	started time.Time
	r       *xjoint.Run
	reg     string
}

// New returns the backend over svc.
func New(svc *xjoint.Service, o Options) (*Joint, error) {
	if len(o.Sets) == 0 {
		o.Sets = []string{"pd"}
	}
	if o.MaxRuns <= 0 {
		o.MaxRuns = 64
	}
	if o.Rounds <= 0 {
		o.Rounds = 200
	}
	if o.Catalog == nil {
		c, err := features.DefaultCatalog()
		if err != nil {
			return nil, err
		}
		o.Catalog = c
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Joint{svc: svc, o: o}, nil
}

// mapErr turns the service's errors into the console's; the message is kept.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, xjoint.ErrNotFound), errors.Is(err, xregistry.ErrNotFound):
		return fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	case errors.Is(err, xjoint.ErrForbidden), errors.Is(err, xregistry.ErrForbidden), errors.Is(err, xaccess.ErrForbidden):
		return fmt.Errorf("%w: %w", lab.ErrForbidden, err)
	case errors.Is(err, xregistry.ErrConflict):
		return fmt.Errorf("%w: %w", lab.ErrConflict, err)
	case errors.Is(err, xjoint.ErrInvalid), errors.Is(err, xregistry.ErrInvalid), errors.Is(err, xregistry.ErrValidation),
		errors.Is(err, features.ErrInvalidOptions), errors.Is(err, features.ErrUnknownSet):
		return fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	case errors.Is(err, xaccess.ErrUnavailable):
		return fmt.Errorf("%w: %w", lab.ErrNotConnected, err)
	}
	return err
}

// JointSets lists the feature sets offered.
func (j *Joint) JointSets() []string { return slices.Clone(j.o.Sets) }

// withheld counts the indicators above p's clearance.
func (j *Joint) withheld(p lab.Principal, ids []string) int {
	clear := xaccess.ClearanceOf(p.Principal)
	n := 0
	for _, id := range ids {
		ind, err := j.o.Catalog.Indicator(id)
		if err != nil || !xaccess.ClearanceAllows(clear, string(ind.Sensitivity)) {
			n++
		}
	}
	return n
}

// JointSamples lists the caller's institution's private samples.
func (j *Joint) JointSamples(ctx context.Context, p lab.Principal) ([]lab.JointSample, error) {
	ms, err := j.svc.Samples(ctx, p.Principal)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]lab.JointSample, 0, len(ms))
	for _, m := range ms {
		s := lab.JointSample{Name: m.Name, Version: m.Version, Set: m.Set + "/v" + strconv.Itoa(m.SetVersion), From: m.From, To: m.To,
			Indicators: len(m.Indicators), Withheld: j.withheld(p, m.Indicators)}
		for _, sp := range m.Splits {
			s.Rows += sp.Rows
			s.Positives += sp.Positives
		}
		if len(m.Labels) > 0 {
			s.LabelFile = m.Labels[0].SHA256
		}
		out = append(out, s)
	}
	return out, nil
}

// UploadLabels builds a private sample from a label file, or reports why not.
func (j *Joint) UploadLabels(ctx context.Context, p lab.Principal, u lab.JointUpload) (lab.JointReport, error) {
	up, rep, err := j.svc.Upload(ctx, p.Principal, xjoint.UploadRequest{Name: u.Name, Set: u.Set, File: u.File, Data: u.Data})
	out := lab.JointReport{File: u.File, ChangedRows: -1}
	if rep != nil {
		out.Rows, out.Companies, out.Joined, out.Positives = rep.Rows, rep.Companies, rep.Joined, rep.Positives
		out.BeforeFirst, out.AfterLast, out.Unknown, out.ChangedRows = rep.BeforeFirst, rep.AfterLast, rep.UnknownCompany, rep.ChangedRows
		out.FirstSnapshot, out.LastSnapshot, out.Refusal, out.Limit = rep.FirstSnapshot, rep.LastSnapshot, rep.Refusal, rep.Limit
		for _, o := range rep.Offenders {
			out.Offenders = append(out.Offenders, lab.JointOffender{Line: o.Line, Code: o.Code, Date: o.Date, Problem: o.Problem})
		}
	}
	if errors.Is(err, xjoint.ErrRefused) {
		out.Detail = err.Error()
		if out.Refusal == "" {
			out.Refusal = "format"
		}
		return out, nil
	}
	if err != nil {
		return out, mapErr(err)
	}
	out.Accepted, out.Sample, out.SHA256 = true, up.Manifest.Ref(), up.SHA256
	out.Train, out.Valid, out.Test = up.Manifest.Splits["train"].Rows, up.Manifest.Splits["valid"].Rows, up.Manifest.Splits["test"].Rows
	return out, nil
}

// ExportJoint writes the caller's sample as CSV within its clearance.
func (j *Joint) ExportJoint(ctx context.Context, p lab.Principal, sample string, w io.Writer) error {
	_, err := j.svc.Export(ctx, p.Principal, sample, w)
	return mapErr(err)
}

// TrainJoint trains on the caller's sample and keeps the run.
func (j *Joint) TrainJoint(ctx context.Context, p lab.Principal, sample string) (lab.JointRun, error) {
	r, err := j.svc.Train(ctx, p.Principal, xjoint.TrainRequest{Sample: sample, Rounds: j.o.Rounds})
	if err != nil {
		return lab.JointRun{}, mapErr(err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return lab.JointRun{}, err
	}
	kept := &run{id: "j" + hex.EncodeToString(b[:]), inst: p.InstitutionID, by: p.User, started: j.o.Now(), r: r}
	j.mu.Lock()
	j.runs = append(j.runs, kept)
	if len(j.runs) > j.o.MaxRuns {
		j.runs = slices.Delete(j.runs, 0, len(j.runs)-j.o.MaxRuns)
	}
	j.mu.Unlock()
	return j.view(p, kept), nil
}

// find returns the caller's institution's run id; another institution's is
// not found, as an unknown one.
func (j *Joint) find(p lab.Principal, id string) (*run, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range j.runs {
		if r.id == id && r.inst == p.InstitutionID {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: training run %q", lab.ErrNotFound, id)
}

// JointRun returns one of the caller's institution's runs.
func (j *Joint) JointRun(ctx context.Context, p lab.Principal, id string) (lab.JointRun, error) {
	r, err := j.find(p, id)
	if err != nil {
		return lab.JointRun{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.view(p, r), nil
}

// JointRuns lists the caller's institution's runs, newest first.
func (j *Joint) JointRuns(ctx context.Context, p lab.Principal) ([]lab.JointRun, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []lab.JointRun
	for i := len(j.runs) - 1; i >= 0; i-- {
		if r := j.runs[i]; r.inst == p.InstitutionID {
			out = append(out, j.view(p, r))
		}
	}
	return out, nil
}

// RegisterJoint registers a run's model under the caller's private model name.
func (j *Joint) RegisterJoint(ctx context.Context, p lab.Principal, id, model string) (string, error) {
	r, err := j.find(p, id)
	if err != nil {
		return "", err
	}
	v, err := j.svc.Register(ctx, p.Principal, r.r, model)
	if err != nil {
		return "", mapErr(err)
	}
	ref := v.Model + "/v" + strconv.Itoa(v.Version)
	j.mu.Lock()
	r.reg = ref
	j.mu.Unlock()
	return ref, nil
}

func (j *Joint) view(p lab.Principal, r *run) lab.JointRun {
	return lab.JointRun{ID: r.id, Sample: r.r.Sample.Ref(), Trees: r.r.Result.Rounds, By: r.by, Started: r.started, Registered: r.reg,
		Features: len(r.r.Sample.Indicators), Withheld: j.withheld(p, r.r.Sample.Indicators), Eval: labregistry.ReleasedEvaluation(r.r.Released)}
}
