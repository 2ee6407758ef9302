package datasets

// The repayment source: a bank's own monthly record of each loan it made through
// the platform's financing loop (performing, days overdue, default). It follows the
// conventions of every raw table and passes through ingestion unchanged, but it is
// private to the bank that delivers it: it is stored only under the bank's own
// folder of the object store (banks/<id>/raw/repayment/), never at the root where
// public materialization lists raw/, and it is not among Sources(): the generator
// does not produce it. Its contract is under bank_private in contracts.yaml.

// SourceRepayment is the name of the repayment source.
const SourceRepayment = "repayment"

// Repayment statuses of a loan at a month end.
const (
	RepaymentPerforming = "performing" // paid as agreed (正常)
	RepaymentOverdue    = "overdue"    // an instalment past due (逾期); see days_overdue
	RepaymentDefault    = "default"    // declared in default (违约 / 不良)
	RepaymentRepaid     = "repaid"     // repaid in full (结清)
)

// RepaymentSource returns the repayment source.
func RepaymentSource() Source {
	return Source{SourceRepayment, Monthly, "participating banks (own loans, private)", RepaymentRow{},
		"a bank's own loans at each month end: status, days overdue, balance, amount paid; private to the bank"}
}

// RepaymentRow is one loan at one month end. event_date is the month end, loan_id
// the platform's loan id; (loan_id, event_date) is the key a correction repeats.
type RepaymentRow struct {
	Code        string  `parquet:"code"`
	EventDate   Day     `parquet:"event_date,date"`
	ArrivalDate Day     `parquet:"arrival_date,date"`
	Revision    int32   `parquet:"revision"`
	LoanID      string  `parquet:"loan_id"`
	Status      string  `parquet:"status,dict"`
	DaysOverdue int32   `parquet:"days_overdue"`
	Balance     float64 `parquet:"balance"`
	Paid        float64 `parquet:"paid"`
}
