package labtest

import (
	"context"
	"time"

	"github.com/xinyi-platform/xinyi/lab"
)

// SourceList is a fixed status of department sources: most on time, one overdue,
// one never delivered.
type SourceList []lab.SourceStatus

// Sources returns the fixture.
func Sources() SourceList {
	at := time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC)
	return SourceList{
		{Source: "tax", NameZH: "税务", DepartmentZH: "税务局", DepartmentEN: "tax bureau", CadenceDays: 31, Batches: 36, Rows: 4_320_000, Rejected: 2_160, LastArrival: at.AddDate(0, 0, -6)},
		{Source: "social_insurance", NameZH: "社会保险", DepartmentZH: "人社局", DepartmentEN: "human resources and social security", CadenceDays: 31, Batches: 36, Rows: 3_960_000, Rejected: 0, LastArrival: at.AddDate(0, 0, -9)},
		{Source: "utilities", NameZH: "水电气", DepartmentZH: "供电/水务/燃气", DepartmentEN: "power, water and gas utilities", CadenceDays: 31, Batches: 35, Rows: 4_100_000, Rejected: 41_000, LastArrival: at.AddDate(0, 0, -47), Late: true},
		{Source: "court", NameZH: "司法涉诉", DepartmentZH: "法院", DepartmentEN: "courts", CadenceDays: 7, Batches: 150, Rows: 18_400, Rejected: 37, LastArrival: at.AddDate(0, 0, -2)},
		{Source: "customs", NameZH: "海关进出口", DepartmentZH: "海关", DepartmentEN: "customs", CadenceDays: 31, Late: true},
	}
}

// SourceStatus returns the fixture.
func (l SourceList) SourceStatus(context.Context) ([]lab.SourceStatus, error) { return l, nil }
