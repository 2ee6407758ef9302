package training

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// tableOf builds 100 rows per decile, decile 1 the highest scores, with
// positives[d] positive rows in decile d+1.
func tableOf(positives []int) (y, prob []float64) {
	n := 100 * len(positives)
	for d, p := range positives {
		for k := range 100 {
			// Scores fall with the decile and inside it.
			prob = append(prob, float64(n-(100*d+k))/float64(n+1))
			if k < p {
				y = append(y, 1)
			} else {
				y = append(y, 0)
			}
		}
	}
	return y, prob
}

// TestRelease: cells with fewer rows, positives or negatives than the policy
// are withheld, a lone withheld cell takes the next smallest with it, a small
// split is withheld whole, and no row's own score is released. Expected cells
// are counted from the construction of the table.
func TestRelease(t *testing.T) {
	pol := ReleaseOptions{MinCellRows: 50, MinCellPositives: 10}
	for _, tt := range []struct {
		name      string
		positives []int
		hidden    []int // lift deciles withheld
	}{
		{"three small cells", []int{60, 40, 30, 20, 15, 12, 10, 9, 5, 2}, []int{8, 9, 10}},
		{"a lone small cell takes the next smallest", []int{60, 40, 30, 20, 15, 12, 11, 10, 10, 9}, []int{8, 10}},
		{"few negatives", []int{95, 40, 30, 20, 15, 12, 11, 10, 10, 10}, []int{1, 8}},
		{"nothing small", []int{60, 40, 30, 20, 15, 12, 11, 11, 11, 11}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			y, prob := tableOf(tt.positives)
			e, err := Release("test", y, prob, pol)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, p := range tt.positives {
				total += p
			}
			if e.Suppressed || e.Rows != 1000 || e.Positives != total {
				t.Fatalf("totals %+v", e)
			}
			var hidden []int
			for i, c := range e.Lift {
				if c.Suppressed {
					hidden = append(hidden, c.Decile)
					if c.Rows != 0 || c.Positives != 0 || c.Rate != nil || c.MeanScore != nil {
						t.Fatalf("withheld cell %d carries %+v", c.Decile, c)
					}
					continue
				}
				p := tt.positives[i]
				overall := float64(total) / 1000
				if c.Rows != 100 || c.Positives != p || math.Abs(*c.Rate-float64(p)/100) > 1e-12 || math.Abs(*c.Lift-float64(p)/100/overall) > 1e-12 {
					t.Fatalf("lift decile %d: %+v, want 100 rows, %d positives", c.Decile, c, p)
				}
			}
			if fmt.Sprint(hidden) != fmt.Sprint(tt.hidden) && !(len(hidden) == 0 && len(tt.hidden) == 0) {
				t.Fatalf("withheld lift deciles %v, want %v", hidden, tt.hidden)
			}
			// Calibration runs the other way: lift decile d is calibration decile
			// 11-d. Its small cells are withheld, and as many cells in all as in
			// the lift table (a tie for the next smallest may fall elsewhere).
			nCal := 0
			for _, c := range e.Calibration {
				p := tt.positives[10-c.Decile]
				if (p < 10 || 100-p < 10) && !c.Suppressed {
					t.Fatalf("small calibration decile %d released: %+v", c.Decile, c)
				}
				if c.Suppressed {
					nCal++
				}
			}
			if nCal != len(tt.hidden) {
				t.Fatalf("%d calibration cells withheld, want %d", nCal, len(tt.hidden))
			}
			if e.SuppressedCells != 2*len(tt.hidden) {
				t.Fatalf("suppressed cells %d, want %d", e.SuppressedCells, 2*len(tt.hidden))
			}
			if txt := e.Text(); strings.Count(txt, "withheld") != 2*len(tt.hidden)+1 || !strings.Contains(txt, fmt.Sprintf("Rows 1000, positives %d", total)) {
				t.Fatalf("card text:\n%s", txt)
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, word := range []string{"min_score", "max_score", "cum_", "roc"} {
				if strings.Contains(string(b), word) {
					t.Fatalf("released evaluation holds %s: %s", word, b)
				}
			}
		})
	}
	t.Run("small split", func(t *testing.T) {
		y, prob := tableOf([]int{30})
		e, err := Release("test", y[:40], prob[:40], pol)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Suppressed || e.AUC != nil || e.Rows != 0 || len(e.Lift) != 0 {
			t.Fatalf("a 40-row split released %+v", e)
		}
		if !strings.Contains(e.String(), "withheld") {
			t.Fatalf("summary %q", e.String())
		}
	})
}
