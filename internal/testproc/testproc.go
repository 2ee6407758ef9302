// Package testproc holds what the test harnesses that run servers as child
// processes (miniotest, redistest) share: a bounded, concurrency-safe buffer for
// a child's output, the tail of that output for a failure message, and process
// attributes that make the child die with the test process.
package testproc

import (
	"bytes"
	"strings"
	"sync"
)

// Output collects a child's stdout and stderr, safe for both streams and for
// readers at once. It keeps the last 512 KiB to 1 MiB.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p, dropping the oldest half once the buffer passes 1 MiB.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.b.Len() > 1<<20 {
		keep := o.b.Bytes()[o.b.Len()-(512<<10):]
		o.b = *bytes.NewBuffer(append([]byte(nil), keep...))
	}
	return o.b.Write(p)
}

// String returns what is kept.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Tail returns about the last n bytes of s, from a line start, marked "..." when
// cut.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := strings.IndexByte(s[len(s)-n:], '\n')
	return "..." + s[len(s)-n+i+1:]
}
