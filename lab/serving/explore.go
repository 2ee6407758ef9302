package serving

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/xinyi-platform/xinyi/datasets"
	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/lab"
	xserving "github.com/xinyi-platform/xinyi/serving"
)

// explored is a finished screening's ranking joined with the business registry,
// kept while it is among the most recently explored (results never change).
type explored struct {
	rows   []lab.ExploreRow
	facets lab.ExploreFacets
}

// exploreCache holds the last few explored screenings.
type exploreCache struct {
	mu    sync.Mutex
	keep  int
	byID  map[string]*explored
	order []string
}

// WithExplorer lets the console page through whole screenings: dir names each
// company and places it (nil: codes only), cat turns reason codes into
// sentences (nil: the codes).
func (s *Screenings) WithExplorer(dir *datasets.Directory, cat *xfeatures.Catalog) *Screenings {
	s.dir, s.cat = dir, cat
	s.cache = &exploreCache{keep: 4, byID: map[string]*explored{}}
	return s
}

// Explore implements lab.ScreeningExplorer.
func (s *Screenings) Explore(ctx context.Context, p lab.Principal, id string, q lab.ExploreQuery) (lab.ExplorePage, error) {
	sp, err := Principal(p)
	if err != nil {
		return lab.ExplorePage{}, err
	}
	j, err := s.sc.Get(ctx, sp, id) // authorizes: the owner institution
	if err != nil {
		return lab.ExplorePage{}, mapErr(err)
	}
	if j.State != xserving.JobDone {
		return lab.ExplorePage{}, fmt.Errorf("%w: screening %s is %s; explore it once it is done", lab.ErrConflict, id, j.State)
	}
	e, err := s.explored(ctx, id)
	if err != nil {
		return lab.ExplorePage{}, err
	}
	return lab.PageOf(e.rows, e.facets, q)
}

func (s *Screenings) explored(ctx context.Context, id string) (*explored, error) {
	c := s.cache
	if c == nil {
		return nil, fmt.Errorf("%w: screening explorer", lab.ErrNotConnected)
	}
	c.mu.Lock()
	if e, ok := c.byID[id]; ok {
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()
	stored, err := xserving.ReadScreening(ctx, s.store, id)
	if err != nil {
		return nil, err
	}
	e := &explored{rows: make([]lab.ExploreRow, len(stored))}
	for i, r := range stored {
		row := lab.ExploreRow{Rank: r.Rank, Code: r.Company, Name: r.Company, Probability: r.Probability, Tier: r.Tier}
		if s.dir != nil {
			if c, ok := s.dir.Company(r.Company); ok {
				row.Name, row.District, row.Industry = c.Name, c.DistrictName, c.Industry
				row.IndustryName, row.IndustryNameEN = datasets.IndustryName(c.Industry), datasets.IndustryNameEN(c.Industry)
			}
		}
		if r.Reasons != "" {
			for _, id := range strings.Split(r.Reasons, "|") {
				zh, en := s.reasonSentence(id)
				row.ReasonsZH, row.ReasonsEN = append(row.ReasonsZH, zh), append(row.ReasonsEN, en)
			}
		}
		e.rows[i] = row
	}
	e.facets = lab.FacetsOf(e.rows, func(section string) string { return strings.TrimSpace(section + " " + datasets.IndustryName(section)) })
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[id]; !ok {
		c.byID[id] = e
		c.order = append(c.order, id)
		for len(c.order) > c.keep {
			delete(c.byID, c.order[0])
			c.order = c.order[1:]
		}
	}
	return e, nil
}

// reasonSentence says in words what an indicator that raises the risk shows:
// high when more is worse, low when more is better.
func (s *Screenings) reasonSentence(id string) (zh, en string) {
	if s.cat == nil {
		return id, id
	}
	ind, err := s.cat.Indicator(id)
	if err != nil {
		return id, id
	}
	switch ind.Direction {
	case xfeatures.HigherBetter:
		return ind.NameZH + "偏低", ind.NameEN + " is low"
	case xfeatures.HigherWorse:
		return ind.NameZH + "偏高", ind.NameEN + " is high"
	}
	return ind.NameZH + "异常", ind.NameEN + " is unusual"
}
