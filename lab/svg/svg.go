// Package svg draws the lab console's charts as SVG text: histogram, ROC curve, KS
// curve, calibration plot, bar chart, line chart and the guarantee graph. Every
// function is pure: the same data gives byte-identical output, every piece of text is
// XML-escaped, and a value that cannot be drawn (NaN, a negative count, an empty
// series) is an error naming it, never a silently wrong picture.
//
// Geometry is fixed so that it can be checked by hand: a chart of Width×Height has a
// plot area from x = MarginLeft to Width-MarginRight and from y = MarginTop (top) to
// Height-MarginBottom (bottom); data are mapped linearly onto it.
//
//	s, err := svg.Histogram([]svg.Bin{{Lo: 0, Hi: 1, Count: 3}}, svg.Options{Title: "sales"})
package svg

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrInvalidData reports data that cannot be drawn: NaN or infinite values, negative
// counts, empty inputs, unknown node ids.
var ErrInvalidData = errors.New("svg: invalid chart data")

// The plot-area margins in SVG user units.
const (
	MarginLeft   = 56.0
	MarginRight  = 16.0
	MarginTop    = 28.0
	MarginBottom = 40.0
)

// Options sets the size and labels of a chart.
type Options struct {
	// Width and Height of the picture in SVG user units. Defaults 480 and 300.
	Width, Height float64
	// Title is drawn above the plot area and used as the accessible label.
	Title string
	// XLabel and YLabel name the axes (empty: none).
	XLabel, YLabel string
	// NoLegend leaves the legend out of a line chart (the page draws its own).
	NoLegend bool
	// Chinese writes large numbers with 万 and 亿 (6万, 1.2亿) instead of k and M.
	Chinese bool
	// Legend names the curves a chart draws of itself (KS: the positives' and
	// the negatives' curve); empty: the chart's own short names.
	Legend []string
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options { return Options{Width: 480, Height: 300} }

// EnsureDefaults fills zero sizes with the defaults.
func (o *Options) EnsureDefaults() {
	d := DefaultOptions()
	if o.Width <= 0 {
		o.Width = d.Width
	}
	if o.Height <= 0 {
		o.Height = d.Height
	}
}

func (o Options) validate() error {
	if math.IsNaN(o.Width) || math.IsNaN(o.Height) || math.IsInf(o.Width, 0) || math.IsInf(o.Height, 0) {
		return fmt.Errorf("%w: size %vx%v", ErrInvalidData, o.Width, o.Height)
	}
	if o.Width < MarginLeft+MarginRight+10 || o.Height < MarginTop+MarginBottom+10 {
		return fmt.Errorf("%w: size %vx%v leaves no plot area", ErrInvalidData, o.Width, o.Height)
	}
	return nil
}

// Palette colours, also used for the four-colour risk code.
const (
	ColorBlue   = "#2b6cb0"
	ColorGrey   = "#a0aec0"
	ColorGreen  = "#2f855a"
	ColorYellow = "#d69e2e"
	ColorOrange = "#dd6b20"
	ColorRed    = "#c53030"
)

var seriesColors = []string{ColorBlue, ColorOrange, ColorGreen, ColorRed, "#6b46c1", "#319795"}

// num formats a coordinate with at most two decimals and no trailing zeros.
func num(v float64) string {
	r := math.Round(v*100) / 100
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// esc escapes text for use in element content and attribute values.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		default:
			// Drop characters XML 1.0 forbids (control characters, invalid UTF-8).
			if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r != 0xFFFD && r < 0xFFFE) || (r > 0xFFFF && r <= 0x10FFFF) {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// canvas accumulates one SVG document.
type canvas struct {
	b    strings.Builder
	o    Options
	x0   float64 // plot area left
	x1   float64 // plot area right
	y0   float64 // plot area bottom (larger y)
	y1   float64 // plot area top
	minX float64
	maxX float64
	minY float64
	maxY float64
	f    func(float64) string // how numbers are written (formatNumber, formatNumberZH)
}

func newCanvas(o Options, kind string) *canvas {
	c := &canvas{o: o, x0: MarginLeft, x1: o.Width - MarginRight, y0: o.Height - MarginBottom, y1: MarginTop, f: formatNumber}
	if o.Chinese {
		c.f = formatNumberZH
	}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-%s" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s">`,
		kind, num(o.Width), num(o.Height), num(o.Width), num(o.Height), esc(o.Title))
	if o.Title != "" {
		// A title longer than the chart is cut to fit; the whole stays the tooltip.
		fmt.Fprintf(&c.b, `<title>%s</title><text class="title" x="%s" y="18" font-size="13" font-weight="600" fill="#1a202c">%s</text>`,
			esc(o.Title), num(MarginLeft), esc(cutText(o.Title, 13, o.Width-MarginLeft-4)))
	}
	return c
}

func (c *canvas) domain(minX, maxX, minY, maxY float64) {
	if maxX <= minX {
		maxX = minX + 1
	}
	if maxY <= minY {
		maxY = minY + 1
	}
	c.minX, c.maxX, c.minY, c.maxY = minX, maxX, minY, maxY
}

// X maps a data x onto the plot area.
func (c *canvas) X(v float64) float64 {
	return c.x0 + (v-c.minX)/(c.maxX-c.minX)*(c.x1-c.x0)
}

// Y maps a data y onto the plot area (up is larger).
func (c *canvas) Y(v float64) float64 {
	return c.y0 - (v-c.minY)/(c.maxY-c.minY)*(c.y0-c.y1)
}

// axes draws the frame, ticks and labels. xticks/yticks are data values.
func (c *canvas) axes(xticks, yticks []float64, xfmt, yfmt func(float64) string) {
	c.b.WriteString(`<g class="axes" font-size="10" fill="#4a5568" stroke="none">`)
	fmt.Fprintf(&c.b, `<line class="axis x" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#718096"/>`, num(c.x0), num(c.y0), num(c.x1), num(c.y0))
	fmt.Fprintf(&c.b, `<line class="axis y" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#718096"/>`, num(c.x0), num(c.y0), num(c.x0), num(c.y1))
	for _, t := range yticks {
		y := c.Y(t)
		fmt.Fprintf(&c.b, `<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#edf2f7"/>`, num(c.x0), num(y), num(c.x1), num(y))
		fmt.Fprintf(&c.b, `<text class="tick y" x="%s" y="%s" text-anchor="end">%s</text>`, num(c.x0-4), num(y+3), esc(yfmt(t)))
	}
	for _, t := range xticks {
		x := c.X(t)
		// Labels at the ends of the axis grow inwards so that they are never clipped.
		anchor := "middle"
		switch {
		case x >= c.x1-0.5 && len(xticks) > 1:
			anchor = "end"
		case x <= c.x0+0.5 && len(xticks) > 1:
			anchor = "start"
		}
		fmt.Fprintf(&c.b, `<text class="tick x" x="%s" y="%s" text-anchor="%s">%s</text>`, num(x), num(c.y0+14), anchor, esc(xfmt(t)))
	}
	if c.o.XLabel != "" {
		fmt.Fprintf(&c.b, `<text class="label x" x="%s" y="%s" text-anchor="middle">%s</text>`, num((c.x0+c.x1)/2), num(c.o.Height-6), esc(c.o.XLabel))
	}
	if c.o.YLabel != "" {
		fmt.Fprintf(&c.b, `<text class="label y" x="12" y="%s" text-anchor="middle" transform="rotate(-90 12 %s)">%s</text>`, num((c.y0+c.y1)/2), num((c.y0+c.y1)/2), esc(c.o.YLabel))
	}
	c.b.WriteString(`</g>`)
}

func (c *canvas) polyline(class, color string, pts []Point, dashed bool) {
	var sb strings.Builder
	for i, p := range pts {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(num(c.X(p.X)))
		sb.WriteByte(',')
		sb.WriteString(num(c.Y(p.Y)))
	}
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="4 3"`
	}
	fmt.Fprintf(&c.b, `<polyline class="%s" points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, class, sb.String(), color, dash)
}

func (c *canvas) legend(names, colors []string) {
	x := c.x1 - 120
	for i, n := range names {
		y := c.y1 + 8 + float64(i)*14
		fmt.Fprintf(&c.b, `<g class="legend"><rect x="%s" y="%s" width="10" height="10" fill="%s"/><text x="%s" y="%s" font-size="10" fill="#2d3748">%s</text></g>`,
			num(x), num(y-8), colors[i], num(x+14), num(y+1), esc(n))
	}
}

func (c *canvas) String() string {
	c.b.WriteString(`</svg>`)
	return c.b.String()
}

// NiceTicks returns evenly spaced round tick values (steps of 1, 2 or 5 times a power
// of ten) covering [lo, hi] with about n intervals. The first tick is ≤ lo and the
// last ≥ hi.
func NiceTicks(lo, hi float64, n int) []float64 {
	if n < 1 {
		n = 1
	}
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * mag
		if step >= raw*(1-1e-9) {
			break
		}
	}
	start := math.Floor(lo/step+1e-9) * step
	var ticks []float64
	for v := start; ; v += step {
		t := math.Round(v/step) * step
		ticks = append(ticks, t)
		if t >= hi-1e-9*step {
			break
		}
	}
	return ticks
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// cutText cuts s with "…" so that it fits in width at font size size
// (TextWidth's estimate).
func cutText(s string, size, width float64) string {
	if TextWidth(s, size) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && TextWidth(string(r)+"…", size) > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// formatNumberZH prints a value as formatNumber does, but large magnitudes in
// 万 (1e4) and 亿 (1e8), as Chinese readers count.
func formatNumberZH(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e8:
		return strconv.FormatFloat(v/1e8, 'g', 4, 64) + "亿"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e4, 'g', 4, 64) + "万"
	}
	return formatNumber(v)
}

// formatNumber prints a tick value compactly: integers plainly, others with up to 3
// significant decimals, large magnitudes with k/M suffixes.
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e8:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4 && math.Mod(v, 1000) == 0:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
