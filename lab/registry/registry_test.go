package registry

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/lab"
	"github.com/xinyi-platform/xinyi/lab/svg"
	xregistry "github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/training"
)

func TestParseFeatureSet(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		version int
		ok      bool
	}{
		{"pd/v1", "pd", 1, true},
		{"violation@12", "violation", 12, true},
		{"breast-cancer/v3", "breast-cancer", 3, true},
		{"pd", "pd", 0, true}, // the latest version
		{"breast-cancer/3", "", 0, false},
		{"/v1", "", 0, false},
		{"pd/v0", "", 0, false},
		{"pd/vx", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			name, v, err := ParseFeatureSet(tc.in)
			if !tc.ok {
				if !errors.Is(err, lab.ErrInvalidInput) {
					t.Fatalf("err = %v, want ErrInvalidInput", err)
				}
				return
			}
			if err != nil || name != tc.name || v != tc.version {
				t.Fatalf("got %q %d %v, want %q %d", name, v, err, tc.name, tc.version)
			}
		})
	}
}

func TestParseGolden(t *testing.T) {
	in, err := ParseGolden([]byte("a,b,expected\n1.5,,0.25\nnan,2,1e-3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Rows) != 2 || len(in.Expected) != 2 {
		t.Fatalf("%d rows, %d expected", len(in.Rows), len(in.Expected))
	}
	if *in.Rows[0][0] != 1.5 || in.Rows[0][1] != nil || in.Rows[1][0] != nil || *in.Rows[1][1] != 2 {
		t.Fatalf("rows %v", in.Rows)
	}
	if in.Expected[0] != 0.25 || in.Expected[1] != 0.001 {
		t.Fatalf("expected %v", in.Expected)
	}
	bad := []struct{ name, data, msg string }{
		{"empty", "", "no rows"},
		{"header only", "a,b\n", "no rows"},
		{"one field", "1\n", "1 field"},
		{"ragged", "1,2,3\n1,2\n", "wrong number of fields"},
		{"text value", "1,x,0.5\n", "field 2"},
		{"infinite", "1,+Inf,0.5\n", "field 2"},
		{"bad expectation", "1,2,high\n", "expected prediction"},
		{"NaN expectation", "1,2,NaN\n", "expected prediction"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGolden([]byte(tc.data))
			if !errors.Is(err, lab.ErrInvalidInput) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want ErrInvalidInput with %q", err, tc.msg)
			}
		})
	}
}

func FuzzParseGolden(f *testing.F) {
	f.Add([]byte("a,b,y\n1,2,0.5\n"))
	f.Add([]byte("\"1\",,3\n"))
	f.Add([]byte("1,2\n3,4,5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseGolden(data)
		if err != nil {
			if !errors.Is(err, lab.ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		if len(in.Rows) == 0 || len(in.Rows) != len(in.Expected) {
			t.Fatalf("%d rows, %d expected", len(in.Rows), len(in.Expected))
		}
		for i, row := range in.Rows {
			if len(row) != len(in.Rows[0]) {
				t.Fatalf("row %d has %d values, row 0 has %d", i, len(row), len(in.Rows[0]))
			}
			for _, v := range row {
				if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
					t.Fatalf("row %d holds %v", i, *v)
				}
			}
		}
	})
}

// FuzzEvaluateFile sends arbitrary evaluation files with a real model: every
// refusal wraps ErrInvalidInput and an accepted file gives an AUC and KS in
// [0, 1] over at least the minimum rows.
func FuzzEvaluateFile(f *testing.F) {
	model, err := os.ReadFile("../testdata/lg_dart_breast_cancer.model")
	if err != nil {
		f.Fatal(err)
	}
	row := strings.Repeat("1,", 30)
	f.Add([]byte(strings.Repeat(row+"0\n"+row+"1\n", 120)))
	f.Add([]byte("a,b\n1,0\n"))
	f.Add([]byte(row + "2\n"))
	f.Fuzz(func(t *testing.T, file []byte) {
		m, err := EvaluateFile(model, file, gbdt.DefaultLimits())
		if err != nil {
			if !errors.Is(err, lab.ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		if m["eval_rows"] < MinEvaluationRows || !(m["eval_auc"] >= 0 && m["eval_auc"] <= 1) || !(m["eval_ks"] >= 0 && m["eval_ks"] <= 1) {
			t.Fatalf("metrics %v", m)
		}
	})
}

func BenchmarkParseGolden(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		for j := range 30 {
			sb.WriteString("1.2345,")
			_ = j
		}
		sb.WriteString("0.5\n")
		_ = i
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseGolden(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConvertVersionAUC(t *testing.T) {
	tests := []struct {
		name    string
		metrics map[string]float64
		want    float64
	}{
		{"upload", map[string]float64{"auc": 0.7, "ks": 0.3}, 0.7},
		{"trained on a sample", map[string]float64{"valid_auc": 0.85, "test_auc": 0.82, "test_ks": 0.5}, 0.82},
		{"both", map[string]float64{"auc": 0.7, "test_auc": 0.82}, 0.82},
		{"none", map[string]float64{"rmse": 3}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := convertVersion(xregistry.Version{Metrics: tc.metrics}).AUC; got != tc.want {
				t.Fatalf("AUC = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCardDoc reads a card made by training.NewCard as the document the
// version page shows: its figures are the card's own.
func TestCardDoc(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	mk := func(n int) *training.Dataset {
		d := &training.Dataset{Features: []string{"x0", "x1"}, Columns: [][]float64{make([]float64, n), make([]float64, n)}, Label: make([]float64, n)}
		for i := range n {
			d.Columns[0][i], d.Columns[1][i] = rng.Float64(), rng.Float64()
			if rng.Float64() < d.Columns[0][i] {
				d.Label[i] = 1
			}
		}
		return d
	}
	train, test := mk(2000), mk(500)
	p := training.DefaultParams()
	p.NumRounds, p.Monotone = 20, []int8{1, 0}
	m, res, err := training.Train(context.Background(), train, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := training.NewCard(training.CardInput{Name: "pd", DataName: "pd-s/v1", Target: "default_12m", Model: m, Result: res, Train: train, Test: test})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(c)
	d, ev := cardDoc(raw)
	if d == nil {
		t.Fatal("a training card is not read as a document")
	}
	if d.Data != "pd-s/v1" || d.TrainRows != 2000 || d.TestRows != 500 || d.Trees != len(m.Trees) || d.Rounds != 20 || len(d.Monotone) != 1 || !d.Monotone[0].OK {
		t.Fatalf("document %+v", d)
	}
	if len(d.Sets) != 2 || d.Sets[1].Split != "test" || d.Sets[1].AUC != c.Metrics["test"].AUC || d.Sets[1].Rows != 500 {
		t.Fatalf("sets %+v", d.Sets)
	}
	if !math.IsNaN(d.Sets[1].MdAPE) || !math.IsNaN(d.Sets[1].RMSELog) {
		t.Errorf("a binary card has amount errors: %+v", d.Sets[1])
	}
	// The charts beside it are the card's: AUC, calibration and the ROC and KS
	// curves of the split it evaluates last, gain shares.
	e := c.Metrics["test"]
	if ev.AUC != e.AUC || len(ev.Calibration) != len(e.Calibration) || len(e.Calibration) == 0 {
		t.Fatalf("charts %+v, want the test split's AUC %v and %d calibration deciles", ev, e.AUC, len(e.Calibration))
	}
	if e.Curves == nil || len(ev.ROC) != len(e.Curves.FPR) || ev.KS == nil || len(ev.KS.Fraction) != len(e.Curves.Share) {
		t.Fatalf("curves: ROC %d points, KS %+v; the card's test split has %+v", len(ev.ROC), ev.KS, e.Curves)
	}
	for i, pt := range ev.ROC {
		if pt.X != e.Curves.FPR[i] || pt.Y != e.Curves.TPR[i] {
			t.Fatalf("ROC point %d = %+v, card has (%v, %v)", i, pt, e.Curves.FPR[i], e.Curves.TPR[i])
		}
	}
	for i, b := range ev.Calibration {
		if w := e.Calibration[i]; b.Predicted != w.MeanScore || b.Observed != w.Rate || b.Count != int64(w.Rows) {
			t.Errorf("calibration decile %d = %+v, card has %+v", i, b, w)
		}
	}
	var share float64
	for i, imp := range ev.Importance {
		if imp.Feature != c.Importance[i].Feature || imp.Gain != c.Importance[i].GainShare || imp.Gain <= 0 {
			t.Errorf("importance %d = %+v, card has %+v", i, imp, c.Importance[i])
		}
		share += imp.Gain
	}
	if math.Abs(share-1) > 1e-9 {
		t.Errorf("gain shares sum to %v, want 1", share)
	}
	for _, raw := range []string{`{"intended_use":"test"}`, `not json`, `{"text":"a card"}`} {
		if d, _ := cardDoc([]byte(raw)); d != nil {
			t.Fatalf("%s read as a training card", raw)
		}
	}

	// A gamma (limit) card brings its relative errors to the page.
	for _, d := range []*training.Dataset{train, test} {
		for i := range d.Label {
			d.Label[i] = 1e4 * math.Exp(3*d.Columns[0][i]+0.3*rng.NormFloat64())
		}
	}
	p.Objective, p.Monotone = gbdt.Gamma, nil
	if m, res, err = training.Train(context.Background(), train, nil, p); err != nil {
		t.Fatal(err)
	}
	if c, err = training.NewCard(training.CardInput{Name: "limit", Model: m, Result: res, Train: train, Test: test}); err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(c)
	d, ev = cardDoc(raw)
	if e := c.Metrics["test"]; ev.AUC != 0 || d == nil || d.Objective != "gamma" || d.Sets[1].MdAPE != *e.MdAPE || d.Sets[1].RMSELog != *e.RMSELog || !(d.Sets[1].MdAPE > 0) {
		t.Fatalf("gamma card document %+v", d)
	}
}

// TestVersionCards: a version page reads each kind of card the registry may
// hold: a console run's training.Card with its curves, and the free-text card
// the console registered before (versions in existing registries).
func TestVersionCards(t *testing.T) {
	auc := 0.75
	c := &training.Card{Name: "training-t1.txt", Objective: gbdt.Binary, Trees: 3, Leaves: 9,
		Data:     training.CardData{Name: "taiwan:UCI_Credit_Card.csv", Target: "default.payment.next.month", TrainRows: 800, ValidRows: 200},
		Training: training.CardTraining{Rounds: 3, RoundsRun: 3, Metric: "auc"},
		Metrics:  map[string]*training.Evaluation{"train": {Rows: 800, AUC: 0.8}, "valid": {Rows: 200, AUC: auc, KS: 0.4}}}
	curves := &lab.Curves{Split: "valid", ROC: []svg.Point{{X: 0, Y: 0}, {X: 0.2, Y: 0.6}, {X: 1, Y: 1}},
		KS: &svg.KSCurve{Fraction: []float64{0, 0.3, 1}, CumPos: []float64{0, 0.6, 1}, CumNeg: []float64{0, 0.2, 1}}}
	trained, err := json.Marshal(trainedCard{Card: c, Curves: curves})
	if err != nil {
		t.Fatal(err)
	}
	var back training.Card
	if err := json.Unmarshal(trained, &back); err != nil || back.Metrics["valid"].AUC != auc || back.Data.Name != c.Data.Name {
		t.Fatalf("a console run's card read as a training.Card: %+v, %v", back, err)
	}
	v := convertVersion(xregistry.Version{ModelCard: trained, Metrics: training.CardMetrics(c)})
	if v.Doc == nil || v.Doc.ValidRows != 200 || v.AUC != auc || len(v.ROC) != 3 || v.ROC[1] != curves.ROC[1] || v.KS == nil || v.KS.CumPos[1] != 0.6 || v.Card != "" {
		t.Fatalf("console card: doc %+v, AUC %v, ROC %v, KS %v, text %q", v.Doc, v.AUC, v.ROC, v.KS, v.Card)
	}

	legacy := []byte(`{"text":"Sample: taiwan\nValidation: AUC 0.7700;","text_zh":"训练样本：taiwan","evaluation":{"Metrics":[{"Name":"AUC","Value":0.77}],"AUC":0.77,` +
		`"ROC":[{"X":0,"Y":0},{"X":0.3,"Y":0.7},{"X":1,"Y":1}],"Calibration":[{"Predicted":0.1,"Observed":0.12,"Count":50}],"Importance":[{"Feature":"PAY_0","Gain":0.4}]}}`)
	v = convertVersion(xregistry.Version{ModelCard: legacy, Metrics: map[string]float64{"AUC": 0.77}})
	if v.Doc != nil || v.Card != "Sample: taiwan\nValidation: AUC 0.7700;" || v.CardZH != "训练样本：taiwan" || v.AUC != 0.77 || len(v.ROC) != 3 ||
		len(v.Calibration) != 1 || len(v.Importance) != 1 || v.Importance[0].Feature != "PAY_0" {
		t.Fatalf("legacy card: %+v", v)
	}
}
