package serving_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/limittest"
)

func TestRateLimiterContract(t *testing.T) {
	limittest.Run(t, func(t *testing.T, rate float64, burst int, now func() time.Time) (serving.Limiter, serving.Limiter) {
		return serving.NewRateLimiter(rate, burst, now), nil
	})
}

// BenchmarkRateLimiter is one in-process decision on a spread of keys.
func BenchmarkRateLimiter(b *testing.B) {
	l := serving.NewRateLimiter(1e9, 1e9, nil)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "bank/" + strconv.Itoa(i)
	}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if !l.Allow(ctx, keys[i%len(keys)]) {
			b.Fatal("refused")
		}
	}
}
