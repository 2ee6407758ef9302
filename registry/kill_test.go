package registry_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/registry"
)

// TestKilledDuringUpload runs an upload in a child process that kills itself
// with SIGKILL between the artifact writes and the metadata commit, then checks,
// from this process, that no version exists, that Cleanup finds and removes the
// orphans, and that the upload then succeeds.
func TestKilledDuringUpload(t *testing.T) {
	if os.Getenv("XINYI_REGISTRY_KILL_CHILD") != "" {
		return // the child runs TestKilledDuringUploadChild only
	}
	dir := t.TempDir()
	dsn := "sqlite://" + filepath.Join(dir, "meta.db")
	blobDir := filepath.Join(dir, "blobs")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledDuringUploadChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "XINYI_REGISTRY_KILL_CHILD="+dsn, "XINYI_REGISTRY_KILL_BLOBS="+blobDir)
	out, err := cmd.CombinedOutput()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}

	ctx := context.Background()
	db, err := metadb.Open(ctx, dsn, metadb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := reopenEnv(t, db, blobDir)
	if vs, err := e.reg.Versions(ctx, e.alice, "pd"); err != nil || len(vs) != 0 {
		t.Fatalf("versions after kill: %+v, %v", vs, err)
	}
	objs, err := e.blobs.List(ctx, "models/sha256/")
	if err != nil || len(objs) != 2 {
		t.Fatalf("orphans after kill: %v, %v", objs, err)
	}
	e.clock.Add(2 * time.Hour)
	rep, err := e.reg.Cleanup(ctx)
	if err != nil || len(rep.Removed) != 2 {
		t.Fatalf("cleanup: %+v, %v", rep, err)
	}
	v, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, "binary_depthwise.json", "binary_depthwise"))
	if err != nil || v.Version != 1 {
		t.Fatalf("upload after recovery: %+v, %v", v, err)
	}
	if _, err := e.log.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestKilledDuringUploadChild is the child half of TestKilledDuringUpload.
func TestKilledDuringUploadChild(t *testing.T) {
	dsn := os.Getenv("XINYI_REGISTRY_KILL_CHILD")
	if dsn == "" {
		t.Skip("runs only as the child of TestKilledDuringUpload")
	}
	ctx := context.Background()
	db, err := metadb.Open(ctx, dsn, metadb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, db, openLocal(t, os.Getenv("XINYI_REGISTRY_KILL_BLOBS")))
	e.createModel(t, e.alice, "pd", registry.TaskPD, false)
	e.reg.SetAfterArtifacts(func() error {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal ends the process
	})
	_, err = e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, "binary_depthwise.json", "binary_depthwise"))
	t.Fatalf("upload returned (%v) instead of dying", err)
}

// TestKilledDuringArtifactWrite kills an upload in a child process while the
// store is writing its artifact: the half-written temporary file it leaves is
// kept by Cleanup while it could still be a write in progress, and removed once
// older than Options.TempGrace.
func TestKilledDuringArtifactWrite(t *testing.T) {
	if os.Getenv("XINYI_REGISTRY_KILL_CHILD") != "" {
		return
	}
	dir := t.TempDir()
	dsn := "sqlite://" + filepath.Join(dir, "meta.db")
	blobDir := filepath.Join(dir, "blobs")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledDuringArtifactWriteChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "XINYI_REGISTRY_KILL_CHILD="+dsn, "XINYI_REGISTRY_KILL_BLOBS="+blobDir)
	out, err := cmd.CombinedOutput()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	temps, err := filepath.Glob(filepath.Join(blobDir, ".tmp", "put-*"))
	if err != nil || len(temps) != 1 {
		t.Fatalf("temporary files after the kill: %v, %v; want one", temps, err)
	}
	fi, err := os.Stat(temps[0])
	if err != nil || fi.Size() < killAfter {
		t.Fatalf("temporary file %v, %v; want at least %d bytes", fi, err, killAfter)
	}

	ctx := context.Background()
	db, err := metadb.Open(ctx, dsn, metadb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := reopenEnv(t, db, blobDir)
	rep, err := e.reg.Cleanup(ctx)
	if err != nil || len(rep.TempsRemoved) != 0 || rep.TempsKept != 1 {
		t.Fatalf("cleanup within the grace period: %+v, %v", rep, err)
	}
	if _, err := os.Stat(temps[0]); err != nil {
		t.Fatalf("a temporary file within the grace period was removed: %v", err)
	}
	e.clock.Add(2 * time.Hour)
	rep, err = e.reg.Cleanup(ctx)
	if err != nil || len(rep.TempsRemoved) != 1 || rep.TempBytes != fi.Size() || rep.TempsKept != 0 {
		t.Fatalf("cleanup after the grace period: %+v, %v", rep, err)
	}
	if _, err := os.Stat(temps[0]); !os.IsNotExist(err) {
		t.Fatalf("stale temporary file still there: %v", err)
	}
	v, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, "binary_depthwise.json", "binary_depthwise"))
	if err != nil || v.Version != 1 {
		t.Fatalf("upload after recovery: %+v, %v", v, err)
	}
}

// killAfter is how many bytes of an artifact the child writes before it dies.
const killAfter = 4096

// killingStore kills the process once a Put has passed killAfter bytes to the
// store underneath.
type killingStore struct{ blob.Store }

func (k killingStore) Put(ctx context.Context, key string, r io.Reader) (blob.Info, error) {
	return k.Store.Put(ctx, key, &killingReader{r: r})
}

type killingReader struct {
	r io.Reader
	n int
}

func (k *killingReader) Read(p []byte) (int, error) {
	if k.n >= killAfter {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal ends the process
	}
	n, err := k.r.Read(p[:min(len(p), killAfter)])
	k.n += n
	return n, err
}

// TestKilledDuringArtifactWriteChild is the child half of
// TestKilledDuringArtifactWrite.
func TestKilledDuringArtifactWriteChild(t *testing.T) {
	dsn := os.Getenv("XINYI_REGISTRY_KILL_CHILD")
	if dsn == "" {
		t.Skip("runs only as the child of TestKilledDuringArtifactWrite")
	}
	ctx := context.Background()
	db, err := metadb.Open(ctx, dsn, metadb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, db, killingStore{openLocal(t, os.Getenv("XINYI_REGISTRY_KILL_BLOBS"))})
	e.createModel(t, e.alice, "pd", registry.TaskPD, false)
	_, err = e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, "binary_depthwise.json", "binary_depthwise"))
	t.Fatalf("upload returned (%v) instead of dying", err)
}
