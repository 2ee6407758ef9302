// Package blobtest is the contract every blob.Store implementation passes: the
// local folder and MinIO run the same tests (Run) and the same benchmarks
// (Benchmark). An implementation's test calls
//
//	blobtest.Run(t, func(t *testing.T) blob.Store { ... a fresh, empty store ... },
//		func(t *testing.T, s blob.Store, key string) { ... damage key's stored bytes ... })
//
// open must return a new empty store for each call (a temporary folder, a new
// bucket). corrupt must change the stored content of key without changing the
// digest the store recorded for it, so that only verification on read can
// notice; Run uses it to check that corruption surfaces as blob.ErrCorrupt.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Open returns a fresh, empty store.
type Open func(t *testing.T) blob.Store

// Corrupt damages the stored bytes of key in s, keeping its recorded digest.
type Corrupt func(t *testing.T, s blob.Store, key string)

// Run runs the contract suite as subtests of t.
func Run(t *testing.T, open Open, corrupt Corrupt) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"PutGetStat", testPutGetStat},
		{"Overwrite", testOverwrite},
		{"Empty", testEmpty},
		{"Large", testLarge},
		{"UnsizedReader", testUnsizedReader},
		{"List", testList},
		{"Delete", testDelete},
		{"NotFound", testNotFound},
		{"BadKeys", testBadKeys},
		{"FailedPutLeavesOldObject", testFailedPut},
		{"CanceledContext", testCanceled},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Corrupt", func(t *testing.T, s blob.Store) { testCorrupt(t, s, corrupt) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// Payload returns n deterministic pseudo-random bytes for seed.
func Payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// mustPut stores data and checks the Info Put returns.
func mustPut(t *testing.T, s blob.Store, key string, data []byte) blob.Info {
	t.Helper()
	info, err := blob.PutBytes(ctxT(t), s, key, data)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	checkInfo(t, "Put", info, key, data)
	return info
}

func checkInfo(t *testing.T, op string, info blob.Info, key string, data []byte) {
	t.Helper()
	if info.Key != key {
		t.Errorf("%s: Key = %q, want %q", op, info.Key, key)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("%s(%q): Size = %d, want %d", op, key, info.Size, len(data))
	}
	if want := blob.SHA256Hex(data); info.SHA256 != want {
		t.Errorf("%s(%q): SHA256 = %q, want %q", op, key, info.SHA256, want)
	}
	if d := time.Since(info.Modified); info.Modified.IsZero() || d > 10*time.Minute || d < -10*time.Minute {
		t.Errorf("%s(%q): Modified = %v, want about now", op, key, info.Modified)
	}
}

// mustRead reads key fully and checks it equals want.
func mustRead(t *testing.T, s blob.Store, key string, want []byte) {
	t.Helper()
	got, info, err := blob.ReadAll(ctxT(t), s, key)
	if err != nil {
		t.Fatalf("ReadAll(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ReadAll(%q): got %d bytes (sha256 %s), want %d bytes (sha256 %s)",
			key, len(got), blob.SHA256Hex(got), len(want), blob.SHA256Hex(want))
	}
	checkInfo(t, "Get", info, key, want)
}

func testPutGetStat(t *testing.T, s blob.Store) {
	ctx := ctxT(t)
	const key = "raw/tax/month=2024-01/part-00000.parquet"
	data := []byte("PAR1 declared sales 增值税 PAR1")
	put := mustPut(t, s, key, data)
	mustRead(t, s, key, data)
	st, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	checkInfo(t, "Stat", st, key, data)
	if put.SHA256 != st.SHA256 || put.Size != st.Size {
		t.Errorf("Put returned %+v, Stat %+v", put, st)
	}
	// Reading in small pieces gives the same bytes and a clean EOF.
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []byte
	buf := make([]byte, 3)
	for {
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Errorf("piecewise read got %q, want %q", got, data)
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	const key = "models/sha256/x/model.txt"
	mustPut(t, s, key, []byte("first version, longer than the second"))
	second := []byte("second")
	mustPut(t, s, key, second)
	mustRead(t, s, key, second)
	list, err := s.List(ctxT(t), "models/")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("List after overwrite: %d objects, want 1: %+v", len(list), list)
	}
	checkInfo(t, "List", list[0], key, second)
}

func testEmpty(t *testing.T, s blob.Store) {
	const key = "features/set/v1/asof=2024-01-31/_SUCCESS"
	mustPut(t, s, key, nil)
	mustRead(t, s, key, []byte{})
	st, err := s.Stat(ctxT(t), key)
	if err != nil {
		t.Fatal(err)
	}
	checkInfo(t, "Stat", st, key, nil)
}

func testLarge(t *testing.T, s blob.Store) {
	// Larger than MinIO-go's 16 MiB multipart threshold would be slow here;
	// several MiB with an odd size exercises buffering edges.
	data := Payload(7, 6<<20+12345)
	const key = "samples/big/v1/train.parquet"
	mustPut(t, s, key, data)
	mustRead(t, s, key, data)
}

// onlyReader hides every method but Read (no Seek, no WriterTo, no Len), as a
// network stream or pipe would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testUnsizedReader(t *testing.T, s blob.Store) {
	for _, n := range []int{1, 100 << 10, 3<<20 + 7} {
		key := fmt.Sprintf("stream/n=%d", n)
		data := Payload(uint64(n), n)
		info, err := s.Put(ctxT(t), key, onlyReader{bytes.NewReader(data)})
		if err != nil {
			t.Fatalf("Put(%q) from a plain reader: %v", key, err)
		}
		checkInfo(t, "Put", info, key, data)
		mustRead(t, s, key, data)
	}
}

func testList(t *testing.T, s blob.Store) {
	ctx := ctxT(t)
	// Chosen so that sorting by key differs from walking folders in order:
	// '-' < '.' < '/' in byte order.
	keys := []string{
		"raw/tax/month=2024-02/part-00000.parquet",
		"raw/tax/month=2024-01/part-00001.parquet",
		"raw/tax/month=2024-01/part-00000.parquet",
		"raw/taxes-old/x",
		"raw/tax.csv",
		"raw/courts/month=2024-01/part-00000.parquet",
		"raw-b/y",
		"top",
		"_manifest.json",
	}
	for i, k := range keys {
		mustPut(t, s, k, []byte(fmt.Sprintf("object %d %s", i, k)))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", keys},
		{"raw/", keys[:6]},
		{"raw/tax/", keys[:3]},
		{"raw/tax", keys[:5]},
		{"raw/ta", keys[:5]},
		{"raw/tax/month=2024-01/", keys[1:3]},
		{"raw/tax/month=2024-01/part-00001", keys[1:2]},
		{"raw", keys[:7]},
		{"top", keys[7:8]},
		{"nothing/", nil},
		{"raw/tax/month=2024-01/part-00000.parquet/", nil},
	}
	for _, c := range cases {
		got, err := s.List(ctx, c.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", c.prefix, err)
		}
		want := slices.Clone(c.want)
		slices.Sort(want)
		var gotKeys []string
		for _, info := range got {
			gotKeys = append(gotKeys, info.Key)
			checkInfo(t, "List", info, info.Key, []byte(fmt.Sprintf("object %d %s", slices.Index(keys, info.Key), info.Key)))
		}
		if !slices.Equal(gotKeys, want) {
			t.Errorf("List(%q) =\n  %q\nwant\n  %q", c.prefix, gotKeys, want)
		}
		if got == nil {
			t.Errorf("List(%q) returned a nil slice, want an empty one", c.prefix)
		}
		// Keys lists the same keys, whether the store has a cheaper way or not.
		if keysOnly, err := blob.Keys(ctx, s, c.prefix); err != nil || !slices.Equal(keysOnly, gotKeys) || keysOnly == nil {
			t.Errorf("Keys(%q) = %q, %v; List's keys %q", c.prefix, keysOnly, err, gotKeys)
		}
	}
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := ctxT(t)
	mustPut(t, s, "a/b/c", []byte("c"))
	mustPut(t, s, "a/b2", []byte("b2"))
	if err := s.Delete(ctx, "a/b/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(ctx, "a/b/c"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat after Delete: err = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Get(ctx, "a/b/c"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	for _, k := range []string{"a/b/c", "never/was", "a/b2/under-an-object"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) of a missing key: %v, want nil", k, err)
		}
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Key != "a/b2" {
		t.Errorf("List after Delete = %+v, want only a/b2", list)
	}
	// The key can be written again.
	mustPut(t, s, "a/b/c", []byte("again"))
	mustRead(t, s, "a/b/c", []byte("again"))
}

func testNotFound(t *testing.T, s blob.Store) {
	ctx := ctxT(t)
	mustPut(t, s, "present/x", []byte("x"))
	for _, key := range []string{"missing", "present/y", "present", "present/x/deeper"} {
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), key) {
			t.Errorf("Stat(%q): err = %v, want ErrNotFound naming the key", key, err)
		}
		rc, _, err := s.Get(ctx, key)
		if err == nil {
			rc.Close()
		}
		if !errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), key) {
			t.Errorf("Get(%q): err = %v, want ErrNotFound naming the key", key, err)
		}
	}
}

// BadKeys are keys every store must refuse.
var BadKeys = []string{
	"",
	"/etc/passwd",
	"../escape",
	"a/../../escape",
	"a/..",
	"..",
	".",
	"./a",
	"a/./b",
	"a//b",
	"a/",
	"/",
	`a\b`,
	`..\..\windows`,
	"a\x00b",
	"a\nb",
	"tab\there",
	"del\x7f",
	"c1\u0085control",
	".hidden",
	"a/.tmp/put-1",
	"bad\xffutf8",
	strings.Repeat("k", blob.MaxKeyLen+1),
	strings.Repeat("s", blob.MaxSegmentLen+1),
}

func testBadKeys(t *testing.T, s blob.Store) {
	ctx := ctxT(t)
	for _, key := range BadKeys {
		if _, err := s.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q): err = %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Get(%q): err = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Stat(%q): err = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete(%q): err = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"../", "/abs", "a//", `a\`, "x\x00"} {
		if _, err := s.List(ctx, prefix); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("List(%q): err = %v, want ErrInvalidKey", prefix, err)
		}
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("bad keys left objects behind: %+v", list)
	}
}

// failingReader yields n bytes, then an error.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = 'z'
	}
	f.n -= k
	return k, nil
}

func testFailedPut(t *testing.T, s blob.Store) {
	ctx := ctxT(t)
	const key = "features/x/v1/part-00000.parquet"
	old := []byte("the old, whole object")
	mustPut(t, s, key, old)
	boom := errors.New("source broke")
	_, err := s.Put(ctx, key, &failingReader{n: 2 << 20, err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("Put from a failing reader: err = %v, want it to wrap %v", err, boom)
	}
	mustRead(t, s, key, old)
	_, err = s.Put(ctx, "features/x/v1/new", &failingReader{n: 1000, err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("Put from a failing reader: err = %v, want it to wrap %v", err, boom)
	}
	if _, err := s.Stat(ctx, "features/x/v1/new"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("a failed Put of a new key left something: Stat err = %v", err)
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Errorf("after failed Puts List = %+v, want only %s", list, key)
	}
}

func testCanceled(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	if _, err := s.Put(ctx, "c/x", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := s.Stat(ctxT(t), "c/x"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("a canceled Put stored something: Stat err = %v", err)
	}
}

// testConcurrentWriters: several writers overwrite one key with different
// whole objects while readers read it; every read must be exactly one writer's
// object, and afterwards exactly one whole object remains.
func testConcurrentWriters(t *testing.T, s blob.Store) {
	ctx := ctxT(t)
	const (
		key     = "models/sha256/contended"
		writers = 6
		rounds  = 4
		size    = 512<<10 + 3
	)
	objects := make(map[string]int, writers) // sha256 -> writer
	contents := make([][]byte, writers)
	for w := range writers {
		contents[w] = Payload(uint64(1000+w), size)
		objects[blob.SHA256Hex(contents[w])] = w
	}
	var (
		wg       sync.WaitGroup
		done     atomic.Bool
		reads    atomic.Int64
		errMu    sync.Mutex
		failures []string
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if _, err := blob.PutBytes(ctx, s, key, contents[w]); err != nil {
					fail("writer %d: Put: %v", w, err)
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for r := range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for !done.Load() {
				got, info, err := blob.ReadAll(ctx, s, key)
				if errors.Is(err, blob.ErrNotFound) {
					continue // before the first write lands
				}
				if err != nil {
					fail("reader %d: %v", r, err)
					return
				}
				reads.Add(1)
				sum := blob.SHA256Hex(got)
				if _, ok := objects[sum]; !ok || info.SHA256 != sum || len(got) != size {
					fail("reader %d: read %d bytes (sha256 %s, info %s) that are no writer's whole object", r, len(got), sum, info.SHA256)
					return
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	readers.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	got, info, err := blob.ReadAll(ctx, s, key)
	if err != nil {
		t.Fatalf("final read: %v", err)
	}
	if _, ok := objects[blob.SHA256Hex(got)]; !ok || len(got) != size || info.SHA256 != blob.SHA256Hex(got) {
		t.Fatalf("final object (%d bytes) is not one writer's whole object", len(got))
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Key != key || list[0].SHA256 != info.SHA256 {
		t.Errorf("after concurrent writes List = %+v, want exactly %s", list, key)
	}
	t.Logf("%d whole reads during %d concurrent writes", reads.Load(), writers*rounds)
}

func testCorrupt(t *testing.T, s blob.Store, corrupt Corrupt) {
	ctx := ctxT(t)
	for _, n := range []int{1, 4096, 300 << 10} {
		key := fmt.Sprintf("models/sha256/damaged-%d", n)
		data := Payload(uint64(n)+5, n)
		mustPut(t, s, key, data)
		corrupt(t, s, key)
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q) of a corrupted object: %v (want the error from Read)", key, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if !errors.Is(err, blob.ErrCorrupt) {
			t.Errorf("reading corrupted %q: err = %v, want ErrCorrupt", key, err)
		}
		if err != nil && !strings.Contains(err.Error(), key) {
			t.Errorf("corruption error %q does not name the key", err)
		}
		if err == nil && bytes.Equal(got, data) {
			t.Errorf("corrupt hook did not change %q", key)
		}
		if _, _, err := blob.ReadAll(ctx, s, key); !errors.Is(err, blob.ErrCorrupt) {
			t.Errorf("blob.ReadAll of corrupted %q: err = %v, want ErrCorrupt", key, err)
		}
	}
}

// Benchmark runs Put and Get of 1 MiB objects against the store open returns.
func Benchmark(b *testing.B, s blob.Store) {
	data := Payload(42, 1<<20)
	ctx := context.Background()
	b.Run("Put1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		i := 0
		for b.Loop() {
			if _, err := blob.PutBytes(ctx, s, fmt.Sprintf("bench/put/%d", i%64), data); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Get1MiB", func(b *testing.B) {
		const n = 16
		for i := range n {
			if _, err := blob.PutBytes(ctx, s, fmt.Sprintf("bench/get/%d", i), data); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(data)))
		buf := make([]byte, 256<<10)
		i := 0
		for b.Loop() {
			rc, _, err := s.Get(ctx, fmt.Sprintf("bench/get/%d", i%n))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
				b.Fatal(err)
			}
			rc.Close()
			i++
		}
	})
}
