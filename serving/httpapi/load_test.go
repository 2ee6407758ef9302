package httpapi

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

var (
	loadDuration = flag.Duration("load.duration", 3*time.Second, "length of each open-loop load run in BenchmarkHTTPLoad")
	loadRates    = flag.String("load.rates", "500,1000,1500,2000", "request rates of BenchmarkHTTPLoad")
	loadWarm     = flag.Bool("load.warm", false, "BenchmarkHTTPLoad: fill the explanation cache with every company first (repeat queries); default cold (cache off)")
)

type loadResult struct {
	sent, failed int
	p50, p99     time.Duration
	max          time.Duration
	achieved     float64
}

// runLoad sends rate requests per second for d on an open-loop schedule (latency is
// measured from the scheduled send time, so a stalled server cannot hide queueing)
// and returns the latency percentiles. In flight requests are capped at 4096.
func runLoad(client *http.Client, url string, bodies [][]byte, rate int, d time.Duration) loadResult {
	n := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, n)
	failed := make([]bool, n)
	sem := make(chan struct{}, 4096)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[i%len(bodies)]))
			req.Header.Set("Authorization", "Bearer "+servingtest.BankKey)
			resp, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				failed[i] = resp.StatusCode != 200
			} else {
				failed[i] = true
			}
			lat[i] = time.Since(at)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := loadResult{sent: n, achieved: float64(n) / elapsed.Seconds()}
	for _, f := range failed {
		if f {
			res.failed++
		}
	}
	slices.Sort(lat)
	res.p50, res.p99, res.max = lat[n/2], lat[n*99/100], lat[n-1]
	return res
}

// BenchmarkHTTPLoad is a loopback (127.0.0.1) HTTP load test of the full assessment:
// three online-store lookups, three 300-tree models, policy, TreeSHAP reasons, audit
// (in memory), JSON both ways, API-key auth and the per-key limiter. Run it with
// -benchtime=1x; -load.duration and -load.rates change the schedule.
func BenchmarkHTTPLoad(b *testing.B) {
	cache := -1
	if *loadWarm {
		cache = 30000
	}
	r := servingtest.NewRealistic(b, 10000, func(o *serving.Options) { o.ExplainCache = cache })
	if *loadWarm {
		for _, c := range r.Codes {
			if _, err := r.Service.Assess(context.Background(), r.Bank, serving.Request{Company: c}); err != nil {
				b.Fatal(err)
			}
		}
	}
	h, err := New(Options{Service: r.Service, OIP: oip.New(r.Models, oip.Options{}), Authorizer: r.Auth,
		Limiter: serving.NewRateLimiter(1e6, 1e6, nil), Metrics: serving.NewMetrics(r.Models)})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h) // listens on 127.0.0.1 only
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096}, Timeout: 10 * time.Second}
	rng := rand.New(rand.NewPCG(3, 4))
	bodies := make([][]byte, 2000)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"company_code":%q}`, r.Codes[rng.IntN(len(r.Codes))]))
	}
	var rates []int
	for _, s := range bytes.Split([]byte(*loadRates), []byte(",")) {
		var v int
		if _, err := fmt.Sscanf(string(s), "%d", &v); err != nil || v <= 0 {
			b.Fatalf("bad -load.rates entry %q", s)
		}
		rates = append(rates, v)
	}
	runLoad(client, srv.URL+"/v1/assessments", bodies, 200, time.Second) // warm up connections
	for _, rate := range rates {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			for b.Loop() {
				res := runLoad(client, srv.URL+"/v1/assessments", bodies, rate, *loadDuration)
				b.ReportMetric(float64(res.p50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(res.p99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(res.max.Microseconds())/1000, "max-ms")
				b.ReportMetric(res.achieved, "req/s")
				b.ReportMetric(float64(res.failed), "failed")
			}
		})
	}
}
