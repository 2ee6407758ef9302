package features

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"
)

// copyStore copies every object of src into dst, four at a time.
func copyStore(t testing.TB, dst, src blob.Store) int {
	t.Helper()
	ctx := context.Background()
	infos, err := src.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	keys := make(chan string)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range keys {
				data, _, err := blob.ReadAll(ctx, src, key)
				if err == nil {
					_, err = blob.PutBytes(ctx, dst, key, data)
				}
				if err != nil {
					errs <- err
					for range keys { // drain
					}
					return
				}
			}
		}()
	}
	for _, in := range infos {
		keys <- in.Key
	}
	close(keys)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return len(infos)
}

// TestMaterializeErasureDriveRemoved materializes a generated universe on MinIO
// erasure-coded over four drives and removes one drive in the middle of the
// raw reads: the run completes (every part and manifest is written with one
// drive gone) and gives the snapshots, byte for byte, of the same run on a local
// folder.
func TestMaterializeErasureDriveRemoved(t *testing.T) {
	ctx := t.Context()
	local, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.Generate(ctx, local, datasets.GenerateOptions{Companies: 300, Months: 18, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	infos, err := local.List(ctx, "raw/")
	if err != nil {
		t.Fatal(err)
	}
	var rawBytes int64
	for _, in := range infos {
		rawBytes += in.Size
	}
	srv := miniotest.StartWith(t, miniotest.Options{Drives: 4})
	remote := srv.Open(t)
	raw := copyStore(t, remote, local)

	var asofs []time.Time
	for m := 10; m <= 12; m++ {
		asofs = append(asofs, time.Date(2024, time.Month(m+1), 0, 0, 0, 0, 0, time.UTC))
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := Options{Set: "full", AsOf: asofs, Workers: 2, Now: func() time.Time { return created },
		// A budget of about a third of what one pass needs (three bytes a raw
		// byte, 60% of the budget) splits the companies into a few shards, each
		// reading the raw files again and writing its own parts.
		MemoryBudget: rawBytes * 5 / 3}
	want, err := Materialize(ctx, local, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want.Shards < 2 {
		t.Fatalf("local run: %d shard(s), want several", want.Shards)
	}

	var (
		reads     atomic.Int64
		total     atomic.Int64
		removedAt atomic.Int64
		once      sync.Once
		removeErr error
	)
	o := opts
	o.Progress = func(stage string, done, n int64) {
		if stage != "read" {
			return
		}
		total.Store(n)
		if r := reads.Add(done); r >= n/2 {
			once.Do(func() {
				removedAt.Store(r)
				removeErr = srv.RemoveDrive(2)
			})
		}
	}
	got, err := Materialize(ctx, remote, o)
	if removeErr != nil {
		t.Fatal(removeErr)
	}
	if err != nil {
		t.Fatalf("materialization with a drive removed mid-way: %v", err)
	}
	if removedAt.Load() == 0 || removedAt.Load() >= reads.Load() {
		t.Fatalf("drive removed after read %d of %d: not in the middle of the run", removedAt.Load(), reads.Load())
	}
	t.Logf("%d raw files; drive %s removed after %d of %d reads (%d shards); %d snapshots",
		raw, srv.Drives()[2], removedAt.Load(), reads.Load(), got.Shards, len(got.Snapshots))

	if got.Shards != want.Shards || got.Companies != want.Companies || got.RawRecords != want.RawRecords || len(got.Snapshots) != len(want.Snapshots) {
		t.Fatalf("MinIO run: %d shards, %d companies, %d raw records, %d snapshots; local: %d, %d, %d, %d",
			got.Shards, got.Companies, got.RawRecords, len(got.Snapshots), want.Shards, want.Companies, want.RawRecords, len(want.Snapshots))
	}
	for _, s := range want.Snapshots {
		wm, err := ReadManifest(ctx, local, "full", 1, s.AsOf)
		if err != nil {
			t.Fatal(err)
		}
		gm, err := ReadManifest(ctx, remote, "full", 1, s.AsOf)
		if err != nil {
			t.Fatalf("as of %s on MinIO: %v", s.AsOf, err)
		}
		wj, _ := json.Marshal(wm)
		gj, _ := json.Marshal(gm)
		if !bytes.Equal(wj, gj) {
			t.Errorf("as of %s: the manifests differ:\nMinIO %s\nlocal %s", s.AsOf, gj, wj)
			continue
		}
		// Equal manifests name equal part digests; reading the parts back from
		// MinIO (verified against them) with the drive still gone checks the
		// bytes were stored whole.
		snap, _, err := ReadSnapshot(ctx, remote, "full", 1, s.AsOf)
		if err != nil {
			t.Fatalf("read snapshot as of %s back from MinIO: %v", s.AsOf, err)
		}
		if int64(len(snap.Codes)) != s.Rows || s.Rows == 0 {
			t.Errorf("as of %s: %d companies read back, %d written", s.AsOf, len(snap.Codes), s.Rows)
		}
	}
}

// BenchmarkMaterializeErasure is BenchmarkMaterialize (same flags) on MinIO
// erasure-coded over four drives, with all four and with one removed before the
// run; the raw files are generated into a local folder and copied to the server
// first, untimed:
//
//	go test -run '^$' -bench MaterializeErasure -benchtime 1x ./features -args -materialize.companies=20000
func BenchmarkMaterializeErasure(b *testing.B) {
	ctx := context.Background()
	local, err := blob.OpenLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	o := datasets.DefaultGenerateOptions()
	o.Companies, o.Months = *benchCompanies, 36
	if _, err := datasets.Generate(ctx, local, o); err != nil {
		b.Fatal(err)
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(benchBudget() * 3 / 2))
	for _, removed := range []int{0, 1} {
		b.Run(fmt.Sprintf("drives=%d", 4-removed), func(b *testing.B) {
			srv := miniotest.StartWith(b, miniotest.Options{Drives: 4})
			remote := srv.Open(b)
			copyStore(b, remote, local)
			for i := range removed {
				if err := srv.RemoveDrive(i); err != nil {
					b.Fatal(err)
				}
			}
			benchMaterializeLoop(b, remote)
		})
	}
}
