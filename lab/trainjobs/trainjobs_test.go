package trainjobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/lab"
	labfeatures "github.com/xinyi-platform/xinyi/lab/features"
	labregistry "github.com/xinyi-platform/xinyi/lab/registry"
	labtraining "github.com/xinyi-platform/xinyi/lab/training"
	"github.com/xinyi-platform/xinyi/lab/trainjobs"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	regfeatures "github.com/xinyi-platform/xinyi/registry/features"
	"github.com/xinyi-platform/xinyi/training"
)

// each runs fn on a fresh SQLite jobs database and on a PostgreSQL schema.
func each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite://"+filepath.Join(t.TempDir(), "jobs.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, metadbtest.PostgresDSN(t)) })
}

// dataSets is the LightGBM example data set of the shared data folder.
func dataSets(t testing.TB) []labtraining.DataSet {
	_, file, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	for _, ds := range labtraining.PublicDataSets(d) {
		if ds.Name == "lightgbm-binary" {
			return []labtraining.DataSet{ds}
		}
	}
	t.Fatal("no lightgbm-binary data set")
	return nil
}

// console is the lab side of one console instance over a jobs database.
type env struct {
	store blob.Store
	reg   *xregistry.Registry
	alice lab.Principal
	data  []labtraining.DataSet
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	data := dataSets(t)
	reg, err := xregistry.Open(ctx, db, store, labtraining.SampleFeatureSets(data, regfeatures.New(cat)), log, xregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, p := accesstest.User(t, acc, "Bank A", access.KindBank, "alice", access.RoleDataScientist)
	return &env{store: store, reg: reg, alice: lab.Principal{Principal: p, Clearance: lab.ClearRestricted}, data: data}
}

// trainer is the in-process trainer a worker or a console uses.
func (e *env) trainer(t *testing.T) *labtraining.Trainer {
	tr := labtraining.New(labtraining.Options{Data: e.data, Store: e.store, Models: labregistry.New(e.reg), Threads: 2, CodeVersion: "test"})
	t.Cleanup(func() { tr.Close() })
	return tr
}

// console opens a jobs queue that only inserts and lists, and the durable
// trainer over it.
func (e *env) console(t *testing.T, dsn string) (*trainjobs.Trainer, *jobs.Queue) {
	t.Helper()
	q, err := jobs.Open(context.Background(), jobs.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return trainjobs.NewTrainer(q, e.trainer(t), e.store), q
}

// worker opens a queue working the lab queue.
func worker(t *testing.T, dsn string, run trainjobs.Runner, store blob.Store, o jobs.Options) *jobs.Queue {
	t.Helper()
	ws := jobs.NewWorkers()
	if err := trainjobs.Register(ws, run, store, nil); err != nil {
		t.Fatal(err)
	}
	o.DSN, o.Workers, o.Queues = dsn, ws, map[string]int{trainjobs.QueueName: 1}
	if o.PollInterval == 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	o.ProgressEvery = time.Nanosecond
	q, err := jobs.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return q
}

func waitTraining(t *testing.T, tr *trainjobs.Trainer, id string) lab.TrainingJob {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := tr.TrainingJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != lab.JobRunning {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("training %s still running: %+v", id, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTrainingSeenByTwoConsolesRegistersOnce: a run started on one console is
// listed with its progress by another over the same jobs database, finishes on
// a worker with its objects under the job's keys and the rounds it actually ran
// as its progress, and registers once whichever console asks.
func TestTrainingSeenByTwoConsolesRegistersOnce(t *testing.T) {
	each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		e := newEnv(t)
		one, _ := e.console(t, dsn)
		two, q2 := e.console(t, dsn)

		id, err := one.StartTraining(ctx, lab.TrainingRequest{Sample: "lightgbm-binary/v1", Preset: "conservative", By: e.alice})
		if err != nil {
			t.Fatal(err)
		}
		list, err := two.TrainingJobs(ctx)
		if err != nil || len(list) != 1 || list[0].ID != id || list[0].State != lab.JobRunning || list[0].Sample != "lightgbm-binary" || list[0].By != "alice" {
			t.Fatalf("second console lists %+v, %v; want %s running", list, err, id)
		}

		w := worker(t, dsn, e.trainer(t), e.store, jobs.Options{})
		defer w.Close()
		// Progress written by the worker is visible to the second console while it runs.
		var sawMid bool
		deadline := time.Now().Add(60 * time.Second)
		var done lab.TrainingJob
		for time.Now().Before(deadline) {
			j, err := two.TrainingJob(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if j.State == lab.JobRunning && j.Done > 0 && j.Done < j.Total {
				sawMid = true
			}
			if j.State != lab.JobRunning {
				done = j
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if done.State != lab.JobDone {
			t.Fatalf("training ended %+v", done)
		}
		if !sawMid {
			t.Error("the second console never saw partial progress")
		}
		in, err := q2.Get(ctx, mustNum(t, id))
		if err != nil {
			t.Fatal(err)
		}
		var out trainjobs.TrainingOutput
		if err := json.Unmarshal(in.Output, &out); err != nil {
			t.Fatal(err)
		}
		r := out.Result
		// Progress honesty: the rounds run of the rounds run, with a note when the
		// run stopped before the preset's 300 rounds.
		if done.Done != int64(r.RoundsRun) || done.Total != int64(r.RoundsRun) || r.Planned != 300 || r.RoundsRun < 1 || r.RoundsRun > 300 {
			t.Errorf("progress %d/%d, ran %d of %d", done.Done, done.Total, r.RoundsRun, r.Planned)
		}
		if (r.RoundsRun < r.Planned) != (in.Note != "rounds") || (r.RoundsRun < r.Planned && !strings.Contains(in.Note, "of 300 rounds")) {
			t.Errorf("ran %d of %d, note %q", r.RoundsRun, r.Planned, in.Note)
		}
		t.Logf("ran %d of %d rounds; note %q", r.RoundsRun, r.Planned, in.Note)
		if len(done.Train) != r.RoundsRun || len(done.Valid) != r.RoundsRun {
			t.Errorf("curves of %d and %d points for %d rounds", len(done.Train), len(done.Valid), r.RoundsRun)
		}
		for _, k := range []string{"trainings/" + id + "/model.txt", "trainings/" + id + "/card.json", "trainings/" + id + "/card.md", "trainings/" + id + "/result.json"} {
			if _, err := e.store.Stat(ctx, k); err != nil {
				t.Errorf("object %s: %v", k, err)
			}
		}
		objs, _ := e.store.List(ctx, "trainings/")
		if len(objs) != 4 {
			t.Errorf("trainings/ holds %d objects, want 4", len(objs))
		}
		var stored training.Card
		if b, _, err := blob.ReadAll(ctx, e.store, "trainings/"+id+"/card.json"); err != nil || json.Unmarshal(b, &stored) != nil || stored.Data.TrainRows == 0 {
			t.Fatalf("card.json: %v\n%s", err, b)
		}

		// Register once, from either console.
		ref, err := two.RegisterTraining(ctx, id, "lgb-lab", e.alice)
		if err != nil || ref != "lgb-lab:v1" {
			t.Fatalf("register: %q, %v", ref, err)
		}
		for _, c := range []*trainjobs.Trainer{one, two} {
			if _, err := c.RegisterTraining(ctx, id, "lgb-lab", e.alice); !errors.Is(err, lab.ErrConflict) || !strings.Contains(err.Error(), "already registered as lgb-lab:v1") {
				t.Errorf("second register: %v, want a conflict naming lgb-lab:v1", err)
			}
		}
		if j, err := one.TrainingJob(ctx, id); err != nil || j.Registered != "lgb-lab:v1" {
			t.Errorf("first console shows %+v, %v; want registered lgb-lab:v1", j, err)
		}
		vs, err := e.reg.Versions(ctx, e.alice.Principal, "lgb-lab")
		if err != nil || len(vs) != 1 {
			t.Fatalf("versions %d, %v; want 1", len(vs), err)
		}
		v := vs[0]
		model, _, err := blob.ReadAll(ctx, e.store, "trainings/"+id+"/model.txt")
		if err != nil {
			t.Fatal(err)
		}
		if v.OriginalDigest != blob.SHA256Hex(model) {
			t.Errorf("registered original sha256 %s, stored model %s", v.OriginalDigest, blob.SHA256Hex(model))
		}
		// The registered card is the run's card (named after the model file).
		var card training.Card
		if err := json.Unmarshal(v.ModelCard, &card); err != nil || card.Name != "training-"+id+".txt" {
			t.Fatalf("registered card %s: %v", v.ModelCard, err)
		}
		card.Name = stored.Name
		if a, b := mustJSON(t, card), mustJSON(t, stored); a != b {
			t.Errorf("registered card differs from the run's card.json:\n%s\n%s", a, b)
		}
		if v.Metrics["valid_auc"] != stored.Metrics["valid"].AUC || v.Lineage.Note == "" {
			t.Errorf("registered metrics %v and note %q; want the card's valid AUC %v and the data set's source", v.Metrics, v.Lineage.Note, stored.Metrics["valid"].AUC)
		}

		// Once the jobs database no longer has the row (River's cleaner deletes
		// finished jobs after a day; here a fresh database), the run is read from
		// the objects it wrote.
		fresh, _ := e.console(t, "sqlite://"+filepath.Join(t.TempDir(), "jobs.db"))
		old, err := fresh.TrainingJob(ctx, id)
		if err != nil || old.State != lab.JobDone || old.Done != int64(r.RoundsRun) || old.Sample != "lightgbm-binary" || len(old.Valid) != r.RoundsRun {
			t.Errorf("run read from the store: %+v, %v", old, err)
		}

		// A run recorded before runs kept a model card (its free-text card under
		// "card") still reads; registering it asks for a new run.
		oldID := "77-0123456789ab"
		legacy := `{"sample":"lightgbm-binary","preset":"quick","card":"Sample: lightgbm-binary","card_zh":"训练样本：lightgbm-binary",` +
			`"evaluation":{"Metrics":[{"Name":"AUC","Value":0.8}],"AUC":0.8},"metric":"auc","best_round":30,"best_valid":0.8,"rounds_run":30,"planned":30}`
		for key, body := range map[string]string{"trainings/" + oldID + "/result.json": legacy, "trainings/" + oldID + "/model.txt": string(model)} {
			if _, err := e.store.Put(ctx, key, strings.NewReader(body)); err != nil {
				t.Fatal(err)
			}
		}
		if j, err := fresh.TrainingJob(ctx, oldID); err != nil || j.State != lab.JobDone || j.Done != 30 {
			t.Errorf("a run recorded with a free-text card: %+v, %v", j, err)
		}
		if _, err := fresh.RegisterTraining(ctx, oldID, "lgb-old", e.alice); !errors.Is(err, lab.ErrConflict) || !strings.Contains(err.Error(), "train it again") {
			t.Errorf("registering a run without a model card: %v, want a conflict asking for a new run", err)
		}

		// Unknown and foreign ids are not found; bad input is refused at start.
		for _, bad := range []string{"nope", "999-abc", strings.SplitN(id, "-", 2)[0] + "-000000000000"} {
			if _, err := two.TrainingJob(ctx, bad); !errors.Is(err, lab.ErrNotFound) {
				t.Errorf("job %q: %v, want ErrNotFound", bad, err)
			}
		}
		if _, err := one.StartTraining(ctx, lab.TrainingRequest{Sample: "nope", Preset: "quick", By: e.alice}); !errors.Is(err, lab.ErrInvalidInput) {
			t.Errorf("unknown sample: %v, want ErrInvalidInput", err)
		}
	})
}

func mustNum(t *testing.T, id string) int64 {
	t.Helper()
	var n int64
	for _, c := range id {
		if c == '-' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// TestSampleBuildJobEqualsInProcessBuild builds one sample through a job and
// one with the in-process builder (labfeatures.Samples) over the same store and
// compares their split objects and manifests.
func TestSampleBuildJobEqualsInProcessBuild(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 400, Months: 36, Seed: 7, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	var asof []time.Time
	for _, d := range []string{"2023-12-31", "2024-03-31", "2024-06-30", "2024-09-30"} {
		tm, _ := time.Parse(time.DateOnly, d)
		asof = append(asof, tm)
	}
	if _, err := features.Materialize(ctx, store, features.Options{Set: "pd", AsOf: asof, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	mem := labfeatures.NewSamples(store, cat)
	defer mem.Close()
	req := lab.SampleRequest{Name: "mem", FeatureSet: "pd", From: asof[0], To: asof[len(asof)-1]}
	if _, err := mem.BuildSample(ctx, req); err != nil {
		t.Fatal(err)
	}
	mem.Wait()

	dsn := "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")
	q, err := jobs.Open(ctx, jobs.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	b := trainjobs.NewBuilder(q, mem)
	req.Name = "job"
	id, err := b.BuildSample(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	w := worker(t, dsn, labtraining.New(labtraining.Options{}), store, jobs.Options{})
	defer w.Close()
	deadline := time.Now().Add(60 * time.Second)
	var got lab.SampleJob
	for time.Now().Before(deadline) {
		list, err := b.SampleJobs(ctx)
		if err != nil || len(list) != 1 || list[0].ID != id {
			t.Fatalf("sample jobs %+v, %v", list, err)
		}
		if got = list[0]; got.State != lab.JobRunning {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.State != lab.JobDone || got.Result != "job/v1" || got.Done != 2 || got.Total != 2 {
		t.Fatalf("build %+v", got)
	}
	memJobs, _ := mem.SampleJobs(ctx)
	if len(memJobs) != 1 || memJobs[0].Result != "mem/v1" {
		t.Fatalf("in-process build %+v", memJobs)
	}
	a, err := features.OpenSample(ctx, store, "mem/v1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := features.OpenSample(ctx, store, "job/v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Splits) == 0 || len(a.Splits) != len(c.Splits) {
		t.Fatalf("splits %d and %d", len(a.Splits), len(c.Splits))
	}
	for k, sa := range a.Splits {
		sc, ok := c.Splits[k]
		if !ok {
			t.Fatalf("job sample lacks split %s", k)
		}
		ia, err := store.Stat(ctx, "samples/mem/v1/"+k+".parquet")
		if err != nil {
			t.Fatal(err)
		}
		ic, err := store.Stat(ctx, "samples/job/v1/"+k+".parquet")
		if err != nil {
			t.Fatal(err)
		}
		if ia.SHA256 != ic.SHA256 || sa.Rows != sc.Rows || sa.Positives != sc.Positives {
			t.Errorf("split %s: %s %d rows, job %s %d rows", k, ia.SHA256, sa.Rows, ic.SHA256, sc.Rows)
		}
	}
	// Beyond the name, the splits (compared above) and the moment of writing,
	// the manifests agree.
	a.Name, a.CreatedAt, a.Splits, c.Splits = c.Name, c.CreatedAt, nil, nil
	ja, _ := json.Marshal(a)
	jc, _ := json.Marshal(c)
	if string(ja) != string(jc) {
		t.Errorf("manifests differ beyond name, time of writing and splits")
	}
	if _, err := store.Stat(ctx, "samplebuilds/"+id+".json"); err != nil {
		t.Errorf("build record: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
