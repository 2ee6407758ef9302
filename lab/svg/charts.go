package svg

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Bin is one histogram bin [Lo, Hi) with its count.
type Bin struct {
	Lo, Hi float64
	Count  int64
}

// Histogram draws bins as adjacent bars: bin i spans X(Lo)..X(Hi) horizontally and
// 0..Count vertically. The y axis runs from 0 to the nice tick at or above the largest
// count. Bins must be ordered and must not overlap.
func Histogram(bins []Bin, o Options) (string, error) {
	o.EnsureDefaults()
	if err := o.validate(); err != nil {
		return "", err
	}
	if len(bins) == 0 {
		return "", fmt.Errorf("%w: histogram without bins", ErrInvalidData)
	}
	var maxCount int64
	for i, b := range bins {
		if !finite(b.Lo) || !finite(b.Hi) || b.Hi <= b.Lo {
			return "", fmt.Errorf("%w: histogram bin %d has edges [%v, %v)", ErrInvalidData, i, b.Lo, b.Hi)
		}
		if b.Count < 0 {
			return "", fmt.Errorf("%w: histogram bin %d has negative count %d", ErrInvalidData, i, b.Count)
		}
		if i > 0 && b.Lo < bins[i-1].Hi {
			return "", fmt.Errorf("%w: histogram bin %d starts at %v before bin %d ends at %v", ErrInvalidData, i, b.Lo, i-1, bins[i-1].Hi)
		}
		maxCount = max(maxCount, b.Count)
	}
	yt := NiceTicks(0, float64(max(maxCount, 1)), 4)
	c := newCanvas(o, "histogram")
	c.domain(bins[0].Lo, bins[len(bins)-1].Hi, 0, yt[len(yt)-1])
	c.axes(inside(NiceTicks(c.minX, c.maxX, 5), c.minX, c.maxX), yt, c.f, c.f)
	c.b.WriteString(`<g class="bars">`)
	for _, b := range bins {
		x, w := c.X(b.Lo), c.X(b.Hi)-c.X(b.Lo)
		y := c.Y(float64(b.Count))
		fmt.Fprintf(&c.b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#fff" stroke-width="0.5"><title>[%s, %s): %d</title></rect>`,
			num(x), num(y), num(w), num(c.y0-y), ColorBlue, c.f(b.Lo), c.f(b.Hi), b.Count)
	}
	c.b.WriteString(`</g>`)
	return c.String(), nil
}

func inside(ticks []float64, lo, hi float64) []float64 {
	out := ticks[:0:0]
	eps := (hi - lo) * 1e-9
	for _, t := range ticks {
		if t >= lo-eps && t <= hi+eps {
			out = append(out, t)
		}
	}
	return out
}

// Point is one (x, y) datum.
type Point struct{ X, Y float64 }

func unitPoints(what string, pts []Point) error {
	if len(pts) < 2 {
		return fmt.Errorf("%w: %s needs at least 2 points, got %d", ErrInvalidData, what, len(pts))
	}
	for i, p := range pts {
		if !finite(p.X) || !finite(p.Y) || p.X < 0 || p.X > 1 || p.Y < 0 || p.Y > 1 {
			return fmt.Errorf("%w: %s point %d (%v, %v) is outside [0, 1]", ErrInvalidData, what, i, p.X, p.Y)
		}
	}
	return nil
}

var unitTicks = []float64{0, 0.2, 0.4, 0.6, 0.8, 1}

func fmtUnit(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

// ROC draws a receiver operating characteristic curve: points are (false positive
// rate, true positive rate) in [0, 1], in order along the curve. The chance diagonal
// is drawn dashed and auc is printed in the lower right.
func ROC(points []Point, auc float64, o Options) (string, error) {
	o.EnsureDefaults()
	if err := o.validate(); err != nil {
		return "", err
	}
	if err := unitPoints("ROC", points); err != nil {
		return "", err
	}
	if !finite(auc) || auc < 0 || auc > 1 {
		return "", fmt.Errorf("%w: AUC %v is outside [0, 1]", ErrInvalidData, auc)
	}
	c := newCanvas(o, "roc")
	c.domain(0, 1, 0, 1)
	c.axes(unitTicks, unitTicks, fmtUnit, fmtUnit)
	c.polyline("diagonal", ColorGrey, []Point{{0, 0}, {1, 1}}, true)
	c.polyline("curve", ColorBlue, points, false)
	fmt.Fprintf(&c.b, `<text class="auc" x="%s" y="%s" text-anchor="end" font-size="12" fill="#1a202c">AUC = %.3f</text>`, num(c.x1-6), num(c.y0-8), auc)
	return c.String(), nil
}

// KSCurve holds the cumulative shares of positives and negatives among the first
// Fraction of the population, ordered from the riskiest score down.
type KSCurve struct {
	Fraction []float64
	CumPos   []float64
	CumNeg   []float64
}

// KS draws the two cumulative curves of a Kolmogorov–Smirnov plot and marks their
// largest vertical gap with a line of class "ks" and its value.
func KS(k KSCurve, o Options) (string, error) {
	o.EnsureDefaults()
	if err := o.validate(); err != nil {
		return "", err
	}
	n := len(k.Fraction)
	if len(k.CumPos) != n || len(k.CumNeg) != n {
		return "", fmt.Errorf("%w: KS curve has %d fractions, %d positive and %d negative shares", ErrInvalidData, n, len(k.CumPos), len(k.CumNeg))
	}
	pos, neg := make([]Point, n), make([]Point, n)
	best, bestGap := 0, -1.0
	for i := range n {
		pos[i] = Point{k.Fraction[i], k.CumPos[i]}
		neg[i] = Point{k.Fraction[i], k.CumNeg[i]}
		if g := math.Abs(k.CumPos[i] - k.CumNeg[i]); g > bestGap {
			best, bestGap = i, g
		}
	}
	if err := unitPoints("KS positives", pos); err != nil {
		return "", err
	}
	if err := unitPoints("KS negatives", neg); err != nil {
		return "", err
	}
	c := newCanvas(o, "ks")
	c.domain(0, 1, 0, 1)
	c.axes(unitTicks, unitTicks, fmtUnit, fmtUnit)
	c.polyline("curve pos", ColorRed, pos, false)
	c.polyline("curve neg", ColorBlue, neg, false)
	x := c.X(k.Fraction[best])
	fmt.Fprintf(&c.b, `<line class="ks" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#1a202c" stroke-width="1.5" stroke-dasharray="3 2"/>`,
		num(x), num(c.Y(k.CumNeg[best])), num(x), num(c.Y(k.CumPos[best])))
	fmt.Fprintf(&c.b, `<text class="ks-value" x="%s" y="%s" text-anchor="end" font-size="12" fill="#1a202c">KS = %.3f</text>`, num(c.x1-6), num(c.y0-8), bestGap)
	names := []string{"+", "−"}
	if len(o.Legend) == 2 {
		names = o.Legend
	}
	c.legend(names, []string{ColorRed, ColorBlue})
	return c.String(), nil
}

// CalibrationBin is one group of predictions: their mean predicted probability, the
// observed rate of positives and the number of rows.
type CalibrationBin struct {
	Predicted, Observed float64
	Count               int64
}

// Calibration draws observed against predicted rates as points joined by a line,
// with the perfect-calibration diagonal. Both axes run from 0 to the nice tick at or
// above the largest rate.
func Calibration(bins []CalibrationBin, o Options) (string, error) {
	o.EnsureDefaults()
	if err := o.validate(); err != nil {
		return "", err
	}
	if len(bins) == 0 {
		return "", fmt.Errorf("%w: calibration without bins", ErrInvalidData)
	}
	hi := 0.0
	pts := make([]Point, len(bins))
	for i, b := range bins {
		if !finite(b.Predicted) || !finite(b.Observed) || b.Predicted < 0 || b.Predicted > 1 || b.Observed < 0 || b.Observed > 1 || b.Count < 0 {
			return "", fmt.Errorf("%w: calibration bin %d (predicted %v, observed %v, count %d)", ErrInvalidData, i, b.Predicted, b.Observed, b.Count)
		}
		hi = max(hi, b.Predicted, b.Observed)
		pts[i] = Point{b.Predicted, b.Observed}
	}
	t := NiceTicks(0, max(hi, 0.01), 5)
	top := t[len(t)-1]
	c := newCanvas(o, "calibration")
	c.domain(0, top, 0, top)
	c.axes(t, t, c.f, c.f)
	c.polyline("diagonal", ColorGrey, []Point{{0, 0}, {top, top}}, true)
	if len(pts) > 1 {
		c.polyline("curve", ColorBlue, pts, false)
	}
	for i, p := range pts {
		fmt.Fprintf(&c.b, `<circle class="point" cx="%s" cy="%s" r="3.5" fill="%s"><title>%.4f → %.4f (n=%d)</title></circle>`,
			num(c.X(p.X)), num(c.Y(p.Y)), ColorBlue, p.X, p.Y, bins[i].Count)
	}
	return c.String(), nil
}

// Bar is one bar of a bar chart. Color empty means the default blue.
type Bar struct {
	Label string
	Value float64
	Color string
}

// Bars draws one vertical bar per entry in equal bands: bar i occupies the middle 70%
// of band i of width (plot width)/len(bars), from 0 up to its value. The y axis runs
// from 0 to the nice tick at or above the largest value. Values must be ≥ 0. A label
// wider than its band is cut with "…" (the bar's tooltip has it whole).
func Bars(bars []Bar, o Options) (string, error) {
	o.EnsureDefaults()
	if err := o.validate(); err != nil {
		return "", err
	}
	if len(bars) == 0 {
		return "", fmt.Errorf("%w: bar chart without bars", ErrInvalidData)
	}
	hi := 0.0
	for i, b := range bars {
		if !finite(b.Value) || b.Value < 0 {
			return "", fmt.Errorf("%w: bar %d (%q) has value %v", ErrInvalidData, i, b.Label, b.Value)
		}
		if b.Color != "" && !validColor(b.Color) {
			return "", fmt.Errorf("%w: bar %d colour %q is not #rgb or #rrggbb", ErrInvalidData, i, b.Color)
		}
		hi = max(hi, b.Value)
	}
	yt := NiceTicks(0, max(hi, 1), 4)
	c := newCanvas(o, "bars")
	c.domain(0, 1, 0, yt[len(yt)-1])
	c.axes(nil, yt, c.f, c.f)
	band := (c.x1 - c.x0) / float64(len(bars))
	c.b.WriteString(`<g class="bars">`)
	for i, b := range bars {
		col := b.Color
		if col == "" {
			col = ColorBlue
		}
		x := c.x0 + float64(i)*band + 0.15*band
		y := c.Y(b.Value)
		fmt.Fprintf(&c.b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>`,
			num(x), num(y), num(0.7*band), num(c.y0-y), col, esc(b.Label), c.f(b.Value))
		fmt.Fprintf(&c.b, `<text class="value" x="%s" y="%s" text-anchor="middle" font-size="11" fill="#1a202c">%s</text>`,
			num(x+0.35*band), num(y-4), c.f(b.Value))
		fmt.Fprintf(&c.b, `<text class="bar-label" x="%s" y="%s" text-anchor="middle" font-size="11" fill="#2d3748">%s</text>`,
			num(x+0.35*band), num(c.y0+14), esc(cutText(b.Label, 11, band-4))) // whole in the bar's tooltip
	}
	c.b.WriteString(`</g>`)
	return c.String(), nil
}

func validColor(s string) bool {
	if len(s) != 4 && len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, r := range s[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// Series is one named line of a line chart. Color empty picks from the palette.
type Series struct {
	Name   string
	Points []Point
	Color  string
}

// Tick is a labelled position on an axis.
type Tick struct {
	Value float64
	Label string
}

// Lines draws series as polylines (with a dot per point) over the bounding box of
// all points: x from the smallest to the largest x, y from the nice tick at or below
// the smallest y to the one at or above the largest. xticks labels the x axis (nil:
// nice numeric ticks).
func Lines(series []Series, xticks []Tick, o Options) (string, error) {
	return lines(series, xticks, nil, o)
}

// Threshold is a horizontal reference line of a line chart: a value that
// means something (a PSI of 0.1 or 0.25), drawn dashed across the plot area
// with its label at the right end, above the line.
type Threshold struct {
	Value float64
	Label string
	Color string
}

// LinesWithThresholds is Lines with horizontal reference lines; the y range
// covers them, so every threshold is on the chart whatever the data.
func LinesWithThresholds(series []Series, xticks []Tick, thresholds []Threshold, o Options) (string, error) {
	for i, t := range thresholds {
		if !finite(t.Value) {
			return "", fmt.Errorf("%w: threshold %d (%q) is %v", ErrInvalidData, i, t.Label, t.Value)
		}
		if t.Color != "" && !validColor(t.Color) {
			return "", fmt.Errorf("%w: threshold %d colour %q is not #rgb or #rrggbb", ErrInvalidData, i, t.Color)
		}
	}
	return lines(series, xticks, thresholds, o)
}

func lines(series []Series, xticks []Tick, thresholds []Threshold, o Options) (string, error) {
	o.EnsureDefaults()
	if err := o.validate(); err != nil {
		return "", err
	}
	if len(series) == 0 {
		return "", fmt.Errorf("%w: line chart without series", ErrInvalidData)
	}
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for si, s := range series {
		if len(s.Points) == 0 {
			return "", fmt.Errorf("%w: series %d (%q) has no points", ErrInvalidData, si, s.Name)
		}
		if s.Color != "" && !validColor(s.Color) {
			return "", fmt.Errorf("%w: series %d colour %q is not #rgb or #rrggbb", ErrInvalidData, si, s.Color)
		}
		for i, p := range s.Points {
			if !finite(p.X) || !finite(p.Y) {
				return "", fmt.Errorf("%w: series %d (%q) point %d is (%v, %v)", ErrInvalidData, si, s.Name, i, p.X, p.Y)
			}
			minX, maxX = min(minX, p.X), max(maxX, p.X)
			minY, maxY = min(minY, p.Y), max(maxY, p.Y)
		}
	}
	for i, t := range xticks {
		if !finite(t.Value) {
			return "", fmt.Errorf("%w: x tick %d is %v", ErrInvalidData, i, t.Value)
		}
	}
	for _, t := range thresholds {
		minY, maxY = min(minY, t.Value), max(maxY, t.Value)
	}
	yt := NiceTicks(minY, maxY, 4)
	c := newCanvas(o, "lines")
	c.domain(minX, maxX, yt[0], yt[len(yt)-1])
	labels := map[float64]string{}
	var xs []float64
	if xticks == nil {
		xs = inside(NiceTicks(c.minX, c.maxX, 5), c.minX, c.maxX)
	} else {
		for _, i := range thinTicks(c, xticks) {
			xs = append(xs, xticks[i].Value)
			labels[xticks[i].Value] = xticks[i].Label
		}
	}
	xf := c.f
	if xticks != nil {
		xf = func(v float64) string { return labels[v] }
	}
	c.axes(xs, yt, xf, c.f)
	for _, t := range thresholds {
		col := t.Color
		if col == "" {
			col = "#718096"
		}
		y := c.Y(t.Value)
		fmt.Fprintf(&c.b, `<g class="threshold"><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1" stroke-dasharray="5 4"/>`+
			`<text x="%s" y="%s" text-anchor="end" font-size="10" fill="%s">%s</text></g>`,
			num(c.x0), num(y), num(c.x1), num(y), col, num(c.x1-2), num(y-3), col, esc(t.Label))
	}
	var names, colors []string
	for i, s := range series {
		col := s.Color
		if col == "" {
			col = seriesColors[i%len(seriesColors)]
		}
		c.b.WriteString(`<g class="series">`)
		if len(s.Points) > 1 {
			c.polyline("curve", col, s.Points, false)
		}
		for _, p := range s.Points {
			fmt.Fprintf(&c.b, `<circle class="point" cx="%s" cy="%s" r="2.5" fill="%s"/>`, num(c.X(p.X)), num(c.Y(p.Y)), col)
		}
		c.b.WriteString(`</g>`)
		names, colors = append(names, s.Name), append(colors, col)
	}
	if !o.NoLegend && (len(series) > 1 || series[0].Name != "") {
		c.legend(names, colors)
	}
	return c.String(), nil
}

// thinTicks returns the indices of the x ticks to label: all when their labels
// fit side by side, else every k-th counted back from the last (the newest date
// is the one read most), k the smallest step at which the widest label fits.
func thinTicks(c *canvas, ticks []Tick) []int {
	idx := make([]int, len(ticks))
	for i := range ticks {
		idx[i] = i
	}
	if len(ticks) < 2 {
		return idx
	}
	wide, gap := 0.0, math.Inf(1)
	for i, t := range ticks {
		wide = max(wide, TextWidth(t.Label, 10))
		if i > 0 {
			gap = min(gap, math.Abs(c.X(t.Value)-c.X(ticks[i-1].Value)))
		}
	}
	step := 1
	for step < len(ticks) && gap*float64(step) < wide+6 {
		step++
	}
	if step == 1 {
		return idx
	}
	var out []int
	for i := range ticks {
		if (len(ticks)-1-i)%step == 0 {
			out = append(out, i)
		}
	}
	return out
}

// Node is one company in a guarantee graph. Focus marks the company the graph is
// about; it is drawn in the centre. Color empty means grey.
type Node struct {
	ID    string
	Label string
	Color string
	Focus bool
}

// Edge is a directed link (guarantor From → borrower To) with an optional label.
type Edge struct {
	From, To string
	Label    string
}

// Graph is the data of a guarantee graph.
type Graph struct {
	Nodes []Node
	Edges []Edge
}

// NodeRadius is the radius of a node circle in a guarantee graph.
const NodeRadius = 10.0

// GraphLayout returns the centre of every node, by id, in the deterministic circular
// layout: the focus node (the first with Focus) sits at the centre
// (Width/2, MarginTop+(Height-MarginTop)/2); the others, sorted by id, are placed
// clockwise from the top on a circle of radius min(Width, Height-MarginTop)/2 - 40,
// node i at angle -90° + 360°·i/n. Without a focus node every node is on the circle;
// a lone node sits at the centre.
func GraphLayout(g Graph, o Options) map[string]Point {
	o.EnsureDefaults()
	cx, cy := o.Width/2, MarginTop+(o.Height-MarginTop)/2
	r := min(o.Width, o.Height-MarginTop)/2 - 40
	var ring []string
	out := make(map[string]Point, len(g.Nodes))
	focus := ""
	for _, n := range g.Nodes {
		if n.Focus && focus == "" {
			focus = n.ID
			out[n.ID] = Point{cx, cy}
			continue
		}
		ring = append(ring, n.ID)
	}
	slices.Sort(ring)
	if len(ring) == 1 && focus == "" {
		out[ring[0]] = Point{cx, cy}
		return out
	}
	for i, id := range ring {
		a := -math.Pi/2 + 2*math.Pi*float64(i)/float64(len(ring))
		out[id] = Point{cx + r*math.Cos(a), cy + r*math.Sin(a)}
	}
	return out
}

// GuaranteeGraph draws g in the layout of GraphLayout. An edge is a line from the
// border of its guarantor's circle to the border of its borrower's, with an arrow
// head at the borrower. Node ids must be unique and edges must name existing nodes.
func GuaranteeGraph(g Graph, o Options) (string, error) {
	o.EnsureDefaults()
	if err := o.validate(); err != nil {
		return "", err
	}
	if len(g.Nodes) == 0 {
		return "", fmt.Errorf("%w: graph without nodes", ErrInvalidData)
	}
	seen := make(map[string]bool, len(g.Nodes))
	for i, n := range g.Nodes {
		if n.ID == "" || seen[n.ID] {
			return "", fmt.Errorf("%w: graph node %d has an empty or repeated id %q", ErrInvalidData, i, n.ID)
		}
		if n.Color != "" && !validColor(n.Color) {
			return "", fmt.Errorf("%w: graph node %q colour %q is not #rgb or #rrggbb", ErrInvalidData, n.ID, n.Color)
		}
		seen[n.ID] = true
	}
	for i, e := range g.Edges {
		if !seen[e.From] || !seen[e.To] || e.From == e.To {
			return "", fmt.Errorf("%w: graph edge %d (%q → %q) names an unknown node or loops", ErrInvalidData, i, e.From, e.To)
		}
	}
	pos := GraphLayout(g, o)
	// Draw in a canonical order so that the input order never changes the picture.
	nodes := slices.Clone(g.Nodes)
	slices.SortStableFunc(nodes, func(a, b Node) int {
		if a.Focus != b.Focus {
			if a.Focus {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	edges := slices.Clone(g.Edges)
	slices.SortStableFunc(edges, func(a, b Edge) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	c := newCanvas(o, "graph")
	c.b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#4a5568"/></marker></defs>`)
	c.b.WriteString(`<g class="edges">`)
	for _, e := range edges {
		a, b := pos[e.From], pos[e.To]
		dx, dy := b.X-a.X, b.Y-a.Y
		d := math.Hypot(dx, dy)
		ux, uy := dx/d, dy/d
		x1, y1 := a.X+ux*NodeRadius, a.Y+uy*NodeRadius
		x2, y2 := b.X-ux*NodeRadius, b.Y-uy*NodeRadius
		fmt.Fprintf(&c.b, `<line class="edge" data-from="%s" data-to="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#4a5568" stroke-width="1.2" marker-end="url(#arrow)">`,
			esc(e.From), esc(e.To), num(x1), num(y1), num(x2), num(y2))
		if e.Label != "" {
			fmt.Fprintf(&c.b, `<title>%s</title>`, esc(e.Label))
		}
		c.b.WriteString(`</line>`)
	}
	c.b.WriteString(`</g><g class="nodes">`)
	for _, n := range nodes {
		p := pos[n.ID]
		col := n.Color
		if col == "" {
			col = ColorGrey
		}
		cls, stroke := "node", "#fff"
		if n.Focus {
			cls, stroke = "node focus", "#1a202c"
		}
		label := n.Label
		if label == "" {
			label = n.ID
		}
		fmt.Fprintf(&c.b, `<g class="%s" data-id="%s"><circle cx="%s" cy="%s" r="%s" fill="%s" stroke="%s" stroke-width="2"/><text x="%s" y="%s" text-anchor="middle" font-size="10" fill="#1a202c" stroke="#fff" stroke-width="3" paint-order="stroke">%s</text><title>%s</title></g>`,
			cls, esc(n.ID), num(p.X), num(p.Y), num(NodeRadius), col, stroke, num(p.X), num(p.Y+NodeRadius+12), esc(truncateLabel(label, 14)), esc(label))
	}
	c.b.WriteString(`</g>`)
	return c.String(), nil
}

func truncateLabel(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
