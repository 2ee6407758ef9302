package lab

import (
	"context"
	"fmt"
	"math"
	"net/url"

	"github.com/xinyi-platform/xinyi/lab/svg"
)

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

// SmallCluster is the small firms of one district × industry cell with their
// risk index beside the index of every firm of the cell.
type SmallCluster struct {
	District, DistrictEN, Industry string
	// IndustryName and IndustryNameEN are the industry's section name.
	IndustryName, IndustryNameEN string
	Companies, CellCompanies     int
	Red, Yellow                  int
	MeanPD, Index, CellIndex     float64
}

// RiskTopicsView is what the regional risk page adds to the index: the companies
// that worsened most between the two newest scored dates, the riskiest
// guarantee circles and the riskiest clusters of small firms.
type RiskTopicsView struct {
	From, To                  string
	Worse                     []RiskMover
	ColourWorse, ColourBetter int
	Circles                   []RiskCircle
	CircleCount               int
	// SmallAsOf is the scored date of the small-firm clusters; SmallHeadcount
	// the bound (fewer insured employees); SmallFirms the small firms scored;
	// SmallClusters the clusters shown in all, SmallSuppressed those too small.
	SmallAsOf                      string
	SmallHeadcount, SmallFirms     int
	SmallClusters, SmallSuppressed int
	Small                          []SmallCluster
}

// RiskTopics is an optional ability of a RiskIndex backend.
type RiskTopics interface {
	RiskTopics(ctx context.Context, p Principal) (RiskTopicsView, error)
}

// riskScale colours the risk index on the map as the tables do (riskBucket and
// the .heat-N classes of the style sheet): ten classes of five points.
func riskScale(l *Lang) svg.ColorScale {
	return svg.ColorScale{
		Breaks: []float64{5, 10, 15, 20, 25, 30, 35, 40, 45},
		Colors: []string{"#c6efce", "#d9f2c4", "#ecf5bb", "#fff2b3", "#ffe0a3", "#ffcd93", "#ffb784", "#ff9f78", "#f8826d", "#ea6a63"},
		Unit:   l.T("risk.mapUnit"), NoData: l.T("risk.suppressedShort"), Lowest: "0",
	}
}

// riskMap draws the districts' tile map as of the newest date. A tile links to
// the newest finished screening's explorer filtered to its district, when the
// user has one.
func (s *Server) riskMap(q *req, v RiskView) (string, error) {
	last := len(v.Dates) - 1
	rows := map[string]RiskRow{}
	for _, r := range v.Districts {
		rows[r.Name] = r
	}
	var screening string
	if s.o.Screenings != nil {
		if list, err := s.o.Screenings.Screenings(q.ctx(), q.principal()); err == nil {
			for _, sc := range list {
				if sc.State == JobDone {
					screening = sc.ID
					break
				}
			}
		}
	}
	tiles := make([]svg.Tile, 0, len(v.Map))
	for _, m := range v.Map {
		name := q.lang.Pick(m.Name, m.NameEN)
		t := svg.Tile{Col: m.Col, Row: m.Row, Label: name, NoValue: true}
		r, ok := rows[m.Name]
		var c RiskCell
		if ok && last < len(r.Cells) {
			c = r.Cells[last]
		}
		switch {
		case !ok || c.Companies == 0:
			t.Title = fmt.Sprintf(q.lang.T("risk.mapNone"), name, v.Dates[last])
		case c.Suppressed:
			t.Title = fmt.Sprintf(q.lang.T("risk.mapSuppressed"), name, v.Dates[last])
		default:
			t.NoValue, t.Value = false, c.Index
			t.ValueText = fmt.Sprintf("%.1f", c.Index)
			t.Title = fmt.Sprintf(q.lang.T("risk.mapTitle"), name, c.Index, v.Dates[last], groupDigits(float64(c.Companies)))
		}
		if screening != "" {
			t.Href = s.o.Prefix + "screenings/" + url.PathEscape(screening) + "/explore?district=" + url.QueryEscape(m.Name)
			t.Title += q.lang.T("risk.mapClick")
		}
		tiles = append(tiles, t)
	}
	return svg.TileMap(tiles, riskScale(q.lang), svg.Options{Title: fmt.Sprintf(q.lang.T("risk.mapHeading"), v.Dates[last]), Width: 420, Height: 440})
}

func init() {
	// div is a share of two counts (NaN when the whole is zero: "—").
	funcs["div"] = func(part, whole int) float64 {
		if whole == 0 {
			return math.NaN()
		}
		return float64(part) / float64(whole)
	}
	for k, v := range riskTopicMessages {
		messages[k] = v
	}
}

var riskTopicMessages = map[string][2]string{
	"risk.movers":          {"风险上升最快的企业", "Companies that worsened most"},
	"risk.moversNote":      {"%s 至 %s：%s 家企业风险色变差，%s 家变好；按风险色变化、再按违约概率上升排列。", "%s to %s: %s companies' colour worsened, %s improved; ranked by the colour's change, then the rise of PD."},
	"risk.pdFromTo":        {"违约概率", "PD"},
	"risk.colourFromTo":    {"风险色", "Colour"},
	"risk.circles":         {"风险最高的担保圈", "Riskiest guarantee circles"},
	"risk.circlesNote":     {"全区共 %s 个担保圈；按圈内违约企业数、红码企业数、最高违约概率排列。", "%s guarantee circles in the region, ranked by members in default, red members and the highest PD."},
	"risk.members":         {"成员", "Members"},
	"risk.given":           {"对外担保总额", "Guaranteed in all"},
	"risk.defaulted":       {"违约", "In default"},
	"risk.red":             {"红码", "Red"},
	"risk.maxPD":           {"最高违约概率", "Highest PD"},
	"risk.map":             {"各区风险地图", "District map"},
	"risk.mapHeading":      {"各区风险指数（%s）", "Risk index by district (%s)"},
	"risk.mapUnit":         {"风险指数（0–100，越高风险越大）", "Risk index (0–100, higher is riskier)"},
	"risk.suppressedShort": {"企业过少，不公布", "Too few firms, not shown"},
	"risk.mapTitle":        {"%s：风险指数 %.1f（%s，%s 家企业）", "%s: risk index %.1f (%s, %s companies)"},
	"risk.mapSuppressed":   {"%s：企业过少，%s 的指数不公布", "%s: too few companies, the index of %s is not shown"},
	"risk.mapNone":         {"%s：%s 无评分企业", "%s: no companies scored on %s"},
	"risk.mapClick":        {"。点击查看最近一次筛查中该区的企业。", ". Click for the district's companies in the latest screening."},
	"risk.small":           {"小微企业聚集区", "Clusters of small firms"},
	"risk.smallNote":       {"%s：参保职工少于 %s 人的小微企业共 %s 家，按区县和行业分为 %s 个聚集区（另有 %s 个不足 10 家、不公布）；按小微企业的风险指数从高到低排列，并与该区县行业全部企业的指数对照。", "%[1]s: %[3]s small firms (fewer than %[2]s insured employees) in %[4]s clusters by district and industry (%[5]s more of fewer than 10 firms not shown); riskiest first, beside the index of every firm of the same district and industry."},
	"risk.smallFirms":      {"小微企业数", "Small firms"},
	"risk.smallShare":      {"占该区县行业", "Share of the cell"},
	"risk.smallIndex":      {"小微企业指数", "Small firms' index"},
	"risk.cellIndex":       {"全部企业指数", "Index of all firms"},
	"risk.meanPD":          {"平均违约概率", "Mean PD"},
	"risk.redYellow":       {"红码 / 黄码", "Red / yellow"},
	"risk.mapNote":         {"每个方块是一个区，位置大致对应其地理方位；颜色按风险指数分档，与下方表格一致。", "Each tile is a district, placed roughly where it lies; colours follow the index in the same classes as the tables below."},
}
