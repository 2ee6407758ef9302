package features

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
)

// Samples lists the training samples of the offline store (their manifests under
// samples/) and builds new ones with features.BuildSample in the background. It
// implements lab.Samples and lab.SampleBuilder.
type Samples struct {
	store  blob.Store
	cat    *xfeatures.Catalog
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	jobs []*lab.SampleJob
}

// NewSamples reads and writes samples in store; Close stops running builds.
func NewSamples(store blob.Store, cat *xfeatures.Catalog) *Samples {
	ctx, cancel := context.WithCancel(context.Background())
	return &Samples{store: store, cat: cat, ctx: ctx, cancel: cancel}
}

// Close cancels running builds and waits for them.
func (s *Samples) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// Samples lists every sample version with a manifest, by name and version.
func (s *Samples) Samples(ctx context.Context) ([]lab.Sample, error) {
	infos, err := s.store.List(ctx, "samples/")
	if err != nil {
		return nil, fmt.Errorf("list samples: %w", err)
	}
	var out []lab.Sample
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, "/manifest.json") {
			continue
		}
		b, _, err := blob.ReadAll(ctx, s.store, in.Key)
		if err != nil {
			return nil, err
		}
		var m xfeatures.SampleManifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("sample manifest %s: %w", in.Key, err)
		}
		out = append(out, convertSample(m))
	}
	slices.SortFunc(out, func(a, b lab.Sample) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return out, nil
}

func convertSample(m xfeatures.SampleManifest) lab.Sample {
	s := lab.Sample{Name: m.Name, Version: m.Version, FeatureSet: xfeatures.SetRef{Name: m.Set, Version: m.SetVersion}.String(), Label: m.Label.Name,
		From: m.From, To: m.To, Features: len(m.Indicators)}
	var splits []string
	for _, k := range []string{"train", "valid", "test"} {
		sp, ok := m.Splits[k]
		if !ok {
			continue
		}
		s.Rows += sp.Rows
		s.Positives += sp.Positives
		splits = append(splits, fmt.Sprintf("%s %d", k, sp.Rows))
	}
	s.Lineage = fmt.Sprintf("%s; %d snapshots, %d label files; built as of %s", strings.Join(splits, ", "), len(m.Snapshots), len(m.Labels), m.BuildAt)
	return s
}

// FeatureSets lists the catalog's feature sets as "name/vN".
func (s *Samples) FeatureSets() []string {
	var out []string
	for _, set := range s.cat.Sets() {
		out = append(out, set.Key())
	}
	return out
}

// Labels lists the label names.
func (s *Samples) Labels() []string {
	out := make([]string, len(xfeatures.Labels))
	for i, l := range xfeatures.Labels {
		out[i] = l.Name
	}
	return out
}

// BuildSample starts a build; bad options surface as the job's error.
func (s *Samples) BuildSample(_ context.Context, req lab.SampleRequest) (string, error) {
	set := req.FeatureSet
	s.mu.Lock()
	j := &lab.SampleJob{Job: lab.Job{ID: "b" + strconv.Itoa(len(s.jobs)+1), State: lab.JobRunning, Total: 1, Started: time.Now(), By: req.By.Name()},
		Name: req.Name, FeatureSet: set}
	s.jobs = append(s.jobs, j)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		m, err := xfeatures.BuildSample(s.ctx, s.store, xfeatures.SampleOptions{Name: req.Name, Set: set, Label: req.Label,
			From: req.From, To: req.To, Catalog: s.cat})
		s.mu.Lock()
		defer s.mu.Unlock()
		j.Finished = time.Now()
		if err != nil {
			j.State, j.Err = lab.JobFailed, err.Error()
			return
		}
		j.State, j.Done, j.Result = lab.JobDone, 1, m.Name+"/v"+strconv.Itoa(m.Version)
	}()
	return j.ID, nil
}

// SampleJobs lists the builds, newest first.
func (s *Samples) SampleJobs(context.Context) ([]lab.SampleJob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]lab.SampleJob, 0, len(s.jobs))
	for i := len(s.jobs) - 1; i >= 0; i-- {
		out = append(out, *s.jobs[i])
	}
	return out, nil
}

// Wait blocks until no build is running.
func (s *Samples) Wait() { s.wg.Wait() }
