package reports

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// period is a report's period and the date it is issued on.
type period struct {
	from, to, asOf datasets.Day
}

// content reads what the sections of purpose say about code.
type content struct {
	store blob.Store
	code  string
	p     period

	penalties     *sourceFacts[penaltyFact]
	months        map[string]*sourceFacts[monthFact]
	court         *sourceFacts[courtFact]
	realEstate    *sourceFacts[realEstateFact]
	loaded        map[string]error
	companyName   string
	companyStatus string // 存续, 吊销 or 注销 as of the issue day
}

func (c *content) lo() datasets.Month { return c.p.from.Month() }
func (c *content) hi() datasets.Month { return c.p.to.Month() }

// load reads every raw table the departments need, each once.
func (c *content) load(ctx context.Context, ids []string) error {
	c.months = map[string]*sourceFacts[monthFact]{}
	need := map[string]bool{}
	for _, id := range ids {
		for _, s := range departmentByID(id).kind.sources() {
			need[s] = true
		}
	}
	// The tables are read side by side; each goroutine writes only its own field.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i, s := range []string{datasets.SourcePenalty, datasets.SourceTax, datasets.SourceSocialInsurance, datasets.SourceHousingFund,
		datasets.SourceUtilities, datasets.SourceLoan, datasets.SourceCourt, datasets.SourceRealEstate} {
		if !need[s] {
			continue
		}
		var mf *sourceFacts[monthFact]
		switch s {
		case datasets.SourcePenalty, datasets.SourceCourt, datasets.SourceRealEstate:
		default:
			mf = &sourceFacts[monthFact]{}
			c.months[s] = mf
		}
		wg.Go(func() {
			var err error
			switch s {
			case datasets.SourcePenalty:
				var f sourceFacts[penaltyFact]
				f, err = readFacts[penaltyFact](ctx, c.store, s, c.lo(), c.hi(), c.code, c.p.asOf)
				c.penalties = &f
			case datasets.SourceCourt:
				var f sourceFacts[courtFact]
				f, err = readFacts[courtFact](ctx, c.store, s, c.lo(), c.hi(), c.code, c.p.asOf)
				c.court = &f
			case datasets.SourceRealEstate:
				var f sourceFacts[realEstateFact]
				f, err = readFacts[realEstateFact](ctx, c.store, s, c.lo(), c.hi(), c.code, c.p.asOf)
				c.realEstate = &f
			default:
				*mf, err = readFacts[monthFact](ctx, c.store, s, c.lo(), c.hi(), c.code, c.p.asOf)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	reg, err := readFacts[companyFact](ctx, c.store, datasets.SourceCompanies, 0, math.MaxInt32, c.code, c.p.asOf)
	if err != nil {
		return err
	}
	if len(reg.facts) > 0 {
		row := reg.facts[len(reg.facts)-1]
		c.companyName, c.companyStatus = row.Name, row.Status
		if row.StatusDate > c.p.asOf || c.companyStatus == "" { // a status not yet in force
			c.companyStatus = datasets.StatusActive
		}
	}
	return nil
}

// coverage gives whether a source was delivered at all and the dates its data
// runs from and through.
func (c *content) coverage(source string) (present bool, since, through datasets.Day) {
	switch source {
	case datasets.SourcePenalty:
		return c.penalties.present, c.penalties.since, c.penalties.through
	case datasets.SourceCourt:
		return c.court.present, c.court.since, c.court.through
	case datasets.SourceRealEstate:
		return c.realEstate.present, c.realEstate.since, c.realEstate.through
	}
	f := c.months[source]
	return f.present, f.since, f.through
}

// section writes department d's section.
func (c *content) section(d department) Section {
	s := Section{Department: d.id, NameZh: d.zh, NameEn: d.en, Sources: d.kind.sources(), Records: []Record{}}
	if d.kind == kindNone {
		s.StatementZh = "本平台未接入" + d.zh + "的数据，本报告不对该部门的记录作出任何说明。"
		s.StatementEn = "The platform receives no records from the " + d.en + "; this report states nothing about its records."
		return s
	}
	// The section holds what all its sources hold: from the latest of their first
	// days through the earliest of their last; a claim may not leave that span.
	var since, through datasets.Day = 0, math.MaxInt32
	for _, src := range s.Sources {
		present, from, t := c.coverage(src)
		if !present || t == 0 {
			s.StatementZh = "本平台尚未收到" + d.zh + "的数据，本报告不对该部门的记录作出任何说明。"
			s.StatementEn = "The platform has received no records from the " + d.en + " yet; this report states nothing about its records."
			return s
		}
		since, through = max(since, from), min(through, t)
	}
	s.Covered = true
	s.Since, s.Through = since.String(), through.String()
	if through < c.p.from || since > c.p.to || since > through {
		s.StatementZh = fmt.Sprintf("本平台所持%s的数据为%s至%s，与报告期间（%s至%s）不重叠，本报告不对该期间作出说明。", d.zh, since, through, c.p.from, c.p.to)
		s.StatementEn = fmt.Sprintf("The platform holds the %s's data from %s through %s, outside the report period (%s to %s); this report states nothing about the period.",
			d.en, since, through, c.p.from, c.p.to)
		return s
	}
	first, claimed := max(c.p.from, since), min(c.p.to, through)
	s.ClaimedFrom, s.ClaimedTo = first.String(), claimed.String()
	s.Records = c.records(d, first, claimed)
	if len(s.Records) == 0 {
		s.StatementZh = fmt.Sprintf("%s至%s期间，%s无%s记录（数据截至%s）。", first, claimed, d.zh, d.noneZh, through)
		s.StatementEn = fmt.Sprintf("No %s recorded by the %s between %s and %s (data runs through %s).", d.noneEn, d.en, first, claimed, through)
	} else {
		s.StatementZh = fmt.Sprintf("%s至%s期间，%s有以下%d条记录（数据截至%s）。", first, claimed, d.zh, len(s.Records), through)
		s.StatementEn = fmt.Sprintf("%d record(s) of the %s between %s and %s (data runs through %s).", len(s.Records), d.en, first, claimed, through)
	}
	if first > c.p.from {
		s.StatementZh += fmt.Sprintf("本平台未持有该部门%s至%s的数据，该段不在本报告说明范围内。", c.p.from, first-1)
		s.StatementEn += fmt.Sprintf(" The platform holds none of its data from %s to %s; this report states nothing about it.", c.p.from, first-1)
	}
	if claimed < c.p.to {
		s.StatementZh += fmt.Sprintf("%s至%s的数据尚未送达本平台，该段不在本报告说明范围内。", claimed+1, c.p.to)
		s.StatementEn += fmt.Sprintf(" Data from %s to %s has not reached the platform; this report states nothing about it.", claimed+1, c.p.to)
	}
	return s
}

var stageZh = map[string]string{"filed": "立案", "judged": "已判决", "enforcement": "执行"}

var severityZh = [...]string{"", "警告", "罚款", "没收违法所得", "责令停产停业", "吊销许可证"}
var severityEn = [...]string{"", "warning", "fine", "confiscation", "suspension", "licence revoked"}

// records lists department d's facts with an event date in from..to.
func (c *content) records(d department, from, to datasets.Day) []Record {
	in := func(day datasets.Day) bool { return day >= from && day <= to }
	var out []Record
	if d.kind == kindPenalty || d.kind == kindTax {
		for _, f := range c.penalties.facts {
			if !d.decided(f.Department) || !in(f.EventDate) {
				continue
			}
			r := Record{Date: f.EventDate.String(), KindZh: "行政处罚", KindEn: "administrative penalty", Ref: f.PenaltyID, Amount: f.Amount}
			if f.Severity >= 1 && int(f.Severity) < len(severityZh) {
				r.DetailZh, r.DetailEn = severityZh[f.Severity], severityEn[f.Severity]
			}
			out = append(out, r)
		}
	}
	monthly := func(source, kindZh, kindEn string, hit func(monthFact) (float64, string, string)) {
		for _, f := range c.months[source].facts {
			if !in(f.EventDate) {
				continue
			}
			if amount, zh, en := hit(f); zh != "" {
				out = append(out, Record{Date: f.EventDate.String(), KindZh: kindZh, KindEn: kindEn, Amount: amount, DetailZh: zh, DetailEn: en})
			}
		}
	}
	arrears := func(f monthFact) (float64, string, string) {
		if f.Arrears > 0 {
			return f.Arrears, "月末欠缴", "outstanding at month end"
		}
		return 0, "", ""
	}
	switch d.kind {
	case kindTax:
		monthly(datasets.SourceTax, "欠税", "tax arrears", arrears)
	case kindSocial:
		monthly(datasets.SourceSocialInsurance, "社保欠缴", "social insurance arrears", arrears)
	case kindUtilities:
		monthly(datasets.SourceUtilities, "水电气费欠缴", "utility bill arrears", arrears)
	case kindHousingFund:
		monthly(datasets.SourceHousingFund, "公积金欠缴", "housing fund arrears", func(f monthFact) (float64, string, string) {
			if f.ArrearsMonths > 0 {
				return 0, fmt.Sprintf("欠缴%d个月", f.ArrearsMonths), fmt.Sprintf("%d months in arrears", f.ArrearsMonths)
			}
			return 0, "", ""
		})
	case kindCredit:
		monthly(datasets.SourceLoan, "贷款逾期", "overdue loan", func(f monthFact) (float64, string, string) {
			if f.OverdueDays > 0 || f.OverdueAmount > 0 {
				return f.OverdueAmount, fmt.Sprintf("逾期%d天", f.OverdueDays), fmt.Sprintf("%d days overdue", f.OverdueDays)
			}
			return 0, "", ""
		})
	case kindCourt:
		for _, f := range c.court.facts {
			if f.Role != "defendant" || !in(f.EventDate) {
				continue
			}
			zh, en := "被诉", "defendant in a "+f.CaseType+" case"
			switch {
			case f.Dishonest:
				zh, en = "失信被执行人", "dishonest-debtor list"
			case f.Restricted:
				zh, en = "限制高消费", "consumption restriction"
			case f.Enforcement:
				zh, en = "强制执行", "enforcement"
			}
			out = append(out, Record{Date: f.EventDate.String(), KindZh: "司法", KindEn: "court", Ref: f.CaseID, Amount: f.Amount,
				DetailZh: zh + "（" + stageZh[f.Stage] + "）", DetailEn: en + " (" + f.Stage + ")"})
		}
	case kindRealEstate:
		for _, f := range c.realEstate.facts {
			if f.Kind != "seizure" || !in(f.EventDate) {
				continue
			}
			out = append(out, Record{Date: f.EventDate.String(), KindZh: "不动产查封", KindEn: "real-estate seizure", Ref: f.RecordID, Amount: f.Amount})
		}
	}
	slices.SortStableFunc(out, func(a, b Record) int { return cmp.Or(cmp.Compare(a.Date, b.Date), cmp.Compare(a.Ref, b.Ref)) })
	return out
}
