package svg

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// elem is a parsed XML element.
type elem struct {
	Name     string
	Attr     map[string]string
	Text     string
	Children []*elem
}

func parse(t testing.TB, s string) *elem {
	t.Helper()
	root, err := parseSVG(s)
	if err != nil {
		t.Fatalf("output is not well-formed XML: %v\n%s", err, s)
	}
	return root
}

func parseSVG(s string) (*elem, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	var stack []*elem
	var root *elem
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := &elem{Name: tk.Name.Local, Attr: map[string]string{}}
			for _, a := range tk.Attr {
				e.Attr[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, e)
			} else {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tk)
			}
		}
	}
	if root == nil || root.Name != "svg" {
		return nil, errors.New("no <svg> root")
	}
	return root, nil
}

// find returns every element whose class attribute contains class as a word.
func (e *elem) find(class string) []*elem {
	var out []*elem
	var walk func(*elem)
	walk = func(x *elem) {
		for _, c := range strings.Fields(x.Attr["class"]) {
			if c == class {
				out = append(out, x)
				break
			}
		}
		for _, ch := range x.Children {
			walk(ch)
		}
	}
	walk(e)
	return out
}

func attrF(t *testing.T, e *elem, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.Attr[name], 64)
	if err != nil {
		t.Fatalf("attribute %s=%q: %v", name, e.Attr[name], err)
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) <= 0.011 }

func checkRect(t *testing.T, r *elem, x, y, w, h float64) {
	t.Helper()
	got := [4]float64{attrF(t, r, "x"), attrF(t, r, "y"), attrF(t, r, "width"), attrF(t, r, "height")}
	want := [4]float64{x, y, w, h}
	for i := range got {
		if !near(got[i], want[i]) {
			t.Fatalf("rect (x,y,w,h) = %v, want %v", got, want)
		}
	}
}

func parsePoints(t *testing.T, s string) []Point {
	t.Helper()
	var out []Point
	for _, f := range strings.Fields(s) {
		xs, ys, ok := strings.Cut(f, ",")
		if !ok {
			t.Fatalf("bad point %q", f)
		}
		x, err1 := strconv.ParseFloat(xs, 64)
		y, err2 := strconv.ParseFloat(ys, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad point %q", f)
		}
		out = append(out, Point{x, y})
	}
	return out
}

func checkPoints(t *testing.T, got []Point, want []Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("points = %v, want %v", got, want)
	}
	for i := range got {
		if !near(got[i].X, want[i].X) || !near(got[i].Y, want[i].Y) {
			t.Fatalf("points = %v, want %v", got, want)
		}
	}
}

// small is a 272×168 chart: plot area x 56..256 (200 wide), y 28..128 (100 high).
var small = Options{Width: 272, Height: 168}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		n      int
		want   []float64
	}{
		{0, 47, 4, []float64{0, 20, 40, 60}}, // raw step 11.75 → 20
		{0, 4, 4, []float64{0, 1, 2, 3, 4}},
		{0, 1, 5, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{0.75, 0.79, 4, []float64{0.75, 0.76, 0.77, 0.78, 0.79}},
		{1, 3, 4, []float64{1, 1.5, 2, 2.5, 3}},
		{-3, 7, 2, []float64{-5, 0, 5, 10}}, // raw step 5
	}
	for _, tc := range tests {
		t.Run(strconv.FormatFloat(tc.hi, 'g', -1, 64), func(t *testing.T) {
			got := NiceTicks(tc.lo, tc.hi, tc.n)
			if len(got) != len(tc.want) {
				t.Fatalf("NiceTicks(%v, %v, %d) = %v, want %v", tc.lo, tc.hi, tc.n, got, tc.want)
			}
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-9 {
					t.Fatalf("NiceTicks(%v, %v, %d) = %v, want %v", tc.lo, tc.hi, tc.n, got, tc.want)
				}
			}
		})
	}
}

func TestHistogramGeometry(t *testing.T) {
	s, err := Histogram([]Bin{{0, 1, 2}, {1, 2, 4}}, small)
	if err != nil {
		t.Fatal(err)
	}
	bars := parse(t, s).find("bar")
	if len(bars) != 2 {
		t.Fatalf("%d bars, want 2", len(bars))
	}
	// y axis 0..4 (ticks 0,1,2,3,4): count 2 is half the height.
	checkRect(t, bars[0], 56, 78, 100, 50)
	checkRect(t, bars[1], 156, 28, 100, 100)
}

func TestROCGeometry(t *testing.T) {
	s, err := ROC([]Point{{0, 0}, {0.5, 0.8}, {1, 1}}, 0.775, small)
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, s)
	curve := doc.find("curve")
	if len(curve) != 1 {
		t.Fatalf("%d curves", len(curve))
	}
	checkPoints(t, parsePoints(t, curve[0].Attr["points"]), []Point{{56, 128}, {156, 48}, {256, 28}})
	checkPoints(t, parsePoints(t, doc.find("diagonal")[0].Attr["points"]), []Point{{56, 128}, {256, 28}})
	if got := doc.find("auc")[0].Text; got != "AUC = 0.775" {
		t.Fatalf("AUC label %q", got)
	}
}

func TestKSGeometry(t *testing.T) {
	s, err := KS(KSCurve{Fraction: []float64{0, 0.5, 1}, CumPos: []float64{0, 0.8, 1}, CumNeg: []float64{0, 0.3, 1}}, small)
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, s)
	ks := doc.find("ks")
	if len(ks) != 1 {
		t.Fatalf("%d ks markers", len(ks))
	}
	// Largest gap at fraction 0.5: from 0.3 (y=98) to 0.8 (y=48) at x=156.
	for name, want := range map[string]float64{"x1": 156, "x2": 156, "y1": 98, "y2": 48} {
		if got := attrF(t, ks[0], name); !near(got, want) {
			t.Fatalf("ks %s = %v, want %v", name, got, want)
		}
	}
	if got := doc.find("ks-value")[0].Text; got != "KS = 0.500" {
		t.Fatalf("KS label %q", got)
	}
}

func TestCalibrationGeometry(t *testing.T) {
	s, err := Calibration([]CalibrationBin{{0.1, 0.12, 50}, {0.3, 0.25, 40}}, small)
	if err != nil {
		t.Fatal(err)
	}
	pts := parse(t, s).find("point")
	if len(pts) != 2 {
		t.Fatalf("%d points", len(pts))
	}
	// Axes run 0..0.3: x = 56 + p/0.3*200, y = 128 - o/0.3*100.
	want := []Point{{56 + 200.0/3, 88}, {256, 128 - 250.0/3}}
	for i, p := range pts {
		got := Point{attrF(t, p, "cx"), attrF(t, p, "cy")}
		if !near(got.X, want[i].X) || !near(got.Y, want[i].Y) {
			t.Fatalf("point %d = %v, want %v", i, got, want[i])
		}
	}
}

func TestBarsGeometry(t *testing.T) {
	s, err := Bars([]Bar{{"A", 10, ColorGreen}, {"B", 20, ColorYellow}, {"C", 5, ""}, {"D", 0, ColorRed}}, small)
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, s)
	bars := doc.find("bar")
	if len(bars) != 4 {
		t.Fatalf("%d bars", len(bars))
	}
	// Bands of 50; bars 35 wide starting 7.5 into their band; y axis 0..20.
	checkRect(t, bars[0], 63.5, 78, 35, 50)
	checkRect(t, bars[1], 113.5, 28, 35, 100)
	checkRect(t, bars[2], 163.5, 103, 35, 25)
	checkRect(t, bars[3], 213.5, 128, 35, 0)
	if bars[0].Attr["fill"] != ColorGreen || bars[2].Attr["fill"] != ColorBlue {
		t.Fatalf("fills %q %q", bars[0].Attr["fill"], bars[2].Attr["fill"])
	}
	labels := doc.find("bar-label")
	if labels[3].Text != "D" || !near(attrF(t, labels[3], "x"), 231) {
		t.Fatalf("label D = %q at x=%s", labels[3].Text, labels[3].Attr["x"])
	}
}

func TestLinesGeometry(t *testing.T) {
	s, err := Lines([]Series{{Name: "valid", Points: []Point{{0, 1}, {1, 2.5}, {2, 3}}}},
		[]Tick{{0, "2024-01"}, {2, "2024-03"}}, small)
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, s)
	checkPoints(t, parsePoints(t, doc.find("curve")[0].Attr["points"]), []Point{{56, 128}, {156, 53}, {256, 28}})
	ticks := doc.find("x")
	var labels []string
	for _, e := range ticks {
		if e.Name == "text" && strings.Contains(e.Attr["class"], "tick") {
			labels = append(labels, e.Text)
		}
	}
	if strings.Join(labels, ",") != "2024-01,2024-03" {
		t.Fatalf("x tick labels %v", labels)
	}
}

func TestGraphLayout(t *testing.T) {
	o := Options{Width: 400, Height: 328} // centre (200, 178), ring radius 110
	tests := []struct {
		name string
		g    Graph
		want map[string]Point
	}{
		{"focus and two", Graph{Nodes: []Node{{ID: "F", Focus: true}, {ID: "B"}, {ID: "A"}}},
			map[string]Point{"F": {200, 178}, "A": {200, 68}, "B": {200, 288}}},
		{"four on ring", Graph{Nodes: []Node{{ID: "d"}, {ID: "c"}, {ID: "b"}, {ID: "a"}}},
			map[string]Point{"a": {200, 68}, "b": {310, 178}, "c": {200, 288}, "d": {90, 178}}},
		{"alone", Graph{Nodes: []Node{{ID: "x"}}}, map[string]Point{"x": {200, 178}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := GraphLayout(tc.g, o)
			for id, w := range tc.want {
				if g := got[id]; !near(g.X, w.X) || !near(g.Y, w.Y) {
					t.Fatalf("node %s at %v, want %v", id, g, w)
				}
			}
		})
	}
}

func TestGuaranteeGraphEdges(t *testing.T) {
	g := Graph{
		Nodes: []Node{{ID: "F", Label: "核心企业", Focus: true, Color: ColorRed}, {ID: "A"}, {ID: "B"}},
		Edges: []Edge{{From: "A", To: "F", Label: "guarantee 5,000,000"}, {From: "F", To: "B"}},
	}
	s, err := GuaranteeGraph(g, Options{Width: 400, Height: 328})
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, s)
	edges := doc.find("edge")
	if len(edges) != 2 {
		t.Fatalf("%d edges", len(edges))
	}
	// A (200,68) → F (200,178): shortened by the node radius at both ends.
	want := [][4]float64{{200, 78, 200, 168}, {200, 188, 200, 278}}
	for i, e := range edges {
		got := [4]float64{attrF(t, e, "x1"), attrF(t, e, "y1"), attrF(t, e, "x2"), attrF(t, e, "y2")}
		for j := range got {
			if !near(got[j], want[i][j]) {
				t.Fatalf("edge %d = %v, want %v", i, got, want[i])
			}
		}
	}
	focus := doc.find("focus")
	if len(focus) != 1 || focus[0].Attr["data-id"] != "F" {
		t.Fatalf("focus nodes %v", focus)
	}
	if !strings.Contains(s, "核心企业") {
		t.Fatal("label missing")
	}
}

func TestEscaping(t *testing.T) {
	evil := `<script>alert("x")</script> & 'q'`
	s, err := Bars([]Bar{{Label: evil, Value: 1}}, Options{Title: evil})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "<script>") {
		t.Fatal("label not escaped")
	}
	doc := parse(t, s)
	if got := doc.find("bar-label")[0].Text; got != evil {
		t.Fatalf("label round trip %q", got)
	}
	if doc.Attr["aria-label"] != evil {
		t.Fatalf("aria-label %q", doc.Attr["aria-label"])
	}
}

func TestInvalidData(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		draw func() (string, error)
	}{
		{"histogram empty", func() (string, error) { return Histogram(nil, Options{}) }},
		{"histogram negative", func() (string, error) { return Histogram([]Bin{{0, 1, -1}}, Options{}) }},
		{"histogram overlap", func() (string, error) { return Histogram([]Bin{{0, 2, 1}, {1, 3, 1}}, Options{}) }},
		{"histogram NaN edge", func() (string, error) { return Histogram([]Bin{{nan, 1, 1}}, Options{}) }},
		{"roc outside", func() (string, error) { return ROC([]Point{{0, 0}, {1, 1.5}}, 0.5, Options{}) }},
		{"roc auc", func() (string, error) { return ROC([]Point{{0, 0}, {1, 1}}, nan, Options{}) }},
		{"ks ragged", func() (string, error) {
			return KS(KSCurve{Fraction: []float64{0, 1}, CumPos: []float64{0}}, Options{})
		}},
		{"calibration NaN", func() (string, error) { return Calibration([]CalibrationBin{{nan, 0, 1}}, Options{}) }},
		{"bars negative", func() (string, error) { return Bars([]Bar{{"a", -1, ""}}, Options{}) }},
		{"bars colour", func() (string, error) { return Bars([]Bar{{"a", 1, `red" onload="x`}}, Options{}) }},
		{"lines empty series", func() (string, error) { return Lines([]Series{{Name: "a"}}, nil, Options{}) }},
		{"lines inf", func() (string, error) {
			return Lines([]Series{{Points: []Point{{0, math.Inf(1)}}}}, nil, Options{})
		}},
		{"graph unknown node", func() (string, error) {
			return GuaranteeGraph(Graph{Nodes: []Node{{ID: "a"}}, Edges: []Edge{{From: "a", To: "b"}}}, Options{})
		}},
		{"graph duplicate", func() (string, error) {
			return GuaranteeGraph(Graph{Nodes: []Node{{ID: "a"}, {ID: "a"}}}, Options{})
		}},
		{"tiny size", func() (string, error) { return Bars([]Bar{{"a", 1, ""}}, Options{Width: 20, Height: 20}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.draw()
			if !errors.Is(err, ErrInvalidData) {
				t.Fatalf("err = %v, want ErrInvalidData", err)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	g := Graph{Nodes: []Node{{ID: "c"}, {ID: "a", Focus: true}, {ID: "b"}}, Edges: []Edge{{From: "b", To: "a"}}}
	a, err := GuaranteeGraph(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.Nodes[0], g.Nodes[2] = g.Nodes[2], g.Nodes[0]
	b, _ := GuaranteeGraph(g, Options{})
	if a != b {
		t.Fatal("node order changed the picture")
	}
}

func FuzzLabels(f *testing.F) {
	f.Add("", "<&>\"'")
	f.Add("企业\x00\xff", "]]>")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []func() (string, error){
			func() (string, error) {
				return Bars([]Bar{{Label: a, Value: 1}, {Label: b, Value: 2}}, Options{Title: b})
			},
			func() (string, error) {
				return GuaranteeGraph(Graph{Nodes: []Node{{ID: "x" + a, Label: b, Focus: true}, {ID: "y" + b, Label: a}},
					Edges: []Edge{{From: "x" + a, To: "y" + b, Label: a}}}, Options{Title: a})
			},
			func() (string, error) {
				return Lines([]Series{{Name: a, Points: []Point{{0, 1}}}}, []Tick{{0, b}}, Options{XLabel: a, YLabel: b})
			},
		} {
			out, err := s()
			if err != nil {
				continue // e.g. equal ids after prefixing cannot happen; any error must be ErrInvalidData
			}
			if _, err := parseSVG(out); err != nil {
				t.Fatalf("not well-formed for %q, %q: %v", a, b, err)
			}
		}
	})
}

func BenchmarkHistogram(b *testing.B) {
	bins := make([]Bin, 50)
	for i := range bins {
		bins[i] = Bin{float64(i), float64(i + 1), int64(i * 37 % 101)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Histogram(bins, Options{Title: "sales"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGuaranteeGraph(b *testing.B) {
	g := Graph{Nodes: []Node{{ID: "focus", Focus: true}}}
	for i := range 40 {
		id := "n" + strconv.Itoa(i)
		g.Nodes = append(g.Nodes, Node{ID: id, Label: "企业" + id})
		g.Edges = append(g.Edges, Edge{From: id, To: "focus"})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := GuaranteeGraph(g, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLinesThresholds: a reference line sits where its value maps on the y
// axis (0.1 on the 0.1 grid line, 0.25 halfway between 0.2 and 0.3) even when
// every point lies below it, carries its label, and NoLegend leaves the legend
// out.
func TestLinesThresholds(t *testing.T) {
	o := small
	o.NoLegend = true
	s, err := LinesWithThresholds([]Series{{Name: "score", Points: []Point{{0, 0.02}, {1, 0.05}}}, {Name: "tax", Points: []Point{{0, 0.01}, {1, 0.03}}}},
		[]Tick{{0, "2024-01"}, {1, "2024-02"}}, []Threshold{{Value: 0.1, Label: "watch 0.1"}, {Value: 0.25, Label: "act 0.25", Color: "#c53030"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, s)
	gridY := map[string]float64{}
	for _, e := range doc.find("y") {
		if e.Name == "text" && strings.Contains(e.Attr["class"], "tick") {
			gridY[strings.TrimSpace(e.Text)] = attrF(t, e, "y") - 3 // labels sit 3 below their line
		}
	}
	th := doc.find("threshold")
	if len(th) != 2 {
		t.Fatalf("%d thresholds", len(th))
	}
	want := []float64{gridY["0.1"], (gridY["0.2"] + gridY["0.3"]) / 2}
	for i, g := range th {
		line, text := g.Children[0], g.Children[1]
		if y := attrF(t, line, "y1"); !near(y, want[i]) || !near(attrF(t, line, "y2"), want[i]) {
			t.Fatalf("threshold %d at y %v, want %v (ticks %v)", i, y, want[i], gridY)
		}
		if text.Text != []string{"watch 0.1", "act 0.25"}[i] {
			t.Fatalf("threshold %d label %q", i, text.Text)
		}
	}
	if len(doc.find("legend")) != 0 {
		t.Fatal("a legend with NoLegend")
	}
	if _, err := LinesWithThresholds([]Series{{Points: []Point{{0, 1}}}}, nil, []Threshold{{Value: math.NaN()}}, o); err == nil {
		t.Fatal("a NaN threshold was drawn")
	}
}

func TestChineseNumbers(t *testing.T) {
	for v, want := range map[float64]string{60000: "6万", 125000: "12.5万", 2.35e8: "2.35亿", 9000: "9000", 0.25: "0.25", -30000: "-3万"} {
		if got := formatNumberZH(v); got != want {
			t.Errorf("formatNumberZH(%v) = %q, want %q", v, got, want)
		}
	}
	s, err := Histogram([]Bin{{Lo: 0, Hi: 1, Count: 45000}, {Lo: 1, Hi: 2, Count: 17000}}, Options{Chinese: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, ">4万<") || strings.Contains(s, "k<") {
		t.Fatalf("a Chinese histogram's axis is not in 万:\n%s", s)
	}
}

func TestLongTitleFits(t *testing.T) {
	title := "Distribution · litigation amount as defendant, number of records over 12 months"
	s, err := Histogram([]Bin{{Lo: 0, Hi: 1, Count: 3}}, Options{Title: title, Width: 400})
	if err != nil {
		t.Fatal(err)
	}
	// 400 − 56 − 4 = 340 units at 13 × 0.6 = 7.8 per Latin character: 43
	// characters, 42 and the ellipsis (335.4 units).
	want := esc(string([]rune(title)[:42])) + "…"
	if !strings.Contains(s, ">"+want+"</text>") || !strings.Contains(s, "<title>"+esc(title)+"</title>") {
		t.Fatalf("title not cut to %q, or not whole in the tooltip:\n%s", want, s)
	}
}

func TestLinesThinDatesAndThresholds(t *testing.T) {
	// 13 month-ends on a 520-wide chart: the plot is 448 units, 37.3 between
	// dates; a 10-character date at font size 10 is 60 units (+6 apart): every
	// 2nd date from the newest (74.7 ≥ 66 > 37.3).
	var pts []Point
	var ticks []Tick
	for i := range 13 {
		pts = append(pts, Point{X: float64(i), Y: 0.01 * float64(i)})
		ticks = append(ticks, Tick{Value: float64(i), Label: fmt.Sprintf("%d-%02d-28", 2025+i/12, i%12+1)})
	}
	s, err := LinesWithThresholds([]Series{{Points: pts}}, ticks, []Threshold{{Value: 0.1, Label: "0.1 关注"}, {Value: 0.25, Label: "0.25 显著偏移"}}, Options{Width: 520})
	if err != nil {
		t.Fatal(err)
	}
	root := parse(t, s)
	var labelled []string
	for _, e := range root.find("tick") {
		if e.Attr["class"] == "tick x" {
			labelled = append(labelled, e.Text)
		}
	}
	want := []string{"2025-01-28", "2025-03-28", "2025-05-28", "2025-07-28", "2025-09-28", "2025-11-28", "2026-01-28"}
	if !slices.Equal(labelled, want) {
		t.Fatalf("x labels %q, want %q", labelled, want)
	}
	// The y axis reaches the higher threshold: ticks 0..0.3.
	if th := root.find("threshold"); len(th) != 2 || !strings.Contains(s, ">0.25 显著偏移</text>") || !strings.Contains(s, ">0.3</text>") {
		t.Fatalf("thresholds not drawn or the axis does not reach them:\n%s", s)
	}
}
