package features

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Errors of staged runs.
var (
	// ErrRunNotFound reports a run whose plan is not in the store (never planned,
	// or committed and cleaned up).
	ErrRunNotFound = errors.New("features: run not found")
	// ErrRunIncomplete reports a commit of a run some of whose shards have not
	// finished (no done marker) or whose parts are missing or damaged.
	ErrRunIncomplete = errors.New("features: run incomplete")
)

// A staged run is one materialization split into stages that may run in different
// processes, sharing only the object store:
//
//   - PlanRun resolves the as-of dates still to build, loads the companies, builds the
//     guarantee network and computes its measures (they are global), and stages them
//     with the plan under RunPrefix;
//   - RunShard computes the companies of shard s of N (by code hash, as Materialize
//     splits them) for every date from the staged plan and writes its parts and a
//     done marker; run again, it writes the same parts under the same keys;
//   - CommitRun checks every shard's parts against its marker, writes the manifests in
//     date order exactly as Materialize does, and removes the staging objects.
//
// Nothing of a run is visible before CommitRun writes a manifest. Materialize runs the
// same code in one process without staging.

// Run names one staged run of a feature set version.
type Run struct {
	ID      string `json:"id"`
	Set     string `json:"set"`
	Version int    `json:"version"`
	// AsOf are the dates the run builds (YYYY-MM-DD), set by PlanRun; CommitRun uses
	// them to recognize a run that was already committed.
	AsOf   []string `json:"asof,omitempty"`
	Shards int      `json:"shards,omitempty"`
}

// RunPrefix is the staging prefix of a run: invisible to snapshot readers.
func RunPrefix(set string, version int, id string) string {
	return fmt.Sprintf("features/%s/v%d/_runs/%s/", set, version, id)
}

func (r Run) prefix() string       { return RunPrefix(r.Set, r.Version, r.ID) }
func (r Run) planKey() string      { return r.prefix() + "plan.json" }
func (r Run) universeKey() string  { return r.prefix() + "universe.gob" }
func (r Run) doneKey(s int) string { return fmt.Sprintf("%sdone/shard-%05d.json", r.prefix(), s) }
func (r Run) networkKey(d Day) string {
	return fmt.Sprintf("%snetwork/asof=%s.f64", r.prefix(), d)
}

// RunPlan is what PlanRun stages: everything a shard and the commit need besides
// the raw files themselves.
type RunPlan struct {
	Run
	CreatedAt time.Time `json:"created_at"`
	// Skipped are requested dates whose snapshot existed (and Force was false).
	Skipped    []string `json:"skipped,omitempty"`
	Indicators []string `json:"indicators"`
	// Inputs are every raw file of the run in the order the manifests list them.
	Inputs []FileRef `json:"inputs"`
	// Files are the input files of each source the shards read.
	Files     map[string][]FileRef `json:"files"`
	Companies int                  `json:"companies"`
	// Universe is the staged company registry (codes, industries, registry rows).
	Universe FileRef `json:"universe"`
	// Graph names the network measures staged per date, Network their objects.
	Graph   []string  `json:"graph,omitempty"`
	Network []FileRef `json:"network,omitempty"`
	// RawRecords are the raw rows the plan decoded (companies, loans, guarantees),
	// Read the keys of those files: a shard counts only the rows of other files.
	RawRecords int64         `json:"raw_records"`
	Read       []string      `json:"read"`
	Elapsed    time.Duration `json:"elapsed_ns"`
}

// ShardDone is a shard's done marker: the parts it wrote, for each date of the
// plan, and what it cost. A marker of the earlier form (one part per date) does
// not decode: its shard counts as not done and runs again.
type ShardDone struct {
	Run    string `json:"run"`
	Shard  int    `json:"shard"`
	Shards int    `json:"shards"`
	// Parts are the files the shard wrote, per as-of date of the plan (none
	// for a date where it has no company).
	Parts      [][]Part      `json:"parts"`
	Companies  int           `json:"companies"`
	RawRecords int64         `json:"raw_records"` // raw rows of the files read, each once
	Decoded    int64         `json:"decoded"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	// CPU is the processor time of the whole process (user and system) while the
	// shard ran; it is the shard's own when the process ran nothing else.
	CPU      time.Duration `json:"cpu_ns"`
	Finished time.Time     `json:"finished"`
}

// NewRunID returns a random run id.
func NewRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

func checkRunID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: run id %q (want 1..64 characters a-z, 0-9, -)", ErrInvalidOptions, id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: run id %q (want 1..64 characters a-z, 0-9, -)", ErrInvalidOptions, id)
		}
	}
	return nil
}

// stagedUniverse is the company registry as the shards and the commit need it.
type stagedUniverse struct {
	Codes, Industry                []string
	Company, Event, Arrival, Rev   []int32
	Registered, Subscribed, PaidIn []float64
}

// PlanRun is the first stage of a staged run with id (NewRunID when empty) in shards
// shards: it resolves opts.AsOf against the existing snapshots (opts.Force), loads the
// companies and the guarantee network and stages them with the plan. When every date
// exists already it stages nothing and returns a plan without dates. Planning a run
// whose plan is staged already returns that plan.
func PlanRun(ctx context.Context, store blob.Store, id string, shards int, opts Options) (*RunPlan, error) {
	start := time.Now()
	if id == "" {
		id = NewRunID()
	}
	if err := checkRunID(id); err != nil {
		return nil, err
	}
	if shards < 1 || shards > 1024 {
		return nil, fmt.Errorf("%w: %d shards (want 1..1024)", ErrInvalidOptions, shards)
	}
	m, err := newMaterializer(ctx, store, opts)
	if err != nil {
		return nil, err
	}
	p := m.plan
	run := Run{ID: id, Set: p.set.Name, Version: p.set.Version, Shards: shards}
	if old, err := readPlan(ctx, store, run); err == nil {
		return old, nil
	} else if !errors.Is(err, ErrRunNotFound) {
		return nil, err
	}
	rp := &RunPlan{Run: run, CreatedAt: m.opts.Now().UTC(), Indicators: slices.Clone(p.set.Indicators)}
	for _, s := range m.res.Snapshots {
		rp.Skipped = append(rp.Skipped, s.AsOf.String())
	}
	if len(p.asofs) == 0 {
		return rp, nil
	}
	for _, d := range p.asofs {
		rp.AsOf = append(rp.AsOf, d.String())
	}
	if err := m.prepare(ctx); err != nil {
		return nil, err
	}
	rp.Inputs, rp.Companies, rp.RawRecords = m.inputs, len(m.codes), m.rawInput.Load()
	m.counted.Range(func(k, _ any) bool {
		rp.Read = append(rp.Read, k.(string))
		return true
	})
	slices.Sort(rp.Read)
	rp.Files = map[string][]FileRef{"companies": refsOf(m.coFiles)}
	for _, sp := range p.sources {
		rp.Files[sp.src.Name] = refsOf(sp.files)
	}
	u := stagedUniverse{Codes: m.codes, Industry: m.industry}
	for _, r := range m.coRows {
		u.Company = append(u.Company, r.company)
		u.Event = append(u.Event, int32(r.event))
		u.Arrival = append(u.Arrival, int32(r.arrival))
		u.Rev = append(u.Rev, r.revision)
		u.Registered = append(u.Registered, r.reg)
		u.Subscribed = append(u.Subscribed, r.sub)
		u.PaidIn = append(u.PaidIn, r.paidIn)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&u); err != nil {
		return nil, fmt.Errorf("features: encode universe of run %s: %w", id, err)
	}
	if rp.Universe, err = putRef(ctx, store, run.universeKey(), buf.Bytes()); err != nil {
		return nil, err
	}
	if p.needNet {
		rp.Graph = slices.Clone(p.graphOf)
		for a, d := range p.asofs {
			b := make([]byte, 0, len(p.graph)*len(m.codes)*8)
			for gi := range p.graph {
				for _, v := range m.net[a][gi] {
					b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
				}
			}
			ref, err := putRef(ctx, store, run.networkKey(d), b)
			if err != nil {
				return nil, err
			}
			rp.Network = append(rp.Network, ref)
		}
	}
	rp.Elapsed = time.Since(start)
	b, err := json.MarshalIndent(rp, "", " ")
	if err != nil {
		return nil, fmt.Errorf("features: encode plan of run %s: %w", id, err)
	}
	// The plan is written last: a run exists once it does.
	if _, err := store.Put(ctx, run.planKey(), bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("features: write %s: %w", run.planKey(), err)
	}
	if m.opts.Logger != nil {
		m.opts.Logger.Info("run planned", "set", p.set.Key(), "run", id, "dates", len(rp.AsOf), "shards", shards, "companies", rp.Companies)
	}
	return rp, nil
}

// newMaterializer checks opts and resolves the set and the dates still to build
// (those already built are recorded as skipped in the result).
func newMaterializer(ctx context.Context, store blob.Store, opts Options) (*materializer, error) {
	if err := opts.EnsureDefaults(); err != nil {
		return nil, err
	}
	if opts.Set == "" {
		return nil, fmt.Errorf("%w: no feature set", ErrInvalidOptions)
	}
	if len(opts.AsOf) == 0 {
		return nil, fmt.Errorf("%w: no as-of date", ErrInvalidOptions)
	}
	set, err := opts.Catalog.Set(opts.Set, 0)
	if err != nil {
		return nil, err
	}
	p := buildPlan(opts.Catalog, set)
	res := &Result{Set: set.Name, Version: set.Version}
	seen := map[Day]bool{}
	var all []Day
	for _, t := range opts.AsOf {
		d := DayOf(t)
		if !seen[d] {
			seen[d] = true
			all = append(all, d)
		}
	}
	slices.Sort(all)
	for _, d := range all {
		key := ManifestKey(set.Name, set.Version, d)
		if !opts.Force {
			if _, err := store.Stat(ctx, key); err == nil {
				res.Snapshots = append(res.Snapshots, SnapshotResult{AsOf: d, Skipped: true, Key: key})
				continue
			} else if !errors.Is(err, blob.ErrNotFound) {
				return nil, fmt.Errorf("features: stat %s: %w", key, err)
			}
		}
		p.asofs = append(p.asofs, d)
	}
	return &materializer{opts: opts, store: store, plan: p, res: res}, nil
}

func refsOf(infos []blob.Info) []FileRef {
	out := make([]FileRef, len(infos))
	for i, in := range infos {
		out[i] = FileRef{Key: in.Key, SHA256: in.SHA256, Size: in.Size}
	}
	return out
}

func putRef(ctx context.Context, store blob.Store, key string, b []byte) (FileRef, error) {
	info, err := store.Put(ctx, key, bytes.NewReader(b))
	if err != nil {
		return FileRef{}, fmt.Errorf("features: write %s: %w", key, err)
	}
	return FileRef{Key: key, SHA256: info.SHA256, Size: info.Size}, nil
}

// readRef reads a staged object and checks it against its reference.
func readRef(ctx context.Context, store blob.Store, ref FileRef) ([]byte, error) {
	b, err := readBlob(ctx, store, ref.Key)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != ref.Size || (ref.SHA256 != "" && blob.SHA256Hex(b) != ref.SHA256) {
		return nil, fmt.Errorf("%w: %s differs from the run's plan", ErrRunIncomplete, ref.Key)
	}
	return b, nil
}

func readPlan(ctx context.Context, store blob.Store, run Run) (*RunPlan, error) {
	if err := checkRunID(run.ID); err != nil {
		return nil, err
	}
	b, err := readBlob(ctx, store, run.planKey())
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s/v%d run %s", ErrRunNotFound, run.Set, run.Version, run.ID)
	}
	if err != nil {
		return nil, err
	}
	rp := new(RunPlan)
	if err := json.Unmarshal(b, rp); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptRaw, run.planKey(), err)
	}
	if rp.ID != run.ID || rp.Set != run.Set || rp.Version != run.Version {
		return nil, fmt.Errorf("%w: %s names run %s of %s/v%d", ErrCorruptRaw, run.planKey(), rp.ID, rp.Set, rp.Version)
	}
	return rp, nil
}

// ReadRunPlan returns the staged plan of a run, or an error wrapping ErrRunNotFound.
func ReadRunPlan(ctx context.Context, store blob.Store, run Run) (*RunPlan, error) {
	return readPlan(ctx, store, run)
}

// stagedMaterializer rebuilds a planned run's materializer from the staged objects.
func stagedMaterializer(ctx context.Context, store blob.Store, run Run, opts Options) (*materializer, *RunPlan, error) {
	if err := opts.EnsureDefaults(); err != nil {
		return nil, nil, err
	}
	rp, err := readPlan(ctx, store, run)
	if err != nil {
		return nil, nil, err
	}
	set, err := opts.Catalog.Set(rp.Set, rp.Version)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Equal(set.Indicators, rp.Indicators) {
		return nil, nil, fmt.Errorf("%w: %s in this catalog has other indicators than in the plan of run %s", ErrInvalidOptions, set.Key(), rp.ID)
	}
	p := buildPlan(opts.Catalog, set)
	for _, s := range rp.AsOf {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: plan of run %s: as-of %q", ErrCorruptRaw, rp.ID, s)
		}
		p.asofs = append(p.asofs, DayOf(t))
	}
	if len(p.asofs) == 0 {
		return nil, nil, fmt.Errorf("%w: plan of run %s has no date", ErrCorruptRaw, rp.ID)
	}
	m := &materializer{opts: opts, store: store, plan: p, res: &Result{Set: rp.Set, Version: rp.Version}, runID: rp.ID,
		inputs: rp.Inputs, expect: map[string]string{}}
	for _, in := range rp.Inputs {
		m.expect[in.Key] = in.SHA256
	}
	for _, k := range rp.Read {
		m.counted.Store(k, true)
	}
	for _, sp := range p.sources {
		files, ok := rp.Files[sp.src.Name]
		if !ok {
			return nil, nil, fmt.Errorf("%w: plan of run %s lists no files of %s", ErrCorruptRaw, rp.ID, sp.src.Name)
		}
		for _, f := range files {
			sp.files = append(sp.files, blob.Info{Key: f.Key, Size: f.Size, SHA256: f.SHA256})
		}
	}
	b, err := readRef(ctx, store, rp.Universe)
	if err != nil {
		return nil, nil, err
	}
	var u stagedUniverse
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&u); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrCorruptRaw, rp.Universe.Key, err)
	}
	n := len(u.Codes)
	if n != rp.Companies || len(u.Industry) != n {
		return nil, nil, fmt.Errorf("%w: %s: %d companies, the plan says %d", ErrCorruptRaw, rp.Universe.Key, n, rp.Companies)
	}
	m.codes, m.industry = u.Codes, u.Industry
	m.index = make(map[string]int32, n)
	for i, c := range u.Codes {
		m.index[c] = int32(i)
	}
	m.coRows = make([]companyRow, len(u.Company))
	m.coOff = make([]int32, n+1)
	for i := range m.coRows {
		c := u.Company[i]
		if c < 0 || int(c) >= n {
			return nil, nil, fmt.Errorf("%w: %s: company %d of %d", ErrCorruptRaw, rp.Universe.Key, c, n)
		}
		m.coRows[i] = companyRow{company: c, event: Day(u.Event[i]), arrival: Day(u.Arrival[i]), revision: u.Rev[i],
			reg: u.Registered[i], sub: u.Subscribed[i], paidIn: u.PaidIn[i]}
		m.coOff[c+1]++
	}
	for i := 0; i < n; i++ {
		m.coOff[i+1] += m.coOff[i]
	}
	m.res.Companies = n
	return m, rp, nil
}

// loadStagedNetwork reads the network measures of every date of the plan.
func (m *materializer) loadStagedNetwork(ctx context.Context, rp *RunPlan) error {
	p := m.plan
	if !p.needNet {
		return nil
	}
	if !slices.Equal(rp.Graph, p.graphOf) || len(rp.Network) != len(p.asofs) {
		return fmt.Errorf("%w: plan of run %s stages network measures %v for %d dates, the set needs %v for %d", ErrCorruptRaw, rp.ID, rp.Graph, len(rp.Network), p.graphOf, len(p.asofs))
	}
	n := len(m.codes)
	m.net = make([][][]float64, len(p.asofs))
	for a := range p.asofs {
		b, err := readRef(ctx, m.store, rp.Network[a])
		if err != nil {
			return err
		}
		if len(b) != len(p.graph)*n*8 {
			return fmt.Errorf("%w: %s: %d bytes, want %d", ErrCorruptRaw, rp.Network[a].Key, len(b), len(p.graph)*n*8)
		}
		m.net[a] = make([][]float64, len(p.graph))
		for gi := range p.graph {
			col := make([]float64, n)
			for i := range col {
				col[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[(gi*n+i)*8:]))
			}
			m.net[a][gi] = col
		}
	}
	return nil
}

// RunShard is the second stage of a staged run: it computes shard s of the plan's
// shards for every date, writes its parts (part-<run>-NNNNN.parquet beside the
// snapshot's manifest-to-be) and then its done marker. Running a shard again writes
// the same parts under the same keys. Of opts only Workers, MemoryBudget (per shard),
// Catalog and Progress count.
func RunShard(ctx context.Context, store blob.Store, run Run, s int, opts Options) (*ShardDone, error) {
	start, cpu0 := time.Now(), processCPU()
	m, rp, err := stagedMaterializer(ctx, store, run, opts)
	if err != nil {
		return nil, err
	}
	if s < 0 || s >= rp.Shards {
		return nil, fmt.Errorf("%w: shard %d of a run in %d shards", ErrInvalidOptions, s, rp.Shards)
	}
	if err := m.loadStagedNetwork(ctx, rp); err != nil {
		return nil, err
	}
	m.size(rp.Shards)
	refs, err := m.shard(ctx, s, rp.Shards)
	if err != nil {
		return nil, err
	}
	done := &ShardDone{Run: rp.ID, Shard: s, Shards: rp.Shards, Parts: refs, RawRecords: m.rawInput.Load(), Decoded: m.rawRecords.Load()}
	for _, code := range m.codes {
		if shardOf(code, rp.Shards) == s {
			done.Companies++
		}
	}
	done.Elapsed, done.CPU, done.Finished = time.Since(start), processCPU()-cpu0, m.opts.Now().UTC()
	b, err := json.MarshalIndent(done, "", " ")
	if err != nil {
		return nil, fmt.Errorf("features: encode done marker: %w", err)
	}
	if _, err := store.Put(ctx, run.doneKey(s), bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("features: write %s: %w", run.doneKey(s), err)
	}
	return done, nil
}

// processCPU is the user and system time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RunStatus reports which shards of a planned run are done.
type RunStatus struct {
	Plan *RunPlan
	Done []*ShardDone // by shard; nil for a shard not done
	// Missing are the shards without a done marker (or with one that does not read).
	Missing []int
	// Damaged are shards whose marker exists but one of whose parts is missing or
	// differs from it, with why: they must run again (ResetShard first).
	Damaged map[int]string
}

// Complete reports whether every shard is done and intact.
func (st *RunStatus) Complete() bool { return len(st.Missing) == 0 && len(st.Damaged) == 0 }

// DoneCount is the number of shards done and intact.
func (st *RunStatus) DoneCount() int { return len(st.Done) - len(st.Missing) - len(st.Damaged) }

// ReadRunStatus reads the plan and the done markers of a run and checks each done
// shard's parts (present, with the size and sha256 its marker recorded).
func ReadRunStatus(ctx context.Context, store blob.Store, run Run) (*RunStatus, error) {
	rp, err := readPlan(ctx, store, run)
	if err != nil {
		return nil, err
	}
	st := &RunStatus{Plan: rp, Done: make([]*ShardDone, rp.Shards), Damaged: map[int]string{}}
	for s := range rp.Shards {
		b, err := readBlob(ctx, store, run.doneKey(s))
		if errors.Is(err, blob.ErrNotFound) {
			st.Missing = append(st.Missing, s)
			continue
		}
		if err != nil {
			return nil, err
		}
		d := new(ShardDone)
		if err := json.Unmarshal(b, d); err != nil || d.Run != rp.ID || d.Shard != s || d.Shards != rp.Shards || len(d.Parts) != len(rp.AsOf) {
			st.Missing = append(st.Missing, s) // a damaged marker: the shard must run again
			continue
		}
		st.Done[s] = d
		for _, pt := range slices.Concat(d.Parts...) {
			info, err := store.Stat(ctx, pt.Key)
			if errors.Is(err, blob.ErrNotFound) {
				st.Damaged[s] = "part " + pt.Key + " missing"
				break
			}
			if err != nil {
				return nil, fmt.Errorf("features: stat %s: %w", pt.Key, err)
			}
			if info.Size != pt.Size || (pt.SHA256 != "" && info.SHA256 != "" && info.SHA256 != pt.SHA256) {
				st.Damaged[s] = "part " + pt.Key + " differs from its done marker"
				break
			}
		}
	}
	return st, nil
}

// ResetShard removes the done marker of shard s, so that the run counts it as not
// done until it runs again.
func ResetShard(ctx context.Context, store blob.Store, run Run, s int) error {
	if err := checkRunID(run.ID); err != nil {
		return err
	}
	if err := store.Delete(ctx, run.doneKey(s)); err != nil {
		return fmt.Errorf("features: delete %s: %w", run.doneKey(s), err)
	}
	return nil
}

// CommitRun is the last stage of a staged run: when every shard's done marker exists
// and every part it lists is in the store with its size and sha256, it writes the
// manifests in date order as Materialize does (statistics, labels, the previous
// manifest) and removes the staging objects. Otherwise it fails with an error
// wrapping ErrRunIncomplete that names the shards to run again, and writes nothing.
// Committing a run again after it succeeded returns its result (from the manifests
// that name the run) when run.AsOf is set. Of opts Catalog, Workers, Logger, Now and
// Progress count.
func CommitRun(ctx context.Context, store blob.Store, run Run, opts Options) (*Result, error) {
	st, err := ReadRunStatus(ctx, store, run)
	if errors.Is(err, ErrRunNotFound) && len(run.AsOf) > 0 {
		if res, cerr := committedResult(ctx, store, run); cerr == nil {
			return res, nil
		}
	}
	if err != nil {
		return nil, err
	}
	rp := st.Plan
	if !st.Complete() {
		bad := maps.Clone(st.Damaged)
		for _, s := range st.Missing {
			bad[s] = "not done"
		}
		shards := slices.Sorted(maps.Keys(bad))
		why := make([]string, len(shards))
		for i, s := range shards {
			why[i] = fmt.Sprintf("%d (%s)", s, bad[s])
		}
		return nil, fmt.Errorf("%w: run %s of %s/v%d: %d of %d shards to run again: %s", ErrRunIncomplete, rp.ID, rp.Set, rp.Version,
			len(shards), rp.Shards, strings.Join(why, ", "))
	}
	m, _, err := stagedMaterializer(ctx, store, run, opts)
	if err != nil {
		return nil, err
	}
	parts := make([][]Part, len(m.plan.asofs))
	for _, d := range st.Done {
		for a, pt := range d.Parts {
			parts[a] = append(parts[a], pt...)
		}
	}
	if err := m.commit(ctx, parts); err != nil {
		return nil, err
	}
	res := m.res
	res.Shards, res.RawFiles = rp.Shards, len(rp.Inputs)
	res.RawRecords, res.Decoded = rp.RawRecords, rp.RawRecords
	for _, d := range st.Done {
		res.Decoded += d.Decoded
	}
	res.RawRecords += st.Done[0].RawRecords // every shard reads every source file
	for _, s := range rp.Skipped {
		t, _ := time.Parse(time.DateOnly, s)
		res.Snapshots = append(res.Snapshots, SnapshotResult{AsOf: DayOf(t), Skipped: true, Key: ManifestKey(rp.Set, rp.Version, DayOf(t))})
	}
	slices.SortFunc(res.Snapshots, func(a, b SnapshotResult) int { return cmp.Compare(a.AsOf, b.AsOf) })
	res.Elapsed = m.opts.Now().Sub(rp.CreatedAt)
	if err := removeStaging(ctx, store, run); err != nil && m.opts.Logger != nil {
		m.opts.Logger.Warn("staging objects of a committed run not removed", "run", rp.ID, "err", err)
	}
	return res, nil
}

// removeStaging deletes a run's staging objects, the plan last.
func removeStaging(ctx context.Context, store blob.Store, run Run) error {
	infos, err := store.List(ctx, run.prefix())
	if err != nil {
		return fmt.Errorf("features: list %s: %w", run.prefix(), err)
	}
	var errs []error
	for _, in := range infos {
		if in.Key != run.planKey() {
			errs = append(errs, store.Delete(ctx, in.Key))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return store.Delete(ctx, run.planKey())
}

// AbortRun removes what a run that will not be committed left: its staging objects
// and the parts its shards wrote (invisible, as no manifest names them).
func AbortRun(ctx context.Context, store blob.Store, run Run) error {
	if err := checkRunID(run.ID); err != nil {
		return err
	}
	prefix := fmt.Sprintf("features/%s/v%d/", run.Set, run.Version)
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("features: list %s: %w", prefix, err)
	}
	var errs []error
	for _, in := range infos {
		if strings.Contains(in.Key, "/part-"+run.ID+"-") && strings.HasSuffix(in.Key, ".parquet") {
			errs = append(errs, store.Delete(ctx, in.Key))
		}
	}
	errs = append(errs, removeStaging(ctx, store, run))
	return errors.Join(errs...)
}

// committedResult recognizes a run committed already: every date of run.AsOf has a
// manifest naming the run.
func committedResult(ctx context.Context, store blob.Store, run Run) (*Result, error) {
	res := &Result{Set: run.Set, Version: run.Version, Shards: run.Shards}
	for _, s := range run.AsOf {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, fmt.Errorf("%w: as-of %q", ErrInvalidOptions, s)
		}
		man, err := ReadManifest(ctx, store, run.Set, run.Version, DayOf(t))
		if err != nil {
			return nil, err
		}
		if man.Extra["run"] != run.ID {
			return nil, fmt.Errorf("%w: %s as of %s was written by run %q", ErrRunNotFound, run.Set, s, man.Extra["run"])
		}
		res.Snapshots = append(res.Snapshots, SnapshotResult{AsOf: DayOf(t), Rows: man.Rows, Key: ManifestKey(run.Set, run.Version, DayOf(t))})
		res.RawFiles = len(man.Inputs)
	}
	return res, nil
}
