package reports_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/reports"
)

// TestEndOfPublicityThroughIngestion: penalties delivered through ingestion, then
// one retracted (撤销) and one ended (停止公示, as a repair arrives) by a later
// batch of key columns only. The report leaves both out and keeps the third.
func TestEndOfPublicityThroughIngestion(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := mustCode(t, "MA4UJ7K2")
	writeRegion(t, store, a, mustCode(t, "MA2BX3Y4"))
	deliver := func(day string, csv string) {
		t.Helper()
		at, _ := time.ParseInLocation(time.DateOnly, day, cst)
		if _, err := ingest.New(store).Ingest(ctx, datasets.SourcePenalty, []ingest.Input{{Name: "penalties.csv", R: strings.NewReader(csv)}},
			ingest.Options{Now: func() time.Time { return at.Add(9 * time.Hour) }, TempDir: t.TempDir(), MaxBad: -1}); err != nil {
			t.Fatal(err)
		}
	}
	deliver("2026-10-01", "code,event_date,penalty_id,department,severity,amount\n"+
		a+",2026-03-02,绍市监罚〔2026〕8号,绍兴市市场监督管理局,2,3000\n"+
		a+",2026-04-03,绍市监罚〔2026〕9号,绍兴市市场监督管理局,1,0\n"+
		a+",2026-05-04,绍环罚〔2026〕10号,绍兴市生态环境局,2,20000\n")
	deliver("2026-11-02", "penalty_id,row_kind\n绍市监罚〔2026〕9号,撤销\n绍环罚〔2026〕10号,停止公示\n")

	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	_, regulator := accesstest.User(t, acc, "Market Supervision", access.KindRegulator, "inspector", access.RoleRegulator)
	key, _ := reports.GenerateKey()
	svc, err := reports.Open(ctx, db, reports.Options{Store: store, Signer: key, Authorizer: access.NewAuthorizer(acc, log), Audit: log,
		FontPath: fontPath(t), Now: func() time.Time { return issueTime }})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := svc.Issue(ctx, regulator, reports.Request{Company: a, Purpose: reports.Honours})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, s := range r.Sections {
		for _, rec := range s.Records {
			got[s.Department] = append(got[s.Department], rec.Date+" "+rec.Ref)
		}
	}
	if want := []string{"2026-03-02 绍市监罚〔2026〕8号"}; !slices.Equal(got["market"], want) {
		t.Errorf("market regulation: %q, want %q (the retracted one left out)", got["market"], want)
	}
	if len(got["environment"]) != 0 {
		t.Errorf("environment: %q, want nothing (its publicity ended)", got["environment"])
	}
}
