package serving

import "testing"

func TestWan(t *testing.T) {
	for _, c := range []struct {
		yuan float64
		want string
	}{
		{0, "0.00"}, {5000, "0.50"}, {12345678, "1,234.57"}, {1234567890123, "123,456,789.01"}, {-25000, "-2.50"}, {9999999, "1,000.00"},
	} {
		if got := wan(c.yuan); got != c.want {
			t.Errorf("wan(%v) = %q, want %q", c.yuan, got, c.want)
		}
	}
}
