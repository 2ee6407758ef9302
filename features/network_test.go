package features

import (
	"errors"
	"fmt"
	"testing"
)

// Companies A..F = 0..5. A→B→C→A is a circle, B→A makes a second, shorter circle,
// C→D→E a chain out of it; E is in default; F stands alone.
const (
	nA int32 = iota
	nB
	nC
	nD
	nE
	nF
)

func handNetwork(t *testing.T) *Network {
	t.Helper()
	g, err := NewNetwork(6, []Link{
		{nA, nB, 100}, {nB, nC, 200}, {nC, nA, 300}, {nB, nA, 50},
		{nC, nD, 400}, {nD, nE, 500},
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSCC(t *testing.T) {
	g := handNetwork(t)
	comp, n := g.SCC()
	if n != 4 {
		t.Fatalf("components = %d, want 4 ({A,B,C}, {D}, {E}, {F})", n)
	}
	if comp[nA] != comp[nB] || comp[nB] != comp[nC] {
		t.Errorf("A, B, C not in one component: %v", comp)
	}
	if comp[nD] == comp[nA] || comp[nE] == comp[nD] || comp[nF] == comp[nA] {
		t.Errorf("D, E or F joined a component: %v", comp)
	}
	// Reverse topological numbering: {A,B,C} → D → E.
	if !(comp[nA] > comp[nD] && comp[nD] > comp[nE]) {
		t.Errorf("component numbers not reverse topological: %v", comp)
	}
}

func TestCycles(t *testing.T) {
	g := handNetwork(t)
	tests := []struct {
		maxLen, limit int
		want          string
	}{
		{3, 0, "[[0 1] [0 1 2]]"},
		{2, 0, "[[0 1]]"},
		{3, 1, "one"},
		{1, 0, "[]"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("len<=%d,limit=%d", tt.maxLen, tt.limit), func(t *testing.T) {
			cycles := g.Cycles(tt.maxLen, tt.limit)
			if tt.want == "one" {
				if len(cycles) != 1 {
					t.Errorf("cycles = %v, want one", cycles)
				}
				return
			}
			if got := fmt.Sprint(cycles); got != tt.want {
				t.Errorf("cycles = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNetworkMeasures(t *testing.T) {
	g := handNetwork(t)
	def := make([]bool, 6)
	def[nE] = true
	m, err := g.Measures(def)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		measure string
		want    [6]float64 // A B C D E F, by hand from the drawing above
	}{
		{"in_circle", [6]float64{1, 1, 1, 0, 0, 0}},
		{"circle_size", [6]float64{3, 3, 3, 1, 1, 1}},
		{"given_count", [6]float64{1, 2, 2, 1, 0, 0}},
		{"given_amount", [6]float64{100, 250, 700, 500, 0, 0}},
		{"received_count", [6]float64{2, 1, 1, 1, 1, 0}},
		{"received_amount", [6]float64{350, 100, 200, 400, 500, 0}},
		{"defaulted_neighbours", [6]float64{0, 0, 0, 1, 0, 0}},
		{"chain_length", [6]float64{2, 2, 2, 2, 2, 0}},
		// E defaulted (1); D guarantees E (0.5); C guarantees D (0.25); B guarantees C
		// (0.125); A guarantees B (0.0625); F is linked to nobody.
		{"contagion", [6]float64{0.0625, 0.125, 0.25, 0.5, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.measure, func(t *testing.T) {
			got, ok := m.Column(tt.measure)
			if !ok {
				t.Fatalf("no column %s", tt.measure)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want[:]) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, name := range GraphMeasures {
		if _, ok := m.Column(name); !ok {
			t.Errorf("GraphMeasures lists %s but Column does not know it", name)
		}
	}
}

func TestNetworkErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		links []Link
	}{
		{"self guarantee", []Link{{1, 1, 5}}},
		{"out of range", []Link{{0, 9, 5}}},
		{"negative", []Link{{-1, 0, 5}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewNetwork(3, tt.links); !errors.Is(err, ErrNetwork) {
				t.Errorf("err = %v, want ErrNetwork", err)
			}
		})
	}
}

// TestSCCMillionChain runs Tarjan over a one-million-company chain closed into one
// circle: a recursive implementation would need a million stack frames.
func TestSCCMillionChain(t *testing.T) {
	const n = 1_000_000
	links := make([]Link, n)
	for i := 0; i < n; i++ {
		links[i] = Link{int32(i), int32((i + 1) % n), 1}
	}
	g, err := NewNetwork(n, links)
	if err != nil {
		t.Fatal(err)
	}
	comp, count := g.SCC()
	if count != 1 || comp[0] != comp[n-1] {
		t.Fatalf("components = %d, want 1", count)
	}
	// Open the circle: a million singleton components, the chain capped at MaxChain.
	g, _ = NewNetwork(n, links[:n-1])
	_, count = g.SCC()
	if count != n {
		t.Fatalf("components = %d, want %d", count, n)
	}
	m, err := g.Measures(make([]bool, n))
	if err != nil {
		t.Fatal(err)
	}
	if m.ChainLength[n/2] != MaxChain || m.ChainLength[0] != MaxChain {
		t.Errorf("chain length = %v / %v, want capped at %d", m.ChainLength[0], m.ChainLength[n/2], MaxChain)
	}
}

func BenchmarkNetworkMeasures(b *testing.B) {
	const n = 120_000
	links := make([]Link, 0, n)
	x := uint64(88172645463325252)
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		a, c := int32(x%n), int32((x>>20)%n)
		if a != c {
			links = append(links, Link{a, c, 1})
		}
	}
	def := make([]bool, n)
	for i := 0; i < n; i += 50 {
		def[i] = true
	}
	g, err := NewNetwork(n, links)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := g.Measures(def); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChains(t *testing.T) {
	g := handNetwork(t)
	// The circle {A,B,C} (shown as A) heads the chain A → D → E; F has no link.
	if got := fmt.Sprint(g.Chains(1, 0)); got != "[[0 3 4]]" {
		t.Errorf("chains = %s, want [[0 3 4]]", got)
	}
	if got := fmt.Sprint(g.Chains(3, 0)); got != "[]" {
		t.Errorf("chains of 3+ links = %s, want []", got)
	}
	// Two heads: G(6) → H(7) and the long one.
	g2, err := NewNetwork(8, []Link{{nA, nB, 1}, {nB, nC, 1}, {nC, nA, 1}, {nC, nD, 1}, {nD, nE, 1}, {6, 7, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(g2.Chains(1, 0)); got != "[[0 3 4] [6 7]]" {
		t.Errorf("chains = %s, want [[0 3 4] [6 7]]", got)
	}
	if got := fmt.Sprint(g2.Chains(1, 1)); got != "[[0 3 4]]" {
		t.Errorf("chains limit 1 = %s", got)
	}
}
