package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	core "github.com/xinyi-platform/xinyi/registry"
	regfeatures "github.com/xinyi-platform/xinyi/registry/features"
	"github.com/xinyi-platform/xinyi/serving"
	servingfeatures "github.com/xinyi-platform/xinyi/serving/features"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/policy"
	servingregistry "github.com/xinyi-platform/xinyi/serving/registry"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// requestGolden is testdata/request.golden.json, written by XGBoost 1.7.4
// (testdata/make_request_model.py): the bank's set, the model's own column order,
// test rows in that order (loan_purpose as its code) and XGBoost's outputs.
type requestGolden struct {
	SetIndicators   []string     `json:"set_indicators"`
	Purposes        []string     `json:"purposes"`
	CollateralRange [2]float64   `json:"collateral_range"`
	Columns         []string     `json:"columns"`
	Rows            [][]*float64 `json:"rows"`
	Margin          []float64    `json:"margin"`
	Prediction      []float64    `json:"prediction"`
}

func readRequestGolden(t testing.TB) requestGolden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "request.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g requestGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// bankSet is the bank's published set: its six catalog indicators with the two
// request features between them, in an order that is neither the model's nor
// pd/v1's.
func bankSet(g requestGolden) features.SetDefinition {
	lo, hi := g.CollateralRange[0], g.CollateralRange[1]
	ind := func(id string) features.SetFeature { return features.SetFeature{Indicator: id} }
	return features.SetDefinition{Name: "bank-a-credit", Description: "Bank A's small-business credit set", Features: []features.SetFeature{
		ind(g.SetIndicators[0]), ind(g.SetIndicators[1]),
		{Name: "collateral_ratio", Type: features.FeatureNumeric, Min: &lo, Max: &hi, Unit: "倍",
			Zh: "抵押率（抵押物价值/贷款金额）", En: "Collateral ratio (collateral value / loan amount)"},
		ind(g.SetIndicators[2]), ind(g.SetIndicators[3]),
		{Name: "loan_purpose", Type: features.FeatureCategorical, Categories: g.Purposes, Zh: "贷款用途", En: "Loan purpose"},
		ind(g.SetIndicators[4]), ind(g.SetIndicators[5]),
	}}
}

// TestRequestFeatures: Bank A publishes a feature set of six catalog indicators
// and two request features (collateral_ratio, numeric 0-3; loan_purpose,
// categorical) and registers an XGBoost 1.7.4 model over five of the indicators
// and both request features in an order of its own. Serving loads it from the
// registry for the pd task beside models over pd/v1 and builds its rows from the
// online pd/v1 vectors and the request features: POST /v1/assessments with
// "features", OIP with one [rows, 7] tensor in the published order and with
// named inputs (loan_purpose as BYTES) all give XGBoost's predictions within
// 1e-6; reasons name request features in the set's words; every bad request
// feature is a 400 naming it.
func TestRequestFeatures(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) { testRequestFeatures(t, db) })
}

func testRequestFeatures(t *testing.T, db *metadb.DB) {
	ctx := context.Background()
	g := readRequestGolden(t)
	permuted := readPermuted(t)
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pdSet, err := servingfeatures.SetFromCatalog(cat, "pd", 1)
	if err != nil {
		t.Fatal(err)
	}
	acc, log := accesstest.Open(t, db)
	blobs, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	reg, err := core.Open(ctx, db, blobs, regfeatures.New(cat), log, core.Options{GatedAliases: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	_, admin := accesstest.User(t, acc, "Platform", access.KindPlatform, "root", access.RoleAdmin)
	_, alice := accesstest.User(t, acc, "Bank A", access.KindBank, "alice", access.RoleDataScientist, access.RoleBank)

	def := bankSet(g)
	if _, err := reg.PublishFeatureSet(ctx, alice, def); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "request_model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.CreateAndRegister(ctx, alice, core.NewModel{Name: "bank-a-pd", Task: core.TaskPD},
		core.Upload{Data: data, FeatureSet: "bank-a-credit", Parity: &core.ParityInput{Rows: g.Rows, Expected: g.Prediction}}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SetAlias(ctx, alice, "bank-a-pd", "champion", 1); err != nil {
		t.Fatal(err)
	}
	// The violation and limit models read the catalog's pd/v1.
	bindings := []serving.Binding{{Task: serving.TaskPD, Model: "bank-a-pd", Alias: "champion"}}
	for _, m := range []struct {
		task         serving.Task
		name, file   string
		golden       string
		legacyBinary bool
	}{{serving.TaskViolation, "violation-subset", "pd_subset.binf.model", "pd_subset", true}, {serving.TaskLimit, "limit-permuted", "limit_permuted.json", "limit_permuted", false}} {
		b, err := os.ReadFile(filepath.Join("testdata", m.file))
		if err != nil {
			t.Fatal(err)
		}
		pg := permuted[m.golden]
		up := core.Upload{Data: b, FeatureSet: "pd", FeatureSetVersion: 1, Parity: &core.ParityInput{Rows: pg.Rows, Expected: pg.Prediction}}
		if m.legacyBinary {
			up.Features = pg.Columns
		}
		if _, _, err := reg.CreateAndRegister(ctx, admin, core.NewModel{Name: m.name, Task: core.Task(m.task), Shared: true}, up); err != nil {
			t.Fatalf("register %s: %v", m.name, err)
		}
		if _, err := reg.SetAlias(ctx, admin, m.name, "champion", 1); err != nil {
			t.Fatal(err)
		}
		bindings = append(bindings, serving.Binding{Task: m.task, Model: m.name, Alias: "champion"})
	}
	holder, err := serving.NewModels(map[serving.Task]serving.FeatureSet{serving.TaskPD: pdSet, serving.TaskViolation: pdSet, serving.TaskLimit: pdSet})
	if err != nil {
		t.Fatal(err)
	}
	f, err := serving.NewFollower(serving.FollowerOptions{Source: servingregistry.New(reg, admin), Models: holder, Bindings: bindings, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := holder.Current().PD.FeatureSet(); got.Key() != "bank-a-credit/v1" || len(got.Requests) != 2 {
		t.Fatalf("pd model bound to %s with %d request features, want bank-a-credit/v1 with 2", got.Key(), len(got.Requests))
	}

	// The online store holds each test company's pd/v1 vector: the model's
	// indicators from the test rows, everything else missing.
	setPos := map[string]int{}
	for i, id := range pdSet.Indicators {
		setPos[id] = i
	}
	ip, ic := slices.Index(g.Columns, "loan_purpose"), slices.Index(g.Columns, "collateral_ratio")
	online := &servingtest.Features{Rows: map[string][]float64{}, AsOf: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}
	auth := &servingtest.Auth{Keys: map[string]serving.Principal{servingtest.BankKey: alice}, Consents: map[string]bool{}}
	codes := make([]string, len(g.Rows))
	for i, row := range g.Rows {
		codes[i] = servingtest.Code(t, fmt.Sprintf("MB%06d", i+1))
		vec := make([]float64, len(pdSet.Indicators))
		for j := range vec {
			vec[j] = math.NaN()
		}
		for j, x := range row {
			if j != ip && j != ic {
				vec[setPos[g.Columns[j]]] = value(x)
			}
		}
		online.Rows[codes[i]] = vec
		auth.Grant(alice.InstitutionID, codes[i])
	}
	pol, err := policy.Parse([]byte(strings.NewReplacer(
		"indicator: court.dishonest_debtor", "indicator: court.dishonest.max_24m",
		"indicator: network.circle_defaulted", "indicator: network.defaulted_neighbours").Replace(servingtest.Policy)))
	if err != nil {
		t.Fatal(err)
	}
	aud := &servingtest.Audit{}
	svc, err := serving.New(serving.Options{Models: holder, Features: online, Policy: pol, Authorizer: auth, Auditor: aud,
		Catalog: servingfeatures.NewCatalog(cat)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Service: svc, OIP: oip.New(holder, oip.Options{Authorizer: auth}), Authorizer: auth, Metrics: serving.NewMetrics(holder)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	fx := &fixture{srv: srv}

	purpose := func(row []*float64) string { return g.Purposes[int(*row[ip])] }
	body := func(code string, feats map[string]any) string {
		b, _ := json.Marshal(map[string]any{"company_code": code, "explain": true, "features": feats})
		return string(b)
	}

	// Assessments.
	var worst float64
	var requestReasons int
	for i, code := range codes {
		row := g.Rows[i]
		status, d := fx.do(t, "POST", "/v1/assessments", servingtest.BankKey,
			body(code, map[string]any{"collateral_ratio": *row[ic], "loan_purpose": purpose(row)}))
		if status != 200 {
			t.Fatalf("assessment of %s: %d %v", code, status, d)
		}
		got := d["pd"].(float64)
		worst = max(worst, math.Abs(got-g.Prediction[i]))
		if math.Abs(got-g.Prediction[i]) > 1e-6 {
			t.Errorf("assessment row %d: pd %.9g, XGBoost %.9g", i, got, g.Prediction[i])
		}
		if fs := d["feature_sets"].(map[string]any); fs["pd"] != "bank-a-credit/v1" || fs["violation"] != "pd/v1" {
			t.Fatalf("feature sets %v", fs)
		}
		for _, e := range d["explanations"].([]any) {
			ex := e.(map[string]any)
			if ex["model"] == "pd" && math.Abs(ex["margin"].(float64)-g.Margin[i]) > 1e-5 {
				t.Errorf("row %d: pd margin %v, XGBoost %v", i, ex["margin"], g.Margin[i])
			}
		}
		for _, r := range d["reasons"].([]any) {
			rs := r.(map[string]any)
			if rs["request_feature"] != true {
				continue
			}
			requestReasons++
			switch rs["indicator"] {
			case "loan_purpose":
				if rs["name_zh"] != "贷款用途" || rs["name_en"] != "Loan purpose" || rs["category"] != purpose(row) ||
					rs["text_zh"] != "贷款用途为"+purpose(row)+"，推高风险" || rs["text_en"] != "Loan purpose is "+purpose(row)+" — raises risk" {
					t.Errorf("row %d: reason %v", i, rs)
				}
			case "collateral_ratio":
				if rs["name_zh"] != "抵押率（抵押物价值/贷款金额）" || !strings.HasPrefix(rs["text_zh"].(string), "抵押率（抵押物价值/贷款金额）为") ||
					!strings.Contains(rs["text_zh"].(string), "倍") || rs["value"].(float64) != *row[ic] {
					t.Errorf("row %d: reason %v", i, rs)
				}
			default:
				t.Errorf("row %d: reason about request feature %v", i, rs["indicator"])
			}
		}
	}
	if requestReasons == 0 {
		t.Error("no reason names a request feature")
	}
	// The audit record keeps what the caller declared.
	entries := aud.Entries()
	last := g.Rows[len(g.Rows)-1]
	if rf, _ := json.Marshal(entries[len(entries)-1].After.(map[string]any)["request_features"]); string(rf) != fmt.Sprintf(`{"collateral_ratio":%v,"loan_purpose":%q}`, *last[ic], purpose(last)) {
		t.Errorf("audit record's request features %s", rf)
	}
	t.Logf("assessments of %d companies: largest pd difference from XGBoost %.3g; %d reasons name request features", len(codes), worst, requestReasons)

	// OIP: metadata publishes the order and the categories' codes.
	status, md := fx.do(t, "GET", "/v2/models/bank-a-pd", servingtest.BankKey, "")
	if status != 200 {
		t.Fatalf("metadata: %d %v", status, md)
	}
	ins := md["inputs"].([]any)
	params := ins[0].(map[string]any)["parameters"].(map[string]any)
	cols, _ := json.Marshal(params[oip.ParamColumns])
	want, _ := json.Marshal(g.Columns)
	cats, _ := json.Marshal(params[oip.ParamCategories])
	wantCats, _ := json.Marshal(map[string][]string{"loan_purpose": g.Purposes})
	if ins[0].(map[string]any)["name"] != "bank-a-credit/v1" || string(cols) != string(want) || string(cats) != string(wantCats) {
		t.Fatalf("metadata matrix input %v", ins[0])
	}
	if in := ins[1+ip].(map[string]any); in["name"] != "loan_purpose" || in["datatype"] != "BYTES" {
		t.Fatalf("metadata input for loan_purpose %v", in)
	}
	n, nc := len(g.Rows), len(g.Columns)
	checkOIP := func(how string, status int, resp map[string]any) {
		t.Helper()
		if status != 200 {
			t.Fatalf("%s: %d %v", how, status, resp)
		}
		var worst float64
		for _, o := range resp["outputs"].([]any) {
			out := o.(map[string]any)
			want := g.Prediction
			if out["name"] == oip.OutputMargin {
				want = g.Margin
			}
			for i, d := range out["data"].([]any) {
				diff := math.Abs(d.(float64) - want[i])
				worst = max(worst, diff)
				if diff > 1e-6*max(1, math.Abs(want[i])) {
					t.Errorf("%s: row %d %s = %.9g, XGBoost %.9g", how, i, out["name"], d.(float64), want[i])
				}
			}
		}
		t.Logf("OIP %s: %d rows, largest difference from XGBoost %.3g", how, n, worst)
	}
	flat := make([]any, 0, n*nc)
	for _, row := range g.Rows {
		for _, x := range row {
			flat = append(flat, x)
		}
	}
	tensor := func(data []any) string {
		b, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "bank-a-credit/v1", "datatype": "FP64", "shape": []int{len(data) / nc, nc}, "data": data}}})
		return string(b)
	}
	status, resp := fx.do(t, "POST", "/v2/models/bank-a-pd/infer", servingtest.BankKey, tensor(flat))
	checkOIP("tensor in the published order", status, resp)
	named := func(edit func(name string, in map[string]any) map[string]any) string {
		var inputs []any
		for j := nc - 1; j >= 0; j-- {
			col := make([]any, n)
			for i, row := range g.Rows {
				col[i] = row[j]
				if j == ip {
					col[i] = purpose(row)
				}
			}
			in := map[string]any{"name": g.Columns[j], "datatype": "FP64", "shape": []int{n, 1}, "data": col}
			if j == ip {
				in["datatype"] = "BYTES"
			}
			if edit != nil {
				in = edit(g.Columns[j], in)
			}
			if in != nil {
				inputs = append(inputs, in)
			}
		}
		b, _ := json.Marshal(map[string]any{"inputs": inputs})
		return string(b)
	}
	status, resp = fx.do(t, "POST", "/v2/models/bank-a-pd/infer", servingtest.BankKey, named(nil))
	checkOIP("named inputs, loan_purpose as BYTES", status, resp)

	// Bad request features: a 400 that names the feature (and the value and
	// what is allowed).
	row0 := g.Rows[0]
	good := func() map[string]any {
		return map[string]any{"collateral_ratio": *row0[ic], "loan_purpose": purpose(row0)}
	}
	with := func(k string, v any) map[string]any { m := good(); m[k] = v; return m }
	without := func(k string) map[string]any { m := good(); delete(m, k); return m }
	allPurposes := strings.Join(g.Purposes, ", ")
	for _, tt := range []struct {
		name    string
		feats   map[string]any
		mention []string
	}{
		{"unknown name", with("collateral_ratoi", 1), []string{`\"collateral_ratoi\"`, "collateral_ratio", "loan_purpose"}},
		{"an indicator of the set", with(g.SetIndicators[0], 1), []string{g.SetIndicators[0], "platform supplies it"}},
		{"missing numeric", without("collateral_ratio"), []string{`missing request feature \"collateral_ratio\"`, "[0, 3]"}},
		{"missing categorical", without("loan_purpose"), []string{`missing request feature \"loan_purpose\"`, allPurposes}},
		{"null", with("loan_purpose", nil), []string{`\"loan_purpose\"`}},
		{"above the range", with("collateral_ratio", 7.5), []string{`\"collateral_ratio\"`, "7.5", "[0, 3]"}},
		{"below the range", with("collateral_ratio", -0.25), []string{`\"collateral_ratio\"`, "-0.25", "[0, 3]"}},
		{"text for a number", with("collateral_ratio", "high"), []string{`\"collateral_ratio\"`, "high", "[0, 3]"}},
		{"bool for a number", with("collateral_ratio", true), []string{`\"collateral_ratio\"`, "true", "[0, 3]"}},
		{"object for a number", with("collateral_ratio", map[string]any{"v": 1}), []string{`\"collateral_ratio\"`, "object", "[0, 3]"}},
		{"number for a category", with("loan_purpose", 2), []string{`\"loan_purpose\"`, "the number 2", allPurposes}},
		{"unknown category", with("loan_purpose", "yacht"), []string{`\"loan_purpose\"`, "yacht", allPurposes}},
		{"category in another case", with("loan_purpose", strings.ToUpper(g.Purposes[0])), []string{`\"loan_purpose\"`, strings.ToUpper(g.Purposes[0]), allPurposes}},
		{"no features", nil, []string{`missing request feature \"collateral_ratio\"`}},
	} {
		status, resp := fx.do(t, "POST", "/v1/assessments", servingtest.BankKey, body(codes[0], tt.feats))
		msg, _ := json.Marshal(resp)
		for _, m := range tt.mention {
			if status != 400 || !strings.Contains(string(msg), m) {
				t.Errorf("%s: %d %s; want 400 mentioning %s", tt.name, status, msg, m)
			}
		}
	}
	// The same over the batch endpoint: the item is refused, the others decided.
	status, resp = fx.do(t, "POST", "/v1/assessments/batch", servingtest.BankKey, fmt.Sprintf(`{"assessments":[%s,%s]}`,
		body(codes[0], good()), body(codes[1], with("collateral_ratio", 9))))
	if b, _ := json.Marshal(resp); status != 200 || !strings.Contains(string(b), "9 is outside [0, 3]") || !strings.Contains(string(b), `"pd"`) {
		t.Errorf("batch with one bad item: %d %s", status, b)
	}

	// Over OIP: a value outside the range, a code of no category, an unknown
	// category, BYTES for a numeric column, a missing request feature.
	badTensor := func(j int, v any) string {
		d := slices.Clone(flat[:nc])
		d[j] = v
		return tensor(d)
	}
	for _, tt := range []struct {
		name, body string
		mention    []string
	}{
		{"tensor: above the range", badTensor(ic, 3.5), []string{`\"collateral_ratio\"`, "3.5", "[0, 3]"}},
		{"tensor: missing request feature", badTensor(ic, nil), []string{`missing request feature \"collateral_ratio\"`}},
		{"tensor: no such category code", badTensor(ip, 4), []string{`\"loan_purpose\"`, "4", allPurposes}},
		{"tensor: fractional category code", badTensor(ip, 1.5), []string{`\"loan_purpose\"`, "1.5"}},
		{"named: unknown category", named(func(name string, in map[string]any) map[string]any {
			if name == "loan_purpose" {
				in["data"].([]any)[3] = "yacht"
			}
			return in
		}), []string{`\"loan_purpose\"`, "yacht", allPurposes, "row 3"}},
		{"named: BYTES for a numeric feature", named(func(name string, in map[string]any) map[string]any {
			if name == "collateral_ratio" {
				in["datatype"] = "BYTES"
				in["data"] = make([]string, n)
			}
			return in
		}), []string{`\"collateral_ratio\"`, "BYTES"}},
		{"named: missing request feature", named(func(name string, in map[string]any) map[string]any {
			if name == "loan_purpose" {
				return nil
			}
			return in
		}), []string{"loan_purpose"}},
		{"named: unknown input", named(func(name string, in map[string]any) map[string]any {
			if name == "loan_purpose" {
				in["name"] = "loan_purpos"
			}
			return in
		}), []string{"loan_purpos"}},
	} {
		status, resp := fx.do(t, "POST", "/v2/models/bank-a-pd/infer", servingtest.BankKey, tt.body)
		msg, _ := json.Marshal(resp)
		for _, m := range tt.mention {
			if status != 400 || !strings.Contains(string(msg), m) {
				t.Errorf("%s: %d %s; want 400 mentioning %s", tt.name, status, msg, m)
			}
		}
	}
}

// FuzzAssessmentFeatures feeds assessment bodies through the decoder and the
// check of request features against the bank's set: no panic; a refusal is a
// 400; what is accepted is exactly the set's request features, each within its
// range or a category's code.
func FuzzAssessmentFeatures(f *testing.F) {
	f.Add([]byte(`{"company_code":"91330604MA4UJ7K21A","features":{"collateral_ratio":1.5,"loan_purpose":"trade"}}`))
	f.Add([]byte(`{"company_code":"91330604MA4UJ7K21A","features":{"collateral_ratio":"1.5","loan_purpose":3}}`))
	f.Add([]byte(`{"company_code":"x","features":{"collateral_ratio":1e400}}`))
	f.Add([]byte(`{"company_code":"x","features":{"collateral_ratio":-0,"loan_purpose":"trade","x":null}}`))
	f.Add([]byte(`{"company_code":"x","features":{"collateral_ratio":[1],"loan_purpose":{"a":"trade"}}}`))
	f.Add([]byte(`{"company_code":"x","features":{"collateral_ratio":3,"loan_purpose":"trade","collateral_ratio":3.1}}`))
	f.Add([]byte(`{"company_code":"x","features":null}`))
	g := readRequestGolden(f)
	snap := bankModels(f, g).Current()
	set := snap.PD.FeatureSet()
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeAssessment(data)
		if err != nil {
			return
		}
		vals, err := snap.CheckRequestFeatures(req.Features)
		if err != nil {
			if status, _ := statusOf(err); status != 400 {
				t.Fatalf("refusal maps to %d: %v", status, err)
			}
			return
		}
		if len(req.Features) != 2 {
			t.Fatalf("accepted %d features: %v", len(req.Features), req.Features)
		}
		got := vals[set.Key()]
		for i, r := range set.Requests {
			v := got[i]
			switch r.Type {
			case features.FeatureNumeric:
				if math.IsNaN(v) || v < *r.Min || v > *r.Max || v != req.Features[r.Name] {
					t.Fatalf("accepted %s = %v as %v", r.Name, req.Features[r.Name], v)
				}
			case features.FeatureCategorical:
				if v != math.Trunc(v) || v < 0 || int(v) >= len(r.Categories) || r.Categories[int(v)] != req.Features[r.Name] {
					t.Fatalf("accepted %s = %v as code %v", r.Name, req.Features[r.Name], v)
				}
			}
		}
	})
}

// FuzzBankInfer feeds OIP REST bodies through the decoder to the model bound to
// the bank's set: no panic; a refusal is a 400; an answer is finite.
func FuzzBankInfer(f *testing.F) {
	g := readRequestGolden(f)
	row := func(purpose any, ratio any) string {
		var in []string
		for _, c := range g.Columns {
			switch c {
			case "loan_purpose":
				b, _ := json.Marshal(purpose)
				dt := "FP64"
				if _, ok := purpose.(string); ok {
					dt = "BYTES"
				}
				in = append(in, `{"name":"loan_purpose","datatype":"`+dt+`","shape":[1],"data":[`+string(b)+`]}`)
			case "collateral_ratio":
				b, _ := json.Marshal(ratio)
				in = append(in, `{"name":"collateral_ratio","datatype":"FP64","shape":[1],"data":[`+string(b)+`]}`)
			default:
				in = append(in, `{"name":"`+c+`","datatype":"FP64","shape":[1],"data":[1.5]}`)
			}
		}
		return `{"inputs":[` + strings.Join(in, ",") + `]}`
	}
	f.Add([]byte(row("trade", 1.5)))
	f.Add([]byte(row(2, 1.5)))
	f.Add([]byte(row("yacht", 4)))
	f.Add([]byte(row([]string{"trade"}, nil)))
	f.Add([]byte(`{"inputs":[{"name":"bank-a-credit/v1","datatype":"FP64","shape":[1,7],"data":[1,2,3,4,5,6,7]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"bank-a-credit/v1","datatype":"BYTES","shape":[1,7],"data":["a","b","c","d","e","f","g"]}]}`))
	srv := oip.New(bankModels(f, g), oip.Options{MaxRows: 100})
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeInfer(data, "bank-a-pd", "")
		if err == nil {
			var resp *oip.InferResponse
			if resp, err = srv.Infer(t.Context(), servingtest.WeihaiBank, req); err == nil {
				for _, o := range resp.Outputs {
					for _, v := range o.Data {
						if math.IsNaN(v) || math.IsInf(v, 0) {
							t.Fatalf("output %s has %v", o.Name, v)
						}
					}
				}
				return
			}
		}
		if status, _ := statusOf(err); status != 400 {
			t.Fatalf("error maps to %d: %v", status, err)
		}
	})
}

// bankModels loads the request-feature model bound to the bank's set (the
// registry's form of it) into a holder serving pd/v1, shared so any caller may
// read it.
func bankModels(t testing.TB, g requestGolden) *serving.Models {
	t.Helper()
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pdSet, err := servingfeatures.SetFromCatalog(cat, "pd", 1)
	if err != nil {
		t.Fatal(err)
	}
	def := bankSet(g)
	def.Version = 1
	set := serving.FeatureSet{Name: def.Name, Version: 1, Indicators: def.Columns(), Requests: def.RequestFeatures()}
	text, err := os.ReadFile(filepath.Join("testdata", "request_model.json"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := serving.LoadScorer(text, serving.ModelRef{Task: serving.TaskPD, Name: "bank-a-pd", Version: "1", FeatureSet: def.Name, FeatureSetVersion: 1, Shared: true}, set)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := serving.NewModels(map[serving.Task]serving.FeatureSet{serving.TaskPD: pdSet, serving.TaskViolation: pdSet, serving.TaskLimit: pdSet})
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Install(sc); err != nil {
		t.Fatal(err)
	}
	return holder
}

// BenchmarkAssessRequestFeatures is POST /v1/assessments for a PD model bound to
// the bank's set: the two request features checked and the row built from them
// and the online pd/v1 vector, beside the violation and limit models over pd/v1.
func BenchmarkAssessRequestFeatures(b *testing.B) {
	g := readRequestGolden(b)
	holder := bankModels(b, g)
	pdSet := holder.FeatureSet(serving.TaskViolation)
	for _, m := range []struct {
		task       serving.Task
		file, name string
	}{{serving.TaskViolation, "pd_subset.json", "violation-subset"}, {serving.TaskLimit, "limit_permuted.json", "limit-permuted"}} {
		text, err := os.ReadFile(filepath.Join("testdata", m.file))
		if err != nil {
			b.Fatal(err)
		}
		sc, err := serving.LoadScorer(text, serving.ModelRef{Task: m.task, Name: m.name, Version: "1", FeatureSet: "pd", FeatureSetVersion: 1}, pdSet)
		if err != nil {
			b.Fatal(err)
		}
		if err := holder.Install(sc); err != nil {
			b.Fatal(err)
		}
	}
	code := servingtest.Code(b, "MB000001")
	vec := make([]float64, len(pdSet.Indicators))
	for j := range vec {
		vec[j] = float64(j)
	}
	online := &servingtest.Features{Rows: map[string][]float64{code: vec}, AsOf: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}
	auth := &servingtest.Auth{Keys: map[string]serving.Principal{servingtest.BankKey: servingtest.WeihaiBank}, Consents: map[string]bool{}}
	auth.Grant(servingtest.WeihaiBank.InstitutionID, code)
	pol, err := policy.Parse([]byte(strings.NewReplacer(
		"indicator: court.dishonest_debtor", "indicator: court.dishonest.max_24m",
		"indicator: network.circle_defaulted", "indicator: network.defaulted_neighbours").Replace(servingtest.Policy)))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := serving.New(serving.Options{Models: holder, Features: online, Policy: pol, Authorizer: auth, Auditor: &servingtest.Audit{}})
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(Options{Service: svc, OIP: oip.New(holder, oip.Options{Authorizer: auth}), Authorizer: auth, Metrics: serving.NewMetrics(holder)})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(fmt.Sprintf(`{"company_code":%q,"features":{"collateral_ratio":1.25,"loan_purpose":"equipment"}}`, code))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/assessments", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+servingtest.BankKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
