package ingest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/xuri/excelize/v2"

	"github.com/xinyi-platform/xinyi/datasets"
)

// TestIngestExcelDates reads a workbook whose dates are real Excel date cells
// (serial day numbers with a date format), as a department's spreadsheet has them.
func TestIngestExcelDates(t *testing.T) {
	f := excelize.NewFile()
	style, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	rows := [][]any{
		{"权利人统一社会信用代码", "授权日期", "专利号/注册号", "类型"},
		{testCode(t, 1), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "ZL2024-1", "发明专利"},
		{testCode(t, 2), time.Date(2023, 12, 1, 0, 0, 0, 0, time.UTC), "TM-9", "商标"},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	f.SetCellStyle("Sheet1", "B2", "B3", style)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	store := openStore(t)
	rep, err := New(store).Ingest(context.Background(), "ip", []Input{{Name: "ip.xlsx", R: &buf}}, Options{Now: clock("2024-03-05")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 2 {
		t.Fatalf("%s; %+v", rep.Summary(), rep.Examples)
	}
	src, _ := datasets.SourceByName("ip")
	feb, _ := datasets.ParseMonth("2024-02")
	got, err := datasets.ReadMonth[datasets.IPRow](context.Background(), store, src, feb)
	if err != nil || len(got) != 1 || got[0].EventDate.String() != "2024-02-29" || got[0].Kind != "invention" {
		t.Fatalf("rows %+v, %v", got, err)
	}
}

// TestIngestPlatformParquet loads a Parquet file in the platform's own layout
// (platform column names, DATE columns, doubles), arrival and revision ignored.
func TestIngestPlatformParquet(t *testing.T) {
	in := []datasets.PenaltyRow{
		{Code: testCode(t, 3), EventDate: datasets.DayOf(time.Date(2024, 1, 9, 0, 0, 0, 0, time.UTC)), ArrivalDate: 1, Revision: 7,
			PenaltyID: "P-1", Department: "税务局", Severity: 2, Amount: 1234.5},
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[datasets.PenaltyRow](&buf)
	w.Write(in)
	w.Close()
	store := openStore(t)
	rep, err := New(store).Ingest(context.Background(), "penalty", []Input{{Name: "p.parquet", R: &buf}}, Options{Now: clock("2024-02-01")})
	if err != nil || rep.Accepted != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	src, _ := datasets.SourceByName("penalty")
	jan, _ := datasets.ParseMonth("2024-01")
	got, err := datasets.ReadMonth[datasets.PenaltyRow](context.Background(), store, src, jan)
	want := in[0]
	want.ArrivalDate, want.Revision = datasets.DayOf(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)), 0
	if err != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("rows %+v (%v), want %+v", got, err, want)
	}
}

// TestArrivalDayInChinaTime stamps a delivery made at 07:30 in China (23:30 UTC
// the day before) with the Chinese date, so a record of that day is not "future".
func TestArrivalDayInChinaTime(t *testing.T) {
	csv := "当事人统一社会信用代码,立案日期,案号,诉讼地位,案由类别,标的金额,审理阶段\n" + testCode(t, 4) + ",2024-04-01,(2024)浙0604民初1号,被告,合同纠纷,5000,立案\n"
	now := func() time.Time { return time.Date(2024, 3, 31, 23, 30, 0, 0, time.UTC) }
	rep, err := New(openStore(t)).Ingest(context.Background(), "court", []Input{{Name: "c.csv", R: strings.NewReader(csv)}}, Options{Now: now})
	if err != nil || rep.Accepted != 1 || rep.Arrival != "2024-04-01" {
		t.Fatalf("%v %+v", err, rep)
	}
	// The same instant counted in UTC makes the filing date a day in the future.
	rep, err = New(openStore(t)).Ingest(context.Background(), "court", []Input{{Name: "c.csv", R: strings.NewReader(csv)}}, Options{Now: now, Location: time.UTC, MaxBad: 1})
	if err != nil || rep.Rejected != 1 || rep.Reasons[ReasonFutureDate] != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
}
