package servingtest

import (
	"io"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ParseMetrics parses a Prometheus text exposition with the Prometheus project's own
// parser, failing t when it is malformed.
func ParseMetrics(t testing.TB, r io.Reader) Metrics {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("metrics exposition does not parse: %v", err)
	}
	return fams
}

// Metrics are parsed metric families by name.
type Metrics map[string]*dto.MetricFamily

// Find returns the series of family name whose labels are exactly labels, or nil.
func (m Metrics) Find(name string, labels map[string]string) *dto.Metric {
	f := m[name]
	if f == nil {
		return nil
	}
	for _, s := range f.GetMetric() {
		if len(s.GetLabel()) != len(labels) {
			continue
		}
		same := true
		for _, l := range s.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				same = false
				break
			}
		}
		if same {
			return s
		}
	}
	return nil
}

// Counter is the value of a counter series, 0 when the series does not exist.
func (m Metrics) Counter(name string, labels map[string]string) float64 {
	return m.Find(name, labels).GetCounter().GetValue()
}

// Gauge is the value of a gauge series; ok is false when it does not exist.
func (m Metrics) Gauge(name string, labels map[string]string) (v float64, ok bool) {
	s := m.Find(name, labels)
	return s.GetGauge().GetValue(), s != nil
}

// Histogram is the count and sum of a histogram series, zero when it does not exist.
func (m Metrics) Histogram(name string, labels map[string]string) (count uint64, sum float64) {
	h := m.Find(name, labels).GetHistogram()
	return h.GetSampleCount(), h.GetSampleSum()
}
