package features

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Month is a calendar month as a count of months since year 0 (year*12 + month-1).
type Month int32

// MonthOf returns the month of t (in t's location).
func MonthOf(t time.Time) Month { return Month(t.Year()*12 + int(t.Month()) - 1) }

// String formats the month as YYYY-MM.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", int(m)/12, int(m)%12+1) }

// FirstDay returns the first day of the month.
func (m Month) FirstDay() Day {
	return DayOf(time.Date(int(m)/12, time.Month(int(m)%12+1), 1, 0, 0, 0, 0, time.UTC))
}

// LastDay returns the last day of the month (the event time of a monthly record).
func (m Month) LastDay() Day { return (m + 1).FirstDay() - 1 }

// Day is a calendar date as days since 1970-01-01 (UTC).
type Day int32

// DayOf returns the calendar date of t, taken in t's location.
func DayOf(t time.Time) Day {
	y, mo, d := t.Date()
	return Day(time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time returns midnight UTC of the day.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// Month returns the month the day falls in (integer arithmetic: Hinnant's
// civil-from-days; it runs for every raw record).
func (d Day) Month() Month {
	z := int64(d) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
		y++
	}
	return Month(y*12 + m - 1)
}

// String formats the day as YYYY-MM-DD.
func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// Lookback is how many months of history the kernels see: the longest window plus the
// 12 months year-on-year growth compares against.
const Lookback = MaxWindow + 12

// Record is one raw record of a monthly or event source, for one company and one column.
// Event is the event date (for a monthly record, the last day of its month); Arrival is
// when the department delivered it. Records with the same key — the month for a monthly
// source, Key (the ordinal of the event id) for an event source — are deliveries of the
// same fact: the one with the highest Revision among those eligible is in force.
// Void marks a retraction or an end of publicity (datasets.RowKind): when the record in
// force is void the fact does not count, from that record's arrival on; before it, the
// earlier revision counts as it did.
type Record struct {
	Month    Month
	Event    Day
	Arrival  Day
	Key      int32
	Revision int32
	Value    float64
	Void     bool
}

// Eligible reports whether a record counts for a snapshot as of asof: both its event
// time and its arrival time are at or before asof.
func (r Record) Eligible(asof Day) bool { return r.Event <= asof && r.Arrival <= asof }

func (r *Record) group(kind SourceKind) int32 {
	if kind == KindMonthly {
		return int32(r.Month)
	}
	return r.Key
}

// SortRecords sorts records by key, then revision, then arrival, keeping the input order
// of ties, as Resolve expects.
func SortRecords(kind SourceKind, rs []Record) {
	slices.SortStableFunc(rs, func(a, b Record) int {
		if c := cmp.Compare(a.group(kind), b.group(kind)); c != 0 {
			return c
		}
		if a.Revision != b.Revision {
			return cmp.Compare(a.Revision, b.Revision)
		}
		return cmp.Compare(a.Arrival, b.Arrival)
	})
}

// MonthCell is what a company's series holds for one month after bitemporal resolution.
// N is the number of records that month (0: none). For a monthly source Sum and Max are
// the one value in force; for an event source they are the sum and maximum of the events.
type MonthCell struct {
	Sum, Max float64
	N        int32
}

// Resolve fills cells (len(cells) months ending at the month of asof, oldest first) from
// records sorted by SortRecords. Only eligible records count (event and arrival at or
// before asof); of the eligible records with one key the last (highest revision, then
// latest arrival, then latest in order) is in force, so a correction changes only the
// snapshots at or after its arrival; a fact whose record in force is Void counts nowhere. A monthly source puts the value in force in its
// month; an event source adds every event in force to the month of its event date.
func Resolve(kind SourceKind, records []Record, asof Day, cells []MonthCell) {
	end := asof.Month()
	start := end - Month(len(cells)) + 1
	var buf [64]int32
	idx := inForce(kind, records, asof, start, end, buf[:0])
	clear(cells)
	for _, i := range idx {
		addCell(kind, cells, records[i].Month-start, records[i].Value)
	}
}

// inForce appends to dst the indexes of the records in force as of asof whose month
// lies in [start, end] and that are not Void; records are sorted by SortRecords.
func inForce(kind SourceKind, records []Record, asof Day, start, end Month, dst []int32) []int32 {
	cand := int32(-1)
	for i := range records {
		if i > 0 && records[i].group(kind) != records[i-1].group(kind) {
			if cand >= 0 && !records[cand].Void && records[cand].Month >= start && records[cand].Month <= end {
				dst = append(dst, cand)
			}
			cand = -1
		}
		if records[i].Eligible(asof) {
			cand = int32(i)
		}
	}
	if cand >= 0 && !records[cand].Void && records[cand].Month >= start && records[cand].Month <= end {
		dst = append(dst, cand)
	}
	return dst
}

func addCell(kind SourceKind, cells []MonthCell, at Month, v float64) {
	c := &cells[at]
	if kind == KindMonthly {
		*c = MonthCell{Sum: v, Max: v, N: 1}
		return
	}
	if c.N == 0 || v > c.Max {
		c.Max = v
	}
	c.Sum += v
	c.N++
}

// Aggregate reduces the resolved cells (oldest first, the last cell is the as-of month)
// with agg over the last window months. NaN means missing.
//
// Monthly sources skip months without a record: sum, mean, max, last, slope and cv use
// only the months present and are missing when none is. Event sources treat a month
// without events as zero: sum, count and max are 0 with no events, mean divides by the
// window, slope and cv run over every month of the window. Year-on-year growth is
// (S − S₁₂)/|S₁₂| of the window now and the same window 12 months earlier, where S is the
// sum for an event source and the mean of the months present for a monthly source (so
// gaps and short histories do not read as growth); missing if either window has no
// record (monthly) or S₁₂ is 0. Months since is the distance from the as-of month
// back to the latest month with an event (event) or a non-zero value (monthly) within the
// window, missing when there is none.
func Aggregate(kind SourceKind, agg Aggregation, window int, cells []MonthCell) float64 {
	n := len(cells)
	if window <= 0 || window > n {
		return math.NaN()
	}
	w := cells[n-window:]
	event := kind == KindEvent
	switch agg {
	case AggSum:
		s, k := sumCells(w)
		if k == 0 && !event {
			return math.NaN()
		}
		return s
	case AggMean:
		s, k := sumCells(w)
		if event {
			return s / float64(window)
		}
		if k == 0 {
			return math.NaN()
		}
		return s / float64(k)
	case AggCount:
		var c int32
		for _, x := range w {
			c += x.N
		}
		return float64(c)
	case AggMax:
		m, seen := math.Inf(-1), false
		for _, x := range w {
			if x.N > 0 {
				m, seen = max(m, x.Max), true
			}
		}
		if !seen {
			if event {
				return 0
			}
			return math.NaN()
		}
		return m
	case AggLast:
		for i := len(w) - 1; i >= 0; i-- {
			if w[i].N > 0 {
				return w[i].Sum
			}
		}
		return math.NaN()
	case AggSlope:
		return slope(w, event)
	case AggCV:
		return cv(w, event)
	case AggYoY:
		if n < window+12 {
			return math.NaN()
		}
		prev := cells[n-12-window : n-12]
		s1, k1 := sumCells(w)
		s0, k0 := sumCells(prev)
		if !event {
			// Compare monthly means so that a window with gaps (or history that starts
			// inside the earlier window) does not read as growth.
			if k1 == 0 || k0 == 0 {
				return math.NaN()
			}
			s1, s0 = s1/float64(k1), s0/float64(k0)
		}
		if s0 == 0 {
			return math.NaN()
		}
		return (s1 - s0) / math.Abs(s0)
	case AggMonthsSince:
		for i := len(w) - 1; i >= 0; i-- {
			if event && w[i].N > 0 || !event && w[i].N > 0 && w[i].Sum != 0 {
				return float64(len(w) - 1 - i)
			}
		}
		return math.NaN()
	}
	return math.NaN()
}

func sumCells(w []MonthCell) (float64, int) {
	s, k := 0.0, 0
	for _, x := range w {
		if x.N > 0 {
			s += x.Sum
			k++
		}
	}
	return s, k
}

// slope is the least-squares slope of value against month index.
func slope(w []MonthCell, event bool) float64 {
	var n, sx, sy, sxx, sxy float64
	for i, x := range w {
		if x.N == 0 && !event {
			continue
		}
		fi := float64(i)
		n++
		sx += fi
		sy += x.Sum
		sxx += fi * fi
		sxy += fi * x.Sum
	}
	den := n*sxx - sx*sx
	if n < 2 || den == 0 {
		return math.NaN()
	}
	return (n*sxy - sx*sy) / den
}

// cv is the population standard deviation over the absolute mean.
func cv(w []MonthCell, event bool) float64 {
	var n, s float64
	for _, x := range w {
		if x.N == 0 && !event {
			continue
		}
		n++
		s += x.Sum
	}
	if n < 2 || s == 0 {
		return math.NaN()
	}
	mean := s / n
	var ss float64
	for _, x := range w {
		if x.N == 0 && !event {
			continue
		}
		d := x.Sum - mean
		ss += d * d
	}
	return math.Sqrt(ss/n) / math.Abs(mean)
}
