package labtest

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/lab"
	labserving "github.com/xinyi-platform/xinyi/lab/serving"
	"github.com/xinyi-platform/xinyi/lab/svg"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/screencompare"
)

// Scored is one company of the screening population with its violation probability
// and reasons.
type Scored struct {
	Code, Name  string
	Probability float64
	Reasons     []string
}

// TierOf is the inspection tier of a probability: high ≥ 0.5, elevated ≥ 0.2,
// moderate ≥ 0.05, low below (the console names them, Lang.Word).
func TierOf(p float64) (name, color string) {
	switch {
	case p >= 0.5:
		return "high", svg.ColorRed
	case p >= 0.2:
		return "elevated", svg.ColorOrange
	case p >= 0.05:
		return "moderate", svg.ColorYellow
	}
	return "low", svg.ColorGreen
}

// Screenings runs screenings over a fixed population in a goroutine, StepDelay per
// tenth of the population, so that progress is visible.
type Screenings struct {
	Population []Scored
	Models     []string
	StepDelay  time.Duration

	mu   sync.Mutex
	jobs []*lab.Screening
	rows map[string][]Scored
}

// ScreeningModels lists the models a screening may use.
func (s *Screenings) ScreeningModels(context.Context) ([]string, error) {
	return slices.Clone(s.Models), nil
}

// StartScreening starts a job and returns its id.
func (s *Screenings) StartScreening(_ context.Context, model string, by lab.Principal) (string, error) {
	if !slices.Contains(s.Models, model) {
		return "", fmt.Errorf("%w: model %q cannot screen (choose one of %s)", lab.ErrInvalidInput, model, strings.Join(s.Models, ", "))
	}
	s.mu.Lock()
	if s.rows == nil {
		s.rows = map[string][]Scored{}
	}
	j := &lab.Screening{Job: lab.Job{ID: "s" + strconv.Itoa(len(s.jobs)+1), State: lab.JobRunning, Total: int64(len(s.Population)), Started: time.Now(), By: by.Name()}, Model: model}
	s.jobs = append(s.jobs, j)
	s.mu.Unlock()
	go s.run(j)
	return j.ID, nil
}

func (s *Screenings) run(j *lab.Screening) {
	n := len(s.Population)
	for step := 1; step <= 10; step++ {
		time.Sleep(s.StepDelay)
		s.mu.Lock()
		j.Done = int64(n * step / 10)
		s.mu.Unlock()
	}
	ranked := slices.Clone(s.Population)
	s.mu.Lock()
	later := len(s.jobs) > 1 && j != s.jobs[0]
	s.mu.Unlock()
	if later {
		// A later screening sees the region a little moved: every fifth
		// company's probability ×2.5, the next ×0.4, the next ×1.3, the next ×0.7.
		for i := range ranked {
			f := []float64{2.5, 0.4, 1, 1.3, 0.7}[i%5]
			ranked[i].Probability = min(0.99, ranked[i].Probability*f)
		}
	}
	slices.SortStableFunc(ranked, func(a, b Scored) int {
		switch {
		case a.Probability > b.Probability:
			return -1
		case a.Probability < b.Probability:
			return 1
		}
		return strings.Compare(a.Code, b.Code)
	})
	counts := map[string]int64{}
	for _, r := range ranked {
		t, _ := TierOf(r.Probability)
		counts[t]++
	}
	var tiers []lab.Tier
	for _, p := range []float64{0.6, 0.3, 0.1, 0} {
		name, col := TierOf(p)
		tiers = append(tiers, lab.Tier{Name: name, Color: col, Count: counts[name]})
	}
	var top []lab.Ranked
	for i, r := range ranked[:min(20, len(ranked))] {
		t, _ := TierOf(r.Probability)
		rk := lab.Ranked{Rank: i + 1, Code: r.Code, Name: r.Name, Probability: r.Probability, Tier: t, ReasonsZH: r.Reasons}
		for _, why := range r.Reasons {
			rk.ReasonsEN = append(rk.ReasonsEN, reasonsEN[why])
		}
		top = append(top, rk)
	}
	s.mu.Lock()
	j.State, j.Finished, j.Tiers, j.Top = lab.JobDone, time.Now(), tiers, top
	s.rows[j.ID] = ranked
	s.mu.Unlock()
}

// Screening returns a job.
func (s *Screenings) Screening(_ context.Context, _ lab.Principal, id string) (lab.Screening, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j.ID == id {
			return *j, nil
		}
	}
	return lab.Screening{}, fmt.Errorf("%w: screening %q", lab.ErrNotFound, id)
}

// Screenings lists the jobs, newest first.
func (s *Screenings) Screenings(context.Context, lab.Principal) ([]lab.Screening, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]lab.Screening, 0, len(s.jobs))
	for i := len(s.jobs) - 1; i >= 0; i-- {
		out = append(out, *s.jobs[i])
	}
	return out, nil
}

// ExportCSV writes the whole ranking of a finished job.
func (s *Screenings) ExportCSV(_ context.Context, _ lab.Principal, id string, w io.Writer) error {
	s.mu.Lock()
	rows, ok := s.rows[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: screening %q has no result (unknown or still running)", lab.ErrNotFound, id)
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"rank", "code", "name", "probability", "tier", "reasons"})
	for i, r := range rows {
		t, _ := TierOf(r.Probability)
		_ = cw.Write([]string{strconv.Itoa(i + 1), r.Code, r.Name, strconv.FormatFloat(r.Probability, 'f', 6, 64), t, strings.Join(r.Reasons, "; ")})
	}
	cw.Flush()
	return cw.Error()
}

// Companies serves fixed company profiles by code.
type Companies map[string]lab.Company

// Company returns the profile of code.
func (c Companies) Company(_ context.Context, _ lab.Principal, code string) (lab.Company, error) {
	p, ok := c[code]
	if !ok {
		return lab.Company{}, fmt.Errorf("%w: company %s", lab.ErrNotFound, code)
	}
	return p, nil
}

// FindCompanies lists the profiles whose name contains query or whose code
// starts with it, in code order: a fixture for the search page (the ranking
// itself is datasets.Directory.Search's, tested there).
func (c Companies) FindCompanies(_ context.Context, query string, limit int) ([]lab.CompanyHit, error) {
	var out []lab.CompanyHit
	for _, code := range slices.Sorted(maps.Keys(c)) {
		p := c[code]
		if strings.Contains(p.Name, query) || strings.HasPrefix(code, strings.ToUpper(query)) {
			out = append(out, lab.CompanyHit{Code: code, Name: p.Name, District: p.Region, Industry: "C", IndustryName: "制造业", IndustryNameEN: "Manufacturing"})
		}
	}
	return out[:min(limit, len(out))], nil
}

// Statistics serves fixed indicator statistics by id.
type Statistics map[string]lab.IndicatorStats

// IndicatorStats returns the statistics of id.
func (s Statistics) IndicatorStats(_ context.Context, id string) (lab.IndicatorStats, error) {
	st, ok := s[id]
	if !ok {
		return lab.IndicatorStats{}, fmt.Errorf("%w: no statistics for %s", lab.ErrNotFound, id)
	}
	return st, nil
}

// reasonsEN are the fixture's reasons in English.
var reasonsEN = map[string]string{"近12个月行政处罚次数多": "many administrative penalties in 12 months", "社保欠费": "social insurance arrears",
	"担保圈内有违约企业": "a defaulter in the guarantee circle"}

// districts and industries place the fixture's companies for the explorer.
var (
	districts  = []string{"百官街道", "曹娥街道", "东关街道", "道墟街道"}
	industries = []string{"C", "F", "G", "I"}
	// industryNames are their GB/T 4754 section names.
	industryNames   = map[string]string{"C": "制造业", "F": "批发和零售业", "G": "交通运输、仓储和邮政业", "I": "信息传输、软件和信息技术服务业"}
	industryNamesEN = map[string]string{"C": "Manufacturing", "F": "Wholesale and retail trades", "G": "Transport, storage and post", "I": "Information transmission, software and information technology services"}
)

// Explore pages through a finished job's ranking (lab.PageOf over the fixture,
// its companies spread over four districts and four industries; the policy's
// tiers high ≥ 0.3, medium ≥ 0.1, low).
func (s *Screenings) Explore(_ context.Context, _ lab.Principal, id string, q lab.ExploreQuery) (lab.ExplorePage, error) {
	s.mu.Lock()
	ranked, ok := s.rows[id]
	s.mu.Unlock()
	if !ok {
		return lab.ExplorePage{}, fmt.Errorf("%w: screening %q has no result (unknown or still running)", lab.ErrNotFound, id)
	}
	rows := make([]lab.ExploreRow, len(ranked))
	for i, r := range ranked {
		tier := "low"
		switch {
		case r.Probability >= 0.3:
			tier = "high"
		case r.Probability >= 0.1:
			tier = "medium"
		}
		n, _ := strconv.Atoi(r.Name[len(r.Name)-2:])
		rows[i] = lab.ExploreRow{Rank: i + 1, Code: r.Code, Name: r.Name, District: districts[n%len(districts)], Industry: industries[(n/2)%len(industries)],
			IndustryName: industryNames[industries[(n/2)%len(industries)]], IndustryNameEN: industryNamesEN[industries[(n/2)%len(industries)]],
			Probability: r.Probability, Tier: tier, ReasonsZH: r.Reasons}
		for _, why := range r.Reasons {
			rows[i].ReasonsEN = append(rows[i].ReasonsEN, reasonsEN[why])
		}
	}
	return lab.PageOf(rows, lab.FacetsOf(rows, func(c string) string { return c + " " + industryNames[c] }), q)
}

// CompareScreenings compares two finished jobs with screencompare.Between over
// the explorer's tiers and places.
func (s *Screenings) CompareScreenings(_ context.Context, _ lab.Principal, from, to string) (lab.ScreeningComparison, error) {
	var res [2]*serving.ScreenResult
	places := names{}
	for k, id := range []string{from, to} {
		page, err := s.Explore(context.Background(), lab.Principal{}, id, lab.ExploreQuery{PerPage: 500})
		if err != nil {
			return lab.ScreeningComparison{}, err
		}
		r := &serving.ScreenResult{ID: id, Task: serving.TaskViolation, Model: serving.ModelRef{Name: "violation", Version: "1"}}
		for _, row := range page.Rows {
			r.Rows = append(r.Rows, serving.ScreenRow{Rank: row.Rank, Company: row.Code, Probability: row.Probability, Tier: row.Tier})
			places[row.Code] = datasets.CompanyRow{Code: row.Code, Name: row.Name, DistrictName: row.District, Industry: row.Industry}
		}
		res[k] = r
	}
	c, err := screencompare.Between(res[0], res[1], places, labserving.CompareRows)
	if err != nil {
		return lab.ScreeningComparison{}, fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	}
	out := labserving.Comparison(c)
	if j, err := s.Screening(context.Background(), lab.Principal{}, from); err == nil {
		out.From.Finished = j.Finished
	}
	if j, err := s.Screening(context.Background(), lab.Principal{}, to); err == nil {
		out.To.Finished = j.Finished
	}
	for _, l := range []*lab.ComparedList{&out.EnteredTop, &out.LeftTop, &out.Rose, &out.Fell} {
		for i := range l.Companies {
			l.Companies[i].IndustryName, l.Companies[i].IndustryNameEN = industryNames[l.Companies[i].Industry], industryNamesEN[l.Companies[i].Industry]
		}
	}
	return out, nil
}

// names is the fixture's registry for a comparison.
type names map[string]datasets.CompanyRow

func (n names) Company(code string) (datasets.CompanyRow, bool) { r, ok := n[code]; return r, ok }

// CompanyName names a company of the screening population ("" for others).
func (s *Screenings) CompanyName(code string) string {
	for _, c := range s.Population {
		if c.Code == code {
			return c.Name
		}
	}
	return ""
}
