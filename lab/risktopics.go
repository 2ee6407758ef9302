package lab

import "context"

// RiskMover is a company whose figures worsened between two scored dates.
type RiskMover struct {
	Code, Name, District, Industry string
	FromPD, ToPD                   float64
	FromColour, ToColour           string
}

// RiskCircle is one guarantee circle (担保圈) ranked by risk.
type RiskCircle struct {
	// Members names the members (names, or codes when the registry does not
	// know them), the defaulted ones first.
	Members   []string
	Size      int
	Given     float64 // what the members guaranteed, 元
	Defaulted int
	Red       int
	MaxPD     float64
}

// RiskTopicsView is what the regional risk page adds to the index: the companies
// that worsened most between the two newest scored dates, and the riskiest
// guarantee circles.
type RiskTopicsView struct {
	From, To                  string
	Worse                     []RiskMover
	ColourWorse, ColourBetter int
	Circles                   []RiskCircle
	CircleCount               int
}

// RiskTopics is an optional ability of a RiskIndex backend.
type RiskTopics interface {
	RiskTopics(ctx context.Context, p Principal) (RiskTopicsView, error)
}

func init() {
	for k, v := range riskTopicMessages {
		messages[k] = v
	}
}

var riskTopicMessages = map[string][2]string{
	"risk.movers":       {"风险上升最快的企业", "Companies that worsened most"},
	"risk.moversNote":   {"%s 至 %s：%s 家企业风险色变差，%s 家变好；按风险色变化、再按违约概率上升排列。", "%s to %s: %s companies' colour worsened, %s improved; ranked by the colour's change, then the rise of PD."},
	"risk.pdFromTo":     {"违约概率", "PD"},
	"risk.colourFromTo": {"风险色", "Colour"},
	"risk.circles":      {"风险最高的担保圈", "Riskiest guarantee circles"},
	"risk.circlesNote":  {"全区共 %s 个担保圈；按圈内违约企业数、红码企业数、最高违约概率排列。", "%s guarantee circles in the region, ranked by members in default, red members and the highest PD."},
	"risk.members":      {"成员", "Members"},
	"risk.given":        {"对外担保总额", "Guaranteed in all"},
	"risk.defaulted":    {"违约", "In default"},
	"risk.red":          {"红码", "Red"},
	"risk.maxPD":        {"最高违约概率", "Highest PD"},
}
