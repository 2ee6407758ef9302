package minio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/blob/blobtest"
	"github.com/xinyi-platform/xinyi/internal/blob/minio"
	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"
)

// The store passes the same contract on MinIO in erasure-coded mode over four
// drives (2 data + 2 parity shards per object) as on one drive.
func TestMinIOErasureContract(t *testing.T) {
	srv := miniotest.StartWith(t, miniotest.Options{Drives: 4})
	blobtest.Run(t, func(t *testing.T) blob.Store { return srv.Open(t) }, corruptMinIO(srv))
}

// erasureSizes are object sizes on both sides of MinIO's inline limit (small
// objects live inside the metadata file on every drive, larger ones are split
// into shards across the drives) and across several erasure blocks (1 MiB).
var erasureSizes = []int{0, 1, 1000, 200 << 10, 3<<20 + 17}

// One drive of four removed while writers and readers run: every object read
// back verifies, every write after the removal succeeds (write quorum is 3 of
// 4), and a second drive removed takes the write quorum away, which shows the
// removal is real.
func TestMinIOErasureDriveRemoved(t *testing.T) {
	srv := miniotest.StartWith(t, miniotest.Options{Drives: 4})
	drives := srv.Drives()
	if len(drives) != 4 {
		t.Fatalf("drives = %v, want 4", drives)
	}
	ctx := t.Context()
	opts := srv.Options("erasure")
	opts.Timeout = 20 * time.Second
	s, err := minio.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}

	// Objects written with all four drives present.
	want := map[string][]byte{}
	var mu sync.Mutex
	put := func(key string, data []byte) error {
		if _, err := blob.PutBytes(ctx, s, key, data); err != nil {
			return fmt.Errorf("Put %s (%d bytes): %w", key, len(data), err)
		}
		mu.Lock()
		want[key] = data
		mu.Unlock()
		return nil
	}
	for i, n := range erasureSizes {
		if err := put(fmt.Sprintf("before/%d", i), blobtest.Payload(uint64(i), n)); err != nil {
			t.Fatal(err)
		}
	}

	// Writers and readers run across the removal.
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		errMu    sync.Mutex
		errs     []error
		written  atomic.Int64
		readDone atomic.Int64
	)
	var failures atomic.Int64
	fail := func(err error) {
		failures.Add(1)
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				n := erasureSizes[i%len(erasureSizes)]
				if err := put(fmt.Sprintf("during/w%d/%05d", w, i), blobtest.Payload(uint64(1000*w+i), n)); err != nil {
					fail(err)
					return
				}
				written.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			key := fmt.Sprintf("before/%d", i%len(erasureSizes))
			got, _, err := blob.ReadAll(ctx, s, key)
			if err != nil {
				fail(fmt.Errorf("ReadAll %s: %w", key, err))
				return
			}
			mu.Lock()
			w := want[key]
			mu.Unlock()
			if !bytes.Equal(got, w) {
				fail(fmt.Errorf("ReadAll %s: %d bytes differ from the %d written", key, len(got), len(w)))
				return
			}
			readDone.Add(1)
		}
	}()
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within a minute", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("writes before the removal", func() bool { return written.Load() >= 10 })
	removedAt := written.Load()
	if err := srv.RemoveDrive(1); err != nil {
		t.Fatal(err)
	}
	waitFor("writes after the removal", func() bool { return written.Load() >= removedAt+20 || failures.Load() > 0 })
	stop.Store(true)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d objects written and %d read during the run, drive %s removed after %d writes", written.Load(), readDone.Load(), drives[1], removedAt)

	// A fresh round with the drive gone: new objects of every size, then every
	// object ever written reads back whole and verified, and is listed.
	for i, n := range erasureSizes {
		if err := put(fmt.Sprintf("after/%d", i), blobtest.Payload(uint64(500+i), n)); err != nil {
			t.Fatal(err)
		}
	}
	for key, data := range want {
		got, info, err := blob.ReadAll(ctx, s, key)
		if err != nil {
			t.Fatalf("ReadAll %s with a drive gone: %v", key, err)
		}
		if !bytes.Equal(got, data) || info.SHA256 != blob.SHA256Hex(data) {
			t.Fatalf("ReadAll %s with a drive gone: %d bytes, sha256 %s; want %d bytes, %s", key, len(got), info.SHA256, len(data), blob.SHA256Hex(data))
		}
	}
	infos, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(want) {
		t.Errorf("List: %d objects, want %d", len(infos), len(want))
	}

	// A second drive gone leaves 2 of 4: reads still have their quorum (2 data
	// shards), writes do not (3). The write must fail, and cleanly.
	if err := srv.RemoveDrive(3); err != nil {
		t.Fatal(err)
	}
	short := opts
	short.Timeout = 5 * time.Second
	s2, err := minio.Open(ctx, short)
	if err != nil {
		t.Fatalf("Open with two drives gone: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err = blob.PutBytes(wctx, s2, "after/two-gone", blobtest.Payload(9, 200<<10))
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("Put with two of four drives gone: err = %v, want ErrUnavailable (no write quorum)", err)
	}
	t.Logf("Put with two drives gone: %v", err)
	got, _, err := blob.ReadAll(ctx, s2, "before/4")
	if err != nil || !bytes.Equal(got, want["before/4"]) {
		t.Fatalf("ReadAll with two of four drives gone: %d bytes, %v; want the object (read quorum is 2)", len(got), err)
	}
}
