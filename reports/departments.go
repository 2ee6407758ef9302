package reports

import (
	"strings"

	"github.com/xinyi-platform/xinyi/datasets"
)

// sectionKind says which records make up a department's section.
type sectionKind int

const (
	kindNone        sectionKind = iota // the platform has no source for the department
	kindPenalty                        // administrative penalties decided by the department
	kindTax                            // penalties by the tax bureau and months of tax arrears
	kindSocial                         // months of social insurance arrears
	kindHousingFund                    // months of housing fund arrears
	kindUtilities                      // months of utility bill arrears
	kindCourt                          // court cases as defendant, enforcement, dishonest listing, restriction
	kindCredit                         // months with an overdue loan
	kindRealEstate                     // seizures (查封) of real estate
)

// department is one department a report may have a section for.
type department struct {
	id     string
	zh, en string
	kind   sectionKind
	// penaltyDept are the stems of the penalty table's department column that name
	// the department's own decisions (kindPenalty, kindTax): "市场监管" matches
	// 市场监管局 and 绍兴市市场监督管理局 alike.
	penaltyDept []string
	// what the statement says was not recorded
	noneZh, noneEn string
}

var departments = []department{
	{id: "market", zh: "市场监管局", en: "Market regulation bureau", kind: kindPenalty, penaltyDept: []string{"市场监管", "市场监督管理"},
		noneZh: "行政处罚", noneEn: "administrative penalty"},
	{id: "tax", zh: "税务局", en: "Tax bureau", kind: kindTax, penaltyDept: []string{"税务"},
		noneZh: "行政处罚或欠税", noneEn: "administrative penalty or tax arrears"},
	{id: "environment", zh: "生态环境局", en: "Ecology and environment bureau", kind: kindPenalty, penaltyDept: []string{"生态环境", "环境保护", "环保"},
		noneZh: "行政处罚", noneEn: "administrative penalty"},
	{id: "emergency", zh: "应急管理局", en: "Emergency management bureau", kind: kindPenalty, penaltyDept: []string{"应急管理", "安全生产监督"},
		noneZh: "行政处罚", noneEn: "administrative penalty"},
	{id: "fire", zh: "消防救援支队", en: "Fire and rescue brigade", kind: kindPenalty, penaltyDept: []string{"消防"},
		noneZh: "行政处罚", noneEn: "administrative penalty"},
	{id: "social_insurance", zh: "人力社保局", en: "Human resources and social security bureau", kind: kindSocial,
		noneZh: "社会保险费欠缴", noneEn: "social insurance arrears"},
	{id: "housing_fund", zh: "住房公积金中心", en: "Housing provident fund centre", kind: kindHousingFund,
		noneZh: "住房公积金欠缴", noneEn: "housing fund arrears"},
	{id: "utilities", zh: "供电/水务/燃气", en: "Power, water and gas utilities", kind: kindUtilities,
		noneZh: "水电气费欠缴", noneEn: "utility bill arrears"},
	{id: "courts", zh: "人民法院", en: "People's courts", kind: kindCourt,
		noneZh: "作为被告的诉讼、强制执行、失信被执行人或限制高消费", noneEn: "court case as defendant, enforcement, dishonest-debtor listing or consumption restriction"},
	{id: "credit", zh: "人民银行征信", en: "Credit reference (People's Bank of China)", kind: kindCredit,
		noneZh: "贷款逾期", noneEn: "overdue loan"},
	{id: "real_estate", zh: "不动产登记中心", en: "Real-estate registry", kind: kindRealEstate,
		noneZh: "不动产查封", noneEn: "seizure of real estate"},
	{id: "customs", zh: "海关", en: "Customs", kind: kindNone},
	{id: "construction", zh: "住房和城乡建设局", en: "Housing and urban-rural construction bureau", kind: kindNone},
	{id: "natural_resources", zh: "自然资源局", en: "Natural resources bureau", kind: kindNone},
}

// purposeDepartments is the sections of each purpose, in order.
var purposeDepartments = map[Purpose][]string{
	Financing: {"market", "tax", "social_insurance", "housing_fund", "utilities", "courts", "credit", "real_estate", "environment"},
	Bidding:   {"market", "tax", "social_insurance", "courts", "environment", "emergency", "fire", "construction"},
	Listing: {"market", "tax", "social_insurance", "housing_fund", "environment", "emergency", "fire", "courts", "real_estate",
		"customs", "natural_resources"},
	Honours: {"market", "tax", "social_insurance", "environment", "emergency", "courts"},
}

// departmentByID returns the department called id; every id of
// purposeDepartments is one (TestPurposes checks).
func departmentByID(id string) department {
	for _, d := range departments {
		if d.id == id {
			return d
		}
	}
	return department{id: id, zh: id, en: id, kind: kindNone}
}

// sources returns the raw tables a kind of section reads.
func (k sectionKind) sources() []string {
	switch k {
	case kindPenalty:
		return []string{datasets.SourcePenalty}
	case kindTax:
		return []string{datasets.SourcePenalty, datasets.SourceTax}
	case kindSocial:
		return []string{datasets.SourceSocialInsurance}
	case kindHousingFund:
		return []string{datasets.SourceHousingFund}
	case kindUtilities:
		return []string{datasets.SourceUtilities}
	case kindCourt:
		return []string{datasets.SourceCourt}
	case kindCredit:
		return []string{datasets.SourceLoan}
	case kindRealEstate:
		return []string{datasets.SourceRealEstate}
	}
	return nil
}

// decided reports whether the penalty table's department value authority names
// d.
func (d department) decided(authority string) bool {
	for _, stem := range d.penaltyDept {
		if strings.Contains(authority, stem) {
			return true
		}
	}
	return false
}
