package ingest

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// csvStream produces a tax export of companies x months on the fly, month by month.
type csvStream struct {
	codes    []string
	months   int
	m, i     int
	pending  []byte
	started  bool
	produced int64
}

func (s *csvStream) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		if !s.started {
			s.started = true
			s.pending = []byte("纳税人识别号,所属期,销售额,增值税,企业所得税,实缴税额,利润总额,开票数量,欠税金额,纳税信用等级\n")
			break
		}
		if s.m == s.months {
			return 0, io.EOF
		}
		s.pending = fmt.Appendf(s.pending, "%s,%04d-%02d,%d.25,%d.5,0,%d.5,%d,%d,0,B\n",
			s.codes[s.i], 2018+s.m/12, s.m%12+1, 1000+s.i, 30+s.i%7, 30+s.i%7, s.i%500, s.i%40)
		if s.i++; s.i == len(s.codes) {
			s.i, s.m = 0, s.m+1
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	s.produced += int64(n)
	return n, nil
}

// peakHeap runs fn and returns the most heap it saw in use and the most heap
// the garbage collector found live, sampled every 5ms. The first includes the
// garbage awaiting a collection, which depends on when collections fall as
// much as on what the batch holds: a run that allocates little may end before
// the heap reaches its collector's goal (twice the live heap).
func peakHeap(fn func()) (inUse, live uint64) {
	runtime.GC()
	var peak, peakLive atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			metrics.Read(sample)
			if v := sample[0].Value; v.Kind() == metrics.KindUint64 && v.Uint64() > peakLive.Load() {
				peakLive.Store(v.Uint64())
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	return peak.Load(), peakLive.Load()
}

// TestIngestMemoryBounded delivers the same companies over 12 and over 60 months:
// five times the file, and the live heap at its peak may not grow with it (the
// rows of one month are what a batch holds at once). The heap in use, garbage
// included, is logged.
func TestIngestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams a million rows")
	}
	codes := make([]string, 20_000)
	for i := range codes {
		codes[i] = testCode(t, i)
	}
	run := func(months int) (uint64, uint64, int64) {
		store := openStore(t)
		s := &csvStream{codes: codes, months: months}
		var rep *Report
		var err error
		peak, live := peakHeap(func() {
			rep, err = New(store).Ingest(context.Background(), "tax", []Input{{Name: "stream.csv", R: s}}, Options{Now: clock("2026-01-05")})
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.New != int64(len(codes)*months) {
			t.Fatalf("%s", rep.Summary())
		}
		return peak, live, s.produced
	}
	smallPeak, small, smallBytes := run(12)
	largePeak, large, largeBytes := run(60)
	t.Logf("12 months: %.0f MB of CSV, live heap at most %.0f MB (in use %.0f MB); 60 months: %.0f MB of CSV, live heap at most %.0f MB (in use %.0f MB)",
		float64(smallBytes)/1e6, float64(small)/1e6, float64(smallPeak)/1e6, float64(largeBytes)/1e6, float64(large)/1e6, float64(largePeak)/1e6)
	if small == 0 || large == 0 {
		t.Fatal("the live heap was not sampled")
	}
	if float64(large) > 1.5*float64(small) {
		t.Fatalf("live heap grew with the file: %d bytes for 12 months, %d for 60", small, large)
	}
}
