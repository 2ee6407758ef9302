// Package policy turns model outputs into a credit decision under a versioned,
// validated configuration: probability of default → points score and A/B/C/D rating;
// score plus hard rules (dishonest-debtor list, tax arrears, guarantee circle with a
// defaulted member) → four-colour code; limit model and indicators → pre-credit limit,
// scaled by rating and capped, zero for D or red; violation probability → inspection
// tier and sampling ratio.
//
// A Policy is immutable once parsed; every method is safe for concurrent use.
//
//	p, err := policy.Parse(yamlOrJSON)
//	score, _ := p.Score(pd)
//	rating := p.Rating(pd)
//	colour, rules := p.Colour(score, lookup)
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every validation and parse error.
var ErrInvalid = errors.New("policy: invalid policy")

// Rating is the A/B/C/D credit rating; A is the best.
type Rating string

// The ratings.
const (
	A Rating = "A"
	B Rating = "B"
	C Rating = "C"
	D Rating = "D"
)

// Rank orders the ratings: 0 for A (best) to 3 for D; -1 for an unknown rating.
// Rules (warnings, financing products) see it as rating_rank, 1 to 4.
func (r Rating) Rank() int {
	switch r {
	case A:
		return 0
	case B:
		return 1
	case C:
		return 2
	case D:
		return 3
	}
	return -1
}

// Colour is the four-colour risk code; blue is the best and red the worst.
type Colour string

// The colours, best first.
const (
	Blue   Colour = "blue"
	Green  Colour = "green"
	Yellow Colour = "yellow"
	Red    Colour = "red"
)

// Rank orders the colours: 0 for blue (best) to 3 for red; -1 for an unknown
// colour. Rules (warnings, financing products) see it as colour_rank, 1 to 4.
func (c Colour) Rank() int {
	switch c {
	case Blue:
		return 0
	case Green:
		return 1
	case Yellow:
		return 2
	case Red:
		return 3
	}
	return -1
}

// Worse returns the worse of two colours.
func Worse(a, b Colour) Colour {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Tier is an inspection tier for regulators.
type Tier string

// The tiers.
const (
	High   Tier = "high"
	Medium Tier = "medium"
	Low    Tier = "low"
)

// Policy is one version of the decision configuration.
type Policy struct {
	// Version identifies the policy in every decision and audit record.
	Version string `yaml:"version" json:"version"`
	// Scale is the points scale.
	Scale ScoreScale `yaml:"score" json:"score"`
	// Ratings are PD bands, best first: a company gets the first rating whose MaxPD is
	// at least its PD. The last band must be D with max_pd 1.
	Ratings []RatingBand `yaml:"ratings" json:"ratings"`
	// Colours are score bands, best first: a company gets the first colour whose
	// MinScore its score reaches; the last band has no minimum and catches the rest.
	Colours []ColourBand `yaml:"colours" json:"colours"`
	// Rules are hard rules; each that fires makes the colour at least its Colour.
	Rules []Rule `yaml:"rules" json:"rules"`
	// Limits configures the pre-credit limit.
	Limits LimitPolicy `yaml:"limit" json:"limit"`
	// Tiers map violation probability to tiers, highest risk first.
	Tiers []TierBand `yaml:"inspection" json:"inspection"`
}

// ScoreScale is the classic scorecard scaling: score = Offset - Factor*ln(odds), with
// odds = pd/(1-pd) and Factor = PDO/ln 2, so the score rises by PDO points each time
// the odds of default halve, and equals Offset at even odds.
type ScoreScale struct {
	Offset float64 `yaml:"offset" json:"offset"`
	PDO    float64 `yaml:"pdo" json:"pdo"`
	// Min and Max clamp the score (both zero: no clamp).
	Min float64 `yaml:"min" json:"min"`
	Max float64 `yaml:"max" json:"max"`
}

// Factor is PDO / ln 2.
func (s ScoreScale) Factor() float64 { return s.PDO / math.Ln2 }

// RatingBand is one PD band.
type RatingBand struct {
	Rating Rating  `yaml:"rating" json:"rating"`
	MaxPD  float64 `yaml:"max_pd" json:"max_pd"`
}

// ColourBand is one score band.
type ColourBand struct {
	Colour   Colour   `yaml:"colour" json:"colour"`
	MinScore *float64 `yaml:"min_score" json:"min_score"`
}

// Rule is a hard rule on one indicator: it fires when value Op Threshold.
type Rule struct {
	ID        string  `yaml:"id" json:"id"`
	Indicator string  `yaml:"indicator" json:"indicator"`
	Op        string  `yaml:"op" json:"op"` // one of > >= < <= == !=
	Threshold float64 `yaml:"threshold" json:"threshold"`
	Colour    Colour  `yaml:"colour" json:"colour"`
	// Description says why the rule exists, for reason texts.
	Description string `yaml:"description" json:"description"`
}

// LimitPolicy configures the pre-credit limit (CNY).
//
//	base  = limit-model output (negative → 0)
//	base  = min(base, Multiple_i × indicator_i) for each IndicatorCap whose value is known
//	limit = min(base × RatingScale[rating], Cap), rounded down to Round; 0 for D or red
type LimitPolicy struct {
	RatingScale   map[Rating]float64 `yaml:"rating_scale" json:"rating_scale"`
	Cap           float64            `yaml:"cap" json:"cap"`
	Round         float64            `yaml:"round" json:"round"`
	IndicatorCaps []IndicatorCap     `yaml:"indicator_caps" json:"indicator_caps"`
	// Products are the products a caller may ask for, each a share of the limit.
	// Empty: one product "default" with share 1.
	Products map[string]float64 `yaml:"products" json:"products"`
}

// IndicatorCap limits the base to Multiple times an indicator (e.g. 0.3 × 12-month sales).
type IndicatorCap struct {
	Indicator string  `yaml:"indicator" json:"indicator"`
	Multiple  float64 `yaml:"multiple" json:"multiple"`
}

// TierBand is one inspection tier: probabilities at or above MinProbability fall in it.
type TierBand struct {
	Tier           Tier    `yaml:"tier" json:"tier"`
	MinProbability float64 `yaml:"min_probability" json:"min_probability"`
	SamplingRatio  float64 `yaml:"sampling_ratio" json:"sampling_ratio"`
}

// Parse reads a policy from YAML or JSON (JSON is YAML), refusing unknown fields, and
// validates it.
func Parse(data []byte) (*Policy, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Validate checks every field; the error names the first wrong one.
func (p *Policy) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: version %q: %s", ErrInvalid, p.Version, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(p.Version) == "" {
		return fmt.Errorf("%w: version is required", ErrInvalid)
	}
	if !finite(p.Scale.Offset) || !finite(p.Scale.PDO) || p.Scale.PDO <= 0 {
		return bad("score: offset must be finite and pdo positive (got offset %v, pdo %v)", p.Scale.Offset, p.Scale.PDO)
	}
	if p.Scale.Min != 0 || p.Scale.Max != 0 {
		if !finite(p.Scale.Min) || !finite(p.Scale.Max) || p.Scale.Min >= p.Scale.Max {
			return bad("score: min %v must be below max %v", p.Scale.Min, p.Scale.Max)
		}
	}
	if len(p.Ratings) == 0 {
		return bad("ratings: at least one band is required")
	}
	seen := map[Rating]bool{}
	prev := 0.0
	for i, r := range p.Ratings {
		switch r.Rating {
		case A, B, C, D:
		default:
			return bad("ratings[%d]: rating %q is not A, B, C or D", i, r.Rating)
		}
		if seen[r.Rating] {
			return bad("ratings[%d]: rating %s appears twice", i, r.Rating)
		}
		seen[r.Rating] = true
		if !finite(r.MaxPD) || r.MaxPD <= prev || r.MaxPD > 1 {
			return bad("ratings[%d]: max_pd %v must rise above %v and be at most 1", i, r.MaxPD, prev)
		}
		prev = r.MaxPD
	}
	if last := p.Ratings[len(p.Ratings)-1]; last.Rating != D || last.MaxPD != 1 {
		return bad("ratings: the last band must be D with max_pd 1 (got %s %v)", last.Rating, last.MaxPD)
	}
	if len(p.Colours) == 0 {
		return bad("colours: at least one band is required")
	}
	prevScore := math.Inf(1)
	for i, c := range p.Colours {
		if c.Colour.Rank() < 0 {
			return bad("colours[%d]: colour %q is not blue, green, yellow or red", i, c.Colour)
		}
		last := i == len(p.Colours)-1
		if last != (c.MinScore == nil) {
			return bad("colours[%d]: only the last band (and it must) has no min_score", i)
		}
		if c.MinScore != nil {
			if !finite(*c.MinScore) || *c.MinScore >= prevScore {
				return bad("colours[%d]: min_score %v must fall below %v", i, *c.MinScore, prevScore)
			}
			prevScore = *c.MinScore
		}
		if i > 0 && c.Colour.Rank() <= p.Colours[i-1].Colour.Rank() {
			return bad("colours[%d]: %s must be worse than %s above it", i, c.Colour, p.Colours[i-1].Colour)
		}
	}
	ids := map[string]bool{}
	for i, r := range p.Rules {
		if r.ID == "" || ids[r.ID] {
			return bad("rules[%d]: id %q must be set and unique", i, r.ID)
		}
		ids[r.ID] = true
		if r.Indicator == "" {
			return bad("rules[%d] %s: indicator is required", i, r.ID)
		}
		if _, ok := ops[r.Op]; !ok {
			return bad("rules[%d] %s: op %q is not one of > >= < <= == !=", i, r.ID, r.Op)
		}
		if !finite(r.Threshold) {
			return bad("rules[%d] %s: threshold must be finite", i, r.ID)
		}
		if r.Colour != Yellow && r.Colour != Red {
			return bad("rules[%d] %s: colour %q must be yellow or red", i, r.ID, r.Colour)
		}
	}
	l := p.Limits
	for _, r := range []Rating{A, B, C, D} {
		s, ok := l.RatingScale[r]
		if !ok && seen[r] {
			return bad("limit.rating_scale: no scale for rating %s", r)
		}
		if ok && (!finite(s) || s < 0 || s > 10) {
			return bad("limit.rating_scale[%s]: %v must be in [0, 10]", r, s)
		}
	}
	for r := range l.RatingScale {
		if !seen[r] {
			return bad("limit.rating_scale: rating %q is not a rating band", r)
		}
	}
	if !finite(l.Cap) || l.Cap <= 0 {
		return bad("limit.cap %v must be positive", l.Cap)
	}
	if !finite(l.Round) || l.Round < 0 {
		return bad("limit.round %v must not be negative", l.Round)
	}
	for i, c := range l.IndicatorCaps {
		if c.Indicator == "" || !finite(c.Multiple) || c.Multiple <= 0 {
			return bad("limit.indicator_caps[%d]: needs an indicator and a positive multiple", i)
		}
	}
	for name, share := range l.Products {
		if name == "" || !finite(share) || share <= 0 || share > 1 {
			return bad("limit.products[%q]: share %v must be in (0, 1]", name, share)
		}
	}
	if len(p.Tiers) == 0 {
		return bad("inspection: at least one tier is required")
	}
	prevP := math.Inf(1)
	for i, t := range p.Tiers {
		switch t.Tier {
		case High, Medium, Low:
		default:
			return bad("inspection[%d]: tier %q is not high, medium or low", i, t.Tier)
		}
		if !finite(t.MinProbability) || t.MinProbability < 0 || t.MinProbability >= prevP {
			return bad("inspection[%d]: min_probability %v must be in [0, %v)", i, t.MinProbability, prevP)
		}
		prevP = t.MinProbability
		if !finite(t.SamplingRatio) || t.SamplingRatio < 0 || t.SamplingRatio > 1 {
			return bad("inspection[%d]: sampling_ratio %v must be in [0, 1]", i, t.SamplingRatio)
		}
		if i > 0 && t.SamplingRatio > p.Tiers[i-1].SamplingRatio {
			return bad("inspection[%d]: a lower-risk tier cannot be sampled more (%v > %v)", i, t.SamplingRatio, p.Tiers[i-1].SamplingRatio)
		}
	}
	if p.Tiers[len(p.Tiers)-1].MinProbability != 0 {
		return bad("inspection: the last tier must start at min_probability 0")
	}
	return nil
}

// checkPD refuses a probability outside [0, 1] or NaN.
func checkPD(pd float64) error {
	if !(pd >= 0 && pd <= 1) {
		return fmt.Errorf("%w: probability %v outside [0, 1]", ErrInvalid, pd)
	}
	return nil
}

// Score maps a probability of default to points. PD 0 or 1 are clamped to 1e-12 away.
func (p *Policy) Score(pd float64) (float64, error) {
	if err := checkPD(pd); err != nil {
		return 0, err
	}
	const eps = 1e-12
	q := min(max(pd, eps), 1-eps)
	s := p.Scale.Offset - p.Scale.Factor()*math.Log(q/(1-q))
	if p.Scale.Min != 0 || p.Scale.Max != 0 {
		s = min(max(s, p.Scale.Min), p.Scale.Max)
	}
	return s, nil
}

// Rating returns the rating band of pd.
func (p *Policy) Rating(pd float64) (Rating, error) {
	if err := checkPD(pd); err != nil {
		return "", err
	}
	for _, r := range p.Ratings {
		if pd <= r.MaxPD {
			return r.Rating, nil
		}
	}
	return D, nil // unreachable: Validate makes the last band end at 1
}

var ops = map[string]func(v, t float64) bool{
	">":  func(v, t float64) bool { return v > t },
	">=": func(v, t float64) bool { return v >= t },
	"<":  func(v, t float64) bool { return v < t },
	"<=": func(v, t float64) bool { return v <= t },
	"==": func(v, t float64) bool { return v == t },
	"!=": func(v, t float64) bool { return v != t },
}

// Lookup returns an indicator's value for the company; ok is false when unknown or
// missing.
type Lookup func(indicator string) (value float64, ok bool)

// Colour returns the colour of a score, worsened by every hard rule that fires, and the
// ids of the rules that fired (a rule on a missing indicator does not fire).
func (p *Policy) Colour(score float64, lookup Lookup) (Colour, []string) {
	c := p.Colours[len(p.Colours)-1].Colour
	for _, b := range p.Colours {
		if b.MinScore == nil || score >= *b.MinScore {
			c = b.Colour
			break
		}
	}
	var fired []string
	for _, r := range p.Rules {
		v, ok := lookup(r.Indicator)
		if !ok || math.IsNaN(v) {
			continue
		}
		if ops[r.Op](v, r.Threshold) {
			fired = append(fired, r.ID)
			c = Worse(c, r.Colour)
		}
	}
	return c, fired
}

// Rule returns the rule with id.
func (p *Policy) Rule(id string) (Rule, bool) {
	for _, r := range p.Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Limit computes the pre-credit limit from the limit model's output.
func (p *Policy) Limit(model float64, rating Rating, colour Colour, lookup Lookup) (float64, error) {
	if !finite(model) {
		return 0, fmt.Errorf("%w: limit model output %v", ErrInvalid, model)
	}
	if rating == D || colour == Red {
		return 0, nil
	}
	base := max(model, 0)
	for _, c := range p.Limits.IndicatorCaps {
		if v, ok := lookup(c.Indicator); ok && !math.IsNaN(v) {
			base = min(base, max(v, 0)*c.Multiple)
		}
	}
	scale, ok := p.Limits.RatingScale[rating]
	if !ok {
		return 0, fmt.Errorf("%w: no limit scale for rating %q", ErrInvalid, rating)
	}
	l := min(base*scale, p.Limits.Cap)
	if p.Limits.Round > 0 {
		l = math.Floor(l/p.Limits.Round) * p.Limits.Round
	}
	return l, nil
}

// Products returns the share of the limit for each product asked (all configured
// products when none are asked), sorted by name, or an error naming an unknown product.
func (p *Policy) Products(asked []string) (map[string]float64, error) {
	conf := p.Limits.Products
	if len(conf) == 0 {
		conf = map[string]float64{"default": 1}
	}
	if len(asked) == 0 {
		return conf, nil
	}
	out := make(map[string]float64, len(asked))
	for _, a := range asked {
		s, ok := conf[a]
		if !ok {
			names := make([]string, 0, len(conf))
			for n := range conf {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("%w: unknown product %q (known: %s)", ErrInvalid, a, strings.Join(names, ", "))
		}
		out[a] = s
	}
	return out, nil
}

// Inspection returns the tier and sampling ratio of a violation probability.
func (p *Policy) Inspection(prob float64) (Tier, float64, error) {
	if err := checkPD(prob); err != nil {
		return "", 0, err
	}
	for _, t := range p.Tiers {
		if prob >= t.MinProbability {
			return t.Tier, t.SamplingRatio, nil
		}
	}
	last := p.Tiers[len(p.Tiers)-1]
	return last.Tier, last.SamplingRatio, nil
}
