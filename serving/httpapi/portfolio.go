package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/portfolio"
)

// PortfolioOptions configure the post-loan view. Authorizer and Sources are
// required; Limiter, Metrics, Timeout and Logger are as in Options.
type PortfolioOptions struct {
	Authorizer serving.Authorizer
	Sources    portfolio.Sources
	Limiter    serving.Limiter
	Metrics    *serving.Metrics
	Options    Options
}

// NewPortfolio returns the handler of a bank's post-loan view:
//
//	GET /v1/portfolio?colour=&rating=&change=worse|better|same|new&warned=true[&format=csv]
//
// Every company whose consent the caller's institution holds now, worst first,
// with its latest and previous scored period, the change between them and its
// open warnings; format=csv answers an Excel-friendly file (UTF-8 with BOM).
func NewPortfolio(o PortfolioOptions) (http.Handler, error) {
	if o.Authorizer == nil || o.Sources.Consents == nil || o.Sources.Warnings == nil || o.Sources.Runs == nil || o.Sources.Manifests == nil {
		return nil, fmt.Errorf("%w: the portfolio API needs an authorizer, consents, warnings and the score history", serving.ErrInvalidInput)
	}
	opts := o.Options
	opts.Authorizer, opts.Limiter, opts.Metrics = o.Authorizer, o.Limiter, o.Metrics
	opts.EnsureDefaults()
	opts.Logger = reqid.Logger(opts.Logger)
	h := &handler{opts: opts, mux: http.NewServeMux()}
	build := func(ctx context.Context, p serving.Principal, r *http.Request) ([]portfolio.Entry, error) {
		if err := warningErr(o.Authorizer.Authorize(ctx, p, access.ActionPortfolio, access.Resource{Kind: "portfolio", Owner: p.InstitutionID})); err != nil {
			return nil, err
		}
		f, err := portfolio.ParseFilter(r.URL.Query().Get)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", serving.ErrInvalidInput, err)
		}
		return portfolio.Build(ctx, o.Sources, p.InstitutionID, f)
	}
	asJSON := h.authed(func(ctx context.Context, p serving.Principal, r *http.Request) (int, any, error) {
		entries, err := build(ctx, p, r)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"companies": entries}, nil
	})
	asCSV := h.authedDownload(func(ctx context.Context, p serving.Principal, r *http.Request) (download, error) {
		entries, err := build(ctx, p, r)
		if err != nil {
			return download{}, err
		}
		var b bytes.Buffer
		if err := portfolio.WriteCSV(&b, entries); err != nil {
			return download{}, err
		}
		return download{data: b.Bytes(), contentType: "text/csv; charset=utf-8", filename: "portfolio.csv"}, nil
	})
	h.route("GET /v1/portfolio", "portfolio", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("format") {
		case "", "json":
			asJSON(w, r)
		case "csv":
			asCSV(w, r)
		default:
			writeError(w, fmt.Errorf("%w: format %q is not json or csv", serving.ErrInvalidInput, r.URL.Query().Get("format")))
		}
	})
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: no endpoint %s %s", errNoRoute, r.Method, r.URL.Path))
	})
	return reqid.Middleware(h.mux), nil
}
