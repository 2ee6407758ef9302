package datasets

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// benchGenerate generates o into a fresh local folder per iteration and reports
// rows/s, MB written, CPU seconds (user+system, meaningful on a shared machine)
// and the process's peak resident set size.
func benchGenerate(b *testing.B, o GenerateOptions) {
	ctx := context.Background()
	var rows, bytes int64
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		store, err := blob.OpenLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		before := cpuTime()
		b.StartTimer()
		s, err := Generate(ctx, store, o)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - before
		rows += s.TotalRows()
		bytes += s.Bytes
		store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(bytes)/1e6/float64(b.N), "MB/op")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGenerate is a small universe (2,000 companies x 12 months) for
// quick comparisons of the hot path.
func BenchmarkGenerate(b *testing.B) {
	benchGenerate(b, GenerateOptions{Companies: 2000, Months: 12, Seed: 1})
}

// BenchmarkGenerate120k is the region-sized run of the issue: 120,000 companies
// x 36 months into a local folder. Run it alone:
//
//	go test ./datasets -run '^$' -bench Generate120k -benchtime 1x
func BenchmarkGenerate120k(b *testing.B) {
	benchGenerate(b, GenerateOptions{Companies: 120_000, Months: 36, Seed: 1})
}

// BenchmarkReadMonth reads one month of the tax table of 25,000 companies back
// through ReadMonth, the path the feature store takes.
func BenchmarkReadMonth(b *testing.B) {
	ctx := context.Background()
	store := newMemStore()
	if _, err := Generate(ctx, store, GenerateOptions{Companies: 25_000, Months: 1, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	tax, err := SourceByName(SourceTax)
	if err != nil {
		b.Fatal(err)
	}
	m := Month(2023 * 12)
	var rows int
	b.ResetTimer()
	for b.Loop() {
		r, err := ReadMonth[TaxRow](ctx, store, tax, m)
		if err != nil {
			b.Fatal(err)
		}
		rows += len(r)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
