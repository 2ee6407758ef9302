package labtest

import (
	"context"
	"math"

	"github.com/xinyi-platform/xinyi/lab"
)

// RiskFixture is a regional risk index over six quarter ends: the region
// worsening, four districts (one suppressed, too small), three industries.
type RiskFixture struct{}

// RiskIndex returns the fixture.
func (RiskFixture) RiskIndex(context.Context, lab.Principal) (lab.RiskView, error) {
	dates := []string{"2024-09-30", "2024-12-31", "2025-03-31", "2025-06-30", "2025-09-30", "2025-12-31"}
	row := func(name string, base, step float64, n int) lab.RiskRow {
		r := lab.RiskRow{Name: name}
		for i := range dates {
			r.Cells = append(r.Cells, lab.RiskCell{Index: math.Round((base+step*float64(i))*10) / 10, Companies: n, Suppressed: n < 10})
		}
		if n < 10 {
			for i := range r.Cells {
				r.Cells[i].Index = 0
			}
			r.Change = math.NaN()
		} else {
			r.Change = math.Round(step*10) / 10
		}
		return r
	}
	en := func(r lab.RiskRow, name string) lab.RiskRow { r.NameEN = name; return r }
	v := lab.RiskView{Dates: dates, MethodVersion: "1",
		ExplainZH: "区域风险指数 = 100 ×（0.4 × 红码企业占比 + 0.2 × 黄码企业占比 + 0.4 × 平均违约概率 ÷ 20%（超过 20% 按 20% 计））。",
		ExplainEN: "Regional risk index = 100 × (0.4 × share of red codes + 0.2 × share of yellow codes + 0.4 × min(1, mean PD ÷ 20%)).",
		Districts: []lab.RiskRow{en(row("百官街道", 18, 1.5, 3200), "Baiguan"), en(row("曹娥街道", 12, 0.4, 2100), "Cao'e"), en(row("东关街道", 31, 2.6, 1800), "Dongguan"), en(row("陈溪乡", 0, 0, 7), "Chenxi")},
		Industries: []lab.RiskRow{en(row("C 制造业", 22, 1.2, 4100), "C Manufacturing"), en(row("F 批发和零售业", 15, -0.3, 2600), "F Wholesale and retail trades"),
			en(row("I 信息传输、软件和信息技术服务业", 9, 0.2, 380), "I Information transmission, software and information technology services")},
	}
	// The fixture's streets on a tile map; 道墟街道 has no index row (no data).
	v.Map = []lab.MapTile{{Name: "曹娥街道", NameEN: "Cao'e", Col: 0, Row: 0}, {Name: "百官街道", NameEN: "Baiguan", Col: 1, Row: 0},
		{Name: "道墟街道", NameEN: "Daoxu", Col: 0, Row: 1}, {Name: "东关街道", NameEN: "Dongguan", Col: 1, Row: 1}, {Name: "陈溪乡", NameEN: "Chenxi", Col: 1, Row: 2}}
	for i := range dates {
		v.Region = append(v.Region, lab.RiskCell{Index: math.Round((19+1.1*float64(i))*10) / 10, Companies: 7107})
	}
	return v, nil
}

// RiskTopics returns the fixture's movers and circles.
func (RiskFixture) RiskTopics(context.Context, lab.Principal) (lab.RiskTopicsView, error) {
	return lab.RiskTopicsView{From: "2025-09-30", To: "2025-12-31", ColourWorse: 212, ColourBetter: 187,
		Worse: []lab.RiskMover{
			{Code: "91330604MA2BCDEF1X", Name: "上虞晶盛机电有限公司 01", District: "百官街道", FromPD: 0.061, ToPD: 0.184, FromColour: "green", ToColour: "red"},
			{Code: "91330604MA2BCDEF2Y", Name: "上虞曹娥印染有限公司 07", District: "曹娥街道", FromPD: 0.032, ToPD: 0.097, FromColour: "blue", ToColour: "yellow"},
		},
		CircleCount: 38,
		Circles: []lab.RiskCircle{
			{Members: []string{"上虞龙盛纺织有限公司 03", "上虞华宇塑业有限公司 05", "上虞舜江建材有限公司 08"}, Size: 3, Given: 23_500_000, Defaulted: 1, Red: 2, MaxPD: 0.41},
		},
		SmallAsOf: "2025-12-31", SmallHeadcount: 20, SmallFirms: 6412, SmallClusters: 41, SmallSuppressed: 9,
		Small: []lab.SmallCluster{
			{District: "东关街道", DistrictEN: "Dongguan", Industry: "C", IndustryName: "制造业", IndustryNameEN: "Manufacturing", Companies: 412, CellCompanies: 530, Red: 61, Yellow: 88, MeanPD: 0.094, Index: 28.9, CellIndex: 24.1},
			{District: "百官街道", DistrictEN: "Baiguan", Industry: "F", IndustryName: "批发和零售业", IndustryNameEN: "Wholesale and retail trades", Companies: 1207, CellCompanies: 1320, Red: 97, Yellow: 170, MeanPD: 0.061, Index: 20.2, CellIndex: 19.5},
		}}, nil
}
