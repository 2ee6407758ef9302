package datasets

import "testing"

func TestDistrictsTileLayout(t *testing.T) {
	ds := Districts()
	if len(ds) != 5 {
		t.Fatalf("%d districts, want the five of 佛山", len(ds))
	}
	at := map[[2]int]string{}
	for _, d := range ds {
		if d.NameEN == "" {
			t.Errorf("district %s %s has no English name and no place on the map", d.Code, d.Name)
		}
		if d.Col < 0 || d.Row < 0 {
			t.Errorf("district %s at (%d, %d)", d.Name, d.Col, d.Row)
		}
		if other, ok := at[[2]int{d.Col, d.Row}]; ok {
			t.Errorf("%s and %s share the tile (%d, %d)", other, d.Name, d.Col, d.Row)
		}
		at[[2]int{d.Col, d.Row}] = d.Name
	}
	// Every tile touches another one by an edge: the map is one piece, as the region is.
	for _, d := range ds {
		_, w := at[[2]int{d.Col - 1, d.Row}]
		_, e := at[[2]int{d.Col + 1, d.Row}]
		_, n := at[[2]int{d.Col, d.Row - 1}]
		_, s := at[[2]int{d.Col, d.Row + 1}]
		if !w && !e && !n && !s {
			t.Errorf("%s stands alone on the map", d.Name)
		}
	}
	if got := DistrictNameEN("顺德区"); got != "Shunde" {
		t.Errorf("DistrictNameEN(顺德区) = %q", got)
	}
	if got := DistrictNameEN("百官街道"); got != "" {
		t.Errorf("DistrictNameEN of a street outside the region = %q", got)
	}
}
