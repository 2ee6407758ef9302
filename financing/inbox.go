package financing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// Matcher matches requests against products: it assesses each company once and
// runs every product's compiled rule on the request. It is the inbox's hot path
// (BenchmarkMatch). Not safe for concurrent use.
type Matcher struct {
	// Principal is who the assessments are made for.
	Principal access.Principal
	Assessor  Assessor
	Directory Directory
	Now       func() time.Time

	vm          vm.VM
	assessments map[string]*Assessment
	companies   map[string]*Company
}

// Match is one request with the products that admit it.
type Match struct {
	Request    *Request
	Assessment *Assessment
	Products   []int64
}

// Match returns, for each request, the ids of the products that admit it; a
// request no product admits is left out.
func (m *Matcher) Match(ctx context.Context, reqs []Request, products []Product) ([]Match, error) {
	if m.assessments == nil {
		m.assessments, m.companies = map[string]*Assessment{}, map[string]*Company{}
	}
	now := m.Now()
	var out []Match
	for i := range reqs {
		r := &reqs[i]
		a, c, err := m.lookup(ctx, r.Company)
		if errors.Is(err, access.ErrConsentRequired) {
			continue // the company revoked the consent: the request is not the bank's to see
		}
		if err != nil {
			return nil, err
		}
		env := envOf(r, a, c, now)
		var ids []int64
		for j := range products {
			ok, err := products[j].Eligible(&env, &m.vm)
			if err != nil {
				return nil, err
			}
			if ok {
				ids = append(ids, products[j].ID)
			}
		}
		if len(ids) > 0 {
			out = append(out, Match{Request: r, Assessment: a, Products: ids})
		}
	}
	return out, nil
}

func (m *Matcher) lookup(ctx context.Context, code string) (*Assessment, *Company, error) {
	if a, ok := m.assessments[code]; ok {
		return a, m.companies[code], nil
	}
	got, err := m.Assessor.Assess(ctx, m.Principal, code)
	if errors.Is(err, ErrNotFound) {
		// The platform holds no data on the company: rules see an unknown PD
		// and no limit.
		got, err = Assessment{PD: nan}, nil
	}
	if errors.Is(err, access.ErrConsentRequired) {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: assess %s: %w", ErrUnavailable, code, err)
	}
	c := Company{Code: code}
	if m.Directory != nil {
		if c, err = m.Directory.Company(ctx, code); err != nil {
			return nil, nil, fmt.Errorf("%w: company %s: %w", ErrUnavailable, code, err)
		}
	}
	m.assessments[code], m.companies[code] = &got, &c
	return &got, &c, nil
}

// InboxItem is a request addressed to the bank that one of its products admits.
type InboxItem struct {
	Request Request `json:"request"`
	// Answered is true once the bank made an offer on it.
	Answered   bool       `json:"answered"`
	Assessment Assessment `json:"assessment"`
	Products   []int64    `json:"products"`
	// Champion is the bank's own champion model's score, when it has one.
	Champion      *float64 `json:"champion_score,omitempty"`
	ChampionModel string   `json:"champion_model,omitempty"`
	// Supported names the government support lists (培育池) the company is on.
	Supported []string `json:"supported,omitempty"`
}

// MaxInbox bounds the open requests one inbox reads.
const MaxInbox = 5000

// Inbox lists the open requests addressed to the principal's bank (by name or to
// all), not yet declined by it, that match one of its products, each with the platform's assessment and,
// where the bank has one, its champion's score. Requests addressed elsewhere are
// never read.
func (s *Store) Inbox(ctx context.Context, p access.Principal) ([]InboxItem, error) {
	if err := s.allow(ctx, p, access.ActionFinancingBank, access.Resource{Kind: "financing.inbox", Owner: p.InstitutionID}); err != nil {
		return nil, err
	}
	products, err := s.products(ctx, p.InstitutionID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT r.id, r.company, r.amount, r.term, r.purpose, r.guarantee, r.to_all, r.status, r.district, r.industry,
		r.size, r.created_at_ns, r.deadline_ns, r.closed_at_ns FROM financing_requests r JOIN financing_targets t ON t.request_id = r.id
		WHERE t.bank_id = ? AND t.status IN ('open', 'offered') AND r.status = 'open' AND r.deadline_ns > ? ORDER BY r.id LIMIT `+strconv.Itoa(MaxInbox),
		p.InstitutionID, ns(s.now()))
	if err != nil {
		return nil, fmt.Errorf("financing: inbox: %w", err)
	}
	var reqs []Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		reqs = append(reqs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	offered, err := s.ids(ctx, `SELECT request_id FROM financing_targets WHERE bank_id = ? AND status = 'offered'`, p.InstitutionID)
	if err != nil {
		return nil, err
	}
	m := &Matcher{Principal: p, Assessor: s.opts.Assessor, Directory: s.opts.Directory, Now: s.now}
	matches, err := m.Match(ctx, reqs, products)
	if err != nil {
		return nil, err
	}
	sup, err := s.supported(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]InboxItem, 0, len(matches))
	for _, mt := range matches {
		it := InboxItem{Request: *mt.Request, Answered: slices.Contains(offered, mt.Request.ID), Assessment: *mt.Assessment,
			Products: mt.Products, Supported: sup[mt.Request.Company]}
		if s.opts.Champions != nil {
			score, model, ok, err := s.opts.Champions.ChampionScore(ctx, p.InstitutionID, mt.Request.Company)
			if err != nil {
				s.opts.Logger.WarnContext(ctx, "financing: champion score failed", "bank", p.InstitutionID, "err", err)
			} else if ok {
				it.Champion, it.ChampionModel = &score, model
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// PreCreditResult is the outcome of a pre-credit push.
type PreCreditResult struct {
	Offers     []Offer  `json:"offers"`
	Ineligible []string `json:"ineligible"`
	// NoConsent are the companies whose consent the bank does not hold: the bank
	// may not assess them, so nothing is pushed.
	NoConsent []string `json:"no_consent"`
}

// PushPreCredit offers each eligible company of codes whose consent the bank
// holds a pre-credit line under a product of the principal's bank: the smaller of the platform's limit and the
// product's cap, for the product's longest term, accepted or declined by the
// company in one click until Options.PreCreditTTL.
func (s *Store) PushPreCredit(ctx context.Context, p access.Principal, productID int64, codes []string) (PreCreditResult, error) {
	pr, err := s.Product(ctx, productID)
	res := access.Resource{Kind: "financing.product", ID: strconv.FormatInt(productID, 10), Owner: pr.BankID, Operation: "financing.precredit.push"}
	if err != nil {
		return PreCreditResult{}, s.refuse(ctx, p, access.ActionFinancingBank, res, err)
	}
	if err := s.allow(ctx, p, access.ActionFinancingBank, res); err != nil {
		return PreCreditResult{}, err
	}
	cs, err := s.codes(codes)
	if err != nil {
		return PreCreditResult{}, err
	}
	var out PreCreditResult
	var m vm.VM
	for _, code := range cs {
		a, err := s.opts.Assessor.Assess(ctx, p, code)
		if errors.Is(err, access.ErrConsentRequired) {
			// The bank may push only to companies whose consent it holds.
			out.NoConsent = append(out.NoConsent, code)
			continue
		}
		if err != nil {
			return out, fmt.Errorf("%w: assess %s: %w", ErrUnavailable, code, err)
		}
		c, err := s.companyInfo(ctx, code)
		if err != nil {
			return out, err
		}
		amount := min(a.Limit, pr.LimitCap)
		r := Request{Company: code, Amount: amount, Term: pr.MaxTerm, Guarantee: Credit}
		if pr.GuarantorID != 0 {
			r.Guarantee = Guaranteed
		}
		env := envOf(&r, &a, &c, s.now())
		ok := amount >= 1
		if ok {
			if ok, err = pr.Eligible(&env, &m); err != nil {
				return out, err
			}
		}
		if ok && pr.GuarantorID != 0 {
			if ok, err = s.guarantorAdmits(ctx, pr.GuarantorID, code, &env); err != nil {
				return out, err
			}
		}
		if !ok {
			out.Ineligible = append(out.Ineligible, code)
			continue
		}
		o, err := s.insertOffer(ctx, p.Actor(), 0, pr, code, OfferPreCredit, amount, pr.Rate, pr.MaxTerm, false,
			Versions{Models: a.Models, Policy: a.PolicyVersion, ProductID: pr.ID, RuleVersion: pr.RuleVer, Rule: pr.Rule},
			s.now().Add(s.opts.PreCreditTTL))
		if err != nil {
			return out, err
		}
		out.Offers = append(out.Offers, o)
	}
	return out, nil
}
