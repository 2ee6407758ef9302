package training

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseMonotone(t *testing.T) {
	features := []string{"age", "debt_ratio", "late_90"}
	tests := []struct {
		spec string
		want []int8
		err  bool
	}{
		{"", nil, false},
		{"  ", nil, false},
		{"age=-1", []int8{-1, 0, 0}, false},
		{"age=-1, late_90=+1", []int8{-1, 0, 1}, false},
		{"late_90 = 1,debt_ratio=0", []int8{0, 0, 1}, false},
		{"age", nil, true},
		{"income=1", nil, true},
		{"age=2", nil, true},
		{"age=up", nil, true},
		{"age=1,age=-1", nil, true},
		{"=1", nil, true},
		{"age=+-1", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseMonotone(tc.spec, features)
			if tc.err {
				if !errors.Is(err, ErrInvalidParams) {
					t.Errorf("err %v, want ErrInvalidParams", err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseMonotone(f *testing.F) {
	for _, s := range []string{"a=1", "a=-1,b=+1", "c=0", "a", ",", "a=1,a=1", "b=+-1"} {
		f.Add(s)
	}
	features := []string{"a", "b", "c"}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := ParseMonotone(spec, features)
		if err != nil {
			if !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("error %v does not wrap ErrInvalidParams", err)
			}
			return
		}
		if got == nil {
			if strings.TrimSpace(spec) != "" {
				t.Fatalf("nil constraints for %q", spec)
			}
			return
		}
		if len(got) != len(features) {
			t.Fatalf("%d constraints for %d features", len(got), len(features))
		}
		for _, v := range got {
			if v < -1 || v > 1 {
				t.Fatalf("constraint %d", v)
			}
		}
	})
}
