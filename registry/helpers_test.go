package registry_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/registry"
)

const (
	xgbDir = "../gbdt/testdata/xgboost"
	lgbDir = "../gbdt/testdata/lightgbm"
)

// golden is an XGBoost fixture's truth, written by XGBoost 1.7.4 itself
// (gbdt/testdata/make_xgboost_fixtures.py).
type golden struct {
	Objective    string       `json:"objective"`
	FeatureNames []string     `json:"feature_names"`
	Rows         [][]*float64 `json:"rows"`
	Margin       []float64    `json:"margin"`
	Prediction   []float64    `json:"prediction"`
}

func readGolden(t testing.TB, name string) golden {
	t.Helper()
	var g golden
	if err := json.Unmarshal(readFile(t, filepath.Join(xgbDir, name+".golden.json")), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// breastCancer returns the rows of breast_cancer_test.tsv and LightGBM's own
// probabilities for them from lg_dart_breast_cancer_true_predictions.txt.
func breastCancer(t testing.TB) ([][]*float64, []float64) {
	t.Helper()
	var rows [][]*float64
	sc := bufio.NewScanner(strings.NewReader(string(readFile(t, filepath.Join(lgbDir, "breast_cancer_test.tsv")))))
	for sc.Scan() {
		var row []*float64
		for _, f := range strings.Fields(sc.Text()) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatal(err)
			}
			row = append(row, &v)
		}
		rows = append(rows, row)
	}
	var preds []float64
	for _, f := range strings.Fields(string(readFile(t, filepath.Join(lgbDir, "lg_dart_breast_cancer_true_predictions.txt")))) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		preds = append(preds, v)
	}
	if len(rows) != len(preds) || len(rows) == 0 {
		t.Fatalf("breast cancer fixture: %d rows, %d predictions", len(rows), len(preds))
	}
	return rows, preds
}

func columnNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "Column_" + strconv.Itoa(i)
	}
	return out
}

// gmscNames are the GMSC columns of the XGBoost fixtures.
var gmscNames = []string{"RevolvingUtilizationOfUnsecuredLines", "age", "NumberOfTime30_59DaysPastDueNotWorse", "DebtRatio",
	"MonthlyIncome", "NumberOfOpenCreditLinesAndLoans", "NumberOfTimes90DaysLate", "NumberRealEstateLoansOrLines",
	"NumberOfTime60_89DaysPastDueNotWorse", "NumberOfDependents"}

// featureSets binds "gmsc" v1 to the GMSC columns in reverse order (so every
// upload is remapped), "gmsc" v2 to the same columns without DebtRatio and with
// an extra one, and "bc" v1 to LightGBM's Column_0..29.
func featureSets() registry.StaticFeatureSets {
	rev := slices.Clone(gmscNames)
	slices.Reverse(rev)
	v2 := append(slices.Clone(gmscNames[:3]), gmscNames[4:]...)
	v2 = append(v2, "tax.paid.sum_12m")
	return registry.StaticFeatureSets{
		"gmsc":   {1: rev, 2: v2},
		"bc":     {1: columnNames(30)},
		"simple": {1: {"X2", "X1"}},
		// "wide" v2 holds the GMSC columns in another order among three more.
		"wide": {1: {"a"}, 2: {gmscNames[7], "tax.paid.sum_12m", gmscNames[2], gmscNames[9], gmscNames[0], "court.cases.count_24m",
			gmscNames[5], gmscNames[1], gmscNames[8], gmscNames[3], "loan.balance.last_3m", gmscNames[6], gmscNames[4]}},
		// The regression fixture predicts DebtRatio from the other columns.
		"gmsc-debt": {1: v2[:len(v2)-1]},
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one registry with its institutions and users.
type env struct {
	db    *metadb.DB
	blobs blob.Store
	log   *audit.Log
	acc   *access.Store
	reg   *registry.Registry
	clock *clock
	// Principals: alice (data scientist, bank A), carol (approver, bank A),
	// dave (data scientist and approver, bank A), bob (data scientist, bank B),
	// root (platform admin).
	alice, carol, dave, bob, root access.Principal
	keys                          map[string]string
}

func newEnv(t testing.TB, db *metadb.DB, blobs blob.Store) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{db: db, blobs: blobs, clock: &clock{t: time.Now().UTC()}, keys: map[string]string{}}
	var err error
	if e.log, err = audit.Open(ctx, db, audit.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.acc, err = access.Open(ctx, db, access.Options{Audit: e.log}); err != nil {
		t.Fatal(err)
	}
	if e.reg, err = registry.Open(ctx, db, blobs, featureSets(), e.log, registry.Options{Now: e.clock.Now, PollInterval: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	bankA := mustInst(t, e.acc, "Bank A", access.KindBank)
	bankB := mustInst(t, e.acc, "Bank B", access.KindBank)
	platform := mustInst(t, e.acc, "Platform", access.KindPlatform)
	e.alice = e.user(t, "alice", bankA, access.RoleDataScientist)
	e.carol = e.user(t, "carol", bankA, access.RoleApprover)
	e.dave = e.user(t, "dave", bankA, access.RoleDataScientist, access.RoleApprover)
	e.bob = e.user(t, "bob", bankB, access.RoleDataScientist, access.RoleApprover)
	e.root = e.user(t, "root", platform, access.RoleAdmin, access.RoleApprover)
	return e
}

func mustInst(t testing.TB, s *access.Store, name string, kind access.Kind) int64 {
	t.Helper()
	inst, err := s.CreateInstitution(context.Background(), "setup", name, kind)
	if err != nil {
		t.Fatal(err)
	}
	return inst.ID
}

// user creates a user with a key and returns the principal the key authenticates to.
func (e *env) user(t testing.TB, name string, inst int64, roles ...access.Role) access.Principal {
	t.Helper()
	ctx := context.Background()
	u, err := e.acc.CreateUser(ctx, "setup", name, inst, roles...)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := e.acc.IssueKey(ctx, "setup", u.ID, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	e.keys[name] = key
	p, err := e.acc.Authenticate(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// xgbUpload is an upload of an XGBoost fixture bound to gmsc v1, with its golden
// rows and XGBoost's predictions as the parity check.
func xgbUpload(t testing.TB, file, goldenName string) registry.Upload {
	g := readGolden(t, goldenName)
	return registry.Upload{
		Data: readFile(t, filepath.Join(xgbDir, file)), FeatureSet: "gmsc", FeatureSetVersion: 1,
		Metrics: map[string]float64{"auc": 0.81}, ModelCard: json.RawMessage(`{"intended_use":"test"}`),
		Parity: &registry.ParityInput{Rows: g.Rows, Expected: g.Prediction}, // the platform's tolerance
	}
}

func (e *env) createModel(t testing.TB, p access.Principal, name string, task registry.Task, shared bool) registry.Model {
	t.Helper()
	m, err := e.reg.CreateModel(context.Background(), p, registry.NewModel{Name: name, Task: task, Description: "test model", Shared: shared})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// openLocal opens a local-folder store at dir.
func openLocal(t testing.TB, dir string) blob.Store {
	t.Helper()
	s, err := blob.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reopenEnv opens the registry of a database newEnv already set up (users and
// keys exist), as a restarted process would.
func reopenEnv(t testing.TB, db *metadb.DB, blobDir string) *env {
	t.Helper()
	return reopenEnvOpts(t, db, blobDir, registry.Options{})
}

// reopenEnvOpts is reopenEnv with registry options (Now is the env's clock).
func reopenEnvOpts(t testing.TB, db *metadb.DB, blobDir string, opts registry.Options) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{db: db, blobs: openLocal(t, blobDir), clock: &clock{t: time.Now().UTC()}, keys: map[string]string{}}
	var err error
	if e.log, err = audit.Open(ctx, db, audit.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.acc, err = access.Open(ctx, db, access.Options{Audit: e.log}); err != nil {
		t.Fatal(err)
	}
	opts.Now = e.clock.Now
	if e.reg, err = registry.Open(ctx, db, e.blobs, featureSets(), e.log, opts); err != nil {
		t.Fatal(err)
	}
	u, err := e.acc.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := e.acc.IssueKey(ctx, "setup", u.ID, "restart", 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.alice, err = e.acc.Authenticate(ctx, key); err != nil {
		t.Fatal(err)
	}
	return e
}
