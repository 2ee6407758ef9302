package datasets

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
)

// This file is the contract between the generator (and any real department feed)
// and the feature store. Names of sources and columns are stable; add columns at
// the end of a row struct, never rename or reorder.
//
// Conventions shared by every table:
//
//   - code: the company's 18-character unified social credit code (GB 32100-2015).
//   - Dates are Parquet DATE columns: int32 days since 1970-01-01 (UTC) in Go
//     (type Day). There are no timestamps with a time of day.
//   - event_date: when the thing happened. For a monthly record it is the last day
//     of the month the record describes (Month.LastDay).
//   - arrival_date: when the department delivered the record to the platform;
//     always >= event_date. A record counts for an as-of date D only when
//     event_date <= D and arrival_date <= D.
//   - revision: 0 for the first delivery; a correction (backfill) repeats the key
//     of the record it corrects (code + event_date for monthly tables, the id
//     column for event tables) with revision 1, 2, ... and a later arrival_date.
//     The record with the highest revision among those arrived by D is in force.
//   - Money is in yuan (float64). Counts are int32.
//   - Files: raw/<source>/month=YYYY-MM/part-NNNNN.parquet where the month is the
//     month of event_date (so a late or corrected record sits in its event month's
//     partition; readers for as-of D read partitions up to D's month and filter on
//     arrival_date). Parts split the companies into shards; rows in a file are
//     ordered by code, then event_date, then (for event tables) the id, then
//     revision. Companies founded before the first generated month, and
//     guarantees started before it, are in that month's partition.
//   - Labels are not department data: they live under labels/month=YYYY-MM/.

// Day is a calendar date as days since 1970-01-01 UTC, the Go form of a Parquet
// DATE column.
type Day int32

// DayOf returns the calendar date of t (taken in t's location).
func DayOf(t time.Time) Day {
	y, m, d := t.Date()
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time returns midnight UTC of d.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// Month returns the month d falls in.
func (d Day) Month() Month { return MonthOf(d.Time()) }

// String formats d as YYYY-MM-DD.
func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// Month is a calendar month as year*12 + month-1 (2024-01 is 24288).
type Month int32

// MonthOf returns the month of t (in t's location).
func MonthOf(t time.Time) Month { return Month(t.Year()*12 + int(t.Month()) - 1) }

// ParseMonth parses "YYYY-MM".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 {
		return 0, fmt.Errorf("%w: month %q is not YYYY-MM", ErrInvalidOptions, s)
	}
	return MonthOf(t), nil
}

// Year returns the calendar year of m.
func (m Month) Year() int { return int(m) / 12 }

// Calendar returns the month of the year (1-12).
func (m Month) Calendar() time.Month { return time.Month(int(m)%12 + 1) }

// String formats m as YYYY-MM.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year(), int(m.Calendar())) }

// FirstDay returns the first day of m.
func (m Month) FirstDay() Day {
	return DayOf(time.Date(m.Year(), m.Calendar(), 1, 0, 0, 0, 0, time.UTC))
}

// LastDay returns the last day of m: the event_date of a monthly record.
func (m Month) LastDay() Day { return (m + 1).FirstDay() - 1 }

// Kind says how a source's records relate to time.
type Kind int

const (
	// Static: registry attributes, one row per company (plus corrections).
	Static Kind = iota + 1
	// Monthly: at most one value per company and month; corrections supersede.
	Monthly
	// Event: individual events, each with its own id; every record counts.
	Event
	// Relation: links between two companies with a start and an end date.
	Relation
	// Label: outcomes for training (defaults, violations, limits), not department data.
	Label
)

// String names the kind as sources.yaml of the feature store does.
func (k Kind) String() string {
	switch k {
	case Static:
		return "static"
	case Monthly:
		return "monthly"
	case Event:
		return "event"
	case Relation:
		return "relation"
	case Label:
		return "label"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Source is one table: its name (the <source> of raw/<source>/), kind, delivering
// department, and Go row type (Row is a zero value of the row struct; its parquet
// tags are the column names).
type Source struct {
	Name       string
	Kind       Kind
	Department string
	Row        any
	Doc        string
}

// Prefix returns the key prefix of the source's files: "raw/<name>/" or, for the
// labels, "labels/".
func (s Source) Prefix() string {
	if s.Kind == Label {
		return "labels/"
	}
	return "raw/" + s.Name + "/"
}

// Key returns the object key of part number part of month m.
func (s Source) Key(m Month, part int) string {
	return fmt.Sprintf("%smonth=%s/part-%05d.parquet", s.Prefix(), m, part)
}

// MonthPrefix returns the key prefix of all parts of month m.
func (s Source) MonthPrefix(m Month) string {
	return s.Prefix() + "month=" + m.String() + "/"
}

// Schema returns the Parquet schema of the source's files.
func (s Source) Schema() *parquet.Schema { return parquet.SchemaOf(s.Row) }

// Columns returns the column names of the source in file order.
func (s Source) Columns() []string {
	t := reflect.TypeOf(s.Row)
	out := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		name, _, _ := cutComma(f.Tag.Get("parquet"))
		out = append(out, name)
	}
	return out
}

func cutComma(s string) (before, after string, found bool) {
	for i := range len(s) {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Source names.
const (
	SourceCompanies       = "companies"
	SourceTax             = "tax"
	SourceSocialInsurance = "social_insurance"
	SourceHousingFund     = "housing_fund"
	SourceUtilities       = "utilities"
	SourceCourt           = "court"
	SourcePenalty         = "penalty"
	SourceLoan            = "loan"
	SourceGuarantee       = "guarantee"
	SourceRealEstate      = "real_estate"
	SourceIP              = "ip"
	SourceCustoms         = "customs"
	SourceLabels          = "labels"
)

// Sources returns every table in a fixed order (department tables, then labels).
func Sources() []Source {
	return []Source{
		{SourceCompanies, Static, "市场监管局 market regulation (business registry)", CompanyRow{},
			"one row per company: identity, industry, district, capital, legal representative, status"},
		{SourceTax, Monthly, "税务局 tax bureau", TaxRow{},
			"monthly declarations: sales, VAT and income tax paid, arrears, invoices, tax credit grade"},
		{SourceSocialInsurance, Monthly, "人力社保局 social insurance", SocialInsuranceRow{},
			"monthly insured headcount, contribution paid, arrears"},
		{SourceHousingFund, Monthly, "住房公积金中心 housing provident fund", HousingFundRow{},
			"monthly depositors, deposit paid, months in arrears"},
		{SourceUtilities, Monthly, "供电/水务/燃气 power, water and gas utilities", UtilitiesRow{},
			"monthly electricity, water and gas use, bill and arrears"},
		{SourceCourt, Event, "人民法院 courts", CourtRow{},
			"court cases with the company as defendant or plaintiff; enforcement, dishonest-debtor list, consumption restriction"},
		{SourcePenalty, Event, "市场监管/税务/生态环境/应急管理 enforcement departments", PenaltyRow{},
			"administrative penalties with severity, amount and department"},
		{SourceLoan, Monthly, "人民银行征信 and participating banks", LoanRow{},
			"month-end loan position over all lenders: line, balance, new loans, repaid, overdue amount and days"},
		{SourceGuarantee, Relation, "participating banks", GuaranteeRow{},
			"guarantee contracts guarantor (code) -> borrower with amount and period; they form chains and circles"},
		{SourceRealEstate, Event, "不动产登记中心 real-estate registry", RealEstateRow{},
			"mortgages, seizures (查封) and their releases"},
		{SourceIP, Event, "知识产权局 intellectual property office", IPRow{},
			"granted patents and registered trademarks"},
		{SourceCustoms, Monthly, "海关 customs", CustomsRow{},
			"monthly imports and exports of companies that trade across the border"},
		{SourceLabels, Label, "(outcomes, not a department)", LabelRow{},
			"default (90+ days overdue), violation found in inspection, and the sustainable credit limit"},
	}
}

// SourceByName returns the source called name.
func SourceByName(name string) (Source, error) {
	for _, s := range Sources() {
		if s.Name == name {
			return s, nil
		}
	}
	if name == SourceRepayment {
		return RepaymentSource(), nil
	}
	return Source{}, fmt.Errorf("%w: no source %q", ErrSourceMissing, name)
}

// Company status values.
const (
	StatusActive       = "存续" // in operation
	StatusRevoked      = "吊销" // licence revoked
	StatusDeregistered = "注销" // closed
)

// CompanyRow is one company of the business registry. Industry is the GB/T 4754
// section letter (A-T), District a 6-digit administrative division code.
// event_date is the founding date. status is the status since status_date: a
// reader as of D must treat the company as 存续 when status_date > D.
type CompanyRow struct {
	Code              string  `parquet:"code"`
	EventDate         Day     `parquet:"event_date,date"`
	ArrivalDate       Day     `parquet:"arrival_date,date"`
	Revision          int32   `parquet:"revision"`
	Name              string  `parquet:"name"`
	Industry          string  `parquet:"industry,dict"`
	District          string  `parquet:"district,dict"`
	DistrictName      string  `parquet:"district_name,dict"`
	Founded           Day     `parquet:"founded,date"`
	RegisteredCapital float64 `parquet:"registered_capital"`
	SubscribedCapital float64 `parquet:"subscribed_capital"`
	PaidInCapital     float64 `parquet:"paid_in_capital"`
	LegalRep          string  `parquet:"legal_rep"`
	// LegalRepPhone is the mobile number registered for the legal representative:
	// the contact a company account's activation code is sent to. Personal data:
	// never shown, exported or used as an indicator.
	LegalRepPhone string `parquet:"legal_rep_phone"`
	// Address is the registered address (住所) as the registry records it.
	Address    string `parquet:"address"`
	LegalForm  string `parquet:"legal_form,dict"`
	Status     string `parquet:"status,dict"`
	StatusDate Day    `parquet:"status_date,date"`
}

// TaxRow is one monthly tax declaration. tax_paid = vat_paid + income_tax_paid
// (income tax is prepaid quarterly, in March, June, September and December).
// credit_grade is the annual tax credit grade in force (A, B, M, C, D; A best).
type TaxRow struct {
	Code          string  `parquet:"code"`
	EventDate     Day     `parquet:"event_date,date"`
	ArrivalDate   Day     `parquet:"arrival_date,date"`
	Revision      int32   `parquet:"revision"`
	Sales         float64 `parquet:"sales"`
	VATPaid       float64 `parquet:"vat_paid"`
	IncomeTaxPaid float64 `parquet:"income_tax_paid"`
	TaxPaid       float64 `parquet:"tax_paid"`
	Profit        float64 `parquet:"profit"`
	Invoices      int32   `parquet:"invoices"`
	Arrears       float64 `parquet:"arrears"`
	CreditGrade   string  `parquet:"credit_grade,dict"`
}

// SocialInsuranceRow is one month of social insurance: insured headcount, the
// contribution paid and arrears outstanding at month end.
type SocialInsuranceRow struct {
	Code         string  `parquet:"code"`
	EventDate    Day     `parquet:"event_date,date"`
	ArrivalDate  Day     `parquet:"arrival_date,date"`
	Revision     int32   `parquet:"revision"`
	Insured      int32   `parquet:"insured"`
	Contribution float64 `parquet:"contribution"`
	Arrears      float64 `parquet:"arrears"`
}

// HousingFundRow is one month of housing provident fund deposits.
type HousingFundRow struct {
	Code          string  `parquet:"code"`
	EventDate     Day     `parquet:"event_date,date"`
	ArrivalDate   Day     `parquet:"arrival_date,date"`
	Revision      int32   `parquet:"revision"`
	Depositors    int32   `parquet:"depositors"`
	Deposit       float64 `parquet:"deposit"`
	ArrearsMonths int32   `parquet:"arrears_months"`
}

// UtilitiesRow is one month of electricity (kWh), water (tons) and gas (m³) use,
// the total bill and arrears outstanding at month end.
type UtilitiesRow struct {
	Code        string  `parquet:"code"`
	EventDate   Day     `parquet:"event_date,date"`
	ArrivalDate Day     `parquet:"arrival_date,date"`
	Revision    int32   `parquet:"revision"`
	KWh         float64 `parquet:"kwh"`
	WaterTons   float64 `parquet:"water_tons"`
	GasM3       float64 `parquet:"gas_m3"`
	Bill        float64 `parquet:"bill"`
	Arrears     float64 `parquet:"arrears"`
}

// CourtRow is one court case (event_date: filing date). role is "defendant" or
// "plaintiff"; case_type "contract", "loan", "labor", "tort" or "other"; stage
// "filed", "judged" or "enforcement". A later stage of the same case_id is a new
// revision. dishonest marks the dishonest-debtor list (失信被执行人),
// restricted the consumption restriction order (限制高消费).
type CourtRow struct {
	Code        string  `parquet:"code"`
	EventDate   Day     `parquet:"event_date,date"`
	ArrivalDate Day     `parquet:"arrival_date,date"`
	Revision    int32   `parquet:"revision"`
	CaseID      string  `parquet:"case_id"`
	Role        string  `parquet:"role,dict"`
	CaseType    string  `parquet:"case_type,dict"`
	Amount      float64 `parquet:"amount"`
	Stage       string  `parquet:"stage,dict"`
	Enforcement bool    `parquet:"enforcement"`
	Dishonest   bool    `parquet:"dishonest"`
	Restricted  bool    `parquet:"restricted"`
}

// PenaltyRow is one administrative penalty. severity is 1 (warning) to 5
// (licence revoked): 1 warning, 2 fine, 3 confiscation, 4 suspension, 5 revocation.
type PenaltyRow struct {
	Code        string  `parquet:"code"`
	EventDate   Day     `parquet:"event_date,date"`
	ArrivalDate Day     `parquet:"arrival_date,date"`
	Revision    int32   `parquet:"revision"`
	PenaltyID   string  `parquet:"penalty_id"`
	Department  string  `parquet:"department,dict"`
	Severity    int32   `parquet:"severity"`
	Amount      float64 `parquet:"amount"`
}

// LoanRow is a company's month-end loan position over all lenders. overdue_days
// is the age of the oldest unpaid instalment (0 when current); a company defaults
// when it reaches 90.
type LoanRow struct {
	Code          string  `parquet:"code"`
	EventDate     Day     `parquet:"event_date,date"`
	ArrivalDate   Day     `parquet:"arrival_date,date"`
	Revision      int32   `parquet:"revision"`
	Lenders       int32   `parquet:"lenders"`
	CreditLine    float64 `parquet:"credit_line"`
	Balance       float64 `parquet:"balance"`
	NewAmount     float64 `parquet:"new_amount"`
	Repaid        float64 `parquet:"repaid"`
	OverdueAmount float64 `parquet:"overdue_amount"`
	OverdueDays   int32   `parquet:"overdue_days"`
}

// GuaranteeRow is one guarantee contract: code guarantees the loans of borrower
// for amount from start_date to end_date (event_date = start_date).
type GuaranteeRow struct {
	Code         string  `parquet:"code"`
	EventDate    Day     `parquet:"event_date,date"`
	ArrivalDate  Day     `parquet:"arrival_date,date"`
	Revision     int32   `parquet:"revision"`
	GuaranteeID  string  `parquet:"guarantee_id"`
	BorrowerCode string  `parquet:"borrower_code"`
	Amount       float64 `parquet:"amount"`
	StartDate    Day     `parquet:"start_date,date"`
	EndDate      Day     `parquet:"end_date,date"`
}

// RealEstateRow is one real-estate registry event: kind "mortgage", "seizure"
// (查封 by a court) or "release"; amount is the secured or claimed amount.
type RealEstateRow struct {
	Code        string  `parquet:"code"`
	EventDate   Day     `parquet:"event_date,date"`
	ArrivalDate Day     `parquet:"arrival_date,date"`
	Revision    int32   `parquet:"revision"`
	RecordID    string  `parquet:"record_id"`
	Kind        string  `parquet:"kind,dict"`
	Amount      float64 `parquet:"amount"`
}

// IPRow is one granted patent or registered trademark: kind "invention",
// "utility_model", "design" or "trademark".
type IPRow struct {
	Code        string `parquet:"code"`
	EventDate   Day    `parquet:"event_date,date"`
	ArrivalDate Day    `parquet:"arrival_date,date"`
	Revision    int32  `parquet:"revision"`
	RecordID    string `parquet:"record_id"`
	Kind        string `parquet:"kind,dict"`
}

// CustomsRow is one month of customs declarations of a trading company.
type CustomsRow struct {
	Code         string  `parquet:"code"`
	EventDate    Day     `parquet:"event_date,date"`
	ArrivalDate  Day     `parquet:"arrival_date,date"`
	Revision     int32   `parquet:"revision"`
	Imports      float64 `parquet:"imports"`
	Exports      float64 `parquet:"exports"`
	Declarations int32   `parquet:"declarations"`
}

// Label kinds.
const (
	LabelDefault   = "default"   // loan reached 90 days overdue; amount = overdue balance
	LabelViolation = "violation" // violation found in an inspection; amount = fine
	LabelLimit     = "limit"     // sustainable credit limit at year end (yuan)
)

// LabelRow is one outcome. For "default" event_date is the day the oldest
// instalment reached 90 days overdue; for "violation" the day an inspection found
// it; for "limit" the last day of each year (and of the last generated month),
// amount being the credit limit the company could have carried without default
// given its true health and size. arrival_date is when the outcome became known.
type LabelRow struct {
	Code        string  `parquet:"code"`
	EventDate   Day     `parquet:"event_date,date"`
	ArrivalDate Day     `parquet:"arrival_date,date"`
	Revision    int32   `parquet:"revision"`
	Kind        string  `parquet:"kind,dict"`
	Amount      float64 `parquet:"amount"`
}
