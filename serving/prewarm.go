package serving

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Prewarm computes the TreeSHAP decomposition of every model for each company in
// codes and remembers it in the explanation cache, so an assessment of one of them
// pays only for its predictions and the policy. Features change only when a new
// snapshot loads and models only when an alias moves, so a serving process prewarms
// after each of those; the cache's keys (model version and exact feature values)
// make a stale entry unreachable. Nothing is decided or released, so nothing is
// audited. It uses workers goroutines (1 when <= 0) and returns how many companies it
// explained; companies the online store does not know are skipped. The cache must
// hold at least len(codes) entries per model (Options.ExplainCache) for every one to
// stay.
func (s *Service) Prewarm(ctx context.Context, codes []string, workers int) (int, error) {
	if s.cache == nil {
		return 0, fmt.Errorf("%w: the explanation cache is off", ErrNoExplainer)
	}
	snap := s.opts.Models.Current()
	if !snap.Complete() {
		return 0, fmt.Errorf("%w: models loaded: %v", ErrNotReady, snap.Refs())
	}
	workers = max(1, workers)
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		firstErr   error
		errOnce    sync.Once
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out []float64
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(codes) {
					return
				}
				explained := false
				for _, t := range Tasks {
					sc := snap.Scorer(t)
					if !sc.Explains() || snap.feeds[taskIndex(t)] != nil {
						continue
					}
					v, err := s.opts.Features.Vector(ctx, sc.FeatureSet(), codes[i])
					if err != nil {
						break // unknown to the online store: nothing to explain
					}
					out = append(out[:0], make([]float64, len(v.Values))...)
					if _, err := s.cache.contributions(sc, v.Values, out); err != nil {
						errOnce.Do(func() { firstErr = fmt.Errorf("prewarm %s %s: %w", t, codes[i], err) })
						return
					}
					explained = true
				}
				if explained {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return int(done.Load()), firstErr
	}
	return int(done.Load()), ctx.Err()
}

// PrewarmOnChange prewarms (one worker, so requests keep the other cores) at start
// and whenever the models or the online store's content change, checking every
// interval until ctx ends. content names the online store's content cheaply (it
// changes with every snapshot load); codes lists the companies it holds and is
// called only when something changed. logger may be nil.
func (s *Service) PrewarmOnChange(ctx context.Context, interval time.Duration, content func() string, codes func() []string, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var last string
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		snap := s.opts.Models.Current()
		key := fmt.Sprintf("%d|%s", snap.Generation, content())
		if key != last && snap.Complete() {
			start := time.Now()
			n, err := s.Prewarm(ctx, codes(), 1)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				logger.Warn("prewarming explanations failed; reasons are computed per request", "err", err)
			} else {
				logger.Info("explanations prewarmed", "companies", n, "generation", snap.Generation, "took", time.Since(start).Round(time.Millisecond).String())
			}
			last = key
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
