// Package screencompare compares two finished screenings of one task: how many
// companies went from each inspection tier to each other (a tier × tier table),
// which entered and which left the top tier, and whose tier or probability rose
// and fell most, each company with its name, district and industry from the
// business registry.
//
// Both screenings are read through the screener, which authorizes each for the
// caller (internal/access: the owning institution, refusals audited); a screening
// another institution ran is unknown to the caller. The comparison itself is a
// pure function of the two rankings (Between).
//
//	c, _ := screencompare.New(screencompare.Options{Jobs: screener, Names: dir})
//	cmp, err := c.Compare(ctx, p, "older-id", "newer-id", screencompare.Query{Limit: 20})
package screencompare

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// ErrNotDone reports a screening that is still running or failed.
var ErrNotDone = errors.New("screencompare: screening not done")

// Tiers are the inspection tiers from the riskiest down; the first is the top tier.
var Tiers = []string{string(policy.High), string(policy.Medium), string(policy.Low)}

// MaxLimit bounds the companies listed per list.
const MaxLimit = 500

// Jobs finds a screening for a caller, authorizing it; *serving.Screener
// implements it.
type Jobs interface {
	Get(ctx context.Context, p serving.Principal, id string) (serving.Job, error)
}

// Names gives a company's registration record; *datasets.Directory implements it.
type Names interface {
	Company(code string) (datasets.CompanyRow, bool)
}

// Options configure a Comparer. Jobs is required.
type Options struct {
	Jobs Jobs
	// Names names and places the companies (nil: codes only).
	Names Names
}

// Comparer compares screenings for callers.
type Comparer struct{ o Options }

// New checks the options.
func New(o Options) (*Comparer, error) {
	if o.Jobs == nil {
		return nil, fmt.Errorf("%w: a screening comparer needs the screenings", serving.ErrInvalidInput)
	}
	return &Comparer{o: o}, nil
}

// Query says how much a comparison lists.
type Query struct {
	// Limit is the most companies listed in each list (rose, fell, entered and
	// left the top tier). Default 20, at most MaxLimit.
	Limit int
}

// Ref identifies one side of a comparison.
type Ref struct {
	ID            string    `json:"id"`
	Model         string    `json:"model"`
	PolicyVersion string    `json:"policy_version"`
	AsOf          time.Time `json:"as_of"`
	Finished      time.Time `json:"finished,omitzero"`
	Companies     int       `json:"companies"`
}

// Transition counts the companies in both screenings that went from one tier
// to another.
type Transition struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}

// Mover is one company with its place in each screening. A company only in the
// later screening has an empty FromTier and zero FromRank and FromProbability.
type Mover struct {
	Company      string `json:"company_code"`
	Name         string `json:"name,omitempty"`
	District     string `json:"district,omitempty"`
	Industry     string `json:"industry,omitempty"`
	IndustryName string `json:"industry_name,omitempty"`
	FromRank     int    `json:"from_rank,omitempty"`
	ToRank       int    `json:"to_rank,omitempty"`
	// FromProbability and ToProbability are the model's probabilities; Change is
	// their difference (later minus earlier; 0 for a company in one only).
	FromProbability float64 `json:"from_probability"`
	ToProbability   float64 `json:"to_probability"`
	Change          float64 `json:"change"`
	FromTier        string  `json:"from_tier,omitempty"`
	ToTier          string  `json:"to_tier,omitempty"`
	// Steps is how many tiers the company moved towards the top (negative: away).
	Steps int `json:"steps"`
}

// Listed is a list of companies cut at the query's limit, with how many there
// are in all.
type Listed struct {
	Count     int     `json:"count"`
	Companies []Mover `json:"companies"`
}

// Comparison is how a later screening differs from an earlier one.
type Comparison struct {
	Task serving.Task `json:"task"`
	From Ref          `json:"from"`
	To   Ref          `json:"to"`
	// Tiers orders the tiers, the top tier first.
	Tiers []string `json:"tiers"`
	// InBoth counts the companies ranked in both; New those only in the later,
	// Gone those only in the earlier. NewByTier and GoneByTier split them by
	// the tier of the screening they are in.
	InBoth     int            `json:"in_both"`
	New        int            `json:"new"`
	Gone       int            `json:"gone"`
	NewByTier  map[string]int `json:"new_by_tier"`
	GoneByTier map[string]int `json:"gone_by_tier"`
	// Transitions is the tier × tier table over the companies in both, every
	// pair in the order of Tiers (zeros included).
	Transitions []Transition `json:"transitions"`
	// Up, Down and Same count the companies in both whose tier rose, fell or
	// stayed.
	Up   int `json:"up"`
	Down int `json:"down"`
	Same int `json:"same"`
	// EnteredTop are the companies in the top tier of the later screening and
	// not of the earlier (new ones included), riskiest first; LeftTop those in
	// the top tier of the earlier and not of the later, most improved first.
	EnteredTop Listed `json:"entered_top"`
	LeftTop    Listed `json:"left_top"`
	// Rose are the companies in both whose tier rose most, then whose
	// probability rose most; Fell the reverse. A company whose probability did
	// not move is in neither.
	Rose Listed `json:"rose"`
	Fell Listed `json:"fell"`
}

// Compare reads screenings from and to (the earlier and the later) for p and
// compares them. Each is authorized by Jobs; both must be done and of one task.
func (c *Comparer) Compare(ctx context.Context, p serving.Principal, from, to string, q Query) (*Comparison, error) {
	if from == to {
		return nil, fmt.Errorf("%w: compare two different screenings, not %q with itself", serving.ErrInvalidInput, from)
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		return nil, fmt.Errorf("%w: limit %d is not from 1 to %d", serving.ErrInvalidInput, q.Limit, MaxLimit)
	}
	var res [2]*serving.ScreenResult
	var fin [2]time.Time
	for i, id := range []string{from, to} {
		j, err := c.o.Jobs.Get(ctx, p, id)
		if err != nil {
			return nil, err
		}
		if j.State != serving.JobDone || j.Result == nil {
			return nil, fmt.Errorf("%w: screening %s is %s", ErrNotDone, id, j.State)
		}
		res[i], fin[i] = j.Result, j.Finished
	}
	out, err := Between(res[0], res[1], c.o.Names, q.Limit)
	if err != nil {
		return nil, err
	}
	out.From.Finished, out.To.Finished = fin[0], fin[1]
	return out, nil
}

func rankOf(tier string) (int, bool) {
	i := slices.Index(Tiers, tier)
	return len(Tiers) - 1 - i, i >= 0 // low 0, medium 1, high 2
}

// Between compares two screening results, from (the earlier) and to (the
// later); names, when set, names and places the companies. limit ≤ 0 means 20.
func Between(from, to *serving.ScreenResult, names Names, limit int) (*Comparison, error) {
	if from == nil || to == nil {
		return nil, fmt.Errorf("%w: compare two screening results", serving.ErrInvalidInput)
	}
	if from.Task != to.Task {
		return nil, fmt.Errorf("%w: screening %s is of the %s model and %s of the %s model; compare screenings of one task",
			serving.ErrInvalidInput, from.ID, from.Task, to.ID, to.Task)
	}
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, MaxLimit)
	out := &Comparison{Task: to.Task, Tiers: slices.Clone(Tiers), NewByTier: map[string]int{}, GoneByTier: map[string]int{},
		From: Ref{ID: from.ID, Model: from.Model.String(), PolicyVersion: from.PolicyVersion, AsOf: from.AsOf, Companies: len(from.Rows)},
		To:   Ref{ID: to.ID, Model: to.Model.String(), PolicyVersion: to.PolicyVersion, AsOf: to.AsOf, Companies: len(to.Rows)}}
	before := make(map[string]*serving.ScreenRow, len(from.Rows))
	for i := range from.Rows {
		r := &from.Rows[i]
		if _, ok := rankOf(r.Tier); !ok {
			return nil, fmt.Errorf("%w: screening %s ranks %s in the unknown tier %q", serving.ErrInvalidInput, from.ID, r.Company, r.Tier)
		}
		if _, dup := before[r.Company]; dup {
			return nil, fmt.Errorf("%w: screening %s ranks %s twice", serving.ErrInvalidInput, from.ID, r.Company)
		}
		before[r.Company] = r
	}
	counts := map[[2]string]int{}
	var entered, left, rose, fell []Mover
	seen := make(map[string]bool, len(to.Rows))
	for i := range to.Rows {
		r := &to.Rows[i]
		rt, ok := rankOf(r.Tier)
		if !ok {
			return nil, fmt.Errorf("%w: screening %s ranks %s in the unknown tier %q", serving.ErrInvalidInput, to.ID, r.Company, r.Tier)
		}
		if seen[r.Company] {
			return nil, fmt.Errorf("%w: screening %s ranks %s twice", serving.ErrInvalidInput, to.ID, r.Company)
		}
		seen[r.Company] = true
		b, ok := before[r.Company]
		if !ok {
			out.New++
			out.NewByTier[r.Tier]++
			if r.Tier == Tiers[0] {
				entered = append(entered, Mover{Company: r.Company, ToRank: r.Rank, ToProbability: r.Probability, ToTier: r.Tier})
			}
			continue
		}
		bt, _ := rankOf(b.Tier)
		out.InBoth++
		counts[[2]string{b.Tier, r.Tier}]++
		m := Mover{Company: r.Company, FromRank: b.Rank, ToRank: r.Rank, FromProbability: b.Probability, ToProbability: r.Probability,
			Change: r.Probability - b.Probability, FromTier: b.Tier, ToTier: r.Tier, Steps: rt - bt}
		switch {
		case m.Steps > 0:
			out.Up++
		case m.Steps < 0:
			out.Down++
		default:
			out.Same++
		}
		if r.Tier == Tiers[0] && b.Tier != Tiers[0] {
			entered = append(entered, m)
		}
		if b.Tier == Tiers[0] && r.Tier != Tiers[0] {
			left = append(left, m)
		}
		switch {
		case m.Steps > 0 || m.Steps == 0 && m.Change > 0:
			rose = append(rose, m)
		case m.Steps < 0 || m.Steps == 0 && m.Change < 0:
			fell = append(fell, m)
		}
	}
	for i := range from.Rows {
		r := &from.Rows[i]
		if seen[r.Company] {
			continue
		}
		out.Gone++
		out.GoneByTier[r.Tier]++
	}
	for _, a := range Tiers {
		for _, b := range Tiers {
			out.Transitions = append(out.Transitions, Transition{From: a, To: b, Count: counts[[2]string{a, b}]})
		}
	}
	// Riskiest first: by tier steps, then by probability moved, then by code.
	up := func(a, b Mover) int {
		if c := cmp.Compare(b.Steps, a.Steps); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Change, a.Change); c != 0 {
			return c
		}
		return cmp.Compare(a.Company, b.Company)
	}
	down := func(a, b Mover) int { return up(b, a) }
	slices.SortFunc(rose, up)
	slices.SortFunc(fell, down)
	slices.SortFunc(entered, func(a, b Mover) int {
		if c := cmp.Compare(b.ToProbability, a.ToProbability); c != 0 {
			return c
		}
		return cmp.Compare(a.Company, b.Company)
	})
	slices.SortFunc(left, down)
	out.Rose, out.Fell = cut(rose, limit, names), cut(fell, limit, names)
	out.EnteredTop, out.LeftTop = cut(entered, limit, names), cut(left, limit, names)
	return out, nil
}

// cut keeps the first limit movers and names them.
func cut(ms []Mover, limit int, names Names) Listed {
	l := Listed{Count: len(ms), Companies: slices.Clone(ms[:min(limit, len(ms))])}
	if l.Companies == nil {
		l.Companies = []Mover{}
	}
	if names == nil {
		return l
	}
	for i := range l.Companies {
		m := &l.Companies[i]
		if c, ok := names.Company(m.Company); ok {
			m.Name, m.District, m.Industry, m.IndustryName = c.Name, c.DistrictName, c.Industry, datasets.IndustryName(c.Industry)
		}
	}
	return l
}
