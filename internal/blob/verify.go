package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// NewVerifyingReader wraps the content of an object whose recorded size and
// sha256 (lowercase hex) are known. It passes bytes through while hashing them;
// when rc reaches EOF it compares size and digest and, if either differs,
// returns an error wrapping ErrCorrupt instead of io.EOF. Reading more bytes
// than the recorded size is reported as corrupt as soon as it happens. A caller
// that stops before EOF gets no verification. Close closes rc.
//
// Implementations of Store use it in Get; it is exported for them and for
// readers of objects copied by other means.
func NewVerifyingReader(rc io.ReadCloser, key string, size int64, sha string) io.ReadCloser {
	return &verifyingReader{rc: rc, key: key, size: size, want: sha, h: sha256.New()}
}

type verifyingReader struct {
	rc   io.ReadCloser
	key  string
	size int64
	want string
	h    hash.Hash
	n    int64
	err  error // sticky terminal error (corruption or EOF)
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		v.err = fmt.Errorf("%w: %s: more than the recorded %d bytes", ErrCorrupt, v.key, v.size)
		return n, v.err
	}
	if err == io.EOF {
		got := hex.EncodeToString(v.h.Sum(nil))
		switch {
		case v.n != v.size:
			v.err = fmt.Errorf("%w: %s: %d bytes, recorded %d", ErrCorrupt, v.key, v.n, v.size)
		case got != v.want:
			v.err = fmt.Errorf("%w: %s: sha256 %s, recorded %s", ErrCorrupt, v.key, got, v.want)
		default:
			v.err = io.EOF
		}
		return n, v.err
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// ReadAll reads the whole object at key, verified, and returns it with its Info.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, Info, error) {
	return ReadAllInto(ctx, s, key, nil)
}

// ReadAllInto is ReadAll reading into buf's storage when it is large enough
// (its content is overwritten), so that a caller reading objects one after
// another can reuse one buffer instead of leaving each behind as garbage.
func ReadAllInto(ctx context.Context, s Store, key string, buf []byte) ([]byte, Info, error) {
	rc, info, err := s.Get(ctx, key)
	if err != nil {
		return nil, Info{}, err
	}
	defer rc.Close()
	if need := clampCap(info.Size); cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	b := bytes.NewBuffer(buf[:0])
	if _, err := b.ReadFrom(rc); err != nil {
		return nil, Info{}, fmt.Errorf("read %s: %w", key, err)
	}
	return b.Bytes(), info, nil
}

// PutBytes stores data under key.
func PutBytes(ctx context.Context, s Store, key string, data []byte) (Info, error) {
	return s.Put(ctx, key, bytes.NewReader(data))
}

// SHA256Hex returns the lowercase hex sha256 of data, the form Info.SHA256 uses.
func SHA256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// clampCap sizes a read buffer from a recorded size without trusting it for
// huge allocations (ReadFrom grows the buffer if the object is larger).
func clampCap(size int64) int {
	const max = 256 << 20
	switch {
	case size < 0:
		return 0
	case size > max:
		return max
	}
	return int(size) + bytes.MinRead // room for ReadFrom to see EOF without growing
}
