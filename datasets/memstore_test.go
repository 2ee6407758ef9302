package datasets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// memStore is a minimal in-memory blob.Store for tests of this package.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) Put(_ context.Context, key string, r io.Reader) (blob.Info, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "..") {
		return blob.Info{}, fmt.Errorf("%w: %q", blob.ErrInvalidKey, key)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return blob.Info{}, err
	}
	m.mu.Lock()
	m.objs[key] = b
	m.mu.Unlock()
	return info(key, b), nil
}

func info(key string, b []byte) blob.Info {
	s := sha256.Sum256(b)
	return blob.Info{Key: key, Size: int64(len(b)), SHA256: hex.EncodeToString(s[:]), Modified: time.Unix(0, 0)}
}

func (m *memStore) Get(_ context.Context, key string) (io.ReadCloser, blob.Info, error) {
	m.mu.Lock()
	b, ok := m.objs[key]
	m.mu.Unlock()
	if !ok {
		return nil, blob.Info{}, fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return io.NopCloser(bytes.NewReader(b)), info(key, b), nil
}

func (m *memStore) Stat(_ context.Context, key string) (blob.Info, error) {
	m.mu.Lock()
	b, ok := m.objs[key]
	m.mu.Unlock()
	if !ok {
		return blob.Info{}, fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return info(key, b), nil
}

func (m *memStore) List(_ context.Context, prefix string) ([]blob.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []blob.Info
	for k, b := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, info(k, b))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.objs, key)
	m.mu.Unlock()
	return nil
}
