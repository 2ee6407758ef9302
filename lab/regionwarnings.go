package lab

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// RegionWarnings is a regulator's view of the warnings open in the region
// (serving/warnings): how many of each colour, where, under which rules, and
// the newest ones. Optional: without it neither the home page nor a warnings
// page shows them.
type RegionWarnings interface {
	RegionWarnings(ctx context.Context, p Principal, f RegionWarningFilter) (*RegionWarningView, error)
}

// RegionWarningFilter narrows the region's open warnings; zero fields take
// everything.
type RegionWarningFilter struct {
	Severity, District, Industry, Rule string
	// Before pages newest first: only warnings with a smaller id.
	Before int64
	// Limit caps the rows listed (0: 50; negative: counts only).
	Limit int
}

// WarningCount is the open warnings of one district, industry or rule by colour.
type WarningCount struct {
	Key, Name, NameEN string
	Red, Yellow, Blue int
}

// Total is the count of every colour.
func (c WarningCount) Total() int { return c.Red + c.Yellow + c.Blue }

// RegionWarningView is the region's open warnings matching a filter.
type RegionWarningView struct {
	// Red, Yellow and Blue count the matching open warnings.
	Red, Yellow, Blue int
	// ByDistrict, ByIndustry and ByRule count them, most first.
	ByDistrict, ByIndustry, ByRule []WarningCount
	// Rows are the newest matching warnings, each with its company's name,
	// district and industry.
	Rows []RegionWarning
	// Next continues the list (the Before of the next page); 0 when it ends.
	Next int64
	// Districts, Industries and Rules are the filter's choices: every key with an
	// open warning, whatever the filter.
	Districts, Industries, Rules []WarningCount
}

// Total is the number of matching open warnings.
func (v *RegionWarningView) Total() int { return v.Red + v.Yellow + v.Blue }

// RegionWarning is one open warning of the region.
type RegionWarning struct {
	InboxWarning
	District, DistrictName, DistrictNameEN string
	Industry, IndustryName, IndustryNameEN string
}

type regionWarningsData struct {
	F    RegionWarningFilter
	V    *RegionWarningView
	Max  int // the largest district total, for the bars
	Base url.Values
}

// regionWarnings lists the region's open warnings with their counts.
func (s *Server) regionWarnings(q *req) error {
	if s.o.RegionWarnings == nil {
		return fmt.Errorf("%w: regional warnings", ErrNotConnected)
	}
	v := q.r.URL.Query()
	f := RegionWarningFilter{Severity: v.Get("severity"), District: v.Get("district"), Industry: v.Get("industry"), Rule: v.Get("rule")}
	switch f.Severity {
	case "", "red", "yellow", "blue":
	default:
		return fmt.Errorf("%w: %s %q", ErrInvalidInput, q.lang.T("rw.badSeverity"), clipText(f.Severity))
	}
	if b := v.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: %s %q", ErrInvalidInput, q.lang.T("rw.badPage"), clipText(b))
		}
		f.Before = n
	}
	view, err := s.o.RegionWarnings.RegionWarnings(q.ctx(), q.principal(), f)
	if err != nil {
		return err
	}
	d := regionWarningsData{F: f, V: view, Base: url.Values{}}
	for _, c := range view.ByDistrict {
		d.Max = max(d.Max, c.Total())
	}
	for k, val := range map[string]string{"severity": f.Severity, "district": f.District, "industry": f.Industry, "rule": f.Rule} {
		if val != "" {
			d.Base.Set(k, val)
		}
	}
	return s.render(q, http.StatusOK, "regionwarnings", "warnings", q.lang.T("nav.warnings"), d)
}

// clipText shortens a value echoed in an error.
func clipText(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func (s *Server) regionWarningRoutes() {
	s.handle("GET /warnings", route{action: access.ActionScreen}, s.regionWarnings)
}

func init() {
	// sevBar draws a row's open warnings as a bar stacked by colour, max the
	// longest row (an SVG: the console's policy allows no inline styles).
	funcs["sevBar"] = func(c WarningCount, max int) template.HTML {
		if max <= 0 {
			return ""
		}
		var b strings.Builder
		b.WriteString(`<svg class="sevbar" viewBox="0 0 100 10" preserveAspectRatio="none" width="100%" height="10" aria-hidden="true">`)
		x := 0.0
		for _, part := range []struct {
			n    int
			fill string
		}{{c.Red, "#c53030"}, {c.Yellow, "#d69e2e"}, {c.Blue, "#2b6cb0"}} {
			w := 100 * float64(part.n) / float64(max)
			fmt.Fprintf(&b, `<rect x="%.2f" y="0" width="%.2f" height="10" fill="%s"/>`, x, w, part.fill)
			x += w
		}
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	// withQuery is the list's query with k set to v (removed when v is empty),
	// encoded here as pageQuery is.
	funcs["withQuery"] = func(base url.Values, k, v string) template.URL {
		w := url.Values{}
		for key, vs := range base {
			w[key] = vs
		}
		if v == "" {
			w.Del(k)
		} else {
			w.Set(k, v)
		}
		return template.URL(w.Encode())
	}
	for k, v := range regionWarningMessages {
		messages[k] = v
	}
}

var regionWarningMessages = map[string][2]string{
	"nav.warnings":    {"区域预警", "Regional warnings"},
	"home.warnings":   {"辖区内企业未关闭的风险预警：按颜色、街道、行业和规则统计，逐条查看", "Open risk warnings of the region's companies by colour, district, industry and rule, one by one"},
	"rw.note":         {"辖区内全部企业当前未关闭的预警（月末评估与部门数据到达时的事件规则），情况消除后自动关闭。", "Every open warning of the region's companies (month-end evaluations and event rules on each department delivery); a warning closes by itself when its condition clears."},
	"rw.open":         {"未关闭预警", "Open warnings"},
	"rw.byDistrict":   {"按街道", "By district"},
	"rw.byIndustry":   {"按行业", "By industry"},
	"rw.byRule":       {"按预警规则", "By rule"},
	"rw.latest":       {"最新预警", "Newest warnings"},
	"rw.more":         {"更早的预警", "Older warnings"},
	"rw.first":        {"回到最新", "Back to the newest"},
	"rw.all":          {"全部", "All"},
	"rw.apply":        {"筛选", "Filter"},
	"rw.district":     {"街道", "District"},
	"rw.industry":     {"行业", "Industry"},
	"rw.total":        {"合计", "Total"},
	"rw.red":          {"红色", "Red"},
	"rw.yellow":       {"黄色", "Yellow"},
	"rw.blue":         {"蓝色", "Blue"},
	"rw.badSeverity":  {"预警级别只能是红色、黄色或蓝色，收到", "severity must be red, yellow or blue, got"},
	"rw.badPage":      {"翻页参数不是正整数", "the page is not a positive number"},
	"rw.filtered":     {"（已筛选）", " (filtered)"},
	"rw.none":         {"当前没有未关闭的预警", "No open warnings"},
	"home.openWarn":   {"未关闭预警", "Open warnings"},
	"home.newestRed":  {"最新红色预警", "Newest red warnings"},
	"home.toWarnings": {"查看全部区域预警 →", "All regional warnings →"},
}
