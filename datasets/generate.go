package datasets

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/progress"
)

// GenerateOptions configures Generate. Companies and Months have no zero-value
// default (zero is refused); start from DefaultGenerateOptions.
type GenerateOptions struct {
	// Companies is the number of companies (1 to 10,000,000). Default 25,000.
	Companies int
	// Months is the number of monthly periods (1 to 240). Default 36.
	Months int
	// Start is the first month. Zero means 2023-01.
	Start Month
	// Seed selects the universe: the same seed and options give byte-identical files.
	Seed int64
	// ShardSize is the number of companies per part file. Zero means 32,768.
	// It changes the file layout, not the rows.
	ShardSize int
	// Workers is the number of goroutines. Zero means GOMAXPROCS.
	Workers int
	// Progress receives a progress bar; nil draws none.
	Progress io.Writer
}

// DefaultGenerateOptions returns 25,000 companies over 36 months from 2023-01, seed 1.
func DefaultGenerateOptions() GenerateOptions {
	return GenerateOptions{Companies: 25_000, Months: 36, Seed: 1}
}

// Validate reports options Generate would refuse, naming the field at fault.
func (o GenerateOptions) Validate() error {
	_, err := o.withDefaults()
	return err
}

func (o GenerateOptions) withDefaults() (GenerateOptions, error) {
	if o.Companies < 1 || o.Companies > 10_000_000 {
		return o, fmt.Errorf("%w: companies must be between 1 and 10,000,000, got %d", ErrInvalidOptions, o.Companies)
	}
	if o.Months < 1 || o.Months > 240 {
		return o, fmt.Errorf("%w: months must be between 1 and 240, got %d", ErrInvalidOptions, o.Months)
	}
	if o.Start == 0 {
		o.Start = Month(2023 * 12)
	}
	if o.Start.Year() < 1990 || o.Start.Year() > 2100 {
		return o, fmt.Errorf("%w: start month %s out of range 1990-2100", ErrInvalidOptions, o.Start)
	}
	if o.ShardSize == 0 {
		o.ShardSize = 32_768
	}
	if o.ShardSize < 1 {
		return o, fmt.Errorf("%w: shard size must be positive, got %d", ErrInvalidOptions, o.ShardSize)
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Workers < 1 {
		return o, fmt.Errorf("%w: workers must be positive, got %d", ErrInvalidOptions, o.Workers)
	}
	return o, nil
}

// Summary reports what Generate wrote.
type Summary struct {
	Companies  int
	Months     int
	Start      Month
	Rows       map[string]int64 // rows per source name
	Files      int
	Bytes      int64
	Defaults   int64 // default labels written
	Violations int64 // violation labels written
	Elapsed    time.Duration
}

// TotalRows is the sum of Rows.
func (s Summary) TotalRows() int64 {
	var n int64
	for _, v := range s.Rows {
		n += v
	}
	return n
}

// String is a one-line summary.
func (s Summary) String() string {
	names := make([]string, 0, len(s.Rows))
	for k := range s.Rows {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, " %s=%d", k, s.Rows[k])
	}
	return fmt.Sprintf("%d companies x %d months from %s: %d rows in %d files, %.1f MB, %.1fs (%.0f rows/s);%s",
		s.Companies, s.Months, s.Start, s.TotalRows(), s.Files, float64(s.Bytes)/1e6, s.Elapsed.Seconds(),
		float64(s.TotalRows())/max(s.Elapsed.Seconds(), 1e-9), b.String())
}

// Generate writes a deterministic enterprise universe into store: every source
// of Sources() under raw/<source>/month=YYYY-MM/ and the labels under
// labels/month=YYYY-MM/, one part file per shard of companies. The generating
// process is described in GENERATOR.md.
func Generate(ctx context.Context, store blob.Store, opts GenerateOptions) (Summary, error) {
	start := time.Now()
	o, err := opts.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	u, err := newUniverse(o, o.Workers)
	if err != nil {
		return Summary{}, err
	}
	shards := (o.Companies + o.ShardSize - 1) / o.ShardSize
	// Within a shard, companies are written in code order.
	order := make([][]int32, shards)
	for s := range shards {
		lo, hi := s*o.ShardSize, min(o.Companies, (s+1)*o.ShardSize)
		idx := make([]int32, 0, hi-lo)
		for i := lo; i < hi; i++ {
			idx = append(idx, int32(i))
		}
		sort.Slice(idx, func(a, b int) bool { return u.companies[idx[a]].code < u.companies[idx[b]].code })
		order[s] = idx
	}

	type job struct{ shard, t int }
	jobs := make(chan job)
	bar := progress.New(o.Progress, "generate", int64(shards*o.Months))
	sources := Sources()
	rows := make([]atomic.Int64, len(sources))
	var files, bytesOut, defaults, violations atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel()
	}
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &emitter{u: u}
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				e.reset()
				e.month(order[j.shard], j.t)
				for k, src := range sources {
					e.buf.Reset()
					n, err := e.encode(src.Name, &e.buf)
					if err != nil {
						fail(fmt.Errorf("datasets: encode %s: %w", src.Key(o.Start+Month(j.t), j.shard), err))
						break
					}
					key := src.Key(o.Start+Month(j.t), j.shard)
					if _, err := store.Put(ctx, key, bytes.NewReader(e.buf.Bytes())); err != nil {
						fail(fmt.Errorf("datasets: write %s: %w", key, err))
						break
					}
					rows[k].Add(int64(n))
					files.Add(1)
					bytesOut.Add(int64(e.buf.Len()))
				}
				defaults.Add(int64(e.defaults))
				violations.Add(int64(e.violations))
				bar.Add(1)
			}
		}()
	}
feed:
	for t := range o.Months {
		for s := range shards {
			select {
			case jobs <- job{s, t}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	bar.Done()
	if firstErr != nil {
		return Summary{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, fmt.Errorf("datasets: generate: %w", err)
	}
	sum := Summary{
		Companies: o.Companies, Months: o.Months, Start: o.Start,
		Rows:  map[string]int64{},
		Files: int(files.Load()), Bytes: bytesOut.Load(),
		Defaults: defaults.Load(), Violations: violations.Load(),
		Elapsed: time.Since(start),
	}
	for k, src := range sources {
		sum.Rows[src.Name] = rows[k].Load()
	}
	return sum, nil
}

// sortRows orders rows of one company-month by event date, id and revision.
func sortRows[T any](rows []T, key func(*T) (Day, string, int32)) {
	slices.SortStableFunc(rows, func(a, b T) int {
		da, ia, ra := key(&a)
		db, ib, rb := key(&b)
		if da != db {
			return int(da - db)
		}
		if c := strings.Compare(ia, ib); c != 0 {
			return c
		}
		return int(ra - rb)
	})
}
