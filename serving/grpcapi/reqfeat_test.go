package grpcapi

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/assessmentpb"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
	"github.com/xinyi-platform/xinyi/serving/oip/inferencepb"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// The request-feature fixtures of serving/httpapi (made by XGBoost 1.7.4 with
// its testdata/make_request_model.py and make_permuted_models.py).
var httpTestdata = filepath.Join("..", "httpapi", "testdata")

type requestGolden struct {
	SetIndicators   []string     `json:"set_indicators"`
	Purposes        []string     `json:"purposes"`
	CollateralRange [2]float64   `json:"collateral_range"`
	Columns         []string     `json:"columns"`
	Rows            [][]*float64 `json:"rows"`
	Prediction      []float64    `json:"prediction"`
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(httpTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func loadScorer(t *testing.T, file string, ref serving.ModelRef, set serving.FeatureSet) *serving.Scorer {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(httpTestdata, file))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := serving.LoadScorer(text, ref, set)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestRequestFeaturesOverGRPC: the pd model reads a bank's set with two request
// features; Assess takes them in the request's features map and answers
// XGBoost's predictions within 1e-6, a bad one is InvalidArgument naming it; OIP
// ModelInfer takes loan_purpose as BYTES contents and as raw BYTES.
func TestRequestFeaturesOverGRPC(t *testing.T) {
	var g requestGolden
	readJSON(t, "request.golden.json", &g)
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pdSet, err := servingfeatures.SetFromCatalog(cat, "pd", 1)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := g.CollateralRange[0], g.CollateralRange[1]
	def := features.SetDefinition{Name: "bank-a-credit", Version: 1, Features: []features.SetFeature{
		{Name: "loan_purpose", Type: features.FeatureCategorical, Categories: g.Purposes, Zh: "贷款用途", En: "Loan purpose"},
		{Name: "collateral_ratio", Type: features.FeatureNumeric, Min: &lo, Max: &hi},
	}}
	for _, id := range g.SetIndicators {
		def.Features = append(def.Features, features.SetFeature{Indicator: id})
	}
	bank := serving.FeatureSet{Name: def.Name, Version: 1, Indicators: def.Columns(), Requests: def.RequestFeatures()}
	holder, err := serving.NewModels(map[serving.Task]serving.FeatureSet{serving.TaskPD: pdSet, serving.TaskViolation: pdSet, serving.TaskLimit: pdSet})
	if err != nil {
		t.Fatal(err)
	}
	var permuted map[string]struct {
		Columns []string `json:"columns"`
	}
	readJSON(t, "permuted.golden.json", &permuted)
	ref := func(task serving.Task, name, set string) serving.ModelRef {
		return serving.ModelRef{Task: task, Name: name, Version: "1", FeatureSet: set, FeatureSetVersion: 1, Shared: true}
	}
	if err := holder.Install(
		loadScorer(t, "request_model.json", ref(serving.TaskPD, "bank-a-pd", "bank-a-credit"), bank),
		loadScorer(t, "pd_subset.json", ref(serving.TaskViolation, "violation-subset", "pd"), pdSet),
		loadScorer(t, "limit_permuted.json", ref(serving.TaskLimit, "limit-permuted", "pd"), pdSet)); err != nil {
		t.Fatal(err)
	}
	ip, ic := slices.Index(g.Columns, "loan_purpose"), slices.Index(g.Columns, "collateral_ratio")
	online := &servingtest.Features{Rows: map[string][]float64{}, AsOf: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}
	auth := &servingtest.Auth{Keys: map[string]serving.Principal{servingtest.BankKey: servingtest.WeihaiBank}, Consents: map[string]bool{}}
	companies := make([]string, len(g.Rows))
	for i, row := range g.Rows {
		companies[i] = servingtest.Code(t, fmt.Sprintf("MC%06d", i+1))
		vec := make([]float64, len(pdSet.Indicators))
		for j := range vec {
			vec[j] = math.NaN()
		}
		for j, x := range row {
			if j != ip && j != ic && x != nil {
				vec[slices.Index(pdSet.Indicators, g.Columns[j])] = *x
			}
		}
		online.Rows[companies[i]] = vec
		auth.Grant(servingtest.WeihaiBank.InstitutionID, companies[i])
	}
	pol, err := policy.Parse([]byte(strings.NewReplacer(
		"indicator: court.dishonest_debtor", "indicator: court.dishonest.max_24m",
		"indicator: network.circle_defaulted", "indicator: network.defaulted_neighbours").Replace(servingtest.Policy)))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serving.New(serving.Options{Models: holder, Features: online, Policy: pol, Authorizer: auth, Auditor: &servingtest.Audit{}})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureEnv(t, &servingtest.Env{Service: svc, Models: holder, Auth: auth, Features: online}, nil)
	kctx := withKey(servingtest.BankKey)
	feats := func(row []*float64) map[string]*assessmentpb.FeatureValue {
		return map[string]*assessmentpb.FeatureValue{
			"collateral_ratio": {Kind: &assessmentpb.FeatureValue_Number{Number: *row[ic]}},
			"loan_purpose":     {Kind: &assessmentpb.FeatureValue_Category{Category: g.Purposes[int(*row[ip])]}},
		}
	}
	var worst float64
	requestReasons := 0
	for i, code := range companies {
		resp, err := f.assess.Assess(kctx, &assessmentpb.AssessRequest{CompanyCode: code, Features: feats(g.Rows[i])})
		if err != nil {
			t.Fatalf("assess row %d: %v", i, err)
		}
		worst = max(worst, math.Abs(resp.GetPd()-g.Prediction[i]))
		if math.Abs(resp.GetPd()-g.Prediction[i]) > 1e-6 {
			t.Errorf("row %d: pd %.9g, XGBoost %.9g", i, resp.GetPd(), g.Prediction[i])
		}
		for _, r := range resp.GetReasons() {
			if r.GetRequestFeature() {
				requestReasons++
				if r.GetIndicator() == "loan_purpose" && (r.GetCategory() != g.Purposes[int(*g.Rows[i][ip])] || r.GetNameZh() != "贷款用途") {
					t.Errorf("row %d: reason %v", i, r)
				}
			}
		}
	}
	if requestReasons == 0 {
		t.Error("no reason names a request feature")
	}
	t.Logf("Assess over gRPC, %d companies: largest pd difference from XGBoost %.3g", len(companies), worst)

	bad := feats(g.Rows[0])
	bad["loan_purpose"] = &assessmentpb.FeatureValue{Kind: &assessmentpb.FeatureValue_Category{Category: "yacht"}}
	noKind := feats(g.Rows[0])
	noKind["collateral_ratio"] = &assessmentpb.FeatureValue{}
	missing := feats(g.Rows[0])
	delete(missing, "collateral_ratio")
	for name, tt := range map[string]struct {
		feats   map[string]*assessmentpb.FeatureValue
		mention string
	}{
		"unknown category": {bad, `"yacht" is not one of`},
		"no value":         {noKind, `"collateral_ratio" has no value`},
		"missing":          {missing, `missing request feature "collateral_ratio"`},
	} {
		_, err := f.assess.Assess(kctx, &assessmentpb.AssessRequest{CompanyCode: companies[0], Features: tt.feats})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("%s: %v; want InvalidArgument mentioning %s", name, err, tt.mention)
		}
	}

	// OIP: named inputs, loan_purpose as BYTES contents, then all as raw contents.
	n := len(g.Rows)
	var inputs []*inferencepb.ModelInferRequest_InferInputTensor
	var raw [][]byte
	for j, c := range g.Columns {
		in := &inferencepb.ModelInferRequest_InferInputTensor{Name: c, Datatype: "FP64", Shape: []int64{int64(n), 1}, Contents: &inferencepb.InferTensorContents{}}
		var rb []byte
		for _, row := range g.Rows {
			if j == ip {
				s := []byte(g.Purposes[int(*row[j])])
				in.Contents.BytesContents = append(in.Contents.BytesContents, s)
				rb = append(rb, byte(len(s)), 0, 0, 0)
				rb = append(rb, s...)
				continue
			}
			v := math.NaN()
			if row[j] != nil {
				v = *row[j]
			}
			in.Contents.Fp64Contents = append(in.Contents.Fp64Contents, v)
			rb = append(rb, le64(v)...)
		}
		if j == ip {
			in.Datatype = "BYTES"
		}
		inputs = append(inputs, in)
		raw = append(raw, rb)
	}
	check := func(how string, resp *inferencepb.ModelInferResponse, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		for i, v := range resp.GetOutputs()[0].GetContents().GetFp64Contents() {
			if math.Abs(v-g.Prediction[i]) > 1e-6 {
				t.Errorf("%s: row %d: %.9g, XGBoost %.9g", how, i, v, g.Prediction[i])
			}
		}
	}
	resp, err := f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{ModelName: "bank-a-pd", Inputs: inputs, Outputs: []*inferencepb.ModelInferRequest_InferRequestedOutputTensor{{Name: "predict"}}})
	check("BYTES contents", resp, err)
	for _, in := range inputs {
		in.Contents = nil
	}
	resp, err = f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{ModelName: "bank-a-pd", Inputs: inputs, RawInputContents: raw,
		Outputs: []*inferencepb.ModelInferRequest_InferRequestedOutputTensor{{Name: "predict"}}})
	check("raw contents", resp, err)
	raw[ip] = append(raw[ip][:len(raw[ip])-2], 'x', 'x') // the last category misspelt
	_, err = f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{ModelName: "bank-a-pd", Inputs: inputs, RawInputContents: raw})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `"loan_purpose"`) {
		t.Errorf("misspelt category over raw BYTES: %v", err)
	}
}

func le64(v float64) []byte {
	b := make([]byte, 8)
	u := math.Float64bits(v)
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	return b
}
