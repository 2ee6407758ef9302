package reports

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/xinyi-platform/xinyi/datasets"
)

// DefaultFontPath is Debian's fonts-droid-fallback CJK font (Apache 2.0), which
// scripts/report-tools.sh installs.
const DefaultFontPath = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"

// cjkFont names the embedded TrueType font in the document; Latin text is set in
// the PDF's standard Helvetica, which the fallback font has no glyphs for.
const cjkFont = "cjk"

// fontCache keeps font files read once per path.
var fontCache sync.Map // path → []byte

func loadFont(path string) ([]byte, error) {
	if b, ok := fontCache.Load(path); ok {
		return b.([]byte), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reports: CJK font (install fonts-droid-fallback, see scripts/report-tools.sh): %w", err)
	}
	fontCache.Store(path, b)
	return b, nil
}

// page geometry, millimetres
const (
	marginX  = 18.0
	marginY  = 16.0
	pageW    = 210.0
	textW    = pageW - 2*marginX
	qrSize   = 34.0
	footerY  = 297.0 - 12
	maxPages = 200
)

// renderer lays out one report.
type renderer struct {
	pdf  *fpdf.Fpdf
	size float64 // current font size, points
	bold bool
}

// render writes r as a PDF ending in %%EOF and a newline, not yet signed.
func render(r *Report, font []byte) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(true)
	pdf.SetCreationDate(r.IssuedAt)
	pdf.SetModificationDate(r.IssuedAt)
	pdf.SetTitle("企业信用报告 "+r.ID, true)
	pdf.SetAuthor("Xinyi credit platform", true)
	pdf.SetSubject("credit report "+r.ID+" for "+r.Company, true)
	pdf.SetCreator("xinyi reports", true)
	pdf.SetMargins(marginX, marginY, marginX)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddUTF8FontFromBytes(cjkFont, "", font)
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("reports: CJK font: %w", err)
	}
	w := &renderer{pdf: pdf}
	pdf.SetFooterFunc(func() {
		pdf.SetY(footerY)
		w.font(7.5, false)
		w.lineAt(marginX, footerY, fmt.Sprintf("报告编号 Report No. %s  |  验证 Verify: %s  |  第 %d 页 Page %d", r.ID, r.VerifyURL, pdf.PageNo(), pdf.PageNo()))
	})
	pdf.AddPage()

	// Header, with the QR code of the verification URL at the top right.
	if err := w.qr(r.VerifyURL, pageW-marginX-qrSize, marginY); err != nil {
		return nil, err
	}
	w.font(7.5, false)
	w.lineAt(pageW-marginX-qrSize, marginY+qrSize+3.5, "扫码验证 Scan to verify")
	y := marginY + 2
	w.font(20, true)
	y = w.text(marginX, y, textW-qrSize-4, 9, "企业信用报告")
	w.font(13, false)
	y = w.text(marginX, y, textW-qrSize-4, 6.5, "Enterprise Credit Report")
	y += 2
	zh, en := purposeText[r.Purpose][0], purposeText[r.Purpose][1]
	w.font(10, false)
	y = w.text(marginX, y, textW-qrSize-4, 5, zh)
	y = w.text(marginX, y, textW-qrSize-4, 5, en)
	y = max(y+3, marginY+qrSize+7)

	w.font(9.5, false)
	name := r.CompanyName
	rows := [][2]string{
		{"报告编号 Report No.", r.ID},
		{"企业名称 Company", name},
		{"统一社会信用代码 Unified social credit code", r.Company},
		{"登记状态 Registry status", r.CompanyStatus + " " + statusEn[r.CompanyStatus]},
		{"报告期间 Period", r.From + " 至 to " + r.To},
		{"出具时间 Issued at", r.IssuedAt.UTC().Format(time.RFC3339) + " (" + r.IssuedAt.In(cst).Format("2006-01-02 15:04 北京时间") + ")"},
		{"申请方 Requested by", r.IssuedBy + " (" + r.RequestedAs + ")"},
		{"签名密钥 Signing key", "Ed25519 " + r.KeyID},
	}
	for _, kv := range rows {
		y = w.field(y, kv[0], kv[1])
	}
	y += 3

	// Rating.
	y = w.heading(y, "信用评价 Credit rating")
	w.font(9.5, false)
	if r.Rating == nil {
		y = w.text(marginX, y, textW, 5, "本平台尚无该企业的信用评价，本报告不作评级说明。")
		y = w.text(marginX, y, textW, 5, "The platform holds no credit rating of the company; this report states none.")
	} else {
		c := r.Rating.Colour
		y = w.field(y, "信用等级 Rating", r.Rating.Rating)
		y = w.field(y, "风险颜色 Colour", colourZh[c]+" "+c)
		y = w.field(y, "评价基准日 As of", r.Rating.AsOf)
		y = w.field(y, "模型 Models", strings.Join(r.Rating.Models, ", "))
		y = w.field(y, "决策策略 Policy version", r.Rating.PolicyVersion)
	}
	y += 3

	// Sections.
	y = w.heading(y, "各部门记录 Records by department")
	for i, s := range r.Sections {
		y = w.need(y, 22)
		w.font(10.5, true)
		y = w.text(marginX, y, textW, 6, fmt.Sprintf("%d. %s  %s", i+1, s.NameZh, s.NameEn))
		w.font(9, false)
		if s.Through != "" {
			y = w.text(marginX+4, y, textW-4, 4.6, "数据范围 Data held: "+s.Since+" 至 to "+s.Through)
		} else {
			y = w.text(marginX+4, y, textW-4, 4.6, "未覆盖 Not covered")
		}
		y = w.text(marginX+4, y, textW-4, 4.6, s.StatementZh)
		y = w.text(marginX+4, y, textW-4, 4.6, s.StatementEn)
		for _, rec := range s.Records {
			y = w.need(y, 5)
			line := rec.Date + "  " + rec.KindZh + " " + rec.KindEn
			if rec.Ref != "" {
				line += "  " + rec.Ref
			}
			if rec.DetailZh != "" {
				line += "  " + rec.DetailZh + " " + rec.DetailEn
			}
			if rec.Amount != 0 {
				line += fmt.Sprintf("  %.2f 元 CNY", rec.Amount)
			}
			y = w.text(marginX+8, y, textW-8, 4.4, line)
		}
		y += 2.5
		if pdf.PageNo() > maxPages {
			return nil, fmt.Errorf("%w: the report would take more than %d pages", ErrInvalid, maxPages)
		}
	}

	// Terms.
	y = w.need(y, 30)
	y = w.heading(y+2, "说明 Notes")
	w.font(8.5, false)
	for _, t := range []string{
		"本报告仅陈述本平台在各部门数据范围内收到的记录，不对数据范围之外或未接入部门的情况作出说明；已撤销、已修复或公示期届满的记录不再列出。",
		"This report states only the records the platform received within each department's data span; it says nothing outside that span or about departments not covered. Retracted and repaired records, and records whose publicity ended, are left out.",
		"本报告由平台以 Ed25519 电子签名，签名附于文件末尾；可扫描二维码在线核验是否为本平台出具且未被撤销，或使用 xinyi report verify 离线核验。",
		"The platform signs this report with Ed25519; the signature is appended to the file. Scan the QR code to check online that it was issued here and not revoked, or run xinyi report verify offline.",
	} {
		y = w.text(marginX, y, textW, 4.4, t)
	}
	_ = y
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("reports: render: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("reports: render: %w", err)
	}
	out := buf.Bytes()
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return out, nil
}

var cst = time.FixedZone("CST", 8*3600)

var statusEn = map[string]string{datasets.StatusActive: "in operation", datasets.StatusRevoked: "licence revoked", datasets.StatusDeregistered: "closed"}

func (w *renderer) font(size float64, bold bool) { w.size, w.bold = size, bold }

// heading writes a section heading with a rule under it.
func (w *renderer) heading(y float64, s string) float64 {
	y = w.need(y, 14)
	w.font(12, true)
	y = w.text(marginX, y, textW, 6.5, s)
	w.pdf.SetDrawColor(120, 120, 120)
	w.pdf.SetLineWidth(0.2)
	w.pdf.Line(marginX, y+0.5, pageW-marginX, y+0.5)
	return y + 2.5
}

// field writes a label and its value on one line (wrapping the value).
func (w *renderer) field(y float64, label, value string) float64 {
	y = w.need(y, 5)
	size := w.size
	w.font(size, false)
	w.pdf.SetTextColor(90, 90, 90)
	w.text(marginX, y, 70, 5, label)
	w.pdf.SetTextColor(0, 0, 0)
	return w.text(marginX+72, y, textW-72, 5, value)
}

// need starts a new page when fewer than h millimetres are left above the footer.
func (w *renderer) need(y, h float64) float64 {
	if y+h > footerY-4 {
		w.pdf.AddPage()
		return marginY
	}
	return y
}

// run is a stretch of text in one font.
type run struct {
	s   string
	cjk bool
}

// runs splits s into stretches of printable ASCII (Helvetica) and everything else
// (the CJK font).
func runs(s string) []run {
	var out []run
	start, cur := 0, false
	for i, r := range s {
		cjk := r > 0x7e || r < 0x20
		if i > start && cjk != cur {
			out = append(out, run{s[start:i], cur})
			start = i
		}
		if i == start {
			cur = cjk
		}
	}
	if start < len(s) {
		out = append(out, run{s[start:], cur})
	}
	return out
}

func (w *renderer) setFont(cjk bool) {
	switch {
	case cjk:
		w.pdf.SetFont(cjkFont, "", w.size) // one weight: the fallback font has no bold
	case w.bold:
		w.pdf.SetFont("Helvetica", "B", w.size)
	default:
		w.pdf.SetFont("Helvetica", "", w.size)
	}
}

// tokens splits text into the units a line may break between: a Latin word with
// its following spaces, or one CJK character.
func tokens(s string) []run {
	var out []run
	for _, r := range runs(s) {
		if r.cjk {
			for _, c := range r.s {
				out = append(out, run{string(c), true})
			}
			continue
		}
		i := 0
		for i < len(r.s) {
			j := i
			for j < len(r.s) && r.s[j] != ' ' {
				j++
			}
			for j < len(r.s) && r.s[j] == ' ' {
				j++
			}
			out = append(out, run{r.s[i:j], false})
			i = j
		}
	}
	return out
}

func (w *renderer) width(t run) float64 {
	w.setFont(t.cjk)
	return w.pdf.GetStringWidth(t.s)
}

// text writes s from (x, y) wrapped to width, lineH apart, and returns the y
// below it. A token wider than the line is cut by characters.
func (w *renderer) text(x, y, width, lineH float64, s string) float64 {
	var line []run
	lineW := 0.0
	flush := func() {
		y = w.need(y, lineH)
		cx := x
		for _, t := range line {
			w.setFont(t.cjk)
			w.pdf.Text(cx, y+lineH*0.75, t.s)
			cx += w.pdf.GetStringWidth(t.s)
		}
		y += lineH
		line, lineW = line[:0], 0
	}
	for _, t := range tokens(s) {
		tw := w.width(t)
		if lineW+tw > width && len(line) > 0 {
			flush()
			if !t.cjk {
				t.s = strings.TrimLeft(t.s, " ")
				tw = w.width(t)
			}
		}
		for tw > width && utf8.RuneCountInString(t.s) > 1 { // a word longer than the line
			n := len(t.s) - 1
			for n > 0 && w.width(run{t.s[:n], t.cjk}) > width {
				n--
			}
			n = max(n, 1)
			line = append(line, run{t.s[:n], t.cjk})
			flush()
			t.s = t.s[n:]
			tw = w.width(t)
		}
		line = append(line, t)
		lineW += tw
	}
	if len(line) > 0 {
		flush()
	}
	return y
}

// lineAt writes s on one line at (x, y) without wrapping.
func (w *renderer) lineAt(x, y float64, s string) {
	cx := x
	for _, t := range runs(s) {
		w.setFont(t.cjk)
		w.pdf.Text(cx, y, t.s)
		cx += w.pdf.GetStringWidth(t.s)
	}
}

// qr draws the QR code of s as filled squares, size qrSize, at (x, y).
func (w *renderer) qr(s string, x, y float64) error {
	q, err := qrcode.New(s, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("reports: QR code of %q: %w", s, err)
	}
	q.DisableBorder = false
	bm := q.Bitmap() // includes the quiet zone
	n := float64(len(bm))
	cell := qrSize / n
	w.pdf.SetFillColor(0, 0, 0)
	for j, row := range bm {
		for i, on := range row {
			if on {
				// A hair of overlap keeps rasterizers from leaving seams between modules.
				w.pdf.Rect(x+float64(i)*cell, y+float64(j)*cell, cell+0.02, cell+0.02, "F")
			}
		}
	}
	return nil
}
