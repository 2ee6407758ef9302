// Package riskindex computes the regional risk index from the stored score
// history (serving/scores): for each scored snapshot date, every district, every
// industry (GB/T 4754 section) and every district × industry cell gets
//
//	index = 100 × (0.4 × share of red codes + 0.2 × share of yellow codes + 0.4 × min(1, mean PD / 0.2))
//
// with the counts behind it. The method is versioned (Method): a change of the
// weights is a new version, and the figures say which version made them. Cells
// with fewer than MinCompanies companies are suppressed: their figures are not
// given (a region of a handful of firms would point at each one), only that they
// exist. The index is a pure function of the stored runs and the business
// registry, so it can be recomputed at any time and gives the same figures.
package riskindex

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// Method describes how the index is made.
type Method struct {
	Version string `json:"version"`
	// Weights of the share of red codes, the share of yellow codes and the
	// scaled mean PD; they sum to 1.
	RedWeight    float64 `json:"red_weight"`
	YellowWeight float64 `json:"yellow_weight"`
	PDWeight     float64 `json:"pd_weight"`
	// PDScale is the mean PD at which the PD term saturates.
	PDScale float64 `json:"pd_scale"`
	// MinCompanies is the smallest cell whose figures are given.
	MinCompanies int    `json:"min_companies"`
	ExplainZH    string `json:"explain_zh"`
	ExplainEN    string `json:"explain_en"`
}

// V1 is the method in force.
var V1 = Method{Version: "1", RedWeight: 0.4, YellowWeight: 0.2, PDWeight: 0.4, PDScale: 0.2, MinCompanies: 10,
	ExplainZH: "区域风险指数 = 100 ×（0.4 × 红码企业占比 + 0.2 × 黄码企业占比 + 0.4 × min(1, 平均违约概率 ÷ 20%)）。数值越高风险越大；企业数少于 10 家的单元不公布数值。",
	ExplainEN: "Regional risk index = 100 × (0.4 × share of red codes + 0.2 × share of yellow codes + 0.4 × min(1, mean PD ÷ 20%)). Higher is riskier; cells of fewer than 10 companies are not shown."}

// Cell is the index of one group of companies as of one date.
type Cell struct {
	AsOf     string `json:"as_of"`
	District string `json:"district,omitempty"`
	Industry string `json:"industry,omitempty"`
	// IndustryName is the section's official name.
	IndustryName string `json:"industry_name,omitempty"`
	Companies    int    `json:"companies"`
	// Suppressed is true for a cell under Method.MinCompanies: the figures below
	// are then zero and not to be shown.
	Suppressed bool    `json:"suppressed,omitempty"`
	Red        int     `json:"red"`
	Yellow     int     `json:"yellow"`
	MeanPD     float64 `json:"mean_pd"`
	Index      float64 `json:"index"`
}

// Level is the grouping of an index.
type Level string

// The levels.
const (
	Region   Level = "region"
	District Level = "district"
	Industry Level = "industry"
	Both     Level = "district_industry"
)

// Index is the regional risk index at one level over every scored date.
type Index struct {
	Method Method `json:"method"`
	Level  Level  `json:"level"`
	Cells  []Cell `json:"cells"`
}

// Compute reads every stored run and groups its companies by level, placing
// each by the business registry as of the run's date.
func Compute(ctx context.Context, store blob.Store, level Level, m Method) (*Index, error) {
	all, err := computeLevels(ctx, store, m, level)
	if err != nil {
		return nil, err
	}
	return all[level], nil
}

// computeLevels computes the index at each of levels in one pass over the runs,
// loading each run's rows and the registry as of its date once.
func computeLevels(ctx context.Context, store blob.Store, m Method, levels ...Level) (map[Level]*Index, error) {
	out := map[Level]*Index{}
	for _, l := range levels {
		switch l {
		case Region, District, Industry, Both:
		default:
			return nil, fmt.Errorf("riskindex: level %q is not region, district, industry or district_industry", l)
		}
		out[l] = &Index{Method: m, Level: l}
	}
	err := eachRun(ctx, store, func(run *scores.Manifest, rows []scores.Row, dir *datasets.Directory) error {
		for _, l := range levels {
			out[l].Cells = append(out[l].Cells, group(run.AsOf, rows, dir, l, m)...)
		}
		return nil
	})
	return out, err
}

// eachRun calls fn with every visible run, oldest date first, its rows and the
// business registry as of its date.
func eachRun(ctx context.Context, store blob.Store, fn func(run *scores.Manifest, rows []scores.Row, dir *datasets.Directory) error) error {
	runs, err := scores.Runs(ctx, store)
	if err != nil {
		return err
	}
	days := make([]datasets.Day, len(runs))
	for i, run := range runs {
		t, err := time.Parse(time.DateOnly, run.AsOf)
		if err != nil {
			return fmt.Errorf("riskindex: run date %q: %w", run.AsOf, err)
		}
		days[i] = datasets.DayOf(t)
	}
	// One read of the registry serves every date.
	dirs, err := datasets.LoadDirectories(ctx, store, days)
	if err != nil {
		return fmt.Errorf("riskindex: business registry: %w", err)
	}
	reader := scores.NewReader(store, 1)
	for i, run := range runs {
		rows, err := reader.Rows(ctx, run)
		if err != nil {
			return err
		}
		if err := fn(run, rows, dirs[days[i]]); err != nil {
			return err
		}
	}
	return nil
}

type key struct{ district, industry string }

var allLevels = map[Level]bool{Region: true, District: true, Industry: true, Both: true}

// cellOf places a company in its cell at level; false when the registry does
// not know it as of the date (no place to put it) and the level needs one.
func cellOf(dir *datasets.Directory, code string, level Level) (key, bool) {
	c, ok := dir.Company(code)
	if !ok {
		return key{}, level == Region
	}
	switch level {
	case District:
		return key{district: c.DistrictName}, true
	case Industry:
		return key{industry: c.Industry}, true
	case Both:
		return key{c.DistrictName, c.Industry}, true
	}
	return key{}, true
}

// group computes one date's cells.
func group(asOf string, rows []scores.Row, dir *datasets.Directory, level Level, m Method) []Cell {
	type acc struct {
		n, red, yellow int
		pd             float64
	}
	cells := map[key]*acc{}
	for _, r := range rows {
		k, ok := cellOf(dir, r.Company, level)
		if !ok {
			continue
		}
		a := cells[k]
		if a == nil {
			a = &acc{}
			cells[k] = a
		}
		a.n++
		a.pd += r.PD
		switch r.Colour {
		case "red":
			a.red++
		case "yellow":
			a.yellow++
		}
	}
	out := make([]Cell, 0, len(cells))
	for k, a := range cells {
		c := Cell{AsOf: asOf, District: k.district, Industry: k.industry, Companies: a.n}
		if k.industry != "" {
			c.IndustryName = datasets.IndustryName(k.industry)
		}
		if a.n < m.MinCompanies {
			c.Suppressed = true
		} else {
			c.Red, c.Yellow, c.MeanPD = a.red, a.yellow, a.pd/float64(a.n)
			c.Index = m.value(float64(a.red)/float64(a.n), float64(a.yellow)/float64(a.n), c.MeanPD)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Cell) int {
		if c := cmp.Compare(a.District, b.District); c != 0 {
			return c
		}
		return cmp.Compare(a.Industry, b.Industry)
	})
	return out
}

// value is the index of shares and a mean PD, rounded to 0.1.
func (m Method) value(red, yellow, meanPD float64) float64 {
	v := 100 * (m.RedWeight*red + m.YellowWeight*yellow + m.PDWeight*math.Min(1, meanPD/m.PDScale))
	return math.Round(v*10) / 10
}

// Cache answers Compute from memory while the stored runs are unchanged (a new
// or replaced run recomputes). It is safe for concurrent use.
type Cache struct {
	store  blob.Store
	method Method

	mu   sync.Mutex
	seen map[Level]cached
}

type cached struct {
	runs string // the runs' parts, in order
	idx  *Index
}

// NewCache returns a cache over store with method m.
func NewCache(store blob.Store, m Method) *Cache {
	return &Cache{store: store, method: m, seen: map[Level]cached{}}
}

// Index returns the index at level.
func (c *Cache) Index(ctx context.Context, level Level) (*Index, error) {
	runs, err := scores.Runs(ctx, c.store)
	if err != nil {
		return nil, err
	}
	var fp strings.Builder
	for _, r := range runs {
		fp.WriteString(r.Part)
		fp.WriteByte('\n')
	}
	c.mu.Lock()
	if hit, ok := c.seen[level]; ok && hit.runs == fp.String() {
		c.mu.Unlock()
		return hit.idx, nil
	}
	c.mu.Unlock()
	if _, ok := allLevels[level]; !ok {
		return nil, fmt.Errorf("riskindex: level %q is not region, district, industry or district_industry", level)
	}
	// One pass computes every level: a page shows several, and the pass's cost is
	// reading the runs and the registry, not grouping.
	all, err := computeLevels(ctx, c.store, c.method, Region, District, Industry, Both)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	for l, idx := range all {
		c.seen[l] = cached{runs: fp.String(), idx: idx}
	}
	c.mu.Unlock()
	return all[level], nil
}
