package labtest

import (
	"context"
	"fmt"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/modeldrift"
)

// DriftReport is a model-drift report for the uploaded PD model over twelve
// month ends against its training sample: the score and its main indicator
// drift past watch and then act, the others stay stable.
func DriftReport(context.Context) (*modeldrift.Report, error) {
	rep := &modeldrift.Report{}
	series := []struct {
		kind, id string
		gain     float64
		psi      func(m int) float64
	}{
		{modeldrift.KindScore, "score", 0, func(m int) float64 { return 0.02 + 0.015*float64(m) }},
		{modeldrift.KindIndicator, "tax.tax_paid.sum_12m", 0.34, func(m int) float64 { return 0.03 + 0.026*float64(m) }},
		{modeldrift.KindIndicator, "loan.overdue_days.max_12m", 0.22, func(m int) float64 { return 0.05 + 0.004*float64(m%4) }},
		{modeldrift.KindIndicator, "court.amount.count_24m", 0.15, func(m int) float64 { return 0.01 + 0.002*float64(m) }},
		{modeldrift.KindIndicator, "social_insurance.insured.yoy_12m", 0.11, func(m int) float64 { return 0.04 + 0.009*float64(m) }},
		{modeldrift.KindIndicator, "penalty.amount.count_12m", 0.08, func(m int) float64 { return 0.02 }},
	}
	for m := range 12 {
		asof := fmt.Sprintf("2025-%02d-%02d", m+1, []int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m])
		rep.Latest = asof
		for _, s := range series {
			psi := s.psi(m)
			p := modeldrift.Point{Task: serving.TaskPD, Model: "pd-upload", Version: "1", Kind: s.kind, Indicator: s.id, Gain: s.gain,
				AsOf: asof, Baseline: "pd-sample/v1", BaselineKind: modeldrift.BaselineSample, PSI: psi, Level: modeldrift.LevelOf(psi)}
			rep.Points = append(rep.Points, p)
		}
	}
	return rep, nil
}
