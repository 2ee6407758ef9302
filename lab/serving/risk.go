package serving

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
)

// Risk reads the regional risk index for the console (the route has authorized
// the principal: those who may screen the region).
type Risk struct {
	cache   *riskindex.Cache
	store   blob.Store         // nil: no movers or circles
	circles *riskindex.Circles // over store
	small   *riskindex.SmallFirmTopic
}

// NewRisk returns the console's view of the index in cache.
func NewRisk(cache *riskindex.Cache) *Risk { return &Risk{cache: cache} }

// WithTopics adds the movers and the guarantee circles of the score history
// and raw tables in store.
func (r *Risk) WithTopics(store blob.Store) *Risk {
	r.store, r.circles, r.small = store, riskindex.NewCircles(store), riskindex.NewSmallFirmTopic(store, riskindex.V1)
	return r
}

// RiskTopics implements lab.RiskTopics: the ten companies that worsened most
// between the two newest scored dates, the ten riskiest circles and the ten
// riskiest clusters of small firms.
func (r *Risk) RiskTopics(ctx context.Context, _ lab.Principal) (lab.RiskTopicsView, error) {
	var v lab.RiskTopicsView
	if r.store == nil {
		return v, fmt.Errorf("%w: risk topics", lab.ErrNotConnected)
	}
	m, err := riskindex.FindMovers(ctx, r.store, riskindex.MoverFilter{Limit: 10})
	if err != nil && !errors.Is(err, riskindex.ErrNoRuns) {
		return v, err
	}
	if m != nil {
		v.From, v.To, v.ColourWorse, v.ColourBetter = m.From, m.To, m.ColourWorse, m.ColourBetter
		for _, w := range m.Worse {
			v.Worse = append(v.Worse, lab.RiskMover{Code: w.Company, Name: w.Name, District: w.District, Industry: w.Industry,
				FromPD: w.FromPD, ToPD: w.ToPD, FromColour: w.FromColour, ToColour: w.ToColour})
		}
	}
	c, err := r.circles.Rank(ctx, "risk", 10)
	if err != nil && !errors.Is(err, riskindex.ErrNoRuns) {
		return v, err
	}
	if c != nil {
		v.CircleCount = c.Circles
		for _, t := range c.Top {
			rc := lab.RiskCircle{Size: len(t.Members), Given: t.Given, Defaulted: t.Defaulted, Red: t.Red, MaxPD: t.MaxPD}
			members := slices.Clone(t.Members)
			slices.SortStableFunc(members, func(a, b riskindex.CircleMember) int {
				switch {
				case a.Defaulted && !b.Defaulted:
					return -1
				case b.Defaulted && !a.Defaulted:
					return 1
				}
				return 0
			})
			for _, mb := range members {
				name := mb.Name
				if name == "" {
					name = mb.Company
				}
				rc.Members = append(rc.Members, name)
			}
			v.Circles = append(v.Circles, rc)
		}
	}
	sf, err := r.small.Report(ctx, 0, 10)
	if err != nil && !errors.Is(err, riskindex.ErrNoRuns) {
		return v, err
	}
	if sf != nil {
		v.SmallAsOf, v.SmallHeadcount, v.SmallFirms, v.SmallClusters, v.SmallSuppressed = sf.AsOf, sf.Headcount, sf.Small, sf.Clusters, sf.Suppressed
		for _, c := range sf.Top {
			v.Small = append(v.Small, lab.SmallCluster{District: c.District, DistrictEN: datasets.DistrictNameEN(c.District), Industry: c.Industry,
				IndustryName: c.IndustryName, IndustryNameEN: datasets.IndustryNameEN(c.Industry), Companies: c.Companies, CellCompanies: c.CellCompanies,
				Red: c.Red, Yellow: c.Yellow, MeanPD: c.MeanPD, Index: c.Index, CellIndex: c.CellIndex})
		}
	}
	return v, nil
}

// RiskIndex implements lab.RiskIndex.
func (r *Risk) RiskIndex(ctx context.Context, _ lab.Principal) (lab.RiskView, error) {
	region, err := r.cache.Index(ctx, riskindex.Region)
	if err != nil {
		return lab.RiskView{}, err
	}
	v := lab.RiskView{MethodVersion: region.Method.Version, ExplainZH: region.Method.ExplainZH, ExplainEN: region.Method.ExplainEN}
	at := map[string]int{}
	for _, c := range region.Cells {
		at[c.AsOf] = len(v.Dates)
		v.Dates = append(v.Dates, c.AsOf)
		v.Region = append(v.Region, lab.RiskCell{Index: c.Index, Companies: c.Companies, Suppressed: c.Suppressed})
	}
	for _, lv := range []riskindex.Level{riskindex.District, riskindex.Industry} {
		idx, err := r.cache.Index(ctx, lv)
		if err != nil {
			return lab.RiskView{}, err
		}
		rows := map[string]*lab.RiskRow{}
		var names []string
		for _, c := range idx.Cells {
			name := c.District
			if lv == riskindex.Industry {
				name = strings.TrimSpace(c.Industry + " " + c.IndustryName)
			}
			row := rows[name]
			if row == nil {
				row = &lab.RiskRow{Name: name, Cells: make([]lab.RiskCell, len(v.Dates))}
				if lv == riskindex.Industry {
					row.NameEN = strings.TrimSpace(c.Industry + " " + datasets.IndustryNameEN(c.Industry))
				} else {
					row.NameEN = datasets.DistrictNameEN(name)
				}
				rows[name] = row
				names = append(names, name)
			}
			if i, ok := at[c.AsOf]; ok {
				row.Cells[i] = lab.RiskCell{Index: c.Index, Companies: c.Companies, Suppressed: c.Suppressed}
			}
		}
		slices.Sort(names)
		out := make([]lab.RiskRow, 0, len(names))
		for _, n := range names {
			row := rows[n]
			row.Change = math.NaN()
			if k := len(row.Cells); k >= 2 {
				a, b := row.Cells[k-2], row.Cells[k-1]
				if a.Companies > 0 && b.Companies > 0 && !a.Suppressed && !b.Suppressed {
					row.Change = math.Round((b.Index-a.Index)*10) / 10
				}
			}
			out = append(out, *row)
		}
		if lv == riskindex.District {
			v.Districts = out
			for _, d := range datasets.Districts() {
				v.Map = append(v.Map, lab.MapTile{Name: d.Name, NameEN: d.NameEN, Col: d.Col, Row: d.Row})
			}
		} else {
			v.Industries = out
		}
	}
	return v, nil
}
