package serving

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// Hand calculation for the stump models (see testdata/stump_*.txt):
//
//	good (tax 150, clean):      pd margin -2-1 = -3; violation -2.5-0.5 = -3; limit 1,200,000+0
//	bad  (tax 80, dishonest, circle): pd 0.5+2 = 2.5; violation 1.5+2 = 3.5; limit 300,000-200,000
//
// Score = 600 - (20/ln2)·margin; TreeSHAP of a stump = leaf reached - count-weighted mean:
//
//	pd:        tree0 mean (40·0.5+60·-2)/100 = -1;  tree1 mean (90·-1+10·2)/100 = -0.7
//	violation: tree0 mean (80·-2.5+20·1.5)/100 = -1.7; tree1 mean (90·-0.5+10·2)/100 = -0.25
//	limit:     tree0 mean (40·3e5+60·1.2e6)/100 = 840,000; tree1 mean (10·-2e5)/100 = -20,000
func TestAssessGoodCompany(t *testing.T) {
	e := newEnv(t)
	d, err := e.svc.Assess(context.Background(), e.bank, Request{Company: e.good, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 / (1 + math.Exp(3)); !near(d.PD, want) || !near(d.Violation, want) {
		t.Errorf("pd %v violation %v, want %v", d.PD, d.Violation, want)
	}
	if want := 600 + 3*20/math.Ln2; !near(d.Score, want) {
		t.Errorf("score %v, want %v", d.Score, want)
	}
	if d.Rating != policy.B || d.Colour != policy.Blue || len(d.ColourRules) != 0 {
		t.Errorf("rating %s colour %s rules %v, want B blue none", d.Rating, d.Colour, d.ColourRules)
	}
	if d.Limit != 960000 { // 1,200,000 × 0.8 (rating B)
		t.Errorf("limit %v, want 960000", d.Limit)
	}
	wantProducts := []ProductLimit{{"tax_loan", 280000}, {"working_capital", 960000}} // 288,000 rounds down to 280,000
	if len(d.Products) != 2 || d.Products[0] != wantProducts[0] || d.Products[1] != wantProducts[1] {
		t.Errorf("products %v, want %v", d.Products, wantProducts)
	}
	if d.InspectionTier != policy.Low || d.SamplingRatio != 0.1 {
		t.Errorf("tier %s %v, want low 0.1", d.InspectionTier, d.SamplingRatio)
	}
	if len(d.Reasons) != 0 {
		t.Errorf("a clean company got reasons %+v", d.Reasons)
	}
	wantContrib := map[Task][]float64{
		TaskPD:        {-1, -0.3, 0},
		TaskViolation: {0, -0.25, -0.8},
		TaskLimit:     {360000, 20000, 0},
	}
	wantExpected := map[Task]float64{TaskPD: -1.7, TaskViolation: -1.95, TaskLimit: 820000}
	if len(d.Explanations) != 3 {
		t.Fatalf("%d explanations", len(d.Explanations))
	}
	for _, x := range d.Explanations {
		sum := x.Expected
		for i, c := range x.Contributions {
			sum += c
			if !near(c, wantContrib[x.Model][i]) {
				t.Errorf("%s contribution %d = %v, want %v", x.Model, i, c, wantContrib[x.Model][i])
			}
		}
		if !near(x.Expected, wantExpected[x.Model]) {
			t.Errorf("%s expected %v, want %v", x.Model, x.Expected, wantExpected[x.Model])
		}
		if !near(sum, x.Margin) {
			t.Errorf("%s contributions sum to %v, margin %v", x.Model, sum, x.Margin)
		}
	}
	if d.Models[0] != (ModelVersion{TaskPD, "xinyi-pd", "1"}) || d.PolicyVersion != "svc-1" || d.FeatureSets[TaskPD] != "credit/v3" {
		t.Errorf("models %v policy %s sets %v", d.Models, d.PolicyVersion, d.FeatureSets)
	}
	en := lastEntry(t, e.audit)
	if en.Outcome != audit.OutcomeOK || en.Subject != "company:"+e.good || en.Actor != "officer@weihai-bank/k1" || en.Action != "assessment" {
		t.Errorf("audit entry %+v", en)
	}
	if sum, ok := en.After.(map[string]any); !ok || sum["assessment_id"] != d.ID || sum["rating"] != policy.B {
		t.Errorf("audit after %+v", en.After)
	}
}

func TestAssessBadCompany(t *testing.T) {
	e := newEnv(t)
	d, err := e.svc.Assess(context.Background(), e.bank, Request{Company: e.bad, Products: []string{"tax_loan"}})
	if err != nil {
		t.Fatal(err)
	}
	if !near(d.PD, 1/(1+math.Exp(-2.5))) || !near(d.Violation, 1/(1+math.Exp(-3.5))) {
		t.Errorf("pd %v violation %v", d.PD, d.Violation)
	}
	if !near(d.Score, 600-2.5*20/math.Ln2) || d.Rating != policy.D || d.Colour != policy.Red {
		t.Errorf("score %v rating %s colour %s", d.Score, d.Rating, d.Colour)
	}
	if d.Limit != 0 || len(d.Products) != 1 || d.Products[0] != (ProductLimit{"tax_loan", 0}) {
		t.Errorf("limit %v products %v, want 0", d.Limit, d.Products)
	}
	if d.InspectionTier != policy.High || d.SamplingRatio != 1 {
		t.Errorf("tier %s %v", d.InspectionTier, d.SamplingRatio)
	}
	want := []struct {
		code, indicator string
		contribution    float64
	}{
		{"PD-01", "court.dishonest_debtor", 2.7},          // 2 - (-0.7)
		{"PD-02", "tax.paid.sum_12m", 1.5},                // 0.5 - (-1)
		{"VIOLATION-01", "network.circle_defaulted", 3.2}, // 1.5 - (-1.7)
		{"VIOLATION-02", "court.dishonest_debtor", 2.25},  // 2 - (-0.25)
		{"LIMIT-01", "tax.paid.sum_12m", -540000},         // 300,000 - 840,000
		{"LIMIT-02", "court.dishonest_debtor", -180000},   // -200,000 - (-20,000)
		{"RULE-dishonest", "court.dishonest_debtor", 0},
		{"RULE-circle", "network.circle_defaulted", 0},
	}
	if len(d.Reasons) != len(want) {
		t.Fatalf("%d reasons %+v, want %d", len(d.Reasons), d.Reasons, len(want))
	}
	for i, w := range want {
		r := d.Reasons[i]
		if r.Code != w.code || r.Indicator != w.indicator || !near(r.Contribution, w.contribution) {
			t.Errorf("reason %d = %s %s %v, want %s %s %v", i, r.Code, r.Indicator, r.Contribution, w.code, w.indicator, w.contribution)
		}
	}
	tax := d.Reasons[1]
	if tax.NameZH != "近12个月纳税总额" || tax.Value == nil || *tax.Value != 80 || tax.IndustryAverage == nil || *tax.IndustryAverage != 100 {
		t.Errorf("tax reason %+v", tax)
	}
	if want := "tax paid over 12 months is 80 yuan, 20% below the industry average of 100 — raises risk"; tax.TextEN != want {
		t.Errorf("text %q, want %q", tax.TextEN, want)
	}
	if want := "近12个月纳税总额为80元，低于行业平均（100）20%，推高风险"; tax.TextZH != want {
		t.Errorf("text %q, want %q", tax.TextZH, want)
	}
	if d.Reasons[4].Direction != DirectionLowersLimit {
		t.Errorf("limit reason direction %q", d.Reasons[4].Direction)
	}
}

func TestAssessConsentAndRoles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := otherBankP
	_, err := e.svc.Assess(ctx, other, Request{Company: e.good})
	if !errors.Is(err, ErrConsentRequired) {
		t.Fatalf("bank without consent: err %v, want ErrConsentRequired", err)
	}
	en := lastEntry(t, e.audit)
	if en.Outcome != audit.OutcomeRefused || en.Actor != "other@other-bank/k9" || en.Action != "company.assess" || en.Subject != "company:"+e.good {
		t.Errorf("refusal audit %+v", en)
	}
	if _, err := e.svc.Assess(ctx, labP, Request{Company: e.good}); !errors.Is(err, ErrForbidden) {
		t.Errorf("lab user: err %v, want ErrForbidden", err)
	}
	if lastEntry(t, e.audit).Outcome != audit.OutcomeRefused {
		t.Error("forbidden lab request not audited")
	}
	if _, err := e.svc.Assess(ctx, regulatorP, Request{Company: e.good}); err != nil {
		t.Errorf("regulator: %v", err)
	}
	before := len(e.audit.all())
	e.auth.consents[fmt.Sprint(otherBankP.InstitutionID, "|", e.good)] = true
	if _, err := e.svc.Assess(ctx, other, Request{Company: e.good}); err != nil {
		t.Errorf("after consent: %v", err)
	}
	if got := len(e.audit.all()); got != before+1 || lastEntry(t, e.audit).Outcome != audit.OutcomeOK {
		t.Errorf("granted assessment audited %d times", got-before)
	}
}

func TestAssessBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bad := []byte(e.good)
	bad[17] = map[bool]byte{true: '1', false: '2'}[bad[17] != '1']
	unknown := testCode(t, "MA9XYW7Q")
	tests := []struct {
		name string
		req  Request
		want error
	}{
		{"empty code", Request{}, ErrInvalidCompanyCode},
		{"wrong check digit", Request{Company: string(bad)}, ErrInvalidCompanyCode},
		{"short", Request{Company: "91330604MA4UJ7K"}, ErrInvalidCompanyCode},
		{"unknown company", Request{Company: unknown}, ErrUnknownCompany},
		{"unknown product", Request{Company: e.good, Products: []string{"mortgage"}}, ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A regulator needs no consent, so the lookup itself is reached.
			reg := regulatorP
			if _, err := e.svc.Assess(ctx, reg, tt.req); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAssessNotReady(t *testing.T) {
	m, err := NewModels(map[Task]FeatureSet{TaskPD: testSet, TaskViolation: testSet, TaskLimit: testSet})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	svc, err := New(Options{Models: m, Features: e.features, Policy: e.svc.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Assess(context.Background(), e.bank, Request{Company: e.good}); !errors.Is(err, ErrNotReady) {
		t.Fatalf("err %v, want ErrNotReady", err)
	}
}

func TestPolicyMustNameServedIndicators(t *testing.T) {
	e := newEnv(t)
	p, err := policy.Parse([]byte(servicePolicy + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	p.Rules = append(p.Rules, policy.Rule{ID: "tax_arrears", Indicator: "tax.arrears.amount", Op: ">", Colour: policy.Yellow})
	if err := e.svc.SetPolicy(p); !errors.Is(err, policy.ErrInvalid) {
		t.Fatalf("err %v, want policy.ErrInvalid", err)
	}
}

// TestSwapUnderLoad moves the models between two versions while eight goroutines
// assess: no request may fail, and each decision must come from one version only,
// with the PD that version gives (v2's first pd tree ends in -3 instead of -2, so the
// good company's margin is -4).
func TestSwapUnderLoad(t *testing.T) {
	e := newEnv(t)
	v1 := loadStumps(t, "1", nil)
	v2 := loadStumps(t, "2", func(task Task, text string) string {
		if task == TaskPD {
			return replaceOnce(t, text, "leaf_value=0.5 -2", "leaf_value=0.5 -3")
		}
		return text
	})
	wantPD := map[string]float64{"1": 1 / (1 + math.Exp(3)), "2": 1 / (1 + math.Exp(4))}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var ok, failed, mixed atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				d, err := e.svc.Assess(context.Background(), e.bank, Request{Company: e.good})
				if err != nil {
					failed.Add(1)
					continue
				}
				v := d.Models[0].Version
				if d.Models[1].Version != v || d.Models[2].Version != v || !near(d.PD, wantPD[v]) {
					mixed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	swaps := 0
	for ctx.Err() == nil {
		next := v2
		if swaps%2 == 1 {
			next = v1
		}
		if err := e.models.Install(next...); err != nil {
			t.Fatal(err)
		}
		swaps++
		time.Sleep(200 * time.Microsecond)
	}
	wg.Wait()
	if failed.Load() != 0 || mixed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d ok, %d failed, %d mixed over %d swaps", ok.Load(), failed.Load(), mixed.Load(), swaps)
	}
	t.Logf("%d decisions over %d swaps", ok.Load(), swaps)
}

func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	i := strings.Index(s, old)
	if i < 0 {
		t.Fatalf("%q not found", old)
	}
	return s[:i] + new + s[i+len(old):]
}

func BenchmarkAssess(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Assess(ctx, e.bank, Request{Company: e.bad}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDescribeUnits(t *testing.T) {
	v, avg := 3.0, 6.0
	tests := []struct {
		unit, en, zh string
	}{
		{"月", "x is 3 months, 50% below the industry average of 6", "甲为3月，低于行业平均（6）50%"},
		{"千瓦时/月", "x is 3 kWh a month, 50% below the industry average of 6", "甲为3千瓦时/月，低于行业平均（6）50%"},
		{"0/1", "x is 3, 50% below the industry average of 6", "甲为3，低于行业平均（6）50%"},
		{"比率", "x is 3, 50% below the industry average of 6", "甲为3，低于行业平均（6）50%"},
		{"", "x is 3, 50% below the industry average of 6", "甲为3，低于行业平均（6）50%"},
	}
	for _, tc := range tests {
		t.Run(tc.unit, func(t *testing.T) {
			en, zh := describe("x.y", &Indicator{NameEN: "x", NameZH: "甲", Unit: tc.unit}, &v, &avg)
			if en != tc.en || zh != tc.zh {
				t.Fatalf("describe = %q, %q; want %q, %q", en, zh, tc.en, tc.zh)
			}
		})
	}
}
