package datasets

import (
	"math"
	"sort"
	"testing"
)

// latestByMonth keeps, per company and event month, the record in force as of
// asof: event and arrival at or before asof, highest revision.
func latestByMonth[T Row](byMonth map[Month][]T, asof Day, key func(*T) (string, Day, Day, int32)) map[string]map[Month]*T {
	out := map[string]map[Month]*T{}
	rev := map[string]map[Month]int32{}
	for _, rows := range byMonth {
		for i := range rows {
			code, ev, arr, r := key(&rows[i])
			if ev > asof || arr > asof {
				continue
			}
			if out[code] == nil {
				out[code] = map[Month]*T{}
				rev[code] = map[Month]int32{}
			}
			m := ev.Month()
			if old, ok := rev[code][m]; !ok || r >= old {
				out[code][m] = &rows[i]
				rev[code][m] = r
			}
		}
	}
	return out
}

// auc is the Mann-Whitney AUC of scores against labels (ties count half).
func auc(scores []float64, labels []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if labels[idx[k]] {
				rankSum += avg
				pos++
			} else {
				neg++
			}
		}
		i = j
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

func TestAUCByHand(t *testing.T) {
	// Pairs (pos, neg): scores pos {0.9, 0.4}, neg {0.5, 0.1, 0.4}: of 6 pairs,
	// 0.9 beats all 3, 0.4 beats 0.1 and ties 0.4: (3 + 1 + 0.5) / 6 = 0.75.
	got := auc([]float64{0.9, 0.4, 0.5, 0.1, 0.4}, []bool{true, true, false, false, false})
	if math.Abs(got-0.75) > 1e-12 {
		t.Errorf("auc = %v, want 0.75", got)
	}
}

// TestLabelsLearnable scores borrowers as of the end of month 24 with a
// hand-weighted scorecard of indicators computed point-in-time from the
// department files (nothing fitted, nothing from the generator's internals) and
// checks that next-12-month defaults are predictable but not trivially so.
func TestLabelsLearnable(t *testing.T) {
	o := GenerateOptions{Companies: 12_000, Months: 36, Seed: 5}
	store, _ := generateSmall(t, o)
	start := Month(2023 * 12)
	asofM := start + 23
	asof := asofM.LastDay()
	horizon := asof + 365

	loans := latestByMonth(readAll[LoanRow](t, store, SourceLoan), asof, func(r *LoanRow) (string, Day, Day, int32) {
		return r.Code, r.EventDate, r.ArrivalDate, r.Revision
	})
	taxes := latestByMonth(readAll[TaxRow](t, store, SourceTax), asof, func(r *TaxRow) (string, Day, Day, int32) {
		return r.Code, r.EventDate, r.ArrivalDate, r.Revision
	})
	social := latestByMonth(readAll[SocialInsuranceRow](t, store, SourceSocialInsurance), asof, func(r *SocialInsuranceRow) (string, Day, Day, int32) {
		return r.Code, r.EventDate, r.ArrivalDate, r.Revision
	})
	utilities := latestByMonth(readAll[UtilitiesRow](t, store, SourceUtilities), asof, func(r *UtilitiesRow) (string, Day, Day, int32) {
		return r.Code, r.EventDate, r.ArrivalDate, r.Revision
	})
	defendant := map[string]float64{}
	for _, rows := range readAll[CourtRow](t, store, SourceCourt) {
		for _, r := range rows {
			if r.Revision == 0 && r.Role == "defendant" && r.EventDate <= asof && r.ArrivalDate <= asof && r.EventDate > asof-730 {
				defendant[r.Code]++
			}
		}
	}
	defaultedBy := map[string]bool{}
	defaultNext := map[string]bool{}
	violated := map[string]bool{}
	for _, rows := range readAll[LabelRow](t, store, SourceLabels) {
		for _, r := range rows {
			switch {
			case r.Kind == LabelDefault && r.EventDate <= asof:
				defaultedBy[r.Code] = true
			case r.Kind == LabelDefault && r.EventDate <= horizon:
				defaultNext[r.Code] = true
			case r.Kind == LabelViolation && r.EventDate > asof && r.EventDate <= horizon:
				violated[r.Code] = true
			}
		}
	}

	var scores, overdueOnly []float64
	var feats [][8]float64
	var labels []bool
	for code, lm := range loans {
		if defaultedBy[code] {
			continue
		}
		var f1, f7, f8 float64 // overdue days, utilization, slips
		if l, ok := lm[asofM]; ok {
			f1 = float64(l.OverdueDays)
			f7 = l.Balance / max(l.CreditLine, 1)
		} else if l, ok := lm[asofM-1]; ok {
			f1 = float64(l.OverdueDays)
			f7 = l.Balance / max(l.CreditLine, 1)
		}
		var f2, f4, f5, recent, prior float64
		for m := asofM - 11; m <= asofM; m++ {
			if l, ok := lm[m]; ok && l.OverdueDays > 0 {
				f8++
			}
			if r, ok := taxes[code][m]; ok {
				if r.Arrears > 0 {
					f2++
				}
				if m > asofM-6 {
					recent += r.Sales
				} else {
					prior += r.Sales
				}
			}
			if r, ok := social[code][m]; ok && r.Arrears > 0 {
				f4++
			}
			if r, ok := utilities[code][m]; ok && r.Arrears > 0 {
				f5++
			}
		}
		f3 := math.Log((recent + 1e4) / (prior + 1e4))
		score := f2 + f4 + f5 + f8 + 0.02*f1 + f7 + 0.3*defendant[code] - 0.5*f3
		scores = append(scores, score)
		feats = append(feats, [8]float64{f1, f2, f3, f4, f5, defendant[code], f7, f8})
		overdueOnly = append(overdueOnly, f1)
		labels = append(labels, defaultNext[code])
	}
	pos := 0
	for _, l := range labels {
		if l {
			pos++
		}
	}
	if pos < 50 {
		t.Fatalf("only %d defaults in the next 12 months among %d borrowers", pos, len(labels))
	}
	a, a1 := auc(scores, labels), auc(overdueOnly, labels)
	names := [8]string{"overdue days", "tax arrears months", "sales trend", "social insurance arrears months",
		"utility arrears months", "court cases as defendant", "loan utilization", "months with overdue"}
	for k := range 8 {
		col := make([]float64, len(feats))
		for i := range feats {
			col[i] = feats[i][k]
		}
		t.Logf("%-32s AUC %.3f", names[k], auc(col, labels))
	}
	t.Logf("%d borrowers, %d default in the next 12 months (%.1f%%); scorecard AUC %.3f, current overdue days alone %.3f",
		len(labels), pos, 100*float64(pos)/float64(len(labels)), a, a1)
	// For reference: the AUC of the generator's true latent log-odds at the
	// as-of month (a model that knew everything) on the same population.
	if u, err := newUniverse(mustDefaults(t, o), 2); err == nil {
		var zs []float64
		var ls []bool
		for i := range u.companies {
			c := &u.companies[i]
			if !c.borrower || c.firstM > asofM {
				continue
			}
			if d := u.defaultDay(i); d != 0 && d <= asof {
				continue
			}
			d := u.defaultDay(i)
			zs = append(zs, u.zAt(i, int(asofM-start)))
			ls = append(ls, d != 0 && d <= horizon)
		}
		t.Logf("AUC of the true latent log-odds (ceiling): %.3f", auc(zs, ls))
	}
	// Violations: past penalties (the department's own record) against
	// violations found in the next 12 months, over every company alive at asof.
	penalties := map[string]float64{}
	for _, rows := range readAll[PenaltyRow](t, store, SourcePenalty) {
		for _, r := range rows {
			if r.EventDate <= asof && r.ArrivalDate <= asof {
				penalties[r.Code] += float64(r.Severity)
			}
		}
	}
	var vs []float64
	var vl []bool
	nv := 0
	for _, rows := range readAll[CompanyRow](t, store, SourceCompanies) {
		for _, c := range rows {
			if c.Founded > asof {
				continue
			}
			age := float64(asof-c.Founded) / 365
			vs = append(vs, penalties[c.Code]-0.1*math.Log1p(age)-0.05*math.Log1p(c.SubscribedCapital/1e4))
			vl = append(vl, violated[c.Code])
			if violated[c.Code] {
				nv++
			}
		}
	}
	va := auc(vs, vl)
	t.Logf("violations: %d of %d companies found in the next 12 months; past penalty severity + age + capital AUC %.3f", nv, len(vl), va)
	if va < 0.60 {
		t.Errorf("violation AUC = %.3f, want at least 0.60: the drivers do not show in the data", va)
	}
	if a < 0.70 || a > 0.97 {
		t.Errorf("scorecard AUC = %.3f, want 0.70-0.97 (learnable, not trivial)", a)
	}
	if a1 > 0.85 {
		t.Errorf("current overdue days alone give AUC %.3f: the label is too easy", a1)
	}
}

func mustDefaults(t *testing.T, o GenerateOptions) GenerateOptions {
	t.Helper()
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}
