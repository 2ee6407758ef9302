package financing_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// TestStatsReproducible drives a random loop and recomputes the regulator's view
// from the test's own ledger of what it did.
func TestStatsReproducible(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		w := newWorld(t, db, assessments, directory)
		start := w.clk.Now()
		banks := []access.Principal{
			w.user(t, "Bank X", access.KindBank, "x", access.RoleBank),
			w.user(t, "Bank Y", access.KindBank, "y", access.RoleBank),
		}
		product := map[int64]int64{}
		for _, b := range banks {
			product[b.InstitutionID] = must3(t)(w.fin.CreateProduct(ctx, b, financing.ProductInput{Name: "p", LimitCap: 1e7, MaxTerm: 36, Rate: 0.05})).ID
		}
		regulator := w.user(t, "Shangyu AMR", access.KindRegulator, "reg", access.RoleRegulator)
		firms := []string{firmA, firmB, firmC}
		accounts := map[string]access.Principal{}
		for i, f := range firms {
			accounts[f] = w.company(t, "firm"+strconv.Itoa(i), f)
		}
		type want struct {
			requests, answered, approved, loans, first int
			demand, granted, unsecured, hours          float64
		}
		ledger := map[string]*want{}
		borrowed := map[string]bool{}
		rng := rand.New(rand.NewPCG(17, 1))
		guarantees := []financing.Guarantee{financing.Credit, financing.Guaranteed, financing.Mortgage, financing.Pledge}
		for range 40 {
			f := firms[rng.IntN(len(firms))]
			g := ledger[directory[f].District]
			if g == nil {
				g = &want{}
				ledger[directory[f].District] = g
			}
			amount := float64(1+rng.IntN(200)) * 10_000
			gt := guarantees[rng.IntN(len(guarantees))]
			req := must(w.fin.PostRequest(ctx, accounts[f], financing.RequestInput{Company: f, Amount: amount, Term: 12, Guarantee: gt}))(t)
			g.requests++
			g.demand += amount
			created := w.clk.Now()
			var firstAnswer time.Duration = -1
			var offers []financing.Offer
			for _, b := range banks {
				w.clk.Add(time.Duration(1+rng.IntN(48)) * time.Hour)
				switch rng.IntN(3) {
				case 0:
					o := must(w.fin.MakeOffer(ctx, b, req.ID, financing.OfferInput{ProductID: product[b.InstitutionID], Amount: amount, Rate: 0.05, Term: 12}))(t)
					offers = append(offers, o)
				case 1:
					if err := w.fin.Decline(ctx, b, req.ID, []string{"credit_risk"}); err != nil {
						t.Fatal(err)
					}
				default:
					continue
				}
				if firstAnswer < 0 {
					firstAnswer = w.clk.Now().Sub(created)
				}
			}
			if firstAnswer >= 0 {
				g.answered++
				g.hours += firstAnswer.Hours()
			}
			if len(offers) > 0 {
				g.approved++
				if rng.IntN(2) == 0 {
					o := offers[rng.IntN(len(offers))]
					must(w.fin.AcceptOffer(ctx, accounts[f], o.ID))(t)
					g.loans++
					g.granted += o.Amount
					if gt == financing.Credit {
						g.unsecured += o.Amount
					}
					if !borrowed[f] && !directory[f].HadLoan {
						g.first++
					}
					borrowed[f] = true
				} else if err := w.fin.WithdrawRequest(ctx, accounts[f], req.ID); err != nil {
					t.Fatal(err)
				}
			}
			w.clk.Add(time.Hour)
		}
		st := must(w.fin.Stats(ctx, regulator, financing.StatsQuery{From: start, To: w.clk.Now().Add(time.Second)}))(t)
		if len(st.Groups) != len(ledger) {
			t.Fatalf("%d groups, ledger has %d", len(st.Groups), len(ledger))
		}
		close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
		for _, got := range st.Groups {
			l := ledger[got.Key]
			if l == nil {
				t.Fatalf("group %q not in the ledger", got.Key)
			}
			wantRate, wantHours, wantShare := 0.0, 0.0, 0.0
			if l.answered > 0 {
				wantRate, wantHours = float64(l.approved)/float64(l.answered), l.hours/float64(l.answered)
			}
			if l.granted > 0 {
				wantShare = l.unsecured / l.granted
			}
			if got.Requests != l.requests || got.Answered != l.answered || got.Approved != l.approved || got.Loans != l.loans ||
				got.FirstLoans != l.first || !close(got.Demand, l.demand) || !close(got.Granted, l.granted) ||
				!close(got.ApprovalRate, wantRate) || !close(got.MeanHoursToDecision, wantHours) || !close(got.UnsecuredShare, wantShare) {
				t.Errorf("district %s: got %+v, ledger %+v", got.Key, got, *l)
			}
		}
		var buf bytes.Buffer
		if err := st.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(st.Groups)+2 || recs[len(recs)-1][0] != "total" || recs[len(recs)-1][1] != "40" {
			t.Fatalf("CSV %v", recs)
		}
	})
}
