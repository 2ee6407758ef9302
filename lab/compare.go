package lab

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/xinyi-platform/xinyi/internal/access"
)

func (s *Server) compareRoutes() {
	// The screener authorizes each screening for the user (the owning
	// institution), as on the screening's own page.
	s.handle("GET /screenings/compare", route{action: access.ActionScreen}, s.compareScreenings)
}

type compareData struct {
	// Done are the user's finished screenings, newest first, to choose from.
	Done     []Screening
	From, To string
	// C is the comparison once both are chosen.
	C *ScreeningComparison
}

// doneScreenings lists the user's finished screenings, newest first.
func (s *Server) doneScreenings(q *req) ([]Screening, error) {
	all, err := s.o.Screenings.Screenings(q.ctx(), q.principal())
	if err != nil {
		return nil, err
	}
	var done []Screening
	for _, sc := range all {
		if sc.State == JobDone {
			done = append(done, sc)
		}
	}
	return done, nil
}

// compareLink is the console path comparing screening to with from.
func compareLink(prefix, from, to string) string {
	return prefix + "screenings/compare?" + url.Values{"from": {from}, "to": {to}}.Encode()
}

// compareScreenings shows how a later screening differs from an earlier one: the
// tier × tier table, who entered and left the top tier, and whose risk rose and
// fell most. Without a choice it offers the two newest finished screenings.
func (s *Server) compareScreenings(q *req) error {
	cmp, ok := s.o.Screenings.(ScreeningComparer)
	if s.o.Screenings == nil || !ok {
		return fmt.Errorf("%w: %s", ErrNotConnected, q.lang.T("cmp.title"))
	}
	done, err := s.doneScreenings(q)
	if err != nil {
		return err
	}
	d := compareData{Done: done, From: q.r.URL.Query().Get("from"), To: q.r.URL.Query().Get("to")}
	if d.From == "" && d.To == "" {
		if len(done) >= 2 {
			d.From, d.To = done[1].ID, done[0].ID
		}
		return s.render(q, http.StatusOK, "compare", "screenings", q.lang.T("cmp.title"), d)
	}
	switch {
	case d.From == "" || d.To == "":
		return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.T("cmp.needTwo"))
	case d.From == d.To:
		return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.T("cmp.same"))
	}
	c, err := cmp.CompareScreenings(q.ctx(), q.principal(), d.From, d.To)
	if err != nil {
		return err
	}
	d.C = &c
	return s.render(q, http.StatusOK, "compare", "screenings", q.lang.T("cmp.title"), d)
}

func init() {
	// ppt says a change of probability in percentage points: "+65.0 个百分点".
	funcs["ppt"] = func(l *Lang, v float64) string {
		r := math.Round(1000*v) / 10
		sign := ""
		switch {
		case r > 0:
			sign = "+"
		case r == 0:
			r = 0 // no "-0.0"
		}
		return sign + strconv.FormatFloat(r, 'f', 1, 64) + l.T("cmp.pp")
	}
	for k, v := range compareMessages {
		messages[k] = v
	}
}

var compareMessages = map[string][2]string{
	"cmp.title":     {"两次筛查比较", "Compare two screenings"},
	"cmp.link":      {"与上一次筛查比较", "Compare with the previous screening"},
	"cmp.from":      {"较早的筛查", "Earlier screening"},
	"cmp.to":        {"较新的筛查", "Later screening"},
	"cmp.go":        {"比较", "Compare"},
	"cmp.needTwo":   {"请选择两次已完成的筛查。", "Choose two finished screenings."},
	"cmp.same":      {"请选择两次不同的筛查。", "Choose two different screenings."},
	"cmp.fewDone":   {"至少需要两次已完成的筛查才能比较。", "Comparing needs two finished screenings."},
	"cmp.summary":   {"两次均参与筛查的企业 %s 家：风险层级上升 %s 家，下降 %s 家，不变 %s 家；新进入筛查 %s 家，不再出现 %s 家。", "%s companies in both: %s moved to a riskier tier, %s to a safer one, %s stayed; %s are new, %s are gone."},
	"cmp.table":     {"风险层级变化（行：较早，列：较新）", "Tier transitions (rows: earlier, columns: later)"},
	"cmp.new":       {"新进入", "New"},
	"cmp.gone":      {"不再出现", "Gone"},
	"cmp.entered":   {"新进入高风险层级", "Entered the high tier"},
	"cmp.left":      {"退出高风险层级", "Left the high tier"},
	"cmp.rose":      {"风险上升最多", "Risk rose most"},
	"cmp.fell":      {"风险下降最多", "Risk fell most"},
	"cmp.shown":     {"共 %s 家，列出前 %s 家。", "%s in all, the first %s shown."},
	"cmp.finished":  {"完成时间", "Finished"},
	"cmp.pp":        {" 个百分点", " pp"},
	"cmp.prob":      {"概率", "Probability"},
	"cmp.change":    {"变化", "Change"},
	"cmp.rank":      {"排名", "Rank"},
	"cmp.newInRun":  {"新", "new"},
	"cmp.screening": {"%s · %s · %s 家企业", "%s · %s · %s companies"},
}
