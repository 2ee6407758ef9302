package labtest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/lab"
)

// PortfolioFixture is a bank's post-loan view of three companies with two open
// warnings; Ack marks a warning acknowledged (serving/portfolio's tests cover
// how the real view is built).
type PortfolioFixture struct {
	Codes []string
	mu    sync.Mutex
	acked map[int64]string
}

func (f *PortfolioFixture) rows() []lab.PortfolioRow {
	until := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	return []lab.PortfolioRow{
		{Code: f.Codes[1], Name: "上虞晶盛机电有限公司 01", District: "百官街道", Industry: "制造业", Purpose: "loan:7", Until: until, Scored: true,
			AsOf: "2025-12-31", PrevAsOf: "2025-09-30", PD: 0.184, PrevPD: 0.061, Rating: "D", PrevRating: "B", Colour: "red", PrevColour: "green",
			Limit: 0, PrevLimit: 1_200_000, Change: "worse", OpenWarnings: 2, WorstWarning: "red"},
		{Code: f.Codes[2], Name: "上虞闰土化工有限公司 02", District: "曹娥街道", Industry: "制造业", Purpose: "financing_request:3", Until: until, Scored: true,
			AsOf: "2025-12-31", PrevAsOf: "2025-09-30", PD: 0.032, PrevPD: 0.047, Rating: "B", PrevRating: "B", Colour: "green", PrevColour: "yellow",
			Limit: 3_500_000, PrevLimit: 2_800_000, Change: "better"},
		{Code: f.Codes[3], Name: "上虞龙盛纺织有限公司 03", District: "东关街道", Industry: "批发和零售业", Purpose: "", Until: until, Change: "new"},
	}
}

// Portfolio implements lab.Portfolio.
func (f *PortfolioFixture) Portfolio(_ context.Context, _ lab.Principal, flt lab.PortfolioFilter) ([]lab.PortfolioRow, error) {
	var out []lab.PortfolioRow
	for _, r := range f.rows() {
		if (flt.Colour == "" || flt.Colour == r.Colour) && (flt.Change == "" || flt.Change == r.Change) && (!flt.Warned || r.OpenWarnings > 0) {
			out = append(out, r)
		}
	}
	return out, nil
}

// PortfolioCSV implements lab.Portfolio.
func (f *PortfolioFixture) PortfolioCSV(ctx context.Context, p lab.Principal, flt lab.PortfolioFilter, w io.Writer) error {
	rows, _ := f.Portfolio(ctx, p, flt)
	var b strings.Builder
	b.WriteString("\ufeffcode,name\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%s\n", r.Code, r.Name)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Inbox implements lab.Portfolio.
func (f *PortfolioFixture) Inbox(context.Context, lab.Principal) ([]lab.InboxWarning, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ws := []lab.InboxWarning{
		{ID: 11, Code: f.Codes[1], Name: "上虞晶盛机电有限公司 01", Rule: "court.dishonest.listed", RuleZH: "被列为失信被执行人", RuleEN: "Listed as a dishonest debtor",
			Severity: "red", Area: "court", OpenedAsOf: "2025-12-31", LastSeenAsOf: "2025-12-31"},
		{ID: 12, Code: f.Codes[1], Name: "上虞晶盛机电有限公司 01", Rule: "tax.arrears.present", RuleZH: "存在欠税", RuleEN: "Tax arrears",
			Severity: "blue", Area: "tax", OpenedAsOf: "2025-09-30", LastSeenAsOf: "2025-12-31"},
	}
	for i := range ws {
		ws[i].AckedBy = f.acked[ws[i].ID]
	}
	return ws, nil
}

// Ack implements lab.Portfolio.
func (f *PortfolioFixture) Ack(_ context.Context, p lab.Principal, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != 11 && id != 12 {
		return fmt.Errorf("%w: warning %d", lab.ErrNotFound, id)
	}
	if f.acked == nil {
		f.acked = map[int64]string{}
	}
	f.acked[id] = p.Actor()
	return nil
}
