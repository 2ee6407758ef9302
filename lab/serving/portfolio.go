package serving

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/serving/portfolio"
	"github.com/xinyi-platform/xinyi/serving/warnings"
)

// Authorizer is internal/access's one Authorize (serving/access implements it).
type Authorizer interface {
	Authorize(ctx context.Context, p access.Principal, action access.Action, res access.Resource) error
}

// Portfolio implements lab.Portfolio over serving/portfolio and the warning
// store: the route has authorized the post-loan view; acknowledging a warning is
// authorized again for its company (the consent must still hold).
type Portfolio struct {
	src  portfolio.Sources
	ws   *warnings.Store
	lib  *warnings.Library
	auth Authorizer
}

// NewPortfolio returns the console's post-loan view over src, the warnings in ws
// (rule names from lib) and auth for acknowledgements.
func NewPortfolio(src portfolio.Sources, ws *warnings.Store, lib *warnings.Library, auth Authorizer) *Portfolio {
	return &Portfolio{src: src, ws: ws, lib: lib, auth: auth}
}

func filterOf(f lab.PortfolioFilter) portfolio.Filter {
	return portfolio.Filter{Colour: f.Colour, Rating: f.Rating, Change: f.Change, Warned: f.Warned}
}

func (pf *Portfolio) entries(ctx context.Context, p lab.Principal, f lab.PortfolioFilter) ([]portfolio.Entry, error) {
	sp, err := Principal(p)
	if err != nil {
		return nil, err
	}
	es, err := portfolio.Build(ctx, pf.src, sp.InstitutionID, filterOf(f))
	if errors.Is(err, portfolio.ErrInput) {
		return nil, fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	}
	return es, err
}

// Portfolio implements lab.Portfolio.
func (pf *Portfolio) Portfolio(ctx context.Context, p lab.Principal, f lab.PortfolioFilter) ([]lab.PortfolioRow, error) {
	es, err := pf.entries(ctx, p, f)
	if err != nil {
		return nil, err
	}
	out := make([]lab.PortfolioRow, len(es))
	for i, e := range es {
		out[i] = lab.PortfolioRow{Code: e.Company, Name: e.Name, District: e.District, Industry: e.Industry, Purpose: e.Purpose, Until: e.Until,
			Scored: e.Scored, AsOf: e.AsOf, PrevAsOf: e.PrevAsOf, PD: e.PD, PrevPD: e.PrevPD, Rating: e.Rating, PrevRating: e.PrevRating,
			Colour: e.Colour, PrevColour: e.PrevColour, Limit: e.Limit, PrevLimit: e.PrevLimit, Change: e.Change,
			OpenWarnings: e.OpenWarnings, WorstWarning: e.WorstWarning}
	}
	return out, nil
}

// PortfolioCSV implements lab.Portfolio.
func (pf *Portfolio) PortfolioCSV(ctx context.Context, p lab.Principal, f lab.PortfolioFilter, w io.Writer) error {
	es, err := pf.entries(ctx, p, f)
	if err != nil {
		return err
	}
	return portfolio.WriteCSV(w, es)
}

// Inbox implements lab.Portfolio: the open warnings of the portfolio's
// companies, red first, newest first.
func (pf *Portfolio) Inbox(ctx context.Context, p lab.Principal) ([]lab.InboxWarning, error) {
	sp, err := Principal(p)
	if err != nil {
		return nil, err
	}
	cs, err := portfolio.Followed(ctx, pf.src.Consents, sp.InstitutionID, time.Now())
	if err != nil {
		return nil, err
	}
	codes := make([]string, len(cs))
	for i, c := range cs {
		codes[i] = c.CompanyCode
	}
	open, err := portfolio.OpenWarnings(ctx, pf.src.Warnings, codes)
	if err != nil {
		return nil, err
	}
	var out []lab.InboxWarning
	for _, code := range codes {
		var name string
		if pf.src.Company != nil {
			name, _, _, _ = pf.src.Company(code)
		}
		for _, w := range open[code] {
			iw := lab.InboxWarning{ID: w.ID, Code: w.Company, Name: name, Rule: w.Rule, Severity: string(w.Severity), Area: w.Area,
				OpenedAsOf: w.OpenedAsOf, LastSeenAsOf: w.LastSeenAsOf, AckedBy: w.AckedBy}
			if r, ok := pf.lib.Rule(w.Rule); ok {
				iw.RuleZH, iw.RuleEN = r.NameZh, r.NameEn
			}
			out = append(out, iw)
		}
	}
	rank := map[string]int{"red": 0, "yellow": 1, "blue": 2}
	slices.SortStableFunc(out, func(a, b lab.InboxWarning) int {
		if c := cmp.Compare(rank[a.Severity], rank[b.Severity]); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return out, nil
}

// Ack implements lab.Portfolio.
func (pf *Portfolio) Ack(ctx context.Context, p lab.Principal, id int64) error {
	sp, err := Principal(p)
	if err != nil {
		return err
	}
	w, err := pf.ws.Get(ctx, id)
	if errors.Is(err, warnings.ErrNotFound) {
		return fmt.Errorf("%w: warning %d", lab.ErrNotFound, id)
	}
	if err != nil {
		return err
	}
	err = pf.auth.Authorize(ctx, sp, access.ActionAssess, access.Resource{Kind: "company", ID: w.Company, Operation: "warning.ack"})
	switch {
	case errors.Is(err, access.ErrConsentRequired):
		return fmt.Errorf("%w: %w", lab.ErrConsentRequired, err)
	case errors.Is(err, access.ErrForbidden):
		return fmt.Errorf("%w: %w", lab.ErrForbidden, err)
	case err != nil:
		return err
	}
	_, err = pf.ws.Ack(ctx, id, sp.Actor())
	if err != nil {
		return fmt.Errorf("acknowledge warning %s: %w", strconv.FormatInt(id, 10), err)
	}
	return nil
}
