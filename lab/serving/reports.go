package serving

import (
	"context"
	"errors"
	"fmt"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/reports"
)

// Reports implements lab.Reports over the report service, which authorizes
// (the company's bound account, a bank with consent, a regulator) and audits.
type Reports struct{ svc *reports.Service }

// NewReports returns the console's credit reports over svc.
func NewReports(svc *reports.Service) *Reports { return &Reports{svc: svc} }

func reportErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrConsentRequired):
		return fmt.Errorf("%w: %w", lab.ErrConsentRequired, err)
	case errors.Is(err, access.ErrForbidden):
		return fmt.Errorf("%w: %w", lab.ErrForbidden, err)
	case errors.Is(err, reports.ErrInvalid), errors.Is(err, access.ErrInvalid):
		return fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	case errors.Is(err, reports.ErrNotFound), errors.Is(err, reports.ErrUnknownCompany):
		return fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	case errors.Is(err, reports.ErrUnavailable), errors.Is(err, access.ErrUnavailable):
		return fmt.Errorf("%w: %w", lab.ErrNotConnected, err)
	}
	return err
}

// Issue implements lab.Reports.
func (r *Reports) Issue(ctx context.Context, p lab.Principal, company, purpose, from, to string) (lab.IssuedReport, error) {
	pur, err := reports.ParsePurpose(purpose)
	if err != nil {
		return lab.IssuedReport{}, reportErr(err)
	}
	rep, _, err := r.svc.Issue(ctx, p.Principal, reports.Request{Company: company, Purpose: pur, From: from, To: to})
	if err != nil {
		return lab.IssuedReport{}, reportErr(err)
	}
	out := lab.IssuedReport{ID: rep.ID, Company: rep.Company, CompanyName: rep.CompanyName, Purpose: string(rep.Purpose), From: rep.From, To: rep.To,
		IssuedAt: rep.IssuedAt, VerifyURL: rep.VerifyURL}
	if rep.Rating != nil {
		out.Rating, out.Colour, out.RatedAt = rep.Rating.Rating, rep.Rating.Colour, rep.Rating.AsOf
	}
	for _, s := range rep.Sections {
		out.Sections = append(out.Sections, lab.ReportSection{NameZH: s.NameZh, NameEN: s.NameEn, Covered: s.Covered, Through: s.Through,
			StatementZH: s.StatementZh, StatementEN: s.StatementEn, Records: len(s.Records)})
	}
	return out, nil
}

// PDF implements lab.Reports.
func (r *Reports) PDF(ctx context.Context, p lab.Principal, id string) ([]byte, error) {
	_, b, err := r.svc.Get(ctx, p.Principal, id)
	return b, reportErr(err)
}
