package datasets

import "testing"

// TestIndustryNamesEN: every section the generator assigns has its English name.
func TestIndustryNamesEN(t *testing.T) {
	for _, in := range industries {
		if IndustryNameEN(in.Section) == "" {
			t.Errorf("section %s (%s) has no English name", in.Section, in.Name)
		}
	}
	if IndustryNameEN("Z") != "" {
		t.Error("an unknown section has a name")
	}
}
