package access

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// FileSender is a Sender that appends each message, with its time and recipient,
// as one line to a file: the spool an SMS gateway reads, or what a demo's user
// reads the code from.
type FileSender struct {
	Path string
	mu   sync.Mutex
}

// Send appends one line "time<TAB>phone<TAB>text" and syncs it.
func (f *FileSender) Send(_ context.Context, to Contact, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	file, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("access: outbox: %w", err)
	}
	if _, err := fmt.Fprintf(file, "%s\t%s\t%s\n", time.Now().UTC().Format(time.RFC3339), to.Phone, text); err != nil {
		file.Close()
		return fmt.Errorf("access: outbox %s: %w", f.Path, err)
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return fmt.Errorf("access: outbox %s: %w", f.Path, err)
	}
	return file.Close()
}
