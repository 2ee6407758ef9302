package registry_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	core "github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/registry"
)

// gmsc are the columns of the XGBoost 1.7.4 fixtures, in the models' own order.
var gmsc = []string{"RevolvingUtilizationOfUnsecuredLines", "age", "NumberOfTime30_59DaysPastDueNotWorse", "DebtRatio",
	"MonthlyIncome", "NumberOfOpenCreditLinesAndLoans", "NumberOfTimes90DaysLate", "NumberRealEstateLoansOrLines",
	"NumberOfTime60_89DaysPastDueNotWorse", "NumberOfDependents"}

// TestBankSetScorer: a bank publishes a set of its own request features in an
// order of its own, registers an XGBoost 1.7.4 model over them; serving binds a
// scorer to that set through the registry, and the scorer gives XGBoost's own
// predictions within 1e-6 for rows in the model's order and in the set's
// published order; a name outside the model is not one of its columns.
func TestBankSetScorer(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	blobs, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := core.Open(ctx, db, blobs, core.StaticFeatureSets{}, log, core.Options{GatedAliases: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	_, alice := accesstest.User(t, acc, "Bank A", access.KindBank, "alice", access.RoleDataScientist)
	published := slices.Clone(gmsc)
	slices.Reverse(published)
	def := features.SetDefinition{Name: "bank-a-own"}
	for _, n := range published {
		def.Features = append(def.Features, features.SetFeature{Name: n, Type: features.FeatureNumeric})
	}
	if _, err := reg.PublishFeatureSet(ctx, alice, def); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "gbdt", "testdata", "xgboost")
	var g struct {
		Rows       [][]*float64 `json:"rows"`
		Prediction []float64    `json:"prediction"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "binary_depthwise.golden.json"))
	if err != nil || json.Unmarshal(b, &g) != nil {
		t.Fatalf("golden: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "binary_depthwise.ubj"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.CreateAndRegister(ctx, alice, core.NewModel{Name: "own", Task: core.TaskPD}, core.Upload{Data: data, FeatureSet: "bank-a-own",
		Parity: &core.ParityInput{Rows: g.Rows, Expected: g.Prediction}}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SetAlias(ctx, alice, "own", "champion", 1); err != nil {
		t.Fatal(err)
	}
	src := registry.New(reg, alice)
	ref, err := src.Resolve(ctx, "own", "champion")
	if err != nil {
		t.Fatal(err)
	}
	ref.Task = serving.TaskPD // as the follower sets it from its binding
	set, err := src.FeatureSet(ctx, ref)
	if err != nil || set.Key() != "bank-a-own/v1" || !slices.Equal(set.Indicators, published) {
		t.Fatalf("bound set %+v, %v", set, err)
	}
	text, err := src.Artifact(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := serving.LoadScorer(text, ref, set)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sc.Columns(), gmsc) {
		t.Fatalf("model columns %v, want the model's own order", sc.Columns())
	}
	for i, r := range g.Rows {
		own := make([]float64, len(r))
		for j, v := range r {
			own[j] = math.NaN()
			if v != nil {
				own[j] = *v
			}
		}
		inSet := slices.Clone(own)
		slices.Reverse(inSet) // the set's published order
		p1, err1 := sc.PredictColumns(own)
		p2, err2 := sc.Predict(inSet)
		if err1 != nil || err2 != nil || math.Abs(p1-g.Prediction[i]) > 1e-6 || math.Abs(p2-g.Prediction[i]) > 1e-6 {
			t.Fatalf("row %d: %v %v (%v, %v), XGBoost %v", i, p1, p2, err1, err2, g.Prediction[i])
		}
	}
	if _, ok := sc.ColumnIndex("collateral_ratio"); ok {
		t.Fatal("an unknown name is a column of the model")
	}
}
