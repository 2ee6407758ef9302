package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
)

// BenchmarkDeliveries delivers a burst of alerts to 100 endpoints on loopback
// and reports deliveries a second from the first insert to the last answer,
// with durable bookkeeping (PostgreSQL jobs, each delivery a job). The burst
// is XINYI_BENCH_DELIVERIES (default 10,000; the figure is 100,000) and
// the concurrent deliveries XINYI_BENCH_DELIVERY_WORKERS (default 64).
//
//	go test -run '^$' -bench Deliveries -benchtime 1x ./internal/webhooks
func BenchmarkDeliveries(b *testing.B) {
	n := envInt(b, "XINYI_BENCH_DELIVERIES", 10_000)
	workers := envInt(b, "XINYI_BENCH_DELIVERY_WORKERS", 64)
	ctx := context.Background()
	dsn := metadbtest.PostgresDSN(b)
	db, err := metadb.Open(ctx, dsn, metadb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	guard := webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true}
	eps, err := webhooks.OpenEndpoints(ctx, db, guard)
	if err != nil {
		b.Fatal(err)
	}
	var ids []int64
	for i := range 100 {
		ep, _, err := eps.Create(ctx, int64(1+i%10), fmt.Sprintf("%s/bank%d", srv.URL, i), "bench")
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, ep.ID)
	}
	ws := jobs.NewWorkers()
	if err := webhooks.Register(ws, eps, guard, nil); err != nil {
		b.Fatal(err)
	}
	q, err := jobs.Open(ctx, jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{webhooks.QueueName: workers}, PollInterval: 50 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"event":"warning.opened","warning":{"id":1,"rule":"court.dishonest.listed","severity":"red"}}`)
	for b.Loop() {
		got.Store(0)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < n; i += 8 {
					a := webhooks.Args{Endpoint: ids[i%len(ids)], ID: webhooks.NewMessageID(), Type: "warning.opened", Data: data, At: start}
					if _, err := q.Insert(ctx, a, jobs.InsertOptions{Queue: webhooks.QueueName, MaxAttempts: webhooks.MaxAttempts}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		inserted := time.Since(start)
		for deadline := time.Now().Add(30 * time.Minute); got.Load() < int64(n); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d delivered", got.Load(), n)
			}
		}
		total := time.Since(start)
		b.ReportMetric(float64(n)/total.Seconds(), "deliveries/s")
		b.ReportMetric(float64(n)/inserted.Seconds(), "inserts/s")
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}
