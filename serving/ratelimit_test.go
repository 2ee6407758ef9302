package serving_test

import (
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
