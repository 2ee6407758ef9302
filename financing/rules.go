package financing

import (
	"fmt"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"math"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// MaxRuleLen bounds the text of an eligibility rule.
const MaxRuleLen = 4096

// Env is what an eligibility rule sees of one request (or one pushed company):
// the platform's assessment, the company's attributes and what it asks for.
type Env struct {
	Rating    string  `expr:"rating"`    // A..D
	Colour    string  `expr:"colour"`    // blue, green, yellow, red
	Industry  string  `expr:"industry"`  // GB/T 4754 section letter
	Age       float64 `expr:"age"`       // years since founding; NaN when unknown
	Limit     float64 `expr:"limit"`     // the platform's pre-credit limit, 元
	PD        float64 `expr:"pd"`        // probability of default
	District  string  `expr:"district"`  // 6-digit division code
	Amount    float64 `expr:"amount"`    // requested amount, 元
	Term      int     `expr:"term"`      // requested term, months
	Guarantee string  `expr:"guarantee"` // credit, guarantee, mortgage, pledge
	Size      string  `expr:"size"`      // micro, small, medium, large
}

// Rule is an eligibility rule compiled once: an expr-lang expression over Env
// that must give a boolean ("rating_rank(rating) <= 2 && pd < 0.05 && amount <= 3e6").
// The empty rule admits everyone.
type Rule struct {
	Text    string
	program *vm.Program
}

// CompileRule compiles text, naming what is wrong in a clear error.
func CompileRule(text string) (*Rule, error) {
	if len(text) > MaxRuleLen {
		return nil, fmt.Errorf("%w: rule of %d bytes, at most %d", ErrInvalid, len(text), MaxRuleLen)
	}
	src := text
	if src == "" {
		src = "true"
	}
	p, err := expr.Compile(src, ruleOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: rule %q: %v", ErrInvalid, text, err)
	}
	return &Rule{Text: text, program: p}, nil
}

func ruleOptions() []expr.Option {
	return []expr.Option{
		expr.Env(Env{}),
		expr.AsBool(),
		expr.Function("rating_rank", func(ps ...any) (any, error) { return RatingRank(ps[0].(string)), nil }, new(func(string) int)),
		expr.Function("colour_rank", func(ps ...any) (any, error) { return ColourRank(ps[0].(string)), nil }, new(func(string) int)),
		expr.Function("num", func(ps ...any) (any, error) { return !math.IsNaN(ps[0].(float64)), nil }, new(func(float64) bool)),
	}
}

// Eval runs the rule on env with m (reused between calls of one goroutine; nil
// allocates one).
func (r *Rule) Eval(env *Env, m *vm.VM) (bool, error) {
	if m == nil {
		m = &vm.VM{}
	}
	out, err := m.Run(r.program, env)
	if err != nil {
		return false, fmt.Errorf("financing: rule %q: %w", r.Text, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("financing: rule %q gave %T, not a boolean", r.Text, out)
	}
	return b, nil
}

// RatingRank ranks a rating from A (1) to D (4); 0 for anything else
// (policy's order).
func RatingRank(r string) int { return policy.Rating(r).Rank() + 1 }

// ColourRank ranks a four-colour risk code from blue (1) to red (4); 0 for
// anything else (policy's order).
func ColourRank(c string) int { return policy.Colour(c).Rank() + 1 }
