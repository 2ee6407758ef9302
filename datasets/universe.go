package datasets

import (
	"fmt"
	"math"
	"strings"

	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

// industry is one GB/T 4754-2017 section with its share of enterprises and the
// parameters the generator uses for it.
type industry struct {
	Section    string
	Name       string
	Share      float64 // share of companies, percent
	Risk       float64 // additive log-odds of monthly distress
	Violation  float64 // additive log-odds of a violation found in a month
	RevPerHead float64 // median annual sales per employee, yuan
	Margin     float64 // median profit margin
	KWhPerYuan float64 // electricity per yuan of sales
	Season     float64 // amplitude of the yearly sales cycle
	Trader     float64 // probability of customs activity
	Tech       float64 // relative rate of patents
	Word       string  // word used in company names
}

// industries follow the section shares of enterprise registrations in a Pearl
// River Delta manufacturing city (wholesale/retail and manufacturing dominate).
var industries = []industry{
	{"A", "农、林、牧、渔业", 2.0, 0.20, 0.0, 4.0e5, 0.06, 0.020, 0.35, 0.03, 0.3, "农业"},
	{"B", "采矿业", 0.3, 0.40, 0.8, 1.2e6, 0.10, 0.080, 0.10, 0.05, 0.3, "矿业"},
	{"C", "制造业", 18.0, 0.10, 0.5, 8.0e5, 0.06, 0.060, 0.15, 0.25, 2.0, "实业"},
	{"D", "电力、热力、燃气及水生产和供应业", 0.5, -0.60, 0.2, 2.5e6, 0.08, 0.030, 0.20, 0.00, 0.5, "能源"},
	{"E", "建筑业", 6.0, 0.55, 0.6, 9.0e5, 0.04, 0.008, 0.25, 0.01, 0.3, "建设"},
	{"F", "批发和零售业", 36.0, 0.20, 0.1, 1.5e6, 0.03, 0.004, 0.20, 0.06, 0.1, "贸易"},
	{"G", "交通运输、仓储和邮政业", 4.0, 0.15, 0.4, 7.0e5, 0.05, 0.010, 0.10, 0.04, 0.1, "物流"},
	{"H", "住宿和餐饮业", 5.0, 0.35, 0.6, 3.0e5, 0.05, 0.030, 0.20, 0.00, 0.0, "餐饮"},
	{"I", "信息传输、软件和信息技术服务业", 6.0, -0.20, -0.3, 6.0e5, 0.10, 0.005, 0.05, 0.02, 3.0, "科技"},
	{"J", "金融业", 0.4, 0.00, 0.2, 1.5e6, 0.15, 0.002, 0.05, 0.00, 0.2, "投资"},
	{"K", "房地产业", 2.5, 0.60, 0.4, 2.0e6, 0.08, 0.003, 0.20, 0.00, 0.0, "置业"},
	{"L", "租赁和商务服务业", 9.0, 0.05, 0.0, 5.0e5, 0.08, 0.003, 0.05, 0.02, 0.2, "商务"},
	{"M", "科学研究和技术服务业", 5.0, -0.25, -0.3, 5.0e5, 0.09, 0.006, 0.05, 0.03, 4.0, "技术"},
	{"N", "水利、环境和公共设施管理业", 0.6, -0.10, 0.3, 5.0e5, 0.07, 0.010, 0.10, 0.00, 0.5, "环境"},
	{"O", "居民服务、修理和其他服务业", 2.5, 0.20, 0.2, 3.0e5, 0.06, 0.010, 0.10, 0.00, 0.0, "服务"},
	{"P", "教育", 0.8, 0.00, 0.3, 3.0e5, 0.08, 0.006, 0.40, 0.00, 0.2, "教育"},
	{"Q", "卫生和社会工作", 0.5, -0.10, 0.5, 4.0e5, 0.08, 0.010, 0.05, 0.00, 0.5, "医疗"},
	{"R", "文化、体育和娱乐业", 1.5, 0.25, 0.2, 4.0e5, 0.07, 0.006, 0.15, 0.00, 0.3, "文化"},
	{"S", "公共管理、社会保障和社会组织", 0.1, -0.30, -0.5, 3.0e5, 0.03, 0.005, 0.05, 0.00, 0.0, "管理"},
	{"T", "国际组织", 0.02, -0.30, -0.5, 3.0e5, 0.03, 0.005, 0.05, 0.00, 0.0, "国际"},
}

// district is one county-level division of the generated region (Foshan, 佛山).
type district struct {
	Code  string
	Name  string
	Share float64
	Risk  float64
	Wage  float64 // monthly social insurance contribution base, yuan
}

var districts = []district{
	{"440604", "禅城区", 22, 0.00, 5200},
	{"440605", "南海区", 35, -0.05, 5000},
	{"440606", "顺德区", 28, -0.05, 5100},
	{"440607", "三水区", 8, 0.10, 4500},
	{"440608", "高明区", 7, 0.15, 4400},
}

var (
	industryCum = cumulative(sharesOf(len(industries), func(i int) float64 { return industries[i].Share }))
	districtCum = cumulative(sharesOf(len(districts), func(i int) float64 { return districts[i].Share }))
)

func sharesOf(n int, f func(int) float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

var (
	surnames   = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢")
	givenChars = []rune("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国志海波辉红玉兰金健峰永斌浩晨宇嘉文俊鹏凯欣婷雪琳")
	tradeChars = []rune("恒达华盛金鑫源丰泰德顺和兴隆宏昌永安新利广佳美信诚瑞祥富通益合力天宝鸿骏创锦汇凯联众荣泽")
)

// company is the static part of one generated company plus the parameters of
// its latent processes.
type company struct {
	idx       int
	code      string
	name      string
	legalRep  string
	legalForm string
	industry  uint8
	district  uint8
	founded   Day
	firstM    Month // first month with data (founding month or later)
	regCap    float64
	subCap    float64
	paidCap   float64
	headcount float64 // baseline insured headcount
	sales     float64 // baseline annual sales, yuan
	growth    float64 // monthly log growth of sales
	margin    float64
	mu        float64 // long-run log-odds of monthly distress
	viol      float64 // baseline log-odds of a violation found in a month
	borrower  bool
	housing   bool
	trader    bool
	exportSh  float64
	gas       bool
}

// newCompany draws the static attributes of company i.
func newCompany(seed uint64, i int, o *GenerateOptions) (company, error) {
	r := streamOf(seed, uint64(i), 0, tagStatic)
	c := company{idx: i}
	c.industry = uint8(r.pick(industryCum))
	orgType := byte('1')
	c.legalForm = "有限责任公司"
	switch u := r.float(); {
	case u < 0.12:
		orgType, c.legalForm = '2', "个体工商户"
	case u < 0.14:
		orgType, c.legalForm = '3', "农民专业合作社"
		c.industry = 0 // cooperatives are agricultural
	case u < 0.17:
		c.legalForm = "股份有限公司"
	}
	c.district = uint8(r.pick(districtCum))
	ind := &industries[c.industry]
	dist := &districts[c.district]

	// Age: exponential with mean 8 years before the last month; about 9% of the
	// companies are founded within a 3-year horizon.
	end := o.Start + Month(o.Months) - 1
	ageDays := int(-math.Log(1-r.float()) * 8 * 365.25)
	ageDays = min(ageDays, 40*365)
	c.founded = end.LastDay() - Day(ageDays) - Day(r.intn(28))
	c.firstM = max(c.founded.Month(), o.Start)

	// Size: heavy-tailed headcount (Pareto, alpha 1.15: most firms have under 10
	// insured employees, a few thousands), sales per head by industry.
	c.headcount = math.Min(r.pareto(1.6, 1.15), 15000)
	c.sales = c.headcount * ind.RevPerHead * r.logn(0, 0.6)
	c.growth = (0.004 + 0.008*r.norm()) // about 5% a year, wide spread
	c.margin = ind.Margin * r.logn(0, 0.5)
	c.regCap = math.Round(c.sales*0.3*r.logn(0, 0.9)/1e4) * 1e4
	c.regCap = math.Max(c.regCap, 1e4)
	c.subCap = math.Round(c.regCap*(0.6+0.4*r.float())/1e3) * 1e3
	c.paidCap = math.Round(c.subCap*r.float()*r.float()/1e3) * 1e3

	ageYears := float64(ageDays) / 365.25
	lsize := math.Log(c.headcount)
	// Long-run distress log-odds: industry, district, size, age, thin capital and
	// an unobserved firm effect.
	c.mu = -6.0 + ind.Risk + dist.Risk - 0.22*lsize - 0.25*math.Log1p(ageYears) +
		0.45*math.Max(0, 1-c.paidCap/math.Max(c.subCap, 1)) + 1.2*r.norm()
	// Violation propensity (Foshan's factors: age, subscribed and registered
	// capital, headcount, industry; tax paid and past penalties enter monthly).
	c.viol = -3.9 + 2.0*ind.Violation - 0.5*math.Log1p(ageYears) - 0.10*math.Log(c.subCap/1e4+1) -
		0.06*math.Log(c.regCap/1e4+1) - 0.25*lsize + 0.7*r.norm()

	c.borrower = r.bern(math.Min(0.9, 0.22+0.09*lsize))
	c.housing = r.bern(math.Min(0.95, 0.15+0.12*lsize))
	c.trader = r.bern(ind.Trader * math.Min(3, 0.5+0.3*lsize))
	c.exportSh = 0.1 + 0.6*r.float()
	c.gas = ind.Section == "C" || ind.Section == "H" || r.bern(0.05)

	// Identity.
	code, err := companyCode(seed, i, orgType, dist.Code, c.founded)
	if err != nil {
		return company{}, err
	}
	c.code = code
	var nb strings.Builder
	nb.WriteString("佛山市")
	nb.WriteString(dist.Name)
	nb.WriteRune(tradeChars[r.intn(len(tradeChars))])
	nb.WriteRune(tradeChars[r.intn(len(tradeChars))])
	nb.WriteString(industries[c.industry].Word)
	switch orgType {
	case '2':
		nb.WriteString("经营部")
	case '3':
		nb.WriteString("专业合作社")
	default:
		if c.legalForm == "股份有限公司" {
			nb.WriteString("股份有限公司")
		} else {
			nb.WriteString("有限公司")
		}
	}
	c.name = nb.String()
	c.legalRep = string(surnames[r.intn(len(surnames))]) + string(givenChars[r.intn(len(givenChars))])
	if r.bern(0.6) {
		c.legalRep += string(givenChars[r.intn(len(givenChars))])
	}
	return c, nil
}

// companyCode builds a unique, valid code for company i: firms founded before
// 2015 keep a numeric organization code, later ones get an "MA" code. Bodies are
// a bijection of i, so codes never repeat within a universe.
func companyCode(seed uint64, i int, orgType byte, division string, founded Day) (string, error) {
	var body [8]byte
	if founded.Time().Year() < 2015 {
		const space = 100_000_000 // 10^8 numeric bodies
		a := uint64(7_777_777)    // coprime to 10
		v := (uint64(i)*a + mix64(seed)%space) % space
		for k := 7; k >= 0; k-- {
			body[k] = byte('0' + v%10)
			v /= 10
		}
	} else {
		const space = 887_503_681 // 31^6
		a := uint64(123_456_789)  // not a multiple of 31
		v := (uint64(i)*a + mix64(seed+1)%space) % space
		body[0], body[1] = 'M', 'A'
		for k := 7; k >= 2; k-- {
			body[k] = creditcode.Charset[v%31]
			v /= 31
		}
	}
	code, err := creditcode.New('9', orgType, division, string(body[:]))
	if err != nil {
		return "", fmt.Errorf("datasets: code of company %d: %w", i, err)
	}
	return code, nil
}

// Stream purposes.
const (
	tagStatic = iota + 1
	tagLatent
	tagGraph
	tagTax
	tagSocial
	tagHousing
	tagUtilities
	tagCourt
	tagPenalty
	tagLoan
	tagRealEstate
	tagIP
	tagCustoms
	tagLabel
	tagBatch
	tagMacro
)
