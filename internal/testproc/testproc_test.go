package testproc

import (
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"line one\nline two\nline three", 12, "...line three"},
		{"nolinebreaks", 4, "...eaks"},
	}
	for _, tt := range tests {
		if got := Tail(tt.s, tt.n); got != tt.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestOutputKeepsTheEnd(t *testing.T) {
	var o Output
	line := strings.Repeat("x", 1023) + "\n"
	for range 3000 { // 3 MB written
		if _, err := o.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := o.Write([]byte("last\n")); err != nil {
		t.Fatal(err)
	}
	s := o.String()
	if len(s) > 1<<20+len(line) || !strings.HasSuffix(s, "last\n") {
		t.Fatalf("kept %d bytes, ends %q", len(s), s[len(s)-10:])
	}
}
