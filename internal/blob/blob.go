// Package blob is Xinyi's object storage: a small interface with a local-folder
// implementation (the embedded default, in this package) and a MinIO / S3
// implementation (internal/blob/minio). Both pass one contract suite
// (internal/blob/blobtest).
//
// Invariants every implementation keeps:
//   - Put is atomic: a reader sees the whole new object or the old one (or none),
//     never a partial write, even with concurrent writers of the same key.
//   - Every object's sha256 is recorded at write time and verified on read; a
//     mismatch surfaces as ErrCorrupt, never as silently wrong bytes.
//   - Keys are relative, slash-separated paths; "..", absolute paths, empty
//     segments, segments beginning with a dot (reserved for the stores' own
//     files), backslashes and control characters are refused with
//     ErrInvalidKey (see ValidateKey).
//
// Usage:
//
//	store, err := blob.OpenLocal("./xinyi-data")
//	info, err := store.Put(ctx, "raw/tax/month=2024-01/part-00000.parquet", r)
//	data, info, err := blob.ReadAll(ctx, store, key)
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors, wrapped with the key involved.
var (
	ErrNotFound    = errors.New("blob: object not found")
	ErrCorrupt     = errors.New("blob: object corrupt (sha256 mismatch)")
	ErrInvalidKey  = errors.New("blob: invalid key")
	ErrUnavailable = errors.New("blob: store unavailable")
)

// Info describes one stored object.
type Info struct {
	Key      string
	Size     int64
	SHA256   string // lowercase hex digest of the content
	Modified time.Time
}

// Store is an object store. Implementations are safe for concurrent use.
type Store interface {
	// Put stores the content of r under key atomically and returns its Info.
	Put(ctx context.Context, key string, r io.Reader) (Info, error)
	// Get opens key for reading. The reader verifies the sha256 as it reaches
	// the end and returns an error wrapping ErrCorrupt from Read if it differs.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat returns the Info of key, or an error wrapping ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns every object whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// KeyLister is the optional ability of a Store to list the keys under a prefix
// (sorted, as List would return them) more cheaply than List, without the
// objects' digests and sizes.
type KeyLister interface {
	ListKeys(ctx context.Context, prefix string) ([]string, error)
}

// Keys returns the keys of the objects under prefix, sorted, through the
// store's KeyLister when it has one.
func Keys(ctx context.Context, s Store, prefix string) ([]string, error) {
	if kl, ok := s.(KeyLister); ok {
		return kl.ListKeys(ctx, prefix)
	}
	infos, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(infos))
	for i, in := range infos {
		keys[i] = in.Key
	}
	return keys, nil
}

// TempRemover is the optional ability of a Store that keeps temporary files of
// writes in progress (the local folder's .tmp/put-*, MinIO's spool files): a writer
// killed mid-write leaves them behind. RemoveStaleTemps removes those last written
// before before and returns them (Key names the file within the store's folder or
// spool directory); kept counts the younger ones it left alone, which may belong
// to writes still in progress.
type TempRemover interface {
	RemoveStaleTemps(ctx context.Context, before time.Time) (removed []Info, kept int, err error)
}
