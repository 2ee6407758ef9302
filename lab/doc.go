// Package lab is the web console over the indicator, sample, model and algorithm
// libraries, screenings and company profiles. It holds no business logic of its own:
// every page calls a small interface defined here (Indicators, Statistics, Samples,
// Trainer, Models, Screenings, Companies, Authenticator, Authorizer, Portal,
// ConsentAsks), implemented by adapters in subpackages named after the package they
// call: lab/features (catalog, snapshot statistics), lab/training (trainer on
// labelled data sets), lab/registry (model registry), lab/serving (screenings and
// assessments) and lab/access (API keys, roles, consent, and the companies' own door
// with banks' consent requests). lab/svg draws every chart; lab/labtest holds
// in-memory stand-ins for tests.
//
// Pages are rendered on the server with html/template from embedded templates and
// CSS (no outside assets), in Chinese or English (a cookie). Users sign in with an API
// key into a server-side session (random id in an HttpOnly, SameSite=Strict cookie,
// expiring after Options.SessionTTL); every form carries the session's anti-forgery
// token, compared in constant time before anything is done. Errors become readable
// pages, mapped to HTTP statuses in one place (statusOf); internal errors are logged
// and never shown.
//
//	auth := labaccess.New(accessStore, labaccess.Options{})
//	console, err := lab.New(lab.Options{
//		Auth: auth, Consents: auth,
//		Indicators: labfeatures.NewIndicators(catalog),
//		Models:     labregistry.New(registry),
//	})
//	mux.Handle("/lab/", console)
package lab
