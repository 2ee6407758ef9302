package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const workerChildEnv = "XINYI_WORKER_CHILD_ARGS"

// TestServerEnqueuesWorkerRuns builds a small region with a champion violation
// model, starts `xinyi serve --job-workers 0` (in this process) and checks that a
// screening started over HTTP waits in the jobs database until a `xinyi worker`
// child process runs it; the server then reports it done with its objects, and
// the worker stops cleanly on SIGTERM.
func TestServerEnqueuesWorkerRuns(t *testing.T) {
	if os.Getenv(workerChildEnv) != "" {
		return // the child runs TestWorkerChild only
	}
	if testing.Short() {
		t.Skip("builds a region and trains a model")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("xinyi %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return strings.TrimSpace(out)
	}
	must("generate", "-companies", "600", "-months", "36", "-seed", "7", "-out", store)
	must("features", "materialize", "-store", store, "-set", "violation", "-asof", "2023-06-30,2023-12-31,2024-06-30,2024-12-31,2025-12-31")
	must("features", "sample", "-store", store, "-set", "violation", "-name", "v", "-from", "2023-06-30", "-to", "2024-12-31", "-build-at", "2025-12-31")
	key := func(inst, kind, user, roles string) string {
		return must("access", "user", "-store", store, "-institution", inst, "-kind", kind, "-user", user, "-roles", roles)
	}
	ops := key("platform", "platform", "ops", "admin")
	scientist := key("bank", "bank", "scientist", "data_scientist")
	approver := key("bank", "bank", "approver", "approver")
	regulator := key("amr", "regulator", "inspector", "regulator")
	must("train", "-store", store, "-sample", "v", "-out", filepath.Join(dir, "v.txt"), "-register", "violation", "-key", scientist)
	req := must("model", "alias", "-store", store, "-key", scientist, "-name", "violation", "-alias", "champion", "-version", "1", "-note", "test")
	m := regexp.MustCompile(`^promotion request (\d+):`).FindStringSubmatch(req)
	if m == nil {
		t.Fatalf("no promotion request in %q", req)
	}
	must("model", "approve", "-store", store, "-key", approver, "-id", m[1], "-note", "ok")

	reportKey := filepath.Join(dir, "report.key")
	must("report", "keygen", "-out", reportKey)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	if lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	admin := lis.Addr().String()
	lis.Close()
	ctx, stopServe := context.WithCancel(context.Background())
	served := make(chan int, 1)
	go func() {
		var out, errOut bytes.Buffer
		served <- runMain(ctx, []string{"serve", "-store", store, "-service-key", ops, "-http", addr, "-grpc", "", "-admin", admin, "-ingest-owner", "tax=tax-bureau",
			"-job-workers", "0", "-prewarm=false", "-report-key", reportKey}, &out, &errOut)
	}()
	defer func() {
		stopServe()
		if code := <-served; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}()

	base := "http://" + addr
	call := func(method, path string, body string) (map[string]any, int) {
		t.Helper()
		r, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+regulator)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return nil, 0
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return v, resp.StatusCode
	}
	var job map[string]any
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var code int
		if job, code = call("POST", "/v1/screenings", `{"task":"violation"}`); code == http.StatusAccepted || code == http.StatusOK || code == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not accept a screening: %d %v", code, job)
		}
	}
	id, _ := job["id"].(string)
	if id == "" || job["state"] != "running" {
		t.Fatalf("started %v", job)
	}
	// Department deliveries are mounted beside the API: a request without a key is
	// refused as unauthenticated, not unknown.
	if resp, err := http.Get(base + "/v1/ingest/tax/batches"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("ingest route without a key: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// So are credit reports: issuing needs a key; the QR code's verification is
	// open and answers for a number never issued.
	if resp, err := http.Post(base+"/v1/reports", "application/json", strings.NewReader(`{}`)); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("report route without a key: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := http.Get(base + "/v1/reports/XYR-20260101-AAAAAAAA/verify"); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"status":"not_issued"`) {
			t.Errorf("verify route: %d %s", resp.StatusCode, b)
		}
	}
	// The financing loop is mounted beside the API, over the server's assessment
	// service.
	if v, code := call("GET", "/v1/financing/stats", ""); code != http.StatusOK || v["by"] != "district" {
		t.Errorf("financing statistics: %d %v", code, v)
	}
	// The admin listener answers apart from the API, without a key.
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "xinyi_source_late{department=", "/debug/pprof/": "goroutine"} {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			t.Fatalf("admin %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("admin %s: %d, want %q in\n%.300s", path, resp.StatusCode, want, b)
		}
	}
	// No process works the queue yet: the job waits.
	time.Sleep(300 * time.Millisecond)
	// (Beside it waits the server's daily end of publicity, which no worker here
	// works either.)
	if out := must("jobs", "-store", store, "-state", "available"); !regexp.MustCompile(`screening +available +0/3`).MatchString(out) {
		t.Fatalf("queued job not listed as available:\n%s", out)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestWorkerChild$", "-test.count=1", "-test.v")
	args, _ := json.Marshal([]string{"worker", "-store", store, "-service-key", ops, "-queues", "screening=1", "-workers", "2"})
	child.Env = append(os.Environ(), workerChildEnv+"="+string(args))
	var childOut bytes.Buffer
	child.Stdout, child.Stderr = &childOut, &childOut
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()

	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		job, _ = call("GET", "/v1/screenings/"+id, "")
		if job["state"] != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("screening %s not done: %v\nworker:\n%s", id, job, childOut.String())
		}
	}
	objs, _ := job["objects"].([]any)
	if job["state"] != "done" || job["done"] != job["total"] || job["total"] == 0.0 || len(objs) != 2 {
		t.Fatalf("finished job %v", job)
	}
	for _, o := range objs {
		if _, err := os.Stat(filepath.Join(store, o.(string))); err != nil {
			t.Errorf("object %v: %v", o, err)
		}
	}
	if out := must("jobs", "-store", store); !regexp.MustCompile(`screening +completed +1/3`).MatchString(out) {
		t.Errorf("jobs after the run:\n%s", out)
	}

	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("worker did not stop cleanly: %v\n%s", err, childOut.String())
	}
	if !strings.Contains(childOut.String(), "xinyi worker: stopped") {
		t.Errorf("worker output:\n%s", childOut.String())
	}
}

// TestWorkerChild runs `xinyi worker` with the arguments its parent test gave,
// until SIGTERM.
func TestWorkerChild(t *testing.T) {
	raw := os.Getenv(workerChildEnv)
	if raw == "" {
		t.Skip("runs only as the child of TestServerEnqueuesWorkerRuns")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var errOut bytes.Buffer
	if code := runMain(ctx, args, os.Stdout, &errOut); code != 0 {
		t.Fatalf("worker exited %d: %s", code, errOut.String())
	}
	fmt.Fprintln(os.Stdout, strings.Count(errOut.String(), "\n"), "log lines")
}
