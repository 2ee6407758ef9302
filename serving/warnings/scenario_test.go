package warnings

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

func hash32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// fakeRun stores a score run for a snapshot: each company keeps a base grade,
// and in some quarters slips one or more grades (so downgrades, colour changes,
// limit cuts and red codes happen and then clear).
func fakeRun(t *testing.T, ctx context.Context, store blob.Store, snap *features.Snapshot) {
	t.Helper()
	m := snap.AsOf.Year()*12 + int(snap.AsOf.Month())
	models := []serving.ModelVersion{{Task: serving.TaskPD, Name: "pd", Version: "1"}}
	ds := make([]*serving.Decision, len(snap.Codes))
	for i, code := range snap.Codes {
		base := int(hash32(code) % 3)
		slip := hash32(fmt.Sprintf("%s/%d", code, m/2))
		g := base
		switch {
		case slip%23 == 0:
			g = 3
		case slip%7 == 0:
			g = min(base+1, 3)
		}
		pd := []float64{0.01, 0.03, 0.08, 0.2}[g]
		ds[i] = &serving.Decision{Company: code, AsOf: snap.AsOf, PD: pd, Score: 600 - 50*float64(g),
			Rating: policy.Rating("ABCD"[g : g+1]), Colour: []policy.Colour{policy.Blue, policy.Green, policy.Yellow, policy.Red}[g],
			Limit: []float64{3e6, 2e6, 1e6, 0}[g], Models: models, PolicyVersion: "p1"}
	}
	if _, err := scores.Write(ctx, store, ds, snap.AsOf); err != nil {
		t.Fatal(err)
	}
}

type arrival struct{ event, arrived datasets.Day }

// arrivals reads a raw source's records: company → (event, arrival) dates.
func arrivals[T datasets.Row](t *testing.T, ctx context.Context, store blob.Store, source string, keep func(*T) bool, dates func(*T) (string, datasets.Day, datasets.Day)) map[string][]arrival {
	t.Helper()
	src, err := datasets.SourceByName(source)
	if err != nil {
		t.Fatal(err)
	}
	months, err := datasets.Months(ctx, store, src)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]arrival{}
	for _, m := range months {
		rows, err := datasets.ReadMonth[T](ctx, store, src, m)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if keep(&rows[i]) {
				code, ev, ar := dates(&rows[i])
				out[code] = append(out[code], arrival{ev, ar})
			}
		}
	}
	return out
}

// recompute evaluates the Go rules for every company of in.
func recompute(in Input, circle func(code string) []string, status func(code string, d time.Time) string) (fired map[string]bool, red, turned map[string]bool) {
	lookup := func(s *features.Snapshot) func(code string) (func(string) float64, bool) {
		col := map[string]int{}
		for j, n := range s.Names {
			col[n] = j
		}
		row := map[string]int{}
		for i, c := range s.Codes {
			row[c] = i
		}
		return func(code string) (func(string) float64, bool) {
			i, ok := row[code]
			if !ok {
				return func(string) float64 { return math.NaN() }, false
			}
			return func(id string) float64 { return s.Values[i*len(s.Names)+col[id]] }, true
		}
	}
	nowOf := lookup(in.Now)
	prevOf := func(string) (func(string) float64, bool) { return func(string) float64 { return math.NaN() }, false }
	if in.Prev != nil {
		prevOf = lookup(in.Prev)
	}
	scoreOf := func(m map[string]scores.Row, code string) *scores.Row {
		if r, ok := m[code]; ok {
			return &r
		}
		return nil
	}
	cos := map[string]company{}
	red, turned, fired = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, code := range in.Now.Codes {
		now, _ := nowOf(code)
		before, had := prevOf(code)
		c := company{now: now, before: before, score: scoreOf(in.Scores, code), prevScore: scoreOf(in.PrevScores, code), status: status(code, in.Now.AsOf)}
		if in.Prev != nil {
			c.prevStatus = status(code, in.Prev.AsOf)
		}
		cos[code] = c
		past := company{now: before, before: func(string) float64 { return math.NaN() }, score: c.prevScore, status: c.prevStatus}
		redBefore := false
		for _, id := range redRules {
			red[code] = red[code] || goRules[id](c)
			redBefore = redBefore || had && goRules[id](past)
		}
		turned[code] = red[code] && !redBefore
	}
	for _, code := range in.Now.Codes {
		c := cos[code]
		for _, m := range circle(code) {
			if m != code && red[m] {
				c.circleRed++
				if turned[m] {
					c.circleNew++
				}
			}
		}
		for id, rule := range goRules {
			if rule(c) {
				fired[id+"|"+code] = true
			}
		}
	}
	return fired, red, turned
}

// TestScenario evaluates twelve month ends of a generated universe and checks
// the warnings against the Go recomputation, the records' arrival dates, the
// guarantee circles and the lifecycle.
func TestScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and materializes a universe")
	}
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 3000, Months: 24, Seed: 7, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	var asofs []time.Time
	for m := time.January; m <= time.December; m++ {
		asofs = append(asofs, time.Date(2024, m+1, 0, 0, 0, 0, 0, time.UTC))
	}
	if _, err := features.Materialize(ctx, store, features.Options{Set: "full/v1", AsOf: asofs, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	for i, d := range asofs {
		if i == 5 {
			continue // June is not scored: score rules of June and July stay quiet.
		}
		snap, _, err := features.ReadSnapshot(ctx, store, "full", 1, features.DayOf(d))
		if err != nil {
			t.Fatal(err)
		}
		fakeRun(t, ctx, store, snap)
	}
	court := arrivals(t, ctx, store, "court", func(r *datasets.CourtRow) bool { return true },
		func(r *datasets.CourtRow) (string, datasets.Day, datasets.Day) {
			return r.Code, r.EventDate, r.ArrivalDate
		})
	enforcement := arrivals(t, ctx, store, "court", func(r *datasets.CourtRow) bool { return r.Enforcement },
		func(r *datasets.CourtRow) (string, datasets.Day, datasets.Day) {
			return r.Code, r.EventDate, r.ArrivalDate
		})
	penalty := arrivals(t, ctx, store, "penalty", func(r *datasets.PenaltyRow) bool { return true },
		func(r *datasets.PenaltyRow) (string, datasets.Day, datasets.Day) {
			return r.Code, r.EventDate, r.ArrivalDate
		})
	// The registry: a company exists from its record's arrival, and its status
	// counts from its status date.
	type reg struct {
		arrived, statusDate datasets.Day
		status              string
	}
	regs := map[string]reg{}
	csrc, err := datasets.SourceByName("companies")
	if err != nil {
		t.Fatal(err)
	}
	cms, err := datasets.Months(ctx, store, csrc)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cms {
		rows, err := datasets.ReadMonth[datasets.CompanyRow](ctx, store, csrc, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			regs[r.Code] = reg{r.ArrivalDate, r.StatusDate, r.Status}
		}
	}
	status := func(code string, d time.Time) string {
		r, ok := regs[code]
		day := datasets.Day(d.Unix() / 86400)
		switch {
		case !ok || r.arrived > day:
			return ""
		case r.statusDate > day:
			return datasets.StatusActive
		}
		return r.status
	}
	evidenceOf := map[string]map[string][]arrival{
		"court.case.new": court, "court.enforcement.new": enforcement, "court.dishonest.new": enforcement,
		"penalty.new": penalty, "licence.revoked.new": penalty,
	}

	lib, err := DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range lib.Rules {
		if goRules[r.ID] == nil {
			t.Errorf("rule %s has no Go recomputation", r.ID)
		}
		if isRed := r.Kind == State && r.Severity == Red && !r.network; isRed != slices.Contains(redRules, r.ID) {
			t.Errorf("rule %s: red state %v, the test's list says otherwise", r.ID, isRed)
		}
	}
	st, err := Open(ctx, metadbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	src := Source{Store: store, Workers: 2}
	days, err := src.Dates(ctx)
	if err != nil || len(days) != 12 {
		t.Fatalf("dates %v %v", days, err)
	}
	history := map[string][]bool{} // rule|company → fired at each month
	var late, contagion, lasting, firings int
	byRule := map[string]int{}
	for i, d := range days {
		in, err := src.Input(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		g, err := features.LoadGuaranteeNetwork(ctx, store, d.Time(), 2)
		if err != nil {
			t.Fatal(err)
		}
		circle := func(code string) []string { c, _ := g.Circle(code); return c }
		ev, err := lib.Evaluate(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want, red, turned := recompute(in, circle, status)
		got := map[string]bool{}
		prevDay := ""
		var prevD features.Day
		if i > 0 {
			prevD = days[i-1]
			prevDay = prevD.String()
		}
		for _, f := range ev.Firings {
			key := f.Rule + "|" + f.Company
			got[key] = true
			byRule[f.Rule]++
			if f.Evidence.AsOf != d.String() || f.Evidence.PrevAsOf != prevDay {
				t.Fatalf("%s %s: evidence dates %s/%s, want %s/%s", d, key, f.Evidence.AsOf, f.Evidence.PrevAsOf, d, prevDay)
			}
			checkEvidence(t, lib, in, f)
			if f.District == "" || f.Industry == "" {
				t.Fatalf("%s %s: no district or industry", d, key)
			}
			if recs, ok := evidenceOf[f.Rule]; ok {
				// The evidence arrived since the previous date, never later.
				explained, lateBy := false, 1<<30
				for _, a := range recs[f.Company] {
					if int32(a.arrived) > int32(prevD) && int32(a.arrived) <= int32(d) && int32(a.event) <= int32(d) {
						explained = true
						lateBy = min(lateBy, int(a.arrived.Month()-a.event.Month()))
					}
				}
				if !explained {
					t.Fatalf("%s: %s fired for %s without a record arriving in (%s, %s]", d, f.Rule, f.Company, prevDay, d)
				}
				if lateBy >= 2 && strings.HasPrefix(f.Rule, "court.") {
					late++ // a court record that arrived two or more months after its event fired in its arrival month
				}
			}
		}
		if missing, extra := diff(want, got); len(missing)+len(extra) > 0 {
			t.Fatalf("%s: engine and recomputation differ: missing %v, extra %v", d, head(missing), head(extra))
		}
		// Contagion: when a circle member turns red, every other member is warned.
		for code := range turned {
			if !turned[code] || i == 0 {
				continue
			}
			for _, m := range circle(code) {
				if m != code {
					if !got["network.circle.contagion|"+m] {
						t.Fatalf("%s: %s turned red but circle member %s got no contagion warning", d, code, m)
					}
					contagion++
				}
			}
		}
		if gotRed := len(ev.Red); gotRed != count(red) {
			t.Fatalf("%s: %d red companies, recomputation says %d", d, gotRed, count(red))
		}
		firings += len(ev.Firings)
		ch, err := st.Apply(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		for key := range got {
			if history[key] == nil {
				history[key] = make([]bool, len(days))
			}
			history[key][i] = true
		}
		open, err := st.List(ctx, Filter{State: StateOpen, Limit: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != len(got) {
			t.Fatalf("%s: %d open warnings for %d firings", d, len(open), len(got))
		}
		for _, w := range open {
			if !got[w.Rule+"|"+w.Company] || w.LastSeenAsOf != d.String() {
				t.Fatalf("%s: open warning %+v does not fire now", d, w)
			}
		}
		t.Logf("%s: %d firings, %d red, opened %d, closed %d, still open %d", d, len(ev.Firings), len(ev.Red), len(ch.Opened), len(ch.Closed), ch.Seen)
	}
	// The lifecycle: one warning per run of consecutive months, opened at its
	// first month, closed at the month after its last.
	all, err := st.List(ctx, Filter{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]*Warning{}
	for _, w := range all {
		stored[w.Rule+"|"+w.Company] = append(stored[w.Rule+"|"+w.Company], w)
	}
	for key, h := range history {
		var runs [][2]int
		for i := 0; i < len(h); i++ {
			if h[i] && (i == 0 || !h[i-1]) {
				runs = append(runs, [2]int{i, i})
			}
			if h[i] {
				runs[len(runs)-1][1] = i
			}
		}
		ws := stored[key]
		if len(ws) != len(runs) {
			t.Fatalf("%s: %d warnings for %d runs %v", key, len(ws), len(runs), h)
		}
		for k, r := range runs {
			w := ws[k]
			if r[1]-r[0] >= 2 {
				lasting++
			}
			wantClosed := ""
			if r[1]+1 < len(days) {
				wantClosed = days[r[1]+1].String()
			}
			if w.OpenedAsOf != days[r[0]].String() || w.LastSeenAsOf != days[r[1]].String() || w.ClosedAsOf != wantClosed {
				t.Fatalf("%s run %v: warning opened %s, last seen %s, closed %q", key, r, w.OpenedAsOf, w.LastSeenAsOf, w.ClosedAsOf)
			}
		}
		delete(stored, key)
	}
	if len(stored) != 0 {
		t.Fatalf("%d warnings without firings", len(stored))
	}
	t.Logf("%d firings, %d warnings; %d lasting three months or more; %d court warnings fired in the arrival month of a record two or more months late; %d contagion warnings; by rule %v",
		firings, len(all), lasting, late, contagion, byRule)
	if late == 0 || contagion == 0 || lasting == 0 {
		t.Fatalf("the scenario lacks a case: late %d, contagion %d, lasting %d", late, contagion, lasting)
	}
	for _, r := range lib.Rules {
		if byRule[r.ID] == 0 {
			t.Logf("rule %s never fired", r.ID)
		}
	}
}

var rowIndex = map[*features.Snapshot]map[string]int{}

// checkEvidence compares a firing's indicator evidence with the snapshots.
func checkEvidence(t *testing.T, lib *Library, in Input, f Firing) {
	t.Helper()
	val := func(s *features.Snapshot, id string) any {
		if s == nil {
			return nil
		}
		rows, ok := rowIndex[s]
		if !ok {
			rows = map[string]int{}
			for i, c := range s.Codes {
				rows[c] = i
			}
			rowIndex[s] = rows
		}
		i, ok := rows[f.Company]
		if !ok {
			return nil
		}
		x := s.Values[i*len(s.Names)+slices.Index(s.Names, id)]
		if math.IsNaN(x) {
			return nil
		}
		return x
	}
	r, _ := lib.Rule(f.Rule)
	if len(f.Evidence.Values) != len(r.indicators)+len(r.figures) {
		t.Fatalf("%s %s: %d evidence values for %d indicators and %d figures", f.Rule, f.Company, len(f.Evidence.Values), len(r.indicators), len(r.figures))
	}
	for _, v := range f.Evidence.Values[:len(r.indicators)] {
		if v.Now != val(in.Now, v.Name) || v.Before != val(in.Prev, v.Name) {
			t.Fatalf("%s %s: evidence %s = %v/%v, snapshots say %v/%v", f.Rule, f.Company, v.Name, v.Now, v.Before, val(in.Now, v.Name), val(in.Prev, v.Name))
		}
	}
}

func diff(want, got map[string]bool) (missing, extra []string) {
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}

func head(s []string) []string { return s[:min(len(s), 8)] }

func count(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}
