package serving

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// Population is every company of a snapshot for one feature set: the values of
// Codes[i] are Values[i*len(Set.Indicators) : (i+1)*len(Set.Indicators)], NaN where missing.
type Population struct {
	Set    FeatureSet
	AsOf   time.Time
	Codes  []string
	Values []float64
}

// ScreenOptions configure one screening.
type ScreenOptions struct {
	// Task is the model to screen with: TaskViolation (default) or TaskPD.
	Task Task
	// Workers scoring in parallel. Default GOMAXPROCS.
	Workers int
	// ReasonTier is the tier whose companies get reason codes. Default high.
	ReasonTier policy.Tier
	// MaxReasons per company. Default 3.
	MaxReasons int
	// Progress, when set, is called with the number of companies scored so far.
	Progress func(done, total int)
}

// ScreenRow is one company's screening result. Rows are ranked by probability, highest
// first (rank 1).
type ScreenRow struct {
	Rank          int     `parquet:"rank" json:"rank"`
	Company       string  `parquet:"company_code" json:"company_code"`
	Probability   float64 `parquet:"probability" json:"probability"`
	Tier          string  `parquet:"tier" json:"tier"`
	SamplingRatio float64 `parquet:"sampling_ratio" json:"sampling_ratio"`
	// Reasons are indicator ids raising the risk, most first, "|" separated (reason
	// tier only).
	Reasons string `parquet:"reasons" json:"reasons,omitempty"`
}

// ScreenResult is a finished screening.
type ScreenResult struct {
	ID            string              `json:"id"`
	Task          Task                `json:"task"`
	Model         ModelRef            `json:"model"`
	PolicyVersion string              `json:"policy_version"`
	FeatureSet    string              `json:"feature_set"`
	AsOf          time.Time           `json:"as_of"`
	Companies     int                 `json:"companies"`
	TierCounts    map[policy.Tier]int `json:"tier_counts"`
	// Inspections is the expected number of inspections: sum over tiers of count × ratio.
	Inspections float64       `json:"inspections"`
	Duration    time.Duration `json:"duration_ns"`
	Rows        []ScreenRow   `json:"-"`
}

// Screen scores every company of pop with one snapshot's model for opts.Task, ranks
// them, assigns inspection tiers, explains the reason tier, and audits the screening.
// Only regulators (and the platform operator) may screen.
func (s *Service) Screen(ctx context.Context, p Principal, pop *Population, opts ScreenOptions) (*ScreenResult, error) {
	start := time.Now()
	if opts.Task == "" {
		opts.Task = TaskViolation
	}
	if opts.Task != TaskViolation && opts.Task != TaskPD {
		return nil, fmt.Errorf("%w: screen with the violation or pd model, not %q", ErrInvalidInput, opts.Task)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.ReasonTier == "" {
		opts.ReasonTier = policy.High
	}
	if opts.MaxReasons <= 0 {
		opts.MaxReasons = 3
	}
	if err := s.allow(ctx, p, access.ActionScreen, access.Resource{Kind: "population", ID: pop.Set.Key()}); err != nil {
		return nil, err
	}
	snap := s.opts.Models.Current()
	sc := snap.Scorer(opts.Task)
	if sc == nil {
		return nil, fmt.Errorf("%w: no %s model loaded", ErrNotReady, opts.Task)
	}
	if fd, err := snap.populationFeed(opts.Task); err != nil {
		return nil, err
	} else if fd != nil {
		return nil, fmt.Errorf("%w: the %s model %s is bound to feature set %s; a screening runs a model bound to the online set %s",
			ErrFeatureSetMismatch, opts.Task, sc.Ref(), sc.FeatureSet().Key(), pop.Set.Key())
	}
	set := sc.FeatureSet()
	if pop.Set.Key() != set.Key() {
		return nil, fmt.Errorf("%w: population is %s, the %s model needs %s", ErrFeatureSetMismatch, pop.Set.Key(), opts.Task, set.Key())
	}
	nf := len(set.Indicators)
	n := len(pop.Codes)
	if len(pop.Values) != n*nf {
		return nil, fmt.Errorf("%w: population has %d values for %d companies × %d indicators", ErrInvalidInput, len(pop.Values), n, nf)
	}
	pol := s.policy.Load()
	probs := make([]float64, n)
	err := inChunks(ctx, n, 1024, opts.Workers, opts.Progress, func() func(i int) error {
		return func(i int) error {
			v, err := sc.Predict(pop.Values[i*nf : (i+1)*nf])
			if err != nil {
				return fmt.Errorf("company %s: %w", pop.Codes[i], err)
			}
			probs[i] = v
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
	res := &ScreenResult{ID: newID(), Task: opts.Task, Model: sc.Ref(), PolicyVersion: pol.Version, FeatureSet: set.Key(),
		AsOf: pop.AsOf, Companies: n, TierCounts: map[policy.Tier]int{}, Rows: make([]ScreenRow, n)}
	var explain []int
	for r, i := range order {
		tier, ratio, err := pol.Inspection(probs[i])
		if err != nil {
			return nil, fmt.Errorf("company %s: %w", pop.Codes[i], err)
		}
		res.Rows[r] = ScreenRow{Rank: r + 1, Company: pop.Codes[i], Probability: probs[i], Tier: string(tier), SamplingRatio: ratio}
		res.TierCounts[tier]++
		res.Inspections += ratio
		if tier == opts.ReasonTier && sc.Explains() {
			explain = append(explain, r)
		}
	}
	if err := s.screenReasons(ctx, sc, pop, order, res.Rows, explain, opts); err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	if err := s.audit(ctx, audit.Entry{Actor: p.Actor(), Action: "screening", Subject: "population:" + set.Key(), Outcome: audit.OutcomeOK,
		After: map[string]any{"screening_id": res.ID, "model": sc.Ref().String(), "policy": pol.Version, "companies": n,
			"tiers": res.TierCounts, "as_of": pop.AsOf.Format(time.DateOnly)}}); err != nil {
		return nil, err
	}
	return res, nil
}

// inChunks runs each(i) for i in [0, n) on workers goroutines taking chunks of
// the given size; each worker gets its own function from newWorker (for its own
// scratch state). progress, when set, hears the count done after each chunk. The
// first error stops the run and is returned, as is the context's.
func inChunks(ctx context.Context, n, chunk, workers int, progress func(done, total int), newWorker func() func(i int) error) error {
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			each := newWorker()
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n || ctx.Err() != nil || failed.Load() {
					return
				}
				hi := min(lo+chunk, n)
				for i := lo; i < hi; i++ {
					if err := each(i); err != nil {
						errOnce.Do(func() { firstErr = err })
						failed.Store(true)
						return
					}
				}
				if d := done.Add(int64(hi - lo)); progress != nil {
					progress(int(d), n)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

// screenReasons fills the reasons of rows (by rank index) in parallel.
func (s *Service) screenReasons(ctx context.Context, sc *Scorer, pop *Population, order []int, rows []ScreenRow, ranks []int, opts ScreenOptions) error {
	nf := sc.NumFeatures()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			contrib := make([]float64, nf)
			idx := make([]int, 0, nf)
			for {
				k := int(next.Add(1)) - 1
				if k >= len(ranks) || ctx.Err() != nil {
					return
				}
				r := ranks[k]
				i := order[r]
				// The explanation cache holds these already when the service prewarmed them.
				if _, err := s.cache.contributions(sc, pop.Values[i*nf:(i+1)*nf], contrib); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("company %s: %w", pop.Codes[i], err) })
					return
				}
				idx = idx[:0]
				for j, c := range contrib {
					if c > 0 {
						idx = append(idx, j)
					}
				}
				sort.Slice(idx, func(a, b int) bool { return contrib[idx[a]] > contrib[idx[b]] })
				if len(idx) > opts.MaxReasons {
					idx = idx[:opts.MaxReasons]
				}
				ids := make([]string, len(idx))
				for t, j := range idx {
					ids[t] = sc.FeatureSet().Indicators[j]
				}
				rows[r].Reasons = strings.Join(ids, "|")
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

// ScreeningPrefix is the object-store folder of a screening's outputs.
func ScreeningPrefix(id string) string { return "screenings/" + id + "/" }

// WriteScreening stores the result as screenings/<id>/result.parquet and result.csv and
// returns their Infos. Each object is written atomically by the store.
func WriteScreening(ctx context.Context, store blob.Store, res *ScreenResult) ([]blob.Info, error) {
	var pq bytes.Buffer
	w := parquet.NewGenericWriter[ScreenRow](&pq, parquet.Compression(&parquet.Zstd))
	if _, err := w.Write(res.Rows); err != nil {
		return nil, fmt.Errorf("screening %s: parquet: %w", res.ID, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("screening %s: parquet: %w", res.ID, err)
	}
	var cb bytes.Buffer
	cw := csv.NewWriter(&cb)
	_ = cw.Write([]string{"rank", "company_code", "probability", "tier", "sampling_ratio", "reasons"})
	for _, r := range res.Rows {
		_ = cw.Write([]string{strconv.Itoa(r.Rank), r.Company, strconv.FormatFloat(r.Probability, 'g', -1, 64), r.Tier,
			strconv.FormatFloat(r.SamplingRatio, 'g', -1, 64), r.Reasons})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, fmt.Errorf("screening %s: csv: %w", res.ID, err)
	}
	var infos []blob.Info
	for _, obj := range []struct {
		name string
		data []byte
	}{{"result.parquet", pq.Bytes()}, {"result.csv", cb.Bytes()}} {
		info, err := blob.PutBytes(ctx, store, ScreeningPrefix(res.ID)+obj.name, obj.data)
		if err != nil {
			return nil, fmt.Errorf("screening %s: store %s: %w", res.ID, obj.name, err)
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// ReadScreening reads a stored result.parquet back into rows.
func ReadScreening(ctx context.Context, store blob.Store, id string) ([]ScreenRow, error) {
	data, _, err := blob.ReadAll(ctx, store, ScreeningPrefix(id)+"result.parquet")
	if err != nil {
		return nil, fmt.Errorf("screening %s: %w", id, err)
	}
	rows, err := parquet.Read[ScreenRow](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("screening %s: parquet: %w", id, err)
	}
	return rows, nil
}
