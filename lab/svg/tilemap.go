package svg

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Tile is one area of a tile map: a square at (Col, Row) of a grid (Col counts
// from the left, Row from the top), coloured by Value.
type Tile struct {
	Col, Row int
	// Label is written on the tile (a district's name).
	Label string
	// Value colours the tile through the map's scale; NoValue marks a tile
	// without a figure (suppressed, no data): grey, with NoValueText.
	Value   float64
	NoValue bool
	// ValueText is the figure written under the label (default: Value as a
	// number; NoValueText when NoValue).
	ValueText string
	// Title is the tooltip (default "Label: ValueText").
	Title string
	// Href makes the tile a link (empty: none).
	Href string
}

// ColorScale maps values onto colours by class: a value below Breaks[0] gets
// Colors[0], one in [Breaks[i-1], Breaks[i]) gets Colors[i], one at or above the
// last break the last colour.
type ColorScale struct {
	Breaks []float64
	Colors []string
	// Unit names what the values are, written above the legend
	// ("风险指数（0–100，越高风险越大）").
	Unit string
	// NoData labels the legend's grey swatch for tiles without a value (empty:
	// no such swatch).
	NoData string
	// Lowest labels the lowest class in the legend (default "<" and the first
	// break; "0" for a scale that starts at zero).
	Lowest string
}

// ColorNoData is the fill of a tile without a value.
const ColorNoData = "#e2e8f0"

// Color returns the colour of v.
func (s ColorScale) Color(v float64) string {
	i := 0
	for i < len(s.Breaks) && v >= s.Breaks[i] {
		i++
	}
	return s.Colors[i]
}

func (s ColorScale) validate() error {
	if len(s.Colors) == 0 || len(s.Colors) != len(s.Breaks)+1 {
		return fmt.Errorf("%w: colour scale has %d colours for %d breaks (want one more colour than breaks)", ErrInvalidData, len(s.Colors), len(s.Breaks))
	}
	if len(s.Colors) > 32 {
		return fmt.Errorf("%w: colour scale has %d classes, at most 32", ErrInvalidData, len(s.Colors))
	}
	for i, b := range s.Breaks {
		if !finite(b) || (i > 0 && b <= s.Breaks[i-1]) {
			return fmt.Errorf("%w: colour scale break %d (%v) is not finite and above the one before", ErrInvalidData, i, b)
		}
	}
	for i, c := range s.Colors {
		if !validColor(c) {
			return fmt.Errorf("%w: colour scale colour %d %q is not #rgb or #rrggbb", ErrInvalidData, i, c)
		}
	}
	return nil
}

// MaxTileGrid bounds a tile map's grid on each side.
const MaxTileGrid = 64

// Tile map geometry: the gap between tiles and the height of the legend below
// them, in SVG user units.
const (
	TileGap      = 6.0
	TileLegendH  = 58.0
	tilePad      = 8.0
	tileMinSize  = 24.0
	legendSwatch = 12.0
)

// TileGeometry is where TileMap puts the grid: tile (c, r) is the square of
// side Size-TileGap at (X0 + c×Size + TileGap/2, Y0 + r×Size + TileGap/2).
type TileGeometry struct {
	X0, Y0, Size float64
	Cols, Rows   int
}

// TileLayout returns the geometry TileMap uses for tiles in o (o with its
// defaults filled).
func TileLayout(tiles []Tile, o Options) TileGeometry {
	cols, rows := 1, 1
	for _, t := range tiles {
		cols, rows = max(cols, t.Col+1), max(rows, t.Row+1)
	}
	top := tilePad
	if o.Title != "" {
		top = MarginTop
	}
	w := o.Width - 2*tilePad
	h := o.Height - top - TileLegendH - tilePad
	size := math.Min(w/float64(cols), h/float64(rows))
	return TileGeometry{X0: tilePad + (w-size*float64(cols))/2, Y0: top, Size: size, Cols: cols, Rows: rows}
}

// TileMap draws tiles as a grid map coloured by scale, each tile with its label,
// its figure and a tooltip, and a legend below: the unit, one swatch per class
// with its lower bound, and the no-data swatch. Two tiles may not share a place;
// a value must be finite unless NoValue.
func TileMap(tiles []Tile, scale ColorScale, o Options) (string, error) {
	o.EnsureDefaults()
	if err := o.validate(); err != nil {
		return "", err
	}
	if err := scale.validate(); err != nil {
		return "", err
	}
	if len(tiles) == 0 {
		return "", fmt.Errorf("%w: tile map without tiles", ErrInvalidData)
	}
	at := make(map[[2]int]string, len(tiles))
	for i, t := range tiles {
		if t.Col < 0 || t.Row < 0 || t.Col >= MaxTileGrid || t.Row >= MaxTileGrid {
			return "", fmt.Errorf("%w: tile %d %q at (%d, %d) is outside the grid of %d×%d", ErrInvalidData, i, t.Label, t.Col, t.Row, MaxTileGrid, MaxTileGrid)
		}
		if !t.NoValue && !finite(t.Value) {
			return "", fmt.Errorf("%w: tile %q has the value %v", ErrInvalidData, t.Label, t.Value)
		}
		k := [2]int{t.Col, t.Row}
		if other, ok := at[k]; ok {
			return "", fmt.Errorf("%w: tiles %q and %q are both at (%d, %d)", ErrInvalidData, other, t.Label, t.Col, t.Row)
		}
		at[k] = t.Label
	}
	g := TileLayout(tiles, o)
	if g.Size < tileMinSize {
		return "", fmt.Errorf("%w: a %vx%v tile map of %d×%d tiles leaves tiles of %v units", ErrInvalidData, o.Width, o.Height, g.Cols, g.Rows, num(g.Size))
	}
	c := newCanvas(o, "tilemap")
	c.b.WriteString(`<g class="tiles">`)
	side := g.Size - TileGap
	for _, t := range tiles {
		x := g.X0 + float64(t.Col)*g.Size + TileGap/2
		y := g.Y0 + float64(t.Row)*g.Size + TileGap/2
		fill, value := ColorNoData, t.ValueText
		if !t.NoValue {
			fill = scale.Color(t.Value)
			if value == "" {
				value = formatNumber(t.Value)
			}
		} else if value == "" {
			value = "—"
		}
		title := t.Title
		if title == "" {
			title = t.Label + ": " + value
		}
		ink := "#1a202c"
		if dark(fill) {
			ink = "#ffffff"
		}
		if t.Href != "" {
			fmt.Fprintf(&c.b, `<a class="tile-link" href="%s">`, esc(t.Href))
		}
		fmt.Fprintf(&c.b, `<g class="tile" data-col="%d" data-row="%d"><title>%s</title>`, t.Col, t.Row, esc(title))
		fmt.Fprintf(&c.b, `<rect class="tile-area" x="%s" y="%s" width="%s" height="%s" rx="6" fill="%s" stroke="#ffffff" stroke-width="1"/>`,
			num(x), num(y), num(side), num(side), fill)
		lfs, label := fitText(t.Label, side-8, 14)
		vfs, vtext := fitText(value, side-8, 18)
		fmt.Fprintf(&c.b, `<text class="tile-label" x="%s" y="%s" text-anchor="middle" font-size="%s" fill="%s">%s</text>`,
			num(x+side/2), num(y+side/2-4), num(lfs), ink, esc(label))
		fmt.Fprintf(&c.b, `<text class="tile-value" x="%s" y="%s" text-anchor="middle" font-size="%s" font-weight="600" fill="%s">%s</text>`,
			num(x+side/2), num(y+side/2+vfs+2), num(vfs), ink, esc(vtext))
		c.b.WriteString(`</g>`)
		if t.Href != "" {
			c.b.WriteString(`</a>`)
		}
	}
	c.b.WriteString(`</g>`)
	tileLegend(&c.b, scale, o)
	return c.String(), nil
}

// tileLegend draws the unit on the first line (the no-data swatch at its right
// end) and one swatch per class in a row below it, each with its lower bound.
func tileLegend(b interface{ WriteString(string) (int, error) }, s ColorScale, o Options) {
	top := o.Height - TileLegendH
	right := o.Width - tilePad
	b.WriteString(`<g class="legend" font-size="10" fill="#2d3748">`)
	if s.NoData != "" {
		_, label := fitText(s.NoData, o.Width/3, 10)
		lx := right - TextWidth(label, 10)
		b.WriteString(fmt.Sprintf(`<rect class="legend-swatch nodata" x="%s" y="%s" width="%s" height="%s" fill="%s"/><text class="legend-label" x="%s" y="%s" text-anchor="end">%s</text>`,
			num(lx-legendSwatch-4), num(top+2), num(legendSwatch), num(legendSwatch), ColorNoData, num(right), num(top+12), esc(label)))
		right = lx - legendSwatch - 12
	}
	if s.Unit != "" {
		_, unit := fitText(s.Unit, right-tilePad, 11)
		b.WriteString(fmt.Sprintf(`<text class="legend-unit" x="%s" y="%s" font-size="11">%s</text>`, num(tilePad), num(top+12), esc(unit)))
	}
	w := math.Min(44, (o.Width-2*tilePad)/float64(len(s.Colors)))
	for i, col := range s.Colors {
		x := tilePad + float64(i)*w
		var label string
		switch {
		case i == 0 && s.Lowest != "":
			label = s.Lowest
		case i == 0:
			label = "<" + formatNumber(s.Breaks[0])
		case i == len(s.Colors)-1:
			label = formatNumber(s.Breaks[i-1]) + "+"
		default:
			label = formatNumber(s.Breaks[i-1])
		}
		_, label = fitText(label, w-2, 10)
		b.WriteString(fmt.Sprintf(`<rect class="legend-swatch" x="%s" y="%s" width="%s" height="%s" fill="%s"/><text class="legend-label" x="%s" y="%s">%s</text>`,
			num(x), num(top+22), num(w-2), num(legendSwatch), col, num(x), num(top+22+legendSwatch+12), esc(label)))
	}
	b.WriteString(`</g>`)
}

// TextWidth estimates the width of s at font size fs: a wide (CJK) rune is one
// em, any other 0.6 em.
func TextWidth(s string, fs float64) float64 {
	var w float64
	for _, r := range s {
		if r >= 0x2E80 {
			w += fs
		} else {
			w += 0.6 * fs
		}
	}
	return w
}

// fitText returns the font size (down to 9) at which s fits in width, and s
// shortened with an ellipsis when even that does not fit.
func fitText(s string, width, fs float64) (float64, string) {
	for ; fs > 9 && TextWidth(s, fs) > width; fs-- {
	}
	if TextWidth(s, fs) <= width {
		return fs, s
	}
	r := []rune(s)
	for len(r) > 1 && TextWidth(string(r)+"…", fs) > width {
		r = r[:len(r)-1]
	}
	return fs, string(r) + "…"
}

// dark reports whether a #rgb or #rrggbb colour needs light text (relative
// luminance under 0.4).
func dark(c string) bool {
	if !validColor(c) {
		return false
	}
	h := c[1:]
	if utf8.RuneCountInString(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return false
	}
	lin := func(x uint64) float64 {
		f := float64(x) / 255
		if f <= 0.03928 {
			return f / 12.92
		}
		return math.Pow((f+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(v>>16&0xff) + 0.7152*lin(v>>8&0xff) + 0.0722*lin(v&0xff)
	return l < 0.4
}
