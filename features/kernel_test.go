package features

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func day(s string) Day {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return DayOf(t)
}

func month(s string) Month { return day(s + "-01").Month() }

// monthly returns one record per month starting at first, each arriving on its month's
// last day (on time).
func monthly(first string, values ...float64) []Record {
	m := month(first)
	out := make([]Record, len(values))
	for i, v := range values {
		mm := m + Month(i)
		out[i] = Record{Month: mm, Event: mm.LastDay(), Arrival: mm.LastDay(), Value: v}
	}
	return out
}

var nextEventKey int32

// event returns a new event (its own key).
func event(date string, arrival string, v float64) Record {
	d := day(date)
	nextEventKey++
	return Record{Month: d.Month(), Event: d, Arrival: day(arrival), Key: nextEventKey, Value: v}
}

func TestEventRevision(t *testing.T) {
	// Court case 7 filed 2025-02-10 for 100; at judgement (revision 1, arriving
	// 2025-05-01) the amount becomes 150. It stays one case.
	filed := Record{Month: month("2025-02"), Event: day("2025-02-10"), Arrival: day("2025-02-11"), Key: 7, Value: 100}
	judged := filed
	judged.Revision, judged.Arrival, judged.Value = 1, day("2025-05-01"), 150
	other := Record{Month: month("2025-03"), Event: day("2025-03-01"), Arrival: day("2025-03-02"), Key: 8, Value: 10}
	recs := []Record{judged, other, filed}
	for _, tt := range []struct {
		asof       string
		count, sum float64
	}{
		{"2025-04-30", 2, 110},
		{"2025-05-01", 2, 160},
	} {
		t.Run(tt.asof, func(t *testing.T) {
			if got := agg(KindEvent, recs, tt.asof, AggCount, 6); got != tt.count {
				t.Errorf("count = %v, want %v", got, tt.count)
			}
			if got := agg(KindEvent, recs, tt.asof, AggSum, 6); got != tt.sum {
				t.Errorf("sum = %v, want %v", got, tt.sum)
			}
		})
	}
}

func agg(kind SourceKind, recs []Record, asof string, a Aggregation, window int) float64 {
	recs = slices.Clone(recs)
	SortRecords(kind, recs)
	cells := make([]MonthCell, Lookback)
	Resolve(kind, recs, day(asof), cells)
	return Aggregate(kind, a, window, cells)
}

func same(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= 1e-9*max(1, math.Abs(want))
}

func TestDayMonth(t *testing.T) {
	if got := month("2025-02").LastDay().String(); got != "2025-02-28" {
		t.Errorf("LastDay(2025-02) = %s", got)
	}
	if got := month("2024-12").LastDay().String(); got != "2024-12-31" {
		t.Errorf("LastDay(2024-12) = %s", got)
	}
	if got := day("2025-06-30").Month().String(); got != "2025-06" {
		t.Errorf("Month(2025-06-30) = %s", got)
	}
}

func TestDayMonthMatchesTime(t *testing.T) {
	for d := Day(-800_000); d < 800_000; d += 13 {
		if got, want := d.Month(), MonthOf(d.Time()); got != want {
			t.Fatalf("Day(%d).Month() = %s, time package says %s", d, got, want)
		}
	}
}

func TestAggregateMonthly(t *testing.T) {
	nan := math.NaN()
	// Jan..Jun 2025 = 10..60, all on time.
	full := monthly("2025-01", 10, 20, 30, 40, 50, 60)
	// The same without March.
	gap := slices.Delete(slices.Clone(full), 2, 3)
	// Apr..Jun 2024 = 30, 30, 40 and Apr..Jun 2025 = 40, 50, 60 (yoy over 3 months).
	yoy := append(monthly("2024-04", 30, 30, 40), monthly("2025-04", 40, 50, 60)...)
	arrears := monthly("2025-01", 0, 5, 0, 0, 0, 0)
	tests := []struct {
		name   string
		recs   []Record
		asof   string
		agg    Aggregation
		window int
		want   float64 // hand calculation
	}{
		{"sum 6", full, "2025-06-30", AggSum, 6, 210},
		{"sum 3 excludes the month before the window", full, "2025-06-30", AggSum, 3, 40 + 50 + 60},
		{"sum 3 as of the day before June's event time", full, "2025-06-29", AggSum, 3, 40 + 50},
		{"sum 3 one month later: window slides", full, "2025-07-31", AggSum, 3, 50 + 60},
		{"sum with nothing in the window is missing", full, "2027-06-30", AggSum, 3, nan},
		{"mean 6", full, "2025-06-30", AggMean, 6, 35},
		{"mean skips the missing month", gap, "2025-06-30", AggMean, 6, (10 + 20 + 40 + 50 + 60) / 5.0},
		{"count 6", gap, "2025-06-30", AggCount, 6, 5},
		{"max 6", full, "2025-06-30", AggMax, 6, 60},
		{"max 3 as of May", full, "2025-05-31", AggMax, 3, 50},
		{"last", full, "2025-06-30", AggLast, 3, 60},
		{"last is the latest present month", full, "2025-08-31", AggLast, 3, 60},
		{"last beyond the window is missing", full, "2025-09-30", AggLast, 3, nan},
		{"slope of 10x+10", full, "2025-06-30", AggSlope, 6, 10},
		{"slope keeps month positions across a gap", gap, "2025-06-30", AggSlope, 6, 10},
		{"slope needs two points", full, "2025-08-31", AggSlope, 3, nan},
		// mean 35, squared deviations 625+225+25+25+225+625 = 1750, /6, sqrt, /35.
		{"cv 6", full, "2025-06-30", AggCV, 6, math.Sqrt(1750.0/6) / 35},
		{"yoy 3", yoy, "2025-06-30", AggYoY, 3, (150.0 - 100) / 100},
		{"yoy without last year's window is missing", full, "2025-06-30", AggYoY, 3, nan},
		// Only June 2024 (40) in last year's window: monthly means 50 against 40.
		{"yoy compares monthly means of partial windows", yoy[2:], "2025-06-30", AggYoY, 3, (50.0 - 40) / 40},
		{"months since non-zero", arrears, "2025-06-30", AggMonthsSince, 6, 4},
		{"months since beyond window", arrears, "2025-06-30", AggMonthsSince, 3, nan},
		{"months since, edge: Feb is the window's first month", arrears, "2025-07-31", AggMonthsSince, 6, 5},
		{"months since, edge: Feb just left the window", arrears, "2025-08-31", AggMonthsSince, 6, nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := agg(KindMonthly, tt.recs, tt.asof, tt.agg, tt.window); !same(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAggregateEvent(t *testing.T) {
	nan := math.NaN()
	pen := []Record{
		event("2025-02-10", "2025-02-12", 100),
		event("2025-02-20", "2025-02-25", 300),
		event("2025-05-03", "2025-05-03", 50),
	}
	tests := []struct {
		name   string
		asof   string
		agg    Aggregation
		window int
		want   float64
	}{
		{"count 6", "2025-06-30", AggCount, 6, 3},
		{"sum 6", "2025-06-30", AggSum, 6, 450},
		{"max 6 is the largest single event", "2025-06-30", AggMax, 6, 300},
		{"mean 6 divides by the window", "2025-06-30", AggMean, 6, 75},
		{"months since", "2025-06-30", AggMonthsSince, 6, 1},
		{"count 3", "2025-06-30", AggCount, 3, 1},
		{"count 3 the day before the May event", "2025-05-02", AggCount, 3, 0},
		{"sum of no events is 0", "2025-05-02", AggSum, 3, 0},
		{"max of no events is 0", "2025-05-02", AggMax, 3, 0},
		{"months since without events is missing", "2025-05-02", AggMonthsSince, 3, nan},
		{"count 6 the day before the May event", "2025-05-02", AggCount, 6, 2},
		{"months since the February events", "2025-05-02", AggMonthsSince, 6, 3},
		{"count 3 on the day of the May event", "2025-05-03", AggCount, 3, 1},
		{"event on the as-of day arriving later is not counted", "2025-02-19", AggCount, 3, 1},
		{"event arriving on the as-of day counts", "2025-02-25", AggCount, 3, 2},
		// Jan..Jun = 0,400,0,0,50,0: Sxy = -525, Sxx = 17.5.
		{"slope 6 over zeros", "2025-06-30", AggSlope, 6, -30},
		// same months: mean 75, squared deviations 5625*4+105625+625 = 128750.
		{"cv 6 over zeros", "2025-06-30", AggCV, 6, math.Sqrt(128750.0/6) / 75},
		{"last is the latest month with events", "2025-06-30", AggLast, 6, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := agg(KindEvent, pen, tt.asof, tt.agg, tt.window); !same(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBitemporal(t *testing.T) {
	may := month("2025-05")
	apr := month("2025-04")
	recs := []Record{
		// April's figure was delivered late, after the June snapshot date.
		{Month: apr, Event: apr.LastDay(), Arrival: day("2025-07-20"), Value: 7},
		// May first delivered as 100, corrected to 80 on 2025-08-15.
		{Month: may, Event: may.LastDay(), Arrival: day("2025-08-15"), Revision: 1, Value: 80},
		{Month: may, Event: may.LastDay(), Arrival: day("2025-06-10"), Value: 100},
	}
	tests := []struct {
		asof string
		want float64 // sum over 6 months
	}{
		{"2025-05-31", nan()},   // May's first delivery arrives 06-10
		{"2025-06-09", nan()},   // still not arrived
		{"2025-06-10", 100},     // arrival day counts
		{"2025-06-30", 100},     // April arrived after: not counted though its event is earlier
		{"2025-07-19", 100},     // the day before April arrives
		{"2025-07-20", 100 + 7}, // April arrived
		{"2025-08-14", 100 + 7}, // correction not yet arrived
		{"2025-08-15", 80 + 7},  // correction supersedes from its arrival on
		{"2025-08-31", 80 + 7},  // both still in the 6-month window (Mar..Aug)
		{"2025-10-31", 80},      // April left the window (May..Oct)
	}
	for _, tt := range tests {
		t.Run(tt.asof, func(t *testing.T) {
			if got := agg(KindMonthly, recs, tt.asof, AggSum, 6); !same(got, tt.want) {
				t.Errorf("sum_6m as of %s = %v, want %v", tt.asof, got, tt.want)
			}
		})
	}
}

func nan() float64 { return math.NaN() }

func TestSortRecordsStable(t *testing.T) {
	m := month("2025-03")
	recs := []Record{
		{Month: m, Event: m.LastDay(), Arrival: m.LastDay() + 3, Value: 1},
		{Month: m, Event: m.LastDay(), Arrival: m.LastDay() + 3, Value: 2}, // same arrival, later in order: wins
		{Month: m - 1, Event: (m - 1).LastDay(), Arrival: m.LastDay() + 9, Value: 5},
	}
	if got := agg(KindMonthly, recs, "2025-04-30", AggLast, 3); got != 2 {
		t.Errorf("last = %v, want 2 (later record of the same arrival day)", got)
	}
}

func BenchmarkResolveAggregate(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([]Record, 0, 40)
	for m := month("2023-01"); m <= month("2025-12"); m++ {
		recs = append(recs, Record{Month: m, Event: m.LastDay(), Arrival: m.LastDay() + Day(r.IntN(40)), Value: r.Float64() * 1000})
	}
	SortRecords(KindMonthly, recs)
	cells := make([]MonthCell, Lookback)
	asof := day("2025-06-30")
	aggs := []Aggregation{AggSum, AggMean, AggMax, AggLast, AggSlope, AggYoY, AggCV, AggMonthsSince}
	b.ReportAllocs()
	for b.Loop() {
		Resolve(KindMonthly, recs, asof, cells)
		for _, a := range aggs {
			_ = Aggregate(KindMonthly, a, 12, cells)
		}
	}
}
