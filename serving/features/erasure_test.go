package features_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// TestServingAnswersWithErasureDriveRemoved serves from MinIO erasure-coded over
// four drives and removes one while assessments keep coming: every assessment
// is answered, a snapshot written before the removal is then read from the
// three drives left (rebuilt from parity where the lost drive held data), and
// one written after it is picked up too, without the service ever reporting
// itself degraded.
func TestServingAnswersWithErasureDriveRemoved(t *testing.T) {
	srv := miniotest.StartWith(t, miniotest.Options{Drives: 4})
	store := srv.Open(t)
	env := servingtest.New(t)
	putSnapshot(t, store, "2026-09-30", map[string][3]float64{env.Good: {150, 0, 0}, env.Bad: {80, 1, 1}})
	l := newLiveServerRefresh(t, store, 20*time.Millisecond)
	if status, body := l.assess(t, env.Good); status != 200 || body["as_of"] != "2026-09-30T00:00:00Z" {
		t.Fatalf("assessment before the removal: %d %v", status, body)
	}
	// October is stored on all four drives, but the service reads it only once
	// one is gone.
	putSnapshot(t, store, "2026-10-31", map[string][3]float64{env.Good: {80, 1, 1}, env.Bad: {150, 0, 0}})

	// The rating each snapshot gives Good: the answer and its as-of date must agree.
	want := map[string]string{"2026-09-30T00:00:00Z": "B", "2026-10-31T00:00:00Z": "D", "2026-11-30T00:00:00Z": "B"}
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		answered atomic.Int64
		mu       sync.Mutex
		bad      []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			status, body, err := l.tryAssess(env.Good)
			if err != nil {
				mu.Lock()
				bad = append(bad, err.Error())
				mu.Unlock()
				continue
			}
			asOf, _ := body["as_of"].(string)
			if status != 200 || body["rating"] != want[asOf] {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%d %v", status, body))
				mu.Unlock()
				continue
			}
			answered.Add(1)
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()

	if err := srv.RemoveDrive(0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.stores.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	}()
	servedAsOf := func(asOf string) func(int, map[string]any) bool {
		return func(status int, body map[string]any) bool {
			if status != 200 || body["ready"] != true || body["degraded"] != nil {
				t.Fatalf("readiness with a drive gone: %d %v", status, body)
			}
			_, b := l.assess(t, env.Good)
			return b["as_of"] == asOf
		}
	}
	l.waitReady(t, "October read with a drive gone", servedAsOf("2026-10-31T00:00:00Z"))

	// November is written with the drive gone (three of four drives are the
	// write quorum) and served.
	putSnapshot(t, store, "2026-11-30", map[string][3]float64{env.Good: {150, 0, 0}, env.Bad: {80, 1, 1}})
	l.waitReady(t, "November written and read with a drive gone", servedAsOf("2026-11-30T00:00:00Z"))
	before := answered.Load()
	for answered.Load() < before+20 {
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	for _, b := range bad {
		t.Errorf("assessment with a drive gone: %s", b)
	}
	if answered.Load() == 0 {
		t.Fatal("no assessment answered")
	}
	t.Logf("%d assessments answered across the removal of %s", answered.Load(), srv.Drives()[0])
}

// tryAssess is assess for goroutines other than the test's: it returns its error.
func (l *liveServer) tryAssess(code string) (int, map[string]any, error) {
	req, err := http.NewRequest("POST", l.srv.URL+"/v1/assessments", strings.NewReader(fmt.Sprintf(`{"company_code":%q}`, code)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+servingtest.BankKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("assessment of %s: %d: %w", code, resp.StatusCode, err)
	}
	return resp.StatusCode, out, nil
}
