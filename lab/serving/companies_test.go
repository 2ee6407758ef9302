package serving

import (
	"context"
	"errors"
	"math"
	"testing"

	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/lab"
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
