package serving

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// RegionWarnings implements lab.RegionWarnings over the warning store: the
// route has authorized the principal (those who may screen the region).
type RegionWarnings struct {
	ws    *warnings.Store
	lib   *warnings.Library
	names func(code string) string // nil: companies by code
	// districts names the division codes of the generated region.
	districts map[string]datasets.District
}

// NewRegionWarnings returns the console's view of the warnings in ws, rules
// named from lib and companies from names (nil: by code).
func NewRegionWarnings(ws *warnings.Store, lib *warnings.Library, names func(code string) string) *RegionWarnings {
	r := &RegionWarnings{ws: ws, lib: lib, names: names, districts: map[string]datasets.District{}}
	for _, d := range datasets.Districts() {
		r.districts[d.Code] = d
	}
	return r
}

func (r *RegionWarnings) district(code string) (zh, en string) {
	if code == "" {
		return "（未登记）", "(not recorded)"
	}
	if d, ok := r.districts[code]; ok {
		return d.Name, d.NameEN
	}
	return code, code
}

func industry(section string) (zh, en string) {
	if section == "" {
		return "（未登记）", "(not recorded)"
	}
	zh, en = datasets.IndustryName(section), datasets.IndustryNameEN(section)
	if zh == "" {
		zh = section
	}
	if en == "" {
		en = section
	}
	return zh, en
}

func (r *RegionWarnings) rule(id string) (zh, en string) {
	if rl, ok := r.lib.Rule(id); ok {
		return rl.NameZh, rl.NameEn
	}
	return id, id
}

// RegionWarnings implements lab.RegionWarnings.
func (r *RegionWarnings) RegionWarnings(ctx context.Context, _ lab.Principal, f lab.RegionWarningFilter) (*lab.RegionWarningView, error) {
	flt := warnings.Filter{State: warnings.StateOpen, Severity: warnings.Severity(f.Severity), District: f.District, Industry: f.Industry, Rule: f.Rule}
	all, err := r.ws.Counts(ctx, warnings.Filter{State: warnings.StateOpen})
	if err != nil {
		return nil, r.err(err)
	}
	v := &lab.RegionWarningView{}
	byD, byI, byR := map[string]*lab.WarningCount{}, map[string]*lab.WarningCount{}, map[string]*lab.WarningCount{}
	tally := func(m map[string]*lab.WarningCount, key string, name func(string) (string, string), sev warnings.Severity, n int) {
		c := m[key]
		if c == nil {
			zh, en := name(key)
			c = &lab.WarningCount{Key: key, Name: zh, NameEN: en}
			m[key] = c
		}
		switch sev {
		case warnings.Red:
			c.Red += n
		case warnings.Yellow:
			c.Yellow += n
		default:
			c.Blue += n
		}
	}
	dChoice, iChoice, rChoice := map[string]*lab.WarningCount{}, map[string]*lab.WarningCount{}, map[string]*lab.WarningCount{}
	for _, c := range all {
		tally(dChoice, c.District, r.district, c.Severity, c.N)
		tally(iChoice, c.Industry, industry, c.Severity, c.N)
		tally(rChoice, c.Rule, r.rule, c.Severity, c.N)
		if (flt.Severity != "" && c.Severity != flt.Severity) || (f.District != "" && c.District != f.District) ||
			(f.Industry != "" && c.Industry != f.Industry) || (f.Rule != "" && c.Rule != f.Rule) {
			continue
		}
		switch c.Severity {
		case warnings.Red:
			v.Red += c.N
		case warnings.Yellow:
			v.Yellow += c.N
		default:
			v.Blue += c.N
		}
		tally(byD, c.District, r.district, c.Severity, c.N)
		tally(byI, c.Industry, industry, c.Severity, c.N)
		tally(byR, c.Rule, r.rule, c.Severity, c.N)
	}
	v.ByDistrict, v.ByIndustry, v.ByRule = mostFirst(byD), mostFirst(byI), mostFirst(byR)
	v.Districts, v.Industries, v.Rules = byName(dChoice), byName(iChoice), byName(rChoice)
	if f.Limit < 0 {
		return v, nil
	}
	limit := f.Limit
	if limit == 0 {
		limit = 50
	}
	flt.Newest, flt.BeforeID, flt.Limit = true, f.Before, limit+1
	ws, err := r.ws.List(ctx, flt)
	if err != nil {
		return nil, r.err(err)
	}
	if len(ws) > limit {
		ws = ws[:limit]
		v.Next = ws[limit-1].ID
	}
	for _, w := range ws {
		rw := lab.RegionWarning{InboxWarning: lab.InboxWarning{ID: w.ID, Code: w.Company, Rule: w.Rule, Severity: string(w.Severity), Area: w.Area,
			OpenedAsOf: w.OpenedAsOf, LastSeenAsOf: w.LastSeenAsOf, AckedBy: w.AckedBy}, District: w.District, Industry: w.Industry}
		if r.names != nil {
			rw.Name = r.names(w.Company)
		}
		rw.RuleZH, rw.RuleEN = r.rule(w.Rule)
		rw.DistrictName, rw.DistrictNameEN = r.district(w.District)
		rw.IndustryName, rw.IndustryNameEN = industry(w.Industry)
		v.Rows = append(v.Rows, rw)
	}
	return v, nil
}

func (r *RegionWarnings) err(err error) error {
	if errors.Is(err, warnings.ErrInput) {
		return fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	}
	return err
}

// mostFirst orders counts by total, most first, then by key.
func mostFirst(m map[string]*lab.WarningCount) []lab.WarningCount {
	out := make([]lab.WarningCount, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b lab.WarningCount) int {
		if c := cmp.Compare(b.Total(), a.Total()); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

// byName orders choices by key (division codes, section letters, rule ids).
func byName(m map[string]*lab.WarningCount) []lab.WarningCount {
	out := make([]lab.WarningCount, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b lab.WarningCount) int { return cmp.Compare(a.Key, b.Key) })
	return out
}
