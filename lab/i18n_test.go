package lab

import (
	"io/fs"
	"os"
	"regexp"
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
	for _, n := range []string{"pages.go", "lab.go"} {
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
		"w.running", "w.approved", "w.high", "w.red", "err.csrf", "err.notconnected", "flash.approved", "flash.rejected"} {
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
