package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving"
	servingaccess "github.com/xinyi-platform/xinyi/serving/access"
	"github.com/xinyi-platform/xinyi/serving/inspection"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

type screeningJobs map[string]serving.Job

func (s screeningJobs) Screening(_ context.Context, id string) (serving.Job, error) {
	j, ok := s[id]
	if !ok {
		return serving.Job{}, fmt.Errorf("%w: %q", serving.ErrUnknownJob, id)
	}
	return j, nil
}

// TestInspectionLoopOverHTTP draws a plan, records results, exports it and reads
// the hit rates through the routes, with keys of a real access store.
func TestInspectionLoopOverHTTP(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	regKey, reg := accesstest.User(t, acc, "上虞区市场监管局", access.KindRegulator, "reg", access.RoleRegulator)
	bankKey, _ := accesstest.User(t, acc, "某银行", access.KindBank, "banker", access.RoleBank)
	otherKey, _ := accesstest.User(t, acc, "柯桥区市场监管局", access.KindRegulator, "other", access.RoleRegulator)
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// 10 firms: 2 high (all drawn), 8 low at 0.25 (2 drawn).
	var rows []serving.ScreenRow
	for i := range 10 {
		c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
		if err != nil {
			t.Fatal(err)
		}
		tier, ratio := "low", 0.25
		if i < 2 {
			tier, ratio = "high", 1
		}
		rows = append(rows, serving.ScreenRow{Rank: i + 1, Company: c, Probability: 0.5 - float64(i)*0.04, Tier: tier, SamplingRatio: ratio})
	}
	res := &serving.ScreenResult{ID: "1-http", Task: serving.TaskViolation, AsOf: time.Now(), Rows: rows}
	if _, err := serving.WriteScreening(ctx, store, res); err != nil {
		t.Fatal(err)
	}
	res.Rows = nil
	jobs := screeningJobs{"1-http": {ID: "1-http", State: serving.JobDone, InstitutionID: reg.InstitutionID, Result: res}}
	insp, err := inspection.Open(ctx, inspection.Options{DB: db, Store: store, Screenings: jobs, Authorizer: servingaccess.New(acc, log), Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	env := servingtest.New(t)
	h, err := New(Options{Service: env.Service, OIP: oip.New(env.Models, oip.Options{Authorizer: env.Auth}), Authorizer: servingaccess.New(acc, log),
		Inspections: insp})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv}

	draw := `{"inspectors":["张三","李四","王五"],"seed":42}`
	if s, b := f.do(t, "POST", "/v1/screenings/1-http/plans", bankKey, draw); s != 403 || errCode(b) != "forbidden" {
		t.Fatalf("bank draws: %d %v", s, b)
	}
	if s, b := f.do(t, "POST", "/v1/screenings/1-http/plans", otherKey, draw); s != 404 || errCode(b) != "unknown_screening" {
		t.Fatalf("other regulator draws: %d %v", s, b)
	}
	if s, b := f.do(t, "POST", "/v1/screenings/1-http/plans", regKey, `{"inspectors":[]}`); s != 400 {
		t.Fatalf("no inspectors: %d %v", s, b)
	}
	s, b := f.do(t, "POST", "/v1/screenings/1-http/plans", regKey, draw)
	if s != 201 || b["seed"].(float64) != 42 || len(b["items"].([]any)) != 4 {
		t.Fatalf("draw: %d %v", s, b)
	}
	id := int64(b["id"].(float64))
	items := b["items"].([]any)
	first := items[0].(map[string]any)
	code, team := first["company_code"].(string), first["inspectors"].([]any)
	path := fmt.Sprintf("/v1/plans/%d", id)
	if s, b := f.do(t, "GET", path, otherKey, ""); s != 404 || errCode(b) != "unknown_plan" {
		t.Fatalf("other regulator reads: %d %v", s, b)
	}
	result := fmt.Sprintf(`{"company_code":%q,"outcome":"problem","category":"licence","date":%q,"inspector":%q}`, code, time.Now().UTC().Format(time.DateOnly), team[0])
	if s, b := f.do(t, "POST", path+"/results", otherKey, result); s != 404 {
		t.Fatalf("other regulator records: %d %v", s, b)
	}
	if s, b := f.do(t, "POST", path+"/results", regKey, result); s != 201 || b["revision"].(float64) != 0 {
		t.Fatalf("record: %d %v", s, b)
	}
	if s, b := f.do(t, "POST", path+"/results", regKey, result); s != 409 || errCode(b) != "already_recorded" {
		t.Fatalf("record twice: %d %v", s, b)
	}
	drawn := map[string]bool{}
	for _, it := range items {
		drawn[it.(map[string]any)["company_code"].(string)] = true
	}
	var notDrawn string
	for _, r := range rows {
		if !drawn[r.Company] {
			notDrawn = strings.Replace(result, code, r.Company, 1)
			break
		}
	}
	if s, b := f.do(t, "POST", path+"/results", regKey, notDrawn); s != 422 || errCode(b) != "not_in_plan" {
		t.Fatalf("firm not in plan: %d %v", s, b)
	}
	if s, b := f.do(t, "GET", path, regKey, ""); s != 200 || b["items"].([]any)[0].(map[string]any)["result"] == nil {
		t.Fatalf("plan: %d %v", s, b)
	}

	req, _ := http.NewRequest("GET", srv.URL+path+"/export?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+regKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		resp.Header.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="plan-%d.csv"`, id) ||
		!strings.HasPrefix(string(data), "\ufeff统一社会信用代码,企业名称,住所,所属区县,行业,风险层级,违法概率,检查人员") || strings.Count(string(data), "\r\n") != 5 {
		t.Fatalf("export: %d %v %q", resp.StatusCode, resp.Header, data)
	}
	if s, b := f.do(t, "GET", path+"/export?format=csv", bankKey, ""); s != 403 {
		t.Fatalf("bank exports: %d %v", s, b)
	}

	s, b = f.do(t, "GET", "/v1/inspections/hit-rates", regKey, "")
	if s != 200 {
		t.Fatalf("hit rates: %d %v", s, b)
	}
	overall := b["overall"].(map[string]any)
	if overall["inspected"].(float64) != 1 || overall["found"].(float64) != 1 || overall["hit_rate"].(float64) != 1 || b["baseline"] != nil {
		t.Errorf("hit rates: %v", b)
	}
	if s, _ := f.do(t, "GET", "/v1/plans/x", regKey, ""); s != 400 {
		t.Errorf("bad plan id: %d", s)
	}
}
