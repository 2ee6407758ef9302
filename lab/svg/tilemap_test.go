package svg

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// riskScale is the console's scale: ten classes of five index points.
var riskScale = ColorScale{
	Breaks: []float64{5, 10, 15, 20, 25, 30, 35, 40, 45},
	Colors: []string{"#c6efce", "#d9f2c4", "#ecf5bb", "#fff2b3", "#ffe0a3", "#ffcd93", "#ffb784", "#ff9f78", "#f8826d", "#ea6a63"},
	Unit:   "风险指数（0–100）", NoData: "未公布", Lowest: "0",
}

func tileFill(t *testing.T, g *elem) string {
	t.Helper()
	for _, ch := range g.Children {
		if ch.Name == "rect" {
			return ch.Attr["fill"]
		}
	}
	t.Fatalf("tile without a rect")
	return ""
}

func tileTitle(g *elem) string {
	for _, ch := range g.Children {
		if ch.Name == "title" {
			return ch.Text
		}
	}
	return ""
}

func TestTileMapLayoutAndColours(t *testing.T) {
	// The five districts of 佛山 in the project's layout, values chosen so
	// that each lands in a different class by hand: 3 < 5 → class 0; 12.3 in
	// [10, 15) → class 2; 29.99 in [25, 30) → class 5; 45 ≥ 45 → class 9.
	tiles := []Tile{
		{Col: 0, Row: 0, Label: "三水区", Value: 3},
		{Col: 1, Row: 0, Label: "南海区", Value: 12.3, Href: "screenings/s1/explore?district=南海区&tier=high"},
		{Col: 0, Row: 1, Label: "高明区", Value: 29.99},
		{Col: 1, Row: 1, Label: "禅城区", Value: 45, Title: "禅城区：风险指数 45.0"},
		{Col: 1, Row: 2, Label: "顺德区", NoValue: true},
	}
	wantFill := map[string]string{"三水区": "#c6efce", "南海区": "#ecf5bb", "高明区": "#ffcd93", "禅城区": "#ea6a63", "顺德区": ColorNoData}
	o := Options{Width: 420, Height: 420, Title: "各区风险地图"}
	s, err := TileMap(tiles, riskScale, o)
	if err != nil {
		t.Fatal(err)
	}
	root := parse(t, s)
	groups := root.find("tile")
	if len(groups) != len(tiles) {
		t.Fatalf("%d tiles drawn, want %d", len(groups), len(tiles))
	}
	// Every district drawn once, in its colour, with its label and a tooltip.
	seen := map[string]int{}
	type box struct{ x, y, w, h float64 }
	var boxes []box
	for _, g := range groups {
		var label string
		var r *elem
		for _, ch := range g.Children {
			if ch.Attr["class"] == "tile-label" {
				label = ch.Text
			}
			if ch.Name == "rect" {
				r = ch
			}
		}
		seen[label]++
		if got := tileFill(t, g); got != wantFill[label] {
			t.Errorf("%s filled %s, want %s", label, got, wantFill[label])
		}
		if tileTitle(g) == "" {
			t.Errorf("%s has no tooltip", label)
		}
		boxes = append(boxes, box{attrF(t, r, "x"), attrF(t, r, "y"), attrF(t, r, "width"), attrF(t, r, "height")})
	}
	for _, tl := range tiles {
		if seen[tl.Label] != 1 {
			t.Errorf("%s drawn %d times", tl.Label, seen[tl.Label])
		}
	}
	// No two tiles overlap, and each lies inside the picture above the legend.
	for i, a := range boxes {
		if a.x < 0 || a.y < MarginTop || a.x+a.w > o.Width || a.y+a.h > o.Height-TileLegendH {
			t.Errorf("tile %d %+v leaves the map area", i, a)
		}
		for j, b := range boxes[:i] {
			if a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h {
				t.Errorf("tiles %d %+v and %d %+v overlap", i, a, j, b)
			}
		}
	}
	// The geometry by hand: 2 columns × 3 rows in a 404 × (420-28-58-8) = 326
	// area: tiles of 326/3 = 108.67, the grid centred horizontally.
	size := 326.0 / 3
	x0 := 8 + (404-2*size)/2
	if !near(boxes[3].x, x0+size+TileGap/2) || !near(boxes[3].y, MarginTop+size+TileGap/2) || !near(boxes[3].w, size-TileGap) {
		t.Errorf("禅城区 at %+v, want x %.2f y %.2f side %.2f", boxes[3], x0+size+TileGap/2, MarginTop+size+TileGap/2, size-TileGap)
	}
	// The tooltip given is used; the default says the label and figure.
	if got := tileTitle(groups[3]); got != "禅城区：风险指数 45.0" {
		t.Errorf("禅城区 tooltip %q", got)
	}
	if got := tileTitle(groups[1]); got != "南海区: 12.3" {
		t.Errorf("南海区 tooltip %q", got)
	}
	if got := tileTitle(groups[4]); got != "顺德区: —" {
		t.Errorf("顺德区 tooltip %q", got)
	}
	// A tile with a link is wrapped in one, escaped.
	links := root.find("tile-link")
	if len(links) != 1 || links[0].Attr["href"] != "screenings/s1/explore?district=南海区&tier=high" {
		t.Fatalf("links %v", links)
	}
	if !strings.Contains(s, `href="screenings/s1/explore?district=南海区&amp;tier=high"`) {
		t.Errorf("link not escaped in\n%s", s)
	}
	// The legend: the unit, ten swatches in the scale's colours and the lower
	// bounds 0, 5, …, 45+, and the no-data swatch.
	sw := root.find("legend-swatch")
	if len(sw) != 11 {
		t.Fatalf("%d legend swatches, want 10 classes and no data", len(sw))
	}
	var labels []string
	for _, l := range root.find("legend-label") {
		labels = append(labels, l.Text)
	}
	if got := strings.Join(labels, " "); got != "未公布 0 5 10 15 20 25 30 35 40 45+" {
		t.Errorf("legend labels %q", got)
	}
	if u := root.find("legend-unit"); len(u) != 1 || u[0].Text != "风险指数（0–100）" {
		t.Errorf("legend unit %v", u)
	}
	for i, c := range riskScale.Colors {
		if sw[i+1].Attr["fill"] != c {
			t.Errorf("swatch %d %s, want %s", i, sw[i+1].Attr["fill"], c)
		}
	}
	// Legend labels in a row do not overlap: each starts after the one before
	// it ends (width estimated as TextWidth).
	ls := root.find("legend-label")[1:]
	for i := 1; i < len(ls); i++ {
		if end := attrF(t, ls[i-1], "x") + TextWidth(ls[i-1].Text, 10); end > attrF(t, ls[i], "x") {
			t.Errorf("legend label %q ends at %.1f after %q starts at %.1f", ls[i-1].Text, end, ls[i].Text, attrF(t, ls[i], "x"))
		}
	}
}

func TestColorScaleClasses(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want int
	}{{-1, 0}, {0, 0}, {4.99, 0}, {5, 1}, {9.99, 1}, {44.9, 8}, {45, 9}, {100, 9}} {
		if got := riskScale.Color(c.v); got != riskScale.Colors[c.want] {
			t.Errorf("Color(%v) = %s, want class %d %s", c.v, got, c.want, riskScale.Colors[c.want])
		}
	}
}

func TestTileMapLongLabelsFit(t *testing.T) {
	tiles := []Tile{{Col: 0, Row: 0, Label: strings.Repeat("很长的区县名称", 4), Value: 1}, {Col: 1, Row: 0, Label: "Chancheng District of Foshan City", Value: 2}}
	s, err := TileMap(tiles, riskScale, Options{Width: 300, Height: 240})
	if err != nil {
		t.Fatal(err)
	}
	root := parse(t, s)
	for _, g := range root.find("tile") {
		var side float64
		for _, ch := range g.Children {
			if ch.Name == "rect" {
				side = attrF(t, ch, "width")
			}
		}
		for _, ch := range g.Children {
			if ch.Attr["class"] == "tile-label" {
				if w := TextWidth(ch.Text, attrF(t, ch, "font-size")); w > side {
					t.Errorf("label %q (%.1f wide) overflows its tile of %.1f", ch.Text, w, side)
				}
				if !strings.HasSuffix(ch.Text, "…") {
					t.Errorf("label %q not shortened", ch.Text)
				}
			}
		}
	}
}

func TestTileMapInvalid(t *testing.T) {
	ok := []Tile{{Col: 0, Row: 0, Label: "a", Value: 1}}
	for name, c := range map[string]struct {
		tiles []Tile
		scale ColorScale
		o     Options
	}{
		"no tiles":       {nil, riskScale, Options{}},
		"same place":     {[]Tile{{Label: "a"}, {Label: "b"}}, riskScale, Options{}},
		"negative col":   {[]Tile{{Col: -1, Label: "a"}}, riskScale, Options{}},
		"huge row":       {[]Tile{{Row: MaxTileGrid, Label: "a"}}, riskScale, Options{}},
		"NaN value":      {[]Tile{{Label: "a", Value: math.NaN()}}, riskScale, Options{}},
		"colours":        {ok, ColorScale{Breaks: []float64{1, 2}, Colors: []string{"#fff", "#000"}}, Options{}},
		"breaks order":   {ok, ColorScale{Breaks: []float64{2, 1}, Colors: []string{"#fff", "#000", "#111"}}, Options{}},
		"bad colour":     {ok, ColorScale{Breaks: []float64{1}, Colors: []string{"#fff", "red"}}, Options{}},
		"tiles too tiny": {[]Tile{{Label: "a"}, {Col: 40, Row: 40, Label: "b"}}, riskScale, Options{}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := TileMap(c.tiles, c.scale, c.o); !errors.Is(err, ErrInvalidData) {
				t.Fatalf("err = %v, want ErrInvalidData", err)
			}
		})
	}
	// A tile without a value may carry NaN.
	if _, err := TileMap([]Tile{{Label: "a", Value: math.NaN(), NoValue: true}}, riskScale, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestDarkTiles(t *testing.T) {
	for c, want := range map[string]bool{"#ffffff": false, "#c6efce": false, "#ea6a63": true, "#000": true, "#2b6cb0": true, "#fff2b3": false} {
		if got := dark(c); got != want {
			t.Errorf("dark(%s) = %v", c, got)
		}
	}
}
