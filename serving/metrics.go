package serving

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// latencyBuckets are the histogram upper bounds in seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// scoreBuckets are the upper bounds, in seconds, of one model's scoring time.
var scoreBuckets = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025}

// degradedComponents are the components xinyi_degraded always reports, 0 while
// healthy; a component marked degraded that is not among them appears once marked.
var degradedComponents = []string{"registry", "blob", "features", "audit", "ratelimit"}

// Metrics collects serving's metrics in a Prometheus registry of its own (never the
// global default one) and serves them in the Prometheus exposition format (it is an
// http.Handler for GET /metrics, through promhttp). A nil *Metrics records nothing.
//
// The series, kept stable for dashboards and alerts:
//
//	xinyi_requests_total{transport,endpoint,status}            counter
//	xinyi_request_duration_seconds{transport,endpoint}         histogram
//	xinyi_decisions_total{rating,colour}                       counter
//	xinyi_model_swaps_total                                    counter
//	xinyi_degraded{component}                                  gauge, 1 while degraded
//	xinyi_model_scoring_seconds{task,name,version}             histogram
//	xinyi_model_info{task,name,version,feature_set}            gauge, 1 per loaded model
//	xinyi_model_generation                                     gauge
//
// beside the Go runtime (go_*) and process (process_*) collectors.
type Metrics struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	swaps     prometheus.Counter
	degradedG *prometheus.GaugeVec
	scoringH  *prometheus.HistogramVec

	mu       sync.Mutex
	degraded map[string]string // component → reason

	scoring sync.Map // *Scorer → prometheus.Observer of its version
	handler http.Handler
}

// NewMetrics returns a collector with a registry of its own that also reports the
// versions loaded in models (models may be nil).
func NewMetrics(models *Models) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xinyi_requests_total",
			Help: "Requests by transport, endpoint and status."}, []string{"transport", "endpoint", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xinyi_request_duration_seconds",
			Help: "Request latency.", Buckets: latencyBuckets}, []string{"transport", "endpoint"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xinyi_decisions_total",
			Help: "Decisions by rating and colour."}, []string{"rating", "colour"}),
		swaps: prometheus.NewCounter(prometheus.CounterOpts{Name: "xinyi_model_swaps_total", Help: "Model swaps."}),
		degradedG: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "xinyi_degraded",
			Help: "1 while a dependency is unreachable and serving runs on what it has loaded."}, []string{"component"}),
		scoringH: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xinyi_model_scoring_seconds",
			Help: "Time one model takes to score a row, by task, model name and version.", Buckets: scoreBuckets},
			[]string{"task", "name", "version"}),
		degraded: map[string]string{},
	}
	for _, c := range degradedComponents {
		m.degradedG.WithLabelValues(c).Set(0)
	}
	m.reg.MustRegister(m.requests, m.latency, m.decisions, m.swaps, m.degradedG, m.scoringH,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if models != nil {
		m.reg.MustRegister(modelsCollector{models})
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return m
}

// Registry is the registry the metrics are kept in: other parts of the process may
// register their own collectors in it, to be served on the same /metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest records one request.
func (m *Metrics) ObserveRequest(transport, endpoint string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(transport, endpoint, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(transport, endpoint).Observe(d.Seconds())
}

// ObserveScoring records how long one model took to score a row (its prediction
// and, for decisions, its TreeSHAP reasons). Scorers holding the same version add
// to one series.
func (m *Metrics) ObserveScoring(sc *Scorer, d time.Duration) {
	if m == nil || sc == nil {
		return
	}
	o, ok := m.scoring.Load(sc)
	if !ok {
		r := sc.Ref()
		o, _ = m.scoring.LoadOrStore(sc, m.scoringH.WithLabelValues(string(r.Task), r.Name, r.Version))
	}
	o.(prometheus.Observer).Observe(max(d, 0).Seconds())
}

// ObserveDecision counts a decision by rating and colour.
func (m *Metrics) ObserveDecision(d *Decision) {
	if m == nil || d == nil {
		return
	}
	m.decisions.WithLabelValues(string(d.Rating), string(d.Colour)).Inc()
}

// ObserveSwap counts a model swap.
func (m *Metrics) ObserveSwap() {
	if m == nil {
		return
	}
	m.swaps.Inc()
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
		m.degradedG.WithLabelValues(component).Set(0)
	} else {
		m.degraded[component] = reason
		m.degradedG.WithLabelValues(component).Set(1)
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

// ServeHTTP serves the metrics (promhttp: the text format, or another the scraper
// asks for).
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.handler.ServeHTTP(w, r)
}

// Write writes every metric in the Prometheus text exposition format.
func (m *Metrics) Write(w io.Writer) error {
	mfs, err := m.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// modelsCollector reports the loaded model versions and the snapshot generation at
// each scrape.
type modelsCollector struct{ models *Models }

var (
	modelInfoDesc = prometheus.NewDesc("xinyi_model_info", "Loaded model versions.",
		[]string{"task", "name", "version", "feature_set"}, nil)
	modelGenerationDesc = prometheus.NewDesc("xinyi_model_generation",
		"Generation of the loaded model snapshot; it grows by one at every swap.", nil, nil)
)

func (c modelsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- modelInfoDesc
	ch <- modelGenerationDesc
}

func (c modelsCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.models.Current()
	for _, r := range snap.Refs() {
		ch <- prometheus.MustNewConstMetric(modelInfoDesc, prometheus.GaugeValue, 1,
			string(r.Task), r.Name, r.Version, r.FeatureSet+"/v"+strconv.Itoa(r.FeatureSetVersion))
	}
	ch <- prometheus.MustNewConstMetric(modelGenerationDesc, prometheus.GaugeValue, float64(snap.Generation))
}
