package lab

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/lab/svg"
)

func (s *Server) routes() {
	any := route{action: access.ActionBrowseLibrary}
	sci := route{action: access.ActionBuildSample}
	models := route{action: access.ActionListModels}
	reg := route{action: access.ActionScreen}
	companies := route{action: access.ActionFindCompanies} // each profile asks for consent

	s.mux.Handle("GET "+s.o.Prefix+"static/", http.StripPrefix(s.o.Prefix, http.FileServerFS(staticFS)))
	s.portfolioRoutes()
	s.regionWarningRoutes()
	s.subscriptionRoutes()
	s.reportRoutes()
	s.caseRoutes()
	s.recordsRoutes()
	s.jointRoutes()
	s.financingRoutes()
	s.compareRoutes()
	s.featureSetRoutes()
	s.handle("GET /login", route{public: true}, s.loginPage)
	s.handle("POST /login", route{public: true}, s.login)
	s.handle("POST /logout", route{public: true}, s.logout)
	s.handle("POST /lang", route{public: true}, s.setLang)
	s.handle("GET /{$}", any, s.home)

	s.handle("GET /indicators", any, s.indicators)
	s.handle("GET /indicators/{id}", any, s.indicator)

	s.handle("GET /samples", sci, s.samples)
	s.handle("POST /samples", sci, s.buildSample)
	s.handle("GET /samples/{name}", sci, s.sample)
	s.handle("GET /samples/{name}/{version}", sci, s.sample)

	s.handle("GET /algorithms", sci, s.algorithms)
	s.handle("POST /training", sci, s.startTraining)
	s.handle("GET /training/{id}", sci, s.trainingJob)
	s.handle("POST /training/{id}/register", sci, s.registerTraining)

	s.handle("GET /models", models, s.models)
	s.handle("GET /models/{name}", models, s.model)
	s.handle("GET /models/{name}/{version}", models, s.version)
	s.handle("GET /upload", sci, s.uploadPage)
	s.handle("POST /upload", sci, s.upload)
	s.handle("POST /models/{name}/{version}/promote", sci, s.promote)
	s.handle("GET /approvals", models, s.approvals)
	s.handle("POST /approvals/{id}", route{action: access.ActionDecidePromotion}, s.decide)

	s.handle("GET /screenings", reg, s.screenings)
	s.handle("POST /screenings", reg, s.startScreening)
	s.handle("GET /screenings/{id}", reg, s.screening)
	s.handle("GET /screenings/{id}/export", reg, s.exportScreening)
	s.handle("GET /screenings/{id}/explore", reg, s.exploreScreening)
	s.handle("GET /risk", reg, s.risk)

	s.handle("GET /companies", companies, s.companySearch)
	s.handle("GET /companies/{code}", companies, s.company)

	s.portalRoutes()

	s.handle("GET /jobs", route{action: access.ActionListJobs}, s.jobs)
	s.handle("GET /sources", route{action: access.ActionSourceStatus}, s.sources)

	s.handle("/", route{public: true}, func(q *req) error {
		return fmt.Errorf("%w: no page at %s", ErrNotFound, q.r.URL.Path)
	})
}

// ---- sign-in, language ----

type loginData struct {
	Next  string
	Error string
}

func (s *Server) loginPage(q *req) error {
	return s.render(q, http.StatusOK, "login", "", q.lang.T("login.title"), loginData{Next: s.safeNext(q.r.URL.Query().Get("next"))})
}

// safeNext keeps a post-login redirect inside the console.
func (s *Server) safeNext(next string) string {
	if !strings.HasPrefix(next, s.o.Prefix) || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return s.o.Prefix
	}
	return next
}

func (s *Server) login(q *req) error {
	key := strings.TrimSpace(q.r.PostForm.Get("key"))
	next := s.safeNext(q.r.PostForm.Get("next"))
	if key == "" {
		return s.render(q, http.StatusBadRequest, "login", "", q.lang.T("login.title"), loginData{Next: next, Error: q.lang.T("login.empty")})
	}
	p, err := s.o.Auth.Authenticate(q.ctx(), key)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			return s.render(q, http.StatusUnauthorized, "login", "", q.lang.T("login.title"), loginData{Next: next, Error: q.lang.T("login.bad")})
		}
		return err
	}
	if q.sess != nil {
		s.sessions.delete(q.sess.id)
	}
	ss, err := s.sessions.create(p)
	if err != nil {
		return err
	}
	http.SetCookie(q.w, s.cookie(sessionCookie, ss.id, int(s.o.SessionTTL.Seconds())))
	http.Redirect(q.w, q.r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) logout(q *req) error {
	if q.sess != nil {
		s.sessions.delete(q.sess.id)
	}
	http.SetCookie(q.w, s.cookie(sessionCookie, "", -1))
	return s.redirect(q, "login", "")
}

func (s *Server) setLang(q *req) error {
	l := q.r.PostForm.Get("lang")
	if _, ok := langs[l]; !ok {
		return fmt.Errorf("%w: language %q is not zh or en", ErrInvalidInput, l)
	}
	c := s.cookie(langCookie, l, 365*24*3600)
	c.SameSite = http.SameSiteLaxMode
	http.SetCookie(q.w, c)
	http.Redirect(q.w, q.r, withoutFlash(s.safeNext(q.r.PostForm.Get("next"))), http.StatusSeeOther)
	return nil
}

// withoutFlash drops the one-time message from a page's address: it was said
// in the language being left.
func withoutFlash(path string) string {
	u, err := url.Parse(path)
	if err != nil || !u.Query().Has("flash") {
		return path
	}
	v := u.Query()
	v.Del("flash")
	u.RawQuery = v.Encode()
	return u.String()
}

type homeData struct {
	Cards  []homeCard
	Region *regionOverview // a regulator's overview; nil for others
}

type homeCard struct {
	Path, Title, Text string
}

func (s *Server) home(q *req) error {
	p := q.principal()
	var cards []homeCard
	add := func(path, key string, ok bool) {
		if ok {
			cards = append(cards, homeCard{path, q.lang.T("nav." + key), q.lang.T("home." + key)})
		}
	}
	add("indicators", "indicators", true)
	add("samples", "samples", p.May(string(access.ActionBuildSample)))
	add("algorithms", "algorithms", p.May(string(access.ActionBuildSample)))
	add("joint", "joint", s.o.Joint != nil && p.May(string(access.ActionBuildSample)) && p.InstitutionKind == access.KindBank)
	add("models", "models", p.May(string(access.ActionListModels)))
	add("approvals", "approvals", p.May(string(access.ActionDecidePromotion)))
	add("screenings", "screenings", p.May(string(access.ActionScreen)))
	add("companies", "companies", p.May(string(access.ActionFindCompanies)))
	add("risk", "risk", s.o.Risk != nil && p.May(string(access.ActionScreen)))
	add("warnings", "warnings", s.o.RegionWarnings != nil && p.May(string(access.ActionScreen)))
	add("portal", "portal", s.o.Portal != nil && p.May(string(access.ActionActForCompany)))
	add("consent-requests", "asks", s.o.ConsentAsks != nil && p.May(string(access.ActionRequestConsent)))
	add("jobs", "jobs", s.o.Jobs != nil && p.May(string(access.ActionListJobs)))
	add("sources", "sources", s.o.Sources != nil && p.May(string(access.ActionSourceStatus)))
	add("portfolio", "portfolio", s.o.Portfolio != nil && p.May(string(access.ActionPortfolio)))
	add("inbox", "inbox", s.o.Portfolio != nil && p.May(string(access.ActionPortfolio)))
	add("subscriptions", "subscriptions", s.o.Subscriptions != nil && p.May(string(access.ActionManageWebhooks)))
	d := homeData{Cards: cards}
	if p.May(string(access.ActionScreen)) {
		d.Region = s.regionOverview(q)
	}
	return s.render(q, http.StatusOK, "home", "home", q.lang.T("nav.home"), d)
}

// regionOverview is a regulator's home: the region's risk index now and its
// trend, the districts that rose most, and the latest screenings. A part whose
// backend is missing or fails is left out (the pages behind it say why).
func (s *Server) regionOverview(q *req) *regionOverview {
	o := &regionOverview{Index: math.NaN(), Change: math.NaN()}
	if s.o.Risk != nil {
		if v, err := s.o.Risk.RiskIndex(q.ctx(), q.principal()); err == nil && len(v.Dates) > 0 && len(v.Region) == len(v.Dates) {
			n := len(v.Dates)
			o.AsOf = v.Dates[n-1]
			if c := v.Region[n-1]; !c.Suppressed {
				o.Index = c.Index
			}
			if n > 1 && !v.Region[n-2].Suppressed && !math.IsNaN(o.Index) {
				o.Change = o.Index - v.Region[n-2].Index
			}
			if trend, err := regionTrend(q, v, 560, 240); err == nil {
				o.Trend = trend
			}
			rows := slices.Clone(v.Districts)
			rows = slices.DeleteFunc(rows, func(r RiskRow) bool { return math.IsNaN(r.Change) })
			slices.SortStableFunc(rows, func(a, b RiskRow) int { return cmp.Compare(b.Change, a.Change) })
			o.Rising = rows[:min(3, len(rows))]
		}
	}
	if s.o.Screenings != nil {
		if js, err := s.o.Screenings.Screenings(q.ctx(), q.principal()); err == nil {
			o.Screenings = js[:min(5, len(js))]
		}
	}
	if s.o.RegionWarnings != nil {
		all, err := s.o.RegionWarnings.RegionWarnings(q.ctx(), q.principal(), RegionWarningFilter{Limit: -1})
		if err == nil {
			o.Warnings = all
			if red, err := s.o.RegionWarnings.RegionWarnings(q.ctx(), q.principal(), RegionWarningFilter{Severity: "red", Limit: 5}); err == nil {
				o.NewestRed = red.Rows
			}
		}
	}
	if o.AsOf == "" && len(o.Screenings) == 0 && o.Warnings == nil {
		return nil
	}
	return o
}

type regionOverview struct {
	AsOf          string
	Index, Change float64
	Trend         template.HTML
	Rising        []RiskRow
	Screenings    []Screening
	// Warnings counts the region's open warnings (nil: not connected);
	// NewestRed are the newest red ones.
	Warnings  *RegionWarningView
	NewestRed []RegionWarning
}

// ---- indicator library ----

type indicatorsData struct {
	Q, Dim, Source, Sens string
	Dims                 []string
	Sources              []option
	Sens_                []string
	Rows                 []Indicator
	Total                int
	Hidden               int
}

type option struct{ Value, Label string }

func (s *Server) indicators(q *req) error {
	if s.o.Indicators == nil {
		return fmt.Errorf("%w: indicator library", ErrNotConnected)
	}
	all, err := s.o.Indicators.Indicators(q.ctx())
	if err != nil {
		return err
	}
	f := q.r.URL.Query()
	d := indicatorsData{Q: strings.TrimSpace(f.Get("q")), Dim: f.Get("dim"), Source: f.Get("source"), Sens: f.Get("sens"),
		Dims:  []string{"capital", "operating", "profitability", "solvency", "growth", "compliance", "network"},
		Sens_: []string{"public", "restricted", "confidential"}}
	clear := q.principal().Clearance
	seen := map[string]bool{}
	needle := strings.ToLower(d.Q)
	for _, ind := range all {
		if !clear.Allows(ind.Sensitivity) {
			d.Hidden++
			continue
		}
		if !seen[ind.Source] {
			seen[ind.Source] = true
			d.Sources = append(d.Sources, option{ind.Source, q.lang.Pick(ind.SourceZH, ind.Source)})
		}
		d.Total++
		if d.Dim != "" && ind.Dimension != d.Dim || d.Source != "" && ind.Source != d.Source || d.Sens != "" && ind.Sensitivity != d.Sens {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(ind.ID+" "+ind.NameEN+" "+ind.NameZH+" "+ind.Description), needle) {
			continue
		}
		d.Rows = append(d.Rows, ind)
	}
	slices.SortFunc(d.Sources, func(a, b option) int { return strings.Compare(a.Value, b.Value) })
	return s.render(q, http.StatusOK, "indicators", "indicators", q.lang.T("nav.indicators"), d)
}

type indicatorData struct {
	Ind       Indicator
	Stats     *IndicatorStats
	StatsErr  string
	Histogram template.HTML
	PSI       template.HTML
	Industry  template.HTML
}

func (s *Server) indicator(q *req) error {
	if s.o.Indicators == nil {
		return fmt.Errorf("%w: indicator library", ErrNotConnected)
	}
	ind, err := s.o.Indicators.Indicator(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	if !q.principal().Clearance.Allows(ind.Sensitivity) {
		// Confidential indicators are hidden: the page answers as if it did not exist.
		return fmt.Errorf("%w: indicator %q", ErrNotFound, ind.ID)
	}
	d := indicatorData{Ind: ind}
	if s.o.Statistics == nil {
		d.StatsErr = q.lang.T("ind.nostats")
	} else if st, err := s.o.Statistics.IndicatorStats(q.ctx(), ind.ID); err != nil {
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		d.StatsErr = q.lang.T("ind.nostats")
	} else {
		d.Stats = &st
		name := q.lang.Pick(ind.NameZH, ind.NameEN)
		if len(st.Histogram) > 0 {
			if d.Histogram, err = chart(svg.Histogram(st.Histogram, svg.Options{Chinese: q.lang.Code == "zh", Title: q.lang.T("ind.histogram") + " · " + name, XLabel: q.lang.Unit(ind.Unit), YLabel: q.lang.T("ind.companies")})); err != nil {
				return err
			}
		}
		if len(st.PSI) > 0 {
			pts := make([]svg.Point, len(st.PSI))
			ticks := make([]svg.Tick, len(st.PSI))
			for i, p := range st.PSI {
				pts[i] = svg.Point{X: float64(i), Y: p.PSI}
				ticks[i] = svg.Tick{Value: float64(i), Label: p.AsOf}
			}
			if d.PSI, err = chart(svg.LinesWithThresholds([]svg.Series{{Points: pts}}, ticks,
				[]svg.Threshold{{Value: 0.1, Label: q.lang.T("psi.watch"), Color: svg.ColorOrange}, {Value: 0.25, Label: q.lang.T("psi.shift"), Color: svg.ColorRed}},
				svg.Options{Title: q.lang.T("psi.title"), Height: 220})); err != nil {
				return err
			}
		}
		if len(st.Industry) > 0 {
			bars := make([]svg.Bar, 0, len(st.Industry))
			for _, m := range st.Industry {
				if finite(m.Mean) && m.Mean >= 0 {
					// The section's name after its letter; a label wider than its
					// bar is cut, its tooltip whole.
					bars = append(bars, svg.Bar{Label: strings.TrimSpace(m.Industry + " " + q.lang.Pick(m.Name, m.NameEN)), Value: m.Mean})
				}
			}
			if len(bars) > 0 {
				if d.Industry, err = chart(svg.Bars(bars, svg.Options{Chinese: q.lang.Code == "zh", Title: q.lang.T("ind.industry"), YLabel: q.lang.Unit(ind.Unit), Height: 240})); err != nil {
					return err
				}
			}
		}
	}
	return s.render(q, http.StatusOK, "indicator", "indicators", q.lang.Pick(ind.NameZH, ind.NameEN), d)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// chart turns a drawn SVG into trusted HTML; svg escapes every piece of text.
func chart(s string, err error) (template.HTML, error) {
	if err != nil {
		return "", fmt.Errorf("lab: draw chart: %w", err)
	}
	return template.HTML(s), nil // #nosec: produced by lab/svg, which escapes all text
}

// ---- sample library ----

type samplesData struct {
	Rows        []Sample
	Builder     bool
	FeatureSets []string
	Labels      []string
	Jobs        []SampleJob
}

func (d samplesData) refresh() int {
	for _, j := range d.Jobs {
		if j.State == JobRunning {
			return 2
		}
	}
	return 0
}

func (s *Server) samples(q *req) error {
	if s.o.Samples == nil {
		return fmt.Errorf("%w: sample library", ErrNotConnected)
	}
	rows, err := s.o.Samples.Samples(q.ctx())
	if err != nil {
		return err
	}
	d := samplesData{Rows: rows}
	if b := s.o.Builder; b != nil {
		d.Builder, d.FeatureSets, d.Labels = true, b.FeatureSets(), b.Labels()
		if d.Jobs, err = b.SampleJobs(q.ctx()); err != nil {
			return err
		}
	}
	return s.render(q, http.StatusOK, "samples", "samples", q.lang.T("nav.samples"), d)
}

type sampleData struct {
	S      Sample
	Models []sampleModel // versions trained on the sample
}

type sampleModel struct {
	Model, Version, AUC string
	Created             time.Time
	By                  string
}

// sample is one sample's page: its facts and the model versions whose lineage
// names it.
func (s *Server) sample(q *req) error {
	if s.o.Samples == nil {
		return fmt.Errorf("%w: sample library", ErrNotConnected)
	}
	name, version := q.r.PathValue("name"), 0
	if v := q.r.PathValue("version"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: sample version %q", ErrNotFound, v)
		}
		version = n
	}
	rows, err := s.o.Samples.Samples(q.ctx())
	if err != nil {
		return err
	}
	i := slices.IndexFunc(rows, func(r Sample) bool { return r.Name == name && r.Version == version })
	if i < 0 {
		return fmt.Errorf("%w: no sample %s", ErrNotFound, name)
	}
	d := sampleData{S: rows[i]}
	p := q.principal()
	if s.o.Models != nil && p.May(string(access.ActionListModels)) {
		ms, err := s.o.Models.Models(q.ctx(), p)
		if err != nil {
			return err
		}
		for _, m := range ms {
			md, err := s.o.Models.Model(q.ctx(), p, m.Name)
			if err != nil {
				continue // a model removed or hidden meanwhile
			}
			for _, v := range md.Versions {
				if v.Sample == name || v.Sample == name+"/v"+strconv.Itoa(version) {
					d.Models = append(d.Models, sampleModel{Model: v.Model, Version: v.Version, AUC: strconv.FormatFloat(v.AUC, 'f', 3, 64), Created: v.Created, By: v.CreatedBy})
				}
			}
		}
	}
	title := name
	if version > 0 {
		title += "/v" + strconv.Itoa(version)
	}
	return s.render(q, http.StatusOK, "sample", "samples", title, d)
}

func (s *Server) buildSample(q *req) error {
	if s.o.Builder == nil {
		return fmt.Errorf("%w: sample builder", ErrNotConnected)
	}
	f := q.r.PostForm
	name := strings.TrimSpace(f.Get("name"))
	if err := validName(name); err != nil {
		return fmt.Errorf("%w (sample name)", err)
	}
	from, err1 := time.Parse(time.DateOnly, f.Get("from"))
	to, err2 := time.Parse(time.DateOnly, f.Get("to"))
	if err1 != nil || err2 != nil || to.Before(from) {
		return fmt.Errorf("%w: the date range %q to %q must be two dates YYYY-MM-DD, the second not before the first", ErrInvalidInput, f.Get("from"), f.Get("to"))
	}
	if f.Get("set") == "" {
		return fmt.Errorf("%w: choose a feature set", ErrInvalidInput)
	}
	if _, err := s.o.Builder.BuildSample(q.ctx(), SampleRequest{Name: name, FeatureSet: f.Get("set"), Label: f.Get("label"), From: from, To: to, By: q.principal()}); err != nil {
		return err
	}
	return s.redirect(q, "samples", q.lang.T("flash.building"))
}

// ---- algorithm library and training ----

type algorithmsData struct {
	Presets []Preset
	Samples []Sample
	Jobs    []TrainingJob
}

func (s *Server) algorithms(q *req) error {
	if s.o.Trainer == nil {
		return fmt.Errorf("%w: trainer", ErrNotConnected)
	}
	d := algorithmsData{Presets: s.o.Trainer.Presets()}
	if s.o.Samples != nil {
		var err error
		if d.Samples, err = s.o.Samples.Samples(q.ctx()); err != nil {
			return err
		}
	}
	jobs, err := s.o.Trainer.TrainingJobs(q.ctx())
	if err != nil {
		return err
	}
	d.Jobs = jobs
	return s.render(q, http.StatusOK, "algorithms", "algorithms", q.lang.T("nav.algorithms"), d)
}

func (s *Server) startTraining(q *req) error {
	if s.o.Trainer == nil {
		return fmt.Errorf("%w: trainer", ErrNotConnected)
	}
	f := q.r.PostForm
	if f.Get("sample") == "" || f.Get("preset") == "" {
		return fmt.Errorf("%w: choose a sample and a preset", ErrInvalidInput)
	}
	id, err := s.o.Trainer.StartTraining(q.ctx(), TrainingRequest{Sample: f.Get("sample"), Preset: f.Get("preset"), By: q.principal()})
	if err != nil {
		return err
	}
	return s.redirect(q, "training/"+url.PathEscape(id), "")
}

type trainingData struct {
	J       TrainingJob
	Curve   template.HTML
	Presets []Preset // to name the job's preset
}

func (d trainingData) refresh() int {
	if d.J.State == JobRunning {
		return 2
	}
	return 0
}

func (s *Server) trainingJob(q *req) error {
	if s.o.Trainer == nil {
		return fmt.Errorf("%w: trainer", ErrNotConnected)
	}
	j, err := s.o.Trainer.TrainingJob(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	d := trainingData{J: j, Presets: s.o.Trainer.Presets()}
	var series []svg.Series
	if len(j.Train) > 0 {
		series = append(series, svg.Series{Name: q.lang.T("train.train"), Points: j.Train})
	}
	if len(j.Valid) > 0 {
		series = append(series, svg.Series{Name: q.lang.T("train.valid"), Points: j.Valid})
	}
	if len(series) > 0 {
		if d.Curve, err = chart(svg.Lines(series, nil, svg.Options{Title: q.lang.T("train.curve") + "（" + strings.ToUpper(j.Metric) + "）", XLabel: q.lang.T("train.round"), Width: 640})); err != nil {
			return err
		}
	}
	return s.render(q, http.StatusOK, "training", "algorithms", q.lang.T("train.title"), d)
}

func (s *Server) registerTraining(q *req) error {
	if s.o.Trainer == nil {
		return fmt.Errorf("%w: trainer", ErrNotConnected)
	}
	name := strings.TrimSpace(q.r.PostForm.Get("model"))
	if err := validName(name); err != nil {
		return err
	}
	ref, err := s.o.Trainer.RegisterTraining(q.ctx(), q.r.PathValue("id"), name, q.principal())
	if err != nil {
		return err
	}
	return s.redirect(q, "models/"+url.PathEscape(name), q.lang.T("flash.registered")+" "+ref)
}

// validName checks a model name typed into a form.
func validName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: model name must have 1 to 64 characters", ErrInvalidInput)
	}
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' && i > 0) {
			return fmt.Errorf("%w: model name %q may hold only a-z, 0-9, '-', '_' and '.'", ErrInvalidInput, name)
		}
	}
	return nil
}

// ---- model library ----

func (s *Server) models(q *req) error {
	if s.o.Models == nil {
		return fmt.Errorf("%w: model library", ErrNotConnected)
	}
	rows, err := s.o.Models.Models(q.ctx(), q.principal())
	if err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "models", "models", q.lang.T("nav.models"), rows)
}

func (s *Server) model(q *req) error {
	if s.o.Models == nil {
		return fmt.Errorf("%w: model library", ErrNotConnected)
	}
	m, err := s.o.Models.Model(q.ctx(), q.principal(), q.r.PathValue("name"))
	if err != nil {
		return err
	}
	d := modelData{ModelDetail: m}
	if s.o.Drift != nil {
		v, err := s.o.Drift.ModelDrift(q.ctx(), q.principal(), m.Name)
		if err != nil {
			return err
		}
		if len(v.Dates) > 0 {
			d.Drift = &v
			if d.DriftChart, err = driftChart(q.lang, v); err != nil {
				return err
			}
		}
	}
	return s.render(q, http.StatusOK, "model", "models", m.Name, d)
}

type modelData struct {
	ModelDetail
	// Drift is nil when the model has not scored in production.
	Drift      *DriftView
	DriftChart template.HTML
}

// driftColors are the drift chart's series colours (score first); the page's
// legend uses the same through the classes .swatch.d0 … .d7 of lab.css.
var driftColors = []string{"#1a202c", "#2b6cb0", "#38a169", "#d69e2e", "#805ad5", "#dd6b20", "#319795", "#b83280"}

// driftColor is the colour of drift series i.
func driftColor(i int) string { return driftColors[i%len(driftColors)] }

// driftSwatch is the legend class of drift series i.
func driftSwatch(i int) string { return "d" + strconv.Itoa(i%len(driftColors)) }

// driftChart draws the PSI of each series over the scored dates with the watch
// (0.1) and act (0.25) lines; at most seven dates are labelled, so the labels
// never run into each other.
func driftChart(l *Lang, v DriftView) (template.HTML, error) {
	var series []svg.Series
	for i, sr := range v.Series {
		var pts []svg.Point
		for j, p := range sr.PSI {
			if !math.IsNaN(p) {
				pts = append(pts, svg.Point{X: float64(j), Y: p})
			}
		}
		if len(pts) == 0 {
			continue
		}
		series = append(series, svg.Series{Name: sr.Indicator, Points: pts, Color: driftColor(i)})
	}
	if len(series) == 0 {
		return "", nil
	}
	// Ticks every step dates back from the newest, at most seven, so that the
	// labels stay apart at any number of dates.
	n := len(v.Dates)
	step := max(1, (n+6)/7)
	var ticks []svg.Tick
	for j := n - 1; j >= 0; j -= step {
		ticks = append([]svg.Tick{{Value: float64(j), Label: v.Dates[j]}}, ticks...)
	}
	return chart(svg.LinesWithThresholds(series, ticks,
		[]svg.Threshold{{Value: 0.1, Label: l.T("drift.watch") + " 0.1", Color: "#b7791f"}, {Value: 0.25, Label: l.T("drift.act") + " 0.25", Color: "#c53030"}},
		svg.Options{Title: l.T("drift.chart"), XLabel: l.T("drift.date"), YLabel: "PSI", Width: 760, Height: 300, NoLegend: true}))
}

type versionData struct {
	V                          Version
	ROC, KS, Calib, Importance template.HTML
	Aliases                    []string
}

func (s *Server) version(q *req) error {
	if s.o.Models == nil {
		return fmt.Errorf("%w: model library", ErrNotConnected)
	}
	v, err := s.o.Models.Version(q.ctx(), q.principal(), q.r.PathValue("name"), q.r.PathValue("version"))
	if err != nil {
		return err
	}
	d := versionData{V: v, Aliases: []string{"champion", "challenger"}}
	if len(v.ROC) > 1 {
		if d.ROC, err = chart(svg.ROC(v.ROC, v.AUC, svg.Options{Title: q.lang.T("model.roc"), XLabel: q.lang.T("model.fpr"), YLabel: q.lang.T("model.tpr"), Width: 340, Height: 300})); err != nil {
			return err
		}
	}
	if v.KS != nil {
		if d.KS, err = chart(svg.KS(*v.KS, svg.Options{Legend: []string{q.lang.T("model.ksPos"), q.lang.T("model.ksNeg")}, Title: q.lang.T("model.ks"), XLabel: q.lang.T("model.population"), Width: 340, Height: 300})); err != nil {
			return err
		}
	}
	if len(v.Calibration) > 0 {
		if d.Calib, err = chart(svg.Calibration(v.Calibration, svg.Options{Title: q.lang.T("model.calibration"), XLabel: q.lang.T("model.predicted"), YLabel: q.lang.T("model.observed"), Width: 340, Height: 300})); err != nil {
			return err
		}
	}
	if len(v.Importance) > 0 {
		imp := v.Importance[:min(len(v.Importance), 10)]
		bars := make([]svg.Bar, len(imp))
		for i, x := range imp {
			bars[i] = svg.Bar{Label: x.Feature, Value: math.Round(x.Gain*1000) / 10}
		}
		if d.Importance, err = chart(svg.Bars(bars, svg.Options{Title: q.lang.T("model.importance") + q.lang.Pick("（%）", " (%)"), Width: 720, Height: 260})); err != nil {
			return err
		}
	}
	return s.render(q, http.StatusOK, "version", "models", v.Model+" "+v.Version, d)
}

func (s *Server) uploadPage(q *req) error {
	if s.o.Models == nil {
		return fmt.Errorf("%w: model library", ErrNotConnected)
	}
	return s.render(q, http.StatusOK, "upload", "models", q.lang.T("upload.title"), nil)
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func (s *Server) upload(q *req) error {
	if s.o.Models == nil {
		return fmt.Errorf("%w: model library", ErrNotConnected)
	}
	f := q.r.MultipartForm
	if f == nil {
		return fmt.Errorf("%w: the upload must be sent as a multipart form", ErrInvalidInput)
	}
	name := strings.TrimSpace(q.r.FormValue("model"))
	if err := validName(name); err != nil {
		return err
	}
	files := f.File["file"]
	if len(files) != 1 || files[0].Size == 0 {
		return fmt.Errorf("%w: choose one non-empty model file", ErrInvalidInput)
	}
	data, err := readPart(files[0])
	if err != nil {
		return fmt.Errorf("%w: read model file: %v", ErrInvalidInput, err)
	}
	task := q.r.FormValue("task")
	if task == "" {
		task = "pd"
	}
	if task != "pd" && task != "violation" && task != "limit" {
		return fmt.Errorf("%w: task %q is not pd, violation or limit", ErrInvalidInput, task)
	}
	u := Upload{Model: name, Task: task, FileName: files[0].Filename, Data: data, FeatureSet: strings.TrimSpace(q.r.FormValue("feature_set")), By: q.principal()}
	if g := f.File["golden"]; len(g) == 1 && g[0].Size > 0 {
		if u.Golden, err = readPart(g[0]); err != nil {
			return fmt.Errorf("%w: read golden rows: %v", ErrInvalidInput, err)
		}
	}
	if e := f.File["evaluation"]; len(e) == 1 && e[0].Size > 0 {
		if u.EvalFile, err = readPart(e[0]); err != nil {
			return fmt.Errorf("%w: read evaluation file: %v", ErrInvalidInput, err)
		}
		u.EvalFileName = e[0].Filename
	}
	v, err := s.o.Models.Upload(q.ctx(), u)
	if err != nil {
		return err
	}
	return s.redirect(q, "models/"+url.PathEscape(v.Model)+"/"+url.PathEscape(v.Version), q.lang.T("flash.uploaded"))
}

func (s *Server) promote(q *req) error {
	if s.o.Models == nil {
		return fmt.Errorf("%w: model library", ErrNotConnected)
	}
	alias := q.r.PostForm.Get("alias")
	if alias != "champion" && alias != "challenger" {
		return fmt.Errorf("%w: alias %q is not champion or challenger", ErrInvalidInput, alias)
	}
	name, ver := q.r.PathValue("name"), q.r.PathValue("version")
	if _, err := s.o.Models.RequestPromotion(q.ctx(), name, ver, alias, q.principal()); err != nil {
		return err
	}
	return s.redirect(q, "models/"+url.PathEscape(name), q.lang.T("flash.requested"))
}

func (s *Server) approvals(q *req) error {
	if s.o.Models == nil {
		return fmt.Errorf("%w: model library", ErrNotConnected)
	}
	rows, err := s.o.Models.Pending(q.ctx(), q.principal())
	if err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "approvals", "approvals", q.lang.T("nav.approvals"), rows)
}

func (s *Server) decide(q *req) error {
	if s.o.Models == nil {
		return fmt.Errorf("%w: model library", ErrNotConnected)
	}
	var approve bool
	switch q.r.PostForm.Get("decision") {
	case "approve":
		approve = true
	case "reject":
	default:
		return fmt.Errorf("%w: decision must be approve or reject", ErrInvalidInput)
	}
	reason := strings.TrimSpace(q.r.PostForm.Get("reason"))
	if len(reason) > 500 {
		return fmt.Errorf("%w: reason is longer than 500 characters", ErrInvalidInput)
	}
	if !approve && reason == "" {
		return fmt.Errorf("%w: %s", ErrInvalidInput, q.lang.T("appr.reasonNeeded"))
	}
	if err := s.o.Models.Decide(q.ctx(), q.r.PathValue("id"), approve, reason, q.principal()); err != nil {
		return err
	}
	key := "flash.rejected"
	if approve {
		key = "flash.approved"
	}
	return s.redirect(q, "approvals", q.lang.T(key))
}

// ---- screening ----

type screeningsData struct {
	Models []string
	Jobs   []Screening
}

func (s *Server) screenings(q *req) error {
	if s.o.Screenings == nil {
		return fmt.Errorf("%w: screening", ErrNotConnected)
	}
	ms, err := s.o.Screenings.ScreeningModels(q.ctx())
	if err != nil {
		return err
	}
	jobs, err := s.o.Screenings.Screenings(q.ctx(), q.principal())
	if err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "screenings", "screenings", q.lang.T("nav.screenings"), screeningsData{Models: ms, Jobs: jobs})
}

func (s *Server) startScreening(q *req) error {
	if s.o.Screenings == nil {
		return fmt.Errorf("%w: screening", ErrNotConnected)
	}
	m := q.r.PostForm.Get("model")
	if m == "" {
		return fmt.Errorf("%w: choose a model", ErrInvalidInput)
	}
	id, err := s.o.Screenings.StartScreening(q.ctx(), m, q.principal())
	if err != nil {
		return err
	}
	return s.redirect(q, "screenings/"+url.PathEscape(id), "")
}

type screeningData struct {
	S     Screening
	Tiers template.HTML
	// Compare links the comparison with the user's finished screening before
	// this one ("" when there is none or comparing is not connected).
	Compare string
}

func (d screeningData) refresh() int {
	if d.S.State == JobRunning {
		return 1
	}
	return 0
}

func (s *Server) screening(q *req) error {
	if s.o.Screenings == nil {
		return fmt.Errorf("%w: screening", ErrNotConnected)
	}
	sc, err := s.o.Screenings.Screening(q.ctx(), q.principal(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	d := screeningData{S: sc}
	if _, ok := s.o.Screenings.(ScreeningComparer); ok && sc.State == JobDone {
		if done, err := s.doneScreenings(q); err == nil {
			for i, o := range done {
				if o.ID == sc.ID && i+1 < len(done) {
					d.Compare = compareLink(s.o.Prefix, done[i+1].ID, sc.ID)
				}
			}
		}
	}
	if len(sc.Tiers) > 0 {
		bars := make([]svg.Bar, len(sc.Tiers))
		for i, t := range sc.Tiers {
			bars[i] = svg.Bar{Label: q.lang.Word(t.Name), Value: float64(t.Count), Color: t.Color}
		}
		if d.Tiers, err = chart(svg.Bars(bars, svg.Options{Chinese: q.lang.Code == "zh", Title: q.lang.T("screen.tiers"), YLabel: q.lang.T("ind.companies"), Width: 520})); err != nil {
			return err
		}
	}
	return s.render(q, http.StatusOK, "screening", "screenings", q.lang.T("screen.title"), d)
}

func (s *Server) exportScreening(q *req) error {
	if s.o.Screenings == nil {
		return fmt.Errorf("%w: screening", ErrNotConnected)
	}
	id := q.r.PathValue("id")
	var buf bytes.Buffer
	if err := s.o.Screenings.ExportCSV(q.ctx(), q.principal(), id, &buf); err != nil {
		return err
	}
	h := q.w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "screening-"+safeFile(id)+".csv"))
	_, err := q.w.Write(buf.Bytes())
	return err
}

func safeFile(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// ---- company profile ----

// searchLimit is the most companies one search lists.
const searchLimit = 50

type companySearchData struct {
	Query  string
	Hits   []CompanyHit
	More   bool // the list stops at searchLimit
	Finder bool // names can be searched
}

// companySearch opens a profile by credit code, or lists the companies whose
// name or code matches the query. A query shaped like a whole credit code
// that fails its check is reported as such.
func (s *Server) companySearch(q *req) error {
	query := strings.TrimSpace(q.r.URL.Query().Get("q"))
	if query == "" {
		query = strings.TrimSpace(q.r.URL.Query().Get("code"))
	}
	finder, _ := s.o.Companies.(CompanyFinder)
	d := companySearchData{Query: query, Finder: finder != nil}
	title := q.lang.T("nav.companies")
	if query == "" {
		return s.render(q, http.StatusOK, "companies", "companies", title, d)
	}
	code := strings.ToUpper(query)
	err := creditcode.Validate(code)
	if err == nil {
		return s.redirect(q, "companies/"+url.PathEscape(code), "")
	}
	if finder == nil || looksLikeCode(code) {
		return codeError(q.lang, code, err)
	}
	hits, err := finder.FindCompanies(q.ctx(), query, searchLimit+1)
	if err != nil {
		return err
	}
	if len(hits) > searchLimit {
		hits, d.More = hits[:searchLimit], true
	}
	d.Hits = hits
	return s.render(q, http.StatusOK, "companies", "companies", title, d)
}

// looksLikeCode says whether s has the shape of a whole credit code: 18
// characters, digits and capital letters only.
func looksLikeCode(s string) bool {
	if len(s) != 18 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// codeError says in the reader's language why code is not a unified social
// credit code: a wrong check character (with the right one, the usual typing
// slip), or a code not of the standard's form.
func codeError(l *Lang, code string, err error) error {
	if errors.Is(err, creditcode.ErrCheckDigit) && len(code) == creditcode.Length {
		if want, cerr := creditcode.CheckChar(code[:17]); cerr == nil && want != code[17] {
			return fmt.Errorf("%w: %s", ErrInvalidInput, l.Pick(
				fmt.Sprintf("统一社会信用代码 %s 的校验位（第 18 位）是 %c，按前 17 位应为 %c，请核对是否输错。", code, code[17], want),
				fmt.Sprintf("%s is not a valid unified social credit code: its check character (position 18) is %c, the first 17 characters give %c; check for a typing slip.", code, code[17], want)))
		}
	}
	return fmt.Errorf("%w: %s", ErrInvalidInput, l.Pick(
		fmt.Sprintf("%s 不是有效的统一社会信用代码：应为 18 位，由数字和大写字母组成（不用 I、O、Z、S、V），且校验位正确。", code),
		strings.TrimPrefix(err.Error(), "creditcode: ")))
}

type companyData struct {
	C       Company
	History template.HTML
	Graph   template.HTML
}

func (s *Server) company(q *req) error {
	if s.o.Companies == nil {
		return fmt.Errorf("%w: company profiles", ErrNotConnected)
	}
	code := q.r.PathValue("code")
	if err := creditcode.Validate(code); err != nil {
		return codeError(q.lang, code, err)
	}
	p := q.principal()
	// A regulator may open every profile; a bank only with the company's consent.
	// internal/access decides, and records a refusal.
	if err := s.allow(q, access.ActionAssess, access.Resource{Kind: "company", ID: code}); err != nil {
		if errors.Is(err, ErrConsentRequired) && s.o.ConsentAsks != nil && p.May(string(access.ActionRequestConsent)) {
			// The refusal (already recorded) with a way to ask the company.
			return s.consentNeeded(q, code, err)
		}
		return err
	}
	c, err := s.o.Companies.Company(q.ctx(), p, code)
	if err != nil {
		return err
	}
	d, err := s.profileData(q, c)
	if err != nil {
		return err
	}
	return s.render(q, http.StatusOK, "company", "companies", c.Name, d)
}

// profileData draws a profile's charts: the score history and the guarantee
// circle (the bank's, the regulator's and the company's own page share them).
func (s *Server) profileData(q *req, c Company) (companyData, error) {
	code := c.Code
	var err error
	if len(c.Graph.Nodes) == 0 && s.o.Graphs != nil {
		g, err := s.o.Graphs.GuaranteeGraph(q.ctx(), code)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return companyData{}, err
		}
		c.Graph = g
	}
	d := companyData{C: c}
	if len(c.History) > 0 {
		pts := make([]svg.Point, len(c.History))
		ticks := make([]svg.Tick, 0, 6)
		for i, h := range c.History {
			pts[i] = svg.Point{X: float64(i), Y: 100 * h.PD} // in percent, as the facts say it
		}
		// At most six labelled months, first and last included, evenly spread.
		n := len(c.History) - 1
		k := min(5, n)
		for j := 0; j <= k; j++ {
			i := 0
			if k > 0 {
				i = j * n / k
			}
			ticks = append(ticks, svg.Tick{Value: float64(i), Label: c.History[i].Month})
		}
		if d.History, err = chart(svg.Lines([]svg.Series{{Name: q.lang.T("company.pdPct"), Points: pts}}, ticks, svg.Options{Title: q.lang.T("company.history"), Width: 520, Height: 260})); err != nil {
			return companyData{}, err
		}
	}
	if len(c.Graph.Nodes) > 0 {
		// Edge labels are catalog texts "中文 English": the reader's part (on a
		// copy: the graph may be shared).
		c.Graph.Edges = slices.Clone(c.Graph.Edges)
		for i := range c.Graph.Edges {
			c.Graph.Edges[i].Label = q.lang.Bilingual(c.Graph.Edges[i].Label)
		}
		if d.Graph, err = chart(svg.GuaranteeGraph(c.Graph, svg.Options{Title: q.lang.T("company.graph"), Width: 520, Height: 420})); err != nil {
			return companyData{}, err
		}
	}
	return d, nil
}

// jobStates are the states the job list filters by, in the order offered.
var jobStates = []string{"running", "available", "retryable", "scheduled", "completed", "discarded", "cancelled"}

// refresh reloads the list while any job is unfinished.
func (d jobsData) refresh() int {
	for _, j := range d.Jobs {
		if j.Finished.IsZero() {
			return 5
		}
	}
	return 0
}

type jobsData struct {
	Jobs   []QueuedJob
	State  string
	States []string
	// Counts holds how many of the listed jobs are in each state.
	Counts map[string]int
}

// jobs lists the platform's durable jobs with their live progress (platform
// operators only: the list spans every institution).
func (s *Server) jobs(q *req) error {
	if s.o.Jobs == nil {
		return fmt.Errorf("%w: jobs", ErrNotConnected)
	}
	state := q.r.URL.Query().Get("state")
	if state != "" && !slices.Contains(jobStates, state) {
		return fmt.Errorf("%w: unknown job state %q (want one of %s)", ErrInvalidInput, state, strings.Join(jobStates, ", "))
	}
	list, err := s.o.Jobs.Jobs(q.ctx(), q.principal(), state, 200)
	if err != nil {
		return err
	}
	d := jobsData{Jobs: list, State: state, States: jobStates, Counts: map[string]int{}}
	for _, j := range list {
		d.Counts[j.State]++
	}
	return s.render(q, http.StatusOK, "jobs", "jobs", q.lang.T("nav.jobs"), d)
}

type sourcesData struct {
	Sources []SourceStatus
	Late    int
}

// sources shows every department source's deliveries against its cadence
// (platform operators).
func (s *Server) sources(q *req) error {
	if s.o.Sources == nil {
		return fmt.Errorf("%w: sources", ErrNotConnected)
	}
	list, err := s.o.Sources.SourceStatus(q.ctx())
	if err != nil {
		return err
	}
	d := sourcesData{Sources: list}
	for _, src := range list {
		if src.Late {
			d.Late++
		}
	}
	return s.render(q, http.StatusOK, "sources", "sources", q.lang.T("nav.sources"), d)
}

type exploreData struct {
	S     Screening
	P     ExplorePage
	Q     ExploreQuery
	Query url.Values // the filters, for the paging links
}

// exploreScreening pages through a whole finished screening with filters by
// district, industry, tier and name or code.
func (s *Server) exploreScreening(q *req) error {
	ex, ok := s.o.Screenings.(ScreeningExplorer)
	if s.o.Screenings == nil || !ok {
		return fmt.Errorf("%w: screening explorer", ErrNotConnected)
	}
	id := q.r.PathValue("id")
	sc, err := s.o.Screenings.Screening(q.ctx(), q.principal(), id)
	if err != nil {
		return err
	}
	v := q.r.URL.Query()
	eq := ExploreQuery{District: v.Get("district"), Industry: v.Get("industry"), Tier: v.Get("tier"), Text: v.Get("q"), Sort: v.Get("sort")}
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return fmt.Errorf("%w: page %q is not a page number", ErrInvalidInput, p)
		}
		eq.Page = n
	}
	page, err := ex.Explore(q.ctx(), q.principal(), id, eq)
	if err != nil {
		return err
	}
	keep := url.Values{}
	for _, k := range []string{"district", "industry", "tier", "q", "sort"} {
		if v.Get(k) != "" {
			keep.Set(k, v.Get(k))
		}
	}
	return s.render(q, http.StatusOK, "explore", "screenings", q.lang.T("screen.explore"), exploreData{S: sc, P: page, Q: eq, Query: keep})
}

type riskData struct {
	V RiskView
	// Topics, when the backend has them: movers and guarantee circles.
	Topics *RiskTopicsView
	Trend  template.HTML
	// Map is the districts' tile map as of the newest date.
	Map template.HTML
	// Shown are the indexes of the dates the tables show (the newest six).
	Shown []int
}

// risk shows the regional risk index over time: the region's trend, and each
// district and industry as a table coloured by the index.
func (s *Server) risk(q *req) error {
	if s.o.Risk == nil {
		return fmt.Errorf("%w: risk index", ErrNotConnected)
	}
	v, err := s.o.Risk.RiskIndex(q.ctx(), q.principal())
	if err != nil {
		return err
	}
	d := riskData{V: v}
	if rt, ok := s.o.Risk.(RiskTopics); ok {
		t, err := rt.RiskTopics(q.ctx(), q.principal())
		if err != nil {
			s.o.Logger.Warn("lab: risk topics", "err", err)
		} else {
			d.Topics = &t
		}
	}
	for i := max(0, len(v.Dates)-6); i < len(v.Dates); i++ {
		d.Shown = append(d.Shown, i)
	}
	if d.Trend, err = regionTrend(q, v, 640, 260); err != nil {
		return err
	}
	if len(v.Map) > 0 && len(v.Dates) > 0 {
		if d.Map, err = chart(s.riskMap(q, v)); err != nil {
			return err
		}
	}
	return s.render(q, http.StatusOK, "risk", "risk", q.lang.T("nav.risk"), d)
}

// regionTrend draws the region's index over its dates (empty with fewer than
// two shown dates), at most six date labels.
func regionTrend(q *req, v RiskView, width, height float64) (template.HTML, error) {
	var pts []svg.Point
	var ticks []svg.Tick
	for i, c := range v.Region {
		if !c.Suppressed {
			pts = append(pts, svg.Point{X: float64(i), Y: c.Index})
		}
	}
	if len(pts) < 2 {
		return "", nil
	}
	n := len(v.Dates) - 1
	k := min(5, n)
	for j := 0; j <= k && n > 0; j++ {
		i := j * n / k
		ticks = append(ticks, svg.Tick{Value: float64(i), Label: v.Dates[i][:7]})
	}
	return chart(svg.Lines([]svg.Series{{Name: q.lang.T("risk.region"), Points: pts}}, ticks,
		svg.Options{Title: q.lang.T("risk.trend"), YLabel: q.lang.T("risk.index"), Width: width, Height: height}))
}
