package features

import (
	"context"
	"strings"
	"time"
	"unicode"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
)

// Sources reports the department sources' freshness from the store's batch
// manifests (datasets/ingest.Status) for the console.
type Sources struct {
	store blob.Store
	now   func() time.Time
}

// NewSources returns the source status of store.
func NewSources(store blob.Store) *Sources { return &Sources{store: store, now: time.Now} }

// SourceStatus implements lab.Sources.
func (s *Sources) SourceStatus(ctx context.Context) ([]lab.SourceStatus, error) {
	st, err := ingest.Status(ctx, s.store, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]lab.SourceStatus, len(st))
	for i, x := range st {
		zh, en := splitBilingual(x.Department)
		out[i] = lab.SourceStatus{Source: x.Source, DepartmentZH: zh, DepartmentEN: en, CadenceDays: x.CadenceDays, Batches: x.Batches,
			Rows: x.Rows, Rejected: x.Rejected, LastArrival: x.LastArrival, Late: x.Late}
		if c, err := datasets.ContractOf(x.Source); err == nil {
			out[i].NameZH = c.NameZh
		}
	}
	return out, nil
}

// splitBilingual splits a contract's "中文名 English name" at the first space
// that a Latin letter follows; a name with no such space is both.
func splitBilingual(s string) (zh, en string) {
	rs := []rune(s)
	for i := 0; i+1 < len(rs); i++ {
		if rs[i] == ' ' && rs[i+1] < unicode.MaxASCII && unicode.IsLetter(rs[i+1]) {
			return strings.TrimSpace(string(rs[:i])), strings.TrimSpace(string(rs[i+1:]))
		}
	}
	return s, s
}
