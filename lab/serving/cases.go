package serving

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/lab"
)

// Cases implements lab.Cases over the case service, which decides every step
// (the company's bound account, the owning department, the credit authority)
// and audits refusals.
type Cases struct {
	svc   *cases.Service
	names func(code string) string
}

// NewCases returns the console's objections and repair over svc; names
// (optional) names companies.
func NewCases(svc *cases.Service, names func(string) string) *Cases {
	return &Cases{svc: svc, names: names}
}

func caseErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrForbidden), errors.Is(err, cases.ErrNotOwnRecord), errors.Is(err, cases.ErrSamePerson):
		return fmt.Errorf("%w: %w", lab.ErrForbidden, err)
	case errors.Is(err, cases.ErrNotFound), errors.Is(err, cases.ErrUnknownRecord), errors.Is(err, access.ErrNotFound):
		return fmt.Errorf("%w: %w", lab.ErrNotFound, err)
	case errors.Is(err, cases.ErrInvalid), errors.Is(err, cases.ErrState), errors.Is(err, cases.ErrPeriod), errors.Is(err, cases.ErrNotRepairable),
		errors.Is(err, access.ErrInvalid):
		return fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	}
	return err
}

func (c *Cases) view(x *cases.Case) lab.CaseView {
	v := lab.CaseView{ID: x.ID, Kind: string(x.Kind), State: string(x.State), Company: x.Company, Source: x.Record.Source,
		Statement: x.Statement, OpenedAt: x.OpenedAt, Deadline: x.Deadline, Overdue: x.Late, Open: x.State.Open()}
	if c.names != nil {
		v.CompanyName = c.names(x.Company)
	}
	v.Key = joinPairs(x.Record.Key, " ")
	v.Original = joinPairs(x.Original, "; ")
	if con, err := datasets.ContractOf(x.Record.Source); err == nil {
		for _, col := range con.Columns {
			if val, ok := x.Original[col.Name]; ok && col.Name != "code" {
				v.Fields = append(v.Fields, field(&col, val))
			}
		}
	}
	for _, s := range x.Steps {
		v.Steps = append(v.Steps, lab.CaseStep{At: s.At, By: s.By, Step: string(s.Step), Note: s.Note, State: string(s.State)})
	}
	return v
}

func joinPairs(m map[string]string, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, sep)
}

// parsePairs reads "column=value" pairs separated by newlines, commas or
// semicolons.
func parsePairs(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == ';' || r == '，' || r == '；' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%w: %q is not column=value", lab.ErrInvalidInput, part)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: name the record as column=value", lab.ErrInvalidInput)
	}
	return out, nil
}

// record completes a key with the company's code when the source's key holds
// one.
func record(code, source, key string) (cases.RecordRef, error) {
	m, err := parsePairs(key)
	if err != nil {
		return cases.RecordRef{}, err
	}
	if c, err := datasets.ContractOf(source); err == nil && slices.Contains(c.Key, "code") {
		if _, ok := m["code"]; !ok {
			m["code"] = code
		}
	}
	return cases.RecordRef{Source: source, Key: m}, nil
}

// CompanyCases implements lab.Cases.
func (c *Cases) CompanyCases(ctx context.Context, p lab.Principal, code string) ([]lab.CaseView, error) {
	cs, err := c.svc.List(ctx, p.Principal, cases.ListRequest{Company: code})
	if err != nil {
		return nil, caseErr(err)
	}
	out := make([]lab.CaseView, len(cs))
	for i, x := range cs {
		out[i] = c.view(x)
	}
	return out, nil
}

// Dispute implements lab.Cases.
func (c *Cases) Dispute(ctx context.Context, p lab.Principal, code, source, key, statement string) (lab.CaseView, error) {
	ref, err := record(code, source, key)
	if err != nil {
		return lab.CaseView{}, err
	}
	x, err := c.svc.Object(ctx, p.Principal, cases.Objection{Company: code, Record: ref, Statement: statement})
	if err != nil {
		return lab.CaseView{}, caseErr(err)
	}
	return c.view(x), nil
}

// ApplyRepair implements lab.Cases.
func (c *Cases) ApplyRepair(ctx context.Context, p lab.Principal, code, penaltyID, statement, evidence, commitment string) (lab.CaseView, error) {
	ref := cases.RecordRef{Source: "penalty", Key: map[string]string{"penalty_id": strings.TrimSpace(penaltyID)}}
	x, err := c.svc.Apply(ctx, p.Principal, cases.Application{Company: code, Record: ref, Statement: statement, Fulfilled: strings.TrimSpace(evidence) != "",
		Evidence: evidence, Commitment: commitment})
	if err != nil {
		return lab.CaseView{}, caseErr(err)
	}
	return c.view(x), nil
}

// Withdraw implements lab.Cases.
func (c *Cases) Withdraw(ctx context.Context, p lab.Principal, id int64) error {
	_, err := c.svc.Withdraw(ctx, p.Principal, id, "")
	return caseErr(err)
}

// Queue implements lab.Cases.
func (c *Cases) Queue(ctx context.Context, p lab.Principal, queue string) ([]lab.CaseView, error) {
	cs, err := c.svc.List(ctx, p.Principal, cases.ListRequest{Queue: cases.Queue(queue), Open: true})
	if err != nil {
		return nil, caseErr(err)
	}
	out := make([]lab.CaseView, len(cs))
	for i, x := range cs {
		out[i] = c.view(x)
	}
	return out, nil
}

// Correct implements lab.Cases.
func (c *Cases) Correct(ctx context.Context, p lab.Principal, id int64, values, note string) error {
	m, err := parsePairs(values)
	if err != nil {
		return err
	}
	_, err = c.svc.Correct(ctx, p.Principal, id, m, note)
	return caseErr(err)
}

// Reject implements lab.Cases.
func (c *Cases) Reject(ctx context.Context, p lab.Principal, id int64, reasons string) error {
	_, err := c.svc.Reject(ctx, p.Principal, id, reasons)
	return caseErr(err)
}

// Approve implements lab.Cases.
func (c *Cases) Approve(ctx context.Context, p lab.Principal, id int64, note string) error {
	_, err := c.svc.Approve(ctx, p.Principal, id, note)
	return caseErr(err)
}
