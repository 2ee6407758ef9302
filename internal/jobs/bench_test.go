package jobs_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// pingArgs carries its insert time; its handler reports when it started.
type pingArgs struct {
	SentNanos int64 `json:"sent"`
}

func (pingArgs) Kind() string { return "test_ping" }

// BenchmarkQueue measures, on each engine, the delay from Insert to the handler
// starting (one job at a time, 20ms apart, so the queue is idle at each insert) and the
// throughput of b.N jobs inserted at once and worked by 4 workers.
//
//	go test -run '^$' -bench BenchmarkQueue -benchtime 200x ./internal/jobs/
func BenchmarkQueue(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			b.Run("enqueue-to-start", func(b *testing.B) { benchLatency(b, benchDSN(b, engine)) })
			b.Run("throughput", func(b *testing.B) { benchThroughput(b, benchDSN(b, engine)) })
		})
	}
}

func benchDSN(b *testing.B, engine string) string {
	if engine == "sqlite" {
		return "sqlite://" + filepath.Join(b.TempDir(), "jobs.db")
	}
	return metadbtest.PostgresDSN(b)
}

func openPing(b *testing.B, dsn string, started chan<- time.Duration) *jobs.Queue {
	ws := jobs.NewWorkers()
	if err := jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[pingArgs]) error {
		started <- time.Since(time.Unix(0, j.Args.SentNanos))
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	q, err := jobs.Open(context.Background(), jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{jobs.DefaultQueue: 4}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Close() })
	if err := q.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return q
}

func benchLatency(b *testing.B, dsn string) {
	started := make(chan time.Duration, 1)
	q := openPing(b, dsn, started)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		if _, err := q.Insert(ctx, pingArgs{SentNanos: time.Now().UnixNano()}, jobs.InsertOptions{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, <-started)
		// River sends no insert notification within FetchCooldown of the last
		// one (such a job waits for the poll): keep the inserts apart, so this
		// measures the pickup of a job on an idle queue.
		b.StopTimer()
		time.Sleep(2 * jobs.DefaultFetchCooldown)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func benchThroughput(b *testing.B, dsn string) {
	started := make(chan time.Duration, b.N)
	q := openPing(b, dsn, started)
	ctx := context.Background()
	b.ResetTimer()
	t0 := time.Now()
	for range b.N {
		if _, err := q.Insert(ctx, pingArgs{SentNanos: time.Now().UnixNano()}, jobs.InsertOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		<-started
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "jobs/s")
}
