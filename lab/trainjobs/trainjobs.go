// Package trainjobs makes the console's training runs and sample builds durable
// jobs of internal/jobs: Trainer implements lab.Trainer and Builder implements
// lab.SampleBuilder over the jobs database, so every console instance sharing it
// sees every run and its progress, and a run outlives the process that started
// it; Register installs the workers that do the work in `xinyi worker` (or a
// server working the queue).
//
// It is an adapter, as serving/screenjobs is one for serving: lab/training and
// lab/features keep the work itself (labtraining.Trainer.Run, features.BuildSample)
// and never import River; this package translates.
//
// A run's objects are written under a key of its job, so a retried attempt
// overwrites and never duplicates: trainings/<id>/model.txt, its model card as
// xinyi train writes one (card.json and card.md) and result.json (the figures);
// a sample build records the sample it wrote at
// samplebuilds/<id>.json and a retried attempt that finds it returns it.
//
//	ws := jobs.NewWorkers()
//	trainjobs.Register(ws, trainer, store) // trainer: labtraining.New(…)
//	q, _ := jobs.Open(ctx, jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{trainjobs.QueueName: 1}})
//	srv, _ := lab.New(lab.Options{Trainer: trainjobs.NewTrainer(q, trainer, store), Builder: trainjobs.NewBuilder(q, samples, store), …})
package trainjobs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/lab"
	labtraining "github.com/xinyi-platform/xinyi/lab/training"
)

// The job kinds and the queue they go to.
const (
	TrainingKind = "training"
	SampleKind   = "sample_build"
	// QueueName is the lab's queue, sized apart from screenings and scoring.
	QueueName = "lab"
	// MaxAttempts of one run: a store outage is worth retrying, a run that fails
	// three times needs a person.
	MaxAttempts = 3
)

// Principal is the requesting principal as authorized when the job was started,
// carried in the job's arguments.
type Principal struct {
	UserID          int64    `json:"user_id"`
	User            string   `json:"user"`
	InstitutionID   int64    `json:"institution_id"`
	Institution     string   `json:"institution"`
	InstitutionKind string   `json:"institution_kind"`
	Roles           []string `json:"roles"`
	KeyID           string   `json:"key_id,omitempty"`
	Clearance       string   `json:"clearance,omitempty"`
}

func principalOf(p lab.Principal) Principal {
	a := Principal{UserID: p.UserID, User: p.User, InstitutionID: p.InstitutionID, Institution: p.Institution,
		InstitutionKind: string(p.InstitutionKind), KeyID: p.KeyID, Clearance: string(p.Clearance)}
	for _, r := range p.Roles {
		a.Roles = append(a.Roles, string(r))
	}
	return a
}

func (a Principal) lab() lab.Principal {
	p := lab.Principal{Principal: access.Principal{UserID: a.UserID, User: a.User, InstitutionID: a.InstitutionID,
		Institution:     a.Institution,
		InstitutionKind: access.Kind(a.InstitutionKind), KeyID: a.KeyID}, Clearance: lab.Clearance(a.Clearance)}
	for _, r := range a.Roles {
		p.Roles = append(p.Roles, access.Role(r))
	}
	return p
}

// TrainingArgs are a training job's arguments: the sample as resolved at start
// (a data set's name or a store sample's "name/vN"), the preset and who asked.
type TrainingArgs struct {
	Sample string    `json:"sample"`
	Preset string    `json:"preset"`
	By     Principal `json:"by"`
	// Ref is random: the run's id is "<job id>-<ref>", so a jobs database started
	// afresh (whose ids start again at 1) never names an older run's objects.
	Ref string `json:"ref"`
}

// Kind names the job kind.
func (TrainingArgs) Kind() string { return TrainingKind }

// SampleArgs are a sample build's arguments. BuildAt is fixed at start, so every
// attempt builds the same sample.
type SampleArgs struct {
	Name    string    `json:"name"`
	Set     string    `json:"set"`
	Label   string    `json:"label,omitempty"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	BuildAt time.Time `json:"build_at"`
	By      Principal `json:"by"`
	Ref     string    `json:"ref"`
}

// Kind names the job kind.
func (SampleArgs) Kind() string { return SampleKind }

func newRef() string {
	var ref [6]byte
	_, _ = rand.Read(ref[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(ref[:])
}

// runID names the run of job id with reference ref.
func runID(id int64, ref string) string { return strconv.FormatInt(id, 10) + "-" + ref }

// parseID splits a run id into its job number.
func parseID(id string) (int64, bool) {
	num, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(num, 10, 64)
	return n, err == nil && n > 0
}

// Object keys of a training run.
func modelKey(id string) string  { return "trainings/" + id + "/model.txt" }
func cardKey(id string) string   { return "trainings/" + id + "/card.json" }
func cardMDKey(id string) string { return "trainings/" + id + "/card.md" }
func resultKey(id string) string { return "trainings/" + id + "/result.json" }

// sampleBuildKey is where a build records the sample it wrote.
func sampleBuildKey(id string) string { return "samplebuilds/" + id + ".json" }

// TrainingOutput is what a finished training job records: the run's figures
// (without the model, which is in the store) and the keys of its objects.
type TrainingOutput struct {
	Result  *labtraining.Result `json:"result"`
	Model   string              `json:"model"` // key of the model file
	SHA256  string              `json:"sha256"`
	Objects []string            `json:"objects"`
}

// SampleOutput is what a finished sample build records.
type SampleOutput struct {
	Sample   string `json:"sample"` // "name/vN"
	Manifest string `json:"manifest"`
}

// Runner runs one training synchronously; *labtraining.Trainer implements it.
type Runner interface {
	Run(ctx context.Context, req lab.TrainingRequest, progress func(lab.TrainingJob)) (*labtraining.Result, error)
}

// Register installs the training and sample-build workers in ws: training runs
// through tr (a labtraining.Trainer with Options.Store for store samples),
// samples are built in store with cat (nil: features.DefaultCatalog).
func Register(ws *jobs.Workers, tr Runner, store blob.Store, cat *features.Catalog) error {
	if tr == nil || store == nil {
		return errors.New("trainjobs: Register needs a trainer and a store")
	}
	if err := jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[TrainingArgs]) error {
		return runTraining(ctx, j, tr, store)
	}); err != nil {
		return err
	}
	return jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[SampleArgs]) error {
		return runSample(ctx, j, store, cat)
	})
}

func runTraining(ctx context.Context, j *jobs.Job[TrainingArgs], tr Runner, store blob.Store) error {
	a := j.Args
	if a.Ref == "" {
		return jobs.Permanent(fmt.Errorf("%w: training job %d without a ref", lab.ErrInvalidInput, j.ID))
	}
	id := runID(j.ID, a.Ref)
	res, err := tr.Run(ctx, lab.TrainingRequest{Sample: a.Sample, Preset: a.Preset, By: a.By.lab()}, func(s lab.TrainingJob) {
		note := "rounds"
		if n := len(s.Valid); n > 0 {
			note = fmt.Sprintf("rounds; valid %s %.4f", s.Metric, s.Valid[n-1].Y)
		}
		// Progress is advisory: a failed write must not fail the run.
		_ = j.Progress.Report(ctx, s.Done, s.Total, note)
	})
	if err != nil {
		if errors.Is(err, lab.ErrInvalidInput) {
			return jobs.Permanent(err) // another attempt would be refused the same way
		}
		return err
	}
	info, err := store.Put(ctx, modelKey(id), bytes.NewReader(res.Model))
	if err != nil {
		return fmt.Errorf("training %s: write model: %w", id, err)
	}
	if res.Card == nil {
		return fmt.Errorf("training %s: the run made no model card", id)
	}
	for key, write := range map[string]func(io.Writer) error{cardKey(id): res.Card.WriteJSON, cardMDKey(id): res.Card.WriteMarkdown} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return fmt.Errorf("training %s: %w", id, err)
		}
		if _, err := store.Put(ctx, key, &b); err != nil {
			return fmt.Errorf("training %s: write card: %w", id, err)
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if _, err := store.Put(ctx, resultKey(id), bytes.NewReader(b)); err != nil {
		return fmt.Errorf("training %s: write result: %w", id, err)
	}
	note := "rounds"
	if res.Note != "" {
		note = res.Note
	}
	// The last report is the rounds actually run, as a final one (done == total).
	_ = j.Progress.Report(ctx, int64(res.RoundsRun), int64(res.RoundsRun), note)
	return jobs.RecordOutput(ctx, TrainingOutput{Result: res, Model: modelKey(id), SHA256: info.SHA256,
		Objects: []string{modelKey(id), cardKey(id), cardMDKey(id), resultKey(id)}})
}

// The stages of a sample build, reported as done of sampleStages.
const sampleStages = 2

func runSample(ctx context.Context, j *jobs.Job[SampleArgs], store blob.Store, cat *features.Catalog) error {
	a := j.Args
	if a.Ref == "" {
		return jobs.Permanent(fmt.Errorf("%w: sample job %d without a ref", lab.ErrInvalidInput, j.ID))
	}
	id := runID(j.ID, a.Ref)
	// An earlier attempt that wrote its sample and died before finishing: the
	// sample stands, and a new version would duplicate it.
	if b, _, err := blob.ReadAll(ctx, store, sampleBuildKey(id)); err == nil {
		var out SampleOutput
		if err := json.Unmarshal(b, &out); err != nil {
			return fmt.Errorf("sample build %s: %s: %w", id, sampleBuildKey(id), err)
		}
		_ = j.Progress.Report(ctx, sampleStages, sampleStages, "built by an earlier attempt")
		return jobs.RecordOutput(ctx, out)
	} else if !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	_ = j.Progress.Report(ctx, 0, sampleStages, "joining snapshots and labels")
	m, err := features.BuildSample(ctx, store, features.SampleOptions{Name: a.Name, Set: a.Set, Label: a.Label,
		From: a.From, To: a.To, BuildAt: a.BuildAt, Catalog: cat})
	if err != nil {
		if errors.Is(err, features.ErrInvalidOptions) {
			return jobs.Permanent(err)
		}
		return err
	}
	_ = j.Progress.Report(ctx, 1, sampleStages, "recording")
	out := SampleOutput{Sample: m.Ref(), Manifest: m.ManifestKey()}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if _, err := store.Put(ctx, sampleBuildKey(id), bytes.NewReader(b)); err != nil {
		return fmt.Errorf("sample build %s: %w", id, err)
	}
	_ = j.Progress.Report(ctx, sampleStages, sampleStages, "built")
	return jobs.RecordOutput(ctx, out)
}

// Trainer implements lab.Trainer over a jobs database: StartTraining inserts a
// job, the others read the jobs database and the store.
type Trainer struct {
	q     *jobs.Queue
	tr    *labtraining.Trainer
	store blob.Store
	// Limit is how many of the newest runs TrainingJobs returns. Default 200.
	Limit int
}

// NewTrainer returns the durable trainer over q; tr checks requests, lists the
// presets and registers finished runs, whose objects it reads from store.
func NewTrainer(q *jobs.Queue, tr *labtraining.Trainer, store blob.Store) *Trainer {
	return &Trainer{q: q, tr: tr, store: store, Limit: 200}
}

// Presets lists the parameter presets.
func (t *Trainer) Presets() []lab.Preset { return t.tr.Presets() }

// StartTraining checks req and inserts a training job.
func (t *Trainer) StartTraining(ctx context.Context, req lab.TrainingRequest) (string, error) {
	sample, err := t.tr.Resolve(ctx, req)
	if err != nil {
		return "", err
	}
	a := TrainingArgs{Sample: sample, Preset: req.Preset, By: principalOf(req.By), Ref: newRef()}
	ins, err := t.q.Insert(ctx, a, jobs.InsertOptions{Queue: QueueName, MaxAttempts: MaxAttempts})
	if err != nil {
		return "", fmt.Errorf("%w: enqueue training: %v", lab.ErrNotConnected, err)
	}
	return runID(ins.ID, a.Ref), nil
}

// TrainingJob returns one run, with its curves once it has finished. A finished
// run whose job row the jobs database has since cleaned up is read from the
// objects it wrote.
func (t *Trainer) TrainingJob(ctx context.Context, id string) (lab.TrainingJob, error) {
	j, _, err := t.training(ctx, id, true)
	return j, err
}

// training reads run id from its job row or, once that is gone, its objects.
func (t *Trainer) training(ctx context.Context, id string, curves bool) (lab.TrainingJob, *TrainingOutput, error) {
	in, err := getJob(ctx, t.q, id, TrainingKind)
	if errors.Is(err, lab.ErrNotFound) {
		if j, out, serr := t.stored(ctx, id, curves); serr == nil {
			return j, out, nil
		}
	}
	if err != nil {
		return lab.TrainingJob{}, nil, err
	}
	return t.trainingOf(ctx, in, curves)
}

// stored rebuilds a finished run from its result object.
func (t *Trainer) stored(ctx context.Context, id string, curves bool) (lab.TrainingJob, *TrainingOutput, error) {
	_, ref, _ := strings.Cut(id, "-")
	if _, ok := parseID(id); !ok || len(ref) != 12 || strings.Trim(ref, "0123456789abcdef") != "" {
		return lab.TrainingJob{}, nil, fmt.Errorf("%w: training job %q", lab.ErrNotFound, id)
	}
	b, info, err := blob.ReadAll(ctx, t.store, resultKey(id))
	if err != nil {
		return lab.TrainingJob{}, nil, err
	}
	var r labtraining.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return lab.TrainingJob{}, nil, fmt.Errorf("training %s: %s: %w", id, resultKey(id), err)
	}
	mi, err := t.store.Stat(ctx, modelKey(id))
	if err != nil {
		return lab.TrainingJob{}, nil, err
	}
	out := &TrainingOutput{Result: &r, Model: modelKey(id), SHA256: mi.SHA256, Objects: []string{modelKey(id), cardKey(id), cardMDKey(id), resultKey(id)}}
	j := lab.TrainingJob{Job: lab.Job{ID: id, State: lab.JobDone, Done: int64(r.RoundsRun), Total: int64(r.RoundsRun), Finished: info.Modified},
		Sample: r.Sample, Preset: r.Preset}
	return t.finished(ctx, j, out, curves)
}

// TrainingJobs lists the runs, newest first, without their curves.
func (t *Trainer) TrainingJobs(ctx context.Context) ([]lab.TrainingJob, error) {
	list, err := t.q.List(ctx, jobs.ListOptions{Kinds: []string{TrainingKind}, Limit: t.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]lab.TrainingJob, 0, len(list))
	for _, in := range list {
		j, _, err := t.trainingOf(ctx, in, false)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// claimKey is the claim that registers run id once.
func claimKey(id string) string { return "lab/training/" + id + "/registered" }

// pending is a claim's value while its holder is registering.
const pending = "(registering)"

func (t *Trainer) trainingOf(ctx context.Context, in jobs.Info, curves bool) (lab.TrainingJob, *TrainingOutput, error) {
	var a TrainingArgs
	if err := json.Unmarshal(in.Args, &a); err != nil {
		return lab.TrainingJob{}, nil, fmt.Errorf("training job %d: arguments: %w", in.ID, err)
	}
	j := lab.TrainingJob{Job: jobOf(in, a.By.User, a.Ref), Sample: a.Sample, Preset: a.Preset}
	if in.State != jobs.StateCompleted {
		return j, nil, nil
	}
	var out TrainingOutput
	if err := json.Unmarshal(in.Output, &out); err != nil || out.Result == nil {
		return lab.TrainingJob{}, nil, fmt.Errorf("training job %d: output: %v", in.ID, err)
	}
	return t.finished(ctx, j, &out, curves)
}

// finished adds a finished run's figures and registration to j.
func (t *Trainer) finished(ctx context.Context, j lab.TrainingJob, out *TrainingOutput, curves bool) (lab.TrainingJob, *TrainingOutput, error) {
	r := out.Result
	j.Metric, j.BestRound, j.BestValid = r.Metric, r.BestRound, r.BestValid
	if curves {
		j.Train, j.Valid = r.Train, r.Valid
	}
	held, ok, err := t.q.Claimed(ctx, claimKey(j.ID)) // read, not taken
	if err != nil {
		return lab.TrainingJob{}, nil, err
	}
	if ok && held != pending {
		j.Registered = held
	}
	return j, out, nil
}

// RegisterTraining registers the finished run's stored model once: a second
// call, from this console or another, is a conflict naming the version.
func (t *Trainer) RegisterTraining(ctx context.Context, id, model string, by lab.Principal) (string, error) {
	j, out, err := t.training(ctx, id, false)
	if err != nil {
		return "", err
	}
	if j.State != lab.JobDone {
		return "", fmt.Errorf("%w: training job %s is %s, not done", lab.ErrConflict, id, j.State)
	}
	held, ok, err := t.q.Claim(ctx, claimKey(id), pending)
	if err != nil {
		return "", err
	}
	if !ok {
		if held == pending {
			return "", fmt.Errorf("%w: training job %s is being registered", lab.ErrConflict, id)
		}
		return "", fmt.Errorf("%w: training job %s is already registered as %s", lab.ErrConflict, id, held)
	}
	ref, err := t.register(ctx, id, model, by, out)
	if err != nil {
		if rerr := t.q.ReleaseClaim(context.WithoutCancel(ctx), claimKey(id)); rerr != nil {
			return "", errors.Join(err, rerr)
		}
		return "", err
	}
	if err := t.q.SetClaim(ctx, claimKey(id), ref); err != nil {
		return "", fmt.Errorf("training job %s registered as %s, not recorded: %w", id, ref, err)
	}
	return ref, nil
}

func (t *Trainer) register(ctx context.Context, id, model string, by lab.Principal, out *TrainingOutput) (string, error) {
	text, info, err := blob.ReadAll(ctx, t.store, out.Model)
	if err != nil {
		return "", fmt.Errorf("training job %s: model: %w", id, err)
	}
	if out.SHA256 != "" && info.SHA256 != out.SHA256 {
		return "", fmt.Errorf("training job %s: model %s has sha256 %s, the run wrote %s", id, out.Model, info.SHA256, out.SHA256)
	}
	res := *out.Result
	res.Model = text
	return t.tr.RegisterResult(ctx, &res, id, model, by)
}

// Builder implements lab.SampleBuilder over a jobs database.
type Builder struct {
	q       *jobs.Queue
	samples SampleLists
	// Limit is how many of the newest builds SampleJobs returns. Default 200.
	Limit int
	// Now is the clock that fixes a build's knowledge date. Default time.Now.
	Now func() time.Time
}

// SampleLists are the feature sets and labels a build may use
// (*labfeatures.Samples has them).
type SampleLists interface {
	FeatureSets() []string
	Labels() []string
}

// NewBuilder returns the durable sample builder over q.
func NewBuilder(q *jobs.Queue, lists SampleLists) *Builder {
	return &Builder{q: q, samples: lists, Limit: 200, Now: time.Now}
}

// FeatureSets lists the feature sets a sample may join.
func (b *Builder) FeatureSets() []string { return b.samples.FeatureSets() }

// Labels lists the label names.
func (b *Builder) Labels() []string { return b.samples.Labels() }

// BuildSample inserts a sample build as of now; bad options surface as the
// job's error, as they do in the in-process builder.
func (b *Builder) BuildSample(ctx context.Context, req lab.SampleRequest) (string, error) {
	if req.Name == "" || strings.ContainsAny(req.Name, "/\\") {
		return "", fmt.Errorf("%w: sample name %q", lab.ErrInvalidInput, req.Name)
	}
	a := SampleArgs{Name: req.Name, Set: req.FeatureSet, Label: req.Label, From: req.From, To: req.To,
		BuildAt: b.Now(), By: principalOf(req.By), Ref: newRef()}
	ins, err := b.q.Insert(ctx, a, jobs.InsertOptions{Queue: QueueName, MaxAttempts: MaxAttempts})
	if err != nil {
		return "", fmt.Errorf("%w: enqueue sample build: %v", lab.ErrNotConnected, err)
	}
	return runID(ins.ID, a.Ref), nil
}

// SampleJobs lists the builds, newest first.
func (b *Builder) SampleJobs(ctx context.Context) ([]lab.SampleJob, error) {
	list, err := b.q.List(ctx, jobs.ListOptions{Kinds: []string{SampleKind}, Limit: b.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]lab.SampleJob, 0, len(list))
	for _, in := range list {
		var a SampleArgs
		if err := json.Unmarshal(in.Args, &a); err != nil {
			return nil, fmt.Errorf("sample job %d: arguments: %w", in.ID, err)
		}
		j := lab.SampleJob{Job: jobOf(in, a.By.User, a.Ref), Name: a.Name, FeatureSet: a.Set}
		if in.State == jobs.StateCompleted {
			var o SampleOutput
			if err := json.Unmarshal(in.Output, &o); err != nil {
				return nil, fmt.Errorf("sample job %d: output: %w", in.ID, err)
			}
			j.Result = o.Sample
		}
		out = append(out, j)
	}
	return out, nil
}

// getJob reads run id of kind, or an error wrapping lab.ErrNotFound.
func getJob(ctx context.Context, q *jobs.Queue, id, kind string) (jobs.Info, error) {
	n, ok := parseID(id)
	if !ok {
		return jobs.Info{}, fmt.Errorf("%w: %s job %q", lab.ErrNotFound, kind, id)
	}
	in, err := q.Get(ctx, n)
	if errors.Is(err, jobs.ErrNotFound) || (err == nil && in.Kind != kind) {
		return jobs.Info{}, fmt.Errorf("%w: %s job %q", lab.ErrNotFound, kind, id)
	}
	if err != nil {
		return jobs.Info{}, err
	}
	var ref struct {
		Ref string `json:"ref"`
	}
	if json.Unmarshal(in.Args, &ref) != nil || runID(in.ID, ref.Ref) != id {
		return jobs.Info{}, fmt.Errorf("%w: %s job %q", lab.ErrNotFound, kind, id) // a job of another database's history
	}
	return in, nil
}

// jobOf maps a job row to the console's view: queued, running and retrying are
// all "running"; cancelled and discarded are "failed".
func jobOf(in jobs.Info, by, ref string) lab.Job {
	j := lab.Job{ID: runID(in.ID, ref), State: lab.JobRunning, Done: in.Done, Total: in.Total, Started: in.CreatedAt,
		Finished: in.FinalizedAt, By: by}
	switch in.State {
	case jobs.StateCompleted:
		j.State = lab.JobDone
	case jobs.StateCancelled, jobs.StateDiscarded:
		j.State, j.Err = lab.JobFailed, firstLine(in.Error)
	}
	return j
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimPrefix(s, "JobCancelError: ")
}
