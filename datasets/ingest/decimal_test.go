package ingest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestParseDecimal checks parseDecimal against strconv.ParseFloat on amounts of
// every length it takes, and that it leaves other text to ParseFloat.
func TestParseDecimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []string{"0", "-0", "+0", "0.0", "-0.00", "1", "12.5", ".5", "5.", "-.25", "999999999999999",
		"99999999999999.9", "0.000000000000001", "123456.78", "-98765.4321", "0.1", "0.3", "2.675"}
	for range 20000 {
		digits := 1 + rng.IntN(15)
		var b []byte
		if rng.IntN(4) == 0 {
			b = append(b, '-')
		}
		point := rng.IntN(digits + 1)
		for d := range digits {
			if d == point && rng.IntN(2) == 0 {
				b = append(b, '.')
			}
			b = append(b, byte('0'+rng.IntN(10)))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		got, ok := parseDecimal(s)
		want, err := strconv.ParseFloat(s, 64)
		if !ok || err != nil {
			t.Fatalf("%q: parseDecimal %v, ParseFloat %v", s, ok, err)
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: %v (%x), ParseFloat %v (%x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
	for _, s := range []string{"", "-", ".", "1e5", "1.2.3", "1,000", "0x10", "Inf", "NaN", " 1", "1_000",
		"1234567890123456", "-0.1234567890123456", "0.00000000000000000000001", fmt.Sprint(math.MaxInt64)} {
		if f, ok := parseDecimal(s); ok {
			t.Errorf("%q read as %v; want it left to ParseFloat", s, f)
		}
	}
}
