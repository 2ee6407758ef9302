package features

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// generatedStore writes a generated universe into a fresh local store.
func generatedStore(t testing.TB, companies int) blob.Store {
	t.Helper()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := datasets.GenerateOptions{Companies: companies, Months: 24, Seed: 11, ShardSize: 1000, Workers: 2}
	if _, err := datasets.Generate(context.Background(), store, o); err != nil {
		t.Fatal(err)
	}
	return store
}

var runDates = []time.Time{
	time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), time.Date(2024, 9, 30, 0, 0, 0, 0, time.UTC),
	time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC),
}

// sameSnapshots fails unless every snapshot of set as of dates in got holds the
// codes and values (bit for bit, NaN as NaN) of the one in want, and their
// manifests the same columns, row counts, inputs and statistics.
func sameSnapshots(t *testing.T, want, got blob.Store, set string, version int, dates []time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, at := range dates {
		d := DayOf(at)
		ws, wm, err := ReadSnapshot(ctx, want, set, version, d)
		if err != nil {
			t.Fatalf("single-process snapshot as of %s: %v", d, err)
		}
		gs, gm, err := ReadSnapshot(ctx, got, set, version, d)
		if err != nil {
			t.Fatalf("staged snapshot as of %s: %v", d, err)
		}
		if !slices.Equal(gm.Indicators, wm.Indicators) || !slices.Equal(gm.Schema, wm.Schema) || gm.Rows != wm.Rows || gm.Label != wm.Label {
			t.Fatalf("as of %s: manifest columns/rows %v %d, want %v %d", d, gm.Indicators, gm.Rows, wm.Indicators, wm.Rows)
		}
		if !slices.Equal(gm.Inputs, wm.Inputs) {
			t.Errorf("as of %s: %d inputs, want the %d of the single-process run", d, len(gm.Inputs), len(wm.Inputs))
		}
		wj, _ := json.Marshal(wm.Stats)
		gj, _ := json.Marshal(gm.Stats)
		if string(wj) != string(gj) {
			t.Errorf("as of %s: statistics differ", d)
		}
		// Rows by code: the parts of the two runs are laid out differently.
		w := len(ws.Names)
		byCode := map[string][]float64{}
		for i, c := range ws.Codes {
			byCode[c] = ws.Values[i*w : (i+1)*w]
		}
		if len(gs.Codes) != len(ws.Codes) || len(byCode) != len(ws.Codes) {
			t.Fatalf("as of %s: %d rows, want %d", d, len(gs.Codes), len(ws.Codes))
		}
		diffs := 0
		for i, c := range gs.Codes {
			wv, ok := byCode[c]
			if !ok {
				t.Fatalf("as of %s: company %s not in the single-process snapshot", d, c)
			}
			for j, v := range gs.Values[i*w : (i+1)*w] {
				if math.Float64bits(v) != math.Float64bits(wv[j]) && !(math.IsNaN(v) && math.IsNaN(wv[j])) {
					if diffs++; diffs <= 5 {
						t.Errorf("as of %s: %s %s = %v, want %v", d, c, ws.Names[j], v, wv[j])
					}
				}
			}
		}
		if diffs > 0 {
			t.Fatalf("as of %s: %d values differ", d, diffs)
		}
	}
}

// TestStagedRunEqualsMaterialize materializes one generated universe in one
// process and, in a second store holding the same raw files, as a staged run: plan,
// the shards in shuffled order (one of them twice), commit. Every value of every
// snapshot, the manifests' columns, rows, inputs and statistics are equal; nothing
// is visible before the commit, a commit with a shard missing fails naming it, and
// the staging objects are gone afterwards.
func TestStagedRunEqualsMaterialize(t *testing.T) {
	ctx := context.Background()
	const companies, shards = 3000, 4
	single, staged := generatedStore(t, companies), generatedStore(t, companies)
	opts := Options{Set: "full", AsOf: runDates, Workers: 2}
	res, err := Materialize(ctx, single, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Shards != 1 || res.Companies != companies {
		t.Fatalf("single-process run: %d shards, %d companies", res.Shards, res.Companies)
	}

	rp, err := PlanRun(ctx, staged, "", shards, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.AsOf) != len(runDates) || rp.Companies != companies || len(rp.Network) != len(runDates) {
		t.Fatalf("plan: %d dates, %d companies, %d network objects", len(rp.AsOf), rp.Companies, len(rp.Network))
	}
	again, err := PlanRun(ctx, staged, rp.ID, shards, opts)
	if err != nil || again.CreatedAt != rp.CreatedAt {
		t.Fatalf("planning the run again: %v (created %v, first %v); want the staged plan", err, again.CreatedAt, rp.CreatedAt)
	}
	run := rp.Run
	order := rand.Perm(shards)
	var first *ShardDone
	for i, s := range order {
		done, err := RunShard(ctx, staged, run, s, Options{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = done
		}
		if days, _ := ListSnapshots(ctx, staged, "full", 1); len(days) != 0 {
			t.Fatalf("snapshots visible after %d of %d shards: %v", i+1, shards, days)
		}
		if i == shards-2 {
			_, err := CommitRun(ctx, staged, run, Options{})
			last := order[shards-1]
			if !errors.Is(err, ErrRunIncomplete) || !strings.Contains(err.Error(), ": "+strconv.Itoa(last)+" (not done)") {
				t.Fatalf("commit with shard %d not done: %v", last, err)
			}
			if days, _ := ListSnapshots(ctx, staged, "full", 1); len(days) != 0 {
				t.Fatalf("a failed commit made %v visible", days)
			}
		}
	}
	// A shard run again (a worker killed after its parts, say) writes the same parts.
	redo, err := RunShard(ctx, staged, run, first.Shard, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(redo.Parts, first.Parts, func(a, b []Part) bool {
		return slices.EqualFunc(a, b, func(x, y Part) bool {
			return x.FileRef == y.FileRef && x.Shard == y.Shard && slices.Equal(x.Columns, y.Columns)
		})
	}) {
		t.Fatalf("shard %d run again wrote %v, first %v", first.Shard, redo.Parts, first.Parts)
	}

	// A part lost after its shard finished: the commit names the shard.
	lost := redo.Parts[1][len(redo.Parts[1])-1].Key
	b, err := readBlob(ctx, staged, lost)
	if err != nil {
		t.Fatal(err)
	}
	if err := staged.Delete(ctx, lost); err != nil {
		t.Fatal(err)
	}
	if _, err := CommitRun(ctx, staged, run, Options{}); !errors.Is(err, ErrRunIncomplete) || !strings.Contains(err.Error(), strconv.Itoa(first.Shard)+" (part "+lost+" missing)") {
		t.Fatalf("commit with %s lost: %v", lost, err)
	}
	if _, err := putRef(ctx, staged, lost, b); err != nil {
		t.Fatal(err)
	}

	got, err := CommitRun(ctx, staged, run, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Shards != shards || got.Companies != companies || got.RawRecords != res.RawRecords || got.RawFiles != res.RawFiles || len(got.Snapshots) != len(runDates) {
		t.Errorf("staged result %+v, single %+v", got, res)
	}
	for i, s := range got.Snapshots {
		if s.Rows != res.Snapshots[i].Rows || s.AsOf != res.Snapshots[i].AsOf {
			t.Errorf("snapshot %d: %+v, want %+v", i, s, res.Snapshots[i])
		}
	}
	sameSnapshots(t, single, staged, "full", 1, runDates)
	if left, _ := staged.List(ctx, RunPrefix("full", 1, run.ID)); len(left) != 0 {
		t.Errorf("staging objects left after the commit: %d, first %s", len(left), left[0].Key)
	}
	for _, at := range runDates {
		m, _ := ReadManifest(ctx, staged, "full", 1, DayOf(at))
		infos, _ := staged.List(ctx, SnapshotPrefix("full", 1, DayOf(at)))
		if blocks := partBlocks(m.Parts); len(infos) != len(m.Parts)+1 || len(blocks) != shards {
			t.Errorf("as of %s: %d objects for %d parts in %d blocks of %d shards", DayOf(at), len(infos), len(m.Parts), len(blocks), shards)
		}
	}
	// Committing again (a commit job whose worker died after the manifests) returns the run.
	run.AsOf = rp.AsOf
	if res2, err := CommitRun(ctx, staged, run, Options{}); err != nil || len(res2.Snapshots) != len(runDates) {
		t.Errorf("second commit: %+v, %v", res2, err)
	}
	// Everything exists now: a new plan has no date to build.
	if rp2, err := PlanRun(ctx, staged, "", shards, opts); err != nil || len(rp2.AsOf) != 0 || len(rp2.Skipped) != len(runDates) {
		t.Errorf("plan over built snapshots: %+v, %v", rp2, err)
	}
}

// TestStagedRunInputChanged: a raw file replaced between the plan and a shard fails
// the shard naming the file, instead of mixing two deliveries in one snapshot.
func TestStagedRunInputChanged(t *testing.T) {
	ctx := context.Background()
	store := handUniverse(t)
	cat := testCatalog(t)
	rp, err := PlanRun(ctx, store, "r1", 2, Options{Set: "t", Catalog: cat, AsOf: []time.Time{day("2025-07-31").Time()}})
	if err != nil {
		t.Fatal(err)
	}
	key := "raw/tax/month=2025-06/part-00000.parquet"
	putRaw(t, store, key, []datasets.TaxRow{{Code: c1, EventDate: dd("2025-06-30"), ArrivalDate: dd("2025-06-30"), Sales: 61}})
	_, err = RunShard(ctx, store, rp.Run, 0, Options{Catalog: cat})
	if !errors.Is(err, ErrInputChanged) || !strings.Contains(err.Error(), key) {
		t.Fatalf("shard after %s changed: %v", key, err)
	}
	if _, err := RunShard(ctx, store, rp.Run, 2, Options{Catalog: cat}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("shard 2 of 2: %v, want ErrInvalidOptions", err)
	}
	if _, err := RunShard(ctx, store, Run{ID: "nope", Set: "t", Version: 1}, 0, Options{Catalog: cat}); !errors.Is(err, ErrRunNotFound) {
		t.Errorf("shard of an unknown run: %v, want ErrRunNotFound", err)
	}
	if _, err := PlanRun(ctx, store, "Bad/ID", 2, Options{Set: "t", Catalog: cat, AsOf: []time.Time{day("2025-07-31").Time()}}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("plan with a bad run id: %v, want ErrInvalidOptions", err)
	}
	if err := AbortRun(ctx, store, rp.Run); err != nil {
		t.Fatal(err)
	}
	if left, _ := store.List(ctx, "features/"); len(left) != 0 {
		t.Errorf("abort left %d objects, first %s", len(left), left[0].Key)
	}
}
