// Package progress draws one-line progress bars for long CLI work (generation,
// materialization, training, screening) and stays silent when its writer is nil.
// On a terminal the bar redraws in place; on anything else (a log file, CI) it
// writes a plain line at most every few seconds and once at the end, so logs stay
// readable. It is safe for concurrent Add calls from worker goroutines.
package progress

import (
	"fmt"
	"io"
	"os"
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
	tty    bool
}

// New starts a bar that writes to w (nil disables drawing).
func New(w io.Writer, label string, total int64) *Bar {
	now := time.Now()
	return &Bar{w: w, label: label, total: total, start: now, tty: isTerminal(w)}
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
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
		if b.w != nil && b.tty {
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
	interval := 100 * time.Millisecond
	if !b.tty {
		interval = 5 * time.Second
		if b.last.IsZero() {
			b.last = b.start // the first plain line only after one interval
		}
	}
	if !force && now.Sub(b.last) < interval {
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
	if !b.tty {
		fmt.Fprintf(b.w, "%s: %5.1f%% %d/%d %v %s\n", b.label, 100*frac, b.done, b.total, elapsed, b.note)
		return
	}
	fmt.Fprintf(b.w, "\r%-14s %s %5.1f%% %d/%d %v %s\x1b[K", b.label, bar, 100*frac, b.done, b.total, elapsed, b.note)
}
