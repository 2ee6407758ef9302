// Package portfolio is a bank's post-loan view: every company whose consent the
// bank holds (its borrowers, and applicants under a request's consent), with the
// latest figures of the score history, the change since the period before, and
// the open warnings. It reads; it decides nothing.
//
//	entries, _ := portfolio.Build(ctx, portfolio.Sources{...}, bankID, portfolio.Filter{Change: portfolio.Worse})
package portfolio

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/scores"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// ErrInput is a filter that does not parse.
var ErrInput = errors.New("portfolio: invalid input")

// Changes of a company since the period before.
const (
	Worse  = "worse"  // colour or rating worse, or PD up by a quarter or more
	Better = "better" // colour or rating better, or PD down by a quarter or more
	Same   = "same"
	New    = "new" // not scored the period before
)

// Entry is one company of the portfolio.
type Entry struct {
	Company  string `json:"company_code"`
	Name     string `json:"name,omitempty"`
	District string `json:"district,omitempty"`
	Industry string `json:"industry,omitempty"`
	// Purpose and Until are those of the consent the bank holds ("loan:7": a
	// borrower, until maturity plus the renewal window).
	Purpose string    `json:"consent_purpose,omitempty"`
	Until   time.Time `json:"consent_until"`
	// The latest scored period (Scored false when the company was not scored),
	// and the period before (PrevAsOf empty when none).
	Scored       bool    `json:"scored"`
	AsOf         string  `json:"as_of,omitempty"`
	PD           float64 `json:"pd"`
	Rating       string  `json:"rating,omitempty"`
	Colour       string  `json:"colour,omitempty"`
	Limit        float64 `json:"limit"`
	PrevAsOf     string  `json:"previous_as_of,omitempty"`
	PrevPD       float64 `json:"previous_pd"`
	PrevRating   string  `json:"previous_rating,omitempty"`
	PrevColour   string  `json:"previous_colour,omitempty"`
	PrevLimit    float64 `json:"previous_limit"`
	Change       string  `json:"change"`
	OpenWarnings int     `json:"open_warnings"`
	WorstWarning string  `json:"worst_warning,omitempty"` // red, yellow or blue
}

// Company names a company (the business registry); ok false when unknown.
type Company func(code string) (name, district, industry string, ok bool)

// Consents lists the consents a bank holds now; *access.Store implements it.
type Consents interface {
	ActiveConsentsOf(ctx context.Context, bankID int64, scope string, at time.Time) ([]access.Consent, error)
}

// Warnings lists warnings; *warnings.Store implements it.
type Warnings interface {
	List(ctx context.Context, f warnings.Filter) ([]*warnings.Warning, error)
}

// Runs reads the score history: the newest runs and their rows.
type Runs interface {
	Rows(ctx context.Context, m *scores.Manifest) ([]scores.Row, error)
}

// Sources are what a portfolio is built from.
type Sources struct {
	Consents Consents
	Warnings Warnings
	// Manifests lists the visible score runs, oldest first (scores.Runs).
	Manifests func(ctx context.Context) ([]*scores.Manifest, error)
	Runs      Runs
	Company   Company // nil: codes only
	Now       func() time.Time
}

// Filter narrows a portfolio; zero fields take everything.
type Filter struct {
	Colour, Rating, Change string
	// Warned keeps companies with an open warning.
	Warned bool
}

// ParseFilter reads a filter from query values.
func ParseFilter(get func(string) string) (Filter, error) {
	f := Filter{Colour: get("colour"), Rating: get("rating"), Change: get("change")}
	switch f.Colour {
	case "", string(policy.Blue), string(policy.Green), string(policy.Yellow), string(policy.Red):
	default:
		return Filter{}, fmt.Errorf("%w: colour %q is not blue, green, yellow or red", ErrInput, f.Colour)
	}
	switch f.Rating {
	case "", "A", "B", "C", "D":
	default:
		return Filter{}, fmt.Errorf("%w: rating %q is not A, B, C or D", ErrInput, f.Rating)
	}
	switch f.Change {
	case "", Worse, Better, Same, New:
	default:
		return Filter{}, fmt.Errorf("%w: change %q is not worse, better, same or new", ErrInput, f.Change)
	}
	switch get("warned") {
	case "", "false", "0":
	case "true", "1":
		f.Warned = true
	default:
		return Filter{}, fmt.Errorf("%w: warned %q is not true or false", ErrInput, get("warned"))
	}
	return f, nil
}

func colourRank(c string) int { return policy.Colour(c).Rank() }

var severityRank = map[warnings.Severity]int{warnings.Blue: 1, warnings.Yellow: 2, warnings.Red: 3}

// Build assembles the portfolio of bank bankID, worst first (colour, then
// warnings, then PD).
func Build(ctx context.Context, src Sources, bankID int64, f Filter) ([]Entry, error) {
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	cs, err := Followed(ctx, src.Consents, bankID, now())
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return []Entry{}, nil
	}
	ms, err := src.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	var last, prev []scores.Row
	var lastAsOf, prevAsOf string
	if n := len(ms); n > 0 {
		if last, err = src.Runs.Rows(ctx, ms[n-1]); err != nil {
			return nil, err
		}
		lastAsOf = ms[n-1].AsOf
		if n > 1 {
			if prev, err = src.Runs.Rows(ctx, ms[n-2]); err != nil {
				return nil, err
			}
			prevAsOf = ms[n-2].AsOf
		}
	}
	codes := make([]string, len(cs))
	for i, c := range cs {
		codes[i] = c.CompanyCode
	}
	open, err := OpenWarnings(ctx, src.Warnings, codes)
	if err != nil {
		return nil, err
	}
	find := func(rows []scores.Row, code string) (scores.Row, bool) {
		i, ok := slices.BinarySearchFunc(rows, code, func(r scores.Row, c string) int { return cmp.Compare(r.Company, c) })
		if !ok {
			return scores.Row{}, false
		}
		return rows[i], true
	}
	out := make([]Entry, 0, len(cs))
	for _, c := range cs {
		e := Entry{Company: c.CompanyCode, Purpose: c.Purpose, Until: c.ExpiresAt, Change: New}
		if src.Company != nil {
			e.Name, e.District, e.Industry, _ = src.Company(c.CompanyCode)
		}
		if r, ok := find(last, c.CompanyCode); ok {
			e.Scored, e.AsOf, e.PD, e.Rating, e.Colour, e.Limit = true, lastAsOf, r.PD, r.Rating, r.Colour, r.Limit
			if p, ok := find(prev, c.CompanyCode); ok {
				e.PrevAsOf, e.PrevPD, e.PrevRating, e.PrevColour, e.PrevLimit = prevAsOf, p.PD, p.Rating, p.Colour, p.Limit
				e.Change = change(p, r)
			}
		}
		for _, w := range open[c.CompanyCode] {
			e.OpenWarnings++
			if severityRank[w.Severity] > severityRank[warnings.Severity(e.WorstWarning)] {
				e.WorstWarning = string(w.Severity)
			}
		}
		if (f.Colour == "" || f.Colour == e.Colour) && (f.Rating == "" || f.Rating == e.Rating) &&
			(f.Change == "" || f.Change == e.Change) && (!f.Warned || e.OpenWarnings > 0) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		if c := cmp.Compare(colourRank(b.Colour), colourRank(a.Colour)); c != 0 {
			return c
		}
		if c := cmp.Compare(severityRank[warnings.Severity(b.WorstWarning)], severityRank[warnings.Severity(a.WorstWarning)]); c != 0 {
			return c
		}
		return cmp.Compare(b.PD, a.PD)
	})
	return out, nil
}

// Followed lists the consents bank bankID holds at time at: the companies it
// follows, one consent each, by company code.
func Followed(ctx context.Context, cs Consents, bankID int64, at time.Time) ([]access.Consent, error) {
	return cs.ActiveConsentsOf(ctx, bankID, access.ScopeCreditAssessment, at)
}

// OpenWarnings lists the open warnings of codes, by company.
func OpenWarnings(ctx context.Context, ws Warnings, codes []string) (map[string][]*warnings.Warning, error) {
	open := map[string][]*warnings.Warning{}
	for start := 0; start < len(codes); start += 500 {
		list, err := ws.List(ctx, warnings.Filter{Companies: codes[start:min(start+500, len(codes))], State: warnings.StateOpen, Limit: 100_000})
		if err != nil {
			return nil, err
		}
		for _, w := range list {
			open[w.Company] = append(open[w.Company], w)
		}
	}
	return open, nil
}

// change compares a company's figures with the period before: a worse colour or
// rating, or a PD up by a quarter or more, is worse; the mirror is better.
func change(p, r scores.Row) string {
	dc := colourRank(r.Colour) - colourRank(p.Colour)
	dr := cmp.Compare(r.Rating, p.Rating) // "A" < "D": later letters are worse
	switch {
	case dc > 0 || dc == 0 && dr > 0:
		return Worse
	case dc < 0 || dc == 0 && dr < 0:
		return Better
	case p.PD > 0 && r.PD >= 1.25*p.PD:
		return Worse
	case p.PD > 0 && r.PD <= 0.75*p.PD:
		return Better
	}
	return Same
}

// WriteCSV writes entries as CSV for Excel: a UTF-8 byte-order mark, Chinese and
// English headers, PD as a percentage and limits in 元.
func WriteCSV(w io.Writer, entries []Entry) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"统一社会信用代码 code", "企业名称 name", "行政区划 district", "行业 industry", "授权用途 consent purpose", "授权截止 consent until",
		"评估日期 as of", "违约概率 PD (%)", "评级 rating", "风险色 colour", "预授信额度 limit (元)",
		"上期日期 previous as of", "上期违约概率 previous PD (%)", "上期评级 previous rating", "上期风险色 previous colour", "上期额度 previous limit (元)",
		"变化 change", "未关闭预警 open warnings", "最高预警 worst warning"})
	pct := func(x float64, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.FormatFloat(100*x, 'f', 2, 64)
	}
	yuan := func(x float64, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	for _, e := range entries {
		hasPrev := e.PrevAsOf != ""
		_ = cw.Write([]string{e.Company, e.Name, e.District, e.Industry, e.Purpose, e.Until.Format(time.DateOnly),
			e.AsOf, pct(e.PD, e.Scored), e.Rating, e.Colour, yuan(e.Limit, e.Scored),
			e.PrevAsOf, pct(e.PrevPD, hasPrev), e.PrevRating, e.PrevColour, yuan(e.PrevLimit, hasPrev),
			e.Change, strconv.Itoa(e.OpenWarnings), e.WorstWarning})
	}
	cw.Flush()
	return cw.Error()
}
