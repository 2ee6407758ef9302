package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"
	"github.com/xinyi-platform/xinyi/internal/httperr"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/registry/httpapi"
)

const xgbDir = "../../gbdt/testdata/xgboost"

var gmscNames = []string{"RevolvingUtilizationOfUnsecuredLines", "age", "NumberOfTime30_59DaysPastDueNotWorse", "DebtRatio",
	"MonthlyIncome", "NumberOfOpenCreditLinesAndLoans", "NumberOfTimes90DaysLate", "NumberRealEstateLoansOrLines",
	"NumberOfTime60_89DaysPastDueNotWorse", "NumberOfDependents"}

type fixture struct {
	h    http.Handler
	keys map[string]string // user -> API key
	reg  *registry.Registry
	log  *audit.Log
}

// newFixture builds a registry on SQLite and a local folder with users alice
// (data scientist), carol (approver) at bank A and bob (data scientist) at bank B.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	blobs, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureOn(t, blobs)
}

// newFixtureOn is newFixture over the object store blobs.
func newFixtureOn(t testing.TB, blobs blob.Store) *fixture {
	t.Helper()
	return newFixtureWith(t, blobs, registry.Options{MaxUploadBytes: 1 << 20, PollInterval: 50 * time.Millisecond})
}

// newFixtureWith is newFixture over blobs with the registry options opts.
func newFixtureWith(t testing.TB, blobs blob.Store, opts registry.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	fs := registry.StaticFeatureSets{"gmsc": {1: gmscNames, 2: gmscNames[1:]}}
	reg, err := registry.Open(ctx, db, blobs, fs, log, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{h: httpapi.New(reg, acc, httpapi.Options{}), keys: map[string]string{}, reg: reg, log: log}
	bankA, _ := acc.CreateInstitution(ctx, "setup", "Bank A", access.KindBank)
	bankB, _ := acc.CreateInstitution(ctx, "setup", "Bank B", access.KindBank)
	for _, u := range []struct {
		name string
		inst int64
		role access.Role
	}{{"alice", bankA.ID, access.RoleDataScientist}, {"carol", bankA.ID, access.RoleApprover}, {"bob", bankB.ID, access.RoleDataScientist}} {
		usr, err := acc.CreateUser(ctx, "setup", u.name, u.inst, u.role)
		if err != nil {
			t.Fatal(err)
		}
		if f.keys[u.name], _, err = acc.IssueKey(ctx, "setup", usr.ID, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// do sends a request as user ("" for none) and returns status and body.
func (f *fixture) do(t testing.TB, user, method, path string, body io.Reader, contentType string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if user != "" {
		key := f.keys[user]
		if key == "" {
			key = user // a literal (bad) key
		}
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func (f *fixture) json(t testing.TB, user, method, path string, v any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return f.do(t, user, method, path, bytes.NewReader(b), "application/json")
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(xgbDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multipartUpload builds a multipart body with the model file and a meta part
// carrying XGBoost's golden rows and predictions as the parity check.
func multipartUpload(t testing.TB, file, golden string, perturb bool) (io.Reader, string) {
	t.Helper()
	var g struct {
		Rows       [][]*float64 `json:"rows"`
		Prediction []float64    `json:"prediction"`
	}
	if err := json.Unmarshal(readFile(t, golden+".golden.json"), &g); err != nil {
		t.Fatal(err)
	}
	if perturb {
		g.Prediction[0] += 0.01
	}
	meta, _ := json.Marshal(map[string]any{
		"feature_set": "gmsc", "feature_set_version": 1, "metrics": map[string]float64{"auc": 0.8},
		"parity": map[string]any{"rows": g.Rows, "expected": g.Prediction, "tolerance": 1e-6},
	})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("model", file)
	fw.Write(readFile(t, file))
	mf, _ := mw.CreateFormField("meta")
	mf.Write(meta)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestFlow(t *testing.T) {
	f := newFixture(t)
	const base = "/v1/registry"
	code, body := f.json(t, "alice", "POST", base+"/models", map[string]any{"name": "pd-smb", "task": "pd", "description": "SMB PD"})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	// Raw upload with metadata in the query.
	raw := readFile(t, "binary_depthwise.json")
	code, body = f.do(t, "alice", "POST", base+"/models/pd-smb/versions?feature_set=gmsc&feature_set_version=1&filename=m.json", bytes.NewReader(raw), "application/octet-stream")
	if code != http.StatusCreated {
		t.Fatalf("raw upload: %d %s", code, body)
	}
	var v1 registry.Version
	json.Unmarshal(body, &v1)
	if v1.Version != 1 || v1.Lineage.Filename != "m.json" || v1.Parity != nil {
		t.Fatalf("version %+v", v1)
	}
	// Multipart upload with a parity check.
	mp, ct := multipartUpload(t, "binary_lossguide.ubj", "binary_lossguide", false)
	code, body = f.do(t, "alice", "POST", base+"/models/pd-smb/versions", mp, ct)
	if code != http.StatusCreated {
		t.Fatalf("multipart upload: %d %s", code, body)
	}
	var v2 registry.Version
	json.Unmarshal(body, &v2)
	if v2.Version != 2 || v2.Parity == nil || !v2.Parity.Passed || v2.Lineage.Filename != "binary_lossguide.ubj" {
		t.Fatalf("version %+v", v2)
	}
	// Download: same bytes, same digest.
	code, body = f.do(t, "alice", "GET", base+"/models/pd-smb/versions/1/artifact?original=true", nil, "")
	sum := sha256.Sum256(body)
	if code != http.StatusOK || !bytes.Equal(body, raw) || hex.EncodeToString(sum[:]) != v1.OriginalDigest {
		t.Fatalf("download original: %d, %d bytes", code, len(body))
	}
	code, body = f.do(t, "alice", "GET", base+"/models/pd-smb/versions/1/artifact", nil, "")
	sum = sha256.Sum256(body)
	if code != http.StatusOK || hex.EncodeToString(sum[:]) != v1.ArtifactDigest {
		t.Fatalf("download canonical: %d", code)
	}

	// Long-poll the feed while carol approves alice's promotion.
	code, body = f.do(t, "alice", "GET", base+"/changes?after=0", nil, "")
	var feed httpapi.ChangesResponse
	json.Unmarshal(body, &feed)
	if code != http.StatusOK || len(feed.Changes) != 3 {
		t.Fatalf("feed: %d %s", code, body)
	}
	code, body = f.json(t, "alice", "POST", base+"/models/pd-smb/promotions", map[string]any{"alias": "champion", "version": 2, "note": "better KS"})
	if code != http.StatusCreated {
		t.Fatalf("request: %d %s", code, body)
	}
	var pr registry.Promotion
	json.Unmarshal(body, &pr)
	got := make(chan httpapi.ChangesResponse, 1)
	go func() {
		_, b := f.do(t, "alice", "GET", fmt.Sprintf("%s/changes?after=%d&wait=10s", base, feed.Last+1), nil, "")
		var r httpapi.ChangesResponse
		json.Unmarshal(b, &r)
		got <- r
	}()
	time.Sleep(50 * time.Millisecond)
	code, body = f.json(t, "carol", "POST", fmt.Sprintf("%s/promotions/%d/approve", base, pr.ID), map[string]string{"note": "ok"})
	if code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, body)
	}
	select {
	case r := <-got:
		if len(r.Changes) == 0 || r.Changes[0].Kind != "promotion.approved" {
			t.Fatalf("long-poll got %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll did not wake on the approval")
	}
	code, body = f.do(t, "alice", "GET", base+"/models/pd-smb/aliases/champion", nil, "")
	var champ registry.Version
	json.Unmarshal(body, &champ)
	if code != http.StatusOK || champ.Version != 2 {
		t.Fatalf("champion: %d %s", code, body)
	}
	code, body = f.do(t, "alice", "GET", base+"/models/pd-smb/history", nil, "")
	if code != http.StatusOK || !bytes.Contains(body, []byte("model.promotion.approve")) {
		t.Fatalf("history: %d %s", code, body)
	}
	if _, err := f.log.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestErrorStatus(t *testing.T) {
	f := newFixture(t)
	const base = "/v1/registry"
	if code, body := f.json(t, "alice", "POST", base+"/models", map[string]any{"name": "pd", "task": "pd"}); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	raw := readFile(t, "binary_depthwise.json")
	upload := base + "/models/pd/versions?feature_set=gmsc&feature_set_version=1"
	if code, body := f.do(t, "alice", "POST", upload, bytes.NewReader(raw), ""); code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	badParity, badParityCT := multipartUpload(t, "binary_lossguide.json", "binary_lossguide", true)
	tests := []struct {
		name, user, method, path string
		body                     io.Reader
		ct                       string
		want                     int
		code, mention            string
	}{
		{"no key", "", "GET", base + "/models", nil, "", 401, "unauthenticated", "no API key"},
		{"unknown key", "xy_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GET", base + "/models", nil, "", 401, "unauthenticated", "unknown API key"},
		{"malformed key", "hello", "GET", base + "/models", nil, "", 401, "unauthenticated", "malformed"},
		{"unknown model", "alice", "GET", base + "/models/nope", nil, "", 404, "not_found", "nope"},
		{"other bank's model", "bob", "GET", base + "/models/pd", nil, "", 404, "not_found", ""},
		{"unknown version", "alice", "GET", base + "/models/pd/versions/9", nil, "", 404, "not_found", "version 9"},
		{"bad version", "alice", "GET", base + "/models/pd/versions/x", nil, "", 400, "invalid_input", "version"},
		{"corrupt file", "alice", "POST", upload, bytes.NewReader(raw[:len(raw)/3]), "", 422, "validation_failed", "corrupt"},
		{"wrong features", "alice", "POST", strings.Replace(upload, "version=1", "version=2", 1), bytes.NewReader(readFile(t, "binary_lossguide.json")), "", 422, "validation_failed", `not in the set ["RevolvingUtilizationOfUnsecuredLines"]`},
		{"parity failure", "alice", "POST", base + "/models/pd/versions", badParity, badParityCT, 422, "validation_failed", "parity"},
		{"too large", "alice", "POST", upload, bytes.NewReader(make([]byte, 2<<20)), "", 413, "body_too_large", ""},
		{"bad JSON", "alice", "POST", base + "/models", strings.NewReader("{"), "application/json", 400, "invalid_input", "JSON"},
		{"unknown JSON field", "alice", "POST", base + "/models", strings.NewReader(`{"name":"x","task":"pd","owner":"me"}`), "application/json", 400, "invalid_input", "owner"},
		{"bad task", "alice", "POST", base + "/models", strings.NewReader(`{"name":"x","task":"churn"}`), "application/json", 400, "invalid_input", "churn"},
		{"duplicate model", "alice", "POST", base + "/models", strings.NewReader(`{"name":"pd","task":"pd"}`), "application/json", 409, "conflict", "taken"},
		{"approver cannot upload", "carol", "POST", upload, bytes.NewReader(raw), "", 403, "forbidden", "role"},
		{"champion needs approval", "alice", "PUT", base + "/models/pd/aliases/champion", strings.NewReader(`{"version":1}`), "application/json", 409, "conflict", "four-eyes"},
		{"immutable version", "alice", "DELETE", base + "/models/pd/versions/1", nil, "", 409, "conflict", "immutable"},
		{"unshare by another bank", "bob", "PATCH", base + "/models/pd", strings.NewReader(`{"shared":false}`), "application/json", 404, "not_found", "pd"},
		{"empty update", "alice", "PATCH", base + "/models/pd", strings.NewReader(`{}`), "application/json", 400, "invalid_input", "nothing to update"},
		{"bad wait", "alice", "GET", base + "/changes?wait=forever", nil, "", 400, "invalid_input", "wait"},
		{"unknown promotion", "carol", "POST", base + "/promotions/77/approve", nil, "", 404, "not_found", "77"},
		{"unknown path", "alice", "GET", base + "/nothing", nil, "", 404, "not_found", "/v1/registry/nothing"},
		{"wrong method", "", "PUT", base + "/models", nil, "", 404, "not_found", "PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do(t, tt.user, tt.method, tt.path, tt.body, tt.ct)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, body)
			}
			var eb httperr.Body
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code != tt.code {
				t.Fatalf("error body %s (%v), want code %s", body, err, tt.code)
			}
			if !strings.Contains(eb.Error.Message, tt.mention) {
				t.Fatalf("message %q does not mention %q", eb.Error.Message, tt.mention)
			}
		})
	}
	t.Run("champion without evaluation", func(t *testing.T) {
		code, body := f.json(t, "alice", "POST", base+"/models/pd/promotions", map[string]any{"alias": "champion", "version": 1})
		if code != http.StatusBadRequest || !strings.Contains(string(body), "pd version 1 has no evaluation") {
			t.Fatalf("%d %s", code, body)
		}
	})
	mp, ct := multipartUpload(t, "binary_lossguide.json", "binary_lossguide", false)
	if code, body := f.do(t, "alice", "POST", base+"/models/pd/versions", mp, ct); code != http.StatusCreated {
		t.Fatalf("upload with metrics: %d %s", code, body)
	}
	t.Run("self approval", func(t *testing.T) {
		code, body := f.json(t, "alice", "POST", base+"/models/pd/promotions", map[string]any{"alias": "champion", "version": 2})
		if code != http.StatusCreated {
			t.Fatalf("%d %s", code, body)
		}
		var pr registry.Promotion
		json.Unmarshal(body, &pr)
		code, body = f.do(t, "alice", "POST", fmt.Sprintf("%s/promotions/%d/approve", base, pr.ID), nil, "")
		if code != http.StatusForbidden {
			t.Fatalf("self approval: %d %s", code, body)
		}
	})
	t.Run("parity report in the error", func(t *testing.T) {
		mp, ct := multipartUpload(t, "binary_lossguide.json", "binary_lossguide", true)
		_, body := f.do(t, "alice", "POST", base+"/models/pd/versions", mp, ct)
		var eb struct {
			Error struct {
				Code    string               `json:"code"`
				Details httpapi.ErrorDetails `json:"details"`
			} `json:"error"`
		}
		json.Unmarshal(body, &eb)
		pr := eb.Error.Details.Parity
		if eb.Error.Code != "validation_failed" || pr == nil || pr.Failures != 1 || pr.FirstFailed[0].Row != 0 {
			t.Fatalf("parity in error: %s", body)
		}
	})
}

func TestChangeStream(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/registry/changes/stream?after=0", nil)
	req.Header.Set("X-API-Key", f.keys["alice"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if code, body := f.json(t, "alice", "POST", "/v1/registry/models", map[string]any{"name": "pd", "task": "pd"}); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := f.json(t, "bob", "POST", "/v1/registry/models", map[string]any{"name": "bobs", "task": "pd"}); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	f.do(t, "alice", "POST", "/v1/registry/models/pd/versions?feature_set=gmsc&feature_set_version=1", bytes.NewReader(readFile(t, "binary_depthwise.json")), "")
	sc := bufio.NewScanner(resp.Body)
	var ids, kinds []string
	for len(kinds) < 2 && sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			ids = append(ids, id)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var c registry.Change
			if err := json.Unmarshal([]byte(data), &c); err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, c.Model+" "+c.Kind)
		}
	}
	// bob's model (seq 2) is invisible to alice: her stream skips it.
	if strings.Join(ids, ",") != "1,3" || strings.Join(kinds, ",") != "pd model.created,pd version.created" {
		t.Fatalf("events ids %v kinds %v (%v)", ids, kinds, sc.Err())
	}
}

func BenchmarkResolveAlias(b *testing.B) {
	f := newFixture(b)
	f.json(b, "alice", "POST", "/v1/registry/models", map[string]any{"name": "pd", "task": "pd"})
	f.do(b, "alice", "POST", "/v1/registry/models/pd/versions?feature_set=gmsc&feature_set_version=1", bytes.NewReader(readFile(b, "binary_depthwise.json")), "")
	if code, body := f.json(b, "alice", "PUT", "/v1/registry/models/pd/aliases/challenger", map[string]int{"version": 1}); code != 200 {
		b.Fatalf("%d %s", code, body)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if code, body := f.do(b, "alice", "GET", "/v1/registry/models/pd/aliases/challenger", nil, ""); code != 200 {
			b.Fatalf("%d %s", code, body)
		}
	}
}

// downStore is an object store that can be taken down: while down, every call
// fails as an unreachable MinIO does (blob.ErrUnavailable).
type downStore struct {
	blob.Store
	down atomic.Bool
}

func (d *downStore) err(op, key string) error {
	if d.down.Load() {
		return fmt.Errorf("%w: %s %s: minio at 127.0.0.1:1 (bucket b): connection refused", blob.ErrUnavailable, op, key)
	}
	return nil
}

func (d *downStore) Put(ctx context.Context, key string, r io.Reader) (blob.Info, error) {
	if err := d.err("put", key); err != nil {
		return blob.Info{}, err
	}
	return d.Store.Put(ctx, key, r)
}

func (d *downStore) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	if err := d.err("get", key); err != nil {
		return nil, blob.Info{}, err
	}
	return d.Store.Get(ctx, key)
}

// checkError checks an answer's status, code and Retry-After, and that the
// message mentions every one of mention.
func checkError(t *testing.T, code int, hdr http.Header, body []byte, wantStatus int, wantCode, retryAfter string, mention ...string) {
	t.Helper()
	if code != wantStatus {
		t.Fatalf("status %d, want %d: %s", code, wantStatus, body)
	}
	var eb httperr.Body
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code != wantCode {
		t.Fatalf("body %s (%v), want code %s", body, err, wantCode)
	}
	if got := hdr.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
	for _, m := range mention {
		if !strings.Contains(eb.Error.Message, m) {
			t.Errorf("message %q does not mention %q", eb.Error.Message, m)
		}
	}
}

func (f *fixture) doHeader(t testing.TB, user, method, path string, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Authorization", "Bearer "+f.keys[user])
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

// registerOne creates model pd and uploads one version as alice.
func (f *fixture) registerOne(t *testing.T) registry.Version {
	t.Helper()
	if code, body := f.json(t, "alice", "POST", "/v1/registry/models", map[string]any{"name": "pd", "task": "pd"}); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	code, body := f.do(t, "alice", "POST", "/v1/registry/models/pd/versions?feature_set=gmsc&feature_set_version=1", bytes.NewReader(readFile(t, "binary_depthwise.json")), "")
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	var v registry.Version
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCorruptArtifact(t *testing.T) {
	local, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, local)
	v := f.registerOne(t)
	const path = "/v1/registry/models/pd/versions/1/artifact"
	if code, _, body := f.doHeader(t, "alice", "GET", path, nil); code != http.StatusOK {
		t.Fatalf("intact artifact: %d %s", code, body)
	}
	file := local.Path(v.ArtifactKey)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-10] ^= 0x20
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, hdr, body := f.doHeader(t, "alice", "GET", path, nil)
	checkError(t, code, hdr, body, http.StatusInternalServerError, "corrupt_artifact", "", "model pd version 1", "sha256:"+v.ArtifactDigest)

	if err := local.Delete(context.Background(), v.OriginalKey); err != nil {
		t.Fatal(err)
	}
	code, hdr, body = f.doHeader(t, "alice", "GET", path+"?original=true", nil)
	checkError(t, code, hdr, body, http.StatusInternalServerError, "corrupt_artifact", "", "model pd version 1", "sha256:"+v.OriginalDigest, "missing")
}

func TestStoreOutage(t *testing.T) {
	local, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &downStore{Store: local}
	f := newFixtureOn(t, store)
	f.registerOne(t)
	store.down.Store(true)
	code, hdr, body := f.doHeader(t, "alice", "GET", "/v1/registry/models/pd/versions/1/artifact", nil)
	checkError(t, code, hdr, body, http.StatusServiceUnavailable, "store_unavailable", "5", "retry")
	if bytes.Contains(body, []byte("127.0.0.1")) {
		t.Errorf("the answer reveals the store's address: %s", body)
	}
	code, hdr, body = f.doHeader(t, "alice", "POST", "/v1/registry/models/pd/versions?feature_set=gmsc&feature_set_version=1", bytes.NewReader(readFile(t, "binary_lossguide.json")))
	checkError(t, code, hdr, body, http.StatusServiceUnavailable, "store_unavailable", "5")
	store.down.Store(false)
	if code, _, body := f.doHeader(t, "alice", "GET", "/v1/registry/models/pd/versions/1/artifact", nil); code != http.StatusOK {
		t.Fatalf("after the outage: %d %s", code, body)
	}
}

// TestMinIOOutage stops a real MinIO server under the registry API: reads and
// uploads answer 503 with Retry-After, not a bare 500.
func TestMinIOOutage(t *testing.T) {
	srv := miniotest.Start(t)
	f := newFixtureOn(t, srv.Open(t))
	f.registerOne(t)
	srv.Stop()
	code, hdr, body := f.doHeader(t, "alice", "GET", "/v1/registry/models/pd/versions/1/artifact", nil)
	checkError(t, code, hdr, body, http.StatusServiceUnavailable, "store_unavailable", "5")
	code, hdr, body = f.doHeader(t, "alice", "POST", "/v1/registry/models/pd/versions?feature_set=gmsc&feature_set_version=1", bytes.NewReader(readFile(t, "binary_lossguide.json")))
	checkError(t, code, hdr, body, http.StatusServiceUnavailable, "store_unavailable", "5")
}

// TestUploadBindsColumnsAndCreates: a legacy binary without names is refused
// unless the query gives its columns; with task= a model is created with its first
// version, and a refused upload leaves no model behind.
func TestUploadBindsColumnsAndCreates(t *testing.T) {
	f := newFixture(t)
	const base = "/v1/registry"
	legacy := readFile(t, "binary_depthwise.binf.model")
	status, body := f.do(t, "alice", "POST", base+"/models/pd-new/versions?task=pd&feature_set=gmsc/v1", bytes.NewReader(legacy), "")
	if status != 422 || !bytes.Contains(body, []byte("does not name its columns")) {
		t.Fatalf("legacy binary without columns: %d %s", status, body)
	}
	if status, body := f.do(t, "alice", "GET", base+"/models/pd-new", nil, ""); status != 404 {
		t.Fatalf("refused upload left a model: %d %s", status, body)
	}
	// A bare set name is the latest version, gmsc v2, which lacks the first column.
	status, body = f.do(t, "alice", "POST", base+"/models/pd-new/versions?task=pd&feature_set=gmsc&columns="+strings.Join(gmscNames, ","), bytes.NewReader(legacy), "")
	if status != 422 || !bytes.Contains(body, []byte("gmsc/v2")) {
		t.Fatalf("bare set name: %d %s", status, body)
	}
	status, body = f.do(t, "alice", "POST", base+"/models/pd-new/versions?task=pd&feature_set=gmsc/v1&columns="+strings.Join(gmscNames, ","), bytes.NewReader(legacy), "")
	if status != 201 {
		t.Fatalf("legacy binary with columns: %d %s", status, body)
	}
	var v registry.Version
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != 1 || v.FeatureSetVersion != 1 || strings.Join(v.Columns, ",") != strings.Join(gmscNames, ",") {
		t.Fatalf("version %d bound to gmsc v%d with columns %v; want 1, gmsc v1, the file's order", v.Version, v.FeatureSetVersion, v.Columns)
	}
	if status, body := f.do(t, "alice", "POST", base+"/models/x/versions?feature_set=gmsc/v0", bytes.NewReader(legacy), ""); status != 400 || !bytes.Contains(body, []byte("gmsc/v0")) {
		t.Fatalf("bad set reference: %d %s", status, body)
	}
}

// TestDownloadNeedsClearance: a model that reads an indicator above its owner's
// clearance is readable and servable by the owner, but its file is not handed
// over; the refusal says why and is in the audit log. A platform administrator
// (cleared for confidential indicators) may take it.
func TestDownloadNeedsClearance(t *testing.T) {
	ctx := context.Background()
	blobs, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sens := func(f string) string {
		if f == "DebtRatio" {
			return "confidential"
		}
		return "restricted"
	}
	f := newFixtureWith(t, blobs, registry.Options{MaxUploadBytes: 1 << 20, Sensitivity: sens})
	const base = "/v1/registry"
	legacy := readFile(t, "binary_depthwise.binf.model")
	if status, body := f.do(t, "alice", "POST", base+"/models/pd-joint/versions?task=pd&feature_set=gmsc/v1&columns="+strings.Join(gmscNames, ","), bytes.NewReader(legacy), ""); status != 201 {
		t.Fatalf("upload: %d %s", status, body)
	}
	if status, body := f.do(t, "alice", "GET", base+"/models/pd-joint/versions/1", nil, ""); status != 200 {
		t.Fatalf("the owner reads its version: %d %s", status, body)
	}
	for _, path := range []string{"/artifact", "/artifact?original=true"} {
		status, body := f.do(t, "alice", "GET", base+"/models/pd-joint/versions/1"+path, nil, "")
		if status != http.StatusForbidden || !bytes.Contains(body, []byte("confidential")) || !bytes.Contains(body, []byte("split thresholds")) {
			t.Fatalf("download %s of a confidential model by a bank: %d %s", path, status, body)
		}
	}
	// Bank B learns nothing: not found, as for a name nobody holds.
	if status, body := f.do(t, "bob", "GET", base+"/models/pd-joint/versions/1/artifact", nil, ""); status != http.StatusNotFound {
		t.Fatalf("another bank's download: %d %s", status, body)
	}
	recs, err := f.log.List(ctx, audit.Filter{Action: "model.download"})
	if err != nil {
		t.Fatal(err)
	}
	var refused, hidden int
	for _, r := range recs {
		if r.Outcome != audit.OutcomeRefused {
			continue
		}
		if strings.HasPrefix(r.Actor, "alice@") && strings.Contains(r.Reason, "confidential") {
			refused++
		}
		if strings.HasPrefix(r.Actor, "bob@") {
			hidden++
		}
	}
	if refused != 2 || hidden != 1 {
		t.Fatalf("audited refusals: %d of alice's downloads (want 2), %d of bob's (want 1) in %+v", refused, hidden, recs)
	}
	// The model is still served: the registry hands it to serving.
	data, _, err := f.reg.Artifact(ctx, access.Principal{User: "serving", InstitutionID: 1, InstitutionKind: access.KindBank}, "pd-joint", 1, false)
	if err != nil || len(data) == 0 {
		t.Fatalf("serving's read: %d bytes, %v", len(data), err)
	}
}
