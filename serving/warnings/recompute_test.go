package warnings

import (
	"math"

	"github.com/xinyi-platform/xinyi/serving/scores"
)

// company is one company's view for the recomputation: values now and before,
// score rows now and before (nil when unscored), circle facts.
type company struct {
	now, before          func(id string) float64
	score, prevScore     *scores.Row
	circleRed, circleNew int
	status, prevStatus   string
}

func (c company) v(id string) float64    { return c.now(id) }
func (c company) prev(id string) float64 { return c.before(id) }

func nz0(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}

var ratingOrder = map[string]int{"A": 1, "B": 2, "C": 3, "D": 4}
var colourOrder = map[string]int{"blue": 1, "green": 2, "yellow": 3, "red": 4}

// goRules are the library's conditions written again in plain Go, from the
// rationale of each rule rather than from its expression.
var goRules = map[string]func(c company) bool{
	"tax.arrears.present": func(c company) bool { return c.v("tax.arrears.max_12m") > 0 },
	"tax.arrears.new":     func(c company) bool { return c.v("tax.arrears.max_12m") > 0 && !(c.prev("tax.arrears.max_12m") > 0) },
	"tax.arrears.rising": func(c company) bool {
		p := c.prev("tax.arrears.max_12m")
		return p > 0 && c.v("tax.arrears.max_12m") > p
	},
	"tax.arrears.large": func(c company) bool {
		a := c.v("tax.arrears.max_12m")
		return a > 0 && a > nz0(c.v("tax.tax_paid.sum_12m"))/2
	},
	"tax.arrears.recent": func(c company) bool { return c.v("tax.arrears.months_since_24m") <= 1 },
	"tax.sales.falling":  func(c company) bool { return c.v("tax.sales.yoy_12m") < -0.3 },
	"tax.sales.collapse": func(c company) bool { return c.v("tax.sales.yoy_12m") < -0.6 },
	"tax.sales.fell_through": func(c company) bool {
		return c.v("tax.sales.yoy_12m") < -0.3 && c.prev("tax.sales.yoy_12m") >= -0.3
	},
	"tax.sales.stopped":      func(c company) bool { return c.v("tax.sales.sum_3m") == 0 && c.v("tax.sales.sum_12m") > 0 },
	"tax.paid.falling":       func(c company) bool { return c.v("tax.tax_paid.yoy_12m") < -0.4 },
	"tax.profit.turned_loss": func(c company) bool { return c.v("tax.profit.sum_12m") < 0 && c.prev("tax.profit.sum_12m") >= 0 },
	"tax.invoices.falling":   func(c company) bool { return c.v("tax.invoices.yoy_12m") < -0.5 },

	"social_insurance.arrears.present": func(c company) bool { return c.v("social_insurance.arrears.max_12m") > 0 },
	"social_insurance.arrears.new": func(c company) bool {
		return c.v("social_insurance.arrears.max_12m") > 0 && !(c.prev("social_insurance.arrears.max_12m") > 0)
	},
	"social_insurance.arrears.persisting": func(c company) bool {
		return c.v("social_insurance.arrears.months_since_24m") <= 1 && c.prev("social_insurance.arrears.months_since_24m") <= 1
	},
	"social_insurance.insured.falling": func(c company) bool { return c.v("social_insurance.insured.yoy_12m") < -0.3 },
	"social_insurance.insured.drop": func(c company) bool {
		p := c.prev("social_insurance.insured.last_3m")
		return p > 0 && c.v("social_insurance.insured.last_3m") < 0.7*p
	},
	"social_insurance.insured.none": func(c company) bool {
		return c.prev("social_insurance.insured.last_3m") > 0 && c.v("social_insurance.insured.last_3m") == 0
	},
	"social_insurance.contribution.falling": func(c company) bool { return c.v("social_insurance.contribution.yoy_12m") < -0.3 },

	"utilities.arrears.present": func(c company) bool { return c.v("utilities.arrears.sum_12m") > 0 },
	"utilities.arrears.new": func(c company) bool {
		return c.v("utilities.arrears.sum_12m") > 0 && !(c.prev("utilities.arrears.sum_12m") > 0)
	},
	"utilities.arrears.persisting": func(c company) bool {
		return c.v("utilities.arrears.months_since_24m") <= 1 && c.prev("utilities.arrears.months_since_24m") <= 1
	},
	"utilities.kwh.falling": func(c company) bool { return c.v("utilities.kwh.yoy_12m") < -0.3 },
	"utilities.kwh.recent_drop": func(c company) bool {
		y := c.v("utilities.kwh.sum_12m")
		return y > 0 && c.v("utilities.kwh.sum_3m") < y/8
	},
	"utilities.kwh.stopped":   func(c company) bool { return c.v("utilities.kwh.sum_3m") == 0 && c.v("utilities.kwh.sum_12m") > 0 },
	"utilities.water.falling": func(c company) bool { return c.v("utilities.water_tons.yoy_12m") < -0.5 },

	"housing_fund.arrears.present": func(c company) bool { return c.v("housing_fund.arrears_months.max_12m") >= 1 },
	"housing_fund.arrears.long":    func(c company) bool { return c.v("housing_fund.arrears_months.max_12m") >= 3 },
	"housing_fund.arrears.new": func(c company) bool {
		return c.v("housing_fund.arrears_months.max_12m") >= 1 && !(c.prev("housing_fund.arrears_months.max_12m") >= 1)
	},
	"housing_fund.depositors.falling": func(c company) bool { return c.v("housing_fund.depositors.yoy_12m") < -0.3 },

	"loan.overdue.new": func(c company) bool {
		return c.v("loan.overdue_days.max_12m") > 0 && !(c.prev("loan.overdue_days.max_12m") > 0)
	},
	"loan.overdue.30": func(c company) bool { return c.v("loan.overdue_days.max_12m") >= 30 },
	"loan.overdue.90": func(c company) bool { return c.v("loan.overdue_days.max_12m") >= 90 },
	"loan.overdue.worsening": func(c company) bool {
		p := c.prev("loan.overdue_amount.max_12m")
		return p > 0 && c.v("loan.overdue_amount.max_12m") > p
	},
	"loan.overdue.recent": func(c company) bool { return c.v("loan.overdue_amount.months_since_24m") <= 1 },
	"loan.lenders.many":   func(c company) bool { return c.v("loan.lenders.last_3m") >= 4 },
	"loan.credit_line.cut": func(c company) bool {
		p := c.prev("loan.credit_line.last_3m")
		return p > 0 && c.v("loan.credit_line.last_3m") < 0.7*p
	},

	"court.case.new":  func(c company) bool { return c.v("court.amount.count_24m") > c.prev("court.amount.count_24m") },
	"court.case.many": func(c company) bool { return c.v("court.amount.count_12m") >= 3 },
	"court.amount.large": func(c company) bool {
		s := c.v("court.amount.sum_24m")
		return s > 0 && s > nz0(c.v("company.registered_capital"))/2
	},
	"court.enforcement.present": func(c company) bool { return c.v("court.enforcement.sum_24m") > 0 },
	"court.enforcement.new": func(c company) bool {
		return c.v("court.enforcement.sum_24m") > c.prev("court.enforcement.sum_24m")
	},
	"court.dishonest.listed": func(c company) bool { return c.v("court.dishonest.max_24m") >= 1 },
	"court.dishonest.new": func(c company) bool {
		return c.v("court.dishonest.max_24m") >= 1 && !(c.prev("court.dishonest.max_24m") >= 1)
	},
	"real_estate.seizure.new": func(c company) bool {
		return c.v("real_estate.amount.count_24m") > c.prev("real_estate.amount.count_24m")
	},
	"real_estate.seizure.present": func(c company) bool { return c.v("real_estate.amount.count_24m") > 0 },

	"penalty.new":      func(c company) bool { return c.v("penalty.amount.count_24m") > c.prev("penalty.amount.count_24m") },
	"penalty.recent":   func(c company) bool { return c.v("penalty.amount.count_3m") >= 1 },
	"penalty.frequent": func(c company) bool { return c.v("penalty.amount.count_12m") >= 3 },
	"penalty.severe":   func(c company) bool { return c.v("penalty.severity.max_24m") >= 4 },
	"penalty.amount.large": func(c company) bool {
		s := c.v("penalty.amount.sum_24m")
		return s > 0 && s > nz0(c.v("company.registered_capital"))/10
	},
	"licence.revoked": func(c company) bool { return c.v("penalty.severity.max_24m") >= 5 },
	"licence.revoked.new": func(c company) bool {
		return c.v("penalty.severity.max_24m") >= 5 && !(c.prev("penalty.severity.max_24m") >= 5)
	},

	"score.rating.downgrade": func(c company) bool {
		return c.score != nil && c.prevScore != nil && ratingOrder[c.prevScore.Rating] > 0 && ratingOrder[c.score.Rating] > ratingOrder[c.prevScore.Rating]
	},
	"score.rating.downgrade_two": func(c company) bool {
		return c.score != nil && c.prevScore != nil && ratingOrder[c.prevScore.Rating] > 0 && ratingOrder[c.score.Rating]-ratingOrder[c.prevScore.Rating] >= 2
	},
	"score.rating.d": func(c company) bool { return c.score != nil && c.score.Rating == "D" },
	"score.colour.worse": func(c company) bool {
		return c.score != nil && c.prevScore != nil && colourOrder[c.prevScore.Colour] > 0 && colourOrder[c.score.Colour] > colourOrder[c.prevScore.Colour]
	},
	"score.colour.red": func(c company) bool { return c.score != nil && c.score.Colour == "red" },
	"score.limit.cut": func(c company) bool {
		return c.score != nil && c.prevScore != nil && c.prevScore.Limit > 0 && c.score.Limit < 0.7*c.prevScore.Limit
	},
	"score.limit.zero": func(c company) bool {
		return c.score != nil && c.prevScore != nil && c.prevScore.Limit > 0 && c.score.Limit == 0
	},
	"score.pd.jump": func(c company) bool {
		return c.score != nil && c.prevScore != nil && c.score.PD > 0.05 && c.score.PD >= 2*c.prevScore.PD
	},

	"registry.revoked":          func(c company) bool { return c.status == "吊销" },
	"registry.revoked.new":      func(c company) bool { return c.status == "吊销" && c.prevStatus == "存续" },
	"registry.deregistered.new": func(c company) bool { return c.status == "注销" && c.prevStatus == "存续" },

	"network.circle.contagion":             func(c company) bool { return c.circleNew >= 1 },
	"network.circle.red_members":           func(c company) bool { return c.circleRed >= 1 },
	"network.defaulted_neighbours.present": func(c company) bool { return c.v("network.defaulted_neighbours") >= 1 },
	"network.defaulted_neighbours.new": func(c company) bool {
		return c.v("network.defaulted_neighbours") > c.prev("network.defaulted_neighbours")
	},
	"network.guarantees.excessive": func(c company) bool {
		g := c.v("network.given_amount")
		return g > 0 && g > 2*nz0(c.v("company.registered_capital"))
	},
}

// redRules make a company red: the red standing conditions without circle facts.
var redRules = []string{"tax.arrears.large", "tax.sales.stopped", "utilities.kwh.stopped", "housing_fund.arrears.long", "loan.overdue.90",
	"court.amount.large", "court.dishonest.listed", "penalty.severe", "licence.revoked", "registry.revoked", "score.rating.d", "score.colour.red"}
