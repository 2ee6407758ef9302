package features

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Materialization errors.
var (
	// ErrInvalidOptions reports options that cannot be used (no as-of date, bad set).
	ErrInvalidOptions = errors.New("features: invalid options")
	// ErrNoInput reports that the raw store holds no files of a source the set needs.
	ErrNoInput = errors.New("features: raw input missing")
	// ErrInputChanged reports a raw file that differs from the one a staged run's
	// plan listed: the run must be planned again.
	ErrInputChanged = errors.New("features: raw input changed since the plan")
)

// Options configure Materialize.
type Options struct {
	// Set is the feature set, "pd" (latest version) or "pd/v1". Required.
	Set string
	// AsOf are the snapshot dates. Required; taken as calendar dates.
	AsOf []time.Time
	// Force recomputes snapshots whose manifest already exists. Default false: an
	// existing snapshot is left as it is.
	Force bool
	// Workers is the number of goroutines decoding files and computing companies.
	// Default runtime.GOMAXPROCS(0).
	Workers int
	// MemoryBudget is the approximate memory of decoded raw columns plus computed
	// values held at once. When the raw columns alone would exceed 60% of it the
	// companies are split by code hash into shards (each shard reads the raw files
	// again); within a shard the as-of dates are computed in groups that fit the rest.
	// Default 2 GiB; the process needs some more for buffers and the runtime.
	MemoryBudget int64
	// Catalog is the indicator library. Default DefaultCatalog().
	Catalog *Catalog
	// Progress, when set, is told about finished units of work (input files read,
	// companies computed); it must be safe for concurrent use.
	Progress func(stage string, done, total int64)
	// Logger receives one line per snapshot. Default: none.
	Logger *slog.Logger
	// Now is the clock for manifest times. Default time.Now.
	Now func() time.Time

	// beforeManifest runs before each manifest is written (fault injection in tests).
	beforeManifest func(asof Day) error
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() error {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = 2 << 30
	}
	if o.Catalog == nil {
		c, err := DefaultCatalog()
		if err != nil {
			return err
		}
		o.Catalog = c
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// SnapshotPrefix returns the key prefix of one snapshot.
func SnapshotPrefix(set string, version int, asof Day) string {
	return fmt.Sprintf("features/%s/v%d/asof=%s/", set, version, asof)
}

// ManifestKey returns the key of a snapshot's manifest: the snapshot exists once it does.
func ManifestKey(set string, version int, asof Day) string {
	return SnapshotPrefix(set, version, asof) + "_manifest.json"
}

// Manifest describes one snapshot. It is written last.
type Manifest struct {
	Set        string            `json:"set"`
	Version    int               `json:"version"`
	AsOf       string            `json:"asof"`
	CreatedAt  time.Time         `json:"created_at"`
	Rows       int64             `json:"rows"`
	Indicators []string          `json:"indicators"`
	Schema     []ManifestColumn  `json:"schema"`
	Parts      []Part            `json:"parts"`
	Inputs     []FileRef         `json:"inputs"`
	Stats      []IndicatorStats  `json:"stats"`
	Label      string            `json:"label,omitempty"`
	Extra      map[string]string `json:"extra,omitempty"`
	// Patches are files written by Refresh after the snapshot's Parts, applied
	// in order: each row replaces its company's values of the patch's Columns.
	// Rows counts the companies of Parts; a patch adds none.
	Patches []Patch `json:"patches,omitempty"`
}

// ManifestColumn is one column of the snapshot files.
type ManifestColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// FileRef names a stored file with its digest.
type FileRef struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Rows   int64  `json:"rows,omitempty"`
}

// Part is one file of a snapshot: the companies of one shard, in code order,
// with the indicators of one group (those computed from one source; see
// plan.groups). The parts of one shard follow each other in a manifest and
// hold the same companies in the same order.
type Part struct {
	FileRef
	Shard int `json:"shard"`
	// Columns are the indicators the part holds; a part without them (written
	// before snapshots were split by group) holds every one, and is a shard of
	// its own.
	Columns []string `json:"columns,omitempty"`
}

// Patch is a file of new values of some companies for some indicators of a
// snapshot (Refresh).
type Patch struct {
	FileRef
	// Columns are the indicators it holds (every one when empty).
	Columns []string `json:"columns,omitempty"`
}

// SnapshotResult reports one as-of date of a run.
type SnapshotResult struct {
	AsOf    Day
	Rows    int64
	Skipped bool // the snapshot existed and Force was false
	Key     string
}

// Result reports a materialization run.
type Result struct {
	Set        string
	Version    int
	Snapshots  []SnapshotResult
	RawFiles   int   // input files (listed in every manifest)
	RawRecords int64 // raw rows of the input files (each file counted once)
	Decoded    int64 // raw rows decoded, counting every shard pass
	Companies  int
	Shards     int
	Elapsed    time.Duration
}

// maxShards bounds the number of shard passes (each reads the raw files once).
const maxShards = 64

type aggOut struct {
	ind    int // output position in the set
	agg    Aggregation
	window int
}

type srcPlan struct {
	src   *Source
	cols  []string   // value columns read
	outs  [][]aggOut // per value column
	files []blob.Info
}

type plan struct {
	set      *FeatureSet
	inds     []*Indicator
	asofs    []Day
	sources  []*srcPlan
	static   []aggOut // AggValue indicators; window unused
	staticOf []string // column per static entry
	graph    []aggOut
	graphOf  []string
	needNet  bool
	// groups split the indicators into the part files of a snapshot, one per
	// source (the registry's static indicators and the guarantee network's
	// each count as one), in the order of their first indicator, so that a
	// refresh after a batch of one source reads and writes only that source's
	// values.
	groups []partGroup
}

// partGroup is the indicators of one part file, named after their source:
// their positions in plan.inds (in set order) and their ids.
type partGroup struct {
	name  string
	inds  []int
	names []string
}

func buildPlan(cat *Catalog, set *FeatureSet) *plan {
	p := &plan{set: set, inds: cat.SetIndicators(set)}
	bySrc := map[string]*srcPlan{}
	for i, ind := range p.inds {
		switch ind.Aggregation {
		case AggValue:
			p.static = append(p.static, aggOut{ind: i})
			p.staticOf = append(p.staticOf, ind.Column)
		case AggGraph:
			p.graph = append(p.graph, aggOut{ind: i})
			p.graphOf = append(p.graphOf, ind.Column)
			p.needNet = true
		default:
			src, _ := cat.Source(ind.Source())
			sp := bySrc[src.Name]
			if sp == nil {
				sp = &srcPlan{src: src}
				bySrc[src.Name] = sp
				p.sources = append(p.sources, sp)
			}
			ci := slices.Index(sp.cols, ind.Column)
			if ci < 0 {
				sp.cols = append(sp.cols, ind.Column)
				sp.outs = append(sp.outs, nil)
				ci = len(sp.cols) - 1
			}
			sp.outs[ci] = append(sp.outs[ci], aggOut{ind: i, agg: ind.Aggregation, window: ind.Window})
		}
	}
	for i, ind := range p.inds {
		var name string
		switch ind.Aggregation {
		case AggValue:
			name = "companies"
		case AggGraph:
			name = "network"
		default:
			name = ind.Source()
		}
		g := slices.IndexFunc(p.groups, func(g partGroup) bool { return g.name == name })
		if g < 0 {
			g = len(p.groups)
			p.groups = append(p.groups, partGroup{name: name})
		}
		p.groups[g].inds = append(p.groups[g].inds, i)
		p.groups[g].names = append(p.groups[g].names, set.Indicators[i])
	}
	return p
}

// Materialize computes every indicator of a feature set for every company as of each
// date and writes the snapshots to store (see the package documentation for the layout
// and the guarantees).
func Materialize(ctx context.Context, store blob.Store, opts Options) (*Result, error) {
	start := time.Now()
	m, err := newMaterializer(ctx, store, opts)
	if err != nil {
		return nil, err
	}
	res := m.res
	if len(m.plan.asofs) == 0 {
		res.Elapsed = time.Since(start)
		return res, nil
	}
	if err := m.run(ctx); err != nil {
		m.cleanup()
		return nil, err
	}
	slices.SortFunc(res.Snapshots, func(a, b SnapshotResult) int { return cmp.Compare(a.AsOf, b.AsOf) })
	res.Elapsed = time.Since(start)
	return res, nil
}

type materializer struct {
	opts  Options
	store blob.Store
	plan  *plan
	res   *Result

	inputs  []FileRef
	written []string // part keys written by this run, removed on failure
	coFiles []blob.Info

	// runID names the staged run whose parts these are ("" for Materialize).
	runID string
	// expect holds the sha256 of every input file a staged run's plan listed: a
	// file read that differs has changed since the plan.
	expect map[string]string

	// universe
	codes    []string
	index    map[string]int32
	industry []string
	coRows   []companyRow // sorted by company, revision, arrival
	coOff    []int32

	// network measures per as-of: [asof][graph entry][company]
	net [][][]float64

	// group is the number of as-of dates computed at once within a shard.
	group int

	// only, when set, limits the companies computed to these codes; noParts
	// keeps the computed values in inMemory without writing parts (Refresh).
	only    map[string]bool
	noParts bool
	// lastCodes and lastIndustry are the companies of the date a refresh
	// patched last and their industries.
	lastCodes, lastIndustry []string

	// keepNetwork, when set, receives the network of every as-of date.
	keepNetwork func(a int, g *Network, defaulted []bool, ms *NetworkMeasures)

	// inMemory holds the computed snapshots per as-of date when there is one shard.
	inMemory []*Snapshot

	rawRecords atomic.Int64 // every decode
	rawInput   atomic.Int64 // first decode of each file
	counted    sync.Map     // keys of the files counted in rawInput
}

type companyRow struct {
	company          int32
	event, arrival   Day
	revision         int32
	reg, sub, paidIn float64
	void             bool // a retraction or end of publicity of the registration
}

func (m *materializer) progress(stage string, done, total int64) {
	if m.opts.Progress != nil {
		m.opts.Progress(stage, done, total)
	}
}

// listSource returns the files of a source with event months in [lo, hi].
func (m *materializer) listSource(ctx context.Context, name string, lo, hi Month) ([]blob.Info, error) {
	prefix := "raw/" + name + "/"
	infos, err := m.store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("features: list %s: %w", prefix, err)
	}
	// Parts of ingestion batches count once their batch is committed.
	if infos, err = datasets.VisibleParts(ctx, m.store, name, infos); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	var out []blob.Info
	for _, in := range infos {
		rest := strings.TrimPrefix(in.Key, prefix)
		dir, file, ok := strings.Cut(rest, "/")
		if !ok || !strings.HasPrefix(dir, "month=") || !strings.HasSuffix(file, ".parquet") {
			continue
		}
		t, err := time.Parse("2006-01", strings.TrimPrefix(dir, "month="))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: bad month folder %q", ErrCorruptRaw, in.Key, dir)
		}
		if mo := MonthOf(t); mo >= lo && mo <= hi {
			out = append(out, in)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no files under %s for %s..%s", ErrNoInput, prefix, lo, hi)
	}
	return out, nil
}

func (m *materializer) read(ctx context.Context, info blob.Info, cols []string) ([]column, int, error) {
	return m.readRows(ctx, info, cols, nil)
}

// readRows reads the named columns of a raw file, of the rows of the companies
// in keep (every row when keep is nil; the first column is the code).
func (m *materializer) readRows(ctx context.Context, info blob.Info, cols []string, keep map[string]bool) ([]column, int, error) {
	// Read into a buffer of the recorded size (io.ReadAll's growing costs as
	// much again in copies and garbage), reused from file to file.
	buf := fileBuffer()
	data, got, err := blob.ReadAllInto(ctx, m.store, info.Key, *buf)
	if err != nil {
		return nil, 0, fmt.Errorf("features: read %s: %w", info.Key, err)
	}
	// The decoded columns hold copies: the buffer is free again after.
	*buf = data
	defer fileBuffers.Put(buf)
	if want, ok := m.expect[info.Key]; ok && want != "" && got.SHA256 != "" && got.SHA256 != want {
		return nil, 0, fmt.Errorf("%w: %s has sha256 %s, the run's plan recorded %s", ErrInputChanged, info.Key, got.SHA256, want)
	}
	var c []column
	var n, total int
	if keep == nil {
		c, n, err = readColumns(data, info.Key, cols)
		total = n
	} else {
		c, n, total, err = readRowsOf(data, info.Key, cols, keep)
	}
	if err == nil {
		m.rawRecords.Add(int64(total))
		if _, seen := m.counted.LoadOrStore(info.Key, true); !seen {
			m.rawInput.Add(int64(total))
		}
	}
	return c, n, err
}

func (m *materializer) run(ctx context.Context) error {
	if err := m.prepare(ctx); err != nil {
		return err
	}
	shards := m.size(0)
	m.res.Shards = shards
	parts := make([][]Part, len(m.plan.asofs))
	m.inMemory = make([]*Snapshot, len(m.plan.asofs))
	for s := 0; s < shards; s++ {
		refs, err := m.shard(ctx, s, shards)
		if err != nil {
			return err
		}
		for a := range refs {
			parts[a] = append(parts[a], refs[a]...)
		}
	}
	if err := m.commit(ctx, parts); err != nil {
		return err
	}
	m.res.RawFiles = len(m.inputs)
	m.res.RawRecords = m.rawInput.Load()
	m.res.Decoded = m.rawRecords.Load()
	return nil
}

// prepare lists the input files of the plan's dates, loads the companies and, when
// the set needs it, builds the guarantee network of every date: the global part of
// a materialization, done once whatever the number of shards.
func (m *materializer) prepare(ctx context.Context) error {
	p := m.plan
	lo := p.asofs[0].Month() - Lookback + 1
	hi := p.asofs[len(p.asofs)-1].Month()
	coFiles, err := m.listSource(ctx, "companies", 0, hi)
	if err != nil {
		return err
	}
	m.addInputs(coFiles)
	for _, sp := range p.sources {
		if sp.files, err = m.listSource(ctx, sp.src.Name, lo, hi); err != nil {
			return err
		}
		m.addInputs(sp.files)
	}
	m.coFiles = coFiles
	if err := m.loadCompanies(ctx, coFiles); err != nil {
		return err
	}
	m.res.Companies = len(m.codes)
	if p.needNet {
		if err := m.loadNetwork(ctx, lo, hi); err != nil {
			return err
		}
	}
	return nil
}

// size sets the number of as-of dates computed at once within a shard and returns
// the number of shards: shards itself when it is positive (a staged run fixes it in
// its plan), else as many as the memory budget needs.
func (m *materializer) size(shards int) int {
	p := m.plan
	var rawBytes int64
	for _, sp := range p.sources {
		for _, f := range sp.files {
			rawBytes += f.Size
		}
	}
	// Decoded columns take about 2 bytes per byte of compressed Parquet (measured on
	// the generated universe); 3 leaves room for the per-file buffers. The computed
	// values take 8 bytes per company, date and indicator until their part is written.
	// Companies are split into shards only when their raw columns alone would take more
	// than 60% of the budget (each shard reads the files again); the dates are then
	// computed in groups small enough for the rest.
	budget := m.opts.MemoryBudget
	rawNeed := rawBytes * 3
	rawBudget := max(1, budget*6/10)
	if shards <= 0 {
		shards = int(min(maxShards, max(1, (rawNeed+rawBudget-1)/rawBudget)))
	}
	perDate := max(1, int64(len(m.codes))*int64(len(p.inds))*8/int64(shards))
	m.group = int(min(int64(len(p.asofs)), max(1, (budget-rawNeed/int64(shards))/perDate)))
	return shards
}

// commit computes the statistics of every date's snapshot from its parts and writes
// the manifests in date order, each one making its snapshot visible.
func (m *materializer) commit(ctx context.Context, parts [][]Part) error {
	p := m.plan
	prev, err := m.previousManifest(ctx, p.asofs[0])
	if err != nil {
		return err
	}
	labels, err := m.loadLabels(ctx)
	if err != nil {
		return err
	}
	for a, d := range p.asofs {
		var snap *Snapshot
		if m.inMemory != nil {
			snap = m.inMemory[a]
		}
		man, err := m.finish(ctx, d, parts[a], prev, labels, snap)
		if err != nil {
			return err
		}
		if m.inMemory != nil {
			m.inMemory[a] = nil
		}
		m.progress("commit", 1, int64(len(p.asofs)))
		prev = man
	}
	return nil
}

func (m *materializer) addInputs(infos []blob.Info) {
	for _, in := range infos {
		if !slices.ContainsFunc(m.inputs, func(f FileRef) bool { return f.Key == in.Key }) {
			m.inputs = append(m.inputs, FileRef{Key: in.Key, SHA256: in.SHA256, Size: in.Size})
		}
	}
}

// cleanup removes the part files of a failed run (best effort): they are invisible
// without a manifest, and a rerun overwrites them anyway.
func (m *materializer) cleanup() {
	ctx := context.Background()
	for _, k := range m.written {
		_ = m.store.Delete(ctx, k)
	}
}

// parallel runs fn over n items with the configured workers, stopping at the first error.
func (m *materializer) parallel(ctx context.Context, n int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < min(m.opts.Workers, max(n, 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func (m *materializer) loadCompanies(ctx context.Context, files []blob.Info) error {
	cols := []string{"code", "event_date", "arrival_date", "revision", "industry", "registered_capital", "subscribed_capital", "paid_in_capital", rowKindCol}
	type chunk struct {
		c []column
		n int
	}
	chunks := make([]chunk, len(files))
	err := m.parallel(ctx, len(files), func(i int) error {
		c, n, err := m.read(ctx, files[i], cols)
		chunks[i] = chunk{c, n}
		m.progress("companies", 1, int64(len(files)))
		return err
	})
	if err != nil {
		return err
	}
	m.index = map[string]int32{}
	for _, ch := range chunks {
		c := ch.c
		void := voidRows(&c[8], ch.n)
		for r := 0; r < ch.n; r++ {
			code := c[0].dict[c[0].bytes[r]]
			id, ok := m.index[code]
			if !ok {
				id = int32(len(m.codes))
				m.index[code] = id
				m.codes = append(m.codes, code)
				m.industry = append(m.industry, "")
			}
			m.industry[id] = c[4].dict[c[4].bytes[r]]
			m.coRows = append(m.coRows, companyRow{company: id, event: Day(c[1].i32[r]), arrival: Day(c[2].i32[r]), revision: c[3].i32[r],
				reg: c[5].f64[r], sub: c[6].f64[r], paidIn: c[7].f64[r], void: void != nil && void[r]})
		}
	}
	slices.SortStableFunc(m.coRows, func(a, b companyRow) int {
		if a.company != b.company {
			return cmp.Compare(a.company, b.company)
		}
		if a.revision != b.revision {
			return cmp.Compare(a.revision, b.revision)
		}
		return cmp.Compare(a.arrival, b.arrival)
	})
	m.coOff = make([]int32, len(m.codes)+1)
	for _, r := range m.coRows {
		m.coOff[r.company+1]++
	}
	for i := range m.codes {
		m.coOff[i+1] += m.coOff[i]
	}
	return nil
}

// companyAt returns the registry row in force for company c as of d, or nil when the
// company is not known (not founded or not delivered) by then, or its registration in
// force is retracted or no longer public.
func (m *materializer) companyAt(c int32, d Day) *companyRow {
	var best *companyRow
	for i := m.coOff[c]; i < m.coOff[c+1]; i++ {
		r := &m.coRows[i]
		if r.event <= d && r.arrival <= d {
			best = r
		}
	}
	if best != nil && best.void {
		return nil
	}
	return best
}

// loadNetwork builds the guarantee network of every as-of date and computes the
// measures the set needs. Defaults come from the loan table: a loan 90 or more days
// overdue in the 12 months up to the date.
func (m *materializer) loadNetwork(ctx context.Context, lo, hi Month) error {
	p := m.plan
	n := len(m.codes)
	defaulted := make([][]bool, len(p.asofs))
	for a := range defaulted {
		defaulted[a] = make([]bool, n)
	}
	// No loan or guarantee files in range means no defaults or no links, not an error.
	loanFiles, err := m.listSource(ctx, "loan", lo, hi)
	if err != nil && !errors.Is(err, ErrNoInput) {
		return err
	}
	m.addInputs(loanFiles)
	type lrow struct {
		comp int32
		rec  Record
	}
	chunks := make([][]lrow, len(loanFiles))
	err = m.parallel(ctx, len(loanFiles), func(i int) error {
		c, rows, err := m.read(ctx, loanFiles[i], []string{"code", "event_date", "arrival_date", "revision", "overdue_days", rowKindCol})
		if err != nil {
			return err
		}
		days := c[4].float()
		void := voidRows(&c[5], rows)
		var out []lrow
		for r := 0; r < rows; r++ {
			// A first delivery below 90 days is never in force over a kept record
			// (a higher revision wins) and means "not in default" exactly as its
			// absence does, so only records of 90+ days and corrections are kept.
			rev := c[3].i32[r]
			v := void != nil && void[r]
			if days[r] < 90 && rev == 0 && !v {
				continue
			}
			comp, ok := m.index[c[0].dict[c[0].bytes[r]]]
			if !ok {
				continue
			}
			ev := Day(c[1].i32[r])
			out = append(out, lrow{comp, Record{Month: ev.Month(), Event: ev, Arrival: Day(c[2].i32[r]), Revision: rev, Value: days[r], Void: v}})
		}
		chunks[i] = out
		m.progress("network", 1, int64(len(loanFiles)))
		return nil
	})
	if err != nil {
		return err
	}
	var kept []lrow
	for _, ch := range chunks {
		kept = append(kept, ch...)
	}
	slices.SortStableFunc(kept, func(x, y lrow) int { return cmp.Compare(x.comp, y.comp) })
	cells := make([]MonthCell, 12)
	var recs []Record
	for i := 0; i < len(kept); {
		j := i
		recs = recs[:0]
		for ; j < len(kept) && kept[j].comp == kept[i].comp; j++ {
			recs = append(recs, kept[j].rec)
		}
		SortRecords(KindMonthly, recs)
		for a, d := range p.asofs {
			Resolve(KindMonthly, recs, d, cells)
			if v := Aggregate(KindMonthly, AggMax, 12, cells); v >= 90 {
				defaulted[a][kept[i].comp] = true
			}
		}
		i = j
	}
	gFiles, err := m.listSource(ctx, "guarantee", 0, hi)
	if err != nil && !errors.Is(err, ErrNoInput) {
		return err
	}
	m.addInputs(gFiles)
	type grow struct {
		g, b                         int32
		key                          string
		event, arrival, start, endAt Day
		revision                     int32
		amount                       float64
		void                         bool
	}
	var grows []grow
	var mu sync.Mutex
	err = m.parallel(ctx, len(gFiles), func(i int) error {
		c, rows, err := m.read(ctx, gFiles[i], []string{"code", "borrower_code", "guarantee_id", "event_date", "arrival_date", "revision", "start_date", "end_date", "amount", rowKindCol})
		if err != nil {
			return err
		}
		void := voidRows(&c[9], rows)
		local := make([]grow, 0, rows)
		for r := 0; r < rows; r++ {
			g, ok1 := m.index[c[0].dict[c[0].bytes[r]]]
			b, ok2 := m.index[c[1].dict[c[1].bytes[r]]]
			if !ok1 || !ok2 || g == b {
				continue
			}
			local = append(local, grow{g: g, b: b, key: c[2].dict[c[2].bytes[r]], event: Day(c[3].i32[r]), arrival: Day(c[4].i32[r]),
				revision: c[5].i32[r], start: Day(c[6].i32[r]), endAt: Day(c[7].i32[r]), amount: c[8].f64[r],
				void: void != nil && void[r]})
		}
		mu.Lock()
		grows = append(grows, local...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(grows, func(i, j int) bool {
		if grows[i].key != grows[j].key {
			return grows[i].key < grows[j].key
		}
		if grows[i].revision != grows[j].revision {
			return grows[i].revision < grows[j].revision
		}
		return grows[i].arrival < grows[j].arrival
	})
	m.net = make([][][]float64, len(p.asofs))
	for a, d := range p.asofs {
		var links []Link
		for i := 0; i < len(grows); {
			j, cand := i, -1
			for ; j < len(grows) && grows[j].key == grows[i].key; j++ {
				if grows[j].event <= d && grows[j].arrival <= d {
					cand = j
				}
			}
			if cand >= 0 && !grows[cand].void {
				g := grows[cand]
				if g.start <= d && d <= g.endAt && m.companyAt(g.g, d) != nil && m.companyAt(g.b, d) != nil {
					links = append(links, Link{Guarantor: g.g, Borrower: g.b, Amount: g.amount})
				}
			}
			i = j
		}
		g, err := NewNetwork(n, links)
		if err != nil {
			return err
		}
		ms, err := g.Measures(defaulted[a])
		if err != nil {
			return err
		}
		if m.keepNetwork != nil {
			m.keepNetwork(a, g, defaulted[a], ms)
		}
		m.net[a] = make([][]float64, len(p.graph))
		for gi, name := range p.graphOf {
			m.net[a][gi], _ = ms.Column(name)
		}
	}
	return nil
}

// snapshotPartKey names the part of group g of shard s of a snapshot:
// part-NNNNN-<group>.parquet for Materialize, part-<run>-NNNNN-<group>.parquet
// for a staged run, so that a run never overwrites the parts of a visible
// snapshot and a shard run again replaces its own earlier attempt.
func snapshotPartKey(set string, version int, d Day, run string, s int, group string) string {
	if run == "" {
		return fmt.Sprintf("%spart-%05d-%s.parquet", SnapshotPrefix(set, version, d), s, group)
	}
	return fmt.Sprintf("%spart-%s-%05d-%s.parquet", SnapshotPrefix(set, version, d), run, s, group)
}

// sortedByCode returns s with its rows in code order (s itself when they are).
func sortedByCode(s *Snapshot) *Snapshot {
	if slices.IsSorted(s.Codes) {
		return s
	}
	perm := codeOrder(s.Codes)
	w := len(s.Names)
	out := &Snapshot{Set: s.Set, AsOf: s.AsOf, Names: s.Names, Codes: make([]string, len(perm)), Values: make([]float64, len(perm)*w)}
	for i, j := range perm {
		out.Codes[i] = s.Codes[j]
		copy(out.Values[i*w:(i+1)*w], s.Values[j*w:(j+1)*w])
	}
	return out
}

// codeOrder returns the positions of codes in code order.
func codeOrder(codes []string) []int {
	perm := make([]int, len(codes))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int { return strings.Compare(codes[a], codes[b]) })
	return perm
}

func shardOf(code string, shards int) int {
	if shards == 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(code))
	return int(h.Sum32() % uint32(shards))
}

// srcRows are the decoded raw rows of one source for one shard.
type srcRows struct {
	comp                []int32
	event, arrival, rev []int32
	key                 []int32
	void                []bool // nil while no row read is void
	vals                [][]float64
	keys                map[string]int32
	off                 []int32 // by company after grouping
	perm                []int32
}

// shard computes one shard of companies for every as-of date and writes its parts.
func (m *materializer) shard(ctx context.Context, s, shards int) ([][]Part, error) {
	p := m.plan
	rows := make([]*srcRows, len(p.sources))
	type fileJob struct{ src, file int }
	var jobs []fileJob
	for si, sp := range p.sources {
		rows[si] = &srcRows{vals: make([][]float64, len(sp.cols)), keys: map[string]int32{}}
		for fi := range sp.files {
			jobs = append(jobs, fileJob{si, fi})
		}
	}
	var mus = make([]sync.Mutex, len(p.sources))
	total := int64(len(jobs))
	err := m.parallel(ctx, len(jobs), func(i int) error {
		j := jobs[i]
		sp := p.sources[j.src]
		cols := append([]string{"code", "event_date", "arrival_date", "revision"}, sp.cols...)
		cols = append(cols, rowKindCol)
		if sp.src.Kind == KindEvent {
			cols = append(cols, sp.src.IDColumn)
		}
		// A refresh of a few companies decodes only their rows.
		c, n, err := m.readRows(ctx, sp.files[j.file], cols, m.only)
		if err != nil {
			return err
		}
		void := voidRows(&c[4+len(sp.cols)], n)
		vals := make([][]float64, len(sp.cols))
		for k := range sp.cols {
			vals[k] = c[4+k].float()
		}
		// Map the file's codes to companies of this shard once per distinct code.
		codeMap := make([]int32, len(c[0].dict))
		for k, code := range c[0].dict {
			codeMap[k] = -1
			// The hash first: it is cheaper than the lookup that most codes of a
			// shard of several would need for nothing.
			if shardOf(code, shards) != s || m.only != nil && !m.only[code] {
				continue
			}
			if id, ok := m.index[code]; ok {
				codeMap[k] = id
			}
		}
		r := rows[j.src]
		mus[j.src].Lock()
		defer mus[j.src].Unlock()
		if r.comp == nil {
			// Size the columns once from this file's rows per byte, so that appends do
			// not leave doubled capacity behind.
			var total int64
			for _, f := range sp.files {
				total += f.Size
			}
			est := int(float64(n)/float64(max(sp.files[j.file].Size, 1))*float64(total)*1.05) / shards
			r.comp = make([]int32, 0, est)
			r.event = make([]int32, 0, est)
			r.arrival = make([]int32, 0, est)
			r.rev = make([]int32, 0, est)
			if sp.src.Kind == KindEvent {
				r.key = make([]int32, 0, est)
			}
			for k := range r.vals {
				r.vals[k] = make([]float64, 0, est)
			}
		}
		// Event ids get a number when a row of this shard first names them.
		var keyMap []int32
		var idc column
		if sp.src.Kind == KindEvent {
			idc = c[len(c)-1]
			keyMap = make([]int32, len(idc.dict))
			for k := range keyMap {
				keyMap[k] = -1
			}
		}
		if void != nil && r.void == nil {
			r.void = make([]bool, len(r.comp), cap(r.comp))
		}
		for row := 0; row < n; row++ {
			comp := codeMap[c[0].bytes[row]]
			if comp < 0 {
				continue
			}
			if r.void != nil {
				r.void = append(r.void, void != nil && void[row])
			}
			r.comp = append(r.comp, comp)
			r.event = append(r.event, c[1].i32[row])
			r.arrival = append(r.arrival, c[2].i32[row])
			r.rev = append(r.rev, c[3].i32[row])
			if keyMap != nil {
				k := idc.bytes[row]
				if keyMap[k] < 0 {
					id := idc.dict[k]
					v, ok := r.keys[id]
					if !ok {
						v = int32(len(r.keys))
						r.keys[id] = v
					}
					keyMap[k] = v
				}
				r.key = append(r.key, keyMap[k])
			}
			for k := range vals {
				r.vals[k] = append(r.vals[k], vals[k][row])
			}
		}
		m.progress("read", 1, total)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The companies of this shard, in code order.
	var comps []int32
	for id, code := range m.codes {
		if shardOf(code, shards) == s && (m.only == nil || m.only[code]) {
			comps = append(comps, int32(id))
		}
	}
	slices.SortFunc(comps, func(a, b int32) int { return strings.Compare(m.codes[a], m.codes[b]) })
	// Group every source's rows by company (counting sort).
	for _, r := range rows {
		r.off = make([]int32, len(m.codes)+1)
		for _, c := range r.comp {
			r.off[c+1]++
		}
		for i := range m.codes {
			r.off[i+1] += r.off[i]
		}
		r.perm = make([]int32, len(r.comp))
		pos := slices.Clone(r.off[:len(m.codes)])
		for i, c := range r.comp {
			r.perm[pos[c]] = int32(i)
			pos[c]++
		}
	}
	width := len(p.inds)
	refs := make([][]Part, len(p.asofs))
	names := p.set.Indicators
	out := make([][]float64, len(p.asofs))
	alive := make([][]bool, len(p.asofs))
	for a0 := 0; a0 < len(p.asofs); a0 += m.group {
		a1 := min(a0+m.group, len(p.asofs))
		for a := a0; a < a1; a++ {
			out[a] = make([]float64, len(comps)*width)
			alive[a] = make([]bool, len(comps))
		}
		const batch = 256
		nb := (len(comps) + batch - 1) / batch
		err = m.parallel(ctx, nb, func(b int) error {
			w := newWorkspace()
			lo, hi := b*batch, min((b+1)*batch, len(comps))
			for li := lo; li < hi; li++ {
				m.computeCompany(comps[li], li, rows, a0, a1, out, alive, w)
			}
			m.progress("compute", int64(hi-lo), int64(len(comps))*int64((len(p.asofs)+m.group-1)/m.group))
			return nil
		})
		if err != nil {
			return nil, err
		}
		for a := a0; a < a1; a++ {
			d := p.asofs[a]
			var codes []string
			vals := make([]float64, 0, len(comps)*width)
			for li, c := range comps {
				if alive[a][li] {
					codes = append(codes, m.codes[c])
					vals = append(vals, out[a][li*width:(li+1)*width]...)
				}
			}
			out[a], alive[a] = nil, nil
			if m.inMemory != nil && shards == 1 && m.group == len(p.asofs) {
				// The statistics can use these values instead of reading the parts back.
				m.inMemory[a] = &Snapshot{Set: p.set.Key(), AsOf: d.Time(), Names: names, Codes: codes, Values: vals}
			}
			if len(codes) == 0 || m.noParts {
				continue
			}
			for _, g := range p.groups {
				gvals := vals
				if len(g.inds) != width {
					gvals = make([]float64, 0, len(codes)*len(g.inds))
					for r := range codes {
						row := vals[r*width : (r+1)*width]
						for _, k := range g.inds {
							gvals = append(gvals, row[k])
						}
					}
				}
				rec := SnapshotRecord(g.names, codes, gvals)
				var buf bytes.Buffer
				err := writeRecordParquet(&buf, rec)
				rec.Release()
				if err != nil {
					return nil, fmt.Errorf("features: encode %s part %d (%s): %w", d, s, g.name, err)
				}
				key := snapshotPartKey(p.set.Name, p.set.Version, d, m.runID, s, g.name)
				info, err := m.store.Put(ctx, key, bytes.NewReader(buf.Bytes()))
				if err != nil {
					return nil, fmt.Errorf("features: write %s: %w", key, err)
				}
				m.written = append(m.written, key)
				refs[a] = append(refs[a], Part{FileRef: FileRef{Key: key, SHA256: info.SHA256, Size: info.Size, Rows: int64(len(codes))}, Shard: s, Columns: slices.Clone(g.names)})
			}
		}
	}
	return refs, nil
}

type workspace struct {
	recs  []Record
	order []int32
	idx   []int32
	cells []MonthCell
}

func newWorkspace() *workspace { return &workspace{cells: make([]MonthCell, Lookback)} }

// computeCompany computes company c (position li of its shard) for the as-of dates
// a0..a1-1.
func (m *materializer) computeCompany(c int32, li int, rows []*srcRows, a0, a1 int, out [][]float64, alive [][]bool, w *workspace) {
	p := m.plan
	width := len(p.inds)
	for a := a0; a < a1; a++ {
		d := p.asofs[a]
		row := out[a][li*width : (li+1)*width]
		co := m.companyAt(c, d)
		if co == nil {
			continue
		}
		alive[a][li] = true
		for i := range row {
			row[i] = math.NaN()
		}
		for k, so := range p.static {
			row[so.ind] = staticValue(co, p.staticOf[k], d)
		}
		for k, g := range p.graph {
			row[g.ind] = m.net[a][k][c]
		}
	}
	for si, sp := range p.sources {
		r := rows[si]
		lo, hi := r.off[c], r.off[c+1]
		if lo == hi && sp.src.Kind == KindMonthly {
			continue // all missing
		}
		// Records of this company in key order; Value carries the row index for now.
		w.recs = w.recs[:0]
		for _, ri := range r.perm[lo:hi] {
			ev := Day(r.event[ri])
			rec := Record{Month: ev.Month(), Event: ev, Arrival: Day(r.arrival[ri]), Revision: r.rev[ri], Value: float64(ri)}
			if r.key != nil {
				rec.Key = r.key[ri]
			}
			if r.void != nil {
				rec.Void = r.void[ri]
			}
			w.recs = append(w.recs, rec)
		}
		SortRecords(sp.src.Kind, w.recs)
		w.order = w.order[:0]
		for _, rec := range w.recs {
			w.order = append(w.order, int32(rec.Value))
		}
		for a := a0; a < a1; a++ {
			d := p.asofs[a]
			if !alive[a][li] {
				continue
			}
			end := d.Month()
			start := end - Lookback + 1
			w.idx = inForce(sp.src.Kind, w.recs, d, start, end, w.idx[:0])
			row := out[a][li*width : (li+1)*width]
			for ci := range sp.cols {
				vals := r.vals[ci]
				clear(w.cells)
				for _, i := range w.idx {
					v := vals[w.order[i]]
					if math.IsNaN(v) {
						continue
					}
					addCell(sp.src.Kind, w.cells, w.recs[i].Month-start, v)
				}
				for _, o := range sp.outs[ci] {
					row[o.ind] = Aggregate(sp.src.Kind, o.agg, o.window, w.cells)
				}
			}
		}
	}
}

func staticValue(co *companyRow, col string, d Day) float64 {
	switch col {
	case "registered_capital":
		return co.reg
	case "subscribed_capital":
		return co.sub
	case "paid_in_capital":
		return co.paidIn
	case "age_months":
		f, t := co.event.Time(), d.Time()
		months := (t.Year()-f.Year())*12 + int(t.Month()) - int(f.Month())
		if t.Day() < f.Day() {
			months--
		}
		return float64(max(months, 0))
	}
	return math.NaN()
}

// previousManifest returns the manifest of the latest existing snapshot of the set
// before d, or nil.
func (m *materializer) previousManifest(ctx context.Context, d Day) (*Manifest, error) {
	p := m.plan
	list, err := ListSnapshots(ctx, m.store, p.set.Name, p.set.Version)
	if err != nil {
		return nil, err
	}
	best, ok := dayBefore(list, d)
	if !ok {
		return nil, nil
	}
	return ReadManifest(ctx, m.store, p.set.Name, p.set.Version, best)
}

// dayBefore returns the latest of the dates list before d.
func dayBefore(list []Day, d Day) (Day, bool) {
	var best Day = -1 << 30
	for _, s := range list {
		if s < d && s > best {
			best = s
		}
	}
	return best, best != -1<<30
}

// finish computes the statistics of one snapshot from its parts and writes the
// manifest that makes it visible.
func (m *materializer) finish(ctx context.Context, d Day, parts []Part, prev *Manifest, labels *labelIndex, snap *Snapshot) (*Manifest, error) {
	p := m.plan
	man := &Manifest{Set: p.set.Name, Version: p.set.Version, AsOf: d.String(), CreatedAt: m.opts.Now().UTC(),
		Indicators: slices.Clone(p.set.Indicators), Parts: parts, Inputs: m.inputs, Label: p.set.Label}
	man.Schema = append(man.Schema, ManifestColumn{Name: "code", Type: "string"})
	for _, id := range p.set.Indicators {
		man.Schema = append(man.Schema, ManifestColumn{Name: id, Type: "double"})
	}
	for _, b := range partBlocks(parts) {
		man.Rows += b[0].Rows // once per shard: its groups hold the same companies
	}
	if snap == nil {
		var err error
		if snap, err = readParts(ctx, m.store, man); err != nil {
			return nil, err
		}
	}
	// The statistics see the rows in code order whatever the part layout, so that
	// a run in more shards writes the same statistics.
	snap = sortedByCode(snap)
	var y []float64
	if labels != nil {
		y = labels.outcomes(snap.Codes, d, p.set.Label)
	}
	ind := make([]string, len(snap.Codes))
	for i, c := range snap.Codes {
		if id, ok := m.index[c]; ok {
			ind[i] = m.industry[id]
		}
	}
	man.Stats = ComputeStats(snap, prev, y, ind)
	if m.runID != "" {
		man.Extra = map[string]string{"run": m.runID}
	}
	if m.opts.beforeManifest != nil {
		if err := m.opts.beforeManifest(d); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(man) // compact: it is read on every refresh and load
	if err != nil {
		return nil, fmt.Errorf("features: encode manifest: %w", err)
	}
	key := ManifestKey(p.set.Name, p.set.Version, d)
	if _, err := m.store.Put(ctx, key, bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("features: write %s: %w", key, err)
	}
	// This snapshot is visible: its parts must survive a failure of a later one.
	m.written = slices.DeleteFunc(m.written, func(k string) bool { return strings.HasPrefix(k, SnapshotPrefix(p.set.Name, p.set.Version, d)) })
	// Parts of an earlier snapshot of this date, and of interrupted runs with another
	// shard count or run id, are not part of this one: remove them now that the new
	// manifest replaced the one that may have named them (best effort: they are
	// invisible, and the next snapshot of the date removes what is left).
	if existing, err := m.store.List(ctx, SnapshotPrefix(p.set.Name, p.set.Version, d)); err == nil {
		for _, in := range existing {
			if strings.HasSuffix(in.Key, ".parquet") && !slices.ContainsFunc(parts, func(f Part) bool { return f.Key == in.Key }) {
				_ = m.store.Delete(ctx, in.Key)
			}
		}
	}
	m.res.Snapshots = append(m.res.Snapshots, SnapshotResult{AsOf: d, Rows: man.Rows, Key: key})
	if m.opts.Logger != nil {
		m.opts.Logger.Info("snapshot written", "set", p.set.Key(), "asof", d.String(), "rows", man.Rows)
	}
	return man, nil
}
