package warnings

import (
	_ "embed"
	"errors"
	"fmt"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"math"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/xinyi-platform/xinyi/features"
)

var (
	// ErrRule: a rule library does not load (bad YAML, a missing field, an unknown
	// indicator, a condition that does not compile).
	ErrRule = errors.New("warnings: invalid rule")
	// ErrInput: evaluation input that cannot be used (no snapshot, a snapshot
	// without an indicator the rules read, dates out of order).
	ErrInput = errors.New("warnings: invalid input")
)

//go:embed rules.yaml
var defaultRules []byte

// Severity is the colour of a warning: red is the gravest.
type Severity string

// The severities, gravest first.
const (
	Red    Severity = "red"
	Yellow Severity = "yellow"
	Blue   Severity = "blue"
)

// Kind says whether a rule describes a standing condition or a change.
type Kind string

// The kinds of rule.
const (
	// State rules read the present only (v, has and current figures).
	State Kind = "state"
	// Event rules describe a change since the previous date.
	Event Kind = "event"
)

// Rule is one warning point.
type Rule struct {
	ID          string   `yaml:"id" json:"id"`
	Area        string   `yaml:"area" json:"area"`
	NameZh      string   `yaml:"name_zh" json:"name_zh"`
	NameEn      string   `yaml:"name_en" json:"name_en"`
	RationaleZh string   `yaml:"rationale_zh" json:"rationale_zh"`
	RationaleEn string   `yaml:"rationale_en" json:"rationale_en"`
	Severity    Severity `yaml:"severity" json:"severity"`
	Department  string   `yaml:"department" json:"department"`
	Kind        Kind     `yaml:"kind" json:"kind"`
	When        string   `yaml:"when" json:"when"`
	// OnBatch, when set, makes the rule fire as soon as a batch of its source's
	// records commits (see OnBatch), not only at the next as-of date.
	OnBatch *OnBatch `yaml:"on_batch,omitempty" json:"on_batch,omitempty"`

	program *vm.Program
	// indicators are the indicator ids the condition reads (v, prev, has, had),
	// figures the score and network figures (base names: rating for rating and
	// prev_rating).
	indicators []string
	figures    []string
	network    bool // reads circle facts
	readsPrev  bool
}

// Indicators are the indicator ids the rule's condition reads.
func (r *Rule) Indicators() []string { return slices.Clone(r.indicators) }

// Figures are the score-history and network figures the rule's condition reads.
func (r *Rule) Figures() []string { return slices.Clone(r.figures) }

// Library is a loaded, compiled rule library.
type Library struct {
	Version string
	Rules   []*Rule
	// columns are the indicators any rule reads; Env.Now and Env.Prev hold them in
	// this order.
	columns []string
	column  map[string]int
	byID    map[string]*Rule
	// sensitivity of each indicator read (public, restricted, confidential).
	sensitivity map[string]string
}

// Rule returns a rule by id.
func (l *Library) Rule(id string) (*Rule, bool) { r, ok := l.byID[id]; return r, ok }

// Indicators are the indicators the library reads: a snapshot evaluated must hold
// them all.
func (l *Library) Indicators() []string { return slices.Clone(l.columns) }

// DefaultLibrary loads the embedded rule library against the default catalog.
func DefaultLibrary() (*Library, error) {
	cat, err := features.DefaultCatalog()
	if err != nil {
		return nil, err
	}
	return Load(defaultRules, cat)
}

// DefaultRules returns the embedded rules.yaml.
func DefaultRules() []byte { return slices.Clone(defaultRules) }

type file struct {
	Version string  `yaml:"version"`
	Rules   []*Rule `yaml:"rules"`
}

// figure names an identifier of Env a condition may read, and its base name.
var figureBase = map[string]string{
	"scored": "scored", "prev_scored": "scored",
	"rating": "rating", "prev_rating": "rating",
	"colour": "colour", "prev_colour": "colour",
	"pd": "pd", "prev_pd": "pd",
	"limit": "limit", "prev_limit": "limit",
	"status": "status", "prev_status": "status",
	"circle_size": "circle_size", "circle_red": "circle_red", "circle_red_new": "circle_red_new",
}

var networkFigures = map[string]bool{"circle_size": true, "circle_red": true, "circle_red_new": true}

// indicator functions: name → (reads the previous date, wraps in num()).
var indicatorFuncs = map[string]struct{ prev, has bool }{
	"v": {false, false}, "prev": {true, false}, "has": {false, true}, "had": {true, true},
}

// Load parses and compiles a rule library; every indicator a rule names must be in
// cat. Errors name the rule at fault.
func Load(data []byte, cat *features.Catalog) (*Library, error) {
	var f file
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: rules YAML: %v", ErrRule, err)
	}
	if strings.TrimSpace(f.Version) == "" {
		return nil, fmt.Errorf("%w: the library has no version", ErrRule)
	}
	if len(f.Rules) == 0 {
		return nil, fmt.Errorf("%w: the library has no rules", ErrRule)
	}
	l := &Library{Version: f.Version, column: map[string]int{}, byID: map[string]*Rule{}, sensitivity: map[string]string{}}
	for i, r := range f.Rules {
		if err := l.check(i, r); err != nil {
			return nil, err
		}
		if err := l.parse(r, cat); err != nil {
			return nil, err
		}
		l.Rules = append(l.Rules, r)
		l.byID[r.ID] = r
	}
	for _, r := range l.Rules {
		if err := l.compile(r); err != nil {
			return nil, err
		}
		if err := l.compileBatch(r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *Library) check(i int, r *Rule) error {
	if r == nil || r.ID == "" {
		return fmt.Errorf("%w: rule %d has no id", ErrRule, i+1)
	}
	if _, dup := l.byID[r.ID]; dup {
		return fmt.Errorf("%w: rule %s appears twice", ErrRule, r.ID)
	}
	for name, v := range map[string]string{"area": r.Area, "name_zh": r.NameZh, "name_en": r.NameEn, "rationale_zh": r.RationaleZh,
		"rationale_en": r.RationaleEn, "department": r.Department, "when": r.When} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%w: rule %s has no %s", ErrRule, r.ID, name)
		}
	}
	switch r.Severity {
	case Red, Yellow, Blue:
	default:
		return fmt.Errorf("%w: rule %s: severity %q is not red, yellow or blue", ErrRule, r.ID, r.Severity)
	}
	switch r.Kind {
	case State, Event:
	default:
		return fmt.Errorf("%w: rule %s: kind %q is not state or event", ErrRule, r.ID, r.Kind)
	}
	return nil
}

// parse reads the identifiers a condition uses from its syntax tree.
func (l *Library) parse(r *Rule, cat *features.Catalog) error {
	tree, err := parser.Parse(r.When)
	if err != nil {
		return fmt.Errorf("%w: rule %s: %v", ErrRule, r.ID, err)
	}
	c := &collector{}
	ast.Walk(&tree.Node, c)
	if c.err != nil {
		return fmt.Errorf("%w: rule %s: %v", ErrRule, r.ID, c.err)
	}
	for _, id := range c.indicators {
		ind, err := cat.Indicator(id)
		if err != nil {
			return fmt.Errorf("%w: rule %s reads unknown indicator %q", ErrRule, r.ID, id)
		}
		l.sensitivity[id] = string(ind.Sensitivity)
		if _, ok := l.column[id]; !ok {
			l.column[id] = len(l.columns)
			l.columns = append(l.columns, id)
		}
	}
	r.indicators, r.figures, r.readsPrev = c.indicators, c.figures, c.prev
	for _, f := range c.figures {
		r.network = r.network || networkFigures[f]
	}
	if r.Kind == State && r.readsPrev {
		return fmt.Errorf("%w: rule %s is a state rule but reads the previous date (prev, had or a prev_ figure); make it an event rule", ErrRule, r.ID)
	}
	return nil
}

type collector struct {
	indicators, figures []string
	prev                bool
	err                 error
}

func (c *collector) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return
		}
		fn, ok := indicatorFuncs[id.Value]
		if !ok {
			return
		}
		s, ok := oneString(n)
		if !ok {
			if c.err == nil {
				c.err = fmt.Errorf("%s() takes one indicator id as a string literal", id.Value)
			}
			return
		}
		c.prev = c.prev || fn.prev
		if !slices.Contains(c.indicators, s) {
			c.indicators = append(c.indicators, s)
		}
	case *ast.IdentifierNode:
		base, ok := figureBase[n.Value]
		if !ok {
			return
		}
		c.prev = c.prev || strings.HasPrefix(n.Value, "prev_")
		if !slices.Contains(c.figures, base) {
			c.figures = append(c.figures, base)
		}
	}
}

func oneString(n *ast.CallNode) (string, bool) {
	if len(n.Arguments) != 1 {
		return "", false
	}
	s, ok := n.Arguments[0].(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

// patcher rewrites v("id") into now__[k], prev("id") into prev__[k], has("id")
// into num(now__[k]) and had("id") into num(prev__[k]), k being the indicator's
// column in the library.
type patcher struct{ column map[string]int }

func (p patcher) Visit(n *ast.Node) {
	call, ok := (*n).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	fn, ok := indicatorFuncs[id.Value]
	if !ok {
		return
	}
	s, ok := oneString(call)
	if !ok {
		return
	}
	slice := "now__"
	if fn.prev {
		slice = "prev__"
	}
	var repl ast.Node = &ast.MemberNode{Node: &ast.IdentifierNode{Value: slice}, Property: &ast.IntegerNode{Value: p.column[s]}}
	if fn.has {
		repl = &ast.CallNode{Callee: &ast.IdentifierNode{Value: "num"}, Arguments: []ast.Node{repl}}
	}
	ast.Patch(n, repl)
}

func (l *Library) compile(r *Rule) error {
	p, err := expr.Compile(r.When, compileOptions(l.column)...)
	if err != nil {
		return fmt.Errorf("%w: rule %s: %v", ErrRule, r.ID, err)
	}
	r.program = p
	return nil
}

func compileOptions(column map[string]int) []expr.Option {
	return []expr.Option{
		expr.Env(Env{}),
		expr.AsBool(),
		expr.Patch(patcher{column}),
		expr.Function("num", func(ps ...any) (any, error) { x := ps[0].(float64); return !math.IsNaN(x), nil }, new(func(float64) bool)),
		expr.Function("nz", func(ps ...any) (any, error) {
			x := ps[0].(float64)
			if math.IsNaN(x) {
				return 0.0, nil
			}
			return x, nil
		}, new(func(float64) float64)),
		expr.Function("rating_rank", func(ps ...any) (any, error) { return RatingRank(ps[0].(string)), nil }, new(func(string) int)),
		expr.Function("colour_rank", func(ps ...any) (any, error) { return ColourRank(ps[0].(string)), nil }, new(func(string) int)),
	}
}

// RatingRank ranks a rating from A (1) to D (4); 0 for anything else
// (policy's order).
func RatingRank(r string) int { return policy.Rating(r).Rank() + 1 }

// ColourRank ranks a four-colour risk code from blue (1) to red (4); 0 for
// anything else (policy's order).
func ColourRank(c string) int { return policy.Colour(c).Rank() + 1 }

// Env is what a condition sees for one company at one date. Now and Prev hold
// the library's indicators (Library.Indicators order), NaN where unknown.
type Env struct {
	Now  []float64 `expr:"now__"`
	Prev []float64 `expr:"prev__"`

	Scored     bool    `expr:"scored"`
	PrevScored bool    `expr:"prev_scored"`
	Rating     string  `expr:"rating"`
	PrevRating string  `expr:"prev_rating"`
	Colour     string  `expr:"colour"`
	PrevColour string  `expr:"prev_colour"`
	PD         float64 `expr:"pd"`
	PrevPD     float64 `expr:"prev_pd"`
	Limit      float64 `expr:"limit"`
	PrevLimit  float64 `expr:"prev_limit"`

	Status     string `expr:"status"`
	PrevStatus string `expr:"prev_status"`

	CircleSize   int `expr:"circle_size"`
	CircleRed    int `expr:"circle_red"`
	CircleRedNew int `expr:"circle_red_new"`
}
