package datasets

import (
	"context"
	"errors"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

func generateSmall(t *testing.T, o GenerateOptions) (*memStore, Summary) {
	t.Helper()
	store := newMemStore()
	s, err := Generate(context.Background(), store, o)
	if err != nil {
		t.Fatal(err)
	}
	return store, s
}

func TestGenerateDeterministic(t *testing.T) {
	base := GenerateOptions{Companies: 1500, Months: 8, Seed: 42, ShardSize: 600}
	one := base
	one.Workers = 1
	two := base
	two.Workers = 2
	a, sa := generateSmall(t, one)
	b, sb := generateSmall(t, two)
	if len(a.objs) == 0 || len(a.objs) != len(b.objs) {
		t.Fatalf("files: %d vs %d", len(a.objs), len(b.objs))
	}
	// 13 sources x 8 months x 3 shards.
	if want := 13 * 8 * 3; sa.Files != want || len(a.objs) != want {
		t.Errorf("files = %d (summary %d), want %d", len(a.objs), sa.Files, want)
	}
	for k, v := range a.objs {
		w, ok := b.objs[k]
		if !ok || string(v) != string(w) {
			t.Fatalf("%s differs between 1 and 2 workers", k)
		}
	}
	if sa.TotalRows() != sb.TotalRows() || sa.Bytes != sb.Bytes {
		t.Errorf("summaries differ: %v vs %v", sa, sb)
	}
	other := base
	other.Seed = 43
	c, _ := generateSmall(t, other)
	same := 0
	for k, v := range a.objs {
		if string(c.objs[k]) == string(v) {
			same++
		}
	}
	if same > len(a.objs)/4 {
		t.Errorf("seed 43 reproduced %d of %d files of seed 42", same, len(a.objs))
	}
}

func TestGenerateBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    GenerateOptions
		want string
	}{
		{"zero companies", GenerateOptions{Companies: 0, Months: 12}, "companies must be between 1 and 10,000,000, got 0"},
		{"negative companies", GenerateOptions{Companies: -5, Months: 12}, "got -5"},
		{"zero months", GenerateOptions{Companies: 10, Months: 0}, "months must be between 1 and 240, got 0"},
		{"too many months", GenerateOptions{Companies: 10, Months: 500}, "got 500"},
		{"negative shard", GenerateOptions{Companies: 10, Months: 2, ShardSize: -1}, "shard size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			_, err := Generate(context.Background(), store, tc.o)
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalidOptions containing %q", err, tc.want)
			}
			if len(store.objs) != 0 {
				t.Errorf("%d files written on bad options", len(store.objs))
			}
		})
	}
}

// readAll reads every month of a source back through ReadMonth.
func readAll[T Row](t *testing.T, store *memStore, name string) map[Month][]T {
	t.Helper()
	src, err := SourceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	months, err := Months(ctx, store, src)
	if err != nil {
		t.Fatal(err)
	}
	out := map[Month][]T{}
	for _, m := range months {
		rows, err := ReadMonth[T](ctx, store, src, m)
		if err != nil {
			t.Fatal(err)
		}
		out[m] = rows
	}
	return out
}

// timing is the part every row shares.
type timing struct {
	code           string
	event, arrival Day
	revision       int32
}

func checkTiming(t *testing.T, name string, start, end Month, byMonth map[Month][]timing, clamp bool) (late, corrections int) {
	t.Helper()
	for m, rows := range byMonth {
		for _, r := range rows {
			if r.arrival < r.event {
				t.Fatalf("%s %s: arrival %s before event %s", name, r.code, r.arrival, r.event)
			}
			em := r.event.Month()
			if clamp {
				em = max(em, start)
			}
			if em != m {
				t.Fatalf("%s %s: event %s in partition %s", name, r.code, r.event, m)
			}
			if r.event.Month() > end {
				t.Fatalf("%s %s: event %s after the last month %s", name, r.code, r.event, end)
			}
			if r.arrival-r.event > 60 {
				late++
			}
			if r.revision > 0 {
				corrections++
			}
		}
	}
	return late, corrections
}

func timings[T Row](in map[Month][]T, f func(*T) timing) map[Month][]timing {
	out := map[Month][]timing{}
	for m, rows := range in {
		for i := range rows {
			out[m] = append(out[m], f(&rows[i]))
		}
	}
	return out
}

func TestGenerateTables(t *testing.T) {
	o := GenerateOptions{Companies: 3000, Months: 24, Seed: 7, ShardSize: 1024}
	store, sum := generateSmall(t, o)
	start := Month(2023 * 12)
	end := start + 23

	companies := readAll[CompanyRow](t, store, SourceCompanies)
	codes := map[string]bool{}
	for _, rows := range companies {
		for _, c := range rows {
			if err := creditcode.Validate(c.Code); err != nil {
				t.Fatalf("company %s: %v", c.Name, err)
			}
			if codes[c.Code] {
				t.Fatalf("code %s appears twice", c.Code)
			}
			codes[c.Code] = true
			if c.Code[2:8] != c.District {
				t.Errorf("code %s not in district %s", c.Code, c.District)
			}
			if c.SubscribedCapital > c.RegisteredCapital || c.PaidInCapital > c.SubscribedCapital {
				t.Errorf("%s: capital registered %v subscribed %v paid %v", c.Code, c.RegisteredCapital, c.SubscribedCapital, c.PaidInCapital)
			}
		}
	}
	if len(codes) != o.Companies || sum.Rows[SourceCompanies] != int64(o.Companies) {
		t.Fatalf("companies = %d (summary %d), want %d", len(codes), sum.Rows[SourceCompanies], o.Companies)
	}

	// Industry mix (GB/T 4754 sections) close to the stated shares.
	sections := map[string]int{}
	for _, rows := range companies {
		for _, c := range rows {
			sections[c.Industry]++
		}
	}
	for sec, want := range map[string]float64{"F": 0.36, "C": 0.18, "L": 0.09} {
		got := float64(sections[sec]) / float64(o.Companies)
		if math.Abs(got-want) > 0.03 {
			t.Errorf("industry %s share = %.3f, want about %.2f", sec, got, want)
		}
	}

	// Heavy-tailed sizes: most firms are small, a few are very large.
	var insured []float64
	for _, r := range readAll[SocialInsuranceRow](t, store, SourceSocialInsurance)[start+11] {
		if r.Revision == 0 {
			insured = append(insured, float64(r.Insured))
		}
	}
	sort.Float64s(insured)
	median, p99 := insured[len(insured)/2], insured[len(insured)*99/100]
	if median > 10 || p99 < 20*median {
		t.Errorf("insured headcount: median %v, 99th percentile %v; want a small median and a heavy tail", median, p99)
	}

	tax := readAll[TaxRow](t, store, SourceTax)
	// Seasonality: the Spring Festival month sells less than January.
	sales := func(m Month) float64 {
		s := 0.0
		for _, r := range tax[m] {
			if r.Revision == 0 {
				s += r.Sales
			}
		}
		return s
	}
	if jan, feb := sales(start+12), sales(start+13); feb >= 0.95*jan {
		t.Errorf("February sales %.0f not below January %.0f", feb, jan)
	}
	late, corr := checkTiming(t, "tax", start, end, timings(tax, func(r *TaxRow) timing {
		return timing{r.Code, r.EventDate, r.ArrivalDate, r.Revision}
	}), false)
	if late == 0 || corr == 0 {
		t.Errorf("tax: %d late records, %d corrections; want some of each", late, corr)
	}
	// Monthly records sit on the last day of their month; corrections repeat the
	// key with a later arrival; some company-months are missing.
	seen := map[string]TaxRow{}
	perCode := map[string]int{}
	for _, rows := range tax {
		for _, r := range rows {
			if !codes[r.Code] {
				t.Fatalf("tax row for unknown code %s", r.Code)
			}
			if r.EventDate != r.EventDate.Month().LastDay() {
				t.Fatalf("tax event %s is not a month end", r.EventDate)
			}
			key := r.Code + r.EventDate.String()
			if r.Revision == 0 {
				if _, dup := seen[key]; dup {
					t.Fatalf("two first deliveries for %s", key)
				}
				seen[key] = r
				perCode[r.Code]++
			}
		}
	}
	for _, rows := range tax {
		for _, r := range rows {
			if r.Revision > 0 {
				first, ok := seen[r.Code+r.EventDate.String()]
				if !ok || first.ArrivalDate >= r.ArrivalDate {
					t.Fatalf("correction %s %s without an earlier first delivery", r.Code, r.EventDate)
				}
			}
		}
	}
	gaps := 0
	for code := range codes {
		if perCode[code] < 24 {
			gaps++
		}
	}
	if gaps == 0 {
		t.Error("no company has a missing tax month")
	}

	check := func(name string, byMonth map[Month][]timing, clamp bool) {
		checkTiming(t, name, start, end, byMonth, clamp)
		for m := start; m <= end; m++ {
			if _, ok := byMonth[m]; !ok {
				t.Errorf("%s: no files for %s", name, m)
			}
		}
	}
	check("social_insurance", timings(readAll[SocialInsuranceRow](t, store, SourceSocialInsurance), func(r *SocialInsuranceRow) timing {
		return timing{r.Code, r.EventDate, r.ArrivalDate, r.Revision}
	}), false)
	check("utilities", timings(readAll[UtilitiesRow](t, store, SourceUtilities), func(r *UtilitiesRow) timing {
		return timing{r.Code, r.EventDate, r.ArrivalDate, r.Revision}
	}), false)
	check("court", timings(readAll[CourtRow](t, store, SourceCourt), func(r *CourtRow) timing {
		return timing{r.Code, r.EventDate, r.ArrivalDate, r.Revision}
	}), false)
	check("penalty", timings(readAll[PenaltyRow](t, store, SourcePenalty), func(r *PenaltyRow) timing {
		return timing{r.Code, r.EventDate, r.ArrivalDate, r.Revision}
	}), false)
	loans := readAll[LoanRow](t, store, SourceLoan)
	check("loan", timings(loans, func(r *LoanRow) timing {
		return timing{r.Code, r.EventDate, r.ArrivalDate, r.Revision}
	}), false)
	labels := readAll[LabelRow](t, store, SourceLabels)
	check("labels", timings(labels, func(r *LabelRow) timing {
		return timing{r.Code, r.EventDate, r.ArrivalDate, r.Revision}
	}), false)
	guarantees := readAll[GuaranteeRow](t, store, SourceGuarantee)
	check("guarantee", timings(guarantees, func(r *GuaranteeRow) timing {
		return timing{r.Code, r.EventDate, r.ArrivalDate, r.Revision}
	}), true)

	// Every default label follows a loan that went 90+ days overdue by then.
	maxOverdue := map[string]int32{}
	for _, rows := range loans {
		for _, r := range rows {
			maxOverdue[r.Code] = max(maxOverdue[r.Code], r.OverdueDays)
		}
	}
	defaults := 0
	for _, rows := range labels {
		for _, r := range rows {
			if r.Kind == LabelDefault {
				defaults++
				if maxOverdue[r.Code] < 60 {
					t.Errorf("default of %s on %s but its loans were at most %d days overdue", r.Code, r.EventDate, maxOverdue[r.Code])
				}
			}
		}
	}
	if defaults == 0 || int64(defaults) != sum.Defaults {
		t.Errorf("default labels = %d, summary %d", defaults, sum.Defaults)
	}

	// The guarantee graph read back from the files has circles.
	next := map[string][]string{}
	for _, rows := range guarantees {
		for _, g := range rows {
			if !codes[g.BorrowerCode] || g.BorrowerCode == g.Code || g.EndDate <= g.StartDate {
				t.Fatalf("bad guarantee %+v", g)
			}
			next[g.Code] = append(next[g.Code], g.BorrowerCode)
		}
	}
	if c := countCycles(next); c == 0 {
		t.Error("guarantee graph has no circle")
	} else {
		t.Logf("guarantee graph: %d guarantors, %d nodes on circles", len(next), c)
	}
}

// countCycles returns the number of nodes that lie on a directed cycle
// (Tarjan's strongly connected components of size > 1).
func countCycles(next map[string][]string) int {
	index := map[string]int{}
	low := map[string]int{}
	on := map[string]bool{}
	var stack []string
	n, onCycle := 0, 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = n, n
		n++
		stack = append(stack, v)
		on[v] = true
		for _, w := range next[v] {
			if _, ok := index[w]; !ok {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			size := 0
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				size++
				if w == v {
					break
				}
			}
			if size > 1 {
				onCycle += size
			}
		}
	}
	keys := make([]string, 0, len(next))
	for k := range next {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := index[k]; !ok {
			visit(k)
		}
	}
	return onCycle
}

// TestLabelRates checks the stated targets on a latent-only universe of 60,000
// companies over 36 months: annual default rate of borrowers 2-5%, annual
// violation-found rate 5-10%, default rate rising across every decile of latent
// health, violation rate rising across quintiles of violation propensity, and
// guarantors of a distressed borrower falling into distress more often.
func TestLabelRates(t *testing.T) {
	o, err := GenerateOptions{Companies: 100_000, Months: 36, Seed: 1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	u, err := newUniverse(o, o.Workers)
	if err != nil {
		t.Fatal(err)
	}
	end := o.Start + Month(o.Months)
	var borrowerYears, companyYears, defaults, violations float64
	type pair struct {
		x   float64
		hit bool
	}
	var health, propensity []pair
	for i := range u.companies {
		c := &u.companies[i]
		years := float64(end-c.firstM) / 12
		companyYears += years
		nv := 0
		for tm := range o.Months {
			if u.violated(i, tm) {
				nv++
			}
		}
		violations += float64(nv)
		propensity = append(propensity, pair{c.viol, nv > 0})
		if c.borrower {
			borrowerYears += years
			d := u.defaultDay(i)
			hit := d != 0 && d.Month() < end
			if hit {
				defaults++
			}
			health = append(health, pair{-c.mu, hit})
		}
	}
	if rate := defaults / borrowerYears; rate < 0.02 || rate > 0.05 {
		t.Errorf("annual default rate of borrowers = %.4f, want 0.02-0.05", rate)
	} else {
		t.Logf("annual default rate of borrowers = %.4f", rate)
	}
	if rate := violations / companyYears; rate < 0.05 || rate > 0.10 {
		t.Errorf("annual violation-found rate = %.4f, want 0.05-0.10", rate)
	} else {
		t.Logf("annual violation-found rate = %.4f", rate)
	}
	rates := func(ps []pair, groups int) []float64 {
		sort.Slice(ps, func(a, b int) bool { return ps[a].x < ps[b].x })
		out := make([]float64, groups)
		for g := range groups {
			lo, hi := g*len(ps)/groups, (g+1)*len(ps)/groups
			n := 0
			for _, p := range ps[lo:hi] {
				if p.hit {
					n++
				}
			}
			out[g] = float64(n) / float64(hi-lo)
		}
		return out
	}
	// Healthier deciles (higher -mu) default less: rates fall across deciles.
	dr := rates(health, 10)
	for g := 1; g < len(dr); g++ {
		if dr[g] >= dr[g-1] {
			t.Errorf("default rate by decile of latent health not falling: %v", dr)
			break
		}
	}
	t.Logf("3-year default rate by decile of latent health (worst to best): %.3f", dr)
	vr := rates(propensity, 5)
	for g := 1; g < len(vr); g++ {
		if vr[g] <= vr[g-1] {
			t.Errorf("violation rate by quintile of propensity not rising: %v", vr)
			break
		}
	}
	t.Logf("3-year violation rate by quintile of propensity: %.3f", vr)

	// Contagion: of guarantors whose borrower fell into distress under a
	// contract in force, how many fall into distress in the next 12 months,
	// against borrowers of the same latent health over the same months.
	var exposed, exposedHit, baseHit float64
	for b := range u.companies {
		ob := u.onsetMonth(b)
		if ob < 0 || ob+12 >= o.Months {
			continue
		}
		for _, k := range u.guarOf[b] {
			e := &u.edges[k]
			g := int(e.guarantor)
			if e.start > u.due[b] || u.due[b] > e.end {
				continue
			}
			og := u.onsetMonth(g)
			if og >= 0 && og <= ob {
				continue // already distressed
			}
			exposed++
			if og > ob && og <= ob+12 {
				exposedHit++
			}
			baseHit += 1 - math.Pow(1-sigmoid(u.companies[g].mu), 12)
		}
	}
	if exposed < 50 {
		t.Fatalf("only %v exposed guarantors", exposed)
	}
	got, base := exposedHit/exposed, baseHit/exposed
	t.Logf("%v exposed guarantors of a distressed borrower: %.3f distressed within 12 months; expected without contagion about %.3f", exposed, got, base)
	if got < 1.5*base {
		t.Errorf("contagion too weak: %.3f vs %.3f", got, base)
	}
}

func TestGenerateTiny(t *testing.T) {
	store, sum := generateSmall(t, GenerateOptions{Companies: 1, Months: 1, Seed: 9})
	if sum.Rows[SourceCompanies] != 1 || sum.Files != len(Sources()) || len(store.objs) != len(Sources()) {
		t.Errorf("one company, one month: %v, %d files", sum, len(store.objs))
	}
}

func TestGenerateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Generate(ctx, newMemStore(), GenerateOptions{Companies: 5000, Months: 6, Seed: 1})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// checkFileOrder reads every part of a source on its own and checks the
// documented order: by code, then event_date, then revision.
func checkFileOrder[T Row](t *testing.T, store *memStore, name string, key func(*T) (string, Day, int32)) {
	t.Helper()
	src, _ := SourceByName(name)
	infos, err := store.List(context.Background(), src.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		rows, err := ReadRaw[T](context.Background(), store, in.Key)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(rows); i++ {
			c0, d0, r0 := key(&rows[i-1])
			c1, d1, r1 := key(&rows[i])
			if c0 > c1 || (c0 == c1 && (d0 > d1 || (d0 == d1 && r0 > r1 && name != SourceCourt))) {
				t.Fatalf("%s: row %d (%s %s rev %d) after (%s %s rev %d)", in.Key, i, c1, d1, r1, c0, d0, r0)
			}
		}
	}
}

func TestGenerateFileOrder(t *testing.T) {
	store, _ := generateSmall(t, GenerateOptions{Companies: 2500, Months: 6, Seed: 4, ShardSize: 1000})
	checkFileOrder(t, store, SourceTax, func(r *TaxRow) (string, Day, int32) { return r.Code, r.EventDate, r.Revision })
	checkFileOrder(t, store, SourceCourt, func(r *CourtRow) (string, Day, int32) { return r.Code, r.EventDate, r.Revision })
	checkFileOrder(t, store, SourceGuarantee, func(r *GuaranteeRow) (string, Day, int32) { return r.Code, r.EventDate, r.Revision })
	checkFileOrder(t, store, SourceCompanies, func(r *CompanyRow) (string, Day, int32) { return r.Code, 0, r.Revision })
	checkFileOrder(t, store, SourceLabels, func(r *LabelRow) (string, Day, int32) { return r.Code, r.EventDate, r.Revision })
}
