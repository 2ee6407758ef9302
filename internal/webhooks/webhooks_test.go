package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
)

// verify checks a delivery the way the Standard Webhooks specification tells a
// receiver to, written here from the specification and not from the sender:
// all three headers present, the timestamp within 5 minutes of now, and one of
// the space-separated "v1,<base64>" signatures equal (in constant time) to
// HMAC-SHA256 of "<id>.<timestamp>.<raw body>" under the key base64-decoded from
// the secret after "whsec_".
func verify(secrets []string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing header")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s off by %s", ts, d)
	}
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			return err
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		want := m.Sum(nil)
		for _, s := range strings.Fields(sigs) {
			v, b64, ok := strings.Cut(s, ",")
			if !ok || v != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return errors.New("no signature matches")
}

func TestSignatureMatchesTheSpecification(t *testing.T) {
	secret := webhooks.NewSecret()
	key, err := webhooks.ParseSecret(secret)
	if err != nil || len(key) != 32 {
		t.Fatalf("secret %q: %d bytes, %v", secret, len(key), err)
	}
	body := []byte(`{"type":"warning.opened","data":{"company":"x"}}`)
	now := time.Unix(1_767_225_600, 0)
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", webhooks.Signature([][]byte{key}, "msg_1", now, body))
	if err := verify([]string{secret}, h, body, now.Add(time.Minute)); err != nil {
		t.Fatalf("fresh delivery: %v", err)
	}
	if err := verify([]string{secret}, h, body, now.Add(6*time.Minute)); err == nil {
		t.Fatal("a delivery 6 minutes old verified: the sender's timestamp must be fresh on every attempt")
	}
	if err := verify([]string{secret}, h, append(body, ' '), now); err == nil {
		t.Fatal("a changed body verified")
	}
	if err := verify([]string{webhooks.NewSecret()}, h, body, now); err == nil {
		t.Fatal("another secret verified")
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!!", "abc", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 8))} {
		if _, err := webhooks.ParseSecret(bad); !errors.Is(err, webhooks.ErrInvalid) {
			t.Errorf("secret %q: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestGuard(t *testing.T) {
	var g webhooks.Guard
	for _, u := range []string{"https://127.0.0.1/h", "https://10.1.2.3/h", "https://169.254.169.254/latest/meta-data", "https://[::1]/h",
		"https://192.168.1.10:8443/h", "https://[fd00::1]/h", "https://[::ffff:127.0.0.1]/h", "https://100.64.0.1/h"} {
		if _, err := g.CheckURL(u); !errors.Is(err, webhooks.ErrForbiddenAddress) {
			t.Errorf("%s: %v, want ErrForbiddenAddress", u, err)
		}
	}
	for _, u := range []string{"http://bank.example/h", "ftp://bank.example/h", "https://user:pw@bank.example/h", "https:///h", "::"} {
		if _, err := g.CheckURL(u); !errors.Is(err, webhooks.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", u, err)
		}
	}
	if _, err := g.CheckURL("https://bank.example/hooks"); err != nil {
		t.Errorf("public https endpoint: %v", err)
	}
	// A name is checked on the address it resolves to when the call is made.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("the guard let a loopback call through") }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	_, err := g.Client().Get("http://localhost:" + port + "/")
	if !errors.Is(err, webhooks.ErrForbiddenAddress) {
		t.Errorf("dialling localhost: %v, want ErrForbiddenAddress", err)
	}
	allowed := webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true}
	if _, err := allowed.CheckURL(srv.URL); err != nil {
		t.Errorf("allow-listed loopback: %v", err)
	}
}

// receiver is a subscriber's endpoint: it verifies every delivery and answers
// with the status its mode gives.
type receiver struct {
	t       *testing.T
	mu      sync.Mutex
	secrets []string
	status  int                 // answer while not 200
	down    int                 // requests still answered with status
	got     map[string][]string // message id → timestamps of its attempts
	ok      map[string]bool     // message ids answered 2xx
	bodies  map[string]string
	bad     []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := verify(rc.secrets, r.Header, body, time.Now()); err != nil {
		rc.bad = append(rc.bad, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.got[id] = append(rc.got[id], r.Header.Get("webhook-timestamp"))
	rc.bodies[id] = string(body)
	if rc.down > 0 {
		rc.down--
		if rc.status == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(rc.status)
		return
	}
	rc.ok[id] = true
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) delivered() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.ok)
}

func openQueue(t *testing.T, dsn string, eps *webhooks.Endpoints, g webhooks.Guard) *jobs.Queue {
	t.Helper()
	ws := jobs.NewWorkers()
	if err := webhooks.Register(ws, eps, g, nil); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(context.Background(), jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{webhooks.QueueName: 4},
		RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return q
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestDelivery sends messages to a real loopback receiver that is down for a
// while, then up: every message arrives with its stable id and a valid, freshly
// timestamped signature; a redirect is not followed; deliveries queued while no
// worker runs are sent after the restart; a rotated secret signs beside the old
// one; a 410 disables the endpoint; a delivery out of attempts is dead and
// replays with its id.
func TestDelivery(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		rc := &receiver{t: t, got: map[string][]string{}, ok: map[string]bool{}, bodies: map[string]string{}, status: http.StatusServiceUnavailable, down: 12}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		g := webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true, Timeout: 2 * time.Second}
		if _, err := (webhooks.Guard{InsecureHTTP: true}).CheckURL(srv.URL); !errors.Is(err, webhooks.ErrForbiddenAddress) {
			t.Fatalf("loopback endpoint without the allow-list: %v", err)
		}
		eps, err := webhooks.OpenEndpoints(ctx, db, g)
		if err != nil {
			t.Fatal(err)
		}
		ep, secret, err := eps.Create(ctx, 7, srv.URL+"/hooks", "warnings")
		if err != nil {
			t.Fatal(err)
		}
		rc.secrets = []string{secret}
		dsn := "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")

		// Queued while no worker runs (an insert-only process), sent after start.
		ins, err := jobs.Open(ctx, jobs.Options{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for i := range 20 {
			id, err := webhooks.Enqueue(ctx, ins, ep.ID, "warning.opened", map[string]any{"n": i})
			if err != nil {
				t.Fatal(err)
			}
			ids[id] = true
		}
		ins.Close()
		q := openQueue(t, dsn, eps, g)
		waitFor(t, "20 deliveries", func() bool { return rc.delivered() == 20 })
		rc.mu.Lock()
		retried := 0
		for id, tss := range rc.got {
			if !ids[id] {
				t.Errorf("unknown message id %s", id)
			}
			if len(tss) > 1 {
				retried++
			}
			var b struct {
				Type string         `json:"type"`
				Data map[string]int `json:"data"`
			}
			if err := json.Unmarshal([]byte(rc.bodies[id]), &b); err != nil || b.Type != "warning.opened" {
				t.Errorf("body %q: %v", rc.bodies[id], err)
			}
		}
		if retried == 0 || len(rc.bad) > 0 {
			t.Errorf("%d messages retried, %d bad signatures (%v)", retried, len(rc.bad), rc.bad)
		}
		rc.mu.Unlock()

		// A rotation: both secrets sign until the old one retires.
		newSecret, err := eps.Rotate(ctx, 7, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eps.Rotate(ctx, 8, ep.ID); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("another institution rotating: %v", err)
		}
		rc.mu.Lock()
		rc.secrets = []string{newSecret} // a receiver that already switched
		rc.mu.Unlock()
		if _, err := webhooks.Enqueue(ctx, q, ep.ID, "warning.updated", map[string]any{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the rotated delivery", func() bool { return rc.delivered() == 21 })

		// A redirect is an answer, not an invitation: retried, never followed.
		rc.mu.Lock()
		rc.status, rc.down = http.StatusFound, 2
		rc.mu.Unlock()
		if _, err := webhooks.Enqueue(ctx, q, ep.ID, "warning.closed", map[string]any{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the redirected delivery", func() bool { return rc.delivered() == 22 })

		// Out of attempts: dead, then replayed with the same id.
		rc.mu.Lock()
		rc.status, rc.down = http.StatusInternalServerError, 2
		rc.mu.Unlock()
		a := webhooks.Args{Endpoint: ep.ID, ID: "msg_dead", Type: "warning.opened", Data: json.RawMessage(`{}`), At: time.Now()}
		if _, err := q.Insert(ctx, a, jobs.InsertOptions{Queue: webhooks.QueueName, MaxAttempts: 2}); err != nil {
			t.Fatal(err)
		}
		var dead []jobs.Info
		waitFor(t, "a dead delivery", func() bool {
			dead, err = webhooks.Dead(ctx, q, 10)
			return err == nil && len(dead) == 1
		})
		if _, err := webhooks.Replay(ctx, q, dead[0].ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the replayed delivery", func() bool { return rc.delivered() == 23 })
		rc.mu.Lock()
		if n := len(rc.got["msg_dead"]); n != 3 {
			t.Errorf("msg_dead: %d attempts reached the receiver, want 2 then the replay", n)
		}
		rc.mu.Unlock()

		// 410 Gone disables the endpoint.
		rc.mu.Lock()
		rc.status, rc.down = http.StatusGone, 1
		rc.mu.Unlock()
		if _, err := webhooks.Enqueue(ctx, q, ep.ID, "warning.opened", map[string]any{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the endpoint disabled", func() bool {
			e, err := eps.Get(ctx, ep.ID)
			return err == nil && e.Disabled
		})
		q.Stop(ctx)
		q.Close()
	})
}
