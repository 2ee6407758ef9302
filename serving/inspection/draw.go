package inspection

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// MaxSeed bounds a plan's seed: seeds are below 2^53 so that they survive JSON
// and spreadsheets as exact integers.
const MaxSeed = 1<<53 - 1

// TierDraw is how one risk tier was drawn: of Companies screened into it, Drawn
// firms at SamplingRatio (Drawn = DrawCount(SamplingRatio, Companies)).
type TierDraw struct {
	Tier          string  `json:"tier"`
	Companies     int     `json:"companies"`
	SamplingRatio float64 `json:"sampling_ratio"`
	Drawn         int     `json:"drawn"`
}

// Item is one firm of a plan with the inspectors assigned to it.
type Item struct {
	Company string `json:"company_code"`
	Name    string `json:"name,omitempty"`
	// Address, District and Industry (the GB/T 4754 section with its name) are
	// the firm's registered address and place, filled in exports from the
	// business registry.
	Address     string   `json:"address,omitempty"`
	District    string   `json:"district,omitempty"`
	Industry    string   `json:"industry,omitempty"`
	Tier        string   `json:"tier"`
	Probability float64  `json:"probability"`
	Rank        int      `json:"screening_rank"`
	Inspectors  []string `json:"inspectors"`
	// Result is the result in force (the highest revision), nil before one is
	// recorded.
	Result *Result `json:"result,omitempty"`
}

// DrawCount is the number of firms drawn from a tier of n firms at ratio: the
// expected count ratio × n rounded half up (2.5 → 3), computed after rounding the
// product to 9 decimals so that a ratio such as 0.3 × 5 that binary floating point
// holds as 1.4999999999999998 still rounds as the 1.5 it means. Ratios are in
// [0, 1], so the count is in [0, n].
func DrawCount(ratio float64, n int) int {
	x := math.Round(ratio*float64(n)*1e9) / 1e9
	return min(n, max(0, int(math.Floor(x+0.5))))
}

// tierOrder sorts tiers high, medium, low, then any other by name.
func tierOrder(t string) int {
	switch policy.Tier(t) {
	case policy.High:
		return 0
	case policy.Medium:
		return 1
	case policy.Low:
		return 2
	}
	return 3
}

// stream derives the PCG stream of one use of the seed from a name, so that the
// draw of one tier does not depend on the others (adding a tier, or a firm to
// another tier, leaves a tier's draw unchanged).
func stream(name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name)) // a hash never fails to write
	return h.Sum64()
}

// uintn returns a uniform integer in [0, n) (n > 0) from r: Lemire's
// multiply-and-reject, written out here so that a plan drawn today is drawn the
// same by any later Go release (the generator, PCG-DXSM, is a fixed algorithm).
func uintn(r *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

// pick moves k uniformly chosen elements of s to its front (a partial
// Fisher–Yates shuffle) and returns them.
func pick[T any](r *rand.PCG, s []T, k int) []T {
	for i := 0; i < k; i++ {
		j := i + int(uintn(r, uint64(len(s)-i)))
		s[i], s[j] = s[j], s[i]
	}
	return s[:k]
}

// draw is the 双随机 draw of a plan from a screening's rows: within each tier, a
// uniform random subset of DrawCount(ratio, size) firms (candidates taken in
// company-code order, so the ranking's ties do not matter); then inspectors are
// shuffled and dealt perFirm to each firm in a random order of the firms, round
// robin, so no inspector is on a firm's team twice and every inspector's load is
// within one of every other's. The same rows, inspectors, perFirm and seed draw
// the same plan. Items come in tier order (high first), then by screening rank.
func draw(rows []serving.ScreenRow, inspectors []string, perFirm int, seed uint64) ([]TierDraw, []Item, error) {
	byTier := map[string][]serving.ScreenRow{}
	ratio := map[string]float64{}
	for _, r := range rows {
		if r.Tier == "" {
			return nil, nil, fmt.Errorf("%w: company %s of the screening has no tier", serving.ErrInvalidInput, r.Company)
		}
		if q, ok := ratio[r.Tier]; ok && q != r.SamplingRatio {
			return nil, nil, fmt.Errorf("%w: tier %s has two sampling ratios (%g and %g) in one screening", serving.ErrInvalidInput, r.Tier, q, r.SamplingRatio)
		}
		if r.SamplingRatio < 0 || r.SamplingRatio > 1 || math.IsNaN(r.SamplingRatio) {
			return nil, nil, fmt.Errorf("%w: tier %s has sampling ratio %g, outside [0, 1]", serving.ErrInvalidInput, r.Tier, r.SamplingRatio)
		}
		ratio[r.Tier] = r.SamplingRatio
		byTier[r.Tier] = append(byTier[r.Tier], r)
	}
	tiers := make([]string, 0, len(byTier))
	for t := range byTier {
		tiers = append(tiers, t)
	}
	sort.Slice(tiers, func(a, b int) bool {
		oa, ob := tierOrder(tiers[a]), tierOrder(tiers[b])
		return oa < ob || oa == ob && tiers[a] < tiers[b]
	})
	var draws []TierDraw
	var items []Item
	for _, t := range tiers {
		cand := byTier[t]
		sort.Slice(cand, func(a, b int) bool { return cand[a].Company < cand[b].Company })
		k := DrawCount(ratio[t], len(cand))
		chosen := pick(rand.NewPCG(seed, stream("tier:"+t)), cand, k)
		sort.Slice(chosen, func(a, b int) bool { return chosen[a].Rank < chosen[b].Rank })
		for _, r := range chosen {
			items = append(items, Item{Company: r.Company, Tier: t, Probability: r.Probability, Rank: r.Rank})
		}
		draws = append(draws, TierDraw{Tier: t, Companies: len(cand), SamplingRatio: ratio[t], Drawn: k})
	}
	if len(items) > 0 {
		staff := append([]string(nil), inspectors...)
		r := rand.NewPCG(seed, stream("inspectors"))
		pick(r, staff, len(staff))
		order := make([]int, len(items))
		for i := range order {
			order[i] = i
		}
		pick(r, order, len(order))
		for pos, i := range order {
			team := make([]string, perFirm)
			for j := range team {
				team[j] = staff[(pos*perFirm+j)%len(staff)]
			}
			items[i].Inspectors = team
		}
	}
	return draws, items, nil
}
