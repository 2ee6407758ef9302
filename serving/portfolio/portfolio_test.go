package portfolio_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/portfolio"
	"github.com/xinyi-platform/xinyi/serving/scores"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// TestBuild: a bank's portfolio holds exactly the companies whose consent it
// holds now, each with the latest two scored periods and the change between
// them worked out by hand, and the open warnings; the CSV opens in Excel (BOM)
// and reads back.
func TestBuild(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	acc, _ := accesstest.Open(t, db)
	_, bank := accesstest.User(t, acc, "Shangyu Bank", access.KindBank, "officer", access.RoleBank)
	_, other := accesstest.User(t, acc, "Other Bank", access.KindBank, "rival", access.RoleBank)
	code := func(i int) string {
		c, err := creditcode.New('9', '1', "330604", "MA00000"+string(rune('0'+i)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	worse, better, fresh, otherOnly, revoked := code(1), code(2), code(3), code(4), code(5)
	grant := func(c string, inst int64, purpose string) access.Consent {
		g, err := acc.GrantConsent(ctx, "setup", access.ConsentGrant{CompanyCode: c, BankID: inst, Scope: access.ScopeCreditAssessment,
			ExpiresAt: time.Now().Add(24 * time.Hour), Purpose: purpose})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	grant(worse, bank.InstitutionID, "loan:1")
	grant(better, bank.InstitutionID, "")
	grant(fresh, bank.InstitutionID, "financing_request:3")
	grant(otherOnly, other.InstitutionID, "")
	if err := acc.RevokeConsent(ctx, "setup", grant(revoked, bank.InstitutionID, "").ID); err != nil {
		t.Fatal(err)
	}

	dir, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(asOf string, rows map[string][3]any) {
		t.Helper()
		at, _ := time.Parse(time.DateOnly, asOf)
		var ds []*serving.Decision
		for c, r := range rows {
			ds = append(ds, &serving.Decision{Company: c, AsOf: at, PD: r[0].(float64), Rating: policy.Rating(r[1].(string)),
				Colour: policy.Colour(r[2].(string)), Limit: 1e6, PolicyVersion: "p1", Models: []serving.ModelVersion{{Task: "pd", Name: "pd", Version: "1"}}})
		}
		if _, err := scores.Write(ctx, dir, ds, at); err != nil {
			t.Fatal(err)
		}
	}
	run("2026-09-30", map[string][3]any{worse: {0.02, "B", "blue"}, better: {0.30, "D", "red"}, otherOnly: {0.5, "D", "red"}})
	run("2026-10-31", map[string][3]any{worse: {0.03, "B", "green"}, better: {0.10, "C", "yellow"}, fresh: {0.05, "B", "blue"}, otherOnly: {0.5, "D", "red"}})

	ws, err := warnings.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Apply(ctx, &warnings.Evaluation{AsOf: "2026-10-31", Version: "t", Companies: 3, Firings: []warnings.Firing{
		{Rule: "tax.arrears.present", Severity: warnings.Blue, Area: "tax", Company: worse, Evidence: warnings.Evidence{AsOf: "2026-10-31"}},
		{Rule: "court.dishonest.listed", Severity: warnings.Red, Area: "court", Company: worse, Evidence: warnings.Evidence{AsOf: "2026-10-31"}},
		{Rule: "tax.arrears.present", Severity: warnings.Blue, Area: "tax", Company: otherOnly, Evidence: warnings.Evidence{AsOf: "2026-10-31"}},
	}}); err != nil {
		t.Fatal(err)
	}
	src := portfolio.Sources{Consents: acc, Warnings: ws, Runs: scores.NewReader(dir, 0),
		Manifests: func(ctx context.Context) ([]*scores.Manifest, error) { return scores.Runs(ctx, dir) },
		Company: func(c string) (string, string, string, bool) {
			return "公司" + c[len(c)-2:], "上虞区", "C 制造业", true
		}}
	got, err := portfolio.Build(ctx, src, bank.InstitutionID, portfolio.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		code, change, purpose string
		warnings              int
		worst                 string
	}
	// Worst first: yellow (better), green (worse), blue (new).
	want := []row{{better, portfolio.Better, "", 0, ""}, {worse, portfolio.Worse, "loan:1", 2, "red"}, {fresh, portfolio.New, "financing_request:3", 0, ""}}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Company != w.code || g.Change != w.change || g.Purpose != w.purpose || g.OpenWarnings != w.warnings || g.WorstWarning != w.worst {
			t.Errorf("entry %d: %+v, want %+v", i, g, w)
		}
	}
	if got[1].PrevColour != "blue" || got[1].Colour != "green" || got[1].PrevAsOf != "2026-09-30" || got[1].AsOf != "2026-10-31" {
		t.Errorf("periods of %s: %+v", worse, got[1])
	}
	for _, tt := range []struct {
		f    portfolio.Filter
		want int
	}{{portfolio.Filter{Change: portfolio.Worse}, 1}, {portfolio.Filter{Warned: true}, 1}, {portfolio.Filter{Colour: "blue"}, 1}, {portfolio.Filter{Rating: "D"}, 0}} {
		if g, _ := portfolio.Build(ctx, src, bank.InstitutionID, tt.f); len(g) != tt.want {
			t.Errorf("filter %+v: %d entries, want %d", tt.f, len(g), tt.want)
		}
	}
	if _, err := portfolio.ParseFilter(func(k string) string { return map[string]string{"colour": "purple"}[k] }); err == nil {
		t.Error("a bad colour parsed")
	}
	var b bytes.Buffer
	if err := portfolio.WriteCSV(&b, got); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "\ufeff") {
		t.Fatal("no byte-order mark")
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(b.String(), "\ufeff"))).ReadAll()
	if err != nil || len(recs) != 4 || recs[2][0] != worse || recs[2][7] != "3.00" || recs[2][12] != "2.00" {
		t.Fatalf("csv: %v %v", err, recs)
	}
}
