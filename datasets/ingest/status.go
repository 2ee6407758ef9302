package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// SourceStatus is the freshness and quality of one source's deliveries.
type SourceStatus struct {
	Source      string        `json:"source"`
	Department  string        `json:"department"`
	CadenceDays int           `json:"cadence_days"`
	Batches     int           `json:"batches"`
	Rows        int64         `json:"rows"`
	Accepted    int64         `json:"accepted"`
	Rejected    int64         `json:"rejected"`
	LastBatch   string        `json:"last_batch,omitempty"`
	LastArrival time.Time     `json:"last_arrival,omitzero"`
	Age         time.Duration `json:"age_ns"`
	// Late says the newest batch is older than the source's cadence (or there is none).
	Late bool `json:"late"`
}

// RejectRate is the share of delivered rows rejected.
func (s SourceStatus) RejectRate() float64 {
	if s.Rows == 0 {
		return 0
	}
	return float64(s.Rejected) / float64(s.Rows)
}

// Status reports every department source's committed batches as of now.
func Status(ctx context.Context, store blob.Store, now time.Time) ([]SourceStatus, error) {
	contracts, err := datasets.Contracts()
	if err != nil {
		return nil, err
	}
	out := make([]SourceStatus, 0, len(contracts))
	for _, c := range contracts {
		reps, err := History(ctx, store, c.Name)
		if err != nil {
			return nil, err
		}
		st := SourceStatus{Source: c.Name, Department: c.Department, CadenceDays: c.CadenceDays, Batches: len(reps)}
		for _, r := range reps {
			st.Rows += r.Rows
			st.Accepted += r.Accepted
			st.Rejected += r.Rejected
			if !r.AcceptedAt.Before(st.LastArrival) {
				st.LastArrival, st.LastBatch = r.AcceptedAt, r.ID
			}
		}
		if len(reps) > 0 {
			st.Age = now.Sub(st.LastArrival)
		}
		st.Late = len(reps) == 0 || st.Age > time.Duration(c.CadenceDays)*24*time.Hour
		out = append(out, st)
	}
	return out, nil
}

// RemoveOrphans deletes the parts of a source that no committed batch lists and
// that were written before before: what batches refused, failed or killed before
// their manifest left behind (they were never visible). Parts written since may
// belong to a batch still running and are kept. It returns the keys removed.
func RemoveOrphans(ctx context.Context, store blob.Store, source string, before time.Time) ([]string, error) {
	src, err := datasets.SourceByName(source)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	infos, err := store.List(ctx, src.Prefix())
	if err != nil {
		return nil, fmt.Errorf("ingest: list %s: %w", src.Prefix(), err)
	}
	committed, err := datasets.CommittedParts(ctx, store, source)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, in := range infos {
		if _, listed := committed[in.Key]; !datasets.IsBatchPart(in.Key) || listed || !in.Modified.Before(before) {
			continue
		}
		if err := store.Delete(ctx, in.Key); err != nil {
			return removed, fmt.Errorf("ingest: remove %s: %w", in.Key, err)
		}
		removed = append(removed, in.Key)
	}
	return removed, nil
}

// RemoveStaleTemps removes the temporary files (spills, spooled uploads,
// quarantines being written) that ingestion processes killed mid-batch left in
// dir, when last written before before. It returns how many it removed.
func RemoveStaleTemps(dir string, before time.Time) (int, error) {
	n := 0
	for _, pattern := range []string{"xinyi-ingest-*", "xinyi-quarantine-*"} {
		names, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return n, err
		}
		for _, name := range names {
			st, err := os.Lstat(name)
			if err != nil || !st.Mode().IsRegular() || !st.ModTime().Before(before) {
				continue
			}
			if err := os.Remove(name); err != nil {
				return n, fmt.Errorf("ingest: remove %s: %w", name, err)
			}
			n++
		}
	}
	return n, nil
}
