package blob_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/blob/blobtest"
)

func openLocal(t testing.TB) *blob.Local {
	t.Helper()
	s, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// corruptLocal flips one content byte of key's file, leaving the header (and
// so the recorded digest and size) alone.
func corruptLocal(t *testing.T, s blob.Store, key string) {
	t.Helper()
	p := s.(*blob.Local).Path(key)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) <= blob.HeaderLen {
		t.Fatalf("corrupt %s: no content bytes to flip", key)
	}
	b[blob.HeaderLen+(len(b)-blob.HeaderLen)/2] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLocalContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return openLocal(t) }, corruptLocal)
}

func TestLocalFileLayout(t *testing.T) {
	s := openLocal(t)
	data := []byte("hello")
	if _, err := blob.PutBytes(t.Context(), s, "a/b.txt", data); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(), "a", "b.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := "xinyi-blob 1 sha256:" + blob.SHA256Hex(data) + " size:00000000000000000005\nhello"
	if string(b) != want {
		t.Errorf("file =\n%q\nwant\n%q", b, want)
	}
	if len(want)-len(data) != blob.HeaderLen {
		t.Errorf("HeaderLen = %d, header is %d bytes", blob.HeaderLen, len(want)-len(data))
	}
	// Nothing is left in the temporary folder.
	tmp, err := os.ReadDir(filepath.Join(s.Dir(), ".tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmp) != 0 {
		t.Errorf(".tmp holds %d files after a Put", len(tmp))
	}
}

// TestLocalDamagedFiles covers damage a byte flip does not: truncation, a
// broken header, a foreign file dropped into the folder.
func TestLocalDamagedFiles(t *testing.T) {
	cases := []struct {
		name   string
		damage func(b []byte) []byte
		// List reads headers and file sizes, not content: it notices
		// damage to those, and reports it rather than listing bad Info.
		listNotices bool
	}{
		{"truncated content", func(b []byte) []byte { return b[:len(b)-1] }, true},
		{"extra content", func(b []byte) []byte { return append(b, 'x') }, true},
		{"truncated header", func(b []byte) []byte { return b[:10] }, true},
		{"empty file", func(b []byte) []byte { return nil }, true},
		{"digest digit changed", func(b []byte) []byte { b[len("xinyi-blob 1 sha256:")] = 'x'; return b }, true},
		{"digest changed to another valid digest", func(b []byte) []byte {
			i := len("xinyi-blob 1 sha256:") + 10
			if b[i] == '0' {
				b[i] = '1'
			} else {
				b[i] = '0'
			}
			return b
		}, false},
		{"size changed", func(b []byte) []byte { b[blob.HeaderLen-2] = '9'; return b }, true},
		{"foreign file", func(b []byte) []byte {
			return []byte("PAR1 a parquet file copied in by hand, no header at all, long enough to fill a header.........................")
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openLocal(t)
			ctx := t.Context()
			if _, err := blob.PutBytes(ctx, s, "k", []byte("some content")); err != nil {
				t.Fatal(err)
			}
			p := s.Path("k")
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, c.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := blob.ReadAll(ctx, s, "k")
			if !errors.Is(err, blob.ErrCorrupt) {
				t.Errorf("ReadAll: err = %v, want ErrCorrupt", err)
			}
			_, _, err = blob.ReadAllInto(ctx, s, "k", make([]byte, 0, 1<<10))
			if !errors.Is(err, blob.ErrCorrupt) {
				t.Errorf("ReadAllInto: err = %v, want ErrCorrupt", err)
			}
			if _, err := s.List(ctx, ""); c.listNotices && !errors.Is(err, blob.ErrCorrupt) {
				t.Errorf("List: err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestLocalStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	old := filepath.Join(dir, ".tmp", "put-crashed")
	fresh := filepath.Join(dir, ".tmp", "put-in-progress")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	s = openLocal2(t, dir)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale temp file survived OpenLocal: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a recent temp file (maybe another process's) was removed: %v", err)
	}
	list, err := s.List(t.Context(), "")
	if err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v; want no objects (temp files are not objects)", list, err)
	}
}

// TestLocalRemoveStaleTemps removes the temporary file of a killed write once
// older than the cut-off, and leaves a younger leftover and the file of a Put
// still in progress alone; that Put then publishes its object.
func TestLocalRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	s := openLocal2(t, dir)
	killed := filepath.Join(dir, ".tmp", "put-killed")
	recent := filepath.Join(dir, ".tmp", "put-recent")
	for _, p := range []string{killed, recent} {
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 1000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-45 * time.Minute)
	if err := os.Chtimes(killed, then, then); err != nil {
		t.Fatal(err)
	}
	then = time.Now().Add(-10 * time.Minute)
	if err := os.Chtimes(recent, then, then); err != nil {
		t.Fatal(err)
	}
	// A Put in progress: its content arrives through a pipe, half now.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(t.Context(), "models/in-progress", pr)
		done <- err
	}()
	if _, err := pw.Write(bytes.Repeat([]byte("y"), 1<<16)); err != nil {
		t.Fatal(err)
	}
	removed, kept, err := s.RemoveStaleTemps(t.Context(), time.Now().Add(-30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].Key != ".tmp/put-killed" || removed[0].Size != 1000 || kept != 2 {
		t.Fatalf("removed %+v, kept %d; want .tmp/put-killed (1000 bytes) removed and 2 kept", removed, kept)
	}
	if _, err := os.Stat(killed); !os.IsNotExist(err) {
		t.Errorf("stale temp file still there: %v", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("a temp file younger than the cut-off was removed: %v", err)
	}
	pw.Write(bytes.Repeat([]byte("y"), 1<<16))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("the Put in progress failed: %v", err)
	}
	if info, err := s.Stat(t.Context(), "models/in-progress"); err != nil || info.Size != 2<<16 {
		t.Fatalf("published object: %+v, %v", info, err)
	}
}

func openLocal2(t *testing.T, dir string) *blob.Local {
	s, err := blob.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A key that is a folder of other keys, or lies under an object, cannot be
// stored in a file system; the local store says so instead of failing oddly.
func TestLocalFileFolderConflict(t *testing.T) {
	s := openLocal(t)
	ctx := t.Context()
	if _, err := blob.PutBytes(ctx, s, "a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.PutBytes(ctx, s, "a/b/c", []byte("y")); !errors.Is(err, blob.ErrInvalidKey) {
		t.Errorf("Put under an object: err = %v, want ErrInvalidKey", err)
	}
	if _, err := blob.PutBytes(ctx, s, "a", []byte("y")); !errors.Is(err, blob.ErrInvalidKey) {
		t.Errorf("Put over a folder: err = %v, want ErrInvalidKey", err)
	}
	if got, _, err := blob.ReadAll(ctx, s, "a/b"); err != nil || !bytes.Equal(got, []byte("x")) {
		t.Errorf("a/b after refused Puts = %q, %v", got, err)
	}
}

// A symbolic link inside the folder cannot take a key outside it.
func TestLocalSymlinkEscape(t *testing.T) {
	s := openLocal(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "link")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	_, err := blob.PutBytes(t.Context(), s, "link/x", []byte("x"))
	if err == nil {
		t.Errorf("Put through a symlink out of the folder succeeded")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("Put wrote outside the folder: %v", entries)
	}
}

func TestLocalDeleteRemovesEmptyFolders(t *testing.T) {
	s := openLocal(t)
	ctx := t.Context()
	blob.PutBytes(ctx, s, "x/y/z/obj", []byte("1"))
	blob.PutBytes(ctx, s, "x/keep", []byte("2"))
	if err := s.Delete(ctx, "x/y/z/obj"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "x", "y")); !os.IsNotExist(err) {
		t.Errorf("empty folder x/y left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "x", "keep")); err != nil {
		t.Errorf("x/keep: %v", err)
	}
}

func TestValidateKey(t *testing.T) {
	good := []string{
		"a",
		"raw/tax/month=2024-01/part-00000.parquet",
		"features/set/v1/asof=2024-01-31/_manifest.json",
		"models/sha256/" + strings.Repeat("ab", 32),
		"公司/统一社会信用代码/91330604MA2BDXXX0X",
		"a.b/c..d/e.",
		"with space/and:colon",
		strings.Repeat("s", blob.MaxSegmentLen),
		strings.Repeat(strings.Repeat("k", 99)+"/", 10) + strings.Repeat("k", blob.MaxKeyLen-1000),
	}
	for _, k := range good {
		if err := blob.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range blobtest.BadKeys {
		err := blob.ValidateKey(k)
		if !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

// FuzzValidateKey: whatever ValidateKey accepts is a local, clean,
// slash-separated path that stays inside a folder.
func FuzzValidateKey(f *testing.F) {
	for _, k := range blobtest.BadKeys {
		f.Add(k)
	}
	f.Add("raw/tax/month=2024-01/part-00000.parquet")
	f.Add("a/b/../c")
	f.Fuzz(func(t *testing.T, key string) {
		if blob.ValidateKey(key) != nil {
			return
		}
		if !filepath.IsLocal(key) || filepath.ToSlash(filepath.Clean(key)) != key {
			t.Errorf("accepted %q, which is not a clean local path", key)
		}
		if strings.ContainsAny(key, "\\\x00") || len(key) > blob.MaxKeyLen {
			t.Errorf("accepted %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg[0] == '.' {
				t.Errorf("accepted %q with segment %q", key, seg)
			}
		}
	})
}

func BenchmarkLocal(b *testing.B) {
	blobtest.Benchmark(b, openLocal(b))
}

// TestReadAllInto reads objects into a buffer large enough for them, which it
// reuses, and into one too small, which it does not.
func TestReadAllInto(t *testing.T) {
	s := openLocal(t)
	ctx := t.Context()
	for k, v := range map[string]string{"long": strings.Repeat("x", 3000), "short": "abc"} {
		if _, err := blob.PutBytes(ctx, s, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 0, 8<<10)
	for _, tt := range []struct {
		key, want string
		buf       []byte
		reused    bool
	}{
		{"long", strings.Repeat("x", 3000), buf, true},
		{"short", "abc", buf, true},
		{"long", strings.Repeat("x", 3000), make([]byte, 0, 100), false},
	} {
		got, info, err := blob.ReadAllInto(ctx, s, tt.key, tt.buf)
		if err != nil || string(got) != tt.want || info.Size != int64(len(tt.want)) {
			t.Fatalf("%s: %d bytes, %+v, %v", tt.key, len(got), info, err)
		}
		if reused := &got[:1][0] == &tt.buf[:1][0]; reused != tt.reused {
			t.Errorf("%s into a buffer of %d: reused %v, want %v", tt.key, cap(tt.buf), reused, tt.reused)
		}
	}
}
