package warnings

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
)

const courtHeader = "当事人统一社会信用代码,立案日期,案号,诉讼地位,案由类别,标的金额,审理阶段,是否执行,失信被执行人\n"

// TestBatchWarnings: a court batch committed on 10 April with a new judgment
// listing a subscribed company as a dishonest debtor opens its warnings at
// once, from the arrival date, with the record as evidence, and they reach the
// bank's endpoint signed; the April month end that sees the same record keeps
// those warnings open instead of opening second ones; a batch of nothing
// relevant opens nothing, and a source no rule watches queues no job.
func TestBatchWarnings(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 400, Months: 16, Seed: 5, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	materialize := func(days ...string) {
		var asofs []time.Time
		for _, d := range days {
			at, _ := time.Parse(time.DateOnly, d)
			asofs = append(asofs, at)
		}
		if _, err := features.Materialize(ctx, store, features.Options{Set: "full/v1", AsOf: asofs, Workers: 2}); err != nil {
			t.Fatal(err)
		}
	}
	materialize("2024-02-29", "2024-03-31")

	db := metadbtest.SQLite(t)
	st, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := access.Open(ctx, db, access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bank, err := acc.CreateInstitution(ctx, "test", "Bank", access.KindBank)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{secrets: map[string]string{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	guard := webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true, Timeout: 5 * time.Second}
	eps, err := webhooks.OpenEndpoints(ctx, db, guard)
	if err != nil {
		t.Fatal(err)
	}
	ep, secret, err := eps.Create(ctx, bank.ID, srv.URL+"/bank", "warnings")
	if err != nil {
		t.Fatal(err)
	}
	rc.secrets["/bank"] = secret
	subs, err := OpenSubscriptions(ctx, db, SubscriptionOptions{Consent: acc, Endpoints: eps})
	if err != nil {
		t.Fatal(err)
	}
	ws := jobs.NewWorkers()
	src := Source{Store: store, Workers: 2}
	var q *jobs.Queue
	o := JobOptions{Source: src, Warnings: st, Notify: func(ctx context.Context, ch *Changes) error { return subs.Notifier(q)(ctx, ch) }}
	if err := Register(ws, o); err != nil {
		t.Fatal(err)
	}
	if err := RegisterBatches(ws, o); err != nil {
		t.Fatal(err)
	}
	if err := webhooks.Register(ws, eps, guard, nil); err != nil {
		t.Fatal(err)
	}
	q, err = jobs.Open(ctx, jobs.Options{DSN: "sqlite://" + filepath.Join(t.TempDir(), "jobs.db"), Workers: ws,
		Queues: map[string]int{QueueName: 1, webhooks.QueueName: 2}, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	defer q.Stop(context.Background())
	if _, err := EvaluateThrough(ctx, o, "2024-03-31"); err != nil {
		t.Fatal(err)
	}

	// x, y and z have no court warning open at March's end.
	snap, _, err := features.ReadSnapshot(ctx, store, "full", 1, features.DayOf(time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	open, err := st.List(ctx, Filter{State: StateOpen, Area: "court", Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	courtOpen := map[string]bool{}
	for _, w := range open {
		courtOpen[w.Company] = true
	}
	var free []string
	for _, c := range snap.Codes {
		if !courtOpen[c] {
			free = append(free, c)
		}
	}
	if len(free) < 3 {
		t.Fatalf("too few companies without court warnings (%d)", len(free))
	}
	x, y, z := free[0], free[1], free[2]
	for _, c := range []string{x, y, z} {
		if _, err := acc.GrantConsent(ctx, "test", access.ConsentGrant{CompanyCode: c, BankID: bank.ID, Scope: access.ScopeCreditAssessment,
			ExpiresAt: time.Now().Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := subs.SubscribeCompanies(ctx, bank.ID, ep.ID, access.SensitivityRestricted, []string{x, y, z}); err != nil {
		t.Fatal(err)
	}

	g := ingest.New(store).Listen(BatchListener{Queue: q})
	deliver := func(source, day, csv string) *ingest.Report {
		t.Helper()
		at, _ := time.Parse(time.DateOnly, day)
		rep, err := g.Ingest(ctx, source, []ingest.Input{{Name: source + ".csv", R: strings.NewReader(csv)}},
			ingest.Options{Now: func() time.Time { return at.Add(10 * time.Hour) }, Location: time.UTC})
		if err != nil || rep.Accepted == 0 {
			t.Fatalf("deliver %s: %v %+v", source, err, rep)
		}
		return rep
	}
	waitBatch := func(rep *ingest.Report) *Changes {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			ch, notified, err := st.BatchAlerts(ctx, rep.Source, rep.ID)
			if err == nil && notified {
				return ch
			}
			if time.Now().After(deadline) {
				infos, _ := q.List(ctx, jobs.ListOptions{})
				t.Fatalf("batch %s not applied and notified: %v; jobs %+v", rep.ID, err, infos)
			}
		}
	}

	judged := deliver("court", "2024-04-10", courtHeader+
		x+",2024-04-02,(2024)浙0604民初901号,被告,借款纠纷,350000,已判决,否,是\n"+
		y+",2024-04-03,(2024)浙0604民初902号,被告,合同纠纷,1000,已判决,否,是\n")
	ch := waitBatch(judged)
	var got []string
	for _, w := range ch.Opened {
		got = append(got, w.Rule+" "+w.Company)
		if w.OpenedAsOf != "2024-04-10" || w.OpenedBy != BatchOf("court", judged.ID) || w.State != StateOpen {
			t.Fatalf("warning %+v: want opened on arrival 2024-04-10 by the batch", w)
		}
		var ev Evidence
		if err := json.Unmarshal(w.Evidence, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Batch == nil || ev.Batch.ID != judged.ID || ev.RecordCount != 1 || len(ev.Records) != 1 ||
			ev.Records[0].Values["code"] != w.Company || ev.Records[0].Arrival != "2024-04-10" ||
			(w.Company == x) != (ev.Records[0].Values["case_id"] == "(2024)浙0604民初901号" && ev.Records[0].EventDate == "2024-04-02") {
			t.Fatalf("evidence of %s: %s", w.Rule, w.Evidence)
		}
	}
	want := []string{"court.case.new " + x, "court.case.new " + y, "court.dishonest.listed " + x, "court.dishonest.listed " + y}
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Fatalf("opened %v, want %v", got, want)
	}
	ids := map[string]int64{}
	for _, w := range ch.Opened {
		ids[w.Rule+" "+w.Company] = w.ID
	}
	wantMsgs := []string{}
	for _, w := range ch.Opened {
		wantMsgs = append(wantMsgs, "/bank "+MessageID(w.ID, EventOpened, ep.ID)+" warning.opened "+w.Company+" none")
	}
	slices.Sort(wantMsgs)
	for deadline := time.Now().Add(30 * time.Second); len(rc.messages()) < len(wantMsgs); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %v, want %v", rc.messages(), wantMsgs)
		}
	}
	if got := rc.messages(); !slices.Equal(got, wantMsgs) || len(rc.bad) > 0 {
		t.Fatalf("delivered %v (bad %v), want %v", got, rc.bad, wantMsgs)
	}

	// Nothing new: y's second judgment finds its warnings open, and a case filed
	// three years before it arrives is outside every window; a tax delivery is
	// watched by no rule.
	old := deliver("court", "2024-04-12", courtHeader+
		y+",2024-04-08,(2024)浙0604民初903号,被告,合同纠纷,2000,已判决,否,是\n"+
		z+",2021-03-01,(2021)浙0604民初17号,原告,合同纠纷,500,已判决,否,否\n")
	if ch := waitBatch(old); len(ch.Opened) != 0 {
		t.Fatalf("a batch of nothing new opened %d warnings", len(ch.Opened))
	}
	for _, rule := range []string{"court.case.new", "court.dishonest.listed"} {
		if ws, _ := st.List(ctx, Filter{Company: y, Rule: rule, Limit: 10}); len(ws) != 1 {
			t.Fatalf("%s of y: %d warnings, want the one open", rule, len(ws))
		}
	}
	deliver("tax", "2024-04-12", "纳税人识别号,所属期,销售额(万元),增值税(万元),企业所得税(万元),实缴税额(万元),利润总额(万元),开票数量,欠税金额(万元),纳税信用等级\n"+
		z+",2024-03,1,0.05,0,0.05,0.1,3,0,B级\n")
	infos, err := q.List(ctx, jobs.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	batchJobs := 0
	for _, in := range infos {
		if in.Kind == BatchJobKind {
			batchJobs++
		}
	}
	if batchJobs != 2 {
		t.Fatalf("%d batch jobs, want 2 (the court batches; tax is not watched)", batchJobs)
	}

	// The April month end sees the judgment: x's warnings stay the ones opened
	// on 10 April (no second warning, no second alert), now with April's values
	// and still the record.
	materialize("2024-04-30")
	if _, err := EvaluateThrough(ctx, o, "2024-04-30"); err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"court.case.new", "court.dishonest.listed"} {
		ws, err := st.List(ctx, Filter{Company: x, Rule: rule, Limit: 10})
		if err != nil || len(ws) != 1 {
			t.Fatalf("%s of x after April's end: %d warnings (%v), want 1", rule, len(ws), err)
		}
		w := ws[0]
		if w.ID != ids[rule+" "+x] || w.State != StateOpen || w.OpenedAsOf != "2024-04-10" || w.LastSeenAsOf != "2024-04-30" {
			t.Fatalf("%s of x after April's end: %+v", rule, w)
		}
		var ev Evidence
		if err := json.Unmarshal(w.Evidence, &ev); err != nil || ev.AsOf != "2024-04-30" || len(ev.Values) == 0 || len(ev.Records) != 1 {
			t.Fatalf("%s evidence after April's end: %s", rule, w.Evidence)
		}
	}
	if zs, _ := st.List(ctx, Filter{Company: z, Area: "court", Limit: 10}); len(zs) != 0 {
		t.Fatalf("z's old case: %d court warnings at April's end", len(zs))
	}
	time.Sleep(300 * time.Millisecond)
	rc.mu.Lock()
	for _, m := range rc.got {
		for _, rule := range []string{"court.case.new", "court.dishonest.listed"} {
			if id := MessageID(ids[rule+" "+x], EventOpened, ep.ID); strings.Contains(m, id) && !slices.Contains(wantMsgs, m) {
				t.Errorf("x's %s alerted again: %s", rule, m)
			}
		}
	}
	n := 0
	for _, m := range rc.got {
		if strings.Contains(m, MessageID(ids["court.case.new "+x], EventOpened, ep.ID)) {
			n++
		}
	}
	rc.mu.Unlock()
	if n != 1 {
		t.Fatalf("x's new case alerted %d times, want once", n)
	}

	// A batch arriving before the latest date applied was seen by it: covered,
	// nothing read or opened.
	late := &ingest.Report{Source: "court", ID: "late", Arrival: "2024-04-20"}
	be := &BatchEvaluation{Source: "court", Batch: "late", Arrival: late.Arrival, Version: "t",
		Firings: []Firing{{Rule: "penalty.new", Severity: Yellow, Area: "penalty", Company: z, Evidence: Evidence{AsOf: late.Arrival}}}}
	if ch, err := st.ApplyBatch(ctx, be); err != nil || len(ch.Opened) != 0 {
		t.Fatalf("a covered batch: %v %+v", err, ch)
	}
	if ch, err := st.ApplyBatch(ctx, be); err != nil || !ch.Already {
		t.Fatalf("a batch applied twice: %v %+v", err, ch)
	}
}

// BenchmarkEvaluateBatch tests a court batch of 10,000 new cases (a quarter of
// them judgments listing dishonest debtors) against the on-arrival rules.
func BenchmarkEvaluateBatch(b *testing.B) {
	ctx := context.Background()
	store, err := blob.OpenLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString(courtHeader)
	for i := range 10_000 {
		c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MB%06d", i))
		if err != nil {
			b.Fatal(err)
		}
		dishonest := "否"
		if i%4 == 0 {
			dishonest = "是"
		}
		fmt.Fprintf(&sb, "%s,2024-0%d-15,(2024)浙0604民初%d号,被告,合同纠纷,%d,已判决,否,%s\n", c, 1+i%4, i, 1000+i, dishonest)
	}
	at, _ := time.Parse(time.DateOnly, "2024-05-10")
	rep, err := ingest.New(store).Ingest(ctx, "court", []ingest.Input{{Name: "court.csv", R: strings.NewReader(sb.String())}},
		ingest.Options{Now: func() time.Time { return at }, Location: time.UTC})
	if err != nil {
		b.Fatal(err)
	}
	lib, err := DefaultLibrary()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		be, err := lib.EvaluateBatch(ctx, store, rep)
		if err != nil {
			b.Fatal(err)
		}
		if be.Records != 10_000 || len(be.Firings) != 10_000+2_500 {
			b.Fatalf("%d records, %d firings", be.Records, len(be.Firings))
		}
	}
}
