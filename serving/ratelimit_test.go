package serving

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewRateLimiter(10, 3, func() time.Time { return now })
	var got []bool
	for range 4 {
		got = append(got, l.Allow("a"))
	}
	// burst of 3, then empty
	if want := []bool{true, true, true, false}; !equalBools(got, want) {
		t.Fatalf("burst: %v, want %v", got, want)
	}
	if !l.Allow("b") {
		t.Fatal("keys share a bucket")
	}
	now = now.Add(250 * time.Millisecond) // 10/s × 0.25 s = 2.5 tokens
	got = got[:0]
	for range 3 {
		got = append(got, l.Allow("a"))
	}
	if want := []bool{true, true, false}; !equalBools(got, want) {
		t.Fatalf("refill: %v, want %v", got, want)
	}
	if off := NewRateLimiter(0, 0, nil); !off.Allow("x") {
		t.Fatal("disabled limiter refused")
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
