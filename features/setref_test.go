package features

import (
	"errors"
	"testing"
)

func TestParseSetRef(t *testing.T) {
	tests := []struct {
		in   string
		want SetRef
		ok   bool
	}{
		{"credit/v3", SetRef{"credit", 3}, true},
		{" credit/v3 ", SetRef{"credit", 3}, true},
		{"credit", SetRef{"credit", 0}, true},
		{"credit@2", SetRef{"credit", 2}, true},
		{"pd.smb-v2/v12", SetRef{"pd.smb-v2", 12}, true},
		{"credit/v0", SetRef{}, false},
		{"credit/v-1", SetRef{}, false},
		{"credit/v03", SetRef{}, false},
		{"credit/v", SetRef{}, false},
		{"credit/vx", SetRef{}, false},
		{"credit@", SetRef{}, false},
		{"/v3", SetRef{}, false},
		{"", SetRef{}, false},
		{"a/b", SetRef{}, false},
		{"a b/v1", SetRef{}, false},
		{"credit/v1/v2", SetRef{}, false},
	}
	for _, tt := range tests {
		got, err := ParseSetRef(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseSetRef(%q) = %+v, %v; want %+v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadSetRef) {
			t.Errorf("ParseSetRef(%q) error %v does not wrap ErrBadSetRef", tt.in, err)
		}
		if err == nil {
			again, err := ParseSetRef(got.String())
			if err != nil || again != got {
				t.Errorf("round trip of %q: %q gives %+v, %v", tt.in, got.String(), again, err)
			}
		}
	}
	if s := (SetRef{"credit", 3}).String(); s != "credit/v3" {
		t.Errorf("String = %q", s)
	}
	if s := (SetRef{Name: "credit"}).String(); s != "credit" {
		t.Errorf("String of latest = %q", s)
	}
}

func FuzzParseSetRef(f *testing.F) {
	for _, s := range []string{"credit/v3", "credit", "a@1", "/v", "x/v99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseSetRef(s)
		if err != nil {
			return
		}
		again, err := ParseSetRef(r.String())
		if err != nil || again != r {
			t.Fatalf("%q parses to %+v, which prints %q and parses to %+v, %v", s, r, r.String(), again, err)
		}
	})
}
