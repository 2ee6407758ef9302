package features

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/lab/svg"
)

// TestGuaranteeGraphsOnAGeneratedRegion draws every circle of a small generated region
// and checks each picture against the network: the nodes are exactly the circle, the
// company is the one focus, every edge joins two members, and (for circles no longer
// than MaxCycleLen) the edges connect every member to every other.
func TestGuaranteeGraphsOnAGeneratedRegion(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 3000, Months: 13, Seed: 7, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	gn, err := xfeatures.LoadGuaranteeNetwork(ctx, store, time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC), 2)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGraphs(gn)
	circles, alone := 0, 0
	for _, code := range gn.Codes {
		members, err := gn.Circle(code)
		if err != nil {
			t.Fatal(err)
		}
		gr, err := g.GuaranteeGraph(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		if members == nil {
			alone++
			if len(gr.Nodes) != 1 || !gr.Nodes[0].Focus || len(gr.Edges) != 0 {
				t.Fatalf("%s is in no circle but draws %+v", code, gr)
			}
			continue
		}
		circles++
		in := map[string]bool{}
		focus := 0
		for _, n := range gr.Nodes {
			in[n.ID] = true
			if n.Focus {
				focus++
				if n.ID != code {
					t.Fatalf("focus %s, want %s", n.ID, code)
				}
			}
		}
		if len(gr.Nodes) != len(members) || focus != 1 {
			t.Fatalf("%s: %d nodes (%d focus) for a circle of %d", code, len(gr.Nodes), focus, len(members))
		}
		for _, m := range members {
			if !in[m] {
				t.Fatalf("%s: member %s not drawn", code, m)
			}
		}
		for _, e := range gr.Edges {
			if !in[e.From] || !in[e.To] {
				t.Fatalf("%s: edge %s → %s leaves the circle", code, e.From, e.To)
			}
		}
		if len(members) <= MaxCycleLen && !stronglyConnected(gr) {
			t.Fatalf("%s: the drawn guarantees do not connect the circle of %d", code, len(members))
		}
		if _, err := svg.GuaranteeGraph(gr, svg.Options{}); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
	}
	if circles == 0 || alone == 0 {
		t.Fatalf("%d companies in circles, %d alone: the region should have both", circles, alone)
	}
	if _, err := g.GuaranteeGraph(ctx, "91330604MA2C00000X"); !errors.Is(err, lab.ErrNotFound) {
		t.Fatalf("unknown company: %v", err)
	}
}

// stronglyConnected reports whether every node reaches every other along the edges.
func stronglyConnected(g svg.Graph) bool {
	adj := map[string][]string{}
	for _, e := range g.Edges {
		adj[e.From] = append(adj[e.From], e.To)
	}
	for _, start := range g.Nodes {
		seen := map[string]bool{start.ID: true}
		stack := []string{start.ID}
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, w := range adj[v] {
				if !seen[w] {
					seen[w] = true
					stack = append(stack, w)
				}
			}
		}
		if len(seen) != len(g.Nodes) {
			return false
		}
	}
	return true
}
