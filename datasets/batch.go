package datasets

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Batches: how delivered records become visible.
//
// The generator writes raw/<source>/month=YYYY-MM/part-NNNNN.parquet, visible as
// soon as written. Ingestion writes a batch's parts as
//
//	raw/<source>/month=YYYY-MM/batch-<attempt>-NNNNN.parquet
//
// and then, last, its manifest raw/<source>/_batches/<batch id>.json listing them.
// A batch part is visible only once a manifest lists it (with its sha256), so a
// batch is seen whole or not at all: parts of a refused, failed or killed batch
// stay invisible whatever their names. Every reader of raw files goes through
// VisibleParts.

// BatchPrefix returns the key prefix of the source's batch manifests.
func BatchPrefix(source string) string { return "raw/" + source + "/_batches/" }

// BatchManifestKey returns the key of the manifest of batch id.
func BatchManifestKey(source, id string) string { return BatchPrefix(source) + id + ".json" }

// BatchPartKey returns the key of part n of month m written by an ingestion attempt.
func BatchPartKey(source string, m Month, attempt string, n int) string {
	return fmt.Sprintf("raw/%s/month=%s/batch-%s-%05d.parquet", source, m, attempt, n)
}

// BatchPart is one Parquet file of a committed batch.
type BatchPart struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Rows   int64  `json:"rows"`
}

// BatchManifest is the part of a batch manifest that decides visibility; the
// ingestion report adds its own fields around it.
type BatchManifest struct {
	ID     string      `json:"id"`
	Source string      `json:"source"`
	Parts  []BatchPart `json:"parts"`
}

// maxManifestBytes bounds a manifest read from the store.
const maxManifestBytes = 64 << 20

// ReadBatchManifests reads every batch manifest of a source.
func ReadBatchManifests(ctx context.Context, store blob.Store, source string) ([]BatchManifest, error) {
	prefix := BatchPrefix(source)
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("datasets: list %s: %w", prefix, err)
	}
	out := make([]BatchManifest, 0, len(infos))
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".json") {
			continue
		}
		m, err := readManifest(ctx, store, in.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func readManifest(ctx context.Context, store blob.Store, key string) (BatchManifest, error) {
	var m BatchManifest
	rc, _, err := store.Get(ctx, key)
	if err != nil {
		return m, fmt.Errorf("datasets: read %s: %w", key, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	rc.Close()
	if err != nil {
		return m, fmt.Errorf("datasets: read %s: %w", key, err)
	}
	if len(data) > maxManifestBytes {
		return m, fmt.Errorf("%w: %s: manifest larger than %d bytes", ErrCorrupt, key, maxManifestBytes)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%w: %s: %v", ErrCorrupt, key, err)
	}
	return m, nil
}

// IsBatchPart says whether key names a part written by ingestion (as opposed to
// one written by the generator).
func IsBatchPart(key string) bool {
	i := strings.LastIndexByte(key, '/')
	return strings.HasPrefix(key[i+1:], "batch-")
}

// VisibleParts filters listed objects of a source (keys under raw/<source>/) to
// those a reader may use: generator parts, and batch parts listed by a committed
// batch manifest with the same sha256. Other keys pass through unchanged.
func VisibleParts(ctx context.Context, store blob.Store, source string, infos []blob.Info) ([]blob.Info, error) {
	any := false
	for _, in := range infos {
		if IsBatchPart(in.Key) {
			any = true
			break
		}
	}
	if !any {
		return infos, nil
	}
	committed, err := CommittedParts(ctx, store, source)
	if err != nil {
		return nil, err
	}
	out := infos[:0:0]
	for _, in := range infos {
		if IsBatchPart(in.Key) {
			sum, ok := committed[in.Key]
			if !ok || (sum != "" && in.SHA256 != "" && sum != in.SHA256) {
				continue
			}
		}
		out = append(out, in)
	}
	return out, nil
}

// CommittedParts maps every part a committed batch of source lists to its
// SHA-256.
func CommittedParts(ctx context.Context, store blob.Store, source string) (map[string]string, error) {
	ms, err := ReadBatchManifests(ctx, store, source)
	if err != nil {
		return nil, err
	}
	committed := map[string]string{}
	for _, m := range ms {
		for _, p := range m.Parts {
			committed[p.Key] = p.SHA256
		}
	}
	return committed, nil
}
