package datasets

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Directory is the business registry as known on one date: each company's latest
// registration record (highest revision) that had arrived by then.
type Directory struct {
	AsOf Day
	rows map[string]CompanyRow

	searchOnce sync.Once
	search     *searchIndex // built by the first Search
}

// LoadDirectory reads every companies partition and keeps, per company, the record
// with the highest revision among those that happened and arrived by asof.
func LoadDirectory(ctx context.Context, store blob.Store, asof Day) (*Directory, error) {
	src, err := SourceByName(SourceCompanies)
	if err != nil {
		return nil, err
	}
	months, err := Months(ctx, store, src)
	if err != nil {
		return nil, err
	}
	d := &Directory{AsOf: asof, rows: map[string]CompanyRow{}}
	for _, m := range months {
		rows, err := ReadMonth[CompanyRow](ctx, store, src, m)
		if err != nil {
			return nil, fmt.Errorf("datasets: company directory: %w", err)
		}
		for _, r := range rows {
			if r.EventDate > asof || r.ArrivalDate > asof {
				continue
			}
			if old, ok := d.rows[r.Code]; !ok || r.Revision > old.Revision {
				d.rows[r.Code] = r
			}
		}
	}
	return d, nil
}

// LoadDirectories is LoadDirectory for several dates at once: it reads each
// companies partition once, however many dates are asked for.
func LoadDirectories(ctx context.Context, store blob.Store, days []Day) (map[Day]*Directory, error) {
	src, err := SourceByName(SourceCompanies)
	if err != nil {
		return nil, err
	}
	months, err := Months(ctx, store, src)
	if err != nil {
		return nil, err
	}
	out := make(map[Day]*Directory, len(days))
	for _, d := range days {
		out[d] = &Directory{AsOf: d, rows: map[string]CompanyRow{}}
	}
	for _, m := range months {
		rows, err := ReadMonth[CompanyRow](ctx, store, src, m)
		if err != nil {
			return nil, fmt.Errorf("datasets: company directory: %w", err)
		}
		for _, r := range rows {
			for asof, d := range out {
				if r.EventDate > asof || r.ArrivalDate > asof {
					continue
				}
				if old, ok := d.rows[r.Code]; !ok || r.Revision > old.Revision {
					d.rows[r.Code] = r
				}
			}
		}
	}
	return out, nil
}

// Company returns the registration record of code.
func (d *Directory) Company(code string) (CompanyRow, bool) {
	r, ok := d.rows[code]
	return r, ok
}

// Codes lists the companies of the directory, sorted.
func (d *Directory) Codes() []string {
	out := make([]string, 0, len(d.rows))
	for c := range d.rows {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Len is the number of companies in the directory.
func (d *Directory) Len() int { return len(d.rows) }

// industryNamesEN are the English names of the GB/T 4754-2017 sections (the
// standard's own translation, as the national bureau of statistics publishes it).
var industryNamesEN = map[string]string{
	"A": "Agriculture, forestry, animal husbandry and fishery", "B": "Mining", "C": "Manufacturing",
	"D": "Production and supply of electricity, heat, gas and water", "E": "Construction", "F": "Wholesale and retail trades",
	"G": "Transport, storage and post", "H": "Hotels and catering services", "I": "Information transmission, software and information technology services",
	"J": "Financial intermediation", "K": "Real estate", "L": "Leasing and business services", "M": "Scientific research and technical services",
	"N": "Management of water conservancy, environment and public facilities", "O": "Services to households, repair and other services",
	"P": "Education", "Q": "Health and social service", "R": "Culture, sports and entertainment",
	"S": "Public management, social security and social organization", "T": "International organizations",
}

// IndustryNameEN is the English name of a GB/T 4754 section, or "" when unknown.
func IndustryNameEN(section string) string { return industryNamesEN[section] }

// IndustryName is the GB/T 4754 section name of a section letter, or "" when unknown.
func IndustryName(section string) string {
	for _, in := range industries {
		if in.Section == section {
			return in.Name
		}
	}
	return ""
}
