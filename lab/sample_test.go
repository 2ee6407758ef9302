package lab_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// TestSamplePage: every sample the library lists links to a page of its
// own; an unknown sample is a 404.
func TestSamplePage(t *testing.T) {
	env, srv := setup(t)
	sci := as(t, env, srv, labtest.Scientist)
	list := sci.get("/lab/samples")
	links := regexp.MustCompile(`href="(/lab/samples/[^"]+)"`).FindAllStringSubmatch(list.body, -1)
	if len(links) == 0 {
		t.Fatalf("no sample links:\n%s", list.body)
	}
	for _, l := range links {
		p := sci.get(l[1])
		if p.status != 200 || !strings.Contains(p.body, `id="sample-facts"`) || !strings.Contains(p.body, `id="sample-models"`) {
			t.Fatalf("%s: %d\n%s", l[1], p.status, p.body)
		}
	}
	if p := sci.get("/lab/samples/nothing/v3"); p.status != 404 {
		t.Fatalf("unknown sample: %d", p.status)
	}
	if p := sci.get("/lab/samples/nothing/vx"); p.status != 404 {
		t.Fatalf("bad version: %d", p.status)
	}
}
