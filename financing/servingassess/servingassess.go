// Package servingassess adapts serving's assessment to the financing loop: a
// financing.Assessor over *serving.Service. Each assessment is serving's own,
// authorized (role, consent or the company's binding) and audited there on
// behalf of the principal financing names; errors keep their meaning
// (access.ErrConsentRequired, access.ErrForbidden) and an unknown company is
// financing.ErrNotFound.
//
//	fin, err := financing.Open(ctx, db, financing.Options{Assessor: servingassess.New(svc), …})
package servingassess

import (
	"context"
	"errors"
	"fmt"

	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving"
)

// Service is the part of *serving.Service the adapter calls.
type Service interface {
	Assess(ctx context.Context, p serving.Principal, req serving.Request) (*serving.Decision, error)
}

// Assessor is a financing.Assessor over serving.
type Assessor struct{ svc Service }

// New returns the adapter over svc.
func New(svc Service) *Assessor { return &Assessor{svc: svc} }

// Assess implements financing.Assessor.
func (a *Assessor) Assess(ctx context.Context, p access.Principal, code string) (financing.Assessment, error) {
	d, err := a.svc.Assess(ctx, p, serving.Request{Company: code})
	switch {
	case errors.Is(err, serving.ErrUnknownCompany):
		return financing.Assessment{}, fmt.Errorf("%w: %w", financing.ErrNotFound, err)
	case errors.Is(err, serving.ErrInvalidCompanyCode):
		return financing.Assessment{}, fmt.Errorf("%w: %w", financing.ErrInvalid, err)
	case errors.Is(err, serving.ErrNotReady), errors.Is(err, serving.ErrUnavailable):
		return financing.Assessment{}, fmt.Errorf("%w: %w", financing.ErrUnavailable, err)
	case err != nil:
		return financing.Assessment{}, err // refusals keep wrapping access's errors
	}
	out := financing.Assessment{PD: d.PD, Rating: string(d.Rating), Colour: string(d.Colour), Limit: d.Limit, PolicyVersion: d.PolicyVersion}
	for _, r := range d.Reasons {
		out.Reasons = append(out.Reasons, r.Code)
		out.ReasonsZH = append(out.ReasonsZH, r.TextZH)
		out.ReasonsEN = append(out.ReasonsEN, r.TextEN)
	}
	for _, m := range d.Models {
		out.Models = append(out.Models, string(m.Task)+":"+m.Name+"/"+m.Version)
	}
	return out, nil
}
