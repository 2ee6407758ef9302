package features

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// ErrSnapshotChanged reports a snapshot whose manifest another writer replaced
// while Refresh was computing its patch: nothing of the refresh was made visible
// for that date, and running it again gives the right values.
var ErrSnapshotChanged = errors.New("features: snapshot changed during refresh")

// RefreshOptions configure Refresh.
type RefreshOptions struct {
	// Options: Set is required; AsOf, when given, limits the dates refreshed
	// (default: every stored snapshot of the set as of the batch's arrival day or
	// later). Force is ignored: a refreshed snapshot always replaces the stored one.
	Options
	// Source and Batch name the committed ingestion batch. Required.
	Source string
	Batch  string
}

// RefreshResult reports a Refresh.
type RefreshResult struct {
	Result
	// Companies the batch touched, and the as-of dates refreshed.
	Touched int
	// Full is set when the batch's source feeds the whole snapshot (the company
	// registry, or the guarantee network of a set that uses it) and the dates
	// were materialized whole.
	Full bool
	// Unused is set when the set reads nothing of the batch's source: nothing
	// was refreshed.
	Unused bool
	// Columns are the source's value columns whose indicators were computed
	// again: those the batch's corrections changed, or all that the set reads
	// when a row of the batch was more than a correction of values.
	Columns []string
}

// batchTouch is what a committed batch touched: its companies and the earliest
// day a snapshot can see one of its rows.
type batchTouch struct {
	codes map[string]bool
	from  Day
	parts []datasets.BatchPart
}

// readBatchTouch reads the parts of a committed batch for their companies and
// their arrival and event days.
func readBatchTouch(ctx context.Context, store blob.Store, source, id string) (*batchTouch, error) {
	key := datasets.BatchManifestKey(source, id)
	data, err := readBlob(ctx, store, key)
	if err != nil {
		return nil, err
	}
	var man datasets.BatchManifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptRaw, key, err)
	}
	t := &batchTouch{codes: map[string]bool{}, from: math.MaxInt32, parts: man.Parts}
	for _, p := range man.Parts {
		b, err := readBatchPart(ctx, store, p)
		if err != nil {
			return nil, err
		}
		c, n, err := readColumns(b, p.Key, []string{"code", "event_date", "arrival_date"})
		if err != nil {
			return nil, err
		}
		for r := range n {
			t.codes[c[0].dict[c[0].bytes[r]]] = true
			t.from = min(t.from, max(Day(c[1].i32[r]), Day(c[2].i32[r])))
		}
	}
	return t, nil
}

// readBatchPart reads a part of a committed batch, checked against the
// digest its manifest records.
func readBatchPart(ctx context.Context, store blob.Store, p datasets.BatchPart) ([]byte, error) {
	b, err := readBlob(ctx, store, p.Key)
	if err != nil {
		return nil, err
	}
	if p.SHA256 != "" && blob.SHA256Hex(b) != p.SHA256 {
		return nil, fmt.Errorf("%w: %s: sha256 differs from the batch manifest", ErrCorruptRaw, p.Key)
	}
	return b, nil
}

// Refresh brings the stored snapshots of a feature set up to date after one
// committed ingestion batch, computing again only what the batch can change:
// the indicators of the batch's source, for the companies it touched, as of
// the stored dates at or after the day its rows became visible (the later of
// event and arrival: earlier snapshots are left as they are, as bitemporal
// reading wants). Every other value of each snapshot is carried over
// unchanged, so the stored snapshots must be current up to the batch (each
// batch refreshed in commit order, or the dates materialized after the last
// one before it).
//
// A refreshed snapshot keeps its parts and adds a patch part with the new rows
// of the touched companies (Manifest.Patches); its new manifest, written last,
// makes it visible whole as a full run's does, with the statistics of the
// changed indicators computed again over every company, and the stored
// inputs with the batch's source's files as they are now (only the registry
// and that source are listed and read, and of the source only the touched
// companies' rows decoded). Of the stored snapshot, only the parts holding the
// source's indicators are read. ReadSnapshot gives values and the manifest
// statistics equal to a full materialization's. Refreshes of one set, and
// materializations of the same dates, are meant to run one at a time; one that
// finds the manifest replaced since it read it stops with ErrSnapshotChanged.
// A batch of the company registry,
// or of a source of the guarantee network when the set uses it, can change any
// company's values: its dates are materialized whole.
func Refresh(ctx context.Context, store blob.Store, opts RefreshOptions) (*RefreshResult, error) {
	start := time.Now()
	if opts.Source == "" || opts.Batch == "" {
		return nil, fmt.Errorf("%w: refresh needs a source and a batch", ErrInvalidOptions)
	}
	if err := opts.EnsureDefaults(); err != nil {
		return nil, err
	}
	set, err := opts.Catalog.Set(opts.Set, 0)
	if err != nil {
		return nil, err
	}
	touch, err := readBatchTouch(ctx, store, opts.Source, opts.Batch)
	if err != nil {
		return nil, err
	}
	out := &RefreshResult{Result: Result{Set: set.Name, Version: set.Version}, Touched: len(touch.codes)}
	if len(touch.codes) == 0 {
		out.Elapsed = time.Since(start)
		return out, nil
	}
	// The stored dates the batch reaches.
	dates, err := ListSnapshots(ctx, store, set.Name, set.Version)
	if errors.Is(err, ErrNoSnapshotStored) {
		dates, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	stored := dates
	if len(opts.AsOf) > 0 {
		var asked []Day
		for _, t := range opts.AsOf {
			d := DayOf(t)
			if !slices.Contains(dates, d) {
				return nil, fmt.Errorf("%w: no snapshot of %s as of %s is stored: materialize it", ErrInvalidOptions, set.Key(), d)
			}
			asked = append(asked, d)
		}
		dates = asked
	}
	var asof []time.Time
	for _, d := range dates {
		if d >= touch.from && !slices.Contains(asof, d.Time()) {
			asof = append(asof, d.Time())
		}
	}
	if len(asof) == 0 {
		out.Elapsed = time.Since(start)
		return out, nil
	}
	mopts := opts.Options
	mopts.Set, mopts.AsOf, mopts.Force = set.Key(), asof, true
	p := buildPlan(opts.Catalog, set)
	var sp *srcPlan
	for _, s := range p.sources {
		if s.src.Name == opts.Source {
			sp = s
		}
	}
	network := opts.Source == "loan" || opts.Source == "guarantee"
	if opts.Source == "companies" || (p.needNet && network) {
		res, err := Materialize(ctx, store, mopts)
		if err != nil {
			return nil, err
		}
		out.Result, out.Full = *res, true
		out.Elapsed = time.Since(start)
		return out, nil
	}
	if sp == nil { // the set reads nothing of this source
		out.Unused = true
		out.Elapsed = time.Since(start)
		return out, nil
	}
	m, err := newMaterializer(ctx, store, mopts)
	if err != nil {
		return nil, err
	}
	m.runID = NewRunID()
	for _, s := range m.plan.sources {
		if s.src.Name == opts.Source {
			sp = s
		}
	}
	cols, err := m.refresh(ctx, sp, touch, stored)
	if err != nil {
		m.cleanup()
		return nil, err
	}
	out.Result, out.Columns = *m.res, cols
	out.RawFiles = len(m.inputs)
	out.RawRecords, out.Decoded = m.rawInput.Load(), m.rawRecords.Load()
	out.Elapsed = time.Since(start)
	return out, nil
}

// refresh computes the indicators of sp for the touched companies and writes
// each date's patch and manifest; stored are the dates of the set's stored
// snapshots. It returns the value columns whose indicators it computed.
func (m *materializer) refresh(ctx context.Context, sp *srcPlan, touch *batchTouch, stored []Day) ([]string, error) {
	full := m.plan
	p := full.asofs
	lo := p[0].Month() - Lookback + 1
	hi := p[len(p)-1].Month()
	// The registry and the batch's source are read; the inputs of every other
	// source are those the stored manifests list.
	coFiles, err := m.listSource(ctx, "companies", 0, hi)
	if err != nil {
		return nil, err
	}
	m.addInputs(coFiles)
	if sp.files, err = m.listSource(ctx, sp.src.Name, lo, hi); err != nil {
		return nil, err
	}
	m.addInputs(sp.files)
	if err := m.loadCompanies(ctx, coFiles); err != nil {
		return nil, err
	}
	m.res.Companies = len(m.codes)
	// Only the indicators of the value columns the batch changed can change:
	// only those are computed, and at each date only those of the columns
	// changed then are read and compared, with those of the columns changed
	// the date before (their statistics there may call for this date's PSI
	// again).
	cols, at, err := m.changedColumns(ctx, sp, touch)
	if err != nil {
		return nil, err
	}
	sp = sp.subset(cols)
	changed := make([][]int, len(p)) // indicator positions, by date
	for a := range p {
		for k, outs := range sp.outs {
			if !at[a][k] && (a == 0 || !at[a-1][k]) {
				continue
			}
			for _, o := range outs {
				changed[a] = append(changed[a], o.ind)
			}
		}
		slices.Sort(changed[a])
	}
	// The stored values of the first date are read while the touched
	// companies are computed, and those of the next date while a date is
	// patched (the patching of a date needs the one before): at most two
	// dates' columns are held at once.
	fetch := func(a int, likely []string) <-chan *storedDate {
		names := make([]string, len(changed[a]))
		for x, k := range changed[a] {
			names[x] = full.set.Indicators[k]
		}
		ch := make(chan *storedDate, 1)
		go func() { ch <- m.readStored(ctx, full.set, p[a], names, likely) }()
		return ch
	}
	next := fetch(0, nil)
	// A plan of the batch's source alone, for the touched companies alone.
	m.plan = &plan{set: full.set, inds: full.inds, asofs: full.asofs, sources: []*srcPlan{sp}}
	m.only = touch.codes
	m.noParts = true
	m.group = len(p)
	m.inMemory = make([]*Snapshot, len(p))
	m.res.Shards = 1
	if _, err := m.shard(ctx, 0, 1); err != nil {
		drain(next)
		return nil, err
	}
	m.plan = full
	labels, err := m.loadLabels(ctx)
	if err != nil {
		drain(next)
		return nil, err
	}
	var prev *lazyManifest
	var restated map[string]bool // indicators whose statistics the previous date restated
	for a, d := range p {
		st := <-next
		if a+1 < len(p) && st.err == nil {
			next = fetch(a+1, st.old.codes) // most often the same companies
		} else {
			next = nil
		}
		if st.err != nil {
			return nil, st.err
		}
		if a == 0 {
			if prev, err = m.lazyBefore(ctx, stored, d); err != nil {
				drain(next)
				return nil, err
			}
		}
		man, re, err := m.patch(ctx, d, sp, m.inMemory[a], changed[a], st, prev, restated, labels)
		if err != nil {
			drain(next)
			return nil, err
		}
		m.inMemory[a] = nil
		prev, restated = man, re
	}
	return sp.cols, nil
}

// changedColumns returns the value columns of sp (in its order) that the
// batch's rows can change in a snapshot as of one of the plan's dates, and
// for each date those it changes then (by position in the columns returned).
// A snapshot as of a date sees a row of the batch (its key's highest revision)
// where it saw the revision in force without it: the latest earlier revision
// eligible then. The row changes the columns whose values differ from that
// revision's, or every column when none was in force, or it is void or of
// another event date. Earlier revisions are looked for in the source's other
// files of the row's month, and must all be found there (revisions 0 to the
// row's, once each). Any other batch (a new fact, a retraction or end of
// publicity, a row whose earlier revisions are not all found, more than
// maxChangeRows rows or earlier revisions) can change every column at every
// date, as can one that changes no value column the set reads (the refresh
// then still records the batch among each snapshot's inputs). Values compare
// as the kernel reads them (column.float), missing values as equal.
func (m *materializer) changedColumns(ctx context.Context, sp *srcPlan, touch *batchTouch) ([]string, [][]bool, error) {
	dates := m.plan.asofs
	everything := func() ([]string, [][]bool, error) {
		at := make([][]bool, len(dates))
		for a := range at {
			at[a] = make([]bool, len(sp.cols))
			for k := range at[a] {
				at[a][k] = true
			}
		}
		return sp.cols, at, nil
	}
	var rows int64
	for _, p := range touch.parts {
		rows += p.Rows
	}
	if rows > maxChangeRows {
		return everything()
	}
	event := sp.src.Kind == KindEvent
	cols := []string{"code", "event_date", "arrival_date", "revision", rowKindCol}
	if event {
		cols = append(cols, sp.src.IDColumn)
	}
	nm := len(cols)
	cols = append(cols, sp.cols...)
	type fact struct {
		event, arrival, rev int32
		void                bool
		vals                []float64
	}
	// each calls fn with the key and fact of every row of the decoded columns
	// c (vals reused from row to row).
	each := func(c []column, n int, fn func(key string, f fact)) {
		void := voidRows(&c[4], n)
		vals := make([][]float64, len(sp.cols))
		for k := range vals {
			vals[k] = c[nm+k].float()
		}
		var key []byte
		f := fact{vals: make([]float64, len(vals))}
		for r := range n {
			key = append(key[:0], c[0].dict[c[0].bytes[r]]...)
			key = append(key, 0)
			if event {
				key = append(key, c[5].dict[c[5].bytes[r]]...)
			} else {
				key = strconv.AppendInt(key, int64(Day(c[1].i32[r]).Month()), 10)
			}
			f.event, f.arrival, f.rev, f.void = c[1].i32[r], c[2].i32[r], c[3].i32[r], void != nil && void[r]
			for k := range vals {
				f.vals[k] = vals[k][r]
			}
			fn(string(key), f)
		}
	}
	batch := map[string]fact{}
	inBatch := map[string]bool{}
	folders := map[string]bool{}
	every := false // a row of the batch can change every column
	for _, p := range touch.parts {
		inBatch[p.Key] = true
		folders[p.Key[:strings.LastIndexByte(p.Key, '/')+1]] = true
		data, err := readBatchPart(ctx, m.store, p)
		if err != nil {
			return nil, nil, err
		}
		c, n, err := readColumns(data, p.Key, cols)
		if err != nil {
			return nil, nil, err
		}
		each(c, n, func(key string, f fact) {
			_, dup := batch[key]
			every = every || dup || f.rev <= 0 || f.void
			f.vals = slices.Clone(f.vals)
			batch[key] = f
		})
	}
	if every {
		return everything()
	}
	// The earlier revisions of each row's key, in revision order; no more in
	// all than maxChangeRows.
	before := make(map[string][]fact, len(batch))
	var kept int64
	for _, f := range sp.files {
		if inBatch[f.Key] || !folders[f.Key[:strings.LastIndexByte(f.Key, '/')+1]] {
			continue
		}
		c, n, err := m.readRows(ctx, f, cols, touch.codes)
		if err != nil {
			return nil, nil, err
		}
		each(c, n, func(key string, p fact) {
			// A later revision shadows the row where it is in force, with or
			// without the batch.
			if b, ok := batch[key]; ok && p.rev < b.rev && kept <= maxChangeRows {
				p.vals = slices.Clone(p.vals)
				before[key] = append(before[key], p)
				kept++
			}
		})
	}
	if kept > maxChangeRows {
		return everything()
	}
	at := make([][]bool, len(dates))
	for a := range at {
		at[a] = make([]bool, len(sp.cols))
	}
	for key, b := range batch {
		ps := before[key]
		slices.SortFunc(ps, func(x, y fact) int { return cmp.Compare(x.rev, y.rev) })
		for i, p := range ps {
			if p.rev != int32(i) {
				return everything() // a revision missing here, or found twice
			}
		}
		if len(ps) != int(b.rev) {
			return everything()
		}
		for a, d := range dates {
			if int32(d) < max(b.event, b.arrival) {
				continue // the row is not seen yet
			}
			in := -1 // the revision in force without the row
			for i, p := range ps {
				if p.arrival <= int32(d) && p.event <= int32(d) {
					in = i
				}
			}
			if in < 0 || ps[in].void || ps[in].event != b.event {
				for k := range at[a] {
					at[a][k] = true
				}
				continue
			}
			for k, v := range b.vals {
				if o := ps[in].vals[k]; math.Float64bits(v) != math.Float64bits(o) && !(math.IsNaN(v) && math.IsNaN(o)) {
					at[a][k] = true
				}
			}
		}
	}
	var out []string
	var keep []int
	for k, c := range sp.cols {
		for a := range at {
			if at[a][k] {
				out, keep = append(out, c), append(keep, k)
				break
			}
		}
	}
	if len(out) == 0 {
		return everything()
	}
	for a := range at {
		sub := make([]bool, len(keep))
		for x, k := range keep {
			sub[x] = at[a][k]
		}
		at[a] = sub
	}
	return out, at, nil
}

// maxChangeRows bounds the rows of a batch whose changed columns a refresh
// looks for, and the earlier revisions it holds for them: past either, the
// batch is refreshed for every column of its source.
var maxChangeRows int64 = 1 << 18

// subset is the plan of sp for the value columns cols alone (sp itself when
// they are all of its columns).
func (sp *srcPlan) subset(cols []string) *srcPlan {
	if len(cols) == len(sp.cols) {
		return sp
	}
	out := &srcPlan{src: sp.src, files: sp.files}
	for k, c := range sp.cols {
		if slices.Contains(cols, c) {
			out.cols = append(out.cols, c)
			out.outs = append(out.outs, sp.outs[k])
		}
	}
	return out
}

// lazyManifest is a stored manifest as a refresh reads and writes it: its
// statistics kept encoded, each decoded only when the refresh restates or
// reads it; the others are carried over as they are. The statistics of a
// manifest follow its indicators, so an indicator's are looked for at its
// position first.
type lazyManifest struct {
	*Manifest                   // Stats nil
	Stats     []json.RawMessage `json:"stats"`
	known     map[string]int    // position of an indicator's statistics, once found (nil: none yet)
}

// readLazyManifest reads the manifest of a snapshot as ReadManifest does,
// with its statistics left encoded.
func readLazyManifest(ctx context.Context, store blob.Store, set string, version int, asof Day) (*lazyManifest, error) {
	l := &lazyManifest{Manifest: new(Manifest)}
	if err := decodeManifest(ctx, store, set, version, asof, l); err != nil {
		return nil, err
	}
	return l, nil
}

// lazyBefore reads lazily the manifest of the latest of the stored dates
// list before d (nil when there is none).
func (m *materializer) lazyBefore(ctx context.Context, list []Day, d Day) (*lazyManifest, error) {
	best, ok := dayBefore(list, d)
	if !ok {
		return nil, nil
	}
	return readLazyManifest(ctx, m.store, m.plan.set.Name, m.plan.set.Version, best)
}

// find returns the position of the statistics of indicator id, or -1.
func (l *lazyManifest) find(id string) (int, error) {
	if i, ok := l.known[id]; ok {
		return i, nil
	}
	var head struct {
		ID string `json:"id"`
	}
	at := slices.Index(l.Indicators, id)
	if at >= 0 && at < len(l.Stats) {
		if err := json.Unmarshal(l.Stats[at], &head); err != nil {
			return -1, fmt.Errorf("%w: manifest of %s as of %s: statistics of %s: %v", ErrCorruptRaw, l.Set, l.AsOf, id, err)
		}
		if head.ID == id {
			l.remember(id, at)
			return at, nil
		}
	}
	for i, raw := range l.Stats {
		if err := json.Unmarshal(raw, &head); err != nil {
			return -1, fmt.Errorf("%w: manifest of %s as of %s: statistics %d: %v", ErrCorruptRaw, l.Set, l.AsOf, i, err)
		}
		if head.ID == id {
			l.remember(id, i)
			return i, nil
		}
	}
	return -1, nil
}

func (l *lazyManifest) remember(id string, at int) {
	if l.known == nil {
		l.known = map[string]int{}
	}
	l.known[id] = at
}

// stat decodes the statistics of indicator id (nil when there are none).
func (l *lazyManifest) stat(id string) (*IndicatorStats, error) {
	i, err := l.find(id)
	if err != nil || i < 0 {
		return nil, err
	}
	st := new(IndicatorStats)
	if err := json.Unmarshal(l.Stats[i], st); err != nil {
		return nil, fmt.Errorf("%w: manifest of %s as of %s: statistics of %s: %v", ErrCorruptRaw, l.Set, l.AsOf, id, err)
	}
	return st, nil
}

// setStat replaces the statistics of st's indicator (it has some: a refresh
// adds no indicator).
func (l *lazyManifest) setStat(st IndicatorStats) error {
	i, err := l.find(st.ID)
	if err != nil || i < 0 {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("features: encode the statistics of %s: %w", st.ID, err)
	}
	l.Stats[i] = b
	return nil
}

// storedDate is what a refresh reads of one stored snapshot: its manifest as
// seen before it was read, and the stored values of the indicators it may
// change.
type storedDate struct {
	seen blob.Info
	man  *lazyManifest
	old  *snapshotColumns
	err  error
}

// readStored reads the manifest of the snapshot as of d and the indicators
// names of every company (likely: see snapshotColumns).
func (m *materializer) readStored(ctx context.Context, set *FeatureSet, d Day, names, likely []string) *storedDate {
	key := ManifestKey(set.Name, set.Version, d)
	st := &storedDate{}
	if st.seen, st.err = m.store.Stat(ctx, key); st.err != nil {
		st.err = fmt.Errorf("features: stat %s: %w", key, st.err)
		return st
	}
	if st.man, st.err = readLazyManifest(ctx, m.store, set.Name, set.Version, d); st.err != nil {
		return st
	}
	if !slices.Equal(st.man.Indicators, set.Indicators) {
		st.err = fmt.Errorf("%w: snapshot %s as of %s has other indicators than the set", ErrInvalidOptions, set.Key(), d)
		return st
	}
	st.old, st.err = readSnapshotColumns(ctx, m.store, st.man.Manifest, names, likely)
	return st
}

// drain waits for a read started by refresh, so that nothing is left running
// when it returns.
func drain(ch <-chan *storedDate) {
	if ch != nil {
		<-ch
	}
}

// patch writes the patch of one date (the touched companies' values of the
// indicators whose values changed) and its manifest. The statistics of an
// indicator are computed again when its values changed; when only the
// previous date's changed, its PSI alone is (it is against them). It returns
// the indicators whose statistics were computed again.
func (m *materializer) patch(ctx context.Context, d Day, sp *srcPlan, fresh *Snapshot, changed []int, st *storedDate, prev *lazyManifest, prevRestated map[string]bool, labels *labelIndex) (*lazyManifest, map[string]bool, error) {
	p := m.plan
	key := ManifestKey(p.set.Name, p.set.Version, d)
	seen, oldMan, old := st.seen, st.man, st.old
	names := make([]string, len(changed))
	for x, k := range changed {
		names[x] = p.set.Indicators[k]
	}
	nw, w := len(names), len(p.set.Indicators)
	// A snapshot of one part is in code order: its touched companies are
	// found by search, others' by a map.
	inOrder := slices.IsSorted(old.codes)
	var pos map[string]int
	if !inOrder {
		pos = make(map[string]int, len(old.codes))
		for i, c := range old.codes {
			pos[c] = i
		}
	}
	// The registry did not change, so a company is in the new snapshot exactly
	// when it is in the stored one.
	rows := make([]int, len(fresh.Codes)) // of each touched company in old
	differs := make([]bool, nw)
	for i, c := range fresh.Codes {
		var j int
		var ok bool
		if inOrder {
			j, ok = slices.BinarySearch(old.codes, c)
		} else {
			j, ok = pos[c]
		}
		if !ok {
			return nil, nil, fmt.Errorf("features: refresh %s as of %s: company %s is not in the stored snapshot; materialize the date whole", p.set.Key(), d, c)
		}
		rows[i] = j
		for x, k := range changed {
			v, o := fresh.Values[i*w+k], old.cols[x][j]
			if math.Float64bits(v) != math.Float64bits(o) && !(math.IsNaN(v) && math.IsNaN(o)) {
				differs[x] = true
			}
			old.cols[x][j] = v
		}
	}
	// The patch holds the indicators whose values changed, and their
	// statistics are computed again. Of those whose values did not change but
	// whose statistics changed the date before, only the PSI (against the
	// date before's bins) is.
	var patched, psiOnly []int // positions in names
	for x, name := range names {
		if differs[x] {
			patched = append(patched, x)
		} else if prevRestated[name] {
			psiOnly = append(psiOnly, x)
		}
	}
	var codes []string
	var vals []float64
	if len(patched) > 0 {
		codes = fresh.Codes
		vals = make([]float64, 0, len(codes)*len(patched))
		for _, j := range rows {
			for _, x := range patched {
				vals = append(vals, old.cols[x][j])
			}
		}
	}
	patchNames := make([]string, len(patched))
	for i, x := range patched {
		patchNames[i] = names[x]
	}
	head := *oldMan.Manifest
	man := lazyManifest{Manifest: &head, Stats: slices.Clone(oldMan.Stats)}
	man.CreatedAt = m.opts.Now().UTC()
	man.Inputs = refreshedInputs(oldMan.Inputs, sp.src.Name, sp.files)
	man.Extra = map[string]string{"refresh": m.runID}
	man.Patches = slices.Clone(oldMan.Patches)
	if len(codes) > 0 {
		rec := SnapshotRecord(patchNames, codes, vals)
		var buf bytes.Buffer
		err := writeRecordParquet(&buf, rec)
		rec.Release()
		if err != nil {
			return nil, nil, fmt.Errorf("features: encode %s patch: %w", d, err)
		}
		key := fmt.Sprintf("%spatch-%s.parquet", SnapshotPrefix(p.set.Name, p.set.Version, d), m.runID)
		info, err := m.store.Put(ctx, key, bytes.NewReader(buf.Bytes()))
		if err != nil {
			return nil, nil, fmt.Errorf("features: write %s: %w", key, err)
		}
		m.written = append(m.written, key)
		man.Patches = append(man.Patches, Patch{FileRef: FileRef{Key: key, SHA256: info.SHA256, Size: info.Size, Rows: int64(len(codes))}, Columns: patchNames})
	}
	// Statistics over every company, in code order as a full run computes them;
	// the others are those stored.
	restated := make(map[string]bool, len(patched))
	ids := make([]string, len(patched))
	cols := make([][]float64, len(patched))
	for i, x := range patched {
		ids[i], cols[i] = names[x], old.cols[x]
		restated[names[x]] = true
	}
	all := old.codes
	if !inOrder {
		all = sortColumnsByCode(old.codes, cols)
	}
	var y []float64
	if labels != nil {
		y = labels.outcomes(all, d, p.set.Label)
	}
	// The industries of the companies, as the date before's when they are the
	// same companies.
	ind := m.lastIndustry
	if !slices.Equal(all, m.lastCodes) {
		ind = make([]string, len(all))
		for i, c := range all {
			if id, ok := m.index[c]; ok {
				ind[i] = m.industry[id]
			}
		}
		m.lastCodes, m.lastIndustry = all, ind
	}
	// The date before's statistics of these indicators, for their PSI.
	var before *Manifest
	if prev != nil {
		before = &Manifest{}
		for _, id := range names {
			st, err := prev.stat(id)
			if err != nil {
				return nil, nil, err
			}
			if st != nil {
				before.Stats = append(before.Stats, *st)
			}
		}
	}
	for _, st := range columnStats(ids, cols, len(all), before, y, ind) {
		if err := man.setStat(st); err != nil {
			return nil, nil, err
		}
	}
	for _, x := range psiOnly {
		st, err := oldMan.stat(names[x])
		if err != nil {
			return nil, nil, err
		}
		if st == nil {
			continue
		}
		var was *IndicatorStats
		if before != nil {
			if j := slices.IndexFunc(before.Stats, func(s IndicatorStats) bool { return s.ID == names[x] }); j >= 0 {
				was = &before.Stats[j]
			}
		}
		re := *st
		re.PSI = psiAgainst(was, old.cols[x]) // the counts need no code order
		if err := man.setStat(re); err != nil {
			return nil, nil, err
		}
	}
	b, err := json.Marshal(&man)
	if err != nil {
		return nil, nil, fmt.Errorf("features: encode manifest: %w", err)
	}
	// Another refresh or a materialization of the date since it was read would
	// be undone by this manifest: stop instead (the stores offer no
	// compare-and-swap, so this narrows the window to the write itself).
	if now, err := m.store.Stat(ctx, key); err != nil || now.SHA256 != seen.SHA256 {
		return nil, nil, fmt.Errorf("%w: %s changed while it was refreshed; refresh again", ErrSnapshotChanged, key)
	}
	if _, err := m.store.Put(ctx, key, bytes.NewReader(b)); err != nil {
		return nil, nil, fmt.Errorf("features: write %s: %w", key, err)
	}
	m.written = nil // the patch is visible now
	m.res.Snapshots = append(m.res.Snapshots, SnapshotResult{AsOf: d, Rows: man.Rows, Key: key})
	slices.SortFunc(m.res.Snapshots, func(a, b SnapshotResult) int { return cmp.Compare(a.AsOf, b.AsOf) })
	if m.opts.Logger != nil {
		m.opts.Logger.Info("snapshot refreshed", "set", p.set.Key(), "asof", d.String(), "rows", man.Rows, "patched", len(codes))
	}
	return &man, restated, nil
}

// sortColumnsByCode puts the values of cols (one per company of codes) in
// code order, in place, and returns the codes in that order.
func sortColumnsByCode(codes []string, cols [][]float64) []string {
	perm := codeOrder(codes)
	out := make([]string, len(perm))
	for i, j := range perm {
		out[i] = codes[j]
	}
	tmp := make([]float64, len(perm))
	for _, col := range cols {
		for i, j := range perm {
			tmp[i] = col[j]
		}
		copy(col, tmp)
	}
	return out
}

// refreshedInputs are the inputs of a refreshed snapshot: the stored ones, with
// the files of the batch's source replaced by those the refresh listed.
func refreshedInputs(stored []FileRef, source string, files []blob.Info) []FileRef {
	prefix := "raw/" + source + "/"
	out := make([]FileRef, 0, len(stored)+len(files))
	at := -1
	for _, f := range stored {
		if strings.HasPrefix(f.Key, prefix) {
			if at < 0 {
				at = len(out)
			}
			continue
		}
		out = append(out, f)
	}
	if at < 0 {
		at = len(out)
	}
	refs := make([]FileRef, len(files))
	for i, in := range files {
		refs[i] = FileRef{Key: in.Key, SHA256: in.SHA256, Size: in.Size}
	}
	return slices.Insert(out, at, refs...)
}
