package warnings

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// Input is what one date's evaluation reads. Only Now is required.
type Input struct {
	// Now is the feature snapshot of the date evaluated (a set holding every
	// indicator of the library, such as full/v1).
	Now *features.Snapshot
	// Prev is the snapshot of the previous as-of date of the same set; nil at the
	// first date (prev() is then NaN and event rules on indicators do not fire).
	Prev *features.Snapshot
	// Scores and PrevScores are the score runs of the two dates by company; nil
	// when the date was not scored (scored / prev_scored are then false).
	Scores, PrevScores map[string]scores.Row
	// Companies and PrevCompanies are the business registry as of the two dates
	// (status, district, industry); nil when not read (status is then empty).
	Companies, PrevCompanies map[string]Company
	// Circles are the guarantee circles as of the date; nil means none.
	Circles *Circles
	// Workers evaluating in parallel (0: GOMAXPROCS).
	Workers int
}

// Company is a company's business-registry facts as of a date.
type Company struct {
	// Status is 存续 (in operation), 吊销 (licence revoked) or 注销 (closed).
	Status   string `json:"status"`
	District string `json:"district"`
	Industry string `json:"industry"`
}

// Value is one figure a condition read, at the date and at the previous one
// (null when unknown, or for network figures, which describe the date only).
type Value struct {
	Name   string `json:"name"`
	Now    any    `json:"now"`
	Before any    `json:"before"`
	// Withheld is true when the value is above the reader's clearance and left out.
	Withheld bool `json:"withheld,omitempty"`
}

// Evidence is what a warning rests on.
type Evidence struct {
	AsOf     string  `json:"as_of"`
	PrevAsOf string  `json:"prev_as_of,omitempty"`
	Values   []Value `json:"values"`
	// Batch names the delivery a warning opened on arrival came from, Records
	// are the records of it that fired the rule (at most MaxBatchRecords) and
	// RecordCount counts them all. A later as-of date that keeps the warning
	// open adds its values and keeps these.
	Batch       *BatchRef `json:"batch,omitempty"`
	Records     []Record  `json:"records,omitempty"`
	RecordCount int       `json:"record_count,omitempty"`
}

// Firing is one rule firing for one company at one date.
type Firing struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Area     string   `json:"area"`
	// District and Industry are the company's (business registry), empty when
	// the registry was not read.
	District string   `json:"district,omitempty"`
	Industry string   `json:"industry,omitempty"`
	Company  string   `json:"company"`
	Evidence Evidence `json:"evidence"`
}

// Evaluation is the outcome of one date.
type Evaluation struct {
	AsOf      string `json:"as_of"`
	PrevAsOf  string `json:"prev_as_of,omitempty"`
	Version   string `json:"rules_version"`
	Companies int    `json:"companies"`
	// Firings are sorted by company, then in library order.
	Firings []Firing `json:"firings"`
	// Red are the companies red at the date (a red state rule without circle
	// facts fires), sorted; the contagion rules count these.
	Red []string `json:"red"`
}

// Circles are the guarantee circles (担保圈) of a date: groups of at least two
// companies that guarantee one another around a cycle.
type Circles struct {
	of      map[string]int32
	members [][]string
}

// NewCircles builds circles from groups of company codes; groups of fewer than
// two are dropped, and a company in two groups is an error.
func NewCircles(groups [][]string) (*Circles, error) {
	c := &Circles{of: map[string]int32{}}
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		id := int32(len(c.members))
		for _, code := range g {
			if _, dup := c.of[code]; dup {
				return nil, fmt.Errorf("%w: company %s is in two guarantee circles", ErrInput, code)
			}
			c.of[code] = id
		}
		c.members = append(c.members, slices.Clone(g))
	}
	return c, nil
}

// CirclesOf returns the circles of a guarantee network: its strongly connected
// components of two or more companies.
func CirclesOf(g *features.GuaranteeNetwork) (*Circles, error) {
	comp, n := g.Network.SCC()
	groups := make([][]string, n)
	for v, c := range comp {
		groups[c] = append(groups[c], g.Codes[v])
	}
	return NewCircles(groups)
}

// Circle returns the members of a company's circle (nil when it is in none).
func (c *Circles) Circle(code string) []string {
	if c == nil {
		return nil
	}
	if i, ok := c.of[code]; ok {
		return slices.Clone(c.members[i])
	}
	return nil
}

// Evaluate runs every rule for every company of in.Now.
func (l *Library) Evaluate(ctx context.Context, in Input) (*Evaluation, error) {
	if in.Now == nil {
		return nil, fmt.Errorf("%w: no snapshot to evaluate", ErrInput)
	}
	nowCols, err := l.columnsOf(in.Now)
	if err != nil {
		return nil, err
	}
	ev := &Evaluation{AsOf: day(in.Now.AsOf), Version: l.Version, Companies: len(in.Now.Codes)}
	var prevCols []int
	prevRow := map[string]int{}
	if in.Prev != nil {
		if !in.Prev.AsOf.Before(in.Now.AsOf) {
			return nil, fmt.Errorf("%w: previous snapshot %s is not before %s", ErrInput, day(in.Prev.AsOf), ev.AsOf)
		}
		ev.PrevAsOf = day(in.Prev.AsOf)
		if prevCols, err = l.columnsOf(in.Prev); err != nil {
			return nil, err
		}
		for i, c := range in.Prev.Codes {
			prevRow[c] = i
		}
	}
	workers := in.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var base, network, redState []int
	for i, r := range l.Rules {
		switch {
		case r.network:
			network = append(network, i)
		default:
			base = append(base, i)
			if r.Kind == State && r.Severity == Red {
				redState = append(redState, i)
			}
		}
	}
	n := len(in.Now.Codes)
	e := &evaluator{lib: l, in: &in, nowCols: nowCols, prevCols: prevCols, prevRow: prevRow,
		fired: make([][]int16, n), redNow: make([]bool, n), redBefore: make([]bool, n)}
	if err := e.parallel(ctx, workers, func(w *worker, i int) error { return e.first(w, i, base, redState) }); err != nil {
		return nil, err
	}
	if len(network) > 0 {
		e.circleFacts()
		if err := e.parallel(ctx, workers, func(w *worker, i int) error { return e.second(w, i, network) }); err != nil {
			return nil, err
		}
	}
	for i, code := range in.Now.Codes {
		if e.redNow[i] {
			ev.Red = append(ev.Red, code)
		}
		if len(e.fired[i]) == 0 {
			continue
		}
		fs := e.fired[i]
		slices.Sort(fs)
		env := e.envOf(i, &Env{Now: make([]float64, len(l.columns)), Prev: make([]float64, len(l.columns))})
		for _, k := range fs {
			r := l.Rules[k]
			ev.Firings = append(ev.Firings, Firing{Rule: r.ID, Severity: r.Severity, Area: r.Area, Company: code,
				District: in.Companies[code].District, Industry: in.Companies[code].Industry,
				Evidence: l.evidence(r, env, ev.AsOf, ev.PrevAsOf)})
		}
	}
	slices.SortStableFunc(ev.Firings, func(a, b Firing) int {
		if a.Company < b.Company {
			return -1
		}
		if a.Company > b.Company {
			return 1
		}
		return 0
	})
	slices.Sort(ev.Red)
	return ev, nil
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

func (l *Library) columnsOf(s *features.Snapshot) ([]int, error) {
	at := make(map[string]int, len(s.Names))
	for j, name := range s.Names {
		at[name] = j
	}
	cols := make([]int, len(l.columns))
	for k, id := range l.columns {
		j, ok := at[id]
		if !ok {
			return nil, fmt.Errorf("%w: snapshot %s as of %s has no indicator %s, which the rules read", ErrInput, s.Set, day(s.AsOf), id)
		}
		cols[k] = j
	}
	if len(s.Values) != len(s.Codes)*len(s.Names) {
		return nil, fmt.Errorf("%w: snapshot %s as of %s: %d values for %d companies × %d indicators", ErrInput, s.Set, day(s.AsOf),
			len(s.Values), len(s.Codes), len(s.Names))
	}
	return cols, nil
}

type evaluator struct {
	lib               *Library
	in                *Input
	nowCols, prevCols []int
	prevRow           map[string]int
	fired             [][]int16 // rules fired per company
	redNow, redBefore []bool
	circleRed         []int // per company: other members red now
	circleRedNew      []int // other members red now and not before
	circleSize        []int
}

type worker struct {
	vm  vm.VM
	env Env
}

func (e *evaluator) parallel(ctx context.Context, workers int, fn func(w *worker, i int) error) error {
	n := len(e.in.Now.Codes)
	const chunk = 1024
	var (
		mu   sync.Mutex
		next int
		werr error
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{env: Env{Now: make([]float64, len(e.lib.columns)), Prev: make([]float64, len(e.lib.columns))}}
			for {
				mu.Lock()
				lo := next
				next += chunk
				stop := werr != nil
				mu.Unlock()
				if stop || lo >= n {
					return
				}
				if err := ctx.Err(); err != nil {
					mu.Lock()
					werr = err
					mu.Unlock()
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					if err := fn(w, i); err != nil {
						mu.Lock()
						if werr == nil {
							werr = err
						}
						mu.Unlock()
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return werr
}

// envOf fills env with company i's values and figures (circle facts from the
// evaluator's second pass when computed).
func (e *evaluator) envOf(i int, env *Env) *Env {
	in := e.in
	code := in.Now.Codes[i]
	row := in.Now.Values[i*len(in.Now.Names) : (i+1)*len(in.Now.Names)]
	for k, j := range e.nowCols {
		env.Now[k] = row[j]
	}
	if p, ok := e.prevRow[code]; ok {
		prow := in.Prev.Values[p*len(in.Prev.Names) : (p+1)*len(in.Prev.Names)]
		for k, j := range e.prevCols {
			env.Prev[k] = prow[j]
		}
	} else {
		for k := range env.Prev {
			env.Prev[k] = math.NaN()
		}
	}
	env.Scored, env.Rating, env.Colour, env.PD, env.Limit = figures(in.Scores, code)
	env.PrevScored, env.PrevRating, env.PrevColour, env.PrevPD, env.PrevLimit = figures(in.PrevScores, code)
	env.Status, env.PrevStatus = in.Companies[code].Status, in.PrevCompanies[code].Status
	env.CircleSize, env.CircleRed, env.CircleRedNew = 0, 0, 0
	if e.circleSize != nil {
		env.CircleSize, env.CircleRed, env.CircleRedNew = e.circleSize[i], e.circleRed[i], e.circleRedNew[i]
	}
	return env
}

func figures(s map[string]scores.Row, code string) (bool, string, string, float64, float64) {
	r, ok := s[code]
	if !ok {
		return false, "", "", math.NaN(), math.NaN()
	}
	return true, r.Rating, r.Colour, r.PD, r.Limit
}

func run(r *Rule, env *Env, m *vm.VM) (bool, error) {
	if m == nil {
		m = &vm.VM{}
	}
	out, err := m.Run(r.program, env)
	if err != nil {
		return false, fmt.Errorf("warnings: rule %s: %w", r.ID, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("warnings: rule %s gave %T, not a boolean", r.ID, out)
	}
	return b, nil
}

// first runs the rules without circle facts for company i, and decides whether it
// is red now and was red at the previous date.
func (e *evaluator) first(w *worker, i int, base, redState []int) error {
	env := e.envOf(i, &w.env)
	for _, k := range base {
		r := e.lib.Rules[k]
		ok, err := run(r, env, &w.vm)
		if err != nil {
			return err
		}
		if ok {
			e.fired[i] = append(e.fired[i], int16(k))
			if r.Kind == State && r.Severity == Red {
				e.redNow[i] = true
			}
		}
	}
	if _, ok := e.prevRow[e.in.Now.Codes[i]]; !ok || len(redState) == 0 {
		return nil
	}
	// The previous date seen as the present: state rules read Now and current
	// figures only.
	env.Now, env.Prev = env.Prev, env.Now
	env.Scored, env.Rating, env.Colour, env.PD, env.Limit = env.PrevScored, env.PrevRating, env.PrevColour, env.PrevPD, env.PrevLimit
	env.Status = env.PrevStatus
	defer func() { env.Now, env.Prev = env.Prev, env.Now }()
	for _, k := range redState {
		ok, err := run(e.lib.Rules[k], env, &w.vm)
		if err != nil {
			return err
		}
		if ok {
			e.redBefore[i] = true
			return nil
		}
	}
	return nil
}

func (e *evaluator) circleFacts() {
	n := len(e.in.Now.Codes)
	e.circleSize, e.circleRed, e.circleRedNew = make([]int, n), make([]int, n), make([]int, n)
	c := e.in.Circles
	if c == nil {
		return
	}
	red := make([]int, len(c.members))
	redNew := make([]int, len(c.members))
	size := make([]int, len(c.members))
	circle := make([]int32, n)
	for i, code := range e.in.Now.Codes {
		id, ok := c.of[code]
		if !ok {
			circle[i] = -1
			continue
		}
		circle[i] = id
		size[id]++
		if e.redNow[i] {
			red[id]++
			if !e.redBefore[i] {
				redNew[id]++
			}
		}
	}
	for i, id := range circle {
		if id < 0 {
			continue
		}
		self, selfNew := 0, 0
		if e.redNow[i] {
			self = 1
			if !e.redBefore[i] {
				selfNew = 1
			}
		}
		e.circleSize[i], e.circleRed[i], e.circleRedNew[i] = size[id], red[id]-self, redNew[id]-selfNew
	}
}

func (e *evaluator) second(w *worker, i int, network []int) error {
	env := e.envOf(i, &w.env)
	for _, k := range network {
		ok, err := run(e.lib.Rules[k], env, &w.vm)
		if err != nil {
			return err
		}
		if ok {
			e.fired[i] = append(e.fired[i], int16(k))
		}
	}
	return nil
}

func (l *Library) evidence(r *Rule, env *Env, asOf, prevAsOf string) Evidence {
	ev := Evidence{AsOf: asOf, PrevAsOf: prevAsOf}
	for _, id := range r.indicators {
		k := l.column[id]
		ev.Values = append(ev.Values, Value{Name: id, Now: number(env.Now[k]), Before: number(env.Prev[k])})
	}
	for _, f := range r.figures {
		v := Value{Name: f}
		switch f {
		case "scored":
			v.Now, v.Before = env.Scored, env.PrevScored
		case "rating":
			v.Now, v.Before = str(env.Rating), str(env.PrevRating)
		case "colour":
			v.Now, v.Before = str(env.Colour), str(env.PrevColour)
		case "pd":
			v.Now, v.Before = number(env.PD), number(env.PrevPD)
		case "limit":
			v.Now, v.Before = number(env.Limit), number(env.PrevLimit)
		case "status":
			v.Now, v.Before = str(env.Status), str(env.PrevStatus)
		case "circle_size":
			v.Now = env.CircleSize
		case "circle_red":
			v.Now = env.CircleRed
		case "circle_red_new":
			v.Now = env.CircleRedNew
		}
		ev.Values = append(ev.Values, v)
	}
	return ev
}

func number(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return x
}

func str(s string) any {
	if s == "" {
		return nil
	}
	return s
}
