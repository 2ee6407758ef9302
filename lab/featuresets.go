package lab

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// maxSetForm bounds a feature-set definition sent from the form.
const maxSetForm = 256 << 10

func (s *Server) featureSetRoutes() {
	read := route{action: access.ActionListModels}
	write := route{action: access.ActionWriteModel}
	s.handle("GET /featuresets", read, s.featureSets)
	s.handle("POST /featuresets", write, s.publishFeatureSet)
}

type featureSetsData struct {
	Sets    []FeatureSet
	Draft   string // the definition sent back after a refusal
	Example string
	Error   string
}

// setExample is the form's placeholder: a bank's set of two indicators and two
// request features.
const setExample = `name: bank-a-sme
description: 小微企业贷款申请评分
shared: false
features:
  - indicator: tax.sales.sum_12m
  - indicator: court.case.count_24m
  - name: collateral_ratio
    type: numeric
    unit: 倍
    min: 0
    max: 3
    zh: 抵押率
    en: collateral ratio
  - name: loan_purpose
    type: categorical
    categories: [working_capital, equipment, refinance, other]
    zh: 贷款用途
    en: loan purpose`

func (s *Server) featureSets(q *req) error {
	return s.renderFeatureSets(q, http.StatusOK, featureSetsData{})
}

func (s *Server) renderFeatureSets(q *req, status int, d featureSetsData) error {
	if s.o.FeatureSets == nil {
		return fmt.Errorf("%w: feature sets", ErrNotConnected)
	}
	sets, err := s.o.FeatureSets.FeatureSets(q.ctx(), q.principal())
	if err != nil {
		return err
	}
	// Indicators are named from the library.
	if s.o.Indicators != nil {
		for i := range sets {
			for j := range sets[i].Features {
				f := &sets[i].Features[j]
				if f.Request || f.Zh != "" {
					continue
				}
				if ind, err := s.o.Indicators.Indicator(q.ctx(), f.Name); err == nil {
					f.Zh, f.En = ind.NameZH, ind.NameEN
				}
			}
		}
	}
	d.Sets = sets
	if d.Draft == "" {
		d.Example = setExample
	}
	return s.render(q, status, "featuresets", "models", q.lang.T("sets.title"), d)
}

func (s *Server) publishFeatureSet(q *req) error {
	if s.o.FeatureSets == nil {
		return fmt.Errorf("%w: feature sets", ErrNotConnected)
	}
	def := q.r.PostForm.Get("definition")
	if len(def) > maxSetForm {
		return fmt.Errorf("%w: the definition is %d bytes, limit %d", ErrInvalidInput, len(def), maxSetForm)
	}
	set, err := s.o.FeatureSets.PublishFeatureSet(q.ctx(), q.principal(), []byte(def))
	if errors.Is(err, ErrInvalidInput) {
		// The form comes back with the definition and the reason.
		return s.renderFeatureSets(q, http.StatusBadRequest, featureSetsData{Draft: def, Error: err.Error()})
	}
	if err != nil {
		return err
	}
	return s.redirect(q, "featuresets", fmt.Sprintf(q.lang.T("sets.published"), set.Ref))
}
