package serving

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
)

// Risk reads the regional risk index for the console (the route has authorized
// the principal: those who may screen the region).
type Risk struct{ cache *riskindex.Cache }

// NewRisk returns the console's view of the index in cache.
func NewRisk(cache *riskindex.Cache) *Risk { return &Risk{cache: cache} }

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
		} else {
			v.Industries = out
		}
	}
	return v, nil
}
