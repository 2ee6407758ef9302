package httpapi

import (
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

// permutedModel is one model of testdata/permuted.golden.json, written by XGBoost
// 1.7.4 (testdata/make_permuted_models.py): its own column order and XGBoost's
// margins and predictions for test rows in that order.
type permutedModel struct {
	Columns    []string     `json:"columns"`
	Rows       [][]*float64 `json:"rows"`
	Margin     []float64    `json:"margin"`
	Prediction []float64    `json:"prediction"`
}

func readPermuted(t *testing.T) map[string]permutedModel {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "permuted.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]permutedModel
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestModelColumnOrder registers XGBoost models over the catalog's feature set pd/v1
// whose own column order is not the set's (pd: all 51 indicators shuffled; violation:
// 12 of them, shuffled, from a legacy binary file that names no columns; limit: a
// regression in the pd model's order), each with parity rows in its own order. The
// follower loads them from the registry; then OIP, with one [rows, N] tensor in the
// model's order and with one named input per column, and POST /v1/assessments, whose
// online vectors are in the set's order (the test rows permuted by hand), all answer
// what XGBoost answered for the same rows.
func TestModelColumnOrder(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) { testModelColumnOrder(t, db) })
}

func testModelColumnOrder(t *testing.T, db *metadb.DB) {
	ctx := context.Background()
	golden := readPermuted(t)
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	set, err := servingfeatures.SetFromCatalog(cat, "pd", 1)
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

	models := map[serving.Task]struct{ name, file, golden string }{
		serving.TaskPD:        {"pd-permuted", "pd_permuted.json", "pd_permuted"},
		serving.TaskViolation: {"violation-subset", "pd_subset.binf.model", "pd_subset"},
		serving.TaskLimit:     {"limit-permuted", "limit_permuted.json", "limit_permuted"},
	}
	var bindings []serving.Binding
	for _, task := range serving.Tasks {
		m := models[task]
		g := golden[m.golden]
		data, err := os.ReadFile(filepath.Join("testdata", m.file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.CreateModel(ctx, admin, core.NewModel{Name: m.name, Task: core.Task(task), Shared: true}); err != nil {
			t.Fatal(err)
		}
		up := core.Upload{Data: data, FeatureSet: "pd", FeatureSetVersion: 1,
			Parity: &core.ParityInput{Rows: g.Rows, Expected: g.Prediction}}
		if strings.HasSuffix(m.file, ".binf.model") {
			up.Features = g.Columns // the legacy binary names no columns
		}
		v, err := reg.Register(ctx, admin, m.name, up)
		if err != nil {
			t.Fatalf("register %s: %v", m.name, err)
		}
		if _, err := reg.SetAlias(ctx, admin, m.name, "champion", v.Version); err != nil {
			t.Fatal(err)
		}
		bindings = append(bindings, serving.Binding{Task: task, Model: m.name, Alias: "champion"})
	}
	holder, err := serving.NewModels(map[serving.Task]serving.FeatureSet{serving.TaskPD: set, serving.TaskViolation: set, serving.TaskLimit: set})
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

	// The online store holds each test company's vector in the set's order: the pd
	// model reads every indicator, so its rows permuted by hand give the vectors.
	pdG := golden["pd_permuted"]
	setPos := map[string]int{}
	for i, id := range set.Indicators {
		setPos[id] = i
	}
	online := &servingtest.Features{Rows: map[string][]float64{}, AsOf: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}
	auth := &servingtest.Auth{Keys: map[string]serving.Principal{servingtest.BankKey: servingtest.WeihaiBank}, Consents: map[string]bool{}}
	codes := make([]string, len(pdG.Rows))
	for i, row := range pdG.Rows {
		codes[i] = servingtest.Code(t, fmt.Sprintf("MA%06d", i+1))
		vec := make([]float64, len(set.Indicators))
		for j, x := range row {
			vec[setPos[pdG.Columns[j]]] = value(x)
		}
		online.Rows[codes[i]] = vec
		auth.Grant(servingtest.WeihaiBank.InstitutionID, codes[i])
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
	h, err := New(Options{Service: svc, OIP: oip.New(holder, oip.Options{Authorizer: auth}), Authorizer: auth, Metrics: serving.NewMetrics(holder)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	fx := &fixture{srv: srv}

	// close compares a served output with XGBoost's: probabilities within 1e-6
	// absolute; margins and regression values within 1e-6 of the scale of the
	// model's outputs (XGBoost sums trees in float32, rounding on that scale:
	// about 2 for limits of the order of 1e6).
	scale := map[string]float64{}
	for name, g := range golden {
		for _, m := range g.Margin {
			scale[name] = max(scale[name], math.Abs(m), 1)
		}
	}
	var closeScale float64
	close := func(got, want float64, regression bool) bool {
		tol := 1e-6
		if regression {
			tol *= closeScale
		}
		return math.Abs(got-want) <= tol
	}
	for _, task := range serving.Tasks {
		m := models[task]
		g := golden[m.golden]
		n, nc := len(g.Rows), len(g.Columns)
		regression := task == serving.TaskLimit
		closeScale = scale[m.golden]
		check := func(how string, status int, body map[string]any) {
			t.Helper()
			if status != 200 {
				t.Fatalf("%s %s: status %d: %v", m.name, how, status, body)
			}
			var worst float64
			for _, o := range body["outputs"].([]any) {
				out := o.(map[string]any)
				want := g.Prediction
				if out["name"] == oip.OutputMargin {
					want = g.Margin
				}
				data := out["data"].([]any)
				if len(data) != n {
					t.Fatalf("%s %s: %d outputs for %d rows", m.name, how, len(data), n)
				}
				for i, d := range data {
					worst = max(worst, math.Abs(d.(float64)-want[i]))
					if !close(d.(float64), want[i], regression || out["name"] == oip.OutputMargin) {
						t.Errorf("%s %s: row %d %s = %.9g, XGBoost %.9g", m.name, how, i, out["name"], d.(float64), want[i])
					}
				}
			}
			t.Logf("%s %s: %d rows, largest difference from XGBoost %.3g", m.name, how, n, worst)
		}

		// One [rows, N] tensor in the model's own column order.
		flat := make([]any, 0, n*nc)
		for _, row := range g.Rows {
			for _, x := range row {
				flat = append(flat, x)
			}
		}
		body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": set.Key(), "datatype": "FP64", "shape": []int{n, nc}, "data": flat}}})
		status, resp := fx.do(t, "POST", "/v2/models/"+m.name+"/infer", servingtest.BankKey, string(body))
		check("tensor", status, resp)

		// One named input per column, sent in reverse order.
		var inputs []any
		for j := nc - 1; j >= 0; j-- {
			col := make([]any, n)
			for i, row := range g.Rows {
				col[i] = row[j]
			}
			inputs = append(inputs, map[string]any{"name": g.Columns[j], "datatype": "FP64", "shape": []int{n, 1}, "data": col})
		}
		body, _ = json.Marshal(map[string]any{"inputs": inputs})
		status, resp = fx.do(t, "POST", "/v2/models/"+m.name+"/infer", servingtest.BankKey, string(body))
		check("named inputs", status, resp)
	}

	// Model metadata publishes the column order; a missing or unknown input is
	// refused by name.
	status, md := fx.do(t, "GET", "/v2/models/violation-subset", servingtest.BankKey, "")
	sub := golden["pd_subset"]
	if status != 200 {
		t.Fatalf("metadata: %d %v", status, md)
	}
	ins := md["inputs"].([]any)
	matrix := ins[0].(map[string]any)
	published, _ := json.Marshal(matrix["parameters"].(map[string]any)[oip.ParamColumns])
	want, _ := json.Marshal(sub.Columns)
	if matrix["name"] != "pd/v1" || string(published) != string(want) || len(ins) != 1+len(sub.Columns) {
		t.Fatalf("metadata inputs %v, want the matrix with columns %s and one input per column", ins, want)
	}
	for j, in := range ins[1:] {
		if in.(map[string]any)["name"] != sub.Columns[j] {
			t.Fatalf("metadata input %d is %v, want %s", j+1, in, sub.Columns[j])
		}
	}
	named := func(names ...string) string {
		var in []string
		for _, n := range names {
			in = append(in, `{"name":"`+n+`","datatype":"FP64","shape":[1],"data":[1]}`)
		}
		return `{"inputs":[` + strings.Join(in, ",") + `]}`
	}
	for _, tt := range []struct {
		name, body, mention string
	}{
		{"missing input", named(sub.Columns[1:]...), sub.Columns[0]},
		{"unknown input", named(append(sub.Columns[1:], "tax.not_an_indicator")...), "tax.not_an_indicator"},
		{"an indicator of the set the model does not read", named(append(sub.Columns[1:], firstNotIn(set.Indicators, sub.Columns))...), firstNotIn(set.Indicators, sub.Columns)},
		{"tensor of the set's width", `{"inputs":[{"name":"pd/v1","datatype":"FP64","shape":[1,51],"data":[` + strings.Repeat("1,", 50) + `1]}]}`, "[rows, 12]"},
	} {
		status, body := fx.do(t, "POST", "/v2/models/violation-subset/infer", servingtest.BankKey, tt.body)
		msg, _ := json.Marshal(body)
		if status != 400 || !strings.Contains(string(msg), tt.mention) {
			t.Errorf("%s: %d %s; want 400 naming %q", tt.name, status, msg, tt.mention)
		}
	}

	// Assessments: the online vectors are in the set's order.
	var worst [3]float64
	for i, code := range codes {
		status, d := fx.do(t, "POST", "/v1/assessments", servingtest.BankKey, `{"company_code":"`+code+`","explain":true}`)
		if status != 200 {
			t.Fatalf("assessment of %s: %d %v", code, status, d)
		}
		for k, want := range []struct {
			field string
			value float64
		}{{"pd", golden["pd_permuted"].Prediction[i]}, {"violation_probability", golden["pd_subset"].Prediction[i]}} {
			got := d[want.field].(float64)
			worst[k] = max(worst[k], math.Abs(got-want.value))
			if !close(got, want.value, false) {
				t.Errorf("assessment row %d: %s = %.9g, XGBoost %.9g", i, want.field, got, want.value)
			}
		}
		for _, e := range d["explanations"].([]any) {
			ex := e.(map[string]any)
			if ex["model"] != string(serving.TaskLimit) {
				continue
			}
			want := golden["limit_permuted"].Margin[i]
			got := ex["margin"].(float64)
			closeScale = scale["limit_permuted"]
			worst[2] = max(worst[2], math.Abs(got-want))
			if !close(got, want, true) {
				t.Errorf("assessment row %d: limit model output %.9g, XGBoost %.9g", i, got, want)
			}
		}
	}
	t.Logf("assessments of %d companies: largest difference from XGBoost pd %.3g, violation %.3g, limit %.3g", len(codes), worst[0], worst[1], worst[2])
}

func value(x *float64) float64 {
	if x == nil {
		return math.NaN()
	}
	return *x
}

func firstNotIn(all, some []string) string {
	for _, a := range all {
		if !slices.Contains(some, a) {
			return a
		}
	}
	return ""
}
