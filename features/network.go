package features

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrNetwork reports an invalid guarantee network input (a node out of range, a
// company guaranteeing itself).
var ErrNetwork = errors.New("features: invalid guarantee network")

// Link is one guarantee: Guarantor stands surety for a loan of Borrower. Nodes are
// indexes into the caller's company list.
type Link struct {
	Guarantor, Borrower int32
	Amount              float64
}

// Network is a directed guarantee graph (guarantor → borrower) in compressed form.
type Network struct {
	n      int
	outOff []int32 // CSR of guarantor → borrowers
	outTo  []int32
	outAmt []float64
	inOff  []int32 // CSR of borrower → guarantors
	inTo   []int32
	inAmt  []float64
}

// NewNetwork builds the graph of n companies. Duplicate links are kept (two guarantees
// between the same pair are two guarantees); self-guarantees are refused.
func NewNetwork(n int, links []Link) (*Network, error) {
	g := &Network{n: n}
	for i, l := range links {
		if l.Guarantor < 0 || int(l.Guarantor) >= n || l.Borrower < 0 || int(l.Borrower) >= n {
			return nil, fmt.Errorf("%w: link %d (%d → %d) outside %d companies", ErrNetwork, i, l.Guarantor, l.Borrower, n)
		}
		if l.Guarantor == l.Borrower {
			return nil, fmt.Errorf("%w: link %d: company %d guarantees itself", ErrNetwork, i, l.Guarantor)
		}
	}
	g.outOff, g.outTo, g.outAmt = csr(n, links, func(l Link) (int32, int32) { return l.Guarantor, l.Borrower })
	g.inOff, g.inTo, g.inAmt = csr(n, links, func(l Link) (int32, int32) { return l.Borrower, l.Guarantor })
	return g, nil
}

func csr(n int, links []Link, ends func(Link) (int32, int32)) ([]int32, []int32, []float64) {
	off := make([]int32, n+1)
	for _, l := range links {
		a, _ := ends(l)
		off[a+1]++
	}
	for i := 0; i < n; i++ {
		off[i+1] += off[i]
	}
	to := make([]int32, len(links))
	amt := make([]float64, len(links))
	pos := slices.Clone(off[:n])
	for _, l := range links {
		a, b := ends(l)
		to[pos[a]] = b
		amt[pos[a]] = l.Amount
		pos[a]++
	}
	return off, to, amt
}

// Len returns the number of companies.
func (g *Network) Len() int { return g.n }

// SCC returns the strongly connected component of every node and the number of
// components, by Tarjan's algorithm run iteratively (no recursion, so a chain of
// millions of companies does not exhaust the stack). Components are numbered in
// reverse topological order of the condensation: every link goes from a component
// to one with a smaller or equal number.
func (g *Network) SCC() (comp []int32, count int) {
	n := g.n
	const unvisited = -1
	index := make([]int32, n)
	low := make([]int32, n)
	comp = make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = unvisited
	}
	var stack []int32 // Tarjan's stack
	type frame struct{ v, next int32 }
	var call []frame // the DFS stack standing in for recursion
	next := int32(0)
	for root := 0; root < n; root++ {
		if index[root] != unvisited {
			continue
		}
		call = append(call, frame{int32(root), g.outOff[root]})
		index[root], low[root] = next, next
		next++
		stack = append(stack, int32(root))
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.next < g.outOff[v+1] {
				w := g.outTo[f.next]
				f.next++
				if index[w] == unvisited {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, g.outOff[w]})
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			// v is finished.
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = int32(count)
					if w == v {
						break
					}
				}
				count++
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
		}
	}
	return comp, count
}

// Cycles returns the simple cycles of at most maxLen companies, each as the list of its
// nodes starting from its smallest node, shortest first, at most limit of them (limit <=
// 0: no limit; which cycles a limit keeps depends on the search order).
// The search stays inside strongly connected components and is bounded by maxLen, so its
// depth never exceeds maxLen.
func (g *Network) Cycles(maxLen, limit int) [][]int32 {
	if maxLen < 2 {
		return nil
	}
	comp, _ := g.SCC()
	var out [][]int32
	path := make([]int32, 0, maxLen)
	onPath := make([]bool, g.n)
	var dfs func(start, v int32) bool
	dfs = func(start, v int32) bool {
		path = append(path, v)
		onPath[v] = true
		defer func() { path = path[:len(path)-1]; onPath[v] = false }()
		for e := g.outOff[v]; e < g.outOff[v+1]; e++ {
			w := g.outTo[e]
			if comp[w] != comp[start] || w < start {
				continue
			}
			if w == start {
				// Parallel links would report the same cycle twice: keep the first.
				if !containsCycle(out, path) {
					out = append(out, slices.Clone(path))
					if limit > 0 && len(out) >= limit {
						return false
					}
				}
				continue
			}
			if !onPath[w] && len(path) < maxLen {
				if !dfs(start, w) {
					return false
				}
			}
		}
		return true
	}
	for s := 0; s < g.n; s++ {
		if g.outOff[s] == g.outOff[s+1] {
			continue
		}
		if !dfs(int32(s), int32(s)) {
			break
		}
	}
	slices.SortFunc(out, func(a, b []int32) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return slices.Compare(a, b)
	})
	return out
}

func containsCycle(cycles [][]int32, c []int32) bool {
	for i := len(cycles) - 1; i >= 0 && len(cycles[i]) > 0 && cycles[i][0] == c[0]; i-- {
		if slices.Equal(cycles[i], c) {
			return true
		}
	}
	return false
}

// MaxChain caps the chain length measure.
const MaxChain = 16

// NetworkMeasures are the per-company guarantee-network indicators, one slice entry per
// company; the names match GraphMeasures.
type NetworkMeasures struct {
	InCircle            []float64 // 1 when in a strongly connected component of >= 2
	CircleSize          []float64 // size of the component
	GivenCount          []float64
	GivenAmount         []float64
	ReceivedCount       []float64
	ReceivedAmount      []float64
	DefaultedNeighbours []float64 // distinct defaulted companies linked either way
	ChainLength         []float64 // longest chain of links through the company, circles contracted, capped at MaxChain
	Contagion           []float64 // 0.5^d, d = fewest guarantee links from the company to a defaulted borrower (1 when itself defaulted); 0 beyond MaxChain links
}

// Column returns the measure with the GraphMeasures name.
func (m *NetworkMeasures) Column(name string) ([]float64, bool) {
	switch name {
	case "in_circle":
		return m.InCircle, true
	case "circle_size":
		return m.CircleSize, true
	case "given_count":
		return m.GivenCount, true
	case "given_amount":
		return m.GivenAmount, true
	case "received_count":
		return m.ReceivedCount, true
	case "received_amount":
		return m.ReceivedAmount, true
	case "defaulted_neighbours":
		return m.DefaultedNeighbours, true
	case "chain_length":
		return m.ChainLength, true
	case "contagion":
		return m.Contagion, true
	}
	return nil, false
}

// Measures computes the network indicators; defaulted marks the companies that are in
// default as of the snapshot (len(defaulted) == Len()).
func (g *Network) Measures(defaulted []bool) (*NetworkMeasures, error) {
	n := g.n
	if len(defaulted) != n {
		return nil, fmt.Errorf("%w: %d default flags for %d companies", ErrNetwork, len(defaulted), n)
	}
	m := &NetworkMeasures{
		InCircle: make([]float64, n), CircleSize: make([]float64, n), GivenCount: make([]float64, n),
		GivenAmount: make([]float64, n), ReceivedCount: make([]float64, n), ReceivedAmount: make([]float64, n),
		DefaultedNeighbours: make([]float64, n), ChainLength: make([]float64, n), Contagion: make([]float64, n),
	}
	comp, nc := g.SCC()
	size := make([]int32, nc)
	for _, c := range comp {
		size[c]++
	}
	seen := make([]int32, n) // last node that counted a neighbour, +1
	for v := 0; v < n; v++ {
		m.CircleSize[v] = float64(size[comp[v]])
		if size[comp[v]] >= 2 {
			m.InCircle[v] = 1
		}
		for e := g.outOff[v]; e < g.outOff[v+1]; e++ {
			m.GivenCount[v]++
			m.GivenAmount[v] += g.outAmt[e]
		}
		for e := g.inOff[v]; e < g.inOff[v+1]; e++ {
			m.ReceivedCount[v]++
			m.ReceivedAmount[v] += g.inAmt[e]
		}
		count := func(w int32) {
			if defaulted[w] && seen[w] != int32(v)+1 {
				seen[w] = int32(v) + 1
				m.DefaultedNeighbours[v]++
			}
		}
		for e := g.outOff[v]; e < g.outOff[v+1]; e++ {
			count(g.outTo[e])
		}
		for e := g.inOff[v]; e < g.inOff[v+1]; e++ {
			count(g.inTo[e])
		}
	}
	// Longest chains on the condensation. Components are numbered in reverse
	// topological order, so a link c1 → c2 between components has c1 > c2.
	down := make([]int32, nc) // longest path of links starting in the component
	up := make([]int32, nc)   // longest path of links ending in the component
	members := make([][]int32, nc)
	for v := 0; v < n; v++ {
		members[comp[v]] = append(members[comp[v]], int32(v))
	}
	for c := 0; c < nc; c++ { // successors have smaller numbers: already final
		for _, v := range members[c] {
			for e := g.outOff[v]; e < g.outOff[v+1]; e++ {
				if w := comp[g.outTo[e]]; w != int32(c) {
					down[c] = min(max(down[c], down[w]+1), MaxChain)
				}
			}
		}
	}
	for c := nc - 1; c >= 0; c-- { // predecessors have larger numbers
		for _, v := range members[c] {
			for e := g.inOff[v]; e < g.inOff[v+1]; e++ {
				if w := comp[g.inTo[e]]; w != int32(c) {
					up[c] = min(max(up[c], up[w]+1), MaxChain)
				}
			}
		}
	}
	for v := 0; v < n; v++ {
		c := comp[v]
		m.ChainLength[v] = float64(min(up[c]+down[c], MaxChain))
	}
	// Contagion: breadth-first from the defaulted companies against the links
	// (borrower → its guarantors).
	dist := make([]int32, n)
	queue := make([]int32, 0, n)
	for v := range dist {
		dist[v] = -1
		if defaulted[v] {
			dist[v] = 0
			queue = append(queue, int32(v))
		}
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		if dist[v] >= MaxChain {
			continue
		}
		for e := g.inOff[v]; e < g.inOff[v+1]; e++ {
			if w := g.inTo[e]; dist[w] < 0 {
				dist[w] = dist[v] + 1
				queue = append(queue, w)
			}
		}
	}
	for v, d := range dist {
		if d >= 0 {
			m.Contagion[v] = math.Pow(0.5, float64(d))
		}
	}
	return m, nil
}

// Chains returns guarantee chains: for every chain head (a company that no company
// outside its own circle guarantees), the longest chain of links starting there, with
// circles contracted to their lowest-numbered company. Only chains of at least minLinks
// links are kept, longest first, at most limit (limit <= 0: all). Lengths are capped at
// MaxChain links.
func (g *Network) Chains(minLinks, limit int) [][]int32 {
	comp, nc := g.SCC()
	rep := make([]int32, nc)
	for i := range rep {
		rep[i] = -1
	}
	hasPred := make([]bool, nc)
	for v := 0; v < g.n; v++ {
		c := comp[v]
		if rep[c] < 0 {
			rep[c] = int32(v) // nodes ascend, so the first seen is the lowest
		}
		for e := g.outOff[v]; e < g.outOff[v+1]; e++ {
			if w := comp[g.outTo[e]]; w != c {
				hasPred[w] = true
			}
		}
	}
	// Longest path down from each component; successors have smaller numbers.
	members := make([][]int32, nc)
	for v := 0; v < g.n; v++ {
		members[comp[v]] = append(members[comp[v]], int32(v))
	}
	down := make([]int32, nc)
	next := make([]int32, nc)
	for c := 0; c < nc; c++ {
		next[c] = -1
		for _, v := range members[c] {
			for e := g.outOff[v]; e < g.outOff[v+1]; e++ {
				w := comp[g.outTo[e]]
				if w != int32(c) && (down[w]+1 > down[c] || down[w]+1 == down[c] && rep[w] < rep[next[c]]) && down[w] < MaxChain {
					down[c], next[c] = down[w]+1, w
				}
			}
		}
	}
	var out [][]int32
	for c := 0; c < nc; c++ {
		if hasPred[c] || int(down[c]) < max(minLinks, 1) {
			continue
		}
		var chain []int32
		for x := int32(c); x >= 0; x = next[x] {
			chain = append(chain, rep[x])
		}
		out = append(out, chain)
	}
	slices.SortFunc(out, func(a, b []int32) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return slices.Compare(a, b)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
