package serving

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the histogram upper bounds in seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// scoreBuckets are the upper bounds, in seconds, of one model's scoring time.
var scoreBuckets = [...]float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025}

// scoreTimer is the scoring-time histogram of one loaded model, updated without a
// lock by concurrent decisions.
type scoreTimer struct {
	ref    ModelRef
	counts [len(scoreBuckets) + 1]atomic.Uint64 // the last counts what exceeds every bound
	sumNs  atomic.Uint64
}

func (t *scoreTimer) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(scoreBuckets) && s > scoreBuckets[i] {
		i++
	}
	t.counts[i].Add(1)
	t.sumNs.Add(uint64(max(d, 0)))
}

// Metrics collects serving metrics and writes them in the Prometheus text exposition
// format (it is an http.Handler for GET /metrics). A nil *Metrics records nothing.
type Metrics struct {
	models *Models

	mu        sync.Mutex
	requests  map[[3]string]uint64 // transport, endpoint, status
	latency   map[[2]string]*histogram
	decisions map[[2]string]uint64 // rating, colour
	degraded  map[string]string    // component → reason
	swaps     uint64

	scoring sync.Map // *Scorer → *scoreTimer
}

type histogram struct {
	counts []uint64 // per bucket, cumulative computed at write
	sum    float64
	n      uint64
}

// NewMetrics returns a collector that also reports the versions loaded in models
// (models may be nil).
func NewMetrics(models *Models) *Metrics {
	return &Metrics{models: models, requests: map[[3]string]uint64{}, latency: map[[2]string]*histogram{},
		decisions: map[[2]string]uint64{}, degraded: map[string]string{}}
}

// ObserveRequest records one request.
func (m *Metrics) ObserveRequest(transport, endpoint string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[3]string{transport, endpoint, strconv.Itoa(status)}]++
	k := [2]string{transport, endpoint}
	h := m.latency[k]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		m.latency[k] = h
	}
	s := d.Seconds()
	for i, b := range latencyBuckets {
		if s <= b {
			h.counts[i]++
			break
		}
	}
	h.sum += s
	h.n++
}

// ObserveScoring records how long one model took to score a row (its prediction
// and, for decisions, its TreeSHAP reasons).
func (m *Metrics) ObserveScoring(sc *Scorer, d time.Duration) {
	if m == nil || sc == nil {
		return
	}
	t, ok := m.scoring.Load(sc)
	if !ok {
		t, _ = m.scoring.LoadOrStore(sc, &scoreTimer{ref: sc.Ref()})
	}
	t.(*scoreTimer).observe(d)
}

// ObserveDecision counts a decision by rating and colour.
func (m *Metrics) ObserveDecision(d *Decision) {
	if m == nil || d == nil {
		return
	}
	m.mu.Lock()
	m.decisions[[2]string{string(d.Rating), string(d.Colour)}]++
	m.mu.Unlock()
}

// ObserveSwap counts a model swap.
func (m *Metrics) ObserveSwap() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.swaps++
	m.mu.Unlock()
}

// SetDegraded marks a component (e.g. "registry", "blob") degraded with a reason, or
// healthy again when reason is empty.
func (m *Metrics) SetDegraded(component, reason string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if reason == "" {
		delete(m.degraded, component)
	} else {
		m.degraded[component] = reason
	}
}

// Degraded returns the degraded components and why.
func (m *Metrics) Degraded() map[string]string {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.degraded))
	for k, v := range m.degraded {
		out[k] = v
	}
	return out
}

// ServeHTTP writes the metrics.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_ = m.Write(w)
}

func label(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func fmtFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Write writes the exposition text.
func (m *Metrics) Write(w io.Writer) error {
	m.mu.Lock()
	var b strings.Builder
	b.WriteString("# HELP xinyi_requests_total Requests by transport, endpoint and status.\n# TYPE xinyi_requests_total counter\n")
	for _, k := range sortedKeys3(m.requests) {
		fmt.Fprintf(&b, "xinyi_requests_total{transport=%q,endpoint=%q,status=%q} %d\n", label(k[0]), label(k[1]), label(k[2]), m.requests[k])
	}
	b.WriteString("# HELP xinyi_request_duration_seconds Request latency.\n# TYPE xinyi_request_duration_seconds histogram\n")
	keys := make([][2]string, 0, len(m.latency))
	for k := range m.latency {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		h := m.latency[k]
		var cum uint64
		for i, ub := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "xinyi_request_duration_seconds_bucket{transport=%q,endpoint=%q,le=%q} %d\n", label(k[0]), label(k[1]), fmtFloat(ub), cum)
		}
		fmt.Fprintf(&b, "xinyi_request_duration_seconds_bucket{transport=%q,endpoint=%q,le=\"+Inf\"} %d\n", label(k[0]), label(k[1]), h.n)
		fmt.Fprintf(&b, "xinyi_request_duration_seconds_sum{transport=%q,endpoint=%q} %s\n", label(k[0]), label(k[1]), fmtFloat(h.sum))
		fmt.Fprintf(&b, "xinyi_request_duration_seconds_count{transport=%q,endpoint=%q} %d\n", label(k[0]), label(k[1]), h.n)
	}
	b.WriteString("# HELP xinyi_decisions_total Decisions by rating and colour.\n# TYPE xinyi_decisions_total counter\n")
	dk := make([][2]string, 0, len(m.decisions))
	for k := range m.decisions {
		dk = append(dk, k)
	}
	sort.Slice(dk, func(i, j int) bool { return dk[i][0]+dk[i][1] < dk[j][0]+dk[j][1] })
	for _, k := range dk {
		fmt.Fprintf(&b, "xinyi_decisions_total{rating=%q,colour=%q} %d\n", label(k[0]), label(k[1]), m.decisions[k])
	}
	fmt.Fprintf(&b, "# HELP xinyi_model_swaps_total Model swaps.\n# TYPE xinyi_model_swaps_total counter\nxinyi_model_swaps_total %d\n", m.swaps)
	b.WriteString("# HELP xinyi_degraded 1 while a dependency is unreachable and serving runs on what it has loaded.\n# TYPE xinyi_degraded gauge\n")
	for _, c := range []string{"registry", "blob", "features", "audit", "ratelimit"} {
		v := 0
		if _, ok := m.degraded[c]; ok {
			v = 1
		}
		fmt.Fprintf(&b, "xinyi_degraded{component=%q} %d\n", c, v)
	}
	m.mu.Unlock()
	m.writeScoring(&b)
	if m.models != nil {
		b.WriteString("# HELP xinyi_model_info Loaded model versions.\n# TYPE xinyi_model_info gauge\n")
		snap := m.models.Current()
		for _, r := range snap.Refs() {
			fmt.Fprintf(&b, "xinyi_model_info{task=%q,name=%q,version=%q,feature_set=\"%s/v%d\"} 1\n", label(string(r.Task)), label(r.Name), label(r.Version), label(r.FeatureSet), r.FeatureSetVersion)
		}
		fmt.Fprintf(&b, "# TYPE xinyi_model_generation gauge\nxinyi_model_generation %d\n", snap.Generation)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeScoring writes the scoring-time histogram of every model version that has
// scored, merging scorers that hold the same version.
func (m *Metrics) writeScoring(b *strings.Builder) {
	type sums struct {
		counts [len(scoreBuckets) + 1]uint64
		sumNs  uint64
	}
	byModel := map[[3]string]*sums{}
	m.scoring.Range(func(_, v any) bool {
		t := v.(*scoreTimer)
		k := [3]string{string(t.ref.Task), t.ref.Name, t.ref.Version}
		s := byModel[k]
		if s == nil {
			s = &sums{}
			byModel[k] = s
		}
		for i := range t.counts {
			s.counts[i] += t.counts[i].Load()
		}
		s.sumNs += t.sumNs.Load()
		return true
	})
	b.WriteString("# HELP xinyi_model_scoring_seconds Time one model takes to score a row, by task, model name and version.\n# TYPE xinyi_model_scoring_seconds histogram\n")
	keys := make([][3]string, 0, len(byModel))
	for k := range byModel {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return strings.Join(keys[i][:], "\x00") < strings.Join(keys[j][:], "\x00")
	})
	for _, k := range keys {
		s := byModel[k]
		lbl := fmt.Sprintf("task=%q,name=%q,version=%q", label(k[0]), label(k[1]), label(k[2]))
		var cum uint64
		for i, ub := range scoreBuckets {
			cum += s.counts[i]
			fmt.Fprintf(b, "xinyi_model_scoring_seconds_bucket{%s,le=%q} %d\n", lbl, fmtFloat(ub), cum)
		}
		cum += s.counts[len(scoreBuckets)]
		fmt.Fprintf(b, "xinyi_model_scoring_seconds_bucket{%s,le=\"+Inf\"} %d\n", lbl, cum)
		fmt.Fprintf(b, "xinyi_model_scoring_seconds_sum{%s} %s\n", lbl, fmtFloat(float64(s.sumNs)/1e9))
		fmt.Fprintf(b, "xinyi_model_scoring_seconds_count{%s} %d\n", lbl, cum)
	}
}

func sortedKeys3(m map[[3]string]uint64) [][3]string {
	out := make([][3]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Join(out[i][:], "\x00") < strings.Join(out[j][:], "\x00")
	})
	return out
}
