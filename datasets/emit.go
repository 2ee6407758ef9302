package datasets

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
)

// emitter turns the universe into rows for one shard and month. Each worker owns
// one and reuses its buffers.
type emitter struct {
	u   *universe
	buf bytes.Buffer

	companies  []CompanyRow
	tax        []TaxRow
	social     []SocialInsuranceRow
	housing    []HousingFundRow
	utilities  []UtilitiesRow
	court      []CourtRow
	penalty    []PenaltyRow
	loan       []LoanRow
	guarantee  []GuaranteeRow
	realEstate []RealEstateRow
	ip         []IPRow
	customs    []CustomsRow
	labels     []LabelRow

	defaults, violations int
}

func (e *emitter) reset() {
	e.companies = e.companies[:0]
	e.tax = e.tax[:0]
	e.social = e.social[:0]
	e.housing = e.housing[:0]
	e.utilities = e.utilities[:0]
	e.court = e.court[:0]
	e.penalty = e.penalty[:0]
	e.loan = e.loan[:0]
	e.guarantee = e.guarantee[:0]
	e.realEstate = e.realEstate[:0]
	e.ip = e.ip[:0]
	e.customs = e.customs[:0]
	e.labels = e.labels[:0]
	e.defaults, e.violations = 0, 0
}

// encode writes the rows of source name as Parquet into buf.
func (e *emitter) encode(name string, buf *bytes.Buffer) (int, error) {
	switch name {
	case SourceCompanies:
		return len(e.companies), writeParquet(buf, e.companies)
	case SourceTax:
		return len(e.tax), writeParquet(buf, e.tax)
	case SourceSocialInsurance:
		return len(e.social), writeParquet(buf, e.social)
	case SourceHousingFund:
		return len(e.housing), writeParquet(buf, e.housing)
	case SourceUtilities:
		return len(e.utilities), writeParquet(buf, e.utilities)
	case SourceCourt:
		return len(e.court), writeParquet(buf, e.court)
	case SourcePenalty:
		return len(e.penalty), writeParquet(buf, e.penalty)
	case SourceLoan:
		return len(e.loan), writeParquet(buf, e.loan)
	case SourceGuarantee:
		return len(e.guarantee), writeParquet(buf, e.guarantee)
	case SourceRealEstate:
		return len(e.realEstate), writeParquet(buf, e.realEstate)
	case SourceIP:
		return len(e.ip), writeParquet(buf, e.ip)
	case SourceCustoms:
		return len(e.customs), writeParquet(buf, e.customs)
	case SourceLabels:
		return len(e.labels), writeParquet(buf, e.labels)
	}
	return 0, fmt.Errorf("%w: no source %q", ErrSourceMissing, name)
}

// Department delivery: usual lag after the event (days) and the chance a record
// is missing for a company-month.
type delivery struct {
	lag, spread int
	missing     float64
}

var deliveries = map[int]delivery{
	tagTax:        {10, 10, 0.015},
	tagSocial:     {8, 10, 0.015},
	tagHousing:    {12, 10, 0.02},
	tagUtilities:  {3, 6, 0.01},
	tagLoan:       {5, 5, 0.005},
	tagCustoms:    {15, 10, 0.10},
	tagCourt:      {7, 30, 0},
	tagPenalty:    {7, 40, 0},
	tagRealEstate: {2, 10, 0},
	tagIP:         {30, 60, 0},
}

// batchDelay is the extra delay of a whole department delivery for a month: 4%
// of source-months arrive one to three months late for every company.
func (e *emitter) batchDelay(tag int, t int) Day {
	r := streamOf(e.u.seed, uint64(tag), uint64(t), tagBatch)
	if r.bern(0.04) {
		return Day(30 * (1 + r.intn(3)))
	}
	return 0
}

// arrival draws the arrival date of a record with event date ev.
func (e *emitter) arrival(r *rng, tag, t int, ev Day) Day {
	d := deliveries[tag]
	a := ev + Day(d.lag+r.intn(d.spread+1)) + e.batchDelay(tag, t)
	if r.bern(0.03) { // a late record
		a += Day(30 + r.intn(90))
	}
	return a
}

// correction says whether a monthly record is delivered wrong first and
// corrected later (revision 1), and returns the factor of the first delivery
// and the extra delay of the correction.
func correction(r *rng) (bool, float64, Day) {
	if !r.bern(0.02) {
		return false, 1, 0
	}
	f := 0.6 + 0.8*r.float()
	return true, f, Day(30 + r.intn(150))
}

// state is what the rows of one company-month derive from.
type state struct {
	c          *company
	i, t       int
	month      Month
	last       Day
	z, stress  float64
	distress   bool // behind on payments (first missed instalment passed, not cured)
	defaulted  bool // reached 90 days overdue on or before the month end
	overdue    int32
	salesMonth float64
	insured    int32
	wage       float64
}

func (e *emitter) month(order []int32, t int) {
	u := e.u
	month := u.opts.Start + Month(t)
	for _, ci := range order {
		i := int(ci)
		c := &u.companies[i]
		if c.firstM == month {
			e.company(i, c)
		}
		e.guarantees(i, month)
		if month < c.firstM {
			continue
		}
		s := e.stateOf(i, t)
		e.taxRows(&s)
		e.socialRows(&s)
		e.housingRows(&s)
		e.utilityRows(&s)
		e.loanRows(&s)
		e.customsRows(&s)
		e.courtRows(&s)
		e.penaltyRows(&s)
		e.realEstateRows(&s)
		e.ipRows(&s)
		e.labelRows(&s)
	}
}

func (e *emitter) stateOf(i, t int) state {
	u := e.u
	c := &u.companies[i]
	month := u.opts.Start + Month(t)
	s := state{c: c, i: i, t: t, month: month, last: month.LastDay()}
	s.z = u.zAt(i, t)
	s.stress = s.z - c.mu
	due := u.due[i]
	if due != 0 && due <= s.last {
		paid := u.cureDays[i] > 0 && due+Day(u.cureDays[i]) <= s.last
		if !paid {
			s.distress = true
			s.overdue = int32(s.last - due)
		}
		if dd := u.defaultDay(i); dd != 0 && dd <= s.last {
			s.defaulted = true
		}
	}
	r := streamOf(u.seed, uint64(i), uint64(t), tagTax+100)
	ind := &industries[c.industry]
	cal := float64(month.Calendar())
	season := ind.Season * math.Cos(2*math.Pi*(cal-12)/12)
	if month.Calendar() == 2 {
		season -= 0.25 // Spring Festival
	}
	level := math.Exp(c.growth*float64(t) + season - 0.6*math.Max(-1, s.stress) + 0.08*r.norm())
	if s.distress {
		level *= 0.6
	}
	if s.defaulted {
		level *= 0.5
	}
	s.salesMonth = c.sales / 12 * level
	hc := c.headcount * math.Exp(0.5*c.growth*float64(t)-0.12*math.Max(0, s.stress)+0.03*r.norm())
	if s.distress {
		hc *= 0.8
	}
	s.insured = int32(math.Round(hc))
	s.wage = districts[c.district].Wage
	return s
}

func (e *emitter) company(i int, c *company) {
	r := streamOf(e.u.seed, uint64(i), 2, tagStatic)
	status, statusDate := StatusActive, c.founded
	if dd := e.u.defaultDay(i); dd != 0 && r.bern(0.4) {
		status, statusDate = StatusRevoked, dd+Day(120+r.intn(240))
	}
	e.companies = append(e.companies, CompanyRow{
		Code: c.code, EventDate: c.founded, ArrivalDate: c.founded + Day(3+r.intn(18)),
		Name: c.name, Industry: industries[c.industry].Section,
		District: districts[c.district].Code, DistrictName: districts[c.district].Name,
		Founded: c.founded, RegisteredCapital: c.regCap, SubscribedCapital: c.subCap,
		PaidInCapital: c.paidCap, LegalRep: c.legalRep, LegalRepPhone: legalRepPhone(c.code),
		Address:   registeredAddress(c.code, c.district),
		LegalForm: c.legalForm, Status: status, StatusDate: statusDate,
	})
}

func (e *emitter) guarantees(i int, month Month) {
	u := e.u
	start := len(e.guarantee)
	defer func() {
		sortRows(e.guarantee[start:], func(x *GuaranteeRow) (Day, string, int32) { return x.EventDate, x.GuaranteeID, x.Revision })
	}()
	for k := u.byGuar[i]; k < u.byGuar[i+1]; k++ {
		ed := &u.edges[k]
		if max(ed.start.Month(), u.opts.Start) != month {
			continue
		}
		r := streamOf(u.seed, uint64(ed.id), 0, tagGraph+100)
		e.guarantee = append(e.guarantee, GuaranteeRow{
			Code: u.companies[ed.guarantor].code, EventDate: ed.start,
			ArrivalDate:  ed.start + Day(5+r.intn(40)),
			GuaranteeID:  "G" + strconv.Itoa(int(ed.id)),
			BorrowerCode: u.companies[ed.borrower].code, Amount: ed.amount,
			StartDate: ed.start, EndDate: ed.end,
		})
	}
}

func (e *emitter) taxRows(s *state) {
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagTax)
	miss := deliveries[tagTax].missing
	if s.distress {
		miss = 0.2
	}
	if r.bern(miss) {
		return
	}
	c := s.c
	sales := s.salesMonth
	vat := sales * (0.025 + 0.02*r.float())
	profit := sales * c.margin * (1 - 1.5*math.Max(0, s.stress)) * (1 + 0.3*r.norm())
	income := 0.0
	if s.month.Calendar()%3 == 0 {
		income = math.Max(0, 3*profit) * 0.15
	}
	arrears := 0.0
	p := sigmoid(1.3 * (s.z + 3.0))
	if s.distress {
		p = 0.5
	}
	if r.bern(p) {
		arrears = (vat + income) * (1 + 2*r.float())
	}
	invoices := int32(math.Round(sales / (2e4 * r.logn(0, 0.5))))
	row := TaxRow{
		Code: c.code, EventDate: s.last, ArrivalDate: e.arrival(&r, tagTax, s.t, s.last),
		Sales: round2(sales), VATPaid: round2(vat), IncomeTaxPaid: round2(income), TaxPaid: round2(vat + income),
		Profit: round2(profit), Invoices: invoices, Arrears: round2(arrears), CreditGrade: e.grade(s),
	}
	if fix, f, delay := correction(&r); fix {
		first := row
		first.Sales, first.VATPaid, first.TaxPaid, first.Profit = round2(row.Sales*f), round2(row.VATPaid*f), round2(row.VATPaid*f+row.IncomeTaxPaid), round2(row.Profit*f)
		e.tax = append(e.tax, first)
		row.Revision, row.ArrivalDate = 1, first.ArrivalDate+delay
	}
	e.tax = append(e.tax, row)
}

// grade is the annual tax credit grade, set each April from last year's health.
func (e *emitter) grade(s *state) string {
	year := s.month.Year()
	if s.month.Calendar() < 4 {
		year--
	}
	if s.c.founded.Time().Year() >= year {
		return "M"
	}
	r := streamOf(e.u.seed, uint64(s.i), uint64(year), tagTax+200)
	score := -(s.c.mu + 6.4) + 0.5*r.norm()
	if d := e.u.defaultDay(s.i); d != 0 && d.Time().Year() < year {
		return "D"
	}
	switch {
	case score > 0.6:
		return "A"
	case score > -0.4:
		return "B"
	case score > -1.0:
		return "M"
	case score > -1.6:
		return "C"
	}
	return "D"
}

func (e *emitter) socialRows(s *state) {
	c := s.c
	if c.headcount < 1.5 && c.legalForm == "个体工商户" {
		return
	}
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagSocial)
	if r.bern(deliveries[tagSocial].missing) {
		return
	}
	contribution := float64(s.insured) * s.wage * 0.28
	arrears := 0.0
	p := sigmoid(1.3 * (s.z + 3.2))
	if s.distress {
		p = 0.55
	}
	if r.bern(p) {
		arrears = contribution * float64(1+r.intn(3))
		contribution *= 0.5 * r.float()
	}
	row := SocialInsuranceRow{Code: c.code, EventDate: s.last, ArrivalDate: e.arrival(&r, tagSocial, s.t, s.last),
		Insured: s.insured, Contribution: round2(contribution), Arrears: round2(arrears)}
	if fix, f, delay := correction(&r); fix {
		first := row
		first.Insured = int32(math.Round(float64(row.Insured) * f))
		e.social = append(e.social, first)
		row.Revision, row.ArrivalDate = 1, first.ArrivalDate+delay
	}
	e.social = append(e.social, row)
}

func (e *emitter) housingRows(s *state) {
	c := s.c
	if !c.housing {
		return
	}
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagHousing)
	if r.bern(deliveries[tagHousing].missing) {
		return
	}
	dep := int32(math.Round(float64(s.insured) * 0.7))
	months := int32(0)
	if s.distress {
		months = 1 + int32(s.overdue/30)
	} else if r.bern(sigmoid(1.3 * (s.z + 2.5))) {
		months = 1
	}
	e.housing = append(e.housing, HousingFundRow{Code: c.code, EventDate: s.last,
		ArrivalDate: e.arrival(&r, tagHousing, s.t, s.last), Depositors: dep,
		Deposit: round2(float64(dep) * s.wage * 0.16 * b2f(months == 0)), ArrearsMonths: months})
}

func (e *emitter) utilityRows(s *state) {
	c := s.c
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagUtilities)
	if r.bern(deliveries[tagUtilities].missing) {
		return
	}
	ind := &industries[c.industry]
	kwh := s.salesMonth * ind.KWhPerYuan * r.logn(0, 0.1)
	water := kwh * 0.04 * r.logn(0, 0.2)
	gas := 0.0
	if c.gas {
		gas = kwh * 0.03 * r.logn(0, 0.2)
	}
	bill := kwh*0.72 + water*4.1 + gas*3.6
	arrears := 0.0
	p := sigmoid(1.3 * (s.z + 2.8))
	if s.distress {
		p = 0.45
	}
	if r.bern(p) {
		arrears = bill * (1 + r.float())
	}
	e.utilities = append(e.utilities, UtilitiesRow{Code: c.code, EventDate: s.last,
		ArrivalDate: e.arrival(&r, tagUtilities, s.t, s.last), KWh: round2(kwh), WaterTons: round2(water),
		GasM3: round2(gas), Bill: round2(bill), Arrears: round2(arrears)})
}

func (e *emitter) loanRows(s *state) {
	c := s.c
	if !c.borrower {
		return
	}
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagLoan)
	if r.bern(deliveries[tagLoan].missing) {
		return
	}
	line := e.u.line[s.i]
	util := 0.45 + 0.12*s.stress + 0.08*r.norm()
	if s.distress {
		util += 0.3
	}
	util = min(max(util, 0.02), 1)
	balance := line * util
	overdue := s.overdue
	if !s.distress && r.bern(sigmoid(1.3*(s.z+2.2))) {
		overdue = int32(1 + r.intn(29)) // a short slip, paid next month
	}
	overdueAmt := 0.0
	if overdue > 0 {
		overdueAmt = balance * math.Min(1, 0.05+float64(overdue)/360)
	}
	newAmt, repaid := balance*0.15*r.float(), balance*0.15*r.float()
	if s.distress {
		newAmt, repaid = 0, repaid*0.2
	}
	e.loan = append(e.loan, LoanRow{Code: c.code, EventDate: s.last,
		ArrivalDate: e.arrival(&r, tagLoan, s.t, s.last),
		Lenders:     int32(1 + math.Floor(math.Max(0, math.Log10(line/1e5)))), CreditLine: line,
		Balance: round2(balance), NewAmount: round2(newAmt), Repaid: round2(repaid),
		OverdueAmount: round2(overdueAmt), OverdueDays: overdue})
}

func (e *emitter) customsRows(s *state) {
	c := s.c
	if !c.trader {
		return
	}
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagCustoms)
	if r.bern(deliveries[tagCustoms].missing) {
		return
	}
	exports := s.salesMonth * c.exportSh * r.logn(0, 0.3)
	imports := exports * (0.3 + 0.6*r.float())
	e.customs = append(e.customs, CustomsRow{Code: c.code, EventDate: s.last,
		ArrivalDate: e.arrival(&r, tagCustoms, s.t, s.last), Exports: round2(exports), Imports: round2(imports),
		Declarations: int32(1 + r.poisson(math.Min(50, exports/2e5)))})
}

func (e *emitter) dayIn(r *rng, s *state) Day {
	return s.month.FirstDay() + Day(r.intn(int(s.last-s.month.FirstDay())+1))
}

func (e *emitter) courtRows(s *state) {
	c := s.c
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagCourt)
	lambda := 0.004 * (1 + math.Log(c.headcount)) * math.Exp(0.9*s.stress+0.5*(c.mu+6.4))
	if s.distress {
		lambda = 0.25
	}
	n := r.poisson(math.Min(lambda, 2))
	start := len(e.court)
	for k := range n {
		filed := e.dayIn(&r, s)
		defendant := r.bern(0.45 + 0.35*b2f(s.stress > 0 || s.distress))
		role := "plaintiff"
		if defendant {
			role = "defendant"
		}
		ctype := [...]string{"contract", "loan", "labor", "tort", "other"}[r.pick(caseTypeCum)]
		if s.distress && defendant && r.bern(0.5) {
			ctype = "loan"
		}
		row := CourtRow{Code: c.code, EventDate: filed, ArrivalDate: e.arrival(&r, tagCourt, s.t, filed),
			CaseID: "(" + strconv.Itoa(s.month.Year()) + ")粤06民初" + strconv.Itoa(s.i) + "-" + strconv.Itoa(s.t) + "-" + strconv.Itoa(k),
			Role:   role, CaseType: ctype, Amount: round2(s.salesMonth * r.logn(-0.5, 1.0)), Stage: "filed"}
		e.court = append(e.court, row)
		if r.bern(0.6) {
			j := row
			j.Revision, j.Stage, j.ArrivalDate = 1, "judged", row.ArrivalDate+Day(60+r.intn(180))
			e.court = append(e.court, j)
			if defendant && (s.distress || r.bern(0.2)) {
				en := j
				en.Revision, en.Stage, en.ArrivalDate, en.Enforcement = 2, "enforcement", j.ArrivalDate+Day(30+r.intn(120)), true
				en.Dishonest = s.distress && r.bern(0.6)
				en.Restricted = en.Dishonest || r.bern(0.3)
				e.court = append(e.court, en)
			}
		}
	}
	sortRows(e.court[start:], func(x *CourtRow) (Day, string, int32) { return x.EventDate, x.CaseID, x.Revision })
}

var caseTypeCum = cumulative([]float64{0.45, 0.15, 0.2, 0.1, 0.1})

var penaltyDepartments = [...]string{"市场监管局", "税务局", "生态环境局", "应急管理局", "消防救援支队"}

func (e *emitter) penaltyRows(s *state) {
	c := s.c
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagPenalty)
	start := len(e.penalty)
	add := func(sev int32) {
		d := e.dayIn(&r, s)
		dept := penaltyDepartments[r.intn(len(penaltyDepartments))]
		if sec := industries[c.industry].Section; (sec == "C" || sec == "B") && r.bern(0.4) {
			dept = "生态环境局"
		}
		amount := 0.0
		if sev >= 2 {
			amount = math.Round(2000 * math.Pow(4, float64(sev-2)) * r.logn(0, 0.7))
		}
		e.penalty = append(e.penalty, PenaltyRow{Code: c.code, EventDate: d, ArrivalDate: e.arrival(&r, tagPenalty, s.t, d),
			PenaltyID:  "P" + strconv.Itoa(s.i) + "-" + strconv.Itoa(s.t) + "-" + strconv.Itoa(len(e.penalty)-start),
			Department: dept, Severity: sev, Amount: amount})
	}
	// A violation found in an inspection usually ends in a penalty that month.
	if e.u.violated(s.i, s.t) && r.bern(0.7) {
		add(int32(2 + r.pick(severityCum)))
	}
	// Minor penalties (warnings, small fines) follow the same propensity.
	if r.bern(sigmoid(c.viol + 0.3*s.stress + 2.0)) {
		add(int32(1 + r.intn(2)))
	}
	sortRows(e.penalty[start:], func(x *PenaltyRow) (Day, string, int32) { return x.EventDate, x.PenaltyID, x.Revision })
}

var severityCum = cumulative([]float64{0.7, 0.15, 0.1, 0.05})

func (e *emitter) realEstateRows(s *state) {
	c := s.c
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagRealEstate)
	start := len(e.realEstate)
	add := func(kind string, amount float64) {
		d := e.dayIn(&r, s)
		e.realEstate = append(e.realEstate, RealEstateRow{Code: c.code, EventDate: d, ArrivalDate: e.arrival(&r, tagRealEstate, s.t, d),
			RecordID: "R" + strconv.Itoa(s.i) + "-" + strconv.Itoa(s.t) + "-" + strconv.Itoa(len(e.realEstate)-start),
			Kind:     kind, Amount: round2(amount)})
	}
	if c.borrower && r.bern(0.012) {
		add("mortgage", e.u.line[s.i]*(0.5+r.float()))
	}
	pSeize := 0.002 * math.Exp(0.8*s.stress)
	if s.defaulted {
		pSeize = 0.25
	}
	if r.bern(pSeize) {
		add("seizure", s.salesMonth*r.logn(0.5, 0.8))
	}
	if r.bern(0.002) {
		add("release", s.salesMonth*r.logn(0, 0.8))
	}
	sortRows(e.realEstate[start:], func(x *RealEstateRow) (Day, string, int32) { return x.EventDate, x.RecordID, x.Revision })
}

var ipKinds = [...]string{"invention", "utility_model", "design", "trademark"}
var ipCum = cumulative([]float64{0.15, 0.35, 0.15, 0.35})

func (e *emitter) ipRows(s *state) {
	c := s.c
	r := streamOf(e.u.seed, uint64(s.i), uint64(s.t), tagIP)
	lambda := 0.002 * industries[c.industry].Tech * math.Sqrt(c.headcount) * math.Exp(-0.3*s.stress)
	n := r.poisson(math.Min(lambda, 5))
	start := len(e.ip)
	for k := range n {
		d := e.dayIn(&r, s)
		e.ip = append(e.ip, IPRow{Code: c.code, EventDate: d, ArrivalDate: e.arrival(&r, tagIP, s.t, d),
			RecordID: "IP" + strconv.Itoa(s.i) + "-" + strconv.Itoa(s.t) + "-" + strconv.Itoa(k), Kind: ipKinds[r.pick(ipCum)]})
	}
	sortRows(e.ip[start:], func(x *IPRow) (Day, string, int32) { return x.EventDate, x.RecordID, x.Revision })
}

func (e *emitter) labelRows(s *state) {
	u := e.u
	c := s.c
	r := streamOf(u.seed, uint64(s.i), uint64(s.t), tagLabel)
	start := len(e.labels)
	if dd := u.defaultDay(s.i); dd != 0 && dd.Month() == s.month {
		e.labels = append(e.labels, LabelRow{Code: c.code, EventDate: dd, ArrivalDate: dd + Day(3+r.intn(28)),
			Kind: LabelDefault, Amount: round2(u.line[s.i] * 0.8)})
		e.defaults++
	}
	if u.violated(s.i, s.t) {
		d := e.dayIn(&r, s)
		e.labels = append(e.labels, LabelRow{Code: c.code, EventDate: d, ArrivalDate: d + Day(r.intn(16)),
			Kind: LabelViolation, Amount: math.Round(5000 * r.logn(0, 1))})
		e.violations++
	}
	if s.month.Calendar() == 12 || s.t == u.months-1 {
		pd12 := 1 - math.Pow(1-sigmoid(s.z), 12)
		limit := 0.0
		if !s.distress {
			limit = math.Round(0.3*s.salesMonth*12*(1-pd12)*(1-math.Min(1, 8*pd12))/1e4) * 1e4
		}
		e.labels = append(e.labels, LabelRow{Code: c.code, EventDate: s.last, ArrivalDate: s.last,
			Kind: LabelLimit, Amount: math.Max(0, limit)})
	}
	sortRows(e.labels[start:], func(x *LabelRow) (Day, string, int32) { return x.EventDate, x.Kind, x.Revision })
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// legalRepPhone is a company's registered mobile number, derived from its code
// alone so that adding it drew nothing from the generator's streams (every other
// value is what it was before the column existed).
func legalRepPhone(code string) string {
	h := fnv.New64a()
	h.Write([]byte(code))
	v := h.Sum64()
	prefixes := [...]string{"133", "135", "137", "138", "139", "150", "158", "177", "186", "189"}
	return fmt.Sprintf("%s%08d", prefixes[v%uint64(len(prefixes))], (v/16)%100_000_000)
}

// streets are roads of each generated district (by index into districts), for
// the registered addresses.
var streets = [][]string{
	{"季华五路", "汾江中路", "祖庙路", "岭南大道北", "绿景一路", "文华北路", "魁奇二路", "张槎一路"},
	{"南海大道北", "桂澜北路", "海八东路", "灯湖东路", "佛平三路", "广佛路", "里水大道中", "狮山大道"},
	{"德胜东路", "南国东路", "碧桂路", "容桂大道中", "乐从大道", "顺番公路", "伦教永丰路", "北滘南源路"},
	{"广海大道西", "健力宝南路", "三达路", "康乐路", "芦苞大道", "乐平大道", "云东海大道", "白坭大道"},
	{"海华大道", "江湾一路", "沧江路", "富湾大道", "杨和大道", "明城大道", "更合大道", "荷富路"},
}

// registeredAddress is a company's registered address in its district, derived
// from its code alone (as legalRepPhone) so that adding it drew nothing from the
// generator's streams.
func registeredAddress(code string, district uint8) string {
	h := fnv.New64a()
	h.Write([]byte("address|"))
	h.Write([]byte(code))
	v := h.Sum64()
	roads := streets[int(district)%len(streets)]
	addr := fmt.Sprintf("广东省佛山市%s%s%d号", districts[district].Name, roads[v%uint64(len(roads))], 1+(v/8)%398)
	switch (v / 4096) % 3 {
	case 0:
		addr += fmt.Sprintf("%d栋%d室", 1+(v/16384)%12, 100*(1+(v/262144)%18)+1+(v/8388608)%12)
	case 1:
		addr += "之" + string([]rune("一二三四五六七八九")[(v/16384)%9])
	}
	return addr
}
