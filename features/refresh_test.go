package features

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

var refreshProfile = flag.String("refresh.cpuprofile", "", "BenchmarkRefresh: write a CPU profile of the refresh alone to this file")

var refreshQuarters = flag.Bool("refresh.quarters", false, "BenchmarkRefresh: the four quarter ends of 2025 instead of the 12 month ends")

// correctTax ingests, as one batch arriving on day, a correction of the fact in
// force on that day of month m for every company whose code hash falls in one
// in every `every`: sales and profit multiplied by scale. It returns the batch
// id and the companies touched.
func correctTax(tb testing.TB, store blob.Store, m datasets.Month, every uint32, scale float64, day time.Time) (string, int) {
	tb.Helper()
	return editTax(tb, store, m, every, day, datasets.DayOf(day), func(r *datasets.TaxRow) {
		r.Sales *= scale
		r.Profit = r.Profit*scale + 1000
	})
}

// editTax ingests, as one batch arriving on day, the fact in force on `of` of
// month m as edit changes it, for every company whose code hash falls in one
// in every `every`. It returns the batch id and the companies touched.
func editTax(tb testing.TB, store blob.Store, m datasets.Month, every uint32, day time.Time, of datasets.Day, edit func(*datasets.TaxRow)) (string, int) {
	tb.Helper()
	ctx := context.Background()
	var out []datasets.TaxRow
	for _, r := range taxInForce(tb, store, m, every, of) {
		edit(&r)
		out = append(out, r)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[datasets.TaxRow](&buf)
	if _, err := w.Write(out); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	rep, err := ingest.New(store).Ingest(ctx, datasets.SourceTax, []ingest.Input{{Name: "tax-fix.parquet", R: &buf}},
		ingest.Options{Now: func() time.Time { return day }})
	if err != nil {
		tb.Fatal(err)
	}
	if rep.Corrected != int64(len(out)) || len(out) == 0 {
		tb.Fatalf("%s, want %d corrections", rep.Summary(), len(out))
	}
	return rep.ID, len(out)
}

// taxInForce returns the latest revision that arrived by day of each fact of
// month m of the companies whose code hash falls in one in every `every`, in
// code order. Later revisions stay stored: a correction of the fact in force
// on day is a revision before them.
func taxInForce(tb testing.TB, store blob.Store, m datasets.Month, every uint32, day datasets.Day) []datasets.TaxRow {
	tb.Helper()
	src, _ := datasets.SourceByName(datasets.SourceTax)
	rows, err := datasets.ReadMonth[datasets.TaxRow](context.Background(), store, src, m)
	if err != nil {
		tb.Fatal(err)
	}
	in := map[string]datasets.TaxRow{}
	for _, r := range rows {
		h := fnv.New32a()
		h.Write([]byte(r.Code))
		if h.Sum32()%every != 0 || r.ArrivalDate > day {
			continue
		}
		if cur, ok := in[r.Code]; !ok || r.Revision > cur.Revision {
			in[r.Code] = r
		}
	}
	var out []datasets.TaxRow
	for _, r := range in {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b datasets.TaxRow) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// generated is a local store holding a universe of companies over months
// from start, generated with seed.
func generated(t *testing.T, companies, months int, start datasets.Month, seed int64) *blob.Local {
	t.Helper()
	store := openLocalStore(t)
	o := datasets.DefaultGenerateOptions()
	o.Companies, o.Months, o.Start, o.Seed = companies, months, start, seed
	if _, err := datasets.Generate(context.Background(), store, o); err != nil {
		t.Fatal(err)
	}
	return store
}

// quartersOf2024 generates a universe of companies over 2023 and 2024 with
// seed and materializes the full set as of the quarter ends of 2024.
func quartersOf2024(t *testing.T, companies int, seed int64) (*blob.Local, []time.Time) {
	t.Helper()
	ctx := context.Background()
	store := generated(t, companies, 24, datasets.Month(2023*12), seed)
	var asofs []time.Time
	for _, m := range []int{3, 6, 9, 12} {
		asofs = append(asofs, time.Date(2024, time.Month(m+1), 0, 0, 0, 0, 0, time.UTC))
	}
	if _, err := Materialize(ctx, store, Options{Set: "full", AsOf: asofs}); err != nil {
		t.Fatal(err)
	}
	return store, asofs
}

// TestRefreshEqualsFullRun refreshes the snapshots of the full set after a tax
// batch correcting 5% of the companies and compares every value of every
// company and indicator, and the statistics, with materializing the same dates
// whole.
func TestRefreshEqualsFullRun(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and materializes a universe")
	}
	ctx := context.Background()
	store, asofs := quartersOf2024(t, 400, 5)
	before := map[Day]*Snapshot{}
	beforeMan := map[Day]*Manifest{}
	for _, at := range asofs {
		s, man, err := ReadSnapshot(ctx, store, "full", 1, DayOf(at))
		if err != nil {
			t.Fatal(err)
		}
		before[DayOf(at)], beforeMan[DayOf(at)] = s, man
	}
	may, _ := datasets.ParseMonth("2024-05")
	arrival := time.Date(2024, 6, 20, 10, 0, 0, 0, ingest.ChinaStandardTime)
	batch, touched := correctTax(t, store, may, 20, 1.5, arrival)
	reads := &readingStore{Store: store}
	res, err := Refresh(ctx, reads, RefreshOptions{Options: Options{Set: "full"}, Source: datasets.SourceTax, Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	// Of the stored snapshots, only the tax indicators' parts were read.
	taxParts := 0
	for _, k := range reads.keys {
		if !strings.HasPrefix(k, "features/") || !strings.HasSuffix(k, ".parquet") {
			continue
		}
		if !strings.HasSuffix(k, "-tax.parquet") {
			t.Fatalf("the refresh of a tax batch read %s", k)
		}
		taxParts++
	}
	if taxParts != 3 {
		t.Fatalf("the refresh read %d parts of tax indicators, want one for each of the 3 dates", taxParts)
	}
	if res.Full || res.Touched != touched || len(res.Snapshots) != 3 || res.Snapshots[0].AsOf.String() != "2024-06-30" {
		t.Fatalf("refresh %+v, want 3 dates from 2024-06-30 patched for %d companies", res, touched)
	}
	// The refreshed manifests list the batch's part among their inputs, and
	// the other sources' inputs as they were.
	for _, at := range asofs[1:] {
		d := DayOf(at)
		man, err := ReadManifest(ctx, store, "full", 1, d)
		if err != nil {
			t.Fatal(err)
		}
		var others, was []string
		batchPart := false
		for _, in := range man.Inputs {
			if strings.HasPrefix(in.Key, "raw/tax/") {
				batchPart = batchPart || strings.Contains(in.Key, "/batch-")
			} else {
				others = append(others, in.Key)
			}
		}
		for _, in := range beforeMan[d].Inputs {
			if !strings.HasPrefix(in.Key, "raw/tax/") {
				was = append(was, in.Key)
			}
		}
		if !batchPart || !slices.Equal(others, was) {
			t.Fatalf("as of %s: inputs %v lack the batch's part or changed other sources' (were %v)", d, man.Inputs, beforeMan[d].Inputs)
		}
	}
	// The snapshot before the arrival is the one stored.
	mar := DayOf(asofs[0])
	if man, err := ReadManifest(ctx, store, "full", 1, mar); err != nil || !man.CreatedAt.Equal(beforeMan[mar].CreatedAt) || len(man.Patches) != 0 {
		t.Fatalf("the snapshot as of %s changed: %v", mar, err)
	}
	// A second batch, of July arriving on 25 August, over the first's patches.
	july, _ := datasets.ParseMonth("2024-07")
	batch2, touched2 := correctTax(t, store, july, 7, 0.5, time.Date(2024, 8, 25, 9, 0, 0, 0, ingest.ChinaStandardTime))
	res2, err := Refresh(ctx, store, RefreshOptions{Options: Options{Set: "full"}, Source: datasets.SourceTax, Batch: batch2})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Touched != touched2 || len(res2.Snapshots) != 2 || res2.Snapshots[0].AsOf.String() != "2024-09-30" {
		t.Fatalf("second refresh %+v", res2)
	}
	got := map[Day]*Snapshot{}
	gotMan := map[Day]*Manifest{}
	for i, at := range asofs[1:] {
		d := DayOf(at)
		s, man, err := ReadSnapshot(ctx, store, "full", 1, d)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(i+1, 2); len(man.Patches) != want || man.Patches[0].Rows == 0 {
			t.Fatalf("as of %s: patches %+v, want %d", d, man.Patches, want)
		}
		got[d], gotMan[d] = s, man
		if n := differingValues(before[d], s); n == 0 {
			t.Fatalf("as of %s the correction changed nothing: the test shows nothing", d)
		}
	}
	compareWithFullRun(t, store, "full", asofs, asofs[1:], got, gotMan)
	// A third batch whose refresh finds the manifest replaced meanwhile stops
	// before writing; run again, it completes.
	sep, _ := datasets.ParseMonth("2024-09")
	batch3, _ := correctTax(t, store, sep, 20, 2, time.Date(2024, 10, 25, 9, 0, 0, 0, ingest.ChinaStandardTime))
	dec := DayOf(asofs[3])
	racing := &replacingStore{Store: store, key: ManifestKey("full", 1, dec)}
	_, err = Refresh(ctx, racing, RefreshOptions{Options: Options{Set: "full"}, Source: datasets.SourceTax, Batch: batch3})
	if !errors.Is(err, ErrSnapshotChanged) || racing.stats < 2 {
		t.Fatalf("refresh over a replaced manifest: %v, want ErrSnapshotChanged", err)
	}
	if man, err := ReadManifest(ctx, store, "full", 1, dec); err != nil || len(man.Patches) != 0 || man.Extra["replaced"] != "yes" {
		t.Fatalf("the replacing manifest was overwritten: %v %+v", err, man)
	}
	if _, err := Refresh(ctx, store, RefreshOptions{Options: Options{Set: "full"}, Source: datasets.SourceTax, Batch: batch3}); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshChangedColumns checks which of the tax columns a refresh computes
// again: those a batch of corrections changed, or every column the set reads
// when a batch retracts a fact or changes only a column the set does not
// read. Each refresh is compared with a full run.
func TestRefreshChangedColumns(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and materializes a universe")
	}
	ctx := context.Background()
	store, asofs := quartersOf2024(t, 300, 11)
	dec := asofs[3]
	// Every tax column the set reads, from the catalog.
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	set, err := cat.Set("full", 0)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, ind := range cat.SetIndicators(set) {
		if ind.Source() == datasets.SourceTax && !slices.Contains(all, ind.Column) {
			all = append(all, ind.Column)
		}
	}
	if !slices.Contains(all, "sales") || slices.Contains(all, "credit_grade") {
		t.Fatalf("the set reads the tax columns %v: the test needs sales and not credit_grade", all)
	}
	jan, _ := datasets.ParseMonth("2024-01")
	day := time.Date(2024, 12, 20, 10, 0, 0, 0, ingest.ChinaStandardTime)
	// Every stored revision of January arrived before the batches, so the
	// revision in force before each batch is its last one.
	src, _ := datasets.SourceByName(datasets.SourceTax)
	stored, err := datasets.ReadMonth[datasets.TaxRow](ctx, store, src, jan)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range stored {
		if r.ArrivalDate.Time().After(day) {
			t.Fatalf("a revision of %s of January arrived on %s, after the batches", r.Code, r.ArrivalDate)
		}
	}
	refresh := func(batch string, want []string) *Manifest {
		t.Helper()
		res, err := Refresh(ctx, store, RefreshOptions{Options: Options{Set: "full"}, Source: datasets.SourceTax, Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Snapshots) != 1 || res.Snapshots[0].AsOf != DayOf(dec) {
			t.Fatalf("refresh %+v, want 2024-12-31 alone", res)
		}
		if !slices.Equal(res.Columns, want) {
			t.Fatalf("the refresh computed the indicators of %v, want %v", res.Columns, want)
		}
		s, man, err := ReadSnapshot(ctx, store, "full", 1, DayOf(dec))
		if err != nil {
			t.Fatal(err)
		}
		compareWithFullRun(t, store, "full", asofs, asofs[3:], map[Day]*Snapshot{DayOf(dec): s}, map[Day]*Manifest{DayOf(dec): man})
		return man
	}

	// Sales alone corrected: only the sales indicators are computed, and the
	// patch holds some of them.
	batch, _ := editTax(t, store, jan, 5, day, datasets.DayOf(day), func(r *datasets.TaxRow) { r.Sales = r.Sales*2 + 1 })
	man := refresh(batch, []string{"sales"})
	if len(man.Patches) != 1 {
		t.Fatalf("patches %+v, want one", man.Patches)
	}
	for _, c := range man.Patches[0].Columns {
		if !strings.HasPrefix(c, "tax.sales.") {
			t.Fatalf("the patch of a sales correction holds %s", c)
		}
	}

	// Only the credit grade, which the set does not read: every column is
	// computed again, and nothing changes but the inputs.
	batch, _ = editTax(t, store, jan, 7, day.Add(time.Hour), datasets.DayOf(day), func(r *datasets.TaxRow) {
		r.CreditGrade = map[string]string{"A": "B", "B": "C", "C": "D", "D": "A", "M": "A"}[r.CreditGrade]
	})
	if man := refresh(batch, all); len(man.Patches) != 0 {
		t.Fatalf("a change of no column the set reads left patches %+v", man.Patches)
	}

	// A batch of more rows than the refresh compares, or whose rows have more
	// earlier revisions than it holds: every column.
	defer func(n int64) { maxChangeRows = n }(maxChangeRows)
	maxChangeRows = 3
	batch, n := editTax(t, store, jan, 13, day.Add(90*time.Minute), datasets.DayOf(day), func(r *datasets.TaxRow) { r.Sales += 3 })
	if n <= 3 {
		t.Fatalf("%d rows corrected: the case shows nothing", n)
	}
	refresh(batch, all)
	// The companies of the first case: each fact has two revisions or more.
	batch, n = editTax(t, store, jan, 5, day.Add(100*time.Minute), datasets.DayOf(day.Add(100*time.Minute)), func(r *datasets.TaxRow) { r.Sales += 3 })
	maxChangeRows = int64(n)
	refresh(batch, all)
	maxChangeRows = 1 << 18

	// A retraction in a batch of sales corrections: the retracted fact's
	// every column changes, so every column is computed.
	facts := taxInForce(t, store, jan, 11, datasets.DayOf(day))
	if len(facts) < 2 {
		t.Fatalf("%d facts to retract and correct", len(facts))
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	csv := "纳税人识别号,所属期,销售额,增值税,企业所得税,实缴税额,利润总额,开票数量,欠税金额,纳税信用等级,记录类型\n" +
		facts[0].Code + ",2024-01,,,,,,,,,撤销\n"
	for _, f := range facts[1:] {
		csv += strings.Join([]string{f.Code, "2024-01", num(f.Sales + 500), num(f.VATPaid), num(f.IncomeTaxPaid), num(f.TaxPaid),
			num(f.Profit), strconv.Itoa(int(f.Invoices)), num(f.Arrears), f.CreditGrade, ""}, ",") + "\n"
	}
	rep, err := ingest.New(store).Ingest(ctx, datasets.SourceTax, []ingest.Input{{Name: "withdraw.csv", R: strings.NewReader(csv)}},
		ingest.Options{Now: func() time.Time { return day.Add(2 * time.Hour) }})
	if err != nil || rep.Retracted != 1 || rep.Corrected != int64(len(facts)-1) {
		t.Fatalf("retraction and corrections: %v %s", err, rep.Summary())
	}
	refresh(rep.ID, all)

	// Sales of May corrected on 20 June from the facts as they stand at the
	// end of the data: some revisions corrected arrive after the batch, and
	// some facts had not arrived by then. As of the dates between, the
	// batch's row replaces another revision, or none: every value of the
	// refresh still equals a full run's.
	may, _ := datasets.ParseMonth("2024-05")
	june := time.Date(2024, 6, 20, 10, 0, 0, 0, ingest.ChinaStandardTime)
	later := 0
	for _, f := range taxInForce(t, store, may, 3, datasets.DayOf(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))) {
		if f.ArrivalDate > datasets.DayOf(june) {
			later++
		}
	}
	if later == 0 {
		t.Fatal("no fact corrected arrives after the batch: the case shows nothing")
	}
	batch, _ = editTax(t, store, may, 3, june, datasets.DayOf(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)), func(r *datasets.TaxRow) { r.Sales += 700 })
	res, err := Refresh(ctx, store, RefreshOptions{Options: Options{Set: "full"}, Source: datasets.SourceTax, Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Snapshots) != 3 {
		t.Fatalf("refresh %+v, want the 3 dates from 2024-06-30", res)
	}
	got, gotMan := map[Day]*Snapshot{}, map[Day]*Manifest{}
	for _, at := range asofs[1:] {
		if got[DayOf(at)], gotMan[DayOf(at)], err = ReadSnapshot(ctx, store, "full", 1, DayOf(at)); err != nil {
			t.Fatal(err)
		}
	}
	compareWithFullRun(t, store, "full", asofs, asofs[1:], got, gotMan)
}

// compareWithFullRun materializes the dates asofs of set whole and compares
// the values and statistics of each date of reached with got and gotMan (read
// after a refresh). It returns the full run's manifests.
func compareWithFullRun(t *testing.T, store blob.Store, set string, asofs, reached []time.Time, got map[Day]*Snapshot, gotMan map[Day]*Manifest) map[Day]*Manifest {
	t.Helper()
	ctx := context.Background()
	if _, err := Materialize(ctx, store, Options{Set: set, AsOf: asofs, Force: true}); err != nil {
		t.Fatal(err)
	}
	out := map[Day]*Manifest{}
	for _, at := range reached {
		d := DayOf(at)
		want, wantMan, err := ReadSnapshot(ctx, store, set, 1, d)
		if err != nil {
			t.Fatal(err)
		}
		out[d] = wantMan
		if len(want.Codes) != len(got[d].Codes) {
			t.Fatalf("as of %s: %d companies refreshed, %d in a full run", d, len(got[d].Codes), len(want.Codes))
		}
		if n := differingValues(want, got[d]); n != 0 {
			t.Fatalf("as of %s: %d values of the refresh differ from a full run, by indicator %v", d, n, diffDetail(want, got[d]))
		}
		for i := range wantMan.Stats {
			w, _ := json.Marshal(wantMan.Stats[i])
			g, _ := json.Marshal(gotMan[d].Stats[i])
			if !bytes.Equal(w, g) {
				t.Fatalf("as of %s: statistics of %s differ:\nrefresh %s\nfull    %s", d, wantMan.Stats[i].ID, g, w)
			}
		}
		if len(wantMan.Patches) != 0 {
			t.Fatalf("a full run kept patches %+v", wantMan.Patches)
		}
	}
	return out
}

// TestRefreshWithLabels refreshes snapshots whose label window is complete, so
// that the statistics restated include the information value and AUC against
// the set's label, stored in several parts, and compares them with a full run.
func TestRefreshWithLabels(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and materializes a universe")
	}
	ctx := context.Background()
	store := generated(t, 300, 24, datasets.Month(2023*12), 9)
	var asofs []time.Time
	for _, m := range []int{6, 9, 12} {
		asofs = append(asofs, time.Date(2023, time.Month(m+1), 0, 0, 0, 0, 0, time.UTC))
	}
	// In shards, so that the stored snapshots are not in code order.
	if _, err := Materialize(ctx, store, Options{Set: "full", AsOf: asofs, MemoryBudget: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if man, err := ReadManifest(ctx, store, "full", 1, DayOf(asofs[1])); err != nil || len(partBlocks(man.Parts)) < 2 {
		t.Fatalf("the snapshot is not in several parts: %v", err)
	}
	july, _ := datasets.ParseMonth("2023-07")
	batch, _ := correctTax(t, store, july, 10, 3, time.Date(2023, 8, 25, 9, 0, 0, 0, ingest.ChinaStandardTime))
	res, err := Refresh(ctx, store, RefreshOptions{Options: Options{Set: "full"}, Source: datasets.SourceTax, Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Snapshots) != 2 {
		t.Fatalf("refresh %+v, want 2 dates", res)
	}
	got := map[Day]*Snapshot{}
	gotMan := map[Day]*Manifest{}
	for _, at := range asofs[1:] {
		s, man, err := ReadSnapshot(ctx, store, "full", 1, DayOf(at))
		if err != nil {
			t.Fatal(err)
		}
		got[DayOf(at)], gotMan[DayOf(at)] = s, man
	}
	want := compareWithFullRun(t, store, "full", asofs, asofs[1:], got, gotMan)
	labelled := 0
	for _, man := range want {
		i := slices.IndexFunc(man.Stats, func(s IndicatorStats) bool { return s.ID == "tax.sales.sum_12m" })
		if i >= 0 && man.Stats[i].AUC != nil && man.Stats[i].IV != nil {
			labelled++
		}
	}
	if labelled == 0 {
		t.Fatal("no refreshed date has an AUC or IV of tax.sales.sum_12m: the test shows nothing")
	}
}

// readingStore records the keys read through it.
type readingStore struct {
	blob.Store
	mu   sync.Mutex
	keys []string
}

func (r *readingStore) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	return r.Store.Get(ctx, key)
}

// replacingStore replaces the manifest at key (as another writer would) when
// it is looked at the second time.
type replacingStore struct {
	blob.Store
	key   string
	stats int
}

func (r *replacingStore) Stat(ctx context.Context, key string) (blob.Info, error) {
	if key == r.key {
		r.stats++
		if r.stats == 2 {
			data, _, err := blob.ReadAll(ctx, r.Store, key)
			if err != nil {
				return blob.Info{}, err
			}
			var m Manifest
			if err := json.Unmarshal(data, &m); err != nil {
				return blob.Info{}, err
			}
			m.Extra = map[string]string{"replaced": "yes"}
			data, _ = json.Marshal(&m)
			if _, err := r.Store.Put(ctx, key, bytes.NewReader(data)); err != nil {
				return blob.Info{}, err
			}
		}
	}
	return r.Store.Stat(ctx, key)
}

func openLocalStore(t testing.TB) *blob.Local {
	t.Helper()
	s, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// diffDetail counts the differing values of each indicator (companies of got).
func diffDetail(want, got *Snapshot) map[string]int {
	w := len(want.Names)
	idx := map[string]int{}
	for i, c := range want.Codes {
		idx[c] = i
	}
	out := map[string]int{}
	for i, c := range got.Codes {
		j := idx[c]
		for k := range w {
			g, x := got.Values[i*w+k], want.Values[j*w+k]
			if g != x && !(g != g && x != x) {
				out[want.Names[k]]++
			}
		}
	}
	return out
}

// BenchmarkRefresh ingests a tax correction of May 2025 arriving on 20 June
// 2025 for 1% of the companies (by code hash) and brings the snapshots of
// -materialize.set as of the 12 month ends of 2025 (BenchmarkMaterialize's
// dates) up to date twice: by Refresh (the seven dates from 30 June, the
// touched companies' tax indicators) and by materializing the same seven
// dates whole. It checks that the two give the same values and reports the
// seconds (wall and CPU) of each and their ratios. Generation and the first materialization
// are not timed, nor is deleting the batches an earlier run ingested into
// -materialize.dir. -refresh.quarters takes the four quarter ends instead (three
// dates reached). The figure:
//
//	go test -run '^$' -bench Refresh -benchtime 1x ./features -args -materialize.companies=20000 -materialize.dir=/tmp/xinyi-refresh20k
func BenchmarkRefresh(b *testing.B) {
	ctx := context.Background()
	store := benchUniverse(b)
	// Every run starts from the generated universe: the batches an earlier
	// run ingested are deleted, manifests first.
	keys, err := store.ListKeys(ctx, "raw/tax/")
	if err != nil {
		b.Fatal(err)
	}
	for _, part := range []string{"/_batches/", "/batch-"} {
		for _, k := range keys {
			if strings.Contains(k, part) {
				if err := store.Delete(ctx, k); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	var asofs []time.Time
	step := 1
	if *refreshQuarters {
		step = 3
	}
	for m := step; m <= 12; m += step {
		asofs = append(asofs, time.Date(2025, time.Month(m+1), 0, 0, 0, 0, 0, time.UTC))
	}
	reached := asofs[slices.IndexFunc(asofs, func(t time.Time) bool { return t.Month() >= time.June }):]
	opts := Options{Set: *benchSet, MemoryBudget: benchBudget()}
	may, _ := datasets.ParseMonth("2025-05")
	var full, refresh, fullCPU, refreshCPU time.Duration
	touched := 0
	scale := 1.0
	round := 0
	for b.Loop() {
		b.StopTimer()
		o := opts
		o.AsOf, o.Force = asofs, true
		if _, err := Materialize(ctx, store, o); err != nil {
			b.Fatal(err)
		}
		scale += 0.25 // a batch of new content each round
		batch, n := correctTax(b, store, may, 100, scale, time.Date(2025, 6, 20, 10, 0, 0, 0, ingest.ChinaStandardTime))
		touched = n
		b.StartTimer()
		// Each timed run starts from a collected heap, so that collecting the
		// untimed work's garbage does not count in its CPU.
		runtime.GC()
		if *refreshProfile != "" {
			f, err := os.Create(fmt.Sprintf("%s.%d", *refreshProfile, round))
			round++
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				b.Fatal(err)
			}
		}
		t0, c0 := time.Now(), processCPU()
		ro := opts
		ro.AsOf = asofs // the stored dates of interest; Refresh keeps those from the arrival on
		res, err := Refresh(ctx, store, RefreshOptions{Options: ro, Source: datasets.SourceTax, Batch: batch})
		if err != nil {
			b.Fatal(err)
		}
		refresh, refreshCPU = time.Since(t0), processCPU()-c0
		pprof.StopCPUProfile()
		if len(res.Snapshots) != len(reached) || res.Full {
			b.Fatalf("refresh %+v", res)
		}
		columns := res.Columns
		b.StopTimer()
		var got []*Snapshot
		for _, at := range reached {
			s, _, err := ReadSnapshot(ctx, store, *benchSet, setVersion(b, *benchSet), DayOf(at))
			if err != nil {
				b.Fatal(err)
			}
			got = append(got, s)
		}
		runtime.GC()
		b.StartTimer()
		t1, c1 := time.Now(), processCPU()
		o.AsOf = reached
		if _, err := Materialize(ctx, store, o); err != nil {
			b.Fatal(err)
		}
		full, fullCPU = time.Since(t1), processCPU()-c1
		b.StopTimer()
		b.Logf("round: refresh %.3f s (%.3f CPU-s) of %v, full %.3f s (%.3f CPU-s), CPU ratio %.1f", refresh.Seconds(), refreshCPU.Seconds(), columns, full.Seconds(), fullCPU.Seconds(), fullCPU.Seconds()/refreshCPU.Seconds())
		for i, at := range reached {
			want, _, err := ReadSnapshot(ctx, store, *benchSet, setVersion(b, *benchSet), DayOf(at))
			if err != nil {
				b.Fatal(err)
			}
			if n := differingValues(want, got[i]); n != 0 {
				b.Fatalf("as of %s: %d values of the refresh differ from the full run", DayOf(at), n)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(touched), "companies-touched")
	b.ReportMetric(float64(len(reached)), "dates")
	b.ReportMetric(refresh.Seconds(), "refresh-s")
	b.ReportMetric(full.Seconds(), "full-s")
	b.ReportMetric(full.Seconds()/refresh.Seconds(), "speedup")
	b.ReportMetric(refreshCPU.Seconds(), "refresh-cpu-s")
	b.ReportMetric(fullCPU.Seconds(), "full-cpu-s")
	b.ReportMetric(fullCPU.Seconds()/refreshCPU.Seconds(), "cpu-speedup")
}

// TestLazyManifest reads a manifest with its statistics left encoded, finds
// an indicator's statistics at its position and, when they are out of order,
// by looking, replaces one, and writes a manifest that reads back equal to
// the original with that one replaced.
func TestLazyManifest(t *testing.T) {
	ctx := context.Background()
	store := openLocalStore(t)
	psi := 0.25
	man := &Manifest{Set: "s", Version: 1, AsOf: "2025-06-30", Rows: 3, Indicators: []string{"a", "b", "c"},
		Stats:  []IndicatorStats{{ID: "a", Rows: 3, Mean: new(1.5)}, {ID: "c", Rows: 3}, {ID: "b", Rows: 3, PSI: &psi}},
		Inputs: []FileRef{{Key: "raw/tax/month=2025-05/part-00000.parquet", SHA256: "ab", Size: 9}}}
	b, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	day, _ := time.Parse(time.DateOnly, man.AsOf)
	if _, err := store.Put(ctx, ManifestKey("s", 1, DayOf(day)), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	l, err := readLazyManifest(ctx, store, "s", 1, DayOf(day))
	if err != nil {
		t.Fatal(err)
	}
	if l.Stats == nil || l.Manifest.Stats != nil || l.Rows != 3 || len(l.Inputs) != 1 {
		t.Fatalf("lazy manifest %+v", l)
	}
	for _, id := range []string{"a", "b", "c"} { // b and c are out of order
		st, err := l.stat(id)
		if err != nil || st == nil || st.ID != id {
			t.Fatalf("statistics of %s: %+v %v", id, st, err)
		}
	}
	if st, err := l.stat("d"); st != nil || err != nil {
		t.Fatalf("statistics of an indicator the manifest lacks: %+v %v", st, err)
	}
	if err := l.setStat(IndicatorStats{ID: "b", Rows: 3, Mean: new(7.0)}); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	var back Manifest
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	want := *man
	want.Stats = slices.Clone(man.Stats)
	want.Stats[2] = IndicatorStats{ID: "b", Rows: 3, Mean: new(7.0)}
	w, _ := json.Marshal(&want)
	g, _ := json.Marshal(&back)
	if !bytes.Equal(w, g) {
		t.Fatalf("written back:\n%s\nwant\n%s", g, w)
	}
	// Damaged statistics are an error that names the manifest.
	l.Stats[1] = json.RawMessage(`{"id": 5}`)
	l.known = nil
	if _, err := l.stat("c"); !errors.Is(err, ErrCorruptRaw) {
		t.Fatalf("damaged statistics: %v, want ErrCorruptRaw", err)
	}
}
