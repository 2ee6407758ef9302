package servingassess_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/financing/servingassess"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

func TestAssess(t *testing.T) {
	env := servingtest.New(t)
	a := servingassess.New(env.Service)
	ctx := context.Background()
	got, err := a.Assess(ctx, env.Bank, env.Good)
	if err != nil {
		t.Fatal(err)
	}
	// The environment's Good company: pd = sigmoid(-3), rating B, blue, limit 960,000.
	if want := 1 / (1 + math.Exp(3)); math.Abs(got.PD-want) > 1e-9 || got.Rating != "B" || got.Colour != "blue" || got.Limit != 960_000 {
		t.Fatalf("assessment %+v, want pd %v B blue 960000", got, want)
	}
	if got.PolicyVersion != "svc-1" || len(got.Models) != 3 || !strings.HasPrefix(got.Models[0], "pd:") {
		t.Fatalf("versions %+v", got)
	}
	tests := []struct {
		name string
		p    access.Principal
		code string
		want error
	}{
		{"no consent", servingtest.OtherBank, env.Good, access.ErrConsentRequired},
		{"no role", servingtest.LabUser, env.Good, access.ErrForbidden},
		{"unknown company", servingtest.Regulator, env.Unknown, financing.ErrNotFound},
		{"bad code", servingtest.Regulator, "91330604MA4UJ7K2XX", financing.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.Assess(ctx, tt.p, tt.code); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
