package blob

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Prefixed is a Store seen through a folder of another: every key k of the view is
// key Prefix+k of the underlying store, and List returns keys relative to the
// prefix. A bank's private sources live under such a view ("banks/<id>/"), so
// everything that lists raw/ at the root, public materialization included, never
// reads them.
type Prefixed struct {
	store  Store
	prefix string
}

// WithPrefix returns the view of store under prefix, which must be a valid key
// followed by "/" ("banks/7/").
func WithPrefix(store Store, prefix string) (*Prefixed, error) {
	if !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("%w: prefix %q must end with '/'", ErrInvalidKey, prefix)
	}
	if err := ValidateKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return nil, err
	}
	return &Prefixed{store: store, prefix: prefix}, nil
}

// Prefix is the folder of the underlying store the view shows.
func (p *Prefixed) Prefix() string { return p.prefix }

// Put stores r under the prefixed key.
func (p *Prefixed) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	in, err := p.store.Put(ctx, p.prefix+key, r)
	return p.strip(in), err
}

// Get opens the prefixed key.
func (p *Prefixed) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Info{}, err
	}
	rc, in, err := p.store.Get(ctx, p.prefix+key)
	return rc, p.strip(in), err
}

// Stat returns the Info of the prefixed key.
func (p *Prefixed) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	in, err := p.store.Stat(ctx, p.prefix+key)
	return p.strip(in), err
}

// List lists the view's keys starting with prefix.
func (p *Prefixed) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	infos, err := p.store.List(ctx, p.prefix+prefix)
	for i := range infos {
		infos[i] = p.strip(infos[i])
	}
	return infos, err
}

// Delete removes the prefixed key.
func (p *Prefixed) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	return p.store.Delete(ctx, p.prefix+key)
}

func (p *Prefixed) strip(in Info) Info {
	in.Key = strings.TrimPrefix(in.Key, p.prefix)
	return in
}
