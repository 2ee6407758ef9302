package features

import (
	"context"
	"errors"
	"fmt"
	"slices"

	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/lab/svg"
)

// Cycle bounds of the guarantee cycles a circle is drawn from.
const (
	MaxCycleLen = 6
	MaxCycles   = 50000
)

// Graphs draws a company's guarantee circle (the strongly connected component it
// belongs to in the region's guarantee network) with the guarantees along its simple
// cycles; companies in default are red. It implements lab.GuaranteeGraphs.
type Graphs struct {
	gn     *xfeatures.GuaranteeNetwork
	cycles [][]string
}

// NewGraphs prepares the cycles of gn once.
func NewGraphs(gn *xfeatures.GuaranteeNetwork) *Graphs {
	return &Graphs{gn: gn, cycles: gn.Cycles(MaxCycleLen, MaxCycles)}
}

// GuaranteeGraph returns the circle around code: the company alone when it is in no
// circle; an unknown company wraps lab.ErrNotFound.
func (g *Graphs) GuaranteeGraph(_ context.Context, code string) (svg.Graph, error) {
	members, err := g.gn.Circle(code)
	if errors.Is(err, xfeatures.ErrUnknownCompany) {
		return svg.Graph{}, fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	}
	if err != nil {
		return svg.Graph{}, err
	}
	if members == nil {
		members = []string{code}
	}
	var out svg.Graph
	for _, m := range members {
		n := svg.Node{ID: m, Label: m[8:17], Focus: m == code, Color: svg.ColorGreen}
		if i, err := g.gn.Node(m); err == nil && int(i) < len(g.gn.Defaulted) && g.gn.Defaulted[i] {
			n.Color = svg.ColorRed
		}
		out.Nodes = append(out.Nodes, n)
	}
	seen := map[[2]string]bool{}
	for _, c := range g.cycles {
		if !slices.Contains(members, c[0]) {
			continue // cycles stay inside one circle
		}
		for i := range c {
			e := [2]string{c[i], c[(i+1)%len(c)]}
			if !seen[e] {
				seen[e] = true
				out.Edges = append(out.Edges, svg.Edge{From: e[0], To: e[1], Label: "担保 guarantee"})
			}
		}
	}
	return out, nil
}
