package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

func taxCSV(t *testing.T, n int) string {
	var b strings.Builder
	b.WriteString("纳税人识别号,所属期,销售额,增值税,企业所得税,实缴税额,利润总额,开票数量,欠税金额,纳税信用等级\n")
	for i := range n {
		code, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s,2024-03,1000,30,0,30,100,2,0,A\n", code)
	}
	return b.String()
}

func TestIngestOverHTTP(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		log, err := audit.Open(ctx, db, audit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		accessStore, err := access.Open(ctx, db, access.Options{Audit: log})
		if err != nil {
			t.Fatal(err)
		}
		taxKey, _ := accesstest.User(t, accessStore, "上虞区税务局", access.KindDepartment, "li", access.RoleDepartment)
		courtKey, _ := accesstest.User(t, accessStore, "上虞区人民法院", access.KindDepartment, "wang", access.RoleDepartment)
		bankKey, _ := accesstest.User(t, accessStore, "Shangyu Rural Bank", access.KindBank, "zhao", access.RoleBank, access.RoleAdmin)
		store, err := blob.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		h, err := New(Options{
			Ingester: ingest.New(store), Store: store, Auth: accessStore,
			Authorizer: access.NewAuthorizer(accessStore, log), Audit: log,
			Owner:  OwnersByName(accessStore, map[string]string{"tax": "上虞区税务局", "court": "上虞区人民法院"}),
			Ingest: ingest.Options{Now: func() time.Time { return time.Date(2024, 4, 15, 9, 0, 0, 0, time.UTC) }},
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		do := func(method, path, key, ctype, body string) (int, map[string]any) {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
			}
			return resp.StatusCode, m
		}
		data := taxCSV(t, 25)
		status, m := do("POST", "/v1/ingest/tax?name=march.csv", taxKey, "text/csv", data)
		if status != http.StatusCreated || m["accepted"] != float64(25) {
			t.Fatalf("post: %d %v", status, m)
		}
		batch := m["id"]
		if status, m = do("POST", "/v1/ingest/tax", taxKey, "text/csv; charset=utf-8", data); status != http.StatusOK || m["id"] != batch {
			t.Fatalf("repeat: %d %v", status, m)
		}
		// Another department, and a bank administrator, cannot write the tax source.
		for _, key := range []string{courtKey, bankKey} {
			if status, m = do("POST", "/v1/ingest/tax", key, "text/csv", taxCSV(t, 3)); status != http.StatusForbidden {
				t.Fatalf("foreign write: %d %v", status, m)
			}
		}
		if status, _ = do("GET", "/v1/ingest/tax/batches", courtKey, "", ""); status != http.StatusForbidden {
			t.Fatalf("foreign history: %d", status)
		}
		// A GBK file sent as UTF-8: a clear 400, nothing stored.
		gbk, _ := simplifiedchinese.GBK.NewEncoder().String(taxCSV(t, 5))
		if status, m = do("POST", "/v1/ingest/tax", taxKey, "text/csv; charset=utf-8", gbk); status != http.StatusBadRequest ||
			!strings.Contains(fmt.Sprint(m["error"]), "wrong_encoding") {
			t.Fatalf("wrong encoding: %d %v", status, m)
		}
		if status, m = do("POST", "/v1/ingest/weather", taxKey, "text/csv", data); status != http.StatusNotFound {
			t.Fatalf("unknown source: %d %v", status, m)
		}
		status, m = do("GET", "/v1/ingest/tax/batches", taxKey, "", "")
		if status != http.StatusOK || len(m["batches"].([]any)) != 1 {
			t.Fatalf("history: %d %v", status, m)
		}
		src, _ := datasets.SourceByName("tax")
		march, _ := datasets.ParseMonth("2024-03")
		rows, err := datasets.ReadMonth[datasets.TaxRow](ctx, store, src, march)
		if err != nil || len(rows) != 25 {
			t.Fatalf("%d rows visible (%v), want 25", len(rows), err)
		}
		// The audit chain holds every attempt: two taken, three refused by access
		// (two writes, one history read), one refused for its encoding.
		recs, err := log.List(ctx, audit.Filter{Subject: "source:tax"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Actor[:strings.IndexByte(r.Actor, '@')]+" "+r.Action+" "+r.Outcome)
		}
		want := []string{"li source.ingest ok", "li source.ingest ok", "wang source.ingest refused", "zhao source.ingest refused",
			"wang source.history refused", "li source.ingest refused"}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Fatalf("audit records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(string(recs[0].After), `"accepted":25`) || !strings.Contains(string(recs[1].After), `"repeated":true`) {
			t.Fatalf("audit detail: %s / %s", recs[0].After, recs[1].After)
		}
		if _, err := log.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
