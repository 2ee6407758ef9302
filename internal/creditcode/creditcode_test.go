package creditcode

import (
	"errors"
	"strings"
	"testing"
)

// Codes published on business licences and in the standard's own example. Their
// check characters were not produced by this package.
var published = []struct{ name, code string }{
	{"GB 32100-2015 example", "91350100M000100Y43"},
	{"Huawei Technologies Co., Ltd.", "914403001922038216"},
	{"Alibaba (China) Co., Ltd.", "91330100799655058B"},
	{"Shenzhen Tencent Computer Systems", "9144030071526726XG"},
	{"China Petrochemical Corporation", "91110000802100433B"},
}

func TestValidatePublished(t *testing.T) {
	for _, tc := range published {
		t.Run(tc.name, func(t *testing.T) {
			if err := Validate(tc.code); err != nil {
				t.Errorf("Validate(%s) = %v, want nil", tc.code, err)
			}
		})
	}
}

// TestCheckCharByHand recomputes the standard's example by hand:
//
//	91350100M000100Y4 with values 9 1 3 5 0 1 0 0 21 0 0 0 1 0 0 30 4
//	weights                     1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
//	products 9+3+27+135+0+26+0+0+420+0+0+0+8+0+0+900+112 = 1640
//	1640 mod 31 = 28, 31-28 = 3 -> '3'
//
// and its organization code M000100Y (GB 11714, M=22, Y=34):
//
//	22*3 + 1*5 + 34*2 = 139, 139 mod 11 = 7, 11-7 = 4 -> '4'
func TestCheckCharByHand(t *testing.T) {
	c, err := CheckChar("91350100M000100Y4")
	if err != nil || c != '3' {
		t.Errorf("CheckChar = %q, %v; want '3'", c, err)
	}
	o, err := OrgCheckChar("M000100Y")
	if err != nil || o != '4' {
		t.Errorf("OrgCheckChar = %q, %v; want '4'", o, err)
	}
	// GB 11714 special cases: remainder 1 -> 'X' (11-1=10), remainder 0 -> '0'.
	// "00000001": 1*2 = 2 -> 11-2 = 9. "00000005": 5*2=10 -> 11-10 = 1.
	// "10000000": 1*3 = 3 -> 8. "00000010": 1*4 = 4 -> 7.
	// "40000000": 4*3=12, 12 mod 11 = 1 -> 'X'. "00000000": 0 -> '0'.
	for body, want := range map[string]byte{"00000001": '9', "00000005": '1', "10000000": '8', "00000010": '7', "40000000": 'X', "00000000": '0'} {
		got, err := OrgCheckChar(body)
		if err != nil || got != want {
			t.Errorf("OrgCheckChar(%s) = %q, %v; want %q", body, got, err, want)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name           string
		auth, typ      byte
		division, body string
		want           string
	}{
		{"standard example", '9', '1', "350100", "M000100Y", "91350100M000100Y43"},
		{"huawei", '9', '1', "440300", "19220382", "914403001922038216"},
		{"tencent", '9', '1', "440300", "71526726", "9144030071526726XG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := New(tc.auth, tc.typ, tc.division, tc.body)
			if err != nil || got != tc.want {
				t.Errorf("New = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name, code string
		want       string
		check      bool // also wraps ErrCheckDigit
	}{
		{"empty", "", "has 0 characters", false},
		{"short", "91350100M000100Y4", "has 17 characters", false},
		{"long", "91350100M000100Y430", "has 19 characters", false},
		{"wrong final check", "91350100M000100Y44", "check character is '4', want '3'", true},
		{"wrong org check", "91350100M000100Y53", "position 17", true},
		{"lower case", "91350100m000100Y43", "position 9 is not in", false},
		{"letter I", "91350100I000100Y43", "position 9", false},
		{"bad authority", "B1350100M000100Y43", "registration authority 'B'", false},
		{"bad type for 9", "95350100M000100Y43", "organization type '5'", false},
		{"division letters", "9135A100M000100Y43", "must be 6 digits", false},
		{"no such province", "91990100M000100Y43", `no province "99"`, false},
		{"chinese", "91350100M000100中", "'中' at position 16", false},
		{"final char not in set", "91350100M000100Y4I", "position 18", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.code)
			if err == nil {
				t.Fatalf("Validate(%q) = nil, want error containing %q", tc.code, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if got := errors.Is(err, ErrCheckDigit); got != tc.check {
				t.Errorf("errors.Is(ErrCheckDigit) = %v, want %v (%v)", got, tc.check, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestSingleErrorsDetected checks the property the mod-31 check is built for:
// every single-character substitution in positions 1-18 is rejected.
func TestSingleErrorsDetected(t *testing.T) {
	code := published[0].code
	for i := range Length {
		for j := range len(Charset) {
			c := Charset[j]
			if c == code[i] {
				continue
			}
			mut := code[:i] + string(c) + code[i+1:]
			if Validate(mut) == nil {
				t.Errorf("substitution at position %d (%q) accepted: %s", i+1, c, mut)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	if got := Normalize(" 91350100m000100y43\n"); got != "91350100M000100Y43" {
		t.Errorf("Normalize = %q", got)
	}
}

func FuzzValidate(f *testing.F) {
	for _, p := range published {
		f.Add(p.code)
	}
	f.Add("")
	f.Add("91350100M000100Y44")
	f.Add("91350100M000100中")
	f.Fuzz(func(t *testing.T, s string) {
		err := Validate(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// A valid code must rebuild to itself from its parts.
		got, err := New(s[0], s[1], s[2:8], s[8:16])
		if err != nil || got != s {
			t.Fatalf("New from parts of valid %q = %q, %v", s, got, err)
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	for b.Loop() {
		if err := Validate("91350100M000100Y43"); err != nil {
			b.Fatal(err)
		}
	}
}
