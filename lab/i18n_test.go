package lab

import (
	"html/template"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryMessageKeyExists finds every key the templates and handlers ask for and
// checks that the table has it in both languages.
func TestEveryMessageKeyExists(t *testing.T) {
	keyRE := regexp.MustCompile(`\.T "([a-zA-Z0-9_.]+)"|\.T\("([a-zA-Z0-9_.]+)"\)|lang\.T\("([a-zA-Z0-9_.]+)"`)
	var sources []string
	tpls, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tpls {
		b, _ := fs.ReadFile(templateFS, n)
		sources = append(sources, string(b))
	}
	for _, n := range []string{"pages.go", "lab.go", "portal.go"} {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, string(b))
	}
	seen := 0
	for _, src := range sources {
		for _, m := range keyRE.FindAllStringSubmatch(src, -1) {
			key := m[1] + m[2] + m[3]
			if key[len(key)-1] == '.' {
				continue // a prefix completed at run time, checked below
			}
			seen++
			msg, ok := messages[key]
			if !ok || msg[0] == "" || msg[1] == "" {
				t.Errorf("message %q is missing or empty in a language", key)
			}
		}
	}
	if seen < 100 {
		t.Fatalf("found only %d message uses; the pattern no longer matches the code", seen)
	}
	// Keys built at run time: nav.*, home.*, dimensions, enumerated words, statuses.
	for _, k := range []string{"nav.indicators", "home.indicators", "dim.capital", "dim.network", "w.higher_worse", "w.confidential",
		"w.running", "w.approved", "w.high", "w.red", "err.csrf", "err.notconnected", "flash.approved", "flash.rejected",
		"nav.portal", "home.portal", "nav.asks", "home.asks", "scope.credit_assessment", "purpose.", "purpose.portal", "purpose.consent_request",
		"w.binding.pending", "w.binding.active", "w.binding.revoked", "w.capacity.legal_rep", "w.capacity.delegate",
		"w.method.sms", "w.method.operator", "w.method.delegation",
		"w.request.pending", "w.request.accepted", "w.request.declined", "w.request.withdrawn"} {
		if _, ok := messages[k]; !ok {
			t.Errorf("message %q is missing", k)
		}
	}
}

func TestGroupDigits(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{{3500000, "3,500,000"}, {-1234.4, "-1,234"}, {0.9, "0.90"}, {12, "12"}, {999, "999"}, {1000, "1,000"}}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := groupDigits(tc.in); got != tc.want {
				t.Fatalf("groupDigits(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMoneyAndPurposeInWords(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"limit zh", langs["zh"].Money(3500000), "350 万元"},
		{"limit zh large", langs["zh"].Money(123456789), "1.23 亿元"},
		{"limit zh small", langs["zh"].Money(85000), "8.50 万元"},
		{"limit en", langs["en"].Money(3500000), "CNY 3,500,000"},
		{"large limit zh", langs["zh"].Money(235_000_000), "2.35 亿元"},
		{"purpose request zh", langs["zh"].Purpose("consent_request:3"), "同意机构的第 3 号授权请求"},
		{"purpose request en", langs["en"].Purpose("consent_request:3"), "accepted request no. 3"},
		{"purpose portal zh", langs["zh"].Purpose("portal"), "企业自行授权"},
		{"purpose operator en", langs["en"].Purpose(""), "recorded by the platform on the company's signed authorization"},
		{"purpose unknown", langs["zh"].Purpose("tender:9"), "tender:9"},
		{"scope zh", langs["zh"].Scope("credit_assessment"), "信用评估"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestPercentOfSmallShares(t *testing.T) {
	pct := funcs["pct"].(func(float64) string)
	for v, want := range map[float64]string{0: "0.0%", 0.0004: "<0.1%", 0.0005: "0.1%", 0.184: "18.4%", 1: "100.0%"} {
		if got := pct(v); got != want {
			t.Errorf("pct(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestListLinksKeepTheirQuery: a list's links to other pages carry the query as
// a query (sort=name&page=2), not escaped into one value (sort%3dname%26page%3d2,
// which the server reads as a single unknown key).
func TestListLinksKeepTheirQuery(t *testing.T) {
	tpl := template.Must(template.New("x").Funcs(funcs).Parse(`<a href="/lab/x?{{pageQuery .V 2}}">p</a><a href="/lab/w?{{withQuery .V "district" "440605"}}">d</a>`))
	var b strings.Builder
	if err := tpl.Execute(&b, map[string]any{"V": url.Values{"sort": {"name"}, "q": {"上虞 A&B"}}}); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{`href="/lab/x?page=2&amp;q=%E4%B8%8A%E8%99%9E&#43;A%26B&amp;sort=name"`, `href="/lab/w?district=440605&amp;q=%E4%B8%8A%E8%99%9E&#43;A%26B&amp;sort=name"`} {
		if !strings.Contains(got, want) {
			t.Errorf("got %s\nwant %s", got, want)
		}
	}
}
