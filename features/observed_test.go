package features

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// TestBuildObservedSample: each observation takes the values of the newest
// snapshot on or before its date, read back from the written sample and
// compared with the snapshot itself; the sample lands under the bank's prefix
// only; bad files are refused and write nothing.
func TestBuildObservedSample(t *testing.T) {
	ctx := context.Background()
	store, cat := sampleStore(t) // snapshots of set t on 2025-06-30 and 2025-07-31
	dest, err := blob.WithPrefix(store, "banks/7/")
	if err != nil {
		t.Fatal(err)
	}
	const stranger = "91330604000000009Z" // not in the universe
	obs := []Observation{
		{Code: c1, Date: day("2025-07-15"), Label: 1}, // → 2025-06-30
		{Code: c2, Date: day("2025-08-02"), Label: 0}, // → 2025-07-31
	}
	opts := ObservedOptions{Name: "bank7-loans", Set: "t", Catalog: cat, Observations: obs, MinRows: 2, MinPositives: 1, MinCompanies: 2,
		Source: FileRef{Key: "banks/7/labels/financing.csv", SHA256: "abc"}}
	// Rows that cannot join refuse the whole file, with a report naming them.
	bad := opts
	bad.Observations = append(slices.Clone(obs), Observation{Code: c3, Date: day("2025-05-01"), Label: 0, Line: 4})
	if _, rep, err := BuildObservedSample(ctx, store, dest, bad); !errors.Is(err, ErrObservations) || rep == nil || rep.BeforeFirst != 1 ||
		!strings.Contains(err.Error(), "line 4 ("+c3+", 2025-05-01) is before the first snapshot 2025-06-30") {
		t.Fatalf("a row before the first snapshot: %v %+v", err, rep)
	}
	bad.Observations = append(slices.Clone(obs), Observation{Code: stranger, Date: day("2025-08-01"), Label: 1, Line: 5})
	if _, rep, err := BuildObservedSample(ctx, store, dest, bad); !errors.Is(err, ErrObservations) || rep == nil || rep.UnknownCompany != 1 ||
		!strings.Contains(err.Error(), "line 5 ("+stranger+", 2025-08-01)") {
		t.Fatalf("an unknown company: %v %+v", err, rep)
	}
	if in, _ := dest.List(ctx, ""); len(in) != 0 {
		t.Fatalf("refused files wrote %v", in)
	}
	man, rep, err := BuildObservedSample(ctx, store, dest, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 2 || rep.Joined != 2 || rep.Companies != 2 || rep.Positives != 1 || rep.ChangedRows != -1 {
		t.Fatalf("report %+v", rep)
	}
	if man.Version != 1 || len(man.Labels) != 1 || man.Labels[0].SHA256 != "abc" || man.From != "2025-06-30" || man.To != "2025-07-31" {
		t.Fatalf("manifest %+v", man)
	}
	if in, _ := store.List(ctx, "samples/bank7-loans/"); len(in) != 0 {
		t.Fatalf("the bank's sample is visible outside its prefix: %v", in)
	}
	got, err := OpenSample(ctx, dest, "bank7-loans")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ReadSampleSplit(ctx, dest, got, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != 2 {
		t.Fatalf("train has %d rows, want 2", rec.NumRows())
	}
	codes, asofs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
	labels := rec.Column(int(rec.NumCols()) - 1).(*array.Float64)
	for r := 0; r < int(rec.NumRows()); r++ {
		code, asof := codes.Value(r), asofs.Value(r)
		want := map[string]string{c1: "2025-06-30", c2: "2025-07-31"}[code]
		if asof != want {
			t.Fatalf("%s joined the snapshot of %s, want %s", code, asof, want)
		}
		snap, _, err := ReadSnapshot(ctx, store, "t", 1, day(asof))
		if err != nil {
			t.Fatal(err)
		}
		i := -1
		for k, c := range snap.Codes {
			if c == code {
				i = k
			}
		}
		width := len(snap.Names)
		if i < 0 {
			t.Fatalf("%s not in the snapshot of %s", code, asof)
		}
		vals := snap.Values[i*width : (i+1)*width]
		for j := range vals {
			col := rec.Column(2 + j).(*array.Float64)
			gotNull, wantNaN := col.IsNull(r), math.IsNaN(vals[j])
			if gotNull != wantNaN || !gotNull && col.Value(r) != vals[j] {
				t.Fatalf("%s %s indicator %d: sample %v (null %v), snapshot %v", code, asof, j, col.Value(r), gotNull, vals[j])
			}
		}
		if wantY := map[string]float64{c1: 1, c2: 0}[code]; labels.Value(r) != wantY {
			t.Fatalf("%s label %v, want %v", code, labels.Value(r), wantY)
		}
	}

	for _, tt := range []struct {
		name string
		edit func(o *ObservedOptions)
	}{
		{"duplicate row", func(o *ObservedOptions) { o.Observations = append(o.Observations, obs[0]) }},
		{"label 2", func(o *ObservedOptions) {
			o.Observations = append([]Observation{{Code: c1, Date: day("2025-07-20"), Label: 2}}, o.Observations...)
		}},
		{"too few rows", func(o *ObservedOptions) { o.MinRows = 10 }},
		{"too few positives", func(o *ObservedOptions) { o.MinPositives = 2 }},
		{"too few companies", func(o *ObservedOptions) { o.MinCompanies = 3 }},
		{"after the newest snapshot", func(o *ObservedOptions) {
			o.Observations = append(o.Observations, Observation{Code: c3, Date: day("2025-12-01"), Label: 0})
		}},
		{"in the future", func(o *ObservedOptions) {
			o.Observations = append(o.Observations, Observation{Code: c3, Date: day("2025-08-20"), Label: 0})
			o.Now = func() time.Time { return day("2025-08-10").Time() }
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.Name = "refused"
			o.Observations = append([]Observation(nil), obs...)
			tt.edit(&o)
			if _, _, err := BuildObservedSample(ctx, store, dest, o); !errors.Is(err, ErrObservations) {
				t.Fatalf("err = %v, want ErrObservations", err)
			}
			if in, _ := dest.List(ctx, "samples/refused/"); len(in) != 0 {
				t.Fatalf("a refused file wrote %v", in)
			}
		})
	}
}

func TestReadObservations(t *testing.T) {
	const a, b = "91350100M000100Y43", "914403001922038216"
	got, err := ReadObservations(strings.NewReader("\ufeffcode,date,label,loan_id\n" + a + ",2025-07-15,1,7\n" + b + ",2025-08-02,0,8\n"))
	if err != nil || len(got) != 2 || got[0].Code != a || got[0].Date != day("2025-07-15") || got[0].Label != 1 || got[1].Label != 0 {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{
		"company,when,y\n", // no date column
		"code,date,label\n91350100M000100Y44,2025-07-15,1\n", // check digit
		"code,date,label\n" + a + ",15/07/2025,1\n",          // date format
		"code,date,label\n" + a + ",2025-07-15,yes\n",        // label
		"code,date,label\n" + a + ",2025-07-15\n",            // short row
	} {
		if _, err := ReadObservations(strings.NewReader(bad)); !errors.Is(err, ErrObservations) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func FuzzReadObservations(f *testing.F) {
	f.Add("code,date,label\n91350100M000100Y43,2025-07-15,1\n")
	f.Add("\ufeff统一社会信用代码,观察日期,标签\n914403001922038216,2025-08-02,0\n")
	f.Add("code,date,label\n\"91350100M000100Y43\",2025-07-15,1,extra\n")
	f.Fuzz(func(t *testing.T, s string) {
		obs, err := ReadObservations(strings.NewReader(s))
		if err != nil && !errors.Is(err, ErrObservations) {
			t.Fatalf("error outside ErrObservations: %v", err)
		}
		for _, o := range obs {
			if o.Label != 0 && o.Label != 1 {
				t.Fatalf("label %v", o.Label)
			}
		}
	})
}

// TestLabelFileProbing: files built to ask about single companies are refused
// with a report, and write nothing: a file about one company, and a file a few
// rows away from an earlier file of the same bank (the difference of the two
// models would be about those rows). The same file again is allowed (it
// teaches nothing new), as is one far enough from every earlier file; another
// bank's files are not compared.
func TestLabelFileProbing(t *testing.T) {
	ctx := context.Background()
	store, cat := sampleStore(t)
	bank := func(id string) blob.Store {
		s, err := blob.WithPrefix(store, "banks/"+id+"/")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := bank("1"), bank("2")
	build := func(dest blob.Store, name string, obs []Observation) (*ObservedReport, error) {
		_, rep, err := BuildObservedSample(ctx, store, dest, ObservedOptions{Name: name, Set: "t", Catalog: cat, Observations: obs,
			MinRows: 2, MinPositives: 1, MinCompanies: 2, MinChangedRows: 2})
		return rep, err
	}
	one := []Observation{{Code: c1, Date: day("2025-07-01"), Label: 1}, {Code: c1, Date: day("2025-07-10"), Label: 0}, {Code: c1, Date: day("2025-08-01"), Label: 0}}
	if rep, err := build(a, "one", one); !errors.Is(err, ErrObservations) || !strings.Contains(err.Error(), "name 1 companies") || rep.Companies != 1 {
		t.Fatalf("a single-company file: %v %+v", err, rep)
	}
	base := []Observation{{Code: c1, Date: day("2025-07-01"), Label: 1}, {Code: c2, Date: day("2025-07-10"), Label: 0},
		{Code: c3, Date: day("2025-08-01"), Label: 0}, {Code: c1, Date: day("2025-08-02"), Label: 0}}
	if _, err := build(a, "base", base); err != nil {
		t.Fatal(err)
	}
	plusOne := append(slices.Clone(base), Observation{Code: c2, Date: day("2025-08-03"), Label: 1})
	rep, err := build(a, "probe", plusOne)
	if !errors.Is(err, ErrObservations) || rep.ChangedRows != 1 || !strings.Contains(err.Error(), "differs from an earlier label file of the institution by 1 rows") {
		t.Fatalf("one row added: %v %+v", err, rep)
	}
	flipped := slices.Clone(base)
	flipped[1].Label = 1 // one company's outcome changed: two rows of difference
	if rep, err := build(a, "probe", flipped); err != nil || rep.ChangedRows != 2 {
		t.Fatalf("two rows of difference with MinChangedRows 2: %v %+v", err, rep)
	}
	if in, _ := a.List(ctx, "samples/probe/v2/"); len(in) != 0 {
		t.Fatalf("refused file wrote %v", in)
	}
	if rep, err := build(a, "again", base); err != nil || rep.ChangedRows != 0 {
		t.Fatalf("the same file again: %v %+v", err, rep)
	}
	// Bank B's first file is compared with nothing of bank A's.
	if rep, err := build(b, "probe", plusOne); err != nil || rep.ChangedRows != -1 {
		t.Fatalf("another bank's file: %v %+v", err, rep)
	}
	prints, err := a.List(ctx, LabelPrintPrefix)
	if err != nil || len(prints) != 2 {
		t.Fatalf("bank A's fingerprints: %v %v (want base and flipped)", prints, err)
	}
}

// TestSymmetricDifference checks the merge count against a map count.
func TestSymmetricDifference(t *testing.T) {
	for _, tt := range []struct{ a, b []uint64 }{
		{nil, nil}, {[]uint64{1, 2, 3}, nil}, {[]uint64{1, 2, 3}, []uint64{2, 3, 4, 5}}, {[]uint64{5}, []uint64{1, 2, 3, 4}},
	} {
		in := map[uint64]int{}
		for _, v := range tt.a {
			in[v]++
		}
		for _, v := range tt.b {
			in[v]++
		}
		want := 0
		for _, n := range in {
			if n == 1 {
				want++
			}
		}
		if got := symmetricDifference(tt.a, tt.b); got != want {
			t.Errorf("%v △ %v = %d, want %d", tt.a, tt.b, got, want)
		}
	}
}

// TestReadObservationsBounded: a file past MaxLabelFileBytes (here an endless
// one, as a 1 GB upload would be) is refused once the bound is passed, without
// reading on.
func TestReadObservationsBounded(t *testing.T) {
	row := "91350100M000100Y43,2025-07-15,1," + strings.Repeat("x", 2000) + "\n"
	r := &endless{head: "code,date,label,note\n", row: row}
	_, err := ReadObservations(r)
	if !errors.Is(err, ErrObservations) || !strings.Contains(err.Error(), "larger than 256 MiB") {
		t.Fatalf("err = %v", err)
	}
	if r.n > MaxLabelFileBytes+1<<20 {
		t.Fatalf("read %d bytes of an endless file", r.n)
	}
}

type endless struct {
	head, row string
	n         int64
}

func (e *endless) Read(p []byte) (int, error) {
	k := 0
	for k < len(p) {
		var s string
		if e.n < int64(len(e.head)) {
			s = e.head[e.n:]
		} else {
			off := (e.n - int64(len(e.head))) % int64(len(e.row))
			s = e.row[off:]
		}
		c := copy(p[k:], s)
		k += c
		e.n += int64(c)
	}
	return k, nil
}
