// Package training adapts the trainer to the lab console: labelled data sets become
// the sample library, parameter presets the algorithm library, and a training job
// runs training.Train in the background, reports every round for the validation
// curve, describes the result with training.NewCard (the model card xinyi train
// makes: metrics, ROC and KS curves of every split, importances, monotonicity
// checks), and registers it in the model library on request with that card.
//
// Besides the public data sets, a job may train on a point-in-time sample of the
// feature store (Options.Store): "name" (latest version) or "name/vN". Such a job
// trains on the sample's train split with the catalog's monotone directions and the
// objective of its label (gamma for a limit), stops early on valid, is evaluated on
// every split, and registers bound to the sample's feature set
// with the sample, its manifest and its label in the lineage, as xinyi train does.
//
//	tr := labtraining.New(labtraining.Options{Data: labtraining.PublicDataSets(dir), Store: offline, Models: registry})
//	defer tr.Close()
//	srv, _ := lab.New(lab.Options{Samples: tr, Trainer: tr, ...})
package training

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/lab/svg"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	xtraining "github.com/xinyi-platform/xinyi/training"
)

// DataSet is a labelled file offered as a training sample.
type DataSet struct {
	Name    string
	Path    string
	Load    func(path string) (*datasets.Table, error)
	Lineage string
	// LineageZH says the same in Chinese.
	LineageZH string
}

// PublicDataSets returns the real public data sets found under dir (the layout of
// the shared data folder: taiwan/, gmsc/, lightgbm-binary/).
func PublicDataSets(dir string) []DataSet {
	return []DataSet{
		{Name: "lightgbm-binary", Path: filepath.Join(dir, "lightgbm-binary", "binary.train"), Load: datasets.LoadLightGBMBinary,
			Lineage: "LightGBM examples/binary_classification binary.train (MIT)", LineageZH: "LightGBM 官方二分类示例数据（MIT 许可）"},
		{Name: "taiwan", Path: filepath.Join(dir, "taiwan", "UCI_Credit_Card.csv"), Load: datasets.LoadTaiwan,
			Lineage: "UCI default of credit card clients (Yeh & Lien 2009)", LineageZH: "UCI 机器学习库：台湾信用卡客户违约数据（2009）"},
		{Name: "gmsc", Path: filepath.Join(dir, "gmsc", "cs-training.csv"), Load: datasets.LoadGMSC,
			Lineage: "Kaggle Give Me Some Credit cs-training.csv", LineageZH: "Kaggle 个人信用评分竞赛训练数据"},
	}
}

// Options configures the adapter.
type Options struct {
	// Data are the public data sets offered for training.
	Data []DataSet
	// Store is the offline store whose samples/ jobs may train on as well (their
	// names are listed by the sample library, lab/features.Samples). Nil: only Data.
	Store blob.Store
	// Catalog gives the monotone directions of a store sample's indicators.
	// Default features.DefaultCatalog().
	Catalog *features.Catalog
	// Models receives registered results. Nil: registering fails with ErrNotConnected.
	Models lab.Models
	// Threads per training run. Default 2.
	Threads int
	// ValidFraction of rows held out (stratified) for the curve and evaluation. Default 0.2.
	ValidFraction float64
	// Seed of the split and of training. Default 42.
	Seed uint64
	// CodeVersion is recorded as lineage of registered models. Default "dev".
	CodeVersion string
}

// EnsureDefaults fills zero fields with the defaults.
func (o *Options) EnsureDefaults() {
	if o.Threads <= 0 {
		o.Threads = 2
	}
	if o.ValidFraction <= 0 || o.ValidFraction >= 1 {
		o.ValidFraction = 0.2
	}
	if o.Seed == 0 {
		o.Seed = 42
	}
	if o.CodeVersion == "" {
		o.CodeVersion = "dev"
	}
}

// preset is a lab.Preset with the parameters it sets.
type preset struct {
	lab.Preset
	apply func(p *xtraining.Params)
}

var presets = []preset{
	{lab.Preset{ID: "quick", NameZH: "快速试算", NameEN: "Quick look",
		ExplainZH: "30 轮、较大学习率、较小的树：几秒内看出样本是否有信号，不用于上线。",
		ExplainEN: "30 rounds, a large learning rate and small trees: see within seconds whether a sample carries signal; not for production."},
		func(p *xtraining.Params) { p.NumRounds, p.LearningRate, p.NumLeaves = 30, 0.2, 15 }},
	{lab.Preset{ID: "standard", NameZH: "标准", NameEN: "Standard",
		ExplainZH: "与 XGBoost 直方图算法的参考设置一致（31 叶、学习率 0.1、100 轮、每叶至少 20 行），验证集 AUC 连续 20 轮不升即提前停止。",
		ExplainEN: "The XGBoost hist reference setting (31 leaves, learning rate 0.1, 100 rounds, at least 20 rows per leaf); stops early when validation AUC has not improved for 20 rounds."},
		func(p *xtraining.Params) { p.NumRounds, p.EarlyStoppingRounds = 100, 20 }},
	{lab.Preset{ID: "conservative", NameZH: "稳健", NameEN: "Conservative",
		ExplainZH: "小学习率、浅树、每叶至少 100 行、L2 正则与行列抽样：更平滑、更稳定的评分，训练更慢。",
		ExplainEN: "A small learning rate, shallow trees, at least 100 rows per leaf, L2 regularization and row/column sampling: smoother, more stable scores at a slower pace."},
		func(p *xtraining.Params) {
			p.NumRounds, p.LearningRate, p.NumLeaves, p.MinDataInLeaf = 300, 0.05, 15, 100
			p.LambdaL2, p.BaggingFraction, p.FeatureFraction, p.EarlyStoppingRounds = 1, 0.8, 0.8, 30
		}},
}

func init() {
	for i := range presets {
		p := xtraining.DefaultParams()
		presets[i].apply(&p)
		presets[i].Params = []lab.Param{
			{Name: "rounds", Value: strconv.Itoa(p.NumRounds)},
			{Name: "learning_rate", Value: strconv.FormatFloat(p.LearningRate, 'g', -1, 64)},
			{Name: "num_leaves", Value: strconv.Itoa(p.NumLeaves)},
			{Name: "min_data_in_leaf", Value: strconv.Itoa(p.MinDataInLeaf)},
			{Name: "lambda_l2", Value: strconv.FormatFloat(p.LambdaL2, 'g', -1, 64)},
			{Name: "bagging", Value: strconv.FormatFloat(p.BaggingFraction, 'g', -1, 64)},
			{Name: "feature_fraction", Value: strconv.FormatFloat(p.FeatureFraction, 'g', -1, 64)},
			{Name: "early_stopping", Value: strconv.Itoa(p.EarlyStoppingRounds)},
		}
	}
}

// Trainer implements lab.Samples and lab.Trainer.
type Trainer struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	samples map[string]lab.Sample // summaries, computed once
	jobs    []*job
}

type job struct {
	lab.TrainingJob
	text []byte // the model in canonical LightGBM text once done
	card *xtraining.Card
	note string // the lineage note (Result.LineageNote)
	// For a job on a store sample: its manifest and the manifest's sha256.
	manifest       *features.SampleManifest
	manifestSHA256 string
	// report, when set, receives the job after every round (outside the lock).
	report func(lab.TrainingJob)
	// roundsRun is how many rounds training ran (fewer than planned when it
	// stopped early); early says so.
	roundsRun, planned int
	early              string
}

// New returns a trainer; Close stops its running jobs.
func New(o Options) *Trainer {
	o.EnsureDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Trainer{o: o, ctx: ctx, cancel: cancel, samples: map[string]lab.Sample{}}
}

// Close cancels running jobs and waits for them.
func (t *Trainer) Close() error {
	t.cancel()
	t.wg.Wait()
	return nil
}

// Presets lists the parameter presets.
func (t *Trainer) Presets() []lab.Preset {
	out := make([]lab.Preset, len(presets))
	for i, p := range presets {
		out[i] = p.Preset
	}
	return out
}

// Samples summarizes every data set (loading each once).
func (t *Trainer) Samples(ctx context.Context) ([]lab.Sample, error) {
	out := make([]lab.Sample, 0, len(t.o.Data))
	for _, d := range t.o.Data {
		s, err := t.sample(d)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (t *Trainer) sample(d DataSet) (lab.Sample, error) {
	t.mu.Lock()
	s, ok := t.samples[d.Name]
	t.mu.Unlock()
	if ok {
		return s, nil
	}
	tab, err := d.Load(d.Path)
	if err != nil {
		return lab.Sample{}, fmt.Errorf("sample %s: %w", d.Name, err)
	}
	defer tab.Release()
	y := tab.TargetColumn()
	var pos int64
	for i := range y.Len() {
		if y.Value(i) == 1 {
			pos++
		}
	}
	s = lab.Sample{Name: d.Name, Version: 1, FeatureSet: d.Name + "/v1", Label: tab.Target, From: "", To: "",
		Rows: int64(y.Len()), Positives: pos, Features: len(tab.Features), Lineage: d.Lineage, LineageZH: d.LineageZH}
	t.mu.Lock()
	t.samples[d.Name] = s
	t.mu.Unlock()
	return s, nil
}

// SampleFeatureSets serves each data set's columns as the feature set "<name>"
// version 1 (what RegisterTraining binds a trained model to) and asks next for every
// other set. The columns are read once, on first use.
func SampleFeatureSets(data []DataSet, next xregistry.FeatureSets) xregistry.FeatureSets {
	return &sampleSets{data: data, next: next, cols: map[string][]string{}}
}

type sampleSets struct {
	data []DataSet
	next xregistry.FeatureSets
	mu   sync.Mutex
	cols map[string][]string
}

func (s *sampleSets) FeatureSet(ctx context.Context, ref features.SetRef) (features.SetRef, []string, error) {
	i := slices.IndexFunc(s.data, func(d DataSet) bool { return d.Name == ref.Name })
	if i < 0 || ref.Version > 1 {
		if s.next == nil {
			return features.SetRef{}, nil, fmt.Errorf("%w: %s", xregistry.ErrUnknownFeatureSet, ref)
		}
		return s.next.FeatureSet(ctx, ref)
	}
	ref.Version = 1 // a data set has one version
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cols[ref.Name]; ok {
		return ref, slices.Clone(c), nil
	}
	tab, err := s.data[i].Load(s.data[i].Path)
	if err != nil {
		return features.SetRef{}, nil, fmt.Errorf("feature set %s: %w", ref, err)
	}
	s.cols[ref.Name] = slices.Clone(tab.Features)
	tab.Release()
	return ref, slices.Clone(s.cols[ref.Name]), nil
}

// StartTraining starts a job on a sample with a preset. The sample is a public data
// set by name ("taiwan" or "taiwan/v1") or, failing that, a sample of the offline
// store ("name" for its latest version, or "name/vN").
func (t *Trainer) StartTraining(ctx context.Context, req lab.TrainingRequest) (string, error) {
	r, err := t.resolve(ctx, req)
	if err != nil {
		return "", err
	}
	t.mu.Lock()
	j := &job{TrainingJob: lab.TrainingJob{Job: lab.Job{ID: "t" + strconv.Itoa(len(t.jobs)+1), State: lab.JobRunning, Total: int64(r.params.NumRounds),
		Started: time.Now(), By: req.By.Name()}, Sample: r.sample, Preset: req.Preset}, manifest: r.manifest}
	t.jobs = append(t.jobs, j)
	t.mu.Unlock()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		err := t.runJob(t.ctx, j, r)
		t.mu.Lock()
		defer t.mu.Unlock()
		j.Finished = time.Now()
		if err != nil {
			j.State, j.Err = lab.JobFailed, err.Error()
			return
		}
		j.State = lab.JobDone
	}()
	return j.ID, nil
}

// resolved is a request checked against the presets and samples.
type resolved struct {
	sample   string // a data set's name or a store sample's "name/vN"
	data     int    // index into Options.Data; -1 for a store sample
	manifest *features.SampleManifest
	params   xtraining.Params
}

// resolve checks req: its preset exists, and its sample is a public data set by
// name ("taiwan" or "taiwan/v1") or, failing that, a sample of the offline store
// ("name" for its latest version, or "name/vN", resolved to the version).
func (t *Trainer) resolve(ctx context.Context, req lab.TrainingRequest) (resolved, error) {
	k := slices.IndexFunc(presets, func(p preset) bool { return p.ID == req.Preset })
	if k < 0 {
		return resolved{}, fmt.Errorf("%w: no preset named %q", lab.ErrInvalidInput, req.Preset)
	}
	r := resolved{sample: req.Sample, data: -1}
	// A public data set is named "taiwan" or, as the sample library lists it, "taiwan/v1".
	if i := slices.IndexFunc(t.o.Data, func(d DataSet) bool { return d.Name == req.Sample || d.Name+"/v1" == req.Sample }); i >= 0 {
		r.sample, r.data = t.o.Data[i].Name, i
	} else {
		if t.o.Store == nil {
			return resolved{}, fmt.Errorf("%w: no sample named %q", lab.ErrInvalidInput, req.Sample)
		}
		m, err := features.OpenSample(ctx, t.o.Store, req.Sample)
		if err != nil {
			if errors.Is(err, features.ErrUnknownSample) || errors.Is(err, features.ErrCorruptSample) {
				return resolved{}, fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
			}
			return resolved{}, err
		}
		r.sample, r.manifest = m.Ref(), m // the version trained on, also when the request named the latest
	}
	r.params = xtraining.DefaultParams()
	presets[k].apply(&r.params)
	r.params.Threads, r.params.Seed = t.o.Threads, t.o.Seed
	return r, nil
}

// Resolve checks a request as StartTraining does and returns the sample it
// names as a run records it: a data set's name, or a store sample's "name/vN"
// (the latest version when the request named none).
func (t *Trainer) Resolve(ctx context.Context, req lab.TrainingRequest) (string, error) {
	r, err := t.resolve(ctx, req)
	return r.sample, err
}

func (t *Trainer) runJob(ctx context.Context, j *job, r resolved) error {
	if r.manifest != nil {
		return t.runSample(ctx, j, r.params)
	}
	return t.run(ctx, j, t.o.Data[r.data], r.params)
}

// Result is a finished training run: what a durable job stores and registers.
type Result struct {
	Sample string `json:"sample"` // a data set's name or a store sample's "name/vN"
	Preset string `json:"preset"`
	// Model is the model in canonical LightGBM text.
	Model []byte `json:"-"`
	// Card is the model card training.NewCard made of the run; nil in a result
	// recorded before runs kept one (such a run cannot be registered).
	Card *xtraining.Card `json:"model_card,omitempty"`
	// Curves are the ROC and KS curves a result recorded before the card held
	// them kept beside it (nil since: the card's evaluations hold them).
	Curves *lab.Curves `json:"curves,omitempty"`
	// LineageNote is the registered lineage's note: a store sample's label and
	// population (training.Sample.LabelNote), or a public data set's source.
	LineageNote string      `json:"lineage_note,omitempty"`
	Metric      string      `json:"metric"`
	Train       []svg.Point `json:"train,omitempty"`
	Valid       []svg.Point `json:"valid,omitempty"`
	BestRound   int         `json:"best_round"`
	BestValid   float64     `json:"best_valid"`
	// RoundsRun is how many rounds training ran, Planned the preset's rounds; Note
	// says when early stopping ended the run before Planned.
	RoundsRun int    `json:"rounds_run"`
	Planned   int    `json:"planned"`
	Note      string `json:"note,omitempty"`
	// ManifestSHA256 is the digest of a store sample's manifest; empty for a data set.
	ManifestSHA256 string `json:"manifest_sha256,omitempty"`
}

// Run trains synchronously on req's sample with its preset, calling progress
// (when set) after every round with the run as it stands. It is the work of a
// training job, for a runner outside this process's memory (lab/trainjobs).
func (t *Trainer) Run(ctx context.Context, req lab.TrainingRequest, progress func(lab.TrainingJob)) (*Result, error) {
	r, err := t.resolve(ctx, req)
	if err != nil {
		return nil, err
	}
	j := &job{TrainingJob: lab.TrainingJob{Job: lab.Job{State: lab.JobRunning, Total: int64(r.params.NumRounds), Started: time.Now(), By: req.By.Name()},
		Sample: r.sample, Preset: req.Preset}, manifest: r.manifest, report: progress}
	if err := t.runJob(ctx, j, r); err != nil {
		return nil, err
	}
	return &Result{Sample: j.Sample, Preset: j.Preset, Model: j.text, Card: j.card, LineageNote: j.note, Metric: j.Metric,
		Train: j.Train, Valid: j.Valid, BestRound: j.BestRound, BestValid: j.BestValid, RoundsRun: j.roundsRun, Planned: j.planned,
		Note: j.early, ManifestSHA256: j.manifestSHA256}, nil
}

func (t *Trainer) run(ctx context.Context, j *job, d DataSet, p xtraining.Params) error {
	tab, err := d.Load(d.Path)
	if err != nil {
		return err
	}
	target := tab.Target
	all, err := xtraining.FromArrow(tab.Record, tab.Features, target)
	tab.Release()
	if err != nil {
		return err
	}
	tr, va, err := xtraining.StratifiedSplit(all.Label, t.o.ValidFraction, t.o.Seed)
	if err != nil {
		return err
	}
	train, valid := all.Subset(tr), all.Subset(va)
	// The data set is named as xinyi train --format names a data file.
	return t.train(ctx, j, xtraining.CardInput{DataName: d.Name + ":" + filepath.Base(d.Path), Target: target,
		Train: train, Valid: valid}, p, d.Lineage)
}

// runSample trains on the store sample of j as xinyi train --sample does: train
// split for fitting, valid for early stopping and the validation curve, every
// split in the card.
func (t *Trainer) runSample(ctx context.Context, j *job, p xtraining.Params) error {
	s, err := xtraining.LoadSample(ctx, t.o.Store, j.manifest.Ref(), xtraining.SampleOptions{Catalog: t.o.Catalog})
	if err != nil {
		return err
	}
	info, err := t.o.Store.Stat(ctx, s.Manifest.ManifestKey())
	if err != nil {
		return fmt.Errorf("sample %s manifest: %w", s.Manifest.Ref(), err)
	}
	p.Objective, p.Monotone = s.Objective, s.Monotone
	if s.Test == nil && s.Valid == nil {
		return fmt.Errorf("%w: sample %s has neither test nor valid rows to evaluate on", xtraining.ErrEmptySplit, s.Manifest.Ref())
	}
	t.mu.Lock()
	j.manifest, j.manifestSHA256 = s.Manifest, info.SHA256
	t.mu.Unlock()
	return t.train(ctx, j, xtraining.CardInput{DataName: s.DataName(), Target: s.Manifest.Label.Name,
		Train: s.Train, Valid: s.Valid, Test: s.Test}, p, s.LabelNote())
}

// train runs training.Train on in.Train (early stopping on in.Valid) reporting
// every round to j, and records in j the model, its card (training.NewCard of in,
// as xinyi train makes it, with its curves), and the lineage note. When early stopping ends the
// run, the job's progress becomes the rounds run of the rounds run (61/61, not
// 100/100), with a note of the rounds planned.
func (t *Trainer) train(ctx context.Context, j *job, in xtraining.CardInput, p xtraining.Params, note string) error {
	p.Progress = func(r xtraining.Round) {
		t.mu.Lock()
		j.Done, j.Total, j.Metric = int64(r.Iteration), int64(r.Total), r.Metric
		if finite(r.Train) {
			j.Train = append(j.Train, svg.Point{X: float64(r.Iteration), Y: r.Train})
		}
		if r.HasValidSet && finite(r.Valid) {
			j.Valid = append(j.Valid, svg.Point{X: float64(r.Iteration), Y: r.Valid})
		}
		j.BestRound, j.BestValid = r.BestRound, r.BestValid
		report, snap := j.report, j.TrainingJob
		t.mu.Unlock()
		if report != nil {
			report(snap)
		}
	}
	m, res, err := xtraining.Train(ctx, in.Train, in.Valid, p)
	if err != nil {
		return err
	}
	t.mu.Lock()
	j.roundsRun, j.planned = res.RoundsRun, p.NumRounds
	j.Done, j.Total = int64(res.RoundsRun), int64(res.RoundsRun)
	if res.RoundsRun < p.NumRounds {
		j.early = fmt.Sprintf("stopped early after %d of %d rounds (best round %d)", res.RoundsRun, p.NumRounds, res.Rounds)
	}
	t.mu.Unlock()
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		return err
	}
	in.Created, in.Model, in.Result, in.Eval = time.Now(), m, res, xtraining.EvalOptions{Threads: t.o.Threads}
	card, err := xtraining.NewCard(in)
	if err != nil {
		return err
	}
	t.mu.Lock()
	j.text, j.card, j.note = buf.Bytes(), card, note
	t.mu.Unlock()
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// TrainingJob returns one job.
func (t *Trainer) TrainingJob(_ context.Context, id string) (lab.TrainingJob, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, j := range t.jobs {
		if j.ID == id {
			return j.snapshot(), nil
		}
	}
	return lab.TrainingJob{}, fmt.Errorf("%w: training job %q", lab.ErrNotFound, id)
}

func (j *job) snapshot() lab.TrainingJob {
	c := j.TrainingJob
	c.Train, c.Valid = slices.Clone(j.Train), slices.Clone(j.Valid)
	return c
}

// TrainingJobs lists the jobs, newest first.
func (t *Trainer) TrainingJobs(context.Context) ([]lab.TrainingJob, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]lab.TrainingJob, 0, len(t.jobs))
	for i := len(t.jobs) - 1; i >= 0; i-- {
		s := t.jobs[i].snapshot()
		s.Train, s.Valid = nil, nil
		out = append(out, s)
	}
	return out, nil
}

// Wait blocks until job id is no longer running or ctx ends.
func (t *Trainer) Wait(ctx context.Context, id string) (lab.TrainingJob, error) {
	for {
		j, err := t.TrainingJob(ctx, id)
		if err != nil || j.State != lab.JobRunning {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RegisterTraining uploads the finished job's model, with its evaluation and model
// card, as a new version of model.
func (t *Trainer) RegisterTraining(ctx context.Context, id, model string, by lab.Principal) (string, error) {
	if t.o.Models == nil {
		return "", fmt.Errorf("%w: model library", lab.ErrNotConnected)
	}
	t.mu.Lock()
	i := slices.IndexFunc(t.jobs, func(j *job) bool { return j.ID == id })
	if i < 0 {
		t.mu.Unlock()
		return "", fmt.Errorf("%w: training job %q", lab.ErrNotFound, id)
	}
	j := t.jobs[i]
	state, registered, sample, manifest := j.State, j.Registered, j.Sample, j.manifest
	res := &Result{Sample: j.Sample, Model: j.text, Card: j.card, LineageNote: j.note}
	t.mu.Unlock()
	switch {
	case state != lab.JobDone:
		return "", fmt.Errorf("%w: training job %s is %s, not done", lab.ErrConflict, id, state)
	case registered != "":
		return "", fmt.Errorf("%w: training job %s is already registered as %s", lab.ErrConflict, id, registered)
	}
	ref, err := t.upload(ctx, id, model, by, res, sample, manifest)
	if err != nil {
		return "", err
	}
	t.mu.Lock()
	j.Registered = ref
	t.mu.Unlock()
	return ref, nil
}

// RegisterResult uploads a finished run's model, with its evaluation and card,
// as a new version of model and returns "model:version"; id names the run in
// the uploaded file's name. The caller sees to it that a run registers once.
func (t *Trainer) RegisterResult(ctx context.Context, res *Result, id, model string, by lab.Principal) (string, error) {
	if t.o.Models == nil {
		return "", fmt.Errorf("%w: model library", lab.ErrNotConnected)
	}
	var manifest *features.SampleManifest
	if !slices.ContainsFunc(t.o.Data, func(d DataSet) bool { return d.Name == res.Sample }) {
		if t.o.Store == nil {
			return "", fmt.Errorf("%w: no sample named %q", lab.ErrInvalidInput, res.Sample)
		}
		m, err := features.OpenSample(ctx, t.o.Store, res.Sample)
		if err != nil {
			return "", fmt.Errorf("training %s: sample: %w", id, err)
		}
		manifest = m
	}
	return t.upload(ctx, id, model, by, res, res.Sample, manifest)
}

// upload registers res's model with its card, named after the model file as
// xinyi train names its card ("training-<id>.txt").
func (t *Trainer) upload(ctx context.Context, id, model string, by lab.Principal, res *Result, sample string, manifest *features.SampleManifest) (string, error) {
	if res.Card == nil {
		return "", fmt.Errorf("%w: training %s was recorded before runs kept a model card; train it again to register it", lab.ErrConflict, id)
	}
	file := "training-" + id + ".txt"
	card := *res.Card
	card.Name = file
	up := lab.Upload{Model: model, FileName: file, Data: res.Model, FeatureSet: sample + "/v1",
		By: by, Sample: sample, CodeVersion: t.o.CodeVersion, Note: res.LineageNote, Card: &card, Curves: res.Curves}
	if manifest != nil {
		s := xtraining.Sample{Manifest: manifest}
		task, err := s.Task()
		if err != nil {
			return "", err
		}
		up.FeatureSet, up.Task = features.SetRef{Name: manifest.Set, Version: manifest.SetVersion}.String(), task
		up.Sample, up.SampleVersion, up.SampleManifest = manifest.Name, manifest.Version, manifest.ManifestKey()
	}
	v, err := t.o.Models.Upload(ctx, up)
	if err != nil {
		return "", err
	}
	return v.Model + ":" + v.Version, nil
}

// Known forwards registry.IndicatorCatalog to the sets it wraps.
func (s *sampleSets) Known(id string) bool {
	ic, ok := s.next.(xregistry.IndicatorCatalog)
	return ok && ic.Known(id)
}

// Definitions forwards registry.BuiltInSets to the sets it wraps.
func (s *sampleSets) Definitions() []features.SetDefinition {
	if b, ok := s.next.(xregistry.BuiltInSets); ok {
		return b.Definitions()
	}
	return nil
}
