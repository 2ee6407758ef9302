package e2e

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The page checks on pages made for them: the checks must find what they look
// for, and nothing on a clean page.

func TestPenetration(t *testing.T) {
	box := func(x, y, w, h float64) [4][2]float64 {
		return [4][2]float64{{x, y}, {x + w, y}, {x + w, y + h}, {x, y + h}}
	}
	// Two 40×10 boxes, the second 30 px to the right: they share 10 px of width.
	if d := penetration(box(0, 0, 40, 10), box(30, 0, 40, 10)); d != 10 {
		t.Fatalf("side by side: %v, want 10", d)
	}
	// One 5 px below the other: 5 px deep.
	if d := penetration(box(0, 0, 40, 10), box(0, 5, 40, 10)); d != 5 {
		t.Fatalf("stacked: %v, want 5", d)
	}
	if d := penetration(box(0, 0, 40, 10), box(50, 0, 40, 10)); d > 0 {
		t.Fatalf("apart: %v, want ≤ 0", d)
	}
	// Two 60×10 labels rotated by 45° around their left ends, 20 px apart on the
	// axis: their upright boxes overlap, the rotated ones do not (the gap between
	// the parallel strips is 20·sin 45° − 10 ≈ 4.1 px).
	rot := func(x float64) [4][2]float64 {
		c, sn := 0.7071067811865476, -0.7071067811865476
		var out [4][2]float64
		for i, p := range box(0, 0, 60, 10) {
			out[i] = [2]float64{x + p[0]*c - p[1]*sn, p[0]*sn + p[1]*c}
		}
		return out
	}
	if d := penetration(rot(0), rot(20)); d > 0 {
		t.Fatalf("rotated labels 20 px apart: %v, want ≤ 0", d)
	}
	if d := penetration(rot(0), rot(10)); d <= 0 {
		t.Fatalf("rotated labels 10 px apart: %v, want > 0", d)
	}
}

func TestEnglishWords(t *testing.T) {
	got := englishWords("模型 pd-upload 的 AUC 为 0.81，PSI 阈值 0.25；规则 serious_overdue 已启用，status: pending。"+
		"企业 91330604MA2BX0E1X7 · 版本 v3 · GB/T 4754 C 制造业 · chen · 下载 CSV", []string{"pd-upload", "chen"})
	want := []string{"serious_overdue", "status", "pending"}
	if !slices.Equal(got, want) {
		t.Fatalf("english words %q, want %q", got, want)
	}
}

// TestChineseRuns: on an English page, names keep their Chinese (a company, a
// district, a department, a bank, what the user typed) and the language switch
// names 中文; any other Chinese is found.
func TestChineseRuns(t *testing.T) {
	got := chineseRuns("Company 上虞晶盛机电有限公司 01 in 东关街道 · 上虞区市场监管局 · 绍兴银行上虞支行 · 中文 · "+
		"Reasons: 社保欠费; unit 次; status 已完成; note 流动资金周转", []string{"流动资金周转"})
	want := []string{"社保欠费", "次", "已完成"}
	if !slices.Equal(got, want) {
		t.Fatalf("chinese runs %q, want %q", got, want)
	}
}

// syntheticPage has a chart whose two labels overlap and a third that runs out
// of the chart, rotated date labels that do not overlap, and, in Chinese, an
// English word in the text and one in a placeholder.
const syntheticPage = `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>合成页面</title></head>
<body style="margin:0;font:14px sans-serif">
<p>模型已注册，AUC 为 0.81。Loading results</p>
<input placeholder="输入 keyword">
<div id="bad-chart"><svg width="300" height="120" viewBox="0 0 300 120">
  <text x="20" y="40">制造业销售额</text>
  <text x="50" y="44">批发和零售业</text>
  <text x="270" y="80">住宿和餐饮业</text>
</svg></div>
<div id="good-chart"><svg width="300" height="120" viewBox="0 0 300 120">
  <text x="20" y="30"><tspan x="20" dy="0">第一行</tspan><tspan x="20" dy="16">第二行</tspan></text>
  <text transform="translate(120 100) rotate(-45)">2026-01-31</text>
  <text transform="translate(144 100) rotate(-45)">2026-02-28</text>
  <text transform="translate(168 100) rotate(-45)">2026-03-31</text>
  <text x="250" y="60" style="display:none">hidden label overlapping nothing</text>
</svg></div>
</body></html>`

const cleanPage = `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>干净页面</title></head>
<body><p>模型 pd-upload 的 AUC 为 0.81，PSI 为 0.03。</p>
<svg width="200" height="60"><text x="10" y="30">风险等级</text><text x="110" y="30">企业数</text></svg></body></html>`

func TestPageChecksInChromium(t *testing.T) {
	bin := chromium(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/lab/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(cleanPage))
	})
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(syntheticPage))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := startBrowser(t, bin, srv.URL, t.TempDir())

	_, faults, err := pageFaults(s.ctx, []string{"pd-upload"})
	if err != nil {
		t.Fatal(err)
	}
	if len(faults) != 0 {
		t.Fatalf("a clean page has faults: %q", faults)
	}

	s.do("synthetic", chromedp.Navigate(srv.URL+"/bad"))
	_, faults, err = pageFaults(s.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(faults, "\n")
	for _, want := range []string{
		`chart #bad-chart: labels "制造业销售额" and "批发和零售业" overlap`,
		`chart #bad-chart: label "住宿和餐饮业" runs outside its chart`,
		"English on a Chinese page: Loading, results, keyword",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("faults lack %q:\n%s", want, all)
		}
	}
	if len(faults) != 3 {
		t.Errorf("%d faults, want 3 (the good chart's lines and rotated dates do not overlap):\n%s", len(faults), all)
	}
}
