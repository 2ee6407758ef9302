package financing

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	env := Env{Rating: "B", Colour: "green", Industry: "C", Age: 3.5, Limit: 800_000, PD: 0.04, District: "330604",
		Amount: 500_000, Term: 12, Guarantee: "credit", Size: "small"}
	tests := []struct {
		rule string
		want bool
	}{
		{``, true},
		{`rating_rank(rating) <= 2 && pd < 0.05`, true},
		{`rating_rank(rating) <= 1`, false},
		{`colour_rank(colour) <= 2 && limit >= amount`, true},
		{`industry in ["A", "F"]`, false},
		{`age >= 3 && district startsWith "3306" && term <= 12 && guarantee == "credit" && size != "large"`, true},
		{`amount > limit`, false},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			r, err := CompileRule(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Eval(&env, nil)
			if err != nil || got != tt.want {
				t.Fatalf("got %v (%v), want %v", got, err, tt.want)
			}
		})
	}
	unknownAge := env
	unknownAge.Age = math.NaN()
	if r, _ := CompileRule(`num(age) && age >= 2`); must(r.Eval(&unknownAge, nil)) {
		t.Fatal("an unknown age passed num(age)")
	}
	for _, bad := range []string{`pd +`, `rating`, `bogus > 1`, strings.Repeat("x", MaxRuleLen+1)} {
		if _, err := CompileRule(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CompileRule(%.20q): %v, want ErrInvalid", bad, err)
		}
	}
}

func must(ok bool, err error) bool {
	if err != nil {
		panic(err)
	}
	return ok
}

// FuzzCompileRule: a bank's rule text never crashes compilation or evaluation.
func FuzzCompileRule(f *testing.F) {
	for _, s := range []string{``, `pd < 0.05`, `rating_rank(rating) <= 2 && industry in ["C"]`, `age / 0 > 1`, `"a" + 1`, `amount > limit ? true : false`} {
		f.Add(s)
	}
	env := Env{Rating: "A", Colour: "blue", Age: math.NaN(), Limit: 1, PD: 0.1, Amount: 2, Term: 1}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := CompileRule(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		_, _ = r.Eval(&env, nil)
	})
}
