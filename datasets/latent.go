package datasets

import (
	"math"
	"sort"
	"sync"
)

// Parameters of the latent health process (see GENERATOR.md).
const (
	latentPhi       = 0.95 // AR(1) persistence of monthly distress log-odds
	latentSigma     = 0.30 // monthly innovation
	industrySigma   = 0.12 // industry shock innovation
	macroSigma      = 0.08 // regional macro shock innovation
	contagionShock  = 1.5  // added to a guarantor's log-odds when a borrower it guarantees falls into distress
	contagionDecay  = 0.85 // monthly decay of that shock
	cureProbability = 0.3  // share of distress episodes cured before 90 days overdue
)

// universe is everything the generator decides before writing rows: the
// companies, their latent monthly log-odds, distress and default dates, found
// violations and the guarantee graph.
type universe struct {
	opts      GenerateOptions
	seed      uint64
	companies []company
	months    int
	z         []float32 // companies x months, log-odds of monthly distress (NaN before first month)
	due       []Day     // day of the first missed instalment (0: none)
	cureDays  []int16   // days until a cured episode was repaid (0: not cured)
	words     int
	violation []uint64  // companies x words bitset: violation found in month t
	line      []float64 // credit line of borrowers
	edges     []edge    // guarantee contracts, sorted by guarantor
	byGuar    []int32   // CSR offsets into edges by guarantor (len companies+1)
	guarOf    [][]int32 // guarantors of each borrower (edge indexes)
}

// edge is one guarantee contract.
type edge struct {
	guarantor, borrower int32
	amount              float64
	start, end          Day
	id                  int32
}

func (u *universe) zAt(i, t int) float64 { return float64(u.z[i*u.months+t]) }

func (u *universe) violated(i, t int) bool {
	return u.violation[i*u.words+t/64]&(1<<(t%64)) != 0
}

// defaultDay returns the day company i reached 90 days overdue, or 0.
func (u *universe) defaultDay(i int) Day {
	if u.due[i] == 0 || u.cureDays[i] > 0 {
		return 0
	}
	return u.due[i] + 90
}

// onsetMonth returns the month index of the first missed instalment, or -1.
func (u *universe) onsetMonth(i int) int {
	if u.due[i] == 0 {
		return -1
	}
	return int(u.due[i].Month() - u.opts.Start)
}

// newUniverse draws companies, simulates their latent health month by month
// (with guarantee contagion) and decides distress, defaults and violations.
func newUniverse(o GenerateOptions, workers int) (*universe, error) {
	n, m := o.Companies, o.Months
	seed := uint64(o.Seed)
	u := &universe{opts: o, seed: seed, months: m, companies: make([]company, n)}
	var firstErr error
	var errOnce sync.Once
	parallel(n, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			c, err := newCompany(seed, i, &o)
			if err != nil {
				errOnce.Do(func() { firstErr = err })
				return
			}
			u.companies[i] = c
		}
	})
	if firstErr != nil {
		return nil, firstErr
	}
	u.line = make([]float64, n)
	for i := range u.companies {
		c := &u.companies[i]
		if c.borrower {
			r := streamOf(seed, uint64(i), 1, tagLoan)
			u.line[i] = math.Max(1e5, math.Round(c.sales*0.25*r.logn(0, 0.4)/1e4)*1e4)
		}
	}
	u.buildGraph()

	// Industry and macro shocks: AR(1) series shared by all companies.
	macro := make([]float64, m)
	indShock := make([][]float64, len(industries))
	{
		r := streamOf(seed, 0, 0, tagMacro)
		x := 0.0
		for t := range m {
			x = 0.8*x + macroSigma*r.norm()
			macro[t] = x
		}
		for k := range industries {
			y := 0.0
			indShock[k] = make([]float64, m)
			for t := range m {
				y = 0.8*y + industrySigma*r.norm()
				indShock[k][t] = y
			}
		}
	}

	u.z = make([]float32, n*m)
	u.due = make([]Day, n)
	u.cureDays = make([]int16, n)
	u.words = (m + 63) / 64
	u.violation = make([]uint64, n*u.words)
	prev := make([]float64, n)
	pastViol := make([]int32, n)
	contagion := make([]float64, n)
	onsetNow := make([]bool, n)
	for i := range n {
		r := streamOf(seed, uint64(i), 0, tagLatent)
		prev[i] = latentSigma / math.Sqrt(1-latentPhi*latentPhi) * r.norm()
	}
	for t := range m {
		month := o.Start + Month(t)
		parallel(n, workers, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				c := &u.companies[i]
				onsetNow[i] = false
				if month < c.firstM {
					u.z[i*m+t] = float32(math.NaN())
					continue
				}
				r := streamOf(seed, uint64(i), uint64(t), tagLatent)
				// The firm's own AR(1) deviation persists; shared shocks and
				// contagion enter the month they happen (they are persistent
				// series themselves) and are not compounded by the AR.
				x := latentPhi*prev[i] + latentSigma*r.norm()
				prev[i] = x
				z := c.mu + x + indShock[c.industry][t] + macro[t] + contagion[i]
				if u.due[i] != 0 && u.cureDays[i] == 0 {
					z += 1.0 // a company in default keeps deteriorating
				}
				u.z[i*m+t] = float32(z)
				// Distress onset: the first missed instalment of a borrower.
				if c.borrower && u.due[i] == 0 && r.bern(sigmoid(z)) {
					u.due[i] = month.FirstDay() + Day(r.intn(28))
					if r.bern(cureProbability) {
						u.cureDays[i] = int16(20 + r.intn(60))
					}
					onsetNow[i] = true
				}
				// Violation found in an inspection this month.
				taxProxy := math.Log1p(c.sales / 1e5)
				v := c.viol + 0.35*(z-c.mu) + 0.5*math.Log1p(float64(pastViol[i])) - 0.05*taxProxy
				if r.bern(sigmoid(v)) {
					u.violation[i*u.words+t/64] |= 1 << (t % 64)
					pastViol[i]++
				}
			}
		})
		// Contagion along guarantee links: a borrower's distress hits every
		// guarantor whose contract is in force, from the next month on.
		for i := range n {
			contagion[i] *= contagionDecay
		}
		for b := range n {
			if !onsetNow[b] {
				continue
			}
			for _, e := range u.guarOf[b] {
				ed := &u.edges[e]
				if ed.start <= u.due[b] && u.due[b] <= ed.end {
					contagion[ed.guarantor] += contagionShock
				}
			}
		}
	}
	return u, nil
}

// buildGraph links about a third of the borrowers by guarantee contracts in
// circles (mutual and joint guarantees, 互保/联保), chains and stars.
func (u *universe) buildGraph() {
	var borrowers []int32
	for i := range u.companies {
		if u.companies[i].borrower {
			borrowers = append(borrowers, int32(i))
		}
	}
	r := streamOf(u.seed, 0, 0, tagGraph)
	for k := len(borrowers) - 1; k > 0; k-- {
		j := r.intn(k + 1)
		borrowers[k], borrowers[j] = borrowers[j], borrowers[k]
	}
	take := len(borrowers) * 35 / 100
	var edges []edge
	add := func(g, b int32) {
		gc, bc := &u.companies[g], &u.companies[b]
		earliest := max(gc.founded, bc.founded, u.opts.Start.FirstDay()-3*365)
		latest := (u.opts.Start + Month(u.opts.Months) - 1).LastDay()
		if earliest >= latest {
			earliest = latest - 1
		}
		start := earliest + Day(r.intn(int(latest-earliest)))
		end := start + Day(365*(1+r.intn(3)))
		amount := math.Round(u.line[b]*(0.3+0.7*r.float())/1e4) * 1e4
		edges = append(edges, edge{guarantor: g, borrower: b, amount: amount, start: start, end: end})
	}
	for p := 0; p < take; {
		x := r.float()
		switch {
		case x < 0.35: // circle of 2-4
			k := 2 + r.intn(3)
			if p+k > take {
				p = take
				break
			}
			for j := range k {
				add(borrowers[p+j], borrowers[p+(j+1)%k])
			}
			p += k
		case x < 0.8: // chain of 2-5
			k := 2 + r.intn(4)
			if p+k > take {
				p = take
				break
			}
			for j := range k - 1 {
				add(borrowers[p+j], borrowers[p+j+1])
			}
			p += k
		default: // one guarantor, 2-4 borrowers
			k := 3 + r.intn(3)
			if p+k > take {
				p = take
				break
			}
			for j := 1; j < k; j++ {
				add(borrowers[p], borrowers[p+j])
			}
			p += k
		}
	}
	sort.SliceStable(edges, func(a, b int) bool { return edges[a].guarantor < edges[b].guarantor })
	for k := range edges {
		edges[k].id = int32(k)
	}
	u.edges = edges
	u.byGuar = make([]int32, len(u.companies)+1)
	for _, e := range edges {
		u.byGuar[e.guarantor+1]++
	}
	for i := 1; i < len(u.byGuar); i++ {
		u.byGuar[i] += u.byGuar[i-1]
	}
	u.guarOf = make([][]int32, len(u.companies))
	for k, e := range edges {
		u.guarOf[e.borrower] = append(u.guarOf[e.borrower], int32(k))
	}
}

// parallel runs f over [0, n) split into contiguous ranges on workers goroutines.
func parallel(n, workers int, f func(lo, hi int)) {
	if workers <= 1 || n < 4096 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		hi := min(n, lo+step)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
