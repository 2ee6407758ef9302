package reports

import "testing"

// TestPurposes: every department a purpose names exists, once per purpose.
func TestPurposes(t *testing.T) {
	known := map[string]bool{}
	for _, d := range departments {
		if known[d.id] {
			t.Errorf("department %s twice", d.id)
		}
		known[d.id] = true
		if (d.kind == kindPenalty || d.kind == kindTax) != (len(d.penaltyDept) > 0) {
			t.Errorf("department %s: penalty stems %q for kind %d", d.id, d.penaltyDept, d.kind)
		}
	}
	for _, p := range Purposes() {
		seen := map[string]bool{}
		for _, id := range purposeDepartments[p] {
			if !known[id] || seen[id] {
				t.Errorf("purpose %s: department %q unknown or repeated", p, id)
			}
			seen[id] = true
		}
		if _, ok := purposeText[p]; !ok {
			t.Errorf("purpose %s has no wording", p)
		}
	}
}

func TestDecided(t *testing.T) {
	tests := []struct {
		dept, authority string
		want            bool
	}{
		{"market", "市场监管局", true},
		{"market", "绍兴市市场监督管理局", true},
		{"market", "税务局", false},
		{"tax", "国家税务总局绍兴市税务局", true},
		{"environment", "绍兴市生态环境局", true},
		{"environment", "上虞区环境保护局", true},
		{"fire", "消防救援支队", true},
		{"emergency", "应急管理局", true},
		{"emergency", "消防救援支队", false},
	}
	for _, tt := range tests {
		if got := departmentByID(tt.dept).decided(tt.authority); got != tt.want {
			t.Errorf("%s decided %q: %v, want %v", tt.dept, tt.authority, got, tt.want)
		}
	}
}
