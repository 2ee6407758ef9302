package features_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/parquet-go/parquet-go"

	core "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/blob/minio"
	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/features"
	"github.com/xinyi-platform/xinyi/serving/httpapi"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	miniotest.StopShared()
	os.Exit(code)
}

// creditRow is one row of a snapshot of servingtest.Set, written with parquet-go
// directly (not through the feature store's writer).
type creditRow struct {
	Code      string   `parquet:"code"`
	Tax       *float64 `parquet:"tax.paid.sum_12m,optional"`
	Dishonest *float64 `parquet:"court.dishonest_debtor,optional"`
	Circle    *float64 `parquet:"network.circle_defaulted,optional"`
}

func f64(v float64) *float64 { return &v }

// putSnapshot publishes a snapshot of servingtest.Set as of asof: one part, then the
// manifest. rows maps company codes to their three values. It returns the part's key.
func putSnapshot(t *testing.T, store blob.Store, asof string, rows map[string][3]float64) string {
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[creditRow](&buf)
	for code, v := range rows {
		if _, err := w.Write([]creditRow{{Code: code, Tax: f64(v[0]), Dishonest: f64(v[1]), Circle: f64(v[2])}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	set := servingtest.Set
	prefix := fmt.Sprintf("features/%s/v%d/asof=%s/", set.Name, set.Version, asof)
	part := prefix + "part-00000.parquet"
	info, err := store.Put(ctx, part, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m := core.Manifest{Set: set.Name, Version: set.Version, AsOf: asof, Rows: int64(len(rows)), Indicators: set.Indicators,
		Parts: []core.Part{{FileRef: core.FileRef{Key: part, SHA256: info.SHA256, Size: info.Size, Rows: int64(len(rows))}}}}
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, prefix+"_manifest.json", bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
	return part
}

// damage corrupts one object of a store as bit rot would (the recorded digest kept)
// and returns its repair: the good bytes put back.
type damage func(t *testing.T, store blob.Store, key string) (repair func())

// rot flips one content byte of an object of the local store in place, keeping its
// modification time.
func rot(t *testing.T, store blob.Store, key string) (repair func()) {
	t.Helper()
	path := store.(*blob.Local).Path(key)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	bad[blob.HeaderLen+(len(good)-blob.HeaderLen)/2] ^= 0x01
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(path, good, 0o644); err != nil {
			t.Error(err)
		}
		later := st.ModTime().Add(time.Minute) // visible even where times are coarse
		if err := os.Chtimes(path, later, later); err != nil {
			t.Error(err)
		}
	}
}

// rotMinIO rewrites an object through the raw client with one byte flipped and the
// recorded sha256 carried over; the repair puts the good bytes back through the store.
func rotMinIO(srv *miniotest.Server) damage {
	return func(t *testing.T, store blob.Store, key string) func() {
		t.Helper()
		ctx := context.Background()
		good, _, err := blob.ReadAll(ctx, store, key)
		if err != nil {
			t.Fatal(err)
		}
		c := srv.Client(t)
		bucket := store.(*minio.Store).Bucket()
		st, err := c.StatObject(ctx, bucket, key, miniogo.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(good)
		bad[len(bad)/2] ^= 0x01
		if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(bad), int64(len(bad)),
			miniogo.PutObjectOptions{UserMetadata: map[string]string{"sha256": st.UserMetadata["Sha256"]}}); err != nil {
			t.Fatal(err)
		}
		rotten, err := store.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			// Put until the listing shows a new modification time (it is kept in ms).
			for range 10 {
				info, err := store.Put(ctx, key, bytes.NewReader(good))
				if err != nil || !info.Modified.Equal(rotten.Modified) {
					if err != nil {
						t.Error(err)
					}
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
}

// backends are the object stores the tests run on: the local folder always, MinIO
// when its binary is installed.
func backends() map[string]func(t *testing.T) (blob.Store, damage) {
	return map[string]func(t *testing.T) (blob.Store, damage){
		"local": func(t *testing.T) (blob.Store, damage) {
			local, err := blob.OpenLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return local, rot
		},
		"minio": func(t *testing.T) (blob.Store, damage) {
			srv := miniotest.Shared(t)
			return srv.Open(t), rotMinIO(srv)
		},
	}
}

// liveServer serves the stump models over stores read from the object store.
type liveServer struct {
	env    *servingtest.Env
	stores *features.Stores
	srv    *httptest.Server
}

func newLiveServer(t *testing.T, store blob.Store) *liveServer {
	t.Helper()
	// Refresh and backoff of an hour: only the content-key check can see a repair.
	return newLiveServerRefresh(t, store, time.Hour)
}

// newLiveServerRefresh is newLiveServer looking for newer snapshots every
// refresh while it serves the newest.
func newLiveServerRefresh(t *testing.T, store blob.Store, refresh time.Duration) *liveServer {
	t.Helper()
	ctx := context.Background()
	env := servingtest.New(t)
	metrics := serving.NewMetrics(env.Models)
	stores, err := features.OpenStores(ctx, features.StoresOptions{Store: store,
		Sets:    map[serving.Task]serving.FeatureSet{serving.TaskPD: servingtest.Set, serving.TaskViolation: servingtest.Set, serving.TaskLimit: servingtest.Set},
		Refresh: refresh, Poll: 10 * time.Millisecond, RetryMin: time.Hour, RetryMax: time.Hour, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serving.New(serving.Options{Models: env.Models, Features: stores.Source(), Policy: env.Service.Policy(),
		Authorizer: env.Auth, Auditor: env.Audit})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Options{Service: svc, OIP: oip.New(env.Models, oip.Options{Ready: stores.Ready}),
		Authorizer: env.Auth, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &liveServer{env: env, stores: stores, srv: srv}
}

func (l *liveServer) get(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, l.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+servingtest.BankKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, data)
	}
	return resp.StatusCode, out
}

func (l *liveServer) assess(t *testing.T, code string) (int, map[string]any) {
	t.Helper()
	return l.get(t, "POST", "/v1/assessments", fmt.Sprintf(`{"company_code":%q}`, code))
}

// waitReady polls /v2/health/ready until cond holds (bounded; the loop polls every 10 ms).
func (l *liveServer) waitReady(t *testing.T, what string, cond func(status int, body map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := l.get(t, "GET", "/v2/health/ready", "")
		if cond(status, body) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d %v", what, status, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func degradedFeatures(body map[string]any) string {
	d, _ := body["degraded"].(map[string]any)
	s, _ := d["features"].(string)
	return s
}

func TestCorruptNewestSnapshotFallsBackAndRepairIsPickedUp(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			store, rot := open(t)
			testFallbackAndRepair(t, store, rot)
		})
	}
}

func testFallbackAndRepair(t *testing.T, local blob.Store, rot damage) {
	env := servingtest.New(t) // for the company codes
	// September: Good is clean (tax 150): B, blue. October swaps the two companies.
	putSnapshot(t, local, "2026-09-30", map[string][3]float64{env.Good: {150, 0, 0}, env.Bad: {80, 1, 1}})
	octPart := putSnapshot(t, local, "2026-10-31", map[string][3]float64{env.Good: {80, 1, 1}, env.Bad: {150, 0, 0}})
	repair := rot(t, local, octPart)

	l := newLiveServer(t, local)
	status, body := l.get(t, "GET", "/v2/health/ready", "")
	reason := degradedFeatures(body)
	if status != 200 || body["ready"] != true {
		t.Fatalf("ready: %d %v; want 200 and ready on the September snapshot", status, body)
	}
	for _, want := range []string{"task pd,violation,limit", "credit/v3", "wanted as of 2026-10-31", "serving as of 2026-09-30", octPart, "sha256"} {
		if !strings.Contains(reason, want) {
			t.Errorf("degraded reason %q does not say %q", reason, want)
		}
	}

	v, err := l.stores.Source().Vector(context.Background(), servingtest.Set, env.Good)
	if err != nil || fmt.Sprint(v.Values) != "[150 0 0]" || !v.AsOf.Equal(time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("vector %v as of %v (%v); want September's [150 0 0]", v.Values, v.AsOf, err)
	}
	status, body = l.assess(t, env.Good)
	if status != 200 || body["rating"] != "B" || body["colour"] != "blue" || body["as_of"] != "2026-09-30T00:00:00Z" {
		t.Fatalf("assessment on the fallback: %d %v", status, body)
	}
	if fmt.Sprint(body["features_as_of"]) != "map[limit:2026-09-30 pd:2026-09-30 violation:2026-09-30]" {
		t.Errorf("features_as_of %v", body["features_as_of"])
	}
	es := l.env.Audit.Entries()
	if len(es) == 0 {
		t.Fatal("no audit record")
	}
	after, _ := es[len(es)-1].After.(map[string]any)
	if after["as_of"] != "2026-09-30" || fmt.Sprint(after["features_as_of"]) != "map[limit:2026-09-30 pd:2026-09-30 violation:2026-09-30]" ||
		after["assessment_id"] != body["assessment_id"] {
		t.Fatalf("audit record %+v", after)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.stores.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	}()
	repair()
	l.waitReady(t, "repair of the October part", func(status int, body map[string]any) bool {
		return status == 200 && body["degraded"] == nil
	})
	status, body = l.assess(t, env.Good)
	if status != 200 || body["rating"] != "D" || body["colour"] != "red" || body["as_of"] != "2026-10-31T00:00:00Z" {
		t.Fatalf("assessment after repair: %d %v; want October's D, red", status, body)
	}
	es = l.env.Audit.Entries()
	if after, _ := es[len(es)-1].After.(map[string]any); after["as_of"] != "2026-10-31" {
		t.Fatalf("audit after repair %+v", after)
	}
}

func TestNoLoadableSnapshotIsNotReady(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			store, rot := open(t)
			testNotReady(t, store, rot)
		})
	}
}

func testNotReady(t *testing.T, local blob.Store, rot damage) {
	env := servingtest.New(t)
	t.Run("nothing stored", func(t *testing.T) {
		l := newLiveServer(t, local)
		status, body := l.get(t, "GET", "/v2/health/ready", "")
		if status != 503 || body["ready"] != false || !strings.Contains(degradedFeatures(body), "no snapshot stored") {
			t.Fatalf("ready: %d %v; want 503, not ready, nothing stored", status, body)
		}
	})
	repair := rot(t, local, putSnapshot(t, local, "2026-10-31", map[string][3]float64{env.Good: {150, 0, 0}}))
	l := newLiveServer(t, local)
	status, body := l.get(t, "GET", "/v2/health/ready", "")
	if status != 503 || body["ready"] != false || !strings.Contains(degradedFeatures(body), "no loadable snapshot") {
		t.Fatalf("ready: %d %v; want 503 and not ready", status, body)
	}
	if status, body := l.assess(t, env.Good); status != 503 {
		t.Fatalf("assessment without a snapshot: %d %v, want 503", status, body)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.stores.Run(ctx) }()
	defer func() { cancel(); <-done }()
	repair()
	l.waitReady(t, "repair of the only snapshot", func(status int, body map[string]any) bool {
		return status == 200 && body["ready"] == true && body["degraded"] == nil
	})
	if status, body := l.assess(t, env.Good); status != 200 || body["as_of"] != "2026-10-31T00:00:00Z" {
		t.Fatalf("assessment after repair: %d %v", status, body)
	}
}

// TestScreeningPopulationFallsBack: a screening's population comes from the newest
// snapshot that reads; a corrupt newest one is passed over for September's, whose
// values it then carries, and none reading at all is unavailable.
func TestScreeningPopulationFallsBack(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			store, damage := open(t)
			env := servingtest.New(t)
			sepPart := putSnapshot(t, store, "2026-09-30", map[string][3]float64{env.Good: {150, 0, 0}, env.Bad: {80, 1, 1}})
			octPart := putSnapshot(t, store, "2026-10-31", map[string][3]float64{env.Good: {80, 1, 1}, env.Bad: {150, 0, 0}})
			src := features.Snapshots{Store: store}
			ctx := context.Background()
			pop, err := src.Population(ctx, servingtest.Set)
			if err != nil || !pop.AsOf.Equal(time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("intact: %v, %v", pop, err)
			}
			damage(t, store, octPart)
			pop, err = src.Population(ctx, servingtest.Set)
			if err != nil || !pop.AsOf.Equal(time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("newest corrupt: %v, %v", pop, err)
			}
			i := slices.Index(pop.Codes, env.Good)
			if i < 0 || fmt.Sprint(pop.Values[i*3:i*3+3]) != "[150 0 0]" {
				t.Fatalf("Good's September row: %v in %v", i, pop.Values)
			}
			damage(t, store, sepPart)
			if _, err := src.Population(ctx, servingtest.Set); !errors.Is(err, serving.ErrUnavailable) {
				t.Fatalf("nothing reads: %v", err)
			}
		})
	}
}
