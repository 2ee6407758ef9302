package financing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// memAssessor is a fast in-memory assessor standing in for serving in the
// matching benchmark: it returns a stored assessment per company (a real
// assessment is serving's own benchmark).
type memAssessor map[string]Assessment

func (m memAssessor) Assess(_ context.Context, _ access.Principal, code string) (Assessment, error) {
	a, ok := m[code]
	if !ok {
		return Assessment{}, fmt.Errorf("no assessment for %s", code)
	}
	return a, nil
}

type memDirectory map[string]Company

func (m memDirectory) Company(_ context.Context, code string) (Company, error) { return m[code], nil }

// matchFixture is n requests from distinct companies and banks×3 products.
func matchFixture(tb testing.TB, n, banks int) ([]Request, []Product, memAssessor, memDirectory) {
	rng := rand.New(rand.NewPCG(1, 2))
	ratings, colours := []string{"A", "B", "C", "D"}, []string{"blue", "green", "yellow", "red"}
	industries := []string{"A", "C", "F", "G", "I", "M"}
	districts := []string{"330602", "330603", "330604", "330681", "330683"}
	gs := []Guarantee{Credit, Guaranteed, Mortgage, Pledge}
	as, ds := memAssessor{}, memDirectory{}
	now := time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC)
	reqs := make([]Request, n)
	for i := range reqs {
		code, err := creditcode.New('9', '1', districts[i%len(districts)], fmt.Sprintf("%08d", i))
		if err != nil {
			tb.Fatal(err)
		}
		r := rng.IntN(4)
		as[code] = Assessment{PD: 0.01 + 0.1*float64(r)*rng.Float64(), Rating: ratings[r], Colour: colours[rng.IntN(4)],
			Limit: float64(rng.IntN(300)) * 10_000, Models: []string{"pd:pd-smb/7"}, PolicyVersion: "p1"}
		ds[code] = Company{Code: code, Industry: industries[rng.IntN(len(industries))], District: districts[i%len(districts)],
			Size: "small", Founded: now.AddDate(-rng.IntN(20), 0, 0)}
		reqs[i] = Request{ID: int64(i + 1), Company: code, Amount: float64(1+rng.IntN(300)) * 10_000, Term: 6 * (1 + rng.IntN(6)),
			Guarantee: gs[rng.IntN(4)], Status: StatusOpen}
	}
	templates := []string{
		`rating_rank(rating) <= %d && pd < 0.0%d && age >= 2`,
		`colour_rank(colour) <= %d && limit >= amount * 0.%d && district startsWith "3306"`,
		`industry in ["C", "F", "G"] && term <= %d && guarantee != "pledge" && pd < 0.%d`,
	}
	var products []Product
	for b := range banks {
		for k, tpl := range templates {
			r, err := CompileRule(fmt.Sprintf(tpl, 1+(b+k)%4, 2+b%7))
			if err != nil {
				tb.Fatal(err)
			}
			products = append(products, Product{ID: int64(len(products) + 1), BankID: int64(b + 1), Rule: r.Text, rule: r,
				LimitCap: float64(1+b%5) * 1_000_000, MaxTerm: 12 * (1 + k)})
		}
	}
	return reqs, products, as, ds
}

// BenchmarkMatch: 10,000 requests matched against 20 banks' product rules (three
// each), assessments included from a fast in-memory assessor.
func BenchmarkMatch(b *testing.B) {
	reqs, products, as, ds := matchFixture(b, 10_000, 20)
	now := time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	b.ReportAllocs()
	var matched int
	for b.Loop() {
		m := &Matcher{Assessor: as, Directory: ds, Now: func() time.Time { return now }}
		out, err := m.Match(ctx, reqs, products)
		if err != nil {
			b.Fatal(err)
		}
		matched = len(out)
	}
	b.ReportMetric(float64(matched), "matched")
}

// TestMatchAgreesWithDirectEvaluation checks the matcher against each rule
// evaluated on its own, and that the fixture matches neither everything nor
// nothing.
func TestMatchAgreesWithDirectEvaluation(t *testing.T) {
	reqs, products, as, ds := matchFixture(t, 500, 20)
	now := time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC)
	m := &Matcher{Assessor: as, Directory: ds, Now: func() time.Time { return now }}
	out, err := m.Match(context.Background(), reqs, products)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64][]int64{}
	total := 0
	for _, mt := range out {
		got[mt.Request.ID] = mt.Products
		total += len(mt.Products)
	}
	if total == 0 || total == len(reqs)*len(products) {
		t.Fatalf("%d matches of %d pairs: the fixture does not discriminate", total, len(reqs)*len(products))
	}
	for i := range reqs {
		r := &reqs[i]
		a, c := as[r.Company], ds[r.Company]
		age := now.Sub(c.Founded).Hours() / (24 * 365.25)
		var want []int64
		for _, p := range products {
			// A second evaluation path: compile the rule afresh and build the
			// environment by hand.
			rule, err := CompileRule(p.Rule)
			if err != nil {
				t.Fatal(err)
			}
			env := Env{Rating: a.Rating, Colour: a.Colour, Industry: c.Industry, Age: age, Limit: a.Limit, PD: a.PD, District: c.District,
				Amount: r.Amount, Term: r.Term, Guarantee: string(r.Guarantee), Size: c.Size}
			ok, err := rule.Eval(&env, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ok && r.Amount <= p.LimitCap && r.Term <= p.MaxTerm {
				want = append(want, p.ID)
			}
		}
		if fmt.Sprint(got[r.ID]) != fmt.Sprint(want) {
			t.Fatalf("request %d: matched %v, want %v", r.ID, got[r.ID], want)
		}
	}
}
