package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// CleanupReport says what Cleanup found and removed.
type CleanupReport struct {
	Scanned    int      `json:"scanned"`    // objects under models/sha256/
	Referenced int      `json:"referenced"` // of those, held by a version
	Young      int      `json:"young"`      // unreferenced but newer than the grace period
	Removed    []string `json:"removed"`    // keys deleted
	// TempsRemoved names the stale temporary upload files removed (as the store
	// names them), TempBytes their total size, TempsKept the younger ones left.
	TempsRemoved []string `json:"temps_removed"`
	TempBytes    int64    `json:"temp_bytes"`
	TempsKept    int      `json:"temps_kept"`
}

// Cleanup removes artifacts under models/sha256/ that no version references and
// that are older than Options.OrphanGrace (an upload interrupted between its
// artifact writes and its metadata commit leaves such objects). Uploads in flight
// are younger than the grace period and are kept. Content addressing makes a
// removed orphan harmless: uploading the same file again rewrites it.
//
// When the object store keeps temporary files of writes (blob.TempRemover: the
// local folder's .tmp/put-*, MinIO's spool files), Cleanup also removes those not
// written for Options.TempGrace: an upload killed mid-write leaves one as large as
// the model. A write in progress keeps its file young and is not touched.
func (r *Registry) Cleanup(ctx context.Context) (CleanupReport, error) {
	rep, err := r.cleanup(ctx, r.opts.OrphanGrace)
	if err != nil {
		return rep, err
	}
	tr, ok := r.blobs.(blob.TempRemover)
	if !ok {
		return rep, nil
	}
	removed, kept, err := tr.RemoveStaleTemps(ctx, r.now().Add(-r.opts.TempGrace))
	rep.TempsKept = kept
	for _, t := range removed {
		rep.TempsRemoved = append(rep.TempsRemoved, t.Key)
		rep.TempBytes += t.Size
		r.opts.Logger.Info("registry: removed stale temporary upload", "file", t.Key, "size", t.Size, "modified", t.Modified)
	}
	if err != nil {
		return rep, fmt.Errorf("registry: cleanup: temporary uploads: %w", err)
	}
	return rep, nil
}

func (r *Registry) cleanup(ctx context.Context, grace time.Duration) (CleanupReport, error) {
	var rep CleanupReport
	objs, err := r.blobs.List(ctx, "models/sha256/")
	if err != nil {
		return rep, fmt.Errorf("registry: cleanup: list artifacts: %w", err)
	}
	rep.Scanned = len(objs)
	cutoff := r.now().Add(-grace)
	for _, o := range objs {
		digest := strings.TrimPrefix(o.Key, "models/sha256/")
		used, err := r.referenced(ctx, digest)
		if err != nil {
			return rep, err
		}
		if used {
			rep.Referenced++
			continue
		}
		if o.Modified.After(cutoff) {
			rep.Young++
			continue
		}
		// Re-check right before deleting: an upload may have rewritten the object
		// (fresh Modified) or committed a version since the listing.
		info, err := r.blobs.Stat(ctx, o.Key)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("registry: cleanup: stat %s: %w", o.Key, err)
		}
		if info.Modified.After(cutoff) {
			rep.Young++
			continue
		}
		if used, err := r.referenced(ctx, digest); err != nil || used {
			if err != nil {
				return rep, err
			}
			rep.Referenced++
			continue
		}
		if err := r.blobs.Delete(ctx, o.Key); err != nil {
			return rep, fmt.Errorf("registry: cleanup: delete %s: %w", o.Key, err)
		}
		rep.Removed = append(rep.Removed, o.Key)
		r.opts.Logger.Info("registry: removed orphan artifact", "key", o.Key, "size", o.Size)
	}
	return rep, nil
}

func (r *Registry) referenced(ctx context.Context, digest string) (bool, error) {
	var n int
	row := r.db.QueryRow(ctx, "SELECT COUNT(*) FROM registry_versions WHERE artifact_digest = ? OR original_digest = ?", digest, digest)
	if err := row.Scan(&n); err != nil {
		return false, fmt.Errorf("registry: cleanup: references of %s: %w", digest, err)
	}
	return n > 0, nil
}
