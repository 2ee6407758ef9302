package jobs_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// TestClaimOnce: callers on two queues over one database race for one key;
// exactly one takes it, the others read the value its holder set, and a
// released key can be taken again.
func TestClaimOnce(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dsn := "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")
			if engine == "postgres" {
				dsn = metadbtest.PostgresDSN(t)
			}
			ctx := context.Background()
			var qs [2]*jobs.Queue
			for i := range qs {
				q, err := jobs.Open(ctx, jobs.Options{DSN: dsn})
				if err != nil {
					t.Fatal(err)
				}
				defer q.Close()
				qs[i] = q
			}
			if v, ok, err := qs[0].Claimed(ctx, "k"); err != nil || ok || v != "" {
				t.Fatalf("unclaimed key: %q %v %v", v, ok, err)
			}
			const n = 8
			var wg sync.WaitGroup
			won := make(chan int, n)
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, ok, err := qs[i%2].Claim(ctx, "k", "pending")
					if err != nil {
						errs <- err
					}
					if ok {
						won <- i
					}
				}()
			}
			wg.Wait()
			close(won)
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(won) != 1 {
				t.Fatalf("%d callers took the key, want 1", len(won))
			}
			if err := qs[0].SetClaim(ctx, "k", "m:v1"); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := qs[1].Claim(ctx, "k", "pending"); err != nil || ok || v != "m:v1" {
				t.Fatalf("claim of a held key: %q %v %v, want m:v1 held", v, ok, err)
			}
			if err := qs[1].ReleaseClaim(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := qs[1].Claim(ctx, "k", "again"); err != nil || !ok || v != "again" {
				t.Fatalf("claim after release: %q %v %v", v, ok, err)
			}
			if _, _, err := qs[0].Claim(ctx, "", "x"); err == nil {
				t.Fatal("empty key claimed")
			}
		})
	}
}
