package riskindex

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// DefaultSmallHeadcount is the insured headcount below which a firm counts as
// small in the small-firm topic: 20, the employee bound of a micro firm in
// industry under the national statistics classification of firm sizes (统计上
// 大中小微型企业划分办法（2017）), which also bounds revenue; the registry holds no
// revenue, so headcount alone decides here.
const DefaultSmallHeadcount = 20

// SmallCluster is the small firms of one district × industry cell as of the
// newest scored date: how many, their share of the cell, and their risk by the
// index's method, beside the index of every firm of the cell.
type SmallCluster struct {
	District     string `json:"district"`
	Industry     string `json:"industry"`
	IndustryName string `json:"industry_name"`
	// Companies is the small firms; CellCompanies every scored firm of the cell.
	Companies     int     `json:"companies"`
	CellCompanies int     `json:"cell_companies"`
	Share         float64 `json:"share"`
	Red           int     `json:"red"`
	Yellow        int     `json:"yellow"`
	MeanPD        float64 `json:"mean_pd"`
	Index         float64 `json:"index"`
	// CellIndex is the index of every firm of the cell.
	CellIndex float64 `json:"cell_index"`
}

// SmallFirmReport is the small-firm topic: clusters of small firms by district
// and industry, the riskiest first. Clusters of fewer than the method's
// MinCompanies small firms are suppressed (counted, not shown).
type SmallFirmReport struct {
	AsOf   string `json:"as_of"`
	Method Method `json:"method"`
	// Headcount is the bound: a small firm has fewer insured employees.
	Headcount int `json:"headcount"`
	// Scored firms of the date; Small among them; Unknown those with no insured
	// headcount known as of the date (left out).
	Scored     int            `json:"scored"`
	Small      int            `json:"small"`
	Unknown    int            `json:"unknown"`
	Clusters   int            `json:"clusters"`
	Suppressed int            `json:"suppressed"`
	Top        []SmallCluster `json:"top"`
}

// SmallFirms groups the small firms of the newest scored date in store by
// district × industry of the business registry as of the date, each firm's
// size its newest insured headcount known by then (social insurance, within
// the three months up to the date). headcount ≤ 0 means DefaultSmallHeadcount;
// limit ≤ 0 means 20 (at most 1,000).
func SmallFirms(ctx context.Context, store blob.Store, m Method, headcount, limit int) (*SmallFirmReport, error) {
	if headcount <= 0 {
		headcount = DefaultSmallHeadcount
	}
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 1000)
	runs, err := scores.Runs(ctx, store)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%w: nothing scored yet", ErrNoRuns)
	}
	run := runs[len(runs)-1]
	t, err := time.Parse(time.DateOnly, run.AsOf)
	if err != nil {
		return nil, fmt.Errorf("riskindex: run date %q: %w", run.AsOf, err)
	}
	day := datasets.DayOf(t)
	rows, err := scores.NewReader(store, 1).Rows(ctx, run)
	if err != nil {
		return nil, err
	}
	dir, err := datasets.LoadDirectory(ctx, store, day)
	if err != nil {
		return nil, fmt.Errorf("riskindex: business registry as of %s: %w", run.AsOf, err)
	}
	insured, err := Headcounts(ctx, store, day)
	if err != nil {
		return nil, err
	}
	type acc struct {
		all, n, red, yellow int
		pd, allPD           float64
		allRed, allYellow   int
	}
	cells := map[key]*acc{}
	rep := &SmallFirmReport{AsOf: run.AsOf, Method: m, Headcount: headcount}
	for _, r := range rows {
		c, ok := dir.Company(r.Company)
		if !ok {
			continue
		}
		rep.Scored++
		k := key{c.DistrictName, c.Industry}
		a := cells[k]
		if a == nil {
			a = &acc{}
			cells[k] = a
		}
		a.all++
		a.allPD += r.PD
		red, yellow := r.Colour == "red", r.Colour == "yellow"
		if red {
			a.allRed++
		}
		if yellow {
			a.allYellow++
		}
		h, known := insured[r.Company]
		if !known {
			rep.Unknown++
			continue
		}
		if int(h) >= headcount {
			continue
		}
		rep.Small++
		a.n++
		a.pd += r.PD
		if red {
			a.red++
		}
		if yellow {
			a.yellow++
		}
	}
	for k, a := range cells {
		if a.n == 0 {
			continue
		}
		if a.n < m.MinCompanies {
			rep.Suppressed++
			continue
		}
		rep.Clusters++
		sc := SmallCluster{District: k.district, Industry: k.industry, IndustryName: datasets.IndustryName(k.industry),
			Companies: a.n, CellCompanies: a.all, Share: float64(a.n) / float64(a.all), Red: a.red, Yellow: a.yellow,
			MeanPD: a.pd / float64(a.n)}
		sc.Index = m.value(float64(a.red)/float64(a.n), float64(a.yellow)/float64(a.n), sc.MeanPD)
		sc.CellIndex = m.value(float64(a.allRed)/float64(a.all), float64(a.allYellow)/float64(a.all), a.allPD/float64(a.all))
		rep.Top = append(rep.Top, sc)
	}
	slices.SortFunc(rep.Top, func(a, b SmallCluster) int {
		if c := cmp.Compare(b.Index, a.Index); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Companies, a.Companies); c != 0 {
			return c
		}
		if c := cmp.Compare(a.District, b.District); c != 0 {
			return c
		}
		return cmp.Compare(a.Industry, b.Industry)
	})
	if len(rep.Top) > limit {
		rep.Top = rep.Top[:limit]
	}
	if rep.Top == nil {
		rep.Top = []SmallCluster{}
	}
	return rep, nil
}

// Headcounts returns each company's newest insured headcount known as of day:
// the social insurance row of the latest month (within the three months up to
// day's) that happened and arrived by day, its highest revision.
func Headcounts(ctx context.Context, store blob.Store, day datasets.Day) (map[string]int32, error) {
	src, err := datasets.SourceByName(datasets.SourceSocialInsurance)
	if err != nil {
		return nil, err
	}
	type seen struct {
		event datasets.Day
		rev   int32
		n     int32
	}
	best := map[string]seen{}
	for m := day.Month() - 2; m <= day.Month(); m++ {
		rows, err := datasets.ReadMonth[datasets.SocialInsuranceRow](ctx, store, src, m)
		if errors.Is(err, datasets.ErrSourceMissing) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("riskindex: insured headcounts of %s: %w", m, err)
		}
		for _, r := range rows {
			if r.EventDate > day || r.ArrivalDate > day {
				continue
			}
			if b, ok := best[r.Code]; ok && (r.EventDate < b.event || r.EventDate == b.event && r.Revision <= b.rev) {
				continue
			}
			best[r.Code] = seen{r.EventDate, r.Revision, r.Insured}
		}
	}
	out := make(map[string]int32, len(best))
	for c, b := range best {
		out[c] = b.n
	}
	return out, nil
}

// SmallFirmTopic answers SmallFirms from memory while the newest scored run is
// unchanged. It is safe for concurrent use.
type SmallFirmTopic struct {
	store blob.Store
	m     Method

	mu  sync.Mutex
	key string // newest run's part and the headcount
	rep *SmallFirmReport
}

// NewSmallFirmTopic returns the topic over the history and raw tables in store.
func NewSmallFirmTopic(store blob.Store, m Method) *SmallFirmTopic {
	return &SmallFirmTopic{store: store, m: m}
}

// Report is SmallFirms of the newest run, cut at limit (≤ 0: 20; at most 1,000).
func (s *SmallFirmTopic) Report(ctx context.Context, headcount, limit int) (*SmallFirmReport, error) {
	if headcount <= 0 {
		headcount = DefaultSmallHeadcount
	}
	if limit <= 0 {
		limit = 20
	}
	runs, err := scores.Runs(ctx, s.store)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%w: nothing scored yet", ErrNoRuns)
	}
	key := runs[len(runs)-1].Part + "|" + strconv.Itoa(headcount)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != key {
		rep, err := SmallFirms(ctx, s.store, s.m, headcount, 1000)
		if err != nil {
			return nil, err
		}
		s.key, s.rep = key, rep
	}
	out := *s.rep
	out.Top = out.Top[:min(limit, len(out.Top))]
	return &out, nil
}
