package financing

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// Stats dimensions.
const (
	ByDistrict = "district"
	ByIndustry = "industry"
	BySize     = "size"
)

// StatsQuery selects the requests created and loans accepted in [From, To) and
// the dimension to group by.
type StatsQuery struct {
	From, To time.Time
	By       string // district (default), industry, size
}

// Group is the aggregate of one district, industry or size class.
type Group struct {
	Key      string  `json:"key"`
	Requests int     `json:"requests"`
	Demand   float64 `json:"demand"` // requested amount, 元
	Answered int     `json:"answered"`
	Approved int     `json:"approved"` // requests with at least one offer
	// ApprovalRate is Approved / Answered; 0 when nothing was answered.
	ApprovalRate float64 `json:"approval_rate"`
	// MeanHoursToDecision is the mean time from a request to its first answer.
	MeanHoursToDecision float64 `json:"mean_hours_to_decision"`
	Loans               int     `json:"loans"`
	Granted             float64 `json:"granted"` // amount of accepted offers, 元
	FirstLoans          int     `json:"first_loans"`
	// UnsecuredShare is the share of Granted lent on credit alone.
	UnsecuredShare float64 `json:"unsecured_share"`
	Unsecured      float64 `json:"-"`
	hours          float64
}

// Stats is the regulator's aggregate view. It holds no company code.
type Stats struct {
	By         string  `json:"by"`
	From       string  `json:"from"`
	To         string  `json:"to"`
	Groups     []Group `json:"groups"`
	Total      Group   `json:"total"`
	Unanswered int     `json:"unanswered"` // open requests a named bank left past Options.AnswerDeadline
}

// Stats computes the regulator's view from the records.
func (s *Store) Stats(ctx context.Context, p access.Principal, q StatsQuery) (Stats, error) {
	if err := s.allow(ctx, p, access.ActionFinancingStats, access.Resource{Kind: "financing.stats", Operation: "financing.stats"}); err != nil {
		return Stats{}, err
	}
	if q.By == "" {
		q.By = ByDistrict
	}
	if q.By != ByDistrict && q.By != ByIndustry && q.By != BySize {
		return Stats{}, fmt.Errorf("%w: group by %q (district, industry or size)", ErrInvalid, q.By)
	}
	if q.To.IsZero() {
		q.To = s.now().Add(time.Nanosecond)
	}
	if !q.From.Before(q.To) {
		return Stats{}, fmt.Errorf("%w: from %s is not before to %s", ErrInvalid, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	groups := map[string]*Group{}
	get := func(district, industry, size string) *Group {
		k := district
		switch q.By {
		case ByIndustry:
			k = industry
		case BySize:
			k = size
		}
		g, ok := groups[k]
		if !ok {
			g = &Group{Key: k}
			groups[k] = g
		}
		return g
	}
	rows, err := s.db.Query(ctx, `SELECT r.district, r.industry, r.size, r.amount, r.created_at_ns,
		COALESCE(MIN(CASE WHEN t.answered_at_ns > 0 THEN t.answered_at_ns END), 0),
		(SELECT count(*) FROM financing_offers o WHERE o.request_id = r.id)
		FROM financing_requests r LEFT JOIN financing_targets t ON t.request_id = r.id
		WHERE r.created_at_ns >= ? AND r.created_at_ns < ? GROUP BY r.id, r.district, r.industry, r.size, r.amount, r.created_at_ns`,
		ns(q.From), ns(q.To))
	if err != nil {
		return Stats{}, fmt.Errorf("financing: stats: %w", err)
	}
	for rows.Next() {
		var d, i, sz string
		var amount float64
		var created, answered, offered int64
		if err := rows.Scan(&d, &i, &sz, &amount, &created, &answered, &offered); err != nil {
			rows.Close()
			return Stats{}, err
		}
		g := get(d, i, sz)
		g.Requests++
		g.Demand += amount
		if answered > 0 {
			g.Answered++
			g.hours += float64(answered-created) / float64(time.Hour)
		}
		if offered > 0 {
			g.Approved++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Stats{}, err
	}
	loans, err := s.loans(ctx, `accepted_at_ns >= ? AND accepted_at_ns < ?`, ns(q.From), ns(q.To))
	if err != nil {
		return Stats{}, err
	}
	for _, l := range loans {
		g := get(l.District, l.Industry, l.Size)
		g.Loans++
		g.Granted += l.Amount
		if l.FirstLoan {
			g.FirstLoans++
		}
		if l.Guarantee == Credit {
			g.Unsecured += l.Amount
		}
	}
	st := Stats{By: q.By, From: q.From.UTC().Format(time.RFC3339), To: q.To.UTC().Format(time.RFC3339), Total: Group{Key: "total"}}
	for _, g := range groups {
		t := &st.Total
		t.Requests, t.Demand, t.Answered, t.Approved, t.hours = t.Requests+g.Requests, t.Demand+g.Demand, t.Answered+g.Answered, t.Approved+g.Approved, t.hours+g.hours
		t.Loans, t.Granted, t.FirstLoans, t.Unsecured = t.Loans+g.Loans, t.Granted+g.Granted, t.FirstLoans+g.FirstLoans, t.Unsecured+g.Unsecured
		g.finish()
		st.Groups = append(st.Groups, *g)
	}
	st.Total.finish()
	slices.SortFunc(st.Groups, func(a, b Group) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	err = s.db.QueryRow(ctx, `SELECT count(DISTINCT r.id) FROM financing_requests r JOIN financing_targets t ON t.request_id = r.id
		WHERE r.status = 'open' AND t.status = 'open' AND r.created_at_ns <= ?`, ns(s.now().Add(-s.opts.AnswerDeadline))).Scan(&st.Unanswered)
	if err != nil {
		return Stats{}, fmt.Errorf("financing: unanswered: %w", err)
	}
	return st, nil
}

func (g *Group) finish() {
	if g.Answered > 0 {
		g.ApprovalRate = float64(g.Approved) / float64(g.Answered)
		g.MeanHoursToDecision = g.hours / float64(g.Answered)
	}
	if g.Granted > 0 {
		g.UnsecuredShare = g.Unsecured / g.Granted
	}
}

// WriteCSV writes the groups and the total as CSV with a header row.
func (st Stats) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{st.By, "requests", "demand", "answered", "approved", "approval_rate", "mean_hours_to_decision",
		"loans", "granted", "first_loans", "unsecured_share"})
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, g := range append(slices.Clone(st.Groups), st.Total) {
		cw.Write([]string{g.Key, strconv.Itoa(g.Requests), f(g.Demand), strconv.Itoa(g.Answered), strconv.Itoa(g.Approved), f(g.ApprovalRate),
			f(g.MeanHoursToDecision), strconv.Itoa(g.Loans), f(g.Granted), strconv.Itoa(g.FirstLoans), f(g.UnsecuredShare)})
	}
	cw.Flush()
	return cw.Error()
}
