package lab_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// TestRegionWarningsPage: a regulator sees the region's open warnings counted
// by colour, district and rule as a tally of the firings the environment
// applied, filters them, pages through them newest first with companies named,
// and finds them on the home page; a bank cannot open the page.
func TestRegionWarningsPage(t *testing.T) {
	env, srv := setup(t)
	reg := as(t, env, srv, labtest.Regulator)
	bySev := map[string]int{}
	byDistrictRed := map[string]int{}
	for _, f := range env.Warned {
		bySev[string(f.Severity)]++
		if f.Severity == "red" {
			byDistrictRed[f.District]++
		}
	}
	p := reg.get("/lab/warnings")
	if p.status != http.StatusOK {
		t.Fatalf("warnings page: %d\n%s", p.status, p.body)
	}
	total := bySev["red"] + bySev["yellow"] + bySev["blue"]
	for id, want := range map[string]int{"rw-total": total, "rw-red": bySev["red"], "rw-yellow": bySev["yellow"], "rw-blue": bySev["blue"]} {
		if !strings.Contains(p.body, fmt.Sprintf(`id="%s">%d<`, id, want)) {
			t.Errorf("%s is not %d", id, want)
		}
	}
	// Each district's row holds its red count; the districts are named.
	districts := regexp.MustCompile(`(?s)<table class="grid" id="rw-districts">.*?</table>`).FindString(p.body)
	matched := 0
	for _, d := range datasets.Districts() {
		row := regexp.MustCompile(`(?s)<tr><td><a [^>]*>` + d.Name + `</a></td>\s*<td class="num">(\d+)</td>`).FindStringSubmatch(districts)
		if byDistrictRed[d.Code] == 0 && row == nil {
			continue
		}
		if row == nil || row[1] != fmt.Sprint(byDistrictRed[d.Code]) {
			t.Errorf("district %s: row %v, want %d red", d.Name, row, byDistrictRed[d.Code])
		}
		matched++
	}
	if matched < 3 {
		t.Errorf("only %d district rows checked:\n%s", matched, districts)
	}
	if !strings.Contains(p.body, "大额欠税") || !strings.Contains(p.body, "上虞") {
		t.Error("rules or companies are not named")
	}
	// Filtered to red: every listed warning is red.
	red := reg.get("/lab/warnings?severity=red")
	rows := regexp.MustCompile(`(?s)<table class="grid" id="rw-table">.*?</table>`).FindString(red.body)
	if n := strings.Count(rows, `class="tag sev-red"`); n != bySev["red"] || strings.Contains(rows, "sev-yellow") || strings.Contains(rows, "sev-blue") {
		t.Errorf("red filter lists %d red rows (want %d) or others:\n%s", n, bySev["red"], rows)
	}
	// Pages of 50 newest first: 40 warnings fit one page, no "older" link.
	if strings.Contains(p.body, `id="rw-more"`) {
		t.Error("a single page offers older warnings")
	}
	// Bad input is named.
	if bad := reg.get("/lab/warnings?severity=purple"); bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "purple") {
		t.Errorf("bad severity: %d\n%s", bad.status, bad.body)
	}
	if bad := reg.get("/lab/warnings?before=x"); bad.status != http.StatusBadRequest {
		t.Errorf("bad page: %d", bad.status)
	}
	// The home page counts them and shows the newest red ones.
	home := reg.get("/lab/")
	if !strings.Contains(home.body, fmt.Sprintf(`id="home-red">%d<`, bySev["red"])) || !strings.Contains(home.body, `id="home-red-warnings"`) {
		t.Errorf("home lacks the warnings:\n%s", home.body)
	}
	bank := as(t, env, srv, labtest.Banker)
	if p := bank.get("/lab/warnings"); p.status != http.StatusForbidden {
		t.Fatalf("a bank opened the region's warnings: %d", p.status)
	}
}
