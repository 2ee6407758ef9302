package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

func TestStoreCommands(t *testing.T) {
	dir := t.TempDir()
	store, err := blob.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	content := "rank,company_code\n1,91350100M000100Y43\n"
	if _, err := blob.PutBytes(context.Background(), store, "screenings/s1/result.csv", []byte(content)); err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, "store", "list", "--store", dir, "screenings/")
	// The listing names the key, its size (39 bytes, by wc -c) and the object count.
	if code != 0 || !strings.Contains(out, "screenings/s1/result.csv") || !strings.Contains(out, "1 objects, 39 bytes") {
		t.Fatalf("list: exit %d, out %q, err %q", code, out, errs)
	}
	if out, errs, code = run(t, "store", "get", "--store", dir, "screenings/s1/result.csv"); code != 0 || out != content {
		t.Fatalf("get: exit %d, out %q, err %q; want the plain content", code, out, errs)
	}
	file := filepath.Join(t.TempDir(), "r.csv")
	if _, errs, code = run(t, "store", "get", "--store", dir, "-o", file, "screenings/s1/result.csv"); code != 0 {
		t.Fatalf("get -o: exit %d: %s", code, errs)
	}
	if b, _ := os.ReadFile(file); string(b) != content {
		t.Fatalf("get -o wrote %q", b)
	}

	// Flip the last content byte on disk: get must refuse and write nothing.
	path := filepath.Join(dir, "screenings", "s1", "result.csv")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if _, errs, code = run(t, "store", "get", "--store", dir, "-o", bad, "screenings/s1/result.csv"); code == 0 || !strings.Contains(errs, "sha256 mismatch") {
		t.Fatalf("get of a corrupt object: exit %d, err %q; want a sha256 error", code, errs)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatalf("a corrupt object left %s behind (%v)", bad, err)
	}
	for _, key := range []string{"../x", "/abs"} {
		if _, errs, code = run(t, "store", "get", "--store", dir, key); code == 0 || !strings.Contains(errs, "invalid key") {
			t.Fatalf("get %q: exit %d, err %q; want invalid key", key, code, errs)
		}
	}
}
