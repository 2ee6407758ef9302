// Package progress draws one-line progress bars for long CLI work (generation,
// materialization, training, screening) and stays silent when its writer is nil.
// It is safe for concurrent Add calls from worker goroutines.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Bar is a progress bar over a known total of units.
type Bar struct {
	w     io.Writer
	label string
	total int64

	mu     sync.Mutex
	done   int64
	note   string
	start  time.Time
	last   time.Time
	closed bool
}

// New starts a bar that writes to w (nil disables drawing).
func New(w io.Writer, label string, total int64) *Bar {
	now := time.Now()
	return &Bar{w: w, label: label, total: total, start: now}
}

// Add records n more finished units.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	b.done += n
	b.drawLocked(false)
	b.mu.Unlock()
}

// Note sets a short status text shown after the counts (e.g. "valid auc 0.812").
func (b *Bar) Note(s string) {
	b.mu.Lock()
	b.note = s
	b.drawLocked(false)
	b.mu.Unlock()
}

// Done draws the final state and ends the line. It returns the elapsed time.
func (b *Bar) Done() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.drawLocked(true)
		if b.w != nil {
			fmt.Fprintln(b.w)
		}
		b.closed = true
	}
	return time.Since(b.start)
}

func (b *Bar) drawLocked(force bool) {
	if b.w == nil || b.closed {
		return
	}
	now := time.Now()
	if !force && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	const width = 30
	frac := 1.0
	if b.total > 0 {
		frac = float64(b.done) / float64(b.total)
	}
	frac = min(max(frac, 0), 1)
	filled := int(frac * width)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	elapsed := now.Sub(b.start).Round(100 * time.Millisecond)
	fmt.Fprintf(b.w, "\r%-14s %s %5.1f%% %d/%d %v %s\x1b[K", b.label, bar, 100*frac, b.done, b.total, elapsed, b.note)
}
