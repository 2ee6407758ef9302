package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The local store keeps each object in one file, <root>/<key>, that begins with
// a fixed-length, one-line text header recording the content's sha256 and size:
//
//	xinyi-blob 1 sha256:<64 hex digits> size:<20 decimal digits>\n
//	<content bytes>
//
// Why one file and not content plus a sidecar: Put writes header and content to
// a temporary file under <root>/.tmp, fsyncs it and renames it over
// <root>/<key>. That single rename publishes the content and its digest
// together, so there is no moment, under concurrent writers or after a crash,
// at which a reader could pair one version's bytes with another version's
// digest; with a sidecar, two writers (or a crash between two renames) can
// leave data and digest from different versions, which a reader could not tell
// from real corruption. A reader opens the file once and reads header and
// content from that one inode, so a concurrent overwrite or delete never mixes
// versions either. The cost is that object files are not the raw bytes: strip
// the first HeaderLen bytes (tail -c +112 FILE) to use one with other tools.
//
// Temporary files live in <root>/.tmp (same file system as the objects, so the
// rename is atomic); keys cannot begin a segment with a dot, so they never
// collide with it and List never shows them. Leftovers of crashed writers older
// than an hour are removed by OpenLocal. All file access goes through os.Root,
// so a symbolic link inside the folder cannot lead a key outside it.

const (
	headerMagic = "xinyi-blob 1 sha256:"
	// HeaderLen is the length of the header that begins every object file of
	// the local store.
	HeaderLen = len(headerMagic) + 64 + len(" size:") + 20 + 1
	tmpDir    = ".tmp"
	staleTemp = time.Hour
)

// Local is the local-folder Store. Create it with OpenLocal.
type Local struct {
	dir  string
	root *os.Root
}

var _ Store = (*Local)(nil)

// OpenLocal opens (creating if needed) the folder dir as a Store.
func OpenLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: open local %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, tmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("blob: open local %s: %w", dir, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("blob: open local %s: %w", dir, err)
	}
	l := &Local{dir: abs, root: root}
	_, _, _ = l.RemoveStaleTemps(context.Background(), time.Now().Add(-staleTemp)) // best effort
	return l, nil
}

// Dir returns the absolute path of the store's folder.
func (l *Local) Dir() string { return l.dir }

// Path returns the file that holds key (header and content), for tools and
// tests that need to look at the file itself.
func (l *Local) Path(key string) string { return filepath.Join(l.dir, filepath.FromSlash(key)) }

// Close releases the folder handle. The store must not be used afterwards.
func (l *Local) Close() error { return l.root.Close() }

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("blob: put %s: %w", key, err)
	}
	info, err := l.put(ctx, key, r)
	if err != nil {
		return Info{}, fmt.Errorf("blob: put %s: %w", key, err)
	}
	return info, nil
}

func (l *Local) put(ctx context.Context, key string, r io.Reader) (info Info, err error) {
	tmpName, f, err := l.createTemp()
	if err != nil {
		return Info{}, err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			l.root.Remove(tmpName)
		}
	}()

	// Content first, after room for the header; then the header in place.
	if _, err := f.Write(make([]byte, HeaderLen)); err != nil {
		return Info{}, err
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx, r}, make([]byte, 256<<10))
	if err != nil {
		return Info{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.WriteAt(encodeHeader(sum, n), 0); err != nil {
		return Info{}, err
	}
	if err := f.Sync(); err != nil {
		return Info{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	if err := f.Close(); err != nil {
		f = nil
		return Info{}, err
	}
	f = nil
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if err := l.publish(tmpName, key); err != nil {
		return Info{}, err
	}
	return Info{Key: key, Size: n, SHA256: sum, Modified: st.ModTime()}, nil
}

// createTemp creates a new file under .tmp with a random name.
func (l *Local) createTemp() (string, *os.File, error) {
	for range 10 {
		var b [12]byte
		rand.Read(b[:])
		name := tmpDir + "/put-" + hex.EncodeToString(b[:])
		f, err := l.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrNotExist) {
			// Someone removed .tmp under us: recreate it.
			if err := l.root.MkdirAll(tmpDir, 0o755); err != nil {
				return "", nil, err
			}
			continue
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, f, err
	}
	return "", nil, errors.New("cannot create a temporary file")
}

// publish renames the finished temporary file over key and syncs the folder
// that holds it, so the new name survives a crash.
func (l *Local) publish(tmpName, key string) error {
	dir := path.Dir(key)
	for attempt := 0; ; attempt++ {
		if dir != "." {
			if err := l.root.MkdirAll(dir, 0o755); err != nil {
				if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("%w: a prefix of %s is an object, the local store cannot also hold it as a folder", ErrInvalidKey, key)
				}
				return err
			}
		}
		err := l.root.Rename(tmpName, key)
		if err == nil {
			break
		}
		// A concurrent Delete may have removed the (then empty) folder
		// between MkdirAll and Rename: make it again.
		if errors.Is(err, fs.ErrNotExist) && attempt < 5 {
			continue
		}
		if st, serr := l.root.Lstat(key); serr == nil && st.IsDir() {
			return fmt.Errorf("%w: %s is a folder of other objects in the local store", ErrInvalidKey, key)
		}
		return err
	}
	d, err := l.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Info{}, fmt.Errorf("blob: get %s: %w", key, err)
	}
	f, info, err := l.open(key)
	if err != nil {
		return nil, Info{}, err
	}
	return NewVerifyingReader(f, key, info.Size, info.SHA256), info, nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	f, info, err := l.open(key)
	if err != nil {
		return Info{}, err
	}
	f.Close()
	return info, nil
}

// open opens key's file and reads its header, leaving the file positioned at
// the first content byte.
func (l *Local) open(key string) (*os.File, Info, error) {
	f, err := l.root.Open(key)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		return nil, Info{}, fmt.Errorf("blob: open %s: %w", key, err)
	}
	info, err := readHeader(f, key)
	if err != nil {
		f.Close()
		return nil, Info{}, err
	}
	return f, info, nil
}

func readHeader(f *os.File, key string) (Info, error) {
	st, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	if st.IsDir() {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	var hdr [HeaderLen]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Info{}, fmt.Errorf("%w: %s: file shorter than the object header", ErrCorrupt, key)
		}
		return Info{}, fmt.Errorf("blob: read %s: %w", key, err)
	}
	sum, size, ok := decodeHeader(hdr[:])
	if !ok {
		return Info{}, fmt.Errorf("%w: %s: no valid object header", ErrCorrupt, key)
	}
	if st.Size()-int64(HeaderLen) != size {
		return Info{}, fmt.Errorf("%w: %s: %d content bytes, recorded %d", ErrCorrupt, key, st.Size()-int64(HeaderLen), size)
	}
	return Info{Key: key, Size: size, SHA256: sum, Modified: st.ModTime()}, nil
}

func encodeHeader(sum string, size int64) []byte {
	return fmt.Appendf(nil, "%s%s size:%020d\n", headerMagic, sum, size)
}

func decodeHeader(b []byte) (sum string, size int64, ok bool) {
	if len(b) != HeaderLen || !strings.HasPrefix(string(b), headerMagic) || b[HeaderLen-1] != '\n' {
		return "", 0, false
	}
	rest := string(b[len(headerMagic) : HeaderLen-1])
	sum, sizeField, found := strings.Cut(rest, " size:")
	if !found || len(sum) != 64 || len(sizeField) != 20 {
		return "", 0, false
	}
	for _, c := range sum {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", 0, false
		}
	}
	size, err := strconv.ParseInt(sizeField, 10, 64)
	if err != nil || size < 0 {
		return "", 0, false
	}
	return sum, size, true
}

// List implements Store.
func (l *Local) List(ctx context.Context, prefix string) ([]Info, error) {
	infos := []Info{}
	err := l.walk(ctx, prefix, func(p string) error {
		f, info, err := l.open(p)
		if errors.Is(err, ErrNotFound) {
			return nil // deleted while we walked
		}
		if err != nil {
			return err
		}
		f.Close()
		infos = append(infos, info)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return infos, nil
}

// ListKeys implements KeyLister: the keys List would return, without opening
// the objects.
func (l *Local) ListKeys(ctx context.Context, prefix string) ([]string, error) {
	keys := []string{}
	err := l.walk(ctx, prefix, func(p string) error {
		keys = append(keys, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	return keys, nil
}

// walk calls fn with the key of every object whose key starts with prefix.
func (l *Local) walk(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return err
	}
	// Walk only the folder the prefix names fully ("raw/tax/" or "raw/ta"
	// both start in raw/).
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	err := fs.WalkDir(l.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll // nothing under this prefix
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir // .tmp and anything else hidden
			}
			return nil
		}
		if d.IsDir() {
			if p != start && p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(p, prefix) {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s: not a regular file", ErrCorrupt, p)
		}
		return fn(p)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: list %q: %w", prefix, err)
	}
	return nil
}

// Delete implements Store. It also removes the folders the deletion empties.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	st, err := l.root.Lstat(key)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	if st.IsDir() {
		return nil // a folder of other objects, not an object
	}
	if err := l.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if l.root.Remove(dir) != nil {
			break // not empty (or gone): stop
		}
	}
	return nil
}

var _ TempRemover = (*Local)(nil)

// RemoveStaleTemps implements TempRemover: it deletes the files under .tmp of
// writers that died before publishing. Only files last written before before go:
// a live writer, in this process or another sharing the folder, keeps writing its
// file and so keeps it young.
func (l *Local) RemoveStaleTemps(ctx context.Context, before time.Time) ([]Info, int, error) {
	entries, err := fs.ReadDir(l.root.FS(), tmpDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("blob: list %s: %w", tmpDir, err)
	}
	var removed []Info
	kept := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, kept, err
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
			continue // published or removed meanwhile; or not ours
		}
		if err != nil {
			return removed, kept, fmt.Errorf("blob: stat %s/%s: %w", tmpDir, e.Name(), err)
		}
		if !fi.ModTime().Before(before) {
			kept++
			continue
		}
		name := tmpDir + "/" + e.Name()
		if err := l.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, kept, fmt.Errorf("blob: remove %s: %w", name, err)
		}
		removed = append(removed, Info{Key: name, Size: fi.Size(), Modified: fi.ModTime()})
	}
	return removed, kept, nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
