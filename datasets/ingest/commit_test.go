package ingest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

type recordingListener struct {
	reps []*Report
	err  error
}

func (l *recordingListener) BatchCommitted(_ context.Context, rep *Report) error {
	l.reps = append(l.reps, rep)
	return l.err
}

// TestListenerAndBatchFacts: a committed batch is told once (not when repeated
// or refused, and a failing listener does not undo it), and BatchFacts gives
// exactly the rows it wrote, corrections with their revision.
func TestListenerAndBatchFacts(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	l := &recordingListener{}
	g := New(store).Listen(l)
	head := "当事人统一社会信用代码,立案日期,案号,诉讼地位,案由类别,标的金额,审理阶段,失信被执行人\n"
	first := head + testCode(t, 1) + ",2024-03-02,(2024)浙0604民初1号,被告,合同纠纷,5000,立案,否\n" +
		testCode(t, 2) + ",2024-03-05,(2024)浙0604民初2号,原告,借款纠纷,8000,已判决,否\n"
	rep, err := g.Ingest(ctx, "court", []Input{{Name: "a.csv", R: strings.NewReader(first)}}, Options{Now: clock("2024-04-10")})
	if err != nil || len(l.reps) != 1 || l.reps[0].ID != rep.ID {
		t.Fatalf("first batch: %v, told %d", err, len(l.reps))
	}
	if _, err := g.Ingest(ctx, "court", []Input{{Name: "a.csv", R: strings.NewReader(first)}}, Options{Now: clock("2024-04-11")}); err != nil || len(l.reps) != 1 {
		t.Fatalf("a repeated batch: %v, told %d times", err, len(l.reps))
	}
	// A correction of case 2 (now with a dishonest-debtor listing) and a new case.
	second := head + testCode(t, 2) + ",2024-03-05,(2024)浙0604民初2号,原告,借款纠纷,8000,已判决,是\n" +
		testCode(t, 3) + ",2024-04-12,(2024)浙0604民初3号,被告,劳动争议,100,立案,否\n"
	l.err = errors.New("queue down")
	rep2, err := g.Ingest(ctx, "court", []Input{{Name: "b.csv", R: strings.NewReader(second)}}, Options{Now: clock("2024-04-20")})
	if err != nil || len(l.reps) != 2 {
		t.Fatalf("second batch with a failing listener: %v, told %d", err, len(l.reps))
	}
	bad := head + "not-a-code,2024-03-05,x,被告,合同纠纷,1,立案,否\n"
	if _, err := g.Ingest(ctx, "court", []Input{{Name: "c.csv", R: strings.NewReader(bad)}}, Options{Now: clock("2024-04-21"), MaxBad: -1}); !errors.Is(err, ErrRefused) || len(l.reps) != 2 {
		t.Fatalf("a refused batch: %v, told %d", err, len(l.reps))
	}
	var got []string
	err = BatchFacts(ctx, store, rep2, func(f Fact) error {
		got = append(got, strings.Join([]string{f.Values["code"], f.Values["case_id"], f.Values["dishonest"], f.Arrival.String(), f.Kind.String(), string(rune('0' + f.Revision))}, "|"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{
		testCode(t, 2) + "|(2024)浙0604民初2号|true|2024-04-20|record|1",
		testCode(t, 3) + "|(2024)浙0604民初3号|false|2024-04-20|record|0",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("batch facts\n%q\nwant\n%q", got, want)
	}
	stop := errors.New("stop")
	if err := BatchFacts(ctx, store, rep2, func(Fact) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn's error: %v", err)
	}
	tampered := *rep2
	tampered.Parts = slices.Clone(rep2.Parts)
	tampered.Parts[0].SHA256 = strings.Repeat("0", 64)
	if err := BatchFacts(ctx, store, &tampered, func(Fact) error { return nil }); err == nil {
		t.Fatal("a part that does not match its digest was read")
	}
}

// TestListeners: every listener is told, in turn, even after one fails, and
// the failures come back joined.
func TestListeners(t *testing.T) {
	a, b, c := &recordingListener{}, &recordingListener{err: errors.New("b down")}, &recordingListener{err: errors.New("c down")}
	rep := &Report{ID: "x", Source: "tax"}
	err := Listeners{a, b, c}.BatchCommitted(context.Background(), rep)
	if len(a.reps) != 1 || len(b.reps) != 1 || len(c.reps) != 1 || c.reps[0] != rep {
		t.Fatalf("told %d, %d, %d", len(a.reps), len(b.reps), len(c.reps))
	}
	if !errors.Is(err, b.err) || !errors.Is(err, c.err) {
		t.Fatalf("error %v, want both failures", err)
	}
	if err := (Listeners{a}).BatchCommitted(context.Background(), rep); err != nil || len(a.reps) != 2 {
		t.Fatalf("one listener: %v", err)
	}
}
