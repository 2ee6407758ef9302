package e2e

import (
	"net/url"
	"strings"

	"github.com/chromedp/chromedp"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// tourPage is one console page a role opens.
type tourPage struct {
	name, path string
}

// tour opens every console page (lab/pages.go and the route files beside it)
// as the role that uses it, in Chinese and in English, with a screenshot each,
// so that the shared page checks run on all of them. The pages need what the
// console test made before (a trained and an uploaded model, a screening, a
// financing request).
func tour(s *session, env *labtest.Env, screening string) {
	s.t.Helper()
	own := "/lab/portal/companies/" + env.ReportCompany
	roles := []struct {
		user  string
		pages []tourPage
	}{
		{labtest.Scientist, []tourPage{
			{"home-scientist", "/lab/"}, {"indicators", "/lab/indicators"}, {"indicator", "/lab/indicators/" + labtest.PublicIndicator},
			{"samples", "/lab/samples"}, {"algorithms", "/lab/algorithms"}, {"training", "/lab/training/t1"},
			{"models", "/lab/models"}, {"model-trained", "/lab/models/violation-gbdt"}, {"version-trained", "/lab/models/violation-gbdt/v1"},
			{"model-uploaded", "/lab/models/pd-upload"}, {"version-uploaded", "/lab/models/pd-upload/v1"}, {"upload", "/lab/upload"},
			{"approvals", "/lab/approvals"},
		}},
		{labtest.Regulator, []tourPage{
			{"home-regulator", "/lab/"}, {"screenings", "/lab/screenings"}, {"screening", screening},
			{"explore", screening + "/explore"}, {"compare", "/lab/screenings/compare?from=s1&to=s2"}, {"risk", "/lab/risk"}, {"warnings", "/lab/warnings"}, {"companies", "/lab/companies"}, {"company-search", "/lab/companies?q=" + url.QueryEscape("上虞")},
			{"company", "/lab/companies/" + env.Focus}, {"reports-regulator", "/lab/reports"},
			{"authority-queue", "/lab/cases?queue=authority"}, {"fin-stats", "/lab/financing/stats"},
		}},
		{labtest.Banker, []tourPage{
			{"home-bank", "/lab/"}, {"portfolio", "/lab/portfolio"}, {"inbox", "/lab/inbox"}, {"subscriptions", "/lab/subscriptions"},
			{"consent-requests", "/lab/consent-requests"}, {"fin-inbox", "/lab/financing/inbox"},
			{"fin-products", "/lab/financing/products"}, {"fin-loans", "/lab/financing/loans"}, {"company-bank", "/lab/companies/" + env.Focus},
		}},
		{labtest.Operator, []tourPage{{"home-operator", "/lab/"}, {"jobs", "/lab/jobs"}, {"sources", "/lab/sources"}}},
		{labtest.CompanyRep, []tourPage{
			{"portal", "/lab/portal"}, {"own-company", "/lab/portal/companies/" + env.Focus}, {"records", own + "/records"},
			{"company-cases", own + "/cases"}, {"company-financing", own + "/financing"}, {"reports-company", "/lab/reports?company=" + env.ReportCompany},
		}},
	}
	n := 0
	for _, r := range roles {
		s.logout()
		s.login(env.Keys[r.user])
		for _, lang := range []string{"zh", "en"} {
			s.lang(lang)
			for _, p := range r.pages {
				n++
				s.do("open "+p.path, chromedp.Navigate(s.base+p.path), chromedp.WaitVisible(chromedp.CSS("main")))
				if s.count("#error-heading") > 0 {
					s.t.Errorf("tour: %s (%s) as %s is an error page: %s", p.name, p.path, r.user, strings.TrimSpace(s.text("main")))
				}
				s.screenshot("90-" + p.name + "-" + lang)
			}
		}
	}
	s.t.Logf("tour: %d pages checked", n)
}
