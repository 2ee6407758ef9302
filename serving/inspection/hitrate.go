package inspection

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving"
)

// Rate is the hit rate of one tier (or of all, Tier "all"): of the firms inspected
// (those with a result in force), the share found with a problem
// (datasets.InspectionFoundProblem: a problem or an order to rectify).
type Rate struct {
	Tier string `json:"tier"`
	// Companies screened into the tier, the population the draw was made from.
	Companies int `json:"companies"`
	Drawn     int `json:"drawn"`
	Inspected int `json:"inspected"`
	Found     int `json:"found"`
	// HitRate is Found / Inspected; nil before any result.
	HitRate *float64 `json:"hit_rate"`
}

// PlanRates are the hit rates of one plan.
type PlanRates struct {
	Plan      int64     `json:"plan_id"`
	Screening string    `json:"screening_id"`
	DrawnAt   time.Time `json:"drawn_at"`
	Tiers     []Rate    `json:"tiers"`
	Overall   Rate      `json:"overall"`
	Baseline  *float64  `json:"baseline"`
	Lift      *float64  `json:"lift"`
}

// HitRates are the hit rates of an institution's plans, each and together.
type HitRates struct {
	// Plans in the order they were drawn.
	Plans []PlanRates `json:"plans"`
	// Tiers and Overall pool every plan.
	Tiers    []Rate   `json:"tiers"`
	Overall  Rate     `json:"overall"`
	Baseline *float64 `json:"baseline"`
	Lift     *float64 `json:"lift"`
	// Method says how the baseline is computed.
	Method string `json:"method"`
}

// BaselineMethod explains the baseline of HitRates.
const BaselineMethod = "baseline: the expected hit rate of a uniform random draw from the same screened firms (a 双随机 check without risk tiers), " +
	"estimated by weighting each tier's hit rate by the tier's size: Σ Nₜ·hₜ / Σ Nₜ (each tier's random draw is a fair sample of it); " +
	"unknown until every non-empty tier has a result. lift = overall hit rate / baseline."

// HitRates computes the hit rates of p's institution's plans (every plan for a
// platform administrator) from the results in force.
func (s *Service) HitRates(ctx context.Context, p serving.Principal) (*HitRates, error) {
	res := access.Resource{Kind: "inspections", ID: p.Institution, Owner: p.InstitutionID, Operation: "inspection.hit_rates"}
	if err := s.authorize(ctx, p, access.ActionViewInspections, res, nil); err != nil {
		return nil, err
	}
	where, args := "institution_id = ?", []any{p.InstitutionID}
	if p.PlatformWide() {
		where, args = "1 = 1", nil
	}
	rows, err := s.opts.DB.Query(ctx, `SELECT id FROM inspection_plans WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("%w: list plans: %w", serving.ErrUnavailable, err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%w: list plans: %w", serving.ErrUnavailable, err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: list plans: %w", serving.ErrUnavailable, err)
	}
	results, err := s.results(ctx, "r.plan_id IN (SELECT id FROM inspection_plans WHERE "+where+")", args...)
	if err != nil {
		return nil, err
	}
	out := &HitRates{Plans: []PlanRates{}, Method: BaselineMethod}
	pooled := map[string]*Rate{}
	for _, id := range ids {
		plan, err := s.loadPlan(ctx, id)
		if err != nil {
			return nil, err
		}
		pr := PlanRates{Plan: id, Screening: plan.Screening, DrawnAt: plan.CreatedAt}
		byTier := map[string]*Rate{}
		for _, t := range plan.Tiers {
			byTier[t.Tier] = &Rate{Tier: t.Tier, Companies: t.Companies, Drawn: t.Drawn}
			if pooled[t.Tier] == nil {
				pooled[t.Tier] = &Rate{Tier: t.Tier}
			}
			pooled[t.Tier].Companies += t.Companies
			pooled[t.Tier].Drawn += t.Drawn
		}
		for k, r := range results {
			if k.plan != id {
				continue
			}
			t := byTier[r.tier]
			if t == nil { // a tier the plan's summary does not know: count it all the same
				t = &Rate{Tier: r.tier}
				byTier[r.tier] = t
				if pooled[r.tier] == nil {
					pooled[r.tier] = &Rate{Tier: r.tier}
				}
			}
			t.Inspected++
			pooled[r.tier].Inspected++
			if datasets.InspectionFoundProblem(r.Outcome) {
				t.Found++
				pooled[r.tier].Found++
			}
		}
		pr.Tiers, pr.Overall, pr.Baseline, pr.Lift = summarize(byTier)
		out.Plans = append(out.Plans, pr)
	}
	out.Tiers, out.Overall, out.Baseline, out.Lift = summarize(pooled)
	return out, nil
}

// summarize orders tiers, fills their rates and returns the overall rate, the
// baseline and the lift.
func summarize(byTier map[string]*Rate) ([]Rate, Rate, *float64, *float64) {
	tiers := make([]Rate, 0, len(byTier))
	all := Rate{Tier: "all"}
	var weighted float64
	var population int
	known := true
	for _, r := range byTier {
		r.HitRate = ratio(r.Found, r.Inspected)
		tiers = append(tiers, *r)
		all.Companies += r.Companies
		all.Drawn += r.Drawn
		all.Inspected += r.Inspected
		all.Found += r.Found
		if r.Companies > 0 {
			if r.HitRate == nil {
				known = false
			} else {
				weighted += float64(r.Companies) * *r.HitRate
				population += r.Companies
			}
		}
	}
	sort.Slice(tiers, func(a, b int) bool {
		oa, ob := tierOrder(tiers[a].Tier), tierOrder(tiers[b].Tier)
		return oa < ob || oa == ob && tiers[a].Tier < tiers[b].Tier
	})
	all.HitRate = ratio(all.Found, all.Inspected)
	if !known || population == 0 {
		return tiers, all, nil, nil
	}
	base := weighted / float64(population)
	var lift *float64
	if all.HitRate != nil && base > 0 {
		l := *all.HitRate / base
		lift = &l
	}
	return tiers, all, &base, lift
}

func ratio(a, b int) *float64 {
	if b == 0 {
		return nil
	}
	r := float64(a) / float64(b)
	return &r
}
