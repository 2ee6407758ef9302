package ingest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// StatusCollector exposes every department source's freshness and quality as
// Prometheus metrics (Status, read at most once per Every so that a scrape does
// not read every batch manifest):
//
//	xinyi_source_batches{source,department}                   committed batches
//	xinyi_source_rows{source,department,outcome}              rows accepted and rejected
//	xinyi_source_reject_ratio{source,department}              rejected / delivered
//	xinyi_source_last_arrival_timestamp_seconds{source,…}     newest batch's acceptance (absent: none)
//	xinyi_source_cadence_seconds{source,department}           the contract's expected cadence
//	xinyi_source_late{source,department}                      1 when the newest batch is older than the cadence
//
// It is also the online store's features.Freshness (Late): the sources whose
// department is late make their indicators' values stale.
type StatusCollector struct {
	store  blob.Store
	every  time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last []SourceStatus

	table   atomic.Pointer[freshTable] // what Late reads, replaced by status
	reading atomic.Bool                // a background read is under way
}

// freshTable is the newest arrival and the cadence of each source, as read at at.
type freshTable struct {
	at       time.Time
	arrival  map[string]time.Time
	cadences map[string]time.Duration
}

// NewStatusCollector returns a collector over store, reading the status at most
// once per every (0: 30 s). logger hears of a status that cannot be read (the
// previous one is served meanwhile); nil discards.
func NewStatusCollector(store blob.Store, every time.Duration, logger *slog.Logger) *StatusCollector {
	if every <= 0 {
		every = 30 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &StatusCollector{store: store, every: every, now: time.Now, logger: logger}
}

var (
	labels        = []string{"source", "department"}
	descBatches   = prometheus.NewDesc("xinyi_source_batches", "Committed batches of a department source.", labels, nil)
	descRows      = prometheus.NewDesc("xinyi_source_rows", "Rows delivered to a department source, by outcome (accepted, rejected).", append(labels, "outcome"), nil)
	descReject    = prometheus.NewDesc("xinyi_source_reject_ratio", "Share of a source's delivered rows that were rejected.", labels, nil)
	descArrival   = prometheus.NewDesc("xinyi_source_last_arrival_timestamp_seconds", "When the newest batch of a source was accepted (Unix seconds).", labels, nil)
	descCadence   = prometheus.NewDesc("xinyi_source_cadence_seconds", "How often the source's contract expects a delivery.", labels, nil)
	descLate      = prometheus.NewDesc("xinyi_source_late", "1 when a source's newest batch is older than its cadence, or it has none.", labels, nil)
	statusMetrics = []*prometheus.Desc{descBatches, descRows, descReject, descArrival, descCadence, descLate}
)

// Describe implements prometheus.Collector.
func (c *StatusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range statusMetrics {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StatusCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status() {
		l := []string{s.Source, s.Department}
		ch <- prometheus.MustNewConstMetric(descBatches, prometheus.GaugeValue, float64(s.Batches), l...)
		ch <- prometheus.MustNewConstMetric(descRows, prometheus.GaugeValue, float64(s.Accepted), append(l, "accepted")...)
		ch <- prometheus.MustNewConstMetric(descRows, prometheus.GaugeValue, float64(s.Rejected), append(l, "rejected")...)
		ch <- prometheus.MustNewConstMetric(descReject, prometheus.GaugeValue, s.RejectRate(), l...)
		if !s.LastArrival.IsZero() {
			ch <- prometheus.MustNewConstMetric(descArrival, prometheus.GaugeValue, float64(s.LastArrival.Unix()), l...)
		}
		ch <- prometheus.MustNewConstMetric(descCadence, prometheus.GaugeValue, float64(s.CadenceDays)*86400, l...)
		late := 0.0
		if s.Late {
			late = 1
		}
		ch <- prometheus.MustNewConstMetric(descLate, prometheus.GaugeValue, late, l...)
	}
}

func (c *StatusCollector) status() []SourceStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.last != nil && now.Sub(c.at) < c.every {
		return c.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := Status(ctx, c.store, now)
	if err != nil {
		c.logger.Warn("ingest: source status unavailable; serving the previous one", "err", err)
		return c.last
	}
	c.last, c.at = st, now
	t := &freshTable{at: now, arrival: map[string]time.Time{}, cadences: map[string]time.Duration{}}
	for _, s := range st {
		t.arrival[s.Source], t.cadences[s.Source] = s.LastArrival, time.Duration(s.CadenceDays)*24*time.Hour
	}
	c.table.Store(t)
	return st
}

// Late implements features.Freshness: source's newest batch is older at now than
// its contract's cadence. A source without any batch is not judged (its data came
// by other means, such as the generator, or there is none). Late reads the
// status read last and, when that is older than the collector's period, has it
// read again in the background: an online lookup never waits for the store.
func (c *StatusCollector) Late(source string, now time.Time) bool {
	t := c.table.Load()
	if (t == nil || c.now().Sub(t.at) >= c.every) && c.reading.CompareAndSwap(false, true) {
		go func() {
			defer c.reading.Store(false)
			c.status()
		}()
	}
	if t == nil {
		return false
	}
	last, ok := t.arrival[source]
	if !ok || last.IsZero() {
		return false
	}
	return now.Sub(last) > t.cadences[source]
}
