package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/httperr"
	"github.com/xinyi-platform/xinyi/serving"
)

// TestWriteJSON: an answer carries its Content-Length, and a value that cannot be
// encoded is a 500 with the JSON error shape rather than a truncated 200.
func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusCreated, map[string]any{"id": 7})
	if rec.Code != http.StatusCreated || rec.Body.String() != "{\"id\":7}\n" {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("Content-Length"); got != strconv.Itoa(rec.Body.Len()) {
		t.Errorf("Content-Length %q, body %d bytes", got, rec.Body.Len())
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}

	rec = httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, map[string]any{"pd": math.NaN()})
	var body httperr.Body
	if err := json.Unmarshal(rec.Body.Bytes(), &body); rec.Code != http.StatusInternalServerError || err != nil || body.Error.Code != "internal" {
		t.Fatalf("NaN: got %d %q (%v), want a 500 with code internal", rec.Code, rec.Body.String(), err)
	}
}

// BenchmarkWriteJSON encodes a decision with its reasons, as an assessment answers.
func BenchmarkWriteJSON(b *testing.B) {
	v := 0.42
	d := &serving.Decision{ID: "9f2c3e1a77b04d2e9c1f0a55", Company: "91330604MA4UJ7K21A", PD: 0.031, Score: 612, Rating: "B", Colour: "blue",
		Limit: 1.5e6, Products: []serving.ProductLimit{{Product: "working_capital", Limit: 1.5e6}}, Violation: 0.01, InspectionTier: "low",
		SamplingRatio: 0.05, PolicyVersion: "2026.1", AsOf: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC),
		FeatureSets: map[serving.Task]string{"pd": "pd/v1", "violation": "violation/v1", "limit": "limit/v1"}}
	for i := range 12 {
		d.Reasons = append(d.Reasons, serving.Reason{Code: "R" + strconv.Itoa(i), Model: "pd", Indicator: "tax.paid.sum_12m", NameZH: "近12个月纳税总额",
			NameEN: "Tax paid, last 12 months", Value: &v, IndustryAverage: &v, Contribution: -0.12, Direction: "raises_risk",
			TextEN: "Tax paid over the last 12 months fell 40% against the industry average", TextZH: "近12个月纳税总额低于行业平均40%"})
	}
	for _, t := range serving.Tasks {
		d.Models = append(d.Models, serving.ModelVersion{Task: t, Name: string(t), Version: "1"})
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		writeJSON(w, http.StatusOK, d)
	}
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
