package serving

import (
	"context"
	"errors"
	"math"
	"testing"

	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/lab"
	xserving "github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

func TestCompanyProfileFromAssessment(t *testing.T) {
	e := servingtest.New(t)
	cat, err := xfeatures.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	c := NewCompanies(e.Service, cat)
	ctx := context.Background()
	regulator := lab.Principal{Principal: servingtest.Regulator}
	bank := lab.Principal{Principal: servingtest.WeihaiBank}
	other := lab.Principal{Principal: servingtest.OtherBank}

	// servingtest: Good pays tax 150 and is clean: pd = sigmoid(-3), rating B, blue, limit 960,000.
	good, err := c.Company(ctx, regulator, e.Good)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(good.PD-1/(1+math.Exp(3))) > 1e-9 || good.Rating != "B" || good.Colour != "blue" || good.Limit != 960000 {
		t.Fatalf("good: %+v", good)
	}
	// Bad: dishonest debtor in a circle with a default: rating D, red, limit 0.
	bad, err := c.Company(ctx, bank, e.Bad)
	if err != nil {
		t.Fatal(err)
	}
	if bad.Rating != "D" || bad.Colour != "red" || bad.Limit != 0 || len(bad.Reasons) == 0 || len(bad.Dimensions) == 0 {
		t.Fatalf("bad: %+v", bad)
	}
	if _, err := c.Company(ctx, other, e.Good); !errors.Is(err, lab.ErrForbidden) {
		t.Fatalf("bank without consent: %v", err)
	}
	if _, err := c.Company(ctx, regulator, e.Unknown); !errors.Is(err, lab.ErrNotFound) {
		t.Fatalf("unknown company: %v", err)
	}
	if _, err := c.Company(ctx, regulator, e.Good[:17]+"0"); err == nil {
		t.Fatal("a wrong check character was assessed")
	}
}

// history is a score history of fixed points per company.
type history map[string][]xserving.ScorePoint

func (h history) History(_ context.Context, code string) ([]xserving.ScorePoint, error) {
	return h[code], nil
}

// TestCompanyProfileHistory: the profile's PD-over-time chart reads the stored
// score history, under the same rule as the profile itself.
func TestCompanyProfileHistory(t *testing.T) {
	var h history
	e := servingtest.New(t, func(o *xserving.Options) { o.History = &h })
	h = history{e.Good: {{AsOf: "2025-09-30", PD: 0.04}, {AsOf: "2025-12-31", PD: 0.05}}}
	c := NewCompanies(e.Service, nil)
	got, err := c.Company(context.Background(), lab.Principal{Principal: servingtest.Regulator}, e.Good)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.History) != 2 || got.History[0] != (lab.ScorePoint{Month: "2025-09", PD: 0.04}) || got.History[1].Month != "2025-12" {
		t.Fatalf("history %+v", got.History)
	}
	if _, err := c.Company(context.Background(), lab.Principal{Principal: servingtest.OtherBank}, e.Good); !errors.Is(err, lab.ErrForbidden) {
		t.Fatalf("bank without consent: %v", err)
	}
}
