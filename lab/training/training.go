// Package training adapts the trainer to the lab console: labelled data sets become
// the sample library, parameter presets the algorithm library, and a training job
// runs training.Train in the background, reports every round for the validation
// curve, evaluates the result on the held-out rows (AUC, KS, Gini, log loss,
// calibration, ROC and KS curves) and registers it in the model library on request.
//
// Besides the public data sets, a job may train on a point-in-time sample of the
// feature store (Options.Store): "name" (latest version) or "name/vN". Such a job
// trains on the sample's train split with the catalog's monotone directions, stops
// early on valid, is evaluated on test, and registers bound to the sample's feature
// set with the sample, its manifest digest and its label in the lineage.
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
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/gbdt"
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
	eval *lab.Evaluation
	card string
	// cardZH is the card in Chinese.
	cardZH string
	// For a job on a store sample: its manifest and the manifest's sha256.
	manifest       *features.SampleManifest
	manifestSHA256 string
	// report, when set, receives the job after every round (outside the lock).
	report func(lab.TrainingJob)
	// roundsRun is how many rounds training ran (fewer than planned when it
	// stopped early); note says so.
	roundsRun, planned int
	note               string
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
	Model      []byte          `json:"-"`
	Card       string          `json:"card"`
	CardZH     string          `json:"card_zh,omitempty"`
	Evaluation *lab.Evaluation `json:"evaluation"`
	Metric     string          `json:"metric"`
	Train      []svg.Point     `json:"train,omitempty"`
	Valid      []svg.Point     `json:"valid,omitempty"`
	BestRound  int             `json:"best_round"`
	BestValid  float64         `json:"best_valid"`
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
	return &Result{Sample: j.Sample, Preset: j.Preset, Model: j.text, Card: j.card, CardZH: j.cardZH, Evaluation: j.eval, Metric: j.Metric,
		Train: j.Train, Valid: j.Valid, BestRound: j.BestRound, BestValid: j.BestValid, RoundsRun: j.roundsRun, Planned: j.planned,
		Note: j.note, ManifestSHA256: j.manifestSHA256}, nil
}

func (t *Trainer) run(ctx context.Context, j *job, d DataSet, p xtraining.Params) error {
	tab, err := d.Load(d.Path)
	if err != nil {
		return err
	}
	all, err := xtraining.FromArrow(tab.Record, tab.Features, tab.Target)
	tab.Release()
	if err != nil {
		return err
	}
	tr, va, err := xtraining.StratifiedSplit(all.Label, t.o.ValidFraction, t.o.Seed)
	if err != nil {
		return err
	}
	train, valid := all.Subset(tr), all.Subset(va)
	m, res, eval, err := t.train(ctx, j, train, valid, valid, p)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		return err
	}
	card := modelCard(d, p, res, eval, train.Rows(), valid.Rows())
	cardZH := modelCardZH(d, p, res, eval, train.Rows(), valid.Rows())
	t.mu.Lock()
	j.text, j.eval, j.card, j.cardZH = buf.Bytes(), eval, card, cardZH
	t.mu.Unlock()
	return nil
}

// runSample trains on the store sample of j: train split for fitting, valid for
// early stopping and the curve, test (or valid when test is empty) for evaluation.
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
	evalSet, evalName := s.Test, "test"
	if evalSet == nil {
		evalSet, evalName = s.Valid, "valid"
	}
	if evalSet == nil {
		return fmt.Errorf("%w: sample %s has neither test nor valid rows to evaluate on", xtraining.ErrEmptySplit, s.Manifest.Ref())
	}
	m, res, eval, err := t.train(ctx, j, s.Train, s.Valid, evalSet, p)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := m.WriteLightGBM(&buf); err != nil {
		return err
	}
	card := sampleCard(s, info.SHA256, p, res, eval, evalName, evalSet.Rows())
	cardZH := sampleCardZH(s, info.SHA256, p, res, eval, evalName, evalSet.Rows())
	t.mu.Lock()
	j.text, j.eval, j.card, j.cardZH, j.manifest, j.manifestSHA256 = buf.Bytes(), eval, card, cardZH, s.Manifest, info.SHA256
	t.mu.Unlock()
	return nil
}

// train runs training.Train reporting every round to j, evaluates the model on eval
// and adds the gain importances. When early stopping ends the run, the job's
// progress becomes the rounds run of the rounds run (61/61, not 100/100), with a
// note of the rounds planned.
func (t *Trainer) train(ctx context.Context, j *job, train, valid, evalSet *xtraining.Dataset, p xtraining.Params) (*gbdt.Model, *xtraining.Result, *lab.Evaluation, error) {
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
	m, res, err := xtraining.Train(ctx, train, valid, p)
	if err != nil {
		return nil, nil, nil, err
	}
	t.mu.Lock()
	j.roundsRun, j.planned = res.RoundsRun, p.NumRounds
	j.Done, j.Total = int64(res.RoundsRun), int64(res.RoundsRun)
	if res.RoundsRun < p.NumRounds {
		j.note = fmt.Sprintf("stopped early after %d of %d rounds (best round %d)", res.RoundsRun, p.NumRounds, res.Rounds)
	}
	t.mu.Unlock()
	eval, err := Evaluate(m, evalSet, t.o.Threads)
	if err != nil {
		return nil, nil, nil, err
	}
	if total := sum(res.GainImportance); total > 0 {
		for f, g := range res.GainImportance {
			if g > 0 {
				eval.Importance = append(eval.Importance, lab.Importance{Feature: train.Features[f], Gain: g / total})
			}
		}
		slices.SortStableFunc(eval.Importance, func(a, b lab.Importance) int { return -cmpFloat(a.Gain, b.Gain) })
	}
	return m, res, eval, nil
}

func modelCard(d DataSet, p xtraining.Params, res *xtraining.Result, e *lab.Evaluation, ntrain, nvalid int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sample: %s (%s)\nRows: %d training, %d validation (stratified, seed %d)\n", d.Name, d.Lineage, ntrain, nvalid, p.Seed)
	fmt.Fprintf(&b, "Trainer: Xinyi histogram GBDT, objective %s, %d of %d rounds kept, learning rate %g, %d leaves, min %d rows per leaf\n",
		p.Objective, res.Rounds, res.RoundsRun, p.LearningRate, p.NumLeaves, p.MinDataInLeaf)
	fmt.Fprintf(&b, "Validation:")
	for _, m := range e.Metrics {
		fmt.Fprintf(&b, " %s %.4f;", m.Name, m.Value)
	}
	fmt.Fprintf(&b, "\nTraining time: %s\n", res.Elapsed.Round(time.Millisecond))
	b.WriteString("Intended use: research in the lab; promotion needs a second person's approval.\n")
	return b.String()
}

// modelCardZH is modelCard in Chinese.
func modelCardZH(d DataSet, p xtraining.Params, res *xtraining.Result, e *lab.Evaluation, ntrain, nvalid int) string {
	var b strings.Builder
	lineage := d.LineageZH
	if lineage == "" {
		lineage = d.Lineage
	}
	fmt.Fprintf(&b, "训练样本：%s；来源：%s\n", d.Name, lineage)
	fmt.Fprintf(&b, "样本行数：训练 %s 行，验证 %s 行（分层抽样，随机种子 %d）\n", groupInt(ntrain), groupInt(nvalid), p.Seed)
	fmt.Fprintf(&b, "训练算法：信易直方图梯度提升树，目标函数%s；运行 %d 轮，保留 %d 轮；学习率 %g，每棵树 %d 个叶子，每叶至少 %d 行\n",
		objectiveZH(string(p.Objective)), res.RoundsRun, res.Rounds, p.LearningRate, p.NumLeaves, p.MinDataInLeaf)
	b.WriteString("验证集表现：")
	writeMetricsZH(&b, e)
	fmt.Fprintf(&b, "\n训练耗时：%s\n", durationZH(res.Elapsed))
	b.WriteString("用途：实验室内研究；上线须经另一位审批人批准。\n")
	return b.String()
}

// sampleCardZH is sampleCard in Chinese.
func sampleCardZH(s *xtraining.Sample, manifestSHA256 string, p xtraining.Params, res *xtraining.Result, e *lab.Evaluation, evalName string, nEval int) string {
	m := s.Manifest
	var b strings.Builder
	fmt.Fprintf(&b, "训练样本：离线特征库样本 %s，特征集 %s/v%d；样本清单 %s，SHA-256 摘要 %s\n", m.Ref(), m.Set, m.SetVersion, m.ManifestKey(), manifestSHA256)
	kind := map[string]string{"default": "违约", "violation": "违法失信", "limit": "授信额度"}[m.Label.Kind]
	if kind == "" {
		kind = m.Label.Kind
	}
	if m.Label.Regression {
		fmt.Fprintf(&b, "标签：观察日后 %d 个月内首次%s的金额", m.Label.Horizon, kind)
	} else {
		fmt.Fprintf(&b, "标签：观察日后 %d 个月内发生%s为 1，否则为 0", m.Label.Horizon, kind)
	}
	fmt.Fprintf(&b, "；快照 %s 至 %s，样本构建于 %s\n", m.From, m.To, m.BuildAt)
	split := map[string]string{"test": "测试集", "valid": "验证集"}[evalName]
	fmt.Fprintf(&b, "样本行数：训练 %s 行，验证 %s 行（用于提前停止），评估 %s 行（%s）；按快照日期划分，随机种子 %d\n",
		groupInt(s.Train.Rows()), groupInt(rowsOf(s.Valid)), groupInt(nEval), split, p.Seed)
	var up, down int
	for _, d := range p.Monotone {
		switch {
		case d > 0:
			up++
		case d < 0:
			down++
		}
	}
	fmt.Fprintf(&b, "单调约束（按指标库的方向）：%d 个递增，%d 个递减，%d 个不约束\n", up, down, len(p.Monotone)-up-down)
	fmt.Fprintf(&b, "训练算法：信易直方图梯度提升树，目标函数%s；运行 %d 轮，保留 %d 轮；学习率 %g，每棵树 %d 个叶子，每叶至少 %d 行\n",
		objectiveZH(string(p.Objective)), res.RoundsRun, res.Rounds, p.LearningRate, p.NumLeaves, p.MinDataInLeaf)
	fmt.Fprintf(&b, "评估表现（%s）：", split)
	writeMetricsZH(&b, e)
	fmt.Fprintf(&b, "\n训练耗时：%s\n", durationZH(res.Elapsed))
	b.WriteString("用途：实验室内研究；上线须经另一位审批人批准。\n")
	return b.String()
}

// metricZH names the evaluation's metrics in Chinese.
var metricZH = map[string]string{"Gini": "基尼系数", "log loss": "对数损失", "Brier": "Brier 分数", "RMSE": "均方根误差", "MAE": "平均绝对误差",
	"MdAPE": "相对误差中位数", "RMSE of log": "对数均方根误差"}

func writeMetricsZH(b *strings.Builder, e *lab.Evaluation) {
	for i, m := range e.Metrics {
		if i > 0 {
			b.WriteString("；")
		}
		name := m.Name
		if zh, ok := metricZH[name]; ok {
			name = zh
		}
		fmt.Fprintf(b, "%s %.4f", name, m.Value)
	}
}

// objectiveZH names a training objective in Chinese.
func objectiveZH(o string) string {
	switch o {
	case "binary":
		return "为二分类对数损失"
	case "regression", "l2":
		return "为平方误差回归"
	case "gamma":
		return "为伽马回归（对数链接，按相对误差拟合额度）"
	}
	return " " + o
}

// durationZH says a training time: "252 毫秒", "3.4 秒", "2 分 5 秒".
func durationZH(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d 毫秒", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f 秒", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%d 分 %d 秒", int(d.Minutes()), int(d.Seconds())%60)
}

// groupInt writes n with thousands separators.
func groupInt(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sampleCard is the model card of a run on a store sample: its lineage in full (the
// registry's lineage keeps the sample reference), the constraints and the figures.
func sampleCard(s *xtraining.Sample, manifestSHA256 string, p xtraining.Params, res *xtraining.Result, e *lab.Evaluation, evalName string, nEval int) string {
	m := s.Manifest
	var b strings.Builder
	fmt.Fprintf(&b, "Sample: %s of the offline store, feature set %s/v%d; manifest %s sha256 %s\n", m.Ref(), m.Set, m.SetVersion, m.ManifestKey(), manifestSHA256)
	fmt.Fprintf(&b, "Label: %s\n", s.LabelNote())
	fmt.Fprintf(&b, "Rows: %d training, %d validation (early stopping), %d evaluated (%s split); splits by snapshot date, seed %d\n",
		s.Train.Rows(), rowsOf(s.Valid), nEval, evalName, p.Seed)
	var up, down int
	for _, d := range p.Monotone {
		switch {
		case d > 0:
			up++
		case d < 0:
			down++
		}
	}
	fmt.Fprintf(&b, "Monotone constraints from the catalog's directions: %d increasing, %d decreasing, %d free\n", up, down, len(p.Monotone)-up-down)
	fmt.Fprintf(&b, "Trainer: Xinyi histogram GBDT, objective %s, %d of %d rounds kept, learning rate %g, %d leaves, min %d rows per leaf\n",
		p.Objective, res.Rounds, res.RoundsRun, p.LearningRate, p.NumLeaves, p.MinDataInLeaf)
	fmt.Fprintf(&b, "Evaluation (%s):", evalName)
	for _, mt := range e.Metrics {
		fmt.Fprintf(&b, " %s %.4f;", mt.Name, mt.Value)
	}
	fmt.Fprintf(&b, "\nTraining time: %s\n", res.Elapsed.Round(time.Millisecond))
	b.WriteString("Intended use: research in the lab; promotion needs a second person's approval.\n")
	return b.String()
}

func rowsOf(d *xtraining.Dataset) int {
	if d == nil {
		return 0
	}
	return d.Rows()
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
	state, registered, text, eval, card, cardZH, sample, manifest := j.State, j.Registered, j.text, j.eval, j.card, j.cardZH, j.Sample, j.manifest
	t.mu.Unlock()
	switch {
	case state != lab.JobDone:
		return "", fmt.Errorf("%w: training job %s is %s, not done", lab.ErrConflict, id, state)
	case registered != "":
		return "", fmt.Errorf("%w: training job %s is already registered as %s", lab.ErrConflict, id, registered)
	}
	ref, err := t.upload(ctx, id, model, by, text, card, cardZH, eval, sample, manifest)
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
	return t.upload(ctx, id, model, by, res.Model, res.Card, res.CardZH, res.Evaluation, res.Sample, manifest)
}

func (t *Trainer) upload(ctx context.Context, id, model string, by lab.Principal, text []byte, card, cardZH string, eval *lab.Evaluation, sample string, manifest *features.SampleManifest) (string, error) {
	up := lab.Upload{Model: model, FileName: "training-" + id + ".txt", Data: text, FeatureSet: sample + "/v1",
		By: by, Sample: sample, CodeVersion: t.o.CodeVersion, Card: card, CardZH: cardZH, Evaluation: eval}
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

// maxCurvePoints bounds the points of a drawn ROC or KS curve.
const maxCurvePoints = 200

// Evaluate scores d with m and returns the figures and curves the console draws:
// AUC, Gini, KS, log loss and Brier score from the training package, the ROC and KS
// curves (at most maxCurvePoints points, taken at distinct scores) and calibration by
// decile. An amount model (the limit label: gamma, or a regression) gets the
// training package's errors in the label's unit and relative to the label: RMSE,
// the median absolute percentage error (a share) and, for gamma, the RMSE of log.
func Evaluate(m *gbdt.Model, d *xtraining.Dataset, threads int) (*lab.Evaluation, error) {
	if m.Objective != gbdt.Binary {
		ev, err := xtraining.Evaluate(m, d, xtraining.EvalOptions{Threads: threads})
		if err != nil {
			return nil, err
		}
		e := &lab.Evaluation{Metrics: []lab.Metric{{Name: "RMSE", Value: ev.RMSE}}}
		if ev.MdAPE != nil {
			e.Metrics = append(e.Metrics, lab.Metric{Name: "MdAPE", Value: *ev.MdAPE})
		}
		if ev.RMSELog != nil {
			e.Metrics = append(e.Metrics, lab.Metric{Name: "RMSE of log", Value: *ev.RMSELog})
		}
		return e, nil
	}
	margins, err := xtraining.Margins(m, d, threads)
	if err != nil {
		return nil, err
	}
	prob := make([]float64, len(margins))
	for i, v := range margins {
		prob[i] = m.Transform(v)
	}
	y := d.Label
	auc, err := xtraining.AUC(y, prob)
	if err != nil {
		return nil, err
	}
	ks, err := xtraining.KS(y, prob)
	if err != nil {
		return nil, err
	}
	e := &lab.Evaluation{AUC: auc, Metrics: []lab.Metric{{Name: "AUC", Value: auc}, {Name: "Gini", Value: 2*auc - 1}, {Name: "KS", Value: ks}}}
	if m.Objective == gbdt.Binary {
		ll, err := xtraining.LogLoss(y, prob)
		if err != nil {
			return nil, err
		}
		br, err := xtraining.Brier(y, prob)
		if err != nil {
			return nil, err
		}
		e.Metrics = append(e.Metrics, lab.Metric{Name: "log loss", Value: ll}, lab.Metric{Name: "Brier", Value: br})
		cal, err := xtraining.Calibration(y, prob)
		if err != nil {
			return nil, err
		}
		for _, c := range cal {
			e.Calibration = append(e.Calibration, svg.CalibrationBin{Predicted: c.MeanScore, Observed: c.Rate, Count: int64(c.Rows)})
		}
	}
	e.ROC, e.KS = Curves(y, prob)
	return e, nil
}

// Curves computes the ROC curve (false positive rate, true positive rate) and the KS
// curve (population share, cumulative shares of positives and negatives) of scores
// ordered from the highest down, with one point per distinct score (ties move
// together), thinned to at most maxCurvePoints points plus both ends.
func Curves(y, score []float64) ([]svg.Point, *svg.KSCurve) {
	n := len(y)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return -cmpFloat(score[a], score[b]) })
	var P, N float64
	for _, v := range y {
		if v == 1 {
			P++
		} else {
			N++
		}
	}
	if P == 0 || N == 0 {
		return nil, nil
	}
	roc := []svg.Point{{X: 0, Y: 0}}
	ks := &svg.KSCurve{Fraction: []float64{0}, CumPos: []float64{0}, CumNeg: []float64{0}}
	var tp, fp float64
	for i := 0; i < n; {
		j := i
		for j < n && score[idx[j]] == score[idx[i]] {
			if y[idx[j]] == 1 {
				tp++
			} else {
				fp++
			}
			j++
		}
		roc = append(roc, svg.Point{X: fp / N, Y: tp / P})
		ks.Fraction = append(ks.Fraction, float64(j)/float64(n))
		ks.CumPos = append(ks.CumPos, tp/P)
		ks.CumNeg = append(ks.CumNeg, fp/N)
		i = j
	}
	if len(roc) > maxCurvePoints+1 {
		keep := thin(len(roc), maxCurvePoints)
		// Keep the point of the largest gap so that the drawn KS equals the statistic.
		best, gap := 0, -1.0
		for i := range ks.Fraction {
			if g := math.Abs(ks.CumPos[i] - ks.CumNeg[i]); g > gap {
				best, gap = i, g
			}
		}
		if k, found := slices.BinarySearch(keep, best); !found {
			keep = slices.Insert(keep, k, best)
		}
		r2 := make([]svg.Point, 0, len(keep))
		k2 := &svg.KSCurve{}
		for _, i := range keep {
			r2 = append(r2, roc[i])
			k2.Fraction = append(k2.Fraction, ks.Fraction[i])
			k2.CumPos = append(k2.CumPos, ks.CumPos[i])
			k2.CumNeg = append(k2.CumNeg, ks.CumNeg[i])
		}
		roc, ks = r2, k2
	}
	return roc, ks
}

// thin picks about k evenly spaced indices of 0..n-1, always the first and last.
func thin(n, k int) []int {
	out := make([]int, 0, k+1)
	for i := 0; i < k; i++ {
		out = append(out, i*(n-1)/k)
	}
	return append(out, n-1)
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
