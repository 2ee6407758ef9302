package minio

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRemoveStaleSpoolFiles removes the spool file of a killed Put once older
// than the cut-off, and leaves a fresh one and other programs' files alone. It
// needs no server: spool files live on the local disk.
func TestRemoveStaleSpoolFiles(t *testing.T) {
	dir := t.TempDir()
	s := &Store{opts: Options{SpoolDir: dir}}
	old := filepath.Join(dir, "xinyi-blob-spool-111")
	fresh := filepath.Join(dir, "xinyi-blob-spool-222")
	other := filepath.Join(dir, "someone-else")
	for _, p := range []string{old, fresh, other} {
		if err := os.WriteFile(p, make([]byte, 500), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{old, other} {
		if err := os.Chtimes(p, then, then); err != nil {
			t.Fatal(err)
		}
	}
	removed, kept, err := s.RemoveStaleTemps(t.Context(), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].Key != old || removed[0].Size != 500 || kept != 1 {
		t.Fatalf("removed %+v, kept %d; want only %s", removed, kept, old)
	}
	for _, p := range []string{fresh, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
