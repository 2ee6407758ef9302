package inspection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving"
	servingaccess "github.com/xinyi-platform/xinyi/serving/access"
)

// screenings is a table of finished screening jobs, as serving/screenjobs answers
// them: the summary, with the rows in the store.
type screenings map[string]serving.Job

func (s screenings) Screening(_ context.Context, id string) (serving.Job, error) {
	j, ok := s[id]
	if !ok {
		return serving.Job{}, fmt.Errorf("%w: %q", serving.ErrUnknownJob, id)
	}
	return j, nil
}

type env struct {
	svc                        *Service
	store                      blob.Store
	log                        *audit.Log
	jobs                       screenings
	now                        time.Time
	reg, otherReg, bank, admin serving.Principal
}

func code(t testing.TB, i int) string {
	t.Helper()
	c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newEnv(t testing.TB, db *metadb.DB) *env {
	t.Helper()
	ctx := context.Background()
	acc, log := accesstest.Open(t, db)
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: store, log: log, jobs: screenings{}, now: time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)}
	_, e.reg = accesstest.User(t, acc, "上虞区市场监管局", access.KindRegulator, "reg", access.RoleRegulator)
	_, e.otherReg = accesstest.User(t, acc, "柯桥区市场监管局", access.KindRegulator, "other", access.RoleRegulator)
	_, e.bank = accesstest.User(t, acc, "某银行", access.KindBank, "banker", access.RoleBank)
	_, e.admin = accesstest.User(t, acc, "platform", access.KindPlatform, "ops", access.RoleAdmin)
	e.svc, err = Open(ctx, Options{DB: db, Store: store, Screenings: e.jobs, Authorizer: servingaccess.New(acc, log), Audit: log,
		Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// tierSizes of the test screening: high 50 at 1.0, medium 205 at 0.3 (61.5 → 62),
// low 745 at 0.1 (74.5 → 75).
var tierSizes = []struct {
	tier  string
	n     int
	ratio float64
	want  int // round half up of n × ratio, by hand
}{{"high", 50, 1.0, 50}, {"medium", 205, 0.3, 62}, {"low", 745, 0.1, 75}}

// screen stores a screening of 1,000 firms owned by owner and returns its rows.
func (e *env) screen(t *testing.T, id string, owner serving.Principal) []serving.ScreenRow {
	t.Helper()
	var rows []serving.ScreenRow
	i := 0
	for _, ts := range tierSizes {
		for range ts.n {
			rows = append(rows, serving.ScreenRow{Rank: i + 1, Company: code(t, i), Probability: 0.9 - float64(i)*0.0008, Tier: ts.tier, SamplingRatio: ts.ratio})
			i++
		}
	}
	res := &serving.ScreenResult{ID: id, Task: serving.TaskViolation, PolicyVersion: "test-1", AsOf: time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC),
		Companies: len(rows), Rows: rows}
	if _, err := serving.WriteScreening(context.Background(), e.store, res); err != nil {
		t.Fatal(err)
	}
	res.Rows = nil // as a queued job records it: the rows are in the store
	e.jobs[id] = serving.Job{ID: id, State: serving.JobDone, Task: serving.TaskViolation, Institution: owner.Institution, InstitutionID: owner.InstitutionID, Result: res}
	return rows
}

func seedOf(v uint64) *uint64 { return &v }

var staff = []string{"张三", "李四", "王五", "赵六", "钱七", "孙八", "周九"}

func TestDraw(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		rows := e.screen(t, "7-abc", e.reg)
		tierOf := map[string]string{}
		for _, r := range rows {
			tierOf[r.Company] = r.Tier
		}
		a, err := e.svc.Draw(ctx, e.reg, "7-abc", DrawOptions{Inspectors: staff, Seed: seedOf(20250303)})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.svc.Draw(ctx, e.reg, "7-abc", DrawOptions{Inspectors: staff, Seed: seedOf(20250303)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Draw(ctx, e.reg, "7-abc", DrawOptions{Inspectors: staff, Seed: seedOf(20250304)})
		if err != nil {
			t.Fatal(err)
		}
		t.Run("same seed, same plan", func(t *testing.T) {
			if a.ID == b.ID {
				t.Fatalf("two draws share id %d", a.ID)
			}
			if fmt.Sprint(a.Items) != fmt.Sprint(b.Items) || fmt.Sprint(a.Tiers) != fmt.Sprint(b.Tiers) {
				t.Error("the same seed drew two plans")
			}
			if fmt.Sprint(a.Items) == fmt.Sprint(c.Items) {
				t.Error("another seed drew the same plan")
			}
			got, err := e.svc.Get(ctx, e.reg, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Seed != 20250303 || fmt.Sprint(got.Items) != fmt.Sprint(a.Items) || got.InspectorsPerFirm != 2 {
				t.Errorf("stored plan: seed %d, team %d, items equal %v", got.Seed, got.InspectorsPerFirm, fmt.Sprint(got.Items) == fmt.Sprint(a.Items))
			}
		})
		t.Run("tier counts and membership", func(t *testing.T) {
			count := map[string]int{}
			seen := map[string]bool{}
			for _, it := range a.Items {
				if tierOf[it.Company] != it.Tier {
					t.Errorf("%s drawn for tier %s, screened into %q", it.Company, it.Tier, tierOf[it.Company])
				}
				if seen[it.Company] {
					t.Errorf("%s drawn twice", it.Company)
				}
				seen[it.Company] = true
				count[it.Tier]++
			}
			for i, ts := range tierSizes {
				if count[ts.tier] != ts.want {
					t.Errorf("tier %s: drew %d, want %d", ts.tier, count[ts.tier], ts.want)
				}
				if d := a.Tiers[i]; d.Tier != ts.tier || d.Companies != ts.n || d.Drawn != ts.want || d.SamplingRatio != ts.ratio {
					t.Errorf("tier summary %d = %+v, want %s %d of %d at %g", i, d, ts.tier, ts.want, ts.n, ts.ratio)
				}
			}
		})
		t.Run("inspectors", func(t *testing.T) {
			load := map[string]int{}
			for _, it := range a.Items {
				if len(it.Inspectors) != 2 || it.Inspectors[0] == it.Inspectors[1] {
					t.Errorf("%s has team %v", it.Company, it.Inspectors)
				}
				for _, n := range it.Inspectors {
					if !slices.Contains(staff, n) {
						t.Errorf("%s has unknown inspector %q", it.Company, n)
					}
					load[n]++
				}
			}
			// 187 firms × 2 = 374 visits over 7 inspectors: 53 or 54 each.
			for _, n := range staff {
				if load[n] != 53 && load[n] != 54 {
					t.Errorf("inspector %s has %d visits, want 53 or 54", n, load[n])
				}
			}
		})
		t.Run("audited", func(t *testing.T) {
			recs, err := e.log.List(ctx, audit.Filter{Action: "inspection.plan.draw", Subject: fmt.Sprintf("plan:%d", a.ID)})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].Outcome != audit.OutcomeOK || !strings.Contains(string(recs[0].After), `"seed":20250303`) {
				t.Errorf("audit of the draw = %+v", recs)
			}
		})
		t.Run("drawn seed is recorded", func(t *testing.T) {
			p, err := e.svc.Draw(ctx, e.reg, "7-abc", DrawOptions{Inspectors: staff, InspectorsPerFirm: 3})
			if err != nil {
				t.Fatal(err)
			}
			again, err := e.svc.Draw(ctx, e.reg, "7-abc", DrawOptions{Inspectors: staff, InspectorsPerFirm: 3, Seed: seedOf(p.Seed)})
			if err != nil {
				t.Fatal(err)
			}
			if p.Seed > MaxSeed || fmt.Sprint(p.Items) != fmt.Sprint(again.Items) {
				t.Errorf("the recorded seed %d does not reproduce the draw", p.Seed)
			}
		})
		t.Run("bad input", func(t *testing.T) {
			for _, o := range []DrawOptions{
				{},
				{Inspectors: []string{"张三"}},
				{Inspectors: []string{"张三", "张三", "李四"}},
				{Inspectors: staff, Seed: seedOf(1 << 60)},
			} {
				if _, err := e.svc.Draw(ctx, e.reg, "7-abc", o); !errors.Is(err, serving.ErrInvalidInput) {
					t.Errorf("Draw(%+v) = %v, want invalid input", o, err)
				}
			}
			if _, err := e.svc.Draw(ctx, e.reg, "nope", DrawOptions{Inspectors: staff}); !errors.Is(err, ErrUnknownScreening) {
				t.Errorf("unknown screening: %v", err)
			}
			e.jobs["8-run"] = serving.Job{ID: "8-run", State: serving.JobRunning, InstitutionID: e.reg.InstitutionID}
			if _, err := e.svc.Draw(ctx, e.reg, "8-run", DrawOptions{Inspectors: staff}); !errors.Is(err, ErrScreeningNotDone) {
				t.Errorf("running screening: %v", err)
			}
		})
	})
}

// TestDrawUniform: over 4,000 seeds, every firm of a tier of 20 drawn at 0.25 is
// drawn about 4000 × 5 / 20 = 1,000 times (chi-square with 19 degrees of freedom
// below 43.82, its 0.1% critical value), and every inspector is on the team of a
// given firm about 4000 × 2 / 5 = 1,600 times (4 degrees of freedom, below 18.47).
// The seeds are fixed, so the test is deterministic.
func TestDrawUniform(t *testing.T) {
	var rows []serving.ScreenRow
	for i := range 20 {
		rows = append(rows, serving.ScreenRow{Rank: i + 1, Company: code(t, i), Probability: 0.05, Tier: "low", SamplingRatio: 0.25})
	}
	inspectors := []string{"a", "b", "c", "d", "e"}
	const seeds = 4000
	drawn := map[string]int{}
	onTeam := map[string]int{}
	for s := range uint64(seeds) {
		_, items, err := draw(slices.Clone(rows), inspectors, 2, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 5 {
			t.Fatalf("seed %d drew %d firms, want 5", s, len(items))
		}
		for _, it := range items {
			drawn[it.Company]++
			if it.Company == rows[0].Company {
				for _, n := range it.Inspectors {
					onTeam[n]++
				}
			}
		}
	}
	chi := func(counts map[string]int, keys []string, want float64) float64 {
		var x float64
		for _, k := range keys {
			d := float64(counts[k]) - want
			x += d * d / want
		}
		return x
	}
	codes := make([]string, len(rows))
	for i, r := range rows {
		codes[i] = r.Company
	}
	if x := chi(drawn, codes, seeds*5/20.0); x > 43.82 {
		t.Errorf("firm draw counts are not uniform: chi-square %.1f > 43.82 (counts %v)", x, drawn)
	}
	if n := onTeam["a"] + onTeam["b"] + onTeam["c"] + onTeam["d"] + onTeam["e"]; n != 2*drawn[rows[0].Company] {
		t.Fatalf("team slots of the first firm = %d, want %d", n, 2*drawn[rows[0].Company])
	}
	if x := chi(onTeam, inspectors, float64(2*drawn[rows[0].Company])/5); x > 18.47 {
		t.Errorf("inspector assignment is not uniform: chi-square %.1f > 18.47 (counts %v)", x, onTeam)
	}
}

// TestDrawCount checks the rounding of the expected count by hand.
func TestDrawCount(t *testing.T) {
	for _, tt := range []struct {
		ratio float64
		n     int
		want  int
	}{{0.3, 5, 2}, {0.1, 25, 3}, {0.1, 24, 2}, {0.1, 4, 0}, {0.1, 5, 1}, {1, 7, 7}, {0, 9, 0}, {0.3, 205, 62}, {0.1, 745, 75}} {
		if got := DrawCount(tt.ratio, tt.n); got != tt.want {
			t.Errorf("DrawCount(%g, %d) = %d, want %d", tt.ratio, tt.n, got, tt.want)
		}
	}
}

func refusals(t *testing.T, log *audit.Log, action, actor string) int {
	t.Helper()
	recs, err := log.List(context.Background(), audit.Filter{Action: action, Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Outcome == audit.OutcomeRefused {
			n++
		}
	}
	return n
}

func TestAccess(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.screen(t, "1-own", e.reg)
		plan, err := e.svc.Draw(ctx, e.reg, "1-own", DrawOptions{Inspectors: staff, Seed: seedOf(1)})
		if err != nil {
			t.Fatal(err)
		}
		it := plan.Items[0]
		in := ResultInput{Company: it.Company, Outcome: datasets.InspectionNoProblem, Date: "2025-03-03", Inspector: it.Inspectors[0]}
		tests := []struct {
			name   string
			p      serving.Principal
			do     func(p serving.Principal) error
			want   error
			action string
		}{
			{"bank draws", e.bank, func(p serving.Principal) error {
				_, err := e.svc.Draw(ctx, p, "1-own", DrawOptions{Inspectors: staff})
				return err
			}, serving.ErrForbidden, "inspection.plan.draw"},
			{"other regulator draws", e.otherReg, func(p serving.Principal) error {
				_, err := e.svc.Draw(ctx, p, "1-own", DrawOptions{Inspectors: staff})
				return err
			}, ErrUnknownScreening, "inspection.plan.draw"},
			{"platform admin draws", e.admin, func(p serving.Principal) error {
				_, err := e.svc.Draw(ctx, p, "1-own", DrawOptions{Inspectors: staff})
				return err
			}, serving.ErrForbidden, "inspection.plan.draw"},
			{"bank records", e.bank, func(p serving.Principal) error {
				_, err := e.svc.Record(ctx, p, plan.ID, in)
				return err
			}, serving.ErrForbidden, "inspection.result.record"},
			{"other regulator records", e.otherReg, func(p serving.Principal) error {
				_, err := e.svc.Record(ctx, p, plan.ID, in)
				return err
			}, ErrUnknownPlan, "inspection.result.record"},
			{"other regulator reads", e.otherReg, func(p serving.Principal) error {
				_, err := e.svc.Get(ctx, p, plan.ID)
				return err
			}, ErrUnknownPlan, "inspection.plan.view"},
			{"bank reads hit rates", e.bank, func(p serving.Principal) error {
				_, err := e.svc.HitRates(ctx, p)
				return err
			}, serving.ErrForbidden, "inspection.hit_rates"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := refusals(t, e.log, tt.action, tt.p.Actor())
				if err := tt.do(tt.p); !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				if got := refusals(t, e.log, tt.action, tt.p.Actor()); got != before+1 {
					t.Errorf("refusals audited as %s: %d, want %d", tt.action, got, before+1)
				}
			})
		}
		if _, err := e.svc.Get(ctx, e.admin, plan.ID); err != nil {
			t.Errorf("platform admin reads the plan: %v", err)
		}
		var n int
		if err := metadb.ScanOne(db.QueryRow(ctx, "SELECT COUNT(*) FROM inspection_results"), &n); err != nil || n != 0 {
			t.Errorf("results after refusals = %d (%v), want 0", n, err)
		}
	})
}

func readRaw(t *testing.T, store blob.Store, key string) []datasets.InspectionRow {
	t.Helper()
	data, _, err := blob.ReadAll(context.Background(), store, key)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[datasets.InspectionRow](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestRecord(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		rows := e.screen(t, "2-rec", e.reg)
		plan, err := e.svc.Draw(ctx, e.reg, "2-rec", DrawOptions{Inspectors: staff, Seed: seedOf(2)})
		if err != nil {
			t.Fatal(err)
		}
		it := plan.Items[0]
		e.now = time.Date(2025, 3, 20, 15, 0, 0, 0, time.UTC)
		in := ResultInput{Company: it.Company, Outcome: datasets.InspectionProblem, Category: "licence", Date: "2025-03-18", Inspector: it.Inspectors[1]}
		r, err := e.svc.Record(ctx, e.reg, plan.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Revision != 0 || r.Arrival != "2025-03-20" || r.Key != fmt.Sprintf("raw/inspections/month=2025-03/part-%05d.parquet", 1) {
			t.Errorf("result = %+v", r)
		}
		got := readRaw(t, e.store, r.Key)
		want := datasets.InspectionRow{Code: it.Company, EventDate: datasets.DayOf(time.Date(2025, 3, 18, 0, 0, 0, 0, time.UTC)),
			ArrivalDate: datasets.DayOf(e.now), Revision: 0, InspectionID: fmt.Sprintf("plan-%d/%s", plan.ID, it.Company),
			Outcome: "problem", Category: "licence", Inspector: it.Inspectors[1], Regulator: "上虞区市场监管局", Tier: "high"}
		if len(got) != 1 || got[0] != want {
			t.Errorf("raw rows = %+v, want %+v", got, want)
		}
		t.Run("twice without a correction", func(t *testing.T) {
			before := refusals(t, e.log, "inspection.result.record", e.reg.Actor())
			if _, err := e.svc.Record(ctx, e.reg, plan.ID, in); !errors.Is(err, ErrAlreadyRecorded) {
				t.Fatalf("second result: %v, want ErrAlreadyRecorded", err)
			}
			if refusals(t, e.log, "inspection.result.record", e.reg.Actor()) != before+1 {
				t.Error("the refusal is not audited")
			}
		})
		t.Run("correction", func(t *testing.T) {
			e.now = time.Date(2025, 3, 25, 8, 0, 0, 0, time.UTC)
			c := ResultInput{Company: it.Company, Outcome: datasets.InspectionNoProblem, Date: "2025-03-18", Inspector: it.Inspectors[1], Correction: true}
			r2, err := e.svc.Record(ctx, e.reg, plan.ID, c)
			if err != nil {
				t.Fatal(err)
			}
			if r2.Revision != 1 || r2.Arrival != "2025-03-25" || r2.Key == r.Key {
				t.Errorf("correction = %+v", r2)
			}
			if g := readRaw(t, e.store, r.Key); len(g) != 1 || g[0].Outcome != "problem" {
				t.Error("the first revision's row changed")
			}
			p, err := e.svc.Get(ctx, e.reg, plan.ID)
			if err != nil {
				t.Fatal(err)
			}
			if res := p.Items[0].Result; res == nil || res.Revision != 1 || res.Outcome != datasets.InspectionNoProblem {
				t.Errorf("result in force = %+v", res)
			}
			recs, err := e.log.List(ctx, audit.Filter{Action: "inspection.result.correct"})
			if err != nil || len(recs) != 1 {
				t.Errorf("audit of the correction: %d records, %v", len(recs), err)
			}
		})
		t.Run("firm not in the plan", func(t *testing.T) {
			drawn := map[string]bool{}
			for _, x := range plan.Items {
				drawn[x.Company] = true
			}
			var outside string
			for _, r := range rows {
				if !drawn[r.Company] {
					outside = r.Company
					break
				}
			}
			before := refusals(t, e.log, "inspection.result.record", e.reg.Actor())
			_, err := e.svc.Record(ctx, e.reg, plan.ID, ResultInput{Company: outside, Outcome: "no_problem", Date: "2025-03-18", Inspector: "张三"})
			if !errors.Is(err, ErrNotInPlan) {
				t.Fatalf("err = %v, want ErrNotInPlan", err)
			}
			if refusals(t, e.log, "inspection.result.record", e.reg.Actor()) != before+1 {
				t.Error("the refusal is not audited")
			}
		})
		t.Run("bad input", func(t *testing.T) {
			x := plan.Items[1]
			ok := ResultInput{Company: x.Company, Outcome: "problem", Category: "pricing", Date: "2025-03-18", Inspector: x.Inspectors[0]}
			for name, mut := range map[string]func(*ResultInput){
				"outcome":             func(r *ResultInput) { r.Outcome = "fine" },
				"problem no category": func(r *ResultInput) { r.Category = "" },
				"unknown category":    func(r *ResultInput) { r.Category = "tax" },
				"category, no problem": func(r *ResultInput) {
					r.Outcome = "no_problem"
				},
				"date":               func(r *ResultInput) { r.Date = "18/03/2025" },
				"future":             func(r *ResultInput) { r.Date = "2025-04-01" },
				"before the draw":    func(r *ResultInput) { r.Date = "2025-03-02" },
				"unassigned":         func(r *ResultInput) { r.Inspector = "路人甲" },
				"nothing to correct": func(r *ResultInput) { r.Correction = true },
			} {
				r := ok
				mut(&r)
				if _, err := e.svc.Record(ctx, e.reg, plan.ID, r); !errors.Is(err, serving.ErrInvalidInput) {
					t.Errorf("%s: %v, want invalid input", name, err)
				}
			}
			bad := ok
			bad.Company = "91330604MA0000000X"
			if _, err := e.svc.Record(ctx, e.reg, plan.ID, bad); !errors.Is(err, serving.ErrInvalidCompanyCode) {
				t.Errorf("bad code: %v", err)
			}
			if _, err := e.svc.Record(ctx, e.reg, 999, ok); !errors.Is(err, ErrUnknownPlan) {
				t.Errorf("unknown plan: %v", err)
			}
		})
	})
}

// TestHitRates records results by hand and checks the rates against a count made
// by hand: plan A inspects high 4 (3 found), medium 3 (1 found), low 2 (0 found);
// plan B high 2 (1 found), low 2 (1 found: rectify).
func TestHitRates(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.screen(t, "3-hr", e.reg)
		record := func(plan *Plan, tier string, outcomes ...string) {
			t.Helper()
			i := 0
			for _, it := range plan.Items {
				if it.Tier != tier || i == len(outcomes) {
					continue
				}
				in := ResultInput{Company: it.Company, Outcome: outcomes[i], Date: "2025-03-03", Inspector: it.Inspectors[0]}
				if outcomes[i] == datasets.InspectionProblem {
					in.Category = "food_safety"
				}
				if _, err := e.svc.Record(ctx, e.reg, plan.ID, in); err != nil {
					t.Fatal(err)
				}
				i++
			}
		}
		const no, yes, fix = datasets.InspectionNoProblem, datasets.InspectionProblem, datasets.InspectionRectify
		a, err := e.svc.Draw(ctx, e.reg, "3-hr", DrawOptions{Inspectors: staff, Seed: seedOf(10)})
		if err != nil {
			t.Fatal(err)
		}
		record(a, "high", yes, yes, fix, no)
		record(a, "medium", yes, no, no)
		record(a, "low", no, no)
		b, err := e.svc.Draw(ctx, e.reg, "3-hr", DrawOptions{Inspectors: staff, Seed: seedOf(11)})
		if err != nil {
			t.Fatal(err)
		}
		// A corrected result counts once, as its latest revision: no → problem.
		record(b, "high", no, no)
		first := b.Items[0]
		if _, err := e.svc.Record(ctx, e.reg, b.ID, ResultInput{Company: first.Company, Outcome: yes, Category: "advertising", Date: "2025-03-03",
			Inspector: first.Inspectors[0], Correction: true}); err != nil {
			t.Fatal(err)
		}
		record(b, "low", fix, no)
		// Another regulator's plan does not count.
		e.screen(t, "4-other", e.otherReg)
		o, err := e.svc.Draw(ctx, e.otherReg, "4-other", DrawOptions{Inspectors: staff, Seed: seedOf(12)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range o.Items[:3] {
			if _, err := e.svc.Record(ctx, e.otherReg, o.ID, ResultInput{Company: it.Company, Outcome: yes, Category: "other", Date: "2025-03-03", Inspector: it.Inspectors[0]}); err != nil {
				t.Fatal(err)
			}
		}
		hr, err := e.svc.HitRates(ctx, e.reg)
		if err != nil {
			t.Fatal(err)
		}
		near := func(got *float64, want float64) bool { return got != nil && *got > want-1e-12 && *got < want+1e-12 }
		if len(hr.Plans) != 2 || hr.Plans[0].Plan != a.ID || hr.Plans[1].Plan != b.ID {
			t.Fatalf("plans = %+v", hr.Plans)
		}
		pa := hr.Plans[0]
		// Plan A: 4 of 9; baseline (50×3/4 + 205×1/3 + 745×0) / 1000 = 0.10583…
		if !near(pa.Overall.HitRate, 4.0/9) || pa.Overall.Inspected != 9 || pa.Overall.Found != 4 {
			t.Errorf("plan A overall = %+v", pa.Overall)
		}
		wantBase := (50*0.75 + 205.0/3) / 1000
		if !near(pa.Baseline, wantBase) || !near(pa.Lift, (4.0/9)/wantBase) {
			t.Errorf("plan A baseline %v lift %v, want %v %v", deref(pa.Baseline), deref(pa.Lift), wantBase, (4.0/9)/wantBase)
		}
		if len(pa.Tiers) != 3 || pa.Tiers[0].Tier != "high" || !near(pa.Tiers[0].HitRate, 0.75) || !near(pa.Tiers[1].HitRate, 1.0/3) || !near(pa.Tiers[2].HitRate, 0) {
			t.Errorf("plan A tiers = %+v", pa.Tiers)
		}
		// Plan B has no medium result: its baseline is unknown.
		if pb := hr.Plans[1]; pb.Baseline != nil || !near(pb.Overall.HitRate, 0.5) || pb.Tiers[1].HitRate != nil {
			t.Errorf("plan B = %+v", pb)
		}
		// Pooled: high 4 of 6, medium 1 of 3, low 1 of 4; overall 6 of 13; tier sizes doubled.
		if !near(hr.Tiers[0].HitRate, 4.0/6) || !near(hr.Tiers[1].HitRate, 1.0/3) || !near(hr.Tiers[2].HitRate, 0.25) || !near(hr.Overall.HitRate, 6.0/13) {
			t.Errorf("pooled = %+v %+v", hr.Tiers, hr.Overall)
		}
		if hr.Tiers[0].Companies != 100 || hr.Tiers[0].Drawn != 100 || hr.Overall.Companies != 2000 {
			t.Errorf("pooled sizes = %+v %+v", hr.Tiers[0], hr.Overall)
		}
		poolBase := (100*4.0/6 + 410.0/3 + 1490*0.25) / 2000
		if !near(hr.Baseline, poolBase) || !near(hr.Lift, (6.0/13)/poolBase) {
			t.Errorf("pooled baseline %v lift %v, want %v %v", deref(hr.Baseline), deref(hr.Lift), poolBase, (6.0/13)/poolBase)
		}
		// The platform administrator sees every plan.
		all, err := e.svc.HitRates(ctx, e.admin)
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Plans) != 3 || all.Overall.Found != 9 {
			t.Errorf("platform-wide: %d plans, %d found", len(all.Plans), all.Overall.Found)
		}
	})
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func TestExport(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.screen(t, "5-x", e.reg)
		plan, err := e.svc.Draw(ctx, e.reg, "5-x", DrawOptions{Inspectors: staff, Seed: seedOf(5)})
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]datasets.CompanyRow{plan.Items[0].Company: {Code: plan.Items[0].Company, Name: "绍兴市上虞区某某化工有限公司",
			Address: "浙江省绍兴市上虞区曹娥街道江扬路8号", DistrictName: "上虞区", Industry: "C"}}
		e.svc.opts.Names = directory(names)
		it := plan.Items[0]
		if _, err := e.svc.Record(ctx, e.reg, plan.ID, ResultInput{Company: it.Company, Outcome: "problem", Category: "pricing", Date: "2025-03-03", Inspector: it.Inspectors[0]}); err != nil {
			t.Fatal(err)
		}
		data, ctype, err := e.svc.Export(ctx, e.reg, plan.ID, "csv")
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "text/csv; charset=utf-8" || !bytes.HasPrefix(data, []byte("\xef\xbb\xbf统一社会信用代码,企业名称,住所,所属区县,行业,风险层级,违法概率,检查人员,")) {
			t.Fatalf("csv starts %q (%s)", data[:min(80, len(data))], ctype)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\r\n")
		if len(lines) != 1+len(plan.Items) {
			t.Fatalf("%d lines, want %d", len(lines), 1+len(plan.Items))
		}
		want := fmt.Sprintf("%s,绍兴市上虞区某某化工有限公司,浙江省绍兴市上虞区曹娥街道江扬路8号,上虞区,C 制造业,高风险,%.2f%%,%s,2025-03-03,发现问题,价格与收费", it.Company, it.Probability*100, strings.Join(it.Inspectors, "、"))
		if lines[1] != want {
			t.Errorf("first row = %q, want %q", lines[1], want)
		}
		js, ctype, err := e.svc.Export(ctx, e.reg, plan.ID, "json")
		if err != nil || ctype != "application/json" || !bytes.Contains(js, []byte(`"seed": 5`)) {
			t.Errorf("json export: %v %s", err, ctype)
		}
		if _, _, err := e.svc.Export(ctx, e.reg, plan.ID, "xlsx"); !errors.Is(err, serving.ErrInvalidInput) {
			t.Errorf("xlsx: %v", err)
		}
	})
}

type directory map[string]datasets.CompanyRow

func (d directory) Company(code string) (datasets.CompanyRow, bool) {
	c, ok := d[code]
	return c, ok
}

// TestRecordConcurrently: eight inspectors record the same firm at once; one
// result is stored, the others are refused, and one raw row exists.
func TestRecordConcurrently(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.screen(t, "6-race", e.reg)
		plan, err := e.svc.Draw(ctx, e.reg, "6-race", DrawOptions{Inspectors: staff, Seed: seedOf(6)})
		if err != nil {
			t.Fatal(err)
		}
		it := plan.Items[0]
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				_, err := e.svc.Record(ctx, e.reg, plan.ID, ResultInput{Company: it.Company, Outcome: datasets.InspectionNoProblem, Date: "2025-03-03", Inspector: it.Inspectors[0]})
				errs <- err
			}()
		}
		ok, refused := 0, 0
		for range 8 {
			switch err := <-errs; {
			case err == nil:
				ok++
			case errors.Is(err, ErrAlreadyRecorded):
				refused++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || refused != 7 {
			t.Errorf("%d stored, %d refused; want 1 and 7", ok, refused)
		}
		raw, err := e.store.List(ctx, datasets.InspectionSource().Prefix())
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 1 {
			t.Errorf("%d raw rows, want 1: %v", len(raw), raw)
		}
	})
}
