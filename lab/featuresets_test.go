package lab_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

const bankSet = `name: bank-a-sme
description: 小微企业贷款申请评分
features:
  - indicator: tax.sales.sum_12m
  - name: collateral_ratio
    type: numeric
    unit: 倍
    min: 0
    max: 3
    zh: 抵押率
    en: collateral ratio
  - name: loan_purpose
    type: categorical
    categories: [working_capital, equipment]
    zh: 贷款用途
    en: loan purpose
`

// TestFeatureSetsPage: a data scientist publishes a set from the form and
// finds it listed with its features; a second publication is the next
// version; a bad definition comes back with the reason and the text; a
// regulator, who holds no model role, is refused.
func TestFeatureSetsPage(t *testing.T) {
	env, srv := setup(t)
	sci := as(t, env, srv, labtest.Scientist)
	list := sci.get("/lab/featuresets")
	if list.status != 200 || !strings.Contains(list.body, "pd/v1") || !strings.Contains(list.body, "平台内置") {
		t.Fatalf("list: %d\n%s", list.status, list.body)
	}
	for v := 1; v <= 2; v++ {
		p := sci.post("/lab/featuresets", url.Values{"csrf": {sci.csrf("/lab/featuresets")}, "definition": {bankSet}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("publish %d: %d\n%s", v, p.status, p.body)
		}
	}
	list = sci.get("/lab/featuresets")
	for _, want := range []string{`id="set-bank-a-sme/v1"`, `id="set-bank-a-sme/v2"`, "请求特征（类别）", "working_capital、equipment", "0 – 3 倍", "抵押率", "私有"} {
		if !strings.Contains(list.body, want) {
			t.Fatalf("list lacks %q:\n%s", want, list.body)
		}
	}
	bad := strings.Replace(bankSet, "tax.sales.sum_12m", "tax.nothing", 1)
	p := sci.post("/lab/featuresets", url.Values{"csrf": {sci.csrf("/lab/featuresets")}, "definition": {bad}})
	if p.status != 400 || !strings.Contains(p.body, `indicator &#34;tax.nothing&#34; is not in the catalog`) || !strings.Contains(p.body, "- indicator: tax.nothing\n") {
		t.Fatalf("bad definition: %d\n%s", p.status, p.body)
	}
	// The page is the model library's: a regulator without a model role is
	// refused (a private set's isolation between institutions is the
	// registry's, tested in registry/setstore_test.go).
	reg := as(t, env, srv, labtest.Regulator)
	if p := reg.get("/lab/featuresets"); p.status != 403 || strings.Contains(p.body, "bank-a-sme") {
		t.Fatalf("regulator: %d", p.status)
	}
}
