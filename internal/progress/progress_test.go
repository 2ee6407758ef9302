package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestPlainWriterGetsOneFinalLine(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "work", 100)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				b.Add(1)
			}
		}()
	}
	wg.Wait()
	b.Note("auc 0.8")
	b.Done()
	b.Done() // a second Done draws nothing more

	got := buf.String()
	if strings.Contains(got, "\r") || strings.Contains(got, "\x1b") {
		t.Fatalf("plain output has terminal control characters: %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1 (only the final state): %q", len(lines), got)
	}
	if want := "work: 100.0% 100/100"; !strings.HasPrefix(lines[0], want) || !strings.HasSuffix(lines[0], "auc 0.8") {
		t.Fatalf("final line = %q, want prefix %q and suffix %q", lines[0], want, "auc 0.8")
	}
}

func TestNilWriterIsSilent(t *testing.T) {
	b := New(nil, "work", 10)
	b.Add(3)
	b.Note("x")
	if d := b.Done(); d < 0 {
		t.Fatalf("elapsed %v < 0", d)
	}
}
