package lab

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ExploreFacets are the filter values of a whole screening with their counts.
type ExploreFacets struct {
	Districts, Industries, Tiers []Facet
}

// FacetsOf counts the districts, industries and tiers of rows, most companies
// first; industryLabel names an industry code (nil: the code).
func FacetsOf(rows []ExploreRow, industryLabel func(string) string) ExploreFacets {
	en := map[string]string{}
	districts, industries, tiers := map[string]*Facet{}, map[string]*Facet{}, map[string]*Facet{}
	count := func(m map[string]*Facet, value, label string) {
		if value == "" {
			return
		}
		if f, ok := m[value]; ok {
			f.Count++
			return
		}
		m[value] = &Facet{Value: value, Label: label, Count: 1}
	}
	for _, r := range rows {
		count(districts, r.District, r.District)
		label := r.Industry
		if industryLabel != nil {
			label = industryLabel(r.Industry)
		}
		count(industries, r.Industry, label)
		if r.IndustryNameEN != "" {
			en[r.Industry] = strings.TrimSpace(r.Industry + " " + r.IndustryNameEN)
		}
		count(tiers, r.Tier, r.Tier)
	}
	f := ExploreFacets{Districts: sortedFacets(districts), Industries: sortedFacets(industries), Tiers: sortedFacets(tiers)}
	for i := range f.Industries {
		f.Industries[i].LabelEN = en[f.Industries[i].Value]
	}
	return f
}

func sortedFacets(m map[string]*Facet) []Facet {
	out := make([]Facet, 0, len(m))
	for _, f := range m {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b Facet) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	return out
}

// PageOf filters, sorts and pages a screening's rows (ranked, riskiest first).
func PageOf(all []ExploreRow, f ExploreFacets, q ExploreQuery) (ExplorePage, error) {
	if q.PerPage <= 0 {
		q.PerPage = 50
	}
	if q.PerPage > 500 {
		return ExplorePage{}, fmt.Errorf("%w: at most 500 rows a page, not %d", ErrInvalidInput, q.PerPage)
	}
	if q.Page <= 0 {
		q.Page = 1
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	rows := make([]ExploreRow, 0, len(all))
	for _, r := range all {
		if (q.District == "" || r.District == q.District) && (q.Industry == "" || r.Industry == q.Industry) && (q.Tier == "" || r.Tier == q.Tier) &&
			(text == "" || strings.Contains(strings.ToLower(r.Code), text) || strings.Contains(strings.ToLower(r.Name), text)) {
			rows = append(rows, r)
		}
	}
	switch q.Sort {
	case "", "rank":
	case "-rank":
		slices.Reverse(rows)
	case "name":
		slices.SortStableFunc(rows, func(a, b ExploreRow) int { return cmp.Compare(a.Name, b.Name) })
	case "district":
		slices.SortStableFunc(rows, func(a, b ExploreRow) int { return cmp.Compare(a.District, b.District) })
	default:
		return ExplorePage{}, fmt.Errorf("%w: sort by rank, -rank, name or district, not %q", ErrInvalidInput, q.Sort)
	}
	page := ExplorePage{Total: len(rows), Page: q.Page, Pages: max(1, (len(rows)+q.PerPage-1)/q.PerPage),
		Districts: f.Districts, Industries: f.Industries, Tiers: f.Tiers}
	if lo := (q.Page - 1) * q.PerPage; lo < len(rows) {
		page.Rows = rows[lo:min(lo+q.PerPage, len(rows))]
	}
	return page, nil
}
