package audit

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

type rating string

type upper string

func (u upper) MarshalJSON() ([]byte, error) { return []byte(`{"z":1,"a":2}`), nil }

// roundTrip is the generic canonical form: encode, decode with numbers kept as
// text, encode again.
func roundTrip(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	b, err = canonicalJSON(json.RawMessage(b))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCanonicalFlatMap: the direct encoding of a flat map is byte for byte the
// generic round trip, and maps that are not flat take the round trip.
func TestCanonicalFlatMap(t *testing.T) {
	tests := []struct {
		name string
		v    map[string]any
		flat bool
	}{
		{"assessment summary", map[string]any{"assessment_id": "9f2c", "models": []string{"pd=pd:1", "violation=v:3"},
			"policy": "2026.1", "pd": 0.031234567, "rating": rating("B"), "colour": "green", "limit": 1.5e6,
			"violation": 1e-7, "tier": "low"}, true},
		{"escapes and unicode", map[string]any{"z<": "a&b>c", "名": "上虞\u2028", "n": nil, "t": true}, true},
		{"invalid UTF-8", map[string]any{"bad": "\xff"}, false},
		{"invalid UTF-8 in a list", map[string]any{"bad": []string{"ok", "\xfe"}}, false},
		{"invalid UTF-8 in a named string", map[string]any{"bad": rating("\xfe")}, false},
		{"invalid UTF-8 key", map[string]any{"\xfe": 1}, false},
		{"integers", map[string]any{"a": int64(math.MaxInt64), "b": uint8(7), "c": -3, "d": float32(0.1)}, true},
		{"own encoding", map[string]any{"u": upper("x")}, false},
		{"time", map[string]any{"at": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}, false},
		{"nested map", map[string]any{"m": map[string]int{"b": 1, "a": 2}}, false},
		{"struct", map[string]any{"s": struct{ B, A int }{1, 2}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := flatMap(tt.v); got != tt.flat {
				t.Fatalf("flatMap = %v, want %v", got, tt.flat)
			}
			got, err := canonicalJSON(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if want := roundTrip(t, tt.v); string(got) != want {
				t.Fatalf("canonical\n got %s\nwant %s", got, want)
			}
		})
	}
	if _, err := canonicalJSON(map[string]any{"x": math.NaN()}); err == nil {
		t.Fatal("NaN encoded without an error")
	}
}

// BenchmarkCanonicalSummary is the canonical form of an assessment's audit summary.
func BenchmarkCanonicalSummary(b *testing.B) {
	v := map[string]any{"assessment_id": "9f2c3e1a77b04d2e9c1f0a55", "models": []string{"pd=pd:1", "violation=violation:1", "limit=limit:1"},
		"policy": "2026.1", "pd": 0.031234567, "rating": rating("B"), "colour": "green", "limit": 1.5e6,
		"violation": 0.0123, "tier": "low"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := canonicalJSON(v); err != nil {
			b.Fatal(err)
		}
	}
}
