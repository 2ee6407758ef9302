// Package miniotest runs a real MinIO server for tests: the binary the Makefile
// installs (`make tools` puts it in ./bin/minio; $XINYI_MINIO_BIN overrides),
// on free loopback ports, with a temporary data folder and random root
// credentials, stopped when the test ends.
//
// Use Start for a server of one test's own (a test that stops it mid-way), or
// Shared for one server per test package, stopped by the package's TestMain:
//
//	func TestMain(m *testing.M) { code := m.Run(); miniotest.StopShared(); os.Exit(code) }
//
//	func TestSomething(t *testing.T) {
//		srv := miniotest.Shared(t)
//		store := srv.Open(t) // a new bucket of its own
//	}
//
// StartWith starts a server over several drive folders, which MinIO runs in
// erasure-coded mode (4 drives: 2 data and 2 parity shards per object; reads
// need 2 drives, writes 3). RemoveDrive then takes one away mid-test:
//
//	srv := miniotest.StartWith(t, miniotest.Options{Drives: 4})
//	store := srv.Open(t)
//	err := srv.RemoveDrive(1) // writes and reads keep working on the other three
//
// MinIO refuses several drives on the root disk (it waits for them forever)
// unless it is told it runs in CI; the harness sets MINIO_CI_CD=1 for every
// server it starts, so the same server runs on a laptop and under CI.
//
// Without the binary the tests are skipped, except under CI (env CI set) where
// they fail: a CI run must not pass by skipping the real server.
package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/xinyi-platform/xinyi/internal/blob/minio"
	"github.com/xinyi-platform/xinyi/internal/freeport"
	"github.com/xinyi-platform/xinyi/internal/testproc"
)

// NotInstalled is the message given when the MinIO binary cannot be found.
const NotInstalled = "MinIO server not installed: run `make tools`"

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// Options configure a server started by StartWith.
type Options struct {
	// Drives is the number of drive folders. Default 1: a single-drive server.
	// Two or more run MinIO in erasure-coded mode, one erasure set over all of
	// them (MinIO takes 2 to 16 drives per set).
	Drives int
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Drives <= 0 {
		o.Drives = 1
	}
}

// Server is a running MinIO server.
type Server struct {
	Endpoint  string // host:port of the S3 API
	AccessKey string
	SecretKey string

	cmd    *exec.Cmd
	dir    string
	drives []string
	log    *testproc.Output
	exited chan struct{}
	mu     sync.Mutex
	closed bool
}

// Binary returns the path of the MinIO binary: $XINYI_MINIO_BIN, else bin/minio
// in the module root (the folder holding go.mod, found by walking up from the
// working directory). It reports false if there is none.
func Binary() (string, bool) {
	if p := os.Getenv("XINYI_MINIO_BIN"); p != "" {
		_, err := os.Stat(p)
		return p, err == nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "minio")
			_, err := os.Stat(p)
			return p, err == nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// requireBinary skips (or, under CI, fails) tb when the binary is missing.
func requireBinary(tb testing.TB) string {
	tb.Helper()
	bin, ok := Binary()
	if ok {
		return bin
	}
	where := bin
	if where == "" {
		where = "bin/minio (no go.mod above the working directory)"
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s (looked for %s)", NotInstalled, where)
	}
	tb.Skipf("%s (looked for %s)", NotInstalled, where)
	return ""
}

// Start starts a single-drive server for tb alone; it is stopped when tb ends,
// and its log is shown if tb failed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith starts a server with opts for tb alone; it is stopped when tb ends,
// and its log is shown if tb failed.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	opts.EnsureDefaults()
	if opts.Drives > 16 {
		tb.Fatalf("miniotest: %d drives, MinIO takes at most 16 in one erasure set", opts.Drives)
	}
	bin := requireBinary(tb)
	dir, err := os.MkdirTemp("", "xinyi-minio-")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := start(bin, dir, opts)
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("MinIO log (%s):\n%s", s.Endpoint, s.Log())
		}
		s.Stop()
		os.RemoveAll(dir)
	})
	return s
}

var shared struct {
	sync.Mutex
	srv *Server
	err error
}

// Shared returns the package's shared server, starting it on first use. Call
// StopShared from TestMain after m.Run. If tb fails, the server's log is shown.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	bin := requireBinary(tb)
	shared.Lock()
	defer shared.Unlock()
	if shared.srv == nil && shared.err == nil {
		dir, err := os.MkdirTemp("", "xinyi-minio-")
		if err != nil {
			tb.Fatal(err)
		}
		shared.srv, shared.err = start(bin, dir, Options{Drives: 1})
		if shared.err != nil {
			os.RemoveAll(dir)
		}
	}
	if shared.err != nil {
		tb.Fatalf("shared MinIO: %v", shared.err)
	}
	s := shared.srv
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("MinIO log (%s), last part:\n%s", s.Endpoint, testproc.Tail(s.Log(), 4000))
		}
	})
	return s
}

// StopShared stops the shared server, if one was started.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
		os.RemoveAll(shared.srv.dir)
		shared.srv = nil
	}
}

func start(bin, dir string, opts Options) (*Server, error) {
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding
		s, err := startOnce(bin, dir, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(bin, dir string, opts Options) (*Server, error) {
	api, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	console, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  api,
		AccessKey: "xinyi-" + randHex(6),
		SecretKey: randHex(20),
		dir:       dir,
		log:       &testproc.Output{},
		exited:    make(chan struct{}),
	}
	// One drive keeps the folder name of earlier runs; several are data/d1...
	// (MinIO's own ellipsis syntax would work too, but listing them keeps the
	// paths the test removes the ones the server was given).
	s.drives = []string{filepath.Join(dir, "data")}
	if opts.Drives > 1 {
		s.drives = s.drives[:0]
		for i := 1; i <= opts.Drives; i++ {
			s.drives = append(s.drives, filepath.Join(dir, "data", fmt.Sprintf("d%d", i)))
		}
	}
	for _, d := range s.drives {
		// The drives are fresh; a folder left by an earlier attempt on another
		// port would carry that attempt's format, which is harmless but not fresh.
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	args := append([]string{"server"}, s.drives...)
	args = append(args, "--address", api, "--console-address", console, "--quiet")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		// Without it MinIO will not use several drives that sit on the root
		// disk (as temporary folders do): it logs "drive not found, will be
		// retried" and waits. It also caps MinIO's buffer pool at 256 MiB.
		"MINIO_CI_CD=1",
	)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = testproc.Attr() // dies with the test process where the OS allows
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() { cmd.Wait(); close(s.exited) }()

	// Live answers as soon as the process listens; an erasure-coded server is
	// usable only once its drives are formatted and in write quorum, which the
	// cluster check reports.
	health := "/minio/health/live"
	if len(s.drives) > 1 {
		health = "/minio/health/cluster"
	}
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("minio exited during startup (%v):\n%s", cmd.ProcessState, testproc.Tail(s.Log(), 4000))
		default:
		}
		// Another process can take the port between FreeAddr and MinIO's
		// bind; MinIO then logs it and keeps running without the API, and the
		// health check would be asking the other process. Try other ports.
		if log := s.Log(); strings.Contains(log, "Unable to listen on") || strings.Contains(log, "address already in use") {
			s.Stop()
			return nil, fmt.Errorf("minio could not listen on %s or %s:\n%s", api, console, testproc.Tail(log, 2000))
		}
		resp, err := client.Get("http://" + api + health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("minio at %s not live after %s:\n%s", api, startTimeout, testproc.Tail(s.Log(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server: SIGTERM, then SIGKILL if it has not exited within
// 10s. It returns once the process is gone. Stopping twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// Drives returns the drive folders the server was started with.
func (s *Server) Drives() []string { return slices.Clone(s.drives) }

// RemoveDrive takes drive i (0-based, as in Drives) away from the running
// server, as a pulled disk: its folder is removed with everything in it and a
// plain file left in its place, so MinIO can neither use it nor format it
// again. The server keeps running on the others. It returns an error rather
// than failing a test so that it can be called from any goroutine (a progress
// callback in the middle of a run, say).
func (s *Server) RemoveDrive(i int) error {
	if i < 0 || i >= len(s.drives) {
		return fmt.Errorf("miniotest: no drive %d: the server has %d", i, len(s.drives))
	}
	if len(s.drives) == 1 {
		return fmt.Errorf("miniotest: cannot remove the only drive of a single-drive server")
	}
	d := s.drives[i]
	// The server may create files in the folder while it is being removed
	// (RemoveAll then fails with "directory not empty"): try again.
	var err error
	for range 20 {
		if err = os.RemoveAll(d); err == nil {
			err = os.WriteFile(d, []byte("drive removed by the test\n"), 0o444)
		}
		if err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("miniotest: remove drive %s: %w", d, err)
}

// Log returns what the server has written so far.
func (s *Server) Log() string { return s.log.String() }

// Options returns store options for bucket on this server.
func (s *Server) Options(bucket string) minio.Options {
	return minio.Options{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Bucket: bucket}
}

// Open opens a store on a new bucket of its own.
func (s *Server) Open(tb testing.TB) *minio.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := minio.Open(ctx, s.Options("t-"+randHex(8)))
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// Client returns a raw minio-go client with root credentials, for tests that
// must go around the store (to damage an object, say).
func (s *Server) Client(tb testing.TB) *miniogo.Client {
	tb.Helper()
	c, err := miniogo.New(s.Endpoint, &miniogo.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// FreeAddr returns a loopback host:port nobody listens on right now (from the
// kernel's ephemeral range; the servers the package starts take theirs from
// freeport.Addr).
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
