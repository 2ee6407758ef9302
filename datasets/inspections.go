package datasets

// The inspection source: results of on-site inspections (双随机 random checks)
// recorded by a regulator on the platform. It follows the conventions of every raw
// table (see schema.go) and sits under raw/inspections/month=YYYY-MM/ by the month
// of the inspection date, so it can pass through ingestion unchanged. It is not
// among Sources(): the generator does not produce it; regulators record it.

// SourceInspections is the name of the inspection source.
const SourceInspections = "inspections"

// Inspection outcomes (the three of 衢州's check results: 正常, 待整改, 发现问题).
const (
	// InspectionNoProblem: nothing found (正常 / 未发现问题).
	InspectionNoProblem = "no_problem"
	// InspectionProblem: a violation found (发现问题), with its category.
	InspectionProblem = "problem"
	// InspectionRectify: a problem found that the firm is ordered to correct by a
	// deadline (责令整改 / 待整改).
	InspectionRectify = "rectify"
)

// InspectionFoundProblem reports whether an outcome is a problem found: both
// InspectionProblem and InspectionRectify. A problem found is a violation
// observation (label kind LabelViolation) as of the inspection date.
func InspectionFoundProblem(outcome string) bool {
	return outcome == InspectionProblem || outcome == InspectionRectify
}

// InspectionRow is one recorded inspection result. event_date is the day of the
// inspection, arrival_date the day the platform recorded the result (UTC), and
// inspection_id the key a correction repeats with a higher revision
// ("plan-<plan id>/<code>"): the revision in force as of D is the highest among
// those arrived by D, so a correction from problem to no_problem retracts a
// violation from that day on and never before.
type InspectionRow struct {
	Code         string `parquet:"code"`
	EventDate    Day    `parquet:"event_date,date"`
	ArrivalDate  Day    `parquet:"arrival_date,date"`
	Revision     int32  `parquet:"revision"`
	InspectionID string `parquet:"inspection_id"`
	Outcome      string `parquet:"outcome,dict"`
	// Category of a problem found (see serving/inspection.Categories); "" for none.
	Category  string `parquet:"category,dict"`
	Inspector string `parquet:"inspector"`
	// Regulator is the institution that owns the plan and recorded the result.
	Regulator string `parquet:"regulator,dict"`
	Tier      string `parquet:"tier,dict"`
}

// InspectionSource returns the inspection source: an event table delivered by the
// market regulator's inspections.
func InspectionSource() Source {
	return Source{SourceInspections, Event, "市场监管局 market regulation (双随机 inspections)", InspectionRow{},
		"results of random on-site inspections: no problem, problem found with its category, or ordered to rectify"}
}
