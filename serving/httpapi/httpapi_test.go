package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/httperr"
	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

type fixture struct {
	env *servingtest.Env
	srv *httptest.Server
}

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	env := servingtest.New(t)
	opts := Options{Service: env.Service, OIP: oip.New(env.Models, oip.Options{Authorizer: env.Auth}), Authorizer: env.Auth,
		Metrics: serving.NewMetrics(env.Models), MaxBodyBytes: 4096}
	if mod != nil {
		mod(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{env: env, srv: srv}
}

// do sends a request, with a body as application/json.
func (f *fixture) do(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return f.doType(t, method, path, key, ct, body)
}

// doType sends a request with the Content-Type ct ("" for none).
func (f *fixture) doType(t *testing.T, method, path, key, ct, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" && !strings.HasPrefix(path, "/metrics") {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var out map[string]any
	if len(data) > 0 && !strings.HasPrefix(path, "/metrics") {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: response is not JSON: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode, out
}

// errCode is the code of an error answer ({"error":{"code":...}}), "" if none.
func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestAssessmentOverHTTP(t *testing.T) {
	f := newFixture(t, nil)
	status, body := f.do(t, "POST", "/v1/assessments", servingtest.BankKey, fmt.Sprintf(`{"company_code":%q,"products":["working_capital"]}`, f.env.Good))
	if status != 200 {
		t.Fatalf("status %d: %v", status, body)
	}
	// Hand calculation in serving's tests: pd = sigmoid(-3), rating B, blue, limit 960,000.
	if pd := body["pd"].(float64); math.Abs(pd-1/(1+math.Exp(3))) > 1e-12 {
		t.Errorf("pd %v", pd)
	}
	if body["rating"] != "B" || body["colour"] != "blue" || body["limit"].(float64) != 960000 || body["inspection_tier"] != "low" {
		t.Errorf("decision %v", body)
	}
	if _, ok := body["violation_probability"].(float64); !ok {
		t.Errorf("no violation probability in %v", body)
	}
	if _, ok := body["reasons"]; !ok {
		t.Errorf("no reasons field in %v", body)
	}

	status, body = f.do(t, "POST", "/v1/assessments", servingtest.BankKey, fmt.Sprintf(`{"company_code":%q}`, f.env.Bad))
	if status != 200 || len(body["reasons"].([]any)) != 8 || body["colour"] != "red" {
		t.Fatalf("bad company: %d %v", status, body)
	}
}

func TestConsentRefusedAndAudited(t *testing.T) {
	f := newFixture(t, nil)
	status, body := f.do(t, "POST", "/v1/assessments", servingtest.OtherBankKey, fmt.Sprintf(`{"company_code":%q}`, f.env.Good))
	if status != http.StatusForbidden || errCode(body) != "consent_required" {
		t.Fatalf("status %d body %v, want 403 consent_required", status, body)
	}
	es := f.env.Audit.Entries()
	if len(es) != 1 || es[0].Outcome != audit.OutcomeRefused || es[0].Subject != "company:"+f.env.Good {
		t.Fatalf("audit %+v", es)
	}
	status, body = f.do(t, "POST", "/v1/assessments", servingtest.LabKey, fmt.Sprintf(`{"company_code":%q}`, f.env.Good))
	if status != http.StatusForbidden || errCode(body) != "forbidden" {
		t.Fatalf("lab: status %d body %v", status, body)
	}
	status, _ = f.do(t, "POST", "/v1/assessments", servingtest.RegulatorKey, fmt.Sprintf(`{"company_code":%q}`, f.env.Good))
	if status != 200 {
		t.Fatalf("regulator: %d", status)
	}
}

func TestBadInputIs4xx(t *testing.T) {
	f := newFixture(t, nil)
	good := f.env.Good
	badCheck := good[:17] + map[bool]string{true: "1", false: "2"}[good[17] != '1']
	tests := []struct {
		name, key, path, body string
		status                int
		code                  string
	}{
		{"no key", "", "/v1/assessments", `{}`, 401, "unauthenticated"},
		{"unknown key", "nope", "/v1/assessments", `{}`, 401, "unauthenticated"},
		{"malformed JSON", servingtest.BankKey, "/v1/assessments", `{"company_code":`, 400, "invalid_input"},
		{"not an object", servingtest.BankKey, "/v1/assessments", `[1,2]`, 400, "invalid_input"},
		{"wrong type", servingtest.BankKey, "/v1/assessments", `{"company_code":91330604}`, 400, "invalid_input"},
		{"unknown field", servingtest.BankKey, "/v1/assessments", `{"company":"x"}`, 400, "invalid_input"},
		{"trailing data", servingtest.BankKey, "/v1/assessments", `{"company_code":"` + good + `"} {}`, 400, "invalid_input"},
		{"empty body", servingtest.BankKey, "/v1/assessments", ``, 400, "invalid_input"},
		{"missing code", servingtest.BankKey, "/v1/assessments", `{}`, 400, "invalid_input"},
		{"bad check digit", servingtest.BankKey, "/v1/assessments", `{"company_code":"` + badCheck + `"}`, 400, "invalid_company_code"},
		{"lower-case garbage", servingtest.BankKey, "/v1/assessments", `{"company_code":"hello"}`, 400, "invalid_company_code"},
		{"unknown company", servingtest.RegulatorKey, "/v1/assessments", `{"company_code":"` + f.env.Unknown + `"}`, 404, "unknown_company"},
		{"unknown product", servingtest.BankKey, "/v1/assessments", `{"company_code":"` + good + `","products":["yacht"]}`, 400, "invalid_input"},
		{"oversized body", servingtest.BankKey, "/v1/assessments", `{"company_code":"` + strings.Repeat("9", 5000) + `"}`, 413, "body_too_large"},
		{"unknown model", servingtest.BankKey, "/v2/models/churn/infer", `{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}`, 404, "unknown_model"},
		{"unknown version", servingtest.BankKey, "/v2/models/pd/versions/9/infer", `{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}`, 404, "unknown_model"},
		{"NaN literal", servingtest.BankKey, "/v2/models/pd/infer", `{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"FP64","data":[NaN,2,3]}]}`, 400, "invalid_input"},
		{"string in data", servingtest.BankKey, "/v2/models/pd/infer", `{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"FP64","data":["1",2,3]}]}`, 400, "invalid_input"},
		{"huge number", servingtest.BankKey, "/v2/models/pd/infer", `{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"FP64","data":[1e999,2,3]}]}`, 400, "invalid_input"},
		{"shape mismatch", servingtest.BankKey, "/v2/models/pd/infer", `{"inputs":[{"name":"credit/v3","shape":[2,3],"datatype":"FP64","data":[1,2,3]}]}`, 400, "invalid_input"},
		{"wrong feature count", servingtest.BankKey, "/v2/models/pd/infer", `{"inputs":[{"name":"credit/v3","shape":[1,4],"datatype":"FP64","data":[1,2,3,4]}]}`, 400, "invalid_input"},
		{"negative shape", servingtest.BankKey, "/v2/models/pd/infer", `{"inputs":[{"name":"credit/v3","shape":[-1,3],"datatype":"FP64","data":[1,2,3]}]}`, 400, "invalid_input"},
		{"int datatype", servingtest.BankKey, "/v2/models/pd/infer", `{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"INT64","data":[1,2,3]}]}`, 400, "invalid_input"},
		{"unknown output", servingtest.BankKey, "/v2/models/pd/infer", `{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"FP64","data":[1,2,3]}],"outputs":[{"name":"shap"}]}`, 400, "invalid_input"},
		{"no inputs", servingtest.BankKey, "/v2/models/pd/infer", `{"inputs":[]}`, 400, "invalid_input"},
		{"unknown path", servingtest.BankKey, "/v3/nothing", ``, 404, "not_found"},
		{"batch empty", servingtest.BankKey, "/v1/assessments/batch", `{"assessments":[]}`, 400, "invalid_input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.path == "/v3/nothing" {
				method = "GET"
			}
			status, body := f.do(t, method, tt.path, tt.key, tt.body)
			if status != tt.status || errCode(body) != tt.code {
				t.Fatalf("status %d %v, want %d %s", status, body, tt.status, tt.code)
			}
			if msg, _ := body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Errorf("no error message in %v", body)
			}
		})
	}
}

// TestOIPStrict: an inference request must be declared JSON, its data must match
// its shape exactly (flat or fully nested), and its inputs must carry the names
// the model takes; each refusal says what was wrong.
func TestOIPStrict(t *testing.T) {
	f := newFixture(t, nil)
	const path = "/v2/models/pd/infer"
	infer := func(name, shape, data string) string {
		return fmt.Sprintf(`{"inputs":[{"name":%q,"shape":%s,"datatype":"FP64","data":%s}]}`, name, shape, data)
	}
	good := infer("credit/v3", "[2,3]", "[[150,0,0],[80,1,1]]")
	tests := []struct {
		name, ct, body string
		status         int
		code           string
		mention        []string
	}{
		{"nested", "application/json", good, 200, "", nil},
		{"flat", "application/json; charset=utf-8", infer("credit/v3", "[2,3]", "[150,0,0,80,1,1]"), 200, "", nil},
		{"one row", "application/json", infer("credit/v3", "[3]", "[150,0,0]"), 200, "", nil},
		{"text/plain", "text/plain", good, 415, "unsupported_media_type", []string{"text/plain", "application/json"}},
		{"no content type", "", good, 415, "unsupported_media_type", []string{"application/json"}},
		{"form", "application/x-www-form-urlencoded", good, 415, "unsupported_media_type", nil},
		{"ragged row", "application/json", infer("credit/v3", "[2,3]", "[[150,0,0],[80,1]]"), 400, "invalid_input", []string{"data[1]", "2 entries", "needs 3"}},
		{"long row", "application/json", infer("credit/v3", "[2,3]", "[[150,0,0,1],[80,1,1]]"), 400, "invalid_input", []string{"data[0]"}},
		{"row count", "application/json", infer("credit/v3", "[2,3]", "[[150,0,0]]"), 400, "invalid_input", []string{"1 entries", "needs 2"}},
		{"flat and nested mixed", "application/json", infer("credit/v3", "[2,3]", "[[150,0,0],80,1,1]"), 400, "invalid_input", []string{"data[1]"}},
		{"numbers then rows", "application/json", infer("credit/v3", "[2,3]", "[150,0,0,[80,1,1]]"), 400, "invalid_input", []string{"data[3]"}},
		{"too deep", "application/json", infer("credit/v3", "[1,3]", "[[[150,0,0]]]"), 400, "invalid_input", []string{"deeper"}},
		{"flat too short", "application/json", infer("credit/v3", "[2,3]", "[150,0,0,80,1]"), 400, "invalid_input", []string{"needs 6"}},
		{"bare number", "application/json", infer("credit/v3", "[1]", "150"), 400, "invalid_input", []string{"array"}},
		{"unknown name", "application/json", infer("x", "[2,3]", "[[150,0,0],[80,1,1]]"), 400, "invalid_input", []string{`"x"`, `"credit/v3"`, "tax.paid.sum_12m"}},
		{"unknown indicator", "application/json", `{"inputs":[{"name":"court.dishonest_debtor","shape":[1],"datatype":"FP64","data":[1]},
			{"name":"tax.paid.sum_12m","shape":[1],"datatype":"FP64","data":[80]},{"name":"tax.evaded","shape":[1],"datatype":"FP64","data":[1]}]}`,
			400, "invalid_input", []string{`"tax.evaded"`, "network.circle_defaulted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.doType(t, "POST", path, servingtest.BankKey, tt.ct, tt.body)
			if status != tt.status || errCode(body) != tt.code {
				t.Fatalf("status %d %v, want %d %s", status, body, tt.status, tt.code)
			}
			e, _ := body["error"].(map[string]any)
			msg, _ := e["message"].(string)
			for _, m := range tt.mention {
				if !strings.Contains(msg, m) {
					t.Errorf("message %q does not mention %q", msg, m)
				}
			}
		})
	}
}

func TestBatch(t *testing.T) {
	f := newFixture(t, nil)
	body := fmt.Sprintf(`{"assessments":[{"company_code":%q},{"company_code":"bogus"},{"company_code":%q}]}`, f.env.Good, f.env.Bad)
	status, out := f.do(t, "POST", "/v1/assessments/batch", servingtest.BankKey, body)
	if status != 200 {
		t.Fatalf("status %d %v", status, out)
	}
	res := out["results"].([]any)
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	first := res[0].(map[string]any)["decision"].(map[string]any)
	second := res[1].(map[string]any)["error"].(map[string]any)
	third := res[2].(map[string]any)["decision"].(map[string]any)
	if first["rating"] != "B" || second["code"] != "invalid_company_code" || third["rating"] != "D" {
		t.Fatalf("results %v", res)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	f := newFixture(t, func(o *Options) {
		o.Limiter = serving.NewRateLimiter(1, 2, func() time.Time { return now })
	})
	body := fmt.Sprintf(`{"company_code":%q}`, f.env.Good)
	var got []int
	for range 3 {
		s, _ := f.do(t, "POST", "/v1/assessments", servingtest.BankKey, body)
		got = append(got, s)
	}
	if got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("statuses %v, want 200 200 429", got)
	}
	if s, _ := f.do(t, "POST", "/v1/assessments", servingtest.RegulatorKey, body); s != 200 {
		t.Fatalf("another key was limited: %d", s)
	}
}

// TestStoreOutageIs503 takes the online store down: an assessment answers 503
// with Retry-After in the one error shape, so a client knows to retry.
func TestStoreOutageIs503(t *testing.T) {
	f := newFixture(t, nil)
	f.env.Features.Down = true
	req, err := http.NewRequest("POST", f.srv.URL+"/v1/assessments", strings.NewReader(fmt.Sprintf(`{"company_code":%q}`, f.env.Good)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+servingtest.RegulatorKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body httperr.Body
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error.Code != "unavailable" || body.Error.Message == "" {
		t.Fatalf("status %d %+v, want 503 unavailable", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" {
		t.Error("503 without Retry-After")
	}
}

func TestDeadline(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Timeout = time.Nanosecond })
	status, body := f.do(t, "POST", "/v2/models/pd/infer", servingtest.BankKey, `{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}`)
	if status != http.StatusGatewayTimeout || errCode(body) != "deadline_exceeded" {
		t.Fatalf("status %d %v", status, body)
	}
}

func TestOIPREST(t *testing.T) {
	f := newFixture(t, nil)
	if s, b := f.do(t, "GET", "/v2/health/live", "", ""); s != 200 || b["live"] != true {
		t.Errorf("live %d %v", s, b)
	}
	if s, b := f.do(t, "GET", "/v2/health/ready", "", ""); s != 200 || b["ready"] != true {
		t.Errorf("ready %d %v", s, b)
	}
	if s, b := f.do(t, "GET", "/v2", "", ""); s != 200 || b["name"] != "xinyi" || b["extensions"] == nil {
		t.Errorf("server metadata %d %v", s, b)
	}
	for _, path := range []string{"/v2/models/xinyi-pd", "/v2/models/pd", "/v2/models/xinyi-pd/versions/1"} {
		s, b := f.do(t, "GET", path, servingtest.BankKey, "")
		if s != 200 || b["name"] != "xinyi-pd" || b["platform"] != "lightgbm_leaves" {
			t.Errorf("%s: %d %v", path, s, b)
			continue
		}
		in := b["inputs"].([]any)[0].(map[string]any)
		if in["datatype"] != "FP64" || fmt.Sprint(in["shape"]) != "[-1 3]" {
			t.Errorf("%s inputs %v", path, in)
		}
	}
	if s, b := f.do(t, "GET", "/v2/models/xinyi-limit/versions/1/ready", servingtest.BankKey, ""); s != 200 || b["ready"] != true {
		t.Errorf("model ready %d %v", s, b)
	}
	// Rows: good (margin -3), bad (2.5), missing tax goes left (0.5-1 = -0.5).
	req := `{"id":"r1","inputs":[{"name":"credit/v3","shape":[3,3],"datatype":"FP64","data":[[150,0,0],[80,1,1],[null,0,0]]}]}`
	s, b := f.do(t, "POST", "/v2/models/pd/infer", servingtest.BankKey, req)
	if s != 200 {
		t.Fatalf("infer %d %v", s, b)
	}
	if b["model_name"] != "xinyi-pd" || b["model_version"] != "1" || b["id"] != "r1" {
		t.Errorf("infer header %v", b)
	}
	outs := b["outputs"].([]any)
	if len(outs) != 2 {
		t.Fatalf("outputs %v", outs)
	}
	wantMargin := []float64{-3, 2.5, -0.5}
	for _, o := range outs {
		o := o.(map[string]any)
		if o["datatype"] != "FP64" || fmt.Sprint(o["shape"]) != "[3 1]" {
			t.Errorf("output %v", o)
		}
		for i, v := range o["data"].([]any) {
			want := wantMargin[i]
			if o["name"] == "predict" {
				want = 1 / (1 + math.Exp(-want))
			}
			if math.Abs(v.(float64)-want) > 1e-12 {
				t.Errorf("%s[%d] = %v, want %v", o["name"], i, v, want)
			}
		}
	}
	// One tensor per indicator, only the margin requested, FP32.
	req = `{"inputs":[{"name":"court.dishonest_debtor","shape":[1],"datatype":"FP32","data":[1]},
		{"name":"tax.paid.sum_12m","shape":[1,1],"datatype":"FP32","data":[80]},
		{"name":"network.circle_defaulted","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"margin"}]}`
	s, b = f.do(t, "POST", "/v2/models/xinyi-pd/versions/1/infer", servingtest.BankKey, req)
	if s != 200 {
		t.Fatalf("column infer %d %v", s, b)
	}
	outs = b["outputs"].([]any)
	if len(outs) != 1 || outs[0].(map[string]any)["name"] != "margin" || outs[0].(map[string]any)["data"].([]any)[0].(float64) != 2.5 {
		t.Errorf("column infer outputs %v", outs)
	}
}

// TestMetricsEndpoint: /metrics parses with the Prometheus project's own parser,
// holds every series the docs name with its type, and its counters move by one per
// assessment.
func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	scrape := func() servingtest.Metrics {
		t.Helper()
		resp, err := http.Get(f.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return servingtest.ParseMetrics(t, resp.Body)
	}
	assessed := map[string]string{"transport": "http", "endpoint": "assess", "status": "200"}
	route := map[string]string{"transport": "http", "endpoint": "assess"}
	blue := map[string]string{"rating": "B", "colour": "blue"}

	m := scrape()
	for name, typ := range map[string]dto.MetricType{
		"xinyi_degraded":             dto.MetricType_GAUGE,
		"xinyi_model_swaps_total":    dto.MetricType_COUNTER,
		"xinyi_model_info":           dto.MetricType_GAUGE,
		"xinyi_model_generation":     dto.MetricType_GAUGE,
		"go_goroutines":              dto.MetricType_GAUGE,
		"process_start_time_seconds": dto.MetricType_GAUGE,
	} {
		if m[name] == nil || m[name].GetType() != typ {
			t.Errorf("%s: %v, want a %v", name, m[name], typ)
		}
	}
	if v, ok := m.Gauge("xinyi_model_info", map[string]string{"task": "pd", "name": "xinyi-pd", "version": "1", "feature_set": "credit/v3"}); !ok || v != 1 {
		t.Errorf("xinyi_model_info of pd: %v %v, want 1", v, ok)
	}
	for _, c := range []string{"registry", "blob", "features", "audit", "ratelimit"} {
		if v, ok := m.Gauge("xinyi_degraded", map[string]string{"component": c}); !ok || v != 0 {
			t.Errorf("xinyi_degraded{component=%q}: %v %v, want 0", c, v, ok)
		}
	}
	if got := m.Counter("xinyi_requests_total", assessed); got != 0 {
		t.Fatalf("before any assessment: %v assessments counted", got)
	}
	for i := 1; i <= 2; i++ {
		if s, b := f.do(t, "POST", "/v1/assessments", servingtest.BankKey, fmt.Sprintf(`{"company_code":%q}`, f.env.Good)); s != 200 {
			t.Fatalf("assessment: %d %v", s, b)
		}
		m = scrape()
		for name, typ := range map[string]dto.MetricType{
			"xinyi_requests_total":           dto.MetricType_COUNTER,
			"xinyi_request_duration_seconds": dto.MetricType_HISTOGRAM,
			"xinyi_decisions_total":          dto.MetricType_COUNTER,
		} {
			if m[name] == nil || m[name].GetType() != typ {
				t.Fatalf("after %d assessments %s: %v, want a %v", i, name, m[name], typ)
			}
		}
		if got := m.Counter("xinyi_requests_total", assessed); got != float64(i) {
			t.Errorf("after %d assessments xinyi_requests_total = %v", i, got)
		}
		if n, sum := m.Histogram("xinyi_request_duration_seconds", route); n != uint64(i) || sum <= 0 {
			t.Errorf("after %d assessments the latency histogram counts %d, sums %v", i, n, sum)
		}
		if got := m.Counter("xinyi_decisions_total", blue); got != float64(i) {
			t.Errorf("after %d assessments xinyi_decisions_total{B,blue} = %v", i, got)
		}
	}
}

func FuzzDecodeAssessment(f *testing.F) {
	f.Add([]byte(`{"company_code":"91330604MA4UJ7K21A","products":["a"]}`))
	f.Add([]byte(`{"company_code":1}`))
	f.Add([]byte(`{"company_code":"x","explain":true} x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeAssessment(data)
		if err != nil {
			if status, _ := statusOf(err); status != 400 {
				t.Fatalf("decode error maps to %d: %v", status, err)
			}
			return
		}
		if req.Company == "" {
			t.Fatal("accepted an empty company code")
		}
	})
}

func FuzzDecodeInfer(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"FP64","data":[[1,2,null]]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"credit/v3","shape":[1],"datatype":"FP32","data":1e40}]}`))
	f.Add([]byte(`{"id":"a","inputs":[{"name":"credit/v3","shape":[1],"datatype":"FP64","data":[[[[[[[[[1]]]]]]]]]}],"outputs":[{"name":"margin"}]}`))
	f.Add([]byte(`{"inputs":[{"name":"credit/v3","shape":[2,3],"datatype":"FP64","data":[[1,2,3],[4,5]]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"credit/v3","shape":[2,3],"datatype":"FP64","data":[[1,2,3],4,5,6]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"credit/v3","shape":[2,3],"datatype":"FP64","data":[1,2,3,[4,5,6]]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"credit/v3","shape":[1,3,1],"datatype":"FP64","data":[[[1],[2],[3]]]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"pd","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"tax.paid.sum_12m","shape":[2,1],"datatype":"BYTES","data":[["a"],"b"]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"tax.paid.sum_12m","shape":[1],"datatype":"FP64","data":[1]},{"name":"court.dishonest_debtor","shape":[1],"datatype":"FP64","data":[0]},{"name":"nope","shape":[1],"datatype":"FP64","data":[0]}]}`))
	env := servingtest.New(f)
	srv := oip.New(env.Models, oip.Options{MaxRows: 100})
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeInfer(data, "pd", "")
		if err != nil {
			if status, _ := statusOf(err); status != 400 {
				t.Fatalf("decode error maps to %d: %v", status, err)
			}
			return
		}
		for _, in := range req.Inputs { // no ragged data gets through
			size := 1
			for _, d := range in.Shape {
				size *= int(d)
			}
			if n := len(in.Data); size != n && (in.Datatype != oip.BYTES || size != len(in.Bytes)) {
				t.Fatalf("input %q of shape %v accepted with %d values", in.Name, in.Shape, len(in.Data))
			}
		}
		resp, err := srv.Infer(t.Context(), servingtest.WeihaiBank, req)
		if err != nil {
			if status, _ := statusOf(err); status != 400 {
				t.Fatalf("infer error maps to %d: %v", status, err)
			}
			return
		}
		for _, o := range resp.Outputs {
			for _, v := range o.Data {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("output %s has %v", o.Name, v)
				}
			}
		}
	})
}

func BenchmarkAssessHTTP(b *testing.B) {
	env := servingtest.New(b)
	h, err := New(Options{Service: env.Service, OIP: oip.New(env.Models, oip.Options{Authorizer: env.Auth}), Authorizer: env.Auth, Metrics: serving.NewMetrics(env.Models)})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(fmt.Sprintf(`{"company_code":%q}`, env.Bad))
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

// TestOIPHonoursModelVisibility: the served models are private to the bank of
// BankKey. Another bank's key learns nothing of them through OIP REST (404, the same
// answer as a name nobody holds), and each refused call is in the audit log.
func TestOIPHonoursModelVisibility(t *testing.T) {
	f := newFixture(t, nil)
	infer := `{"inputs":[{"name":"credit/v3","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}`
	calls := []struct{ method, path, body string }{
		{"POST", "/v2/models/pd/infer", infer},
		{"POST", "/v2/models/xinyi-pd/versions/1/infer", infer},
		{"GET", "/v2/models/pd", ""},
		{"GET", "/v2/models/xinyi-violation/versions/1", ""},
		{"GET", "/v2/models/xinyi-limit/ready", ""},
	}
	for _, c := range calls {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			if s, _ := f.do(t, c.method, c.path, servingtest.BankKey, c.body); s != 200 {
				t.Fatalf("owner: status %d, want 200", s)
			}
			before := len(f.env.Audit.Entries())
			s, b := f.do(t, c.method, c.path, servingtest.OtherBankKey, c.body)
			if s != 404 {
				t.Fatalf("other bank: status %d, want 404: %v", s, b)
			}
			// The answer is the one a name nobody holds gets, word for word but
			// for the id of each request.
			name := strings.Split(c.path, "/")[3]
			_, nobody := f.do(t, c.method, strings.Replace(c.path, name, "no-such-model", 1), servingtest.OtherBankKey, c.body)
			for _, body := range []map[string]any{b, nobody} {
				e, _ := body["error"].(map[string]any)
				if id, _ := e["request_id"].(string); !reqid.Valid(id) {
					t.Fatalf("error answer %v has no request id", body)
				}
				delete(e, "request_id")
			}
			got, _ := json.Marshal(b)
			want, _ := json.Marshal(nobody)
			if string(got) != strings.ReplaceAll(string(want), "no-such-model", name) {
				t.Errorf("a private model answers %s, an unknown one %s", got, want)
			}
			entries := f.env.Audit.Entries()
			if len(entries) <= before {
				t.Fatal("the refusal was not audited")
			}
			e := entries[before]
			if e.Outcome != audit.OutcomeRefused || e.Action != string(access.ActionReadModel) || !strings.HasPrefix(e.Subject, "model:xinyi-") ||
				e.Actor != servingtest.OtherBank.Actor() {
				t.Errorf("audit record %+v", e)
			}
		})
	}
	// A regulator is no owner either.
	if s, _ := f.do(t, "POST", "/v2/models/pd/infer", servingtest.RegulatorKey, infer); s != 404 {
		t.Errorf("regulator: status %d, want 404", s)
	}
}
