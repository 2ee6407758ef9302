package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// The shared page checks. Every page a console test screenshots is first read
// from the DOM and checked:
//   - chart labels: each visible <text> (or <tspan>) inside an SVG is taken as the
//     box the browser laid it out in (getBBox, turned into page coordinates by
//     getScreenCTM, so a rotated date label is a rotated box); two labels of one
//     chart that overlap, or a label that runs outside its SVG's viewport, is a
//     fault;
//   - language: on a Chinese page (html lang zh-CN) the visible text, the page
//     title, title/placeholder/aria-label attributes and the texts of options must
//     not hold English words, except the codes, units and names of allowWords and
//     the forms of allowPatterns;
//   - and the other way: on an English page the same texts must not hold
//     Chinese, except names (companies, districts, departments, addresses: the
//     forms of dataNamePatterns) and the values the test typed.
// Faults are reported with t.Errorf (the test goes on, so one run lists every
// page's faults) and name the page and the screenshot.

// pageFacts is what pageFactsJS reads from the page.
type pageFacts struct {
	URL    string      `json:"url"`
	Lang   string      `json:"lang"`
	Labels []chartText `json:"labels"`
	Texts  []string    `json:"texts"`
}

// chartText is one label of a chart: its text, the index of its SVG on the page,
// its four corners in page pixels and its SVG's viewport.
type chartText struct {
	SVG     int           `json:"svg"`
	Chart   string        `json:"chart"`
	Text    string        `json:"text"`
	Corners [4][2]float64 `json:"corners"`
	View    [4]float64    `json:"view"` // left, top, right, bottom
}

// pageFactsJS collects the facts. Leaf text elements only: a <text> made of
// <tspan> lines is checked line by line (the <text> box would contain its lines).
const pageFactsJS = `(() => {
  const PENDING = %s;
  const visible = el => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === 'none' || cs.visibility === 'hidden' || cs.opacity === '0') return false;
    }
    return true;
  };
  const labels = [];
  const svgs = Array.from(document.querySelectorAll('svg')).filter(s => !s.parentElement.closest('svg'));
  svgs.forEach((svg, i) => {
    const v = svg.getBoundingClientRect();
    if (v.width === 0 || v.height === 0 || !visible(svg)) return;
    const host = svg.closest('[id]');
    const chart = (host ? '#' + host.id : 'svg') + (svg.getAttribute('class') ? ' ' + svg.getAttribute('class') : '');
    svg.querySelectorAll('text, tspan').forEach(el => {
      if (el.tagName.toLowerCase() === 'text' && el.querySelector('tspan')) return;
      const text = (el.textContent || '').trim();
      if (!text || !visible(el)) return;
      let b;
      try { b = el.getBBox(); } catch (e) { return; }
      if (b.width === 0 || b.height === 0) return;
      const m = el.getScreenCTM();
      if (!m) return;
      // The box is the font's line box (a CJK font's is about 1.45 em tall); the
      // letters fill about one em of it, centred: that em is the label's box.
      const fs = parseFloat(getComputedStyle(el).fontSize) || b.height;
      const y = b.y + Math.max(0, (b.height - fs) / 2), h = Math.min(b.height, fs);
      const pt = (x, y) => [m.a * x + m.c * y + m.e + scrollX, m.b * x + m.d * y + m.f + scrollY];
      labels.push({svg: i, chart, text, corners: [pt(b.x, y), pt(b.x + b.width, y), pt(b.x + b.width, y + h), pt(b.x, y + h)],
        view: [v.left + scrollX, v.top + scrollY, v.right + scrollX, v.bottom + scrollY]});
    });
  });
  // Text inside <code> (rules and expressions users write) and <samp> (verbatim
  // output of another program, such as a worker's error) is not the console's
  // wording, and neither are the parts still pending (pendingSelectors).
  let body = document.body.innerText;
  document.querySelectorAll('code, samp' + PENDING).forEach(el => {
    const t = el.innerText;
    if (t) body = body.replace(t, ' ');
  });
  const texts = [document.title, body];
  document.querySelectorAll('[title], [placeholder], [aria-label], option, input[type=submit], input[type=button]').forEach(el => {
    for (const a of ['title', 'placeholder', 'aria-label']) if (el.hasAttribute(a)) texts.push(el.getAttribute(a));
    if (el.tagName === 'OPTION') texts.push(el.textContent);
    if (el.tagName === 'INPUT') texts.push(el.value);
  });
  // An SVG's <title> is its tooltip: the user reads it.
  document.querySelectorAll('svg title').forEach(el => texts.push(el.textContent));
  return JSON.stringify({url: location.pathname + location.search, lang: document.documentElement.lang, labels, texts});
})()`

// overlapTolerance is how far (page pixels) two label boxes may run into each
// other: glyph boxes include the font's ascent and descent, so lines set
// tightly touch without the letters touching.
const overlapTolerance = 2.0

// clipTolerance is how far a label's box may run past its SVG's edge (the
// descent of a bottom line, anti-aliasing).
const clipTolerance = 1.5

// pendingSelectors are parts of pages whose English is known and not yet
// turned into Chinese; each says what is missing. Keep it short: an entry is a
// debt, not an exception.
var pendingSelectors = map[string]string{
	"#model-card-json": "a structured card of another maker (not xinyi train's training.Card, which reads as a document) is shown as its JSON",
}

// allowPhrases are names of several words a Chinese page may show.
var allowPhrases = map[string]string{
	"Standard Webhooks": "the name of the delivery specification banks' developers look up",
	"webhook-id":        "the HTTP header a bank's system reads",
}

// keyNameRE finds the field name of a key=value pair ("penalty_id=…",
// "event_date=2024-06"): what the user types to name a record.
var keyNameRE = regexp.MustCompile(`[a-z_]+=`)

// allowWords are the English words a Chinese page may show, each for a reason.
// Compared without case.
var allowWords = map[string]string{
	"english":  "the language switch names the other language in that language",
	"pd":       "probability of default, the credit term the Chinese industry uses as is",
	"psi":      "population stability index, a model-risk unit",
	"auc":      "area under the ROC curve",
	"roc":      "the ROC curve's name",
	"ks":       "Kolmogorov–Smirnov statistic, a model-risk unit",
	"csv":      "the file format users download",
	"pdf":      "the file format of signed reports",
	"api":      "the interface banks' systems call",
	"shap":     "the attribution method named in model documents",
	"id":       "identifiers (ID) as Chinese forms write them",
	"ok":       "status words of outside systems (webhook delivery)",
	"lightgbm": "a model format (product name)",
	"xgboost":  "a model format (product name)",
	"gb":       "national standard prefix (GB/T 4754)",
	"t":        "national standard prefix (GB/T 4754)",
	"iv":       "information value, a credit-scoring statistic used as is",
	"brier":    "the Brier score, named after its author",
	"utc":      "the time standard the platform's clocks state",
	"excel":    "the spreadsheet program a CSV export opens in (product name)",
	"https":    "the address form a bank's alert endpoint is typed in (placeholder https://)",
	"mit":      "the licence a public data set is published under (its name)",
	"json":     "a model file format",
	"ubjson":   "a model file format",
	"webhook":  "the interface term banks' IT teams use as is for pushed notifications",
}

// allowPatterns are forms of tokens that are codes, not words: anything with a
// digit (credit codes, versions, dates, indicator ids such as
// court.amount.count_12m, report numbers), addresses, and single capital
// letters (tiers and GB/T 4754 section letters shown beside their names).
var allowPatterns = []*regexp.Regexp{
	regexp.MustCompile(`[0-9]`),
	regexp.MustCompile(`^(https?://|www\.)`),
	regexp.MustCompile(`@`),       // e-mail addresses users type
	regexp.MustCompile(`^[A-Z]$`), // a section letter or a tier letter
}

// tokenRE splits text into candidate tokens: runs of Latin letters, digits and
// the joiners of identifiers and addresses.
var tokenRE = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9_\-./:@+]*[A-Za-z0-9]|[A-Za-z]`)

// englishWords returns the tokens of text that are English words a Chinese page
// should not show (each once, in order of appearance). typed are the values the
// test itself entered (model names, account names, addresses): shown back,
// they are the user's own identifiers.
func englishWords(text string, typed []string) []string {
	for p := range allowPhrases {
		text = strings.ReplaceAll(text, p, " ")
	}
	text = keyNameRE.ReplaceAllString(text, " ")
	var out []string
	for _, tok := range tokenRE.FindAllString(text, -1) {
		if allowedToken(tok, typed) || slices.Contains(out, tok) {
			continue
		}
		out = append(out, tok)
	}
	return out
}

func allowedToken(tok string, typed []string) bool {
	for _, p := range allowPatterns {
		if p.MatchString(tok) {
			return true
		}
	}
	if _, ok := allowWords[strings.ToLower(tok)]; ok {
		return true
	}
	// A slash-joined pair of allowed words (PD/PSI, GB/T).
	if parts := strings.Split(tok, "/"); len(parts) > 1 {
		ok := true
		for _, p := range parts {
			ok = ok && p != "" && allowedToken(p, typed)
		}
		if ok {
			return true
		}
	}
	for _, t := range typed {
		if t != "" && (tok == t || strings.Contains(t, tok)) {
			return true
		}
	}
	return false
}

// labelFault is one overlap or clipping.
type labelFault struct{ Chart, What string }

// labelFaults returns the overlapping pairs and clipped labels of the labels.
func labelFaults(labels []chartText) []labelFault {
	var out []labelFault
	for i, a := range labels {
		for _, c := range a.Corners {
			if c[0] < a.View[0]-clipTolerance || c[1] < a.View[1]-clipTolerance || c[0] > a.View[2]+clipTolerance || c[1] > a.View[3]+clipTolerance {
				out = append(out, labelFault{a.Chart, fmt.Sprintf("label %q runs outside its chart (corner %.0f,%.0f; chart %.0f,%.0f–%.0f,%.0f)",
					a.Text, c[0], c[1], a.View[0], a.View[1], a.View[2], a.View[3])})
				break
			}
		}
		for _, b := range labels[i+1:] {
			if a.SVG != b.SVG {
				continue
			}
			if d := penetration(a.Corners, b.Corners); d > overlapTolerance {
				out = append(out, labelFault{a.Chart, fmt.Sprintf("labels %q and %q overlap by %.1f px", a.Text, b.Text, d)})
			}
		}
	}
	return out
}

// penetration is how deep two convex quadrilaterals run into each other: the
// smallest overlap of their projections over the edge normals of both
// (separating axis theorem); zero or less when they are apart.
func penetration(a, b [4][2]float64) float64 {
	depth := math.Inf(1)
	for _, poly := range [][4][2]float64{a, b} {
		for i := range 4 {
			p, q := poly[i], poly[(i+1)%4]
			nx, ny := q[1]-p[1], p[0]-q[0]
			l := math.Hypot(nx, ny)
			if l == 0 {
				continue
			}
			nx, ny = nx/l, ny/l
			aLo, aHi := project(a, nx, ny)
			bLo, bHi := project(b, nx, ny)
			depth = min(depth, min(aHi, bHi)-max(aLo, bLo))
		}
	}
	return depth
}

func project(poly [4][2]float64, nx, ny float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, c := range poly {
		v := c[0]*nx + c[1]*ny
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// pageFaults reads the page in the browser and returns its faults as lines.
func pageFaults(ctx context.Context, typed []string) (pageFacts, []string, error) {
	var facts pageFacts
	var pending strings.Builder
	for sel := range pendingSelectors {
		pending.WriteString(", " + sel)
	}
	js := fmt.Sprintf(pageFactsJS, strconv.Quote(pending.String()))
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		return facts, nil, err
	}
	if err := json.Unmarshal([]byte(raw), &facts); err != nil {
		return facts, nil, err
	}
	var out []string
	for _, f := range labelFaults(facts.Labels) {
		out = append(out, fmt.Sprintf("chart %s: %s", f.Chart, f.What))
	}
	switch {
	case strings.HasPrefix(facts.Lang, "zh"):
		out = append(out, foreign(facts.Texts, typed, englishWords, "English on a Chinese page")...)
	case strings.HasPrefix(facts.Lang, "en"):
		out = append(out, foreign(facts.Texts, typed, chineseRuns, "Chinese on an English page")...)
	}
	return facts, out, nil
}

// hanRE finds runs of Chinese characters (with the joiners names use).
var hanRE = regexp.MustCompile(`\p{Han}[\p{Han}·]*`)

// dataNamePatterns are the forms of names an English page shows as they are
// registered: a company, district, town, road, department or bank keeps its
// Chinese name (the English pages give an English name where the platform has
// one, as for the generated region's districts).
var dataNamePatterns = []*regexp.Regexp{
	regexp.MustCompile(`(有限公司|股份公司|合作社|集团|厂|商行|经营部|门市部)$`),
	regexp.MustCompile(`(街道|镇|乡|区|县|市|省|路|街|号|村|园区)$`),
	regexp.MustCompile(`(局|委员会|法院|银行|支行|分行|信用社|中心|大队)$`),
}

// chineseRuns returns the runs of Chinese an English page should not show
// (each once, in order of appearance).
func chineseRuns(text string, typed []string) []string {
	var out []string
	for _, run := range hanRE.FindAllString(text, -1) {
		if slices.Contains(out, run) || isDataName(run, typed) {
			continue
		}
		out = append(out, run)
	}
	return out
}

// allowHan are Chinese words an English page may show, each for a reason.
var allowHan = map[string]string{
	"中文": "the language switch names the other language in that language",
}

func isDataName(run string, typed []string) bool {
	if _, ok := allowHan[run]; ok {
		return true
	}
	for _, p := range dataNamePatterns {
		if p.MatchString(run) {
			return true
		}
	}
	for _, t := range typed {
		if t != "" && strings.Contains(t, run) {
			return true
		}
	}
	return false
}

// foreign reports the words find picks out of texts (each once, with where it
// stands), as one fault named what; nothing when there are none.
func foreign(texts, typed []string, find func(string, []string) []string, what string) []string {
	var words, where []string
	for _, t := range texts {
		for _, w := range find(t, typed) {
			if !slices.Contains(words, w) {
				words = append(words, w)
				where = append(where, fmt.Sprintf("%q in …%s…", w, around(t, w)))
			}
		}
	}
	if len(words) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s: %s\n\t%s", what, strings.Join(words, ", "), strings.Join(where, "\n\t"))}
}

// around is the text around the first occurrence of w in t, on one line.
func around(t, w string) string {
	i := strings.Index(t, w)
	r := []rune(t[:i])
	lo := max(0, len(r)-20)
	after := []rune(t[i:])
	s := string(r[lo:]) + string(after[:min(len(after), len([]rune(w))+20)])
	return strings.Join(strings.Fields(s), " ")
}

// check runs the shared page checks on the current page; name names it in the
// report (the screenshot's name).
func (s *session) check(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	facts, faults, err := pageFaults(ctx, s.typed)
	if err != nil {
		s.t.Fatalf("check %s: %v", name, err)
	}
	for _, f := range faults {
		s.t.Errorf("page %s (%s): %s", name, facts.URL, f)
	}
}

// typedBack records values the test enters that pages show back (model names,
// account names, addresses): they are the user's identifiers, not English.
func (s *session) typedBack(v ...string) { s.typed = append(s.typed, v...) }
