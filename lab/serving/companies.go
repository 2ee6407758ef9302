package serving

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xinyi-platform/xinyi/datasets"
	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/lab"
	xserving "github.com/xinyi-platform/xinyi/serving"
)

// Companies implements lab.Companies with serving's assessment: probability of
// default, rating, colour, pre-credit limit and reason codes, and the reasons'
// indicators against their industry averages grouped by the catalog's dimensions.
// The assessment is authorized (role, consent) and audited by serving.
type Companies struct {
	svc *xserving.Service
	cat *xfeatures.Catalog
	dir *datasets.Directory
}

// NewCompanies wraps svc; cat (optional) supplies the indicators' dimensions.
func NewCompanies(svc *xserving.Service, cat *xfeatures.Catalog) *Companies {
	return &Companies{svc: svc, cat: cat}
}

// WithDirectory names each company, its industry and its district from the business
// registry (nil: the code stands for the name).
func (c *Companies) WithDirectory(d *datasets.Directory) *Companies {
	c.dir = d
	return c
}

// Company assesses code for the signed-in user.
func (c *Companies) Company(ctx context.Context, p lab.Principal, code string) (lab.Company, error) {
	sp, err := Principal(p)
	if err != nil {
		return lab.Company{}, err
	}
	d, err := c.svc.Assess(ctx, sp, xserving.Request{Company: code})
	switch {
	case errors.Is(err, xserving.ErrUnknownCompany):
		return lab.Company{}, fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	case errors.Is(err, xserving.ErrConsentRequired):
		return lab.Company{}, fmt.Errorf("%w: %w", lab.ErrForbidden, err)
	case errors.Is(err, xserving.ErrInvalidCompanyCode):
		return lab.Company{}, fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	case err != nil:
		return lab.Company{}, mapErr(err)
	}
	out := lab.Company{Code: d.Company, Name: d.Company, AsOf: d.AsOf.Format("2006-01-02"), PD: d.PD, Rating: string(d.Rating),
		Colour: string(d.Colour), Limit: d.Limit}
	if c.dir != nil {
		if r, ok := c.dir.Company(d.Company); ok {
			out.Name, out.Region, out.RegionEN = r.Name, r.DistrictName, datasets.DistrictNameEN(r.DistrictName)
			out.Industry = strings.TrimSpace(r.Industry + " " + datasets.IndustryName(r.Industry))
			out.IndustryEN = strings.TrimSpace(r.Industry + " " + datasets.IndustryNameEN(r.Industry))
		}
	}
	for _, src := range d.LateSources {
		n := lab.SourceName{Name: src, NameZH: src}
		if c, err := datasets.ContractOf(src); err == nil {
			n.NameZH = c.NameZh
		}
		out.Late = append(out.Late, n)
	}
	for _, m := range d.Models {
		out.Models = append(out.Models, fmt.Sprintf("%s %s:%s", m.Task, m.Name, m.Version))
	}
	byDim := map[string][]lab.IndicatorValue{}
	var dims []string
	for _, r := range d.Reasons {
		out.Reasons = append(out.Reasons, lab.Reason{Code: r.Code, TextZH: r.TextZH, TextEN: r.TextEN, Impact: r.Contribution})
		dim := "other"
		if c.cat != nil {
			if ind, err := c.cat.Indicator(r.Indicator); err == nil {
				dim = string(ind.Dimension)
			}
		}
		v := lab.IndicatorValue{ID: r.Indicator, NameZH: r.NameZH, NameEN: r.NameEN, Value: nan(), IndustryMean: nan()}
		if r.Value != nil {
			v.Value = *r.Value
		}
		if r.IndustryAverage != nil {
			v.IndustryMean = *r.IndustryAverage
		}
		if !slices.ContainsFunc(byDim[dim], func(x lab.IndicatorValue) bool { return x.ID == v.ID }) {
			if byDim[dim] == nil {
				dims = append(dims, dim)
			}
			byDim[dim] = append(byDim[dim], v)
		}
	}
	for _, dim := range dims {
		out.Dimensions = append(out.Dimensions, lab.DimensionValues{Dimension: dim, Indicators: byDim[dim]})
	}
	// The score history, as stored by the score-history jobs (none in a process
	// without one).
	pts, err := c.svc.History(ctx, sp, code)
	if err != nil && !errors.Is(err, xserving.ErrNotReady) {
		return lab.Company{}, mapErr(err)
	}
	for _, pt := range pts {
		out.History = append(out.History, lab.ScorePoint{Month: pt.AsOf[:min(7, len(pt.AsOf))], PD: pt.PD})
	}
	return out, nil
}

// FindCompanies searches the business registry by name or credit code
// (datasets.Directory.Search); without a directory it finds nothing.
func (c *Companies) FindCompanies(_ context.Context, query string, limit int) ([]lab.CompanyHit, error) {
	if c.dir == nil {
		return nil, nil
	}
	var out []lab.CompanyHit
	for _, m := range c.dir.Search(query, limit) {
		r := m.Company
		out = append(out, lab.CompanyHit{Code: r.Code, Name: r.Name, District: r.DistrictName, Industry: r.Industry,
			IndustryName: datasets.IndustryName(r.Industry), IndustryNameEN: datasets.IndustryNameEN(r.Industry)})
	}
	return out, nil
}
