package features

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// GuaranteeNetwork is the guarantee network (担保圈) of the whole region as of one date,
// built from the raw guarantee and loan tables with the same bitemporal rules as the
// network indicators: the lab's company profile and circle views read it.
type GuaranteeNetwork struct {
	AsOf      Day
	Codes     []string // node i is company Codes[i]
	Network   *Network
	Defaulted []bool // in default as of the date (a loan 90+ days overdue in the last 12 months)
	Measures  *NetworkMeasures
	index     map[string]int32
}

// LoadGuaranteeNetwork builds the guarantee network as of asof from the raw tables in
// store. workers <= 0 means GOMAXPROCS.
func LoadGuaranteeNetwork(ctx context.Context, store blob.Store, asof time.Time, workers int) (*GuaranteeNetwork, error) {
	opts := Options{Workers: workers}
	if err := opts.EnsureDefaults(); err != nil {
		return nil, err
	}
	d := DayOf(asof)
	m := &materializer{opts: opts, store: store, plan: &plan{asofs: []Day{d}, needNet: true}, res: &Result{}}
	coFiles, err := m.listSource(ctx, "companies", 0, d.Month())
	if err != nil {
		return nil, err
	}
	if err := m.loadCompanies(ctx, coFiles); err != nil {
		return nil, err
	}
	out := &GuaranteeNetwork{AsOf: d, Codes: m.codes, index: m.index}
	m.keepNetwork = func(_ int, g *Network, def []bool, ms *NetworkMeasures) {
		out.Network, out.Defaulted, out.Measures = g, def, ms
	}
	if err := m.loadNetwork(ctx, d.Month()-Lookback+1, d.Month()); err != nil {
		return nil, err
	}
	return out, nil
}

// Node returns the node of a company code.
func (g *GuaranteeNetwork) Node(code string) (int32, error) {
	i, ok := g.index[code]
	if !ok {
		return 0, fmt.Errorf("%w: %s (guarantee network as of %s)", ErrUnknownCompany, code, g.AsOf)
	}
	return i, nil
}

// Circle returns the companies of the guarantee circle (strongly connected component)
// the company belongs to, sorted; nil when it is in no circle.
func (g *GuaranteeNetwork) Circle(code string) ([]string, error) {
	v, err := g.Node(code)
	if err != nil {
		return nil, err
	}
	comp, _ := g.Network.SCC()
	var out []string
	for u, c := range comp {
		if c == comp[v] {
			out = append(out, g.Codes[u])
		}
	}
	if len(out) < 2 {
		return nil, nil
	}
	slices.Sort(out)
	return out, nil
}

// Cycles returns the simple guarantee cycles of at most maxLen companies as code lists
// (see Network.Cycles).
func (g *GuaranteeNetwork) Cycles(maxLen, limit int) [][]string {
	var out [][]string
	for _, c := range g.Network.Cycles(maxLen, limit) {
		codes := make([]string, len(c))
		for i, v := range c {
			codes[i] = g.Codes[v]
		}
		out = append(out, codes)
	}
	return out
}

// CircleSummary is one guarantee circle (a strongly connected component of at
// least two companies) as of the network's date.
type CircleSummary struct {
	Members []string // sorted codes
	// Given is what the members have guaranteed in all, in 元 (their guarantees
	// to anyone, the circle's exposure to a member's failure).
	Given float64
	// Defaulted counts the members in default as of the date.
	Defaulted int
}

// Circles lists every guarantee circle, largest exposure first.
func (g *GuaranteeNetwork) Circles() []CircleSummary {
	comp, count := g.Network.SCC()
	byComp := make([][]int32, count)
	for u, c := range comp {
		byComp[c] = append(byComp[c], int32(u))
	}
	var out []CircleSummary
	for _, nodes := range byComp {
		if len(nodes) < 2 {
			continue
		}
		c := CircleSummary{Members: make([]string, len(nodes))}
		for i, u := range nodes {
			c.Members[i] = g.Codes[u]
			if g.Measures != nil {
				c.Given += g.Measures.GivenAmount[u]
			}
			if g.Defaulted != nil && g.Defaulted[u] {
				c.Defaulted++
			}
		}
		slices.Sort(c.Members)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b CircleSummary) int {
		if a.Given != b.Given {
			if a.Given > b.Given {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Members[0], b.Members[0])
	})
	return out
}
