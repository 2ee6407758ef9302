// Package minio is the blob.Store on MinIO or any S3-compatible server, through
// minio-go/v7.
//
// Each object's sha256 (lowercase hex) is stored as user metadata
// (x-amz-meta-sha256) in the same PUT as its content, and the same digest is
// sent as the request's signed x-amz-checksum-sha256 header, so the server
// refuses the write if the bytes it received differ from the digest recorded:
// an object and its digest are created together or not at all. (That check is
// why the payload itself is sent unsigned: signing it too would hash every
// byte twice more and halves Put throughput, for no added integrity.) A PUT is atomic in MinIO (readers
// see the old object or the new one), and so are concurrent writers of one key
// (the last complete PUT wins). Get streams the object and verifies size and
// digest at EOF (blob.ErrCorrupt); an object without a recorded digest is
// reported as corrupt too, since it cannot be verified.
//
// Nothing waits forever: every request runs under a watchdog that gives up
// after Options.Timeout without progress (no bytes sent or received), and a
// failed connection is retried only a few times, so an unreachable, stopped or
// silent server gives an error wrapping blob.ErrUnavailable that names the
// endpoint within seconds. Objects are uploaded in one PUT (no multipart; MinIO
// accepts single PUTs up to its 5 TiB object limit, AWS S3 up to 5 GiB).
//
// Usage:
//
//	store, err := minio.Open(ctx, minio.Options{
//		Endpoint: "127.0.0.1:9000", AccessKey: "...", SecretKey: "...", Bucket: "xinyi",
//	})
package minio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Options configure a Store. Zero fields take the defaults documented on them.
type Options struct {
	// Endpoint is host:port of the server, optionally with an http:// or
	// https:// scheme (https sets Secure). Required.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Bucket holds the objects; Open creates it if missing. Required.
	Bucket string
	// Secure selects TLS.
	Secure bool
	// Region is sent to the server; default "us-east-1".
	Region string
	// Timeout bounds how long any request may go without progress (connecting,
	// sending, waiting for an answer, receiving) before it fails with
	// blob.ErrUnavailable. Default 10s.
	Timeout time.Duration
	// MaxAttempts is how many times a request that failed on the network is
	// tried in all. Default 3.
	MaxAttempts int
	// SpoolDir holds temporary copies of Put contents that come from readers
	// that cannot seek (the digest must be known before the upload starts).
	// Default os.TempDir(). Contents up to 4 MiB are held in memory.
	SpoolDir string
}

// DefaultTimeout is Options.Timeout's default.
const DefaultTimeout = 10 * time.Second

// EnsureDefaults fills the zero fields of o with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.SpoolDir == "" {
		o.SpoolDir = os.TempDir()
	}
	switch {
	case strings.HasPrefix(o.Endpoint, "https://"):
		o.Endpoint, o.Secure = strings.TrimPrefix(o.Endpoint, "https://"), true
	case strings.HasPrefix(o.Endpoint, "http://"):
		o.Endpoint = strings.TrimPrefix(o.Endpoint, "http://")
	}
	o.Endpoint = strings.TrimSuffix(o.Endpoint, "/")
}

const (
	metaSHA256   = "Sha256" // as minio-go returns x-amz-meta-sha256 from Stat/Get
	memSpoolSize = 4 << 20
	spoolPattern = "xinyi-blob-spool-*"
)

// Store is the MinIO blob.Store. Create it with Open.
type Store struct {
	client *miniogo.Client
	opts   Options
	where  string // "minio at host:port (bucket b)", for error messages
}

var (
	_ blob.Store       = (*Store)(nil)
	_ blob.TempRemover = (*Store)(nil)
)

// Open connects to the server, checks that it answers, and creates the bucket
// if it does not exist.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if opts.Endpoint == "" {
		return nil, errors.New("blob/minio: Options.Endpoint is required")
	}
	if err := s3utils.CheckValidBucketName(opts.Bucket); err != nil {
		return nil, fmt.Errorf("blob/minio: bucket %q: %w", opts.Bucket, err)
	}
	tr, err := miniogo.DefaultTransport(opts.Secure)
	if err != nil {
		return nil, fmt.Errorf("blob/minio: %w", err)
	}
	tr.DialContext = (&net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = opts.Timeout
	tr.ResponseHeaderTimeout = opts.Timeout
	tr.ExpectContinueTimeout = time.Second
	client, err := miniogo.New(opts.Endpoint, &miniogo.Options{
		Creds:      credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""),
		Secure:     opts.Secure,
		Region:     opts.Region,
		Transport:  tr,
		MaxRetries: opts.MaxAttempts,
	})
	if err != nil {
		return nil, fmt.Errorf("blob/minio: endpoint %q: %w", opts.Endpoint, err)
	}
	s := &Store{
		client: client,
		opts:   opts,
		where:  fmt.Sprintf("minio at %s (bucket %s)", opts.Endpoint, opts.Bucket),
	}
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Bucket returns the bucket the store keeps its objects in.
func (s *Store) Bucket() string { return s.opts.Bucket }

// Endpoint returns the server's host:port.
func (s *Store) Endpoint() string { return s.opts.Endpoint }

func (s *Store) ensureBucket(ctx context.Context) error {
	ctx, w := s.watch(ctx)
	defer w.stop()
	ok, err := s.client.BucketExists(ctx, s.opts.Bucket)
	if err != nil {
		return s.mapErr(w, "open", "", err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.opts.Bucket, miniogo.MakeBucketOptions{Region: s.opts.Region})
	if err != nil {
		switch miniogo.ToErrorResponse(err).Code {
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			return nil // created concurrently
		}
		return s.mapErr(w, "create bucket", "", err)
	}
	return nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (blob.Info, error) {
	if err := blob.ValidateKey(key); err != nil {
		return blob.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Info{}, fmt.Errorf("blob/minio: put %s: %w", key, err)
	}
	body, size, sum, cleanup, err := s.digest(ctx, r)
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob/minio: put %s: %w", key, err)
	}
	defer cleanup()
	sumHex := hex.EncodeToString(sum)
	ctx, w := s.watch(ctx)
	defer w.stop()
	up, err := s.client.PutObject(ctx, s.opts.Bucket, key, &progressReader{r: body, w: w}, size, miniogo.PutObjectOptions{
		UserMetadata: map[string]string{
			"sha256": sumHex,
			// A real header (not x-amz-meta-): the server checks the body
			// against it and refuses the PUT on mismatch.
			"X-Amz-Checksum-Sha256": base64.StdEncoding.EncodeToString(sum),
		},
		ContentType:          "application/octet-stream",
		DisableMultipart:     true,
		DisableContentSha256: true,
	})
	if err != nil {
		return blob.Info{}, s.mapErr(w, "put", key, err)
	}
	mod := up.LastModified
	if mod.IsZero() {
		mod = time.Now()
	}
	return blob.Info{Key: key, Size: size, SHA256: sumHex, Modified: mod}, nil
}

// digest returns a seekable copy of r's content, its size and sha256. A
// seekable r is read twice (hashed, then uploaded from where it stood); others
// are copied to memory or, past memSpoolSize, to a spool file. The server
// verifies the digest on upload, so a seekable r that changes in between
// makes the PUT fail rather than store a wrong digest.
func (s *Store) digest(ctx context.Context, r io.Reader) (body io.ReadSeeker, size int64, sum []byte, cleanup func(), err error) {
	h := sha256.New()
	nothing := func() {}
	if rs, ok := r.(io.ReadSeeker); ok {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err == nil {
			n, err := io.Copy(h, ctxReader{ctx, rs})
			if err != nil {
				return nil, 0, nil, nothing, err
			}
			if _, err := rs.Seek(start, io.SeekStart); err != nil {
				return nil, 0, nil, nothing, err
			}
			return &sectionSeeker{rs: rs, start: start}, n, h.Sum(nil), nothing, nil
		}
	}
	// Small contents in memory.
	var buf bytes.Buffer
	n, err := io.Copy(io.MultiWriter(&buf, h), io.LimitReader(ctxReader{ctx, r}, memSpoolSize+1))
	if err != nil {
		return nil, 0, nil, nothing, err
	}
	if n <= memSpoolSize {
		return bytes.NewReader(buf.Bytes()), n, h.Sum(nil), nothing, nil
	}
	// Larger ones in a spool file.
	f, err := os.CreateTemp(s.opts.SpoolDir, spoolPattern)
	if err != nil {
		return nil, 0, nil, nothing, err
	}
	cleanup = func() { f.Close(); os.Remove(f.Name()) }
	if _, err := f.Write(buf.Bytes()); err != nil {
		cleanup()
		return nil, 0, nil, nothing, err
	}
	m, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err != nil {
		cleanup()
		return nil, 0, nil, nothing, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, 0, nil, nothing, err
	}
	return f, n + m, h.Sum(nil), cleanup, nil
}

// RemoveStaleTemps implements blob.TempRemover for the spool files of Put in
// Options.SpoolDir (a Put killed mid-way leaves its copy there). Only files last
// written before before go. Uploads themselves leave nothing behind on the
// server: each is one PUT (no multipart), which the server stores whole or not
// at all.
func (s *Store) RemoveStaleTemps(ctx context.Context, before time.Time) ([]blob.Info, int, error) {
	names, err := filepath.Glob(filepath.Join(s.opts.SpoolDir, spoolPattern))
	if err != nil {
		return nil, 0, fmt.Errorf("blob/minio: list spool files: %w", err)
	}
	var removed []blob.Info
	kept := 0
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return removed, kept, err
		}
		fi, err := os.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
			continue
		}
		if err != nil {
			return removed, kept, fmt.Errorf("blob/minio: spool file: %w", err)
		}
		if !fi.ModTime().Before(before) {
			kept++
			continue
		}
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, kept, fmt.Errorf("blob/minio: remove spool file: %w", err)
		}
		removed = append(removed, blob.Info{Key: name, Size: fi.Size(), Modified: fi.ModTime()})
	}
	return removed, kept, nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	if err := blob.ValidateKey(key); err != nil {
		return nil, blob.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, blob.Info{}, fmt.Errorf("blob/minio: get %s: %w", key, err)
	}
	ctx, w := s.watch(ctx)
	// One GET: the info and the body come from the same response, so they
	// describe the same version even if the key is overwritten meanwhile.
	// (minio-go's lazy Object would issue later requests conditional on the
	// ETag, failing reads that race an overwrite.)
	body, oi, _, err := miniogo.Core{Client: s.client}.GetObject(ctx, s.opts.Bucket, key, miniogo.GetObjectOptions{})
	if err != nil {
		w.stop()
		return nil, blob.Info{}, s.mapErr(w, "get", key, err)
	}
	oi.Key = key
	info, err := s.info(oi)
	if err != nil {
		body.Close()
		w.stop()
		return nil, blob.Info{}, err
	}
	return blob.NewVerifyingReader(&getBody{body: body, s: s, w: w, key: key}, key, info.Size, info.SHA256), info, nil
}

// getBody feeds the watchdog as bytes arrive and maps transport errors.
type getBody struct {
	body io.ReadCloser
	s    *Store
	w    *watchdog
	key  string
	once sync.Once
}

func (g *getBody) Read(p []byte) (int, error) {
	n, err := g.body.Read(p)
	if n > 0 {
		g.w.kick()
	}
	if err != nil && err != io.EOF {
		err = g.s.mapErr(g.w, "read", g.key, err)
	}
	return n, err
}

func (g *getBody) Close() error {
	g.once.Do(g.w.stop)
	return g.body.Close()
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := blob.ValidateKey(key); err != nil {
		return blob.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Info{}, fmt.Errorf("blob/minio: stat %s: %w", key, err)
	}
	ctx, w := s.watch(ctx)
	defer w.stop()
	oi, err := s.client.StatObject(ctx, s.opts.Bucket, key, miniogo.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, s.mapErr(w, "stat", key, err)
	}
	return s.info(oi)
}

func (s *Store) info(oi miniogo.ObjectInfo) (blob.Info, error) {
	sum := metaDigest(oi.UserMetadata)
	if sum == "" {
		sum = metaDigest(oi.UserMetadataStripped)
	}
	if !isHexDigest(sum) {
		return blob.Info{}, fmt.Errorf("%w: %s in %s: no sha256 recorded (written by another tool?)", blob.ErrCorrupt, oi.Key, s.where)
	}
	return blob.Info{Key: oi.Key, Size: oi.Size, SHA256: sum, Modified: oi.LastModified}, nil
}

// metaDigest finds the sha256 in user metadata, which minio-go keys as
// "Sha256" (Stat, Get) or "X-Amz-Meta-Sha256" (List with metadata).
func metaDigest(m map[string]string) string {
	for k, v := range m {
		k = strings.ToLower(k)
		if k == "sha256" || k == "x-amz-meta-sha256" {
			return v
		}
	}
	return ""
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// List implements blob.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Info, error) {
	if err := blob.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blob/minio: list %q: %w", prefix, err)
	}
	ctx, w := s.watch(ctx)
	defer w.stop()
	infos := []blob.Info{}
	for oi := range s.client.ListObjects(ctx, s.opts.Bucket, miniogo.ListObjectsOptions{
		Prefix:       prefix,
		Recursive:    true,
		WithMetadata: true, // MinIO extension: digests without a Stat per object
	}) {
		if oi.Err != nil {
			return nil, s.mapErr(w, "list", prefix, oi.Err)
		}
		w.kick()
		if blob.ValidateKey(oi.Key) != nil {
			continue // not ours (written by another tool); cannot be read through blob anyway
		}
		info, err := s.info(oi)
		if err != nil && oi.UserMetadata == nil && oi.UserMetadataStripped == nil {
			// A server that ignores WithMetadata: ask for the object itself.
			info, err = s.Stat(ctx, oi.Key)
			if errors.Is(err, blob.ErrNotFound) {
				continue // deleted while we listed
			}
		}
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b blob.Info) int { return strings.Compare(a.Key, b.Key) })
	return infos, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob/minio: delete %s: %w", key, err)
	}
	ctx, w := s.watch(ctx)
	defer w.stop()
	err := s.client.RemoveObject(ctx, s.opts.Bucket, key, miniogo.RemoveObjectOptions{})
	if err != nil && miniogo.ToErrorResponse(err).Code != "NoSuchKey" {
		return s.mapErr(w, "delete", key, err)
	}
	return nil
}

// mapErr turns a minio-go error into one wrapping the blob sentinels, naming
// the operation, the key and the server.
func (s *Store) mapErr(w *watchdog, op, key string, err error) error {
	what := op
	if key != "" {
		what = op + " " + key
	}
	if w != nil && w.fired() {
		return fmt.Errorf("%w: %s: %s: no response for %s (server hung or unreachable)", blob.ErrUnavailable, what, s.where, s.opts.Timeout)
	}
	if errors.Is(err, blob.ErrCorrupt) || errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrUnavailable) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's context ended (the watchdog's own firing is above).
		return fmt.Errorf("blob/minio: %s: %w", what, err)
	}
	var er miniogo.ErrorResponse
	if errors.As(err, &er) && (er.Code != "" || er.StatusCode != 0) {
		switch er.Code {
		case "NoSuchKey":
			return fmt.Errorf("%w: %s", blob.ErrNotFound, key)
		case "NoSuchBucket":
			return fmt.Errorf("%w: %s: bucket %s does not exist in %s", blob.ErrNotFound, key, s.opts.Bucket, s.where)
		case "XMinioServerNotInitialized", "ServerNotInitialized", "SlowDown", "SlowDownRead", "SlowDownWrite",
			"XMinioStorageFull", "XMinioInsufficientReadQuorum", "XMinioInsufficientWriteQuorum":
			return fmt.Errorf("%w: %s: %s: %s", blob.ErrUnavailable, what, s.where, er.Message)
		case "XAmzContentChecksumMismatch", "BadDigest", "XAmzContentSHA256Mismatch":
			return fmt.Errorf("blob/minio: %s: the server received other bytes than were hashed (did the source change during Put?): %s", what, er.Message)
		}
		if er.StatusCode == http.StatusNotFound && er.Code == "" {
			return fmt.Errorf("%w: %s", blob.ErrNotFound, key)
		}
		if er.StatusCode >= 500 {
			return fmt.Errorf("%w: %s: %s: %d %s: %s", blob.ErrUnavailable, what, s.where, er.StatusCode, er.Code, er.Message)
		}
		return fmt.Errorf("blob/minio: %s: %s: %s: %s", what, s.where, er.Code, er.Message)
	}
	// Anything else is the network or the HTTP layer: refused, reset, EOF,
	// timeouts, DNS.
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(err.Error(), "connection") || strings.Contains(err.Error(), "offline") {
		return fmt.Errorf("%w: %s: %s: %v", blob.ErrUnavailable, what, s.where, err)
	}
	return fmt.Errorf("blob/minio: %s: %s: %w", what, s.where, err)
}

// watchdog cancels a request's context when it has made no progress for the
// store's Timeout.
type watchdog struct {
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	timeout time.Duration
	mu      sync.Mutex
	fire    bool
	stopped bool
}

var errStalled = errors.New("no progress")

func (s *Store) watch(ctx context.Context) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{cancel: cancel, timeout: s.opts.Timeout}
	w.timer = time.AfterFunc(w.timeout, func() {
		w.mu.Lock()
		if !w.stopped {
			w.fire = true
		}
		w.mu.Unlock()
		cancel(errStalled)
	})
	return ctx, w
}

func (w *watchdog) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped && !w.fire {
		w.timer.Reset(w.timeout)
	}
}

func (w *watchdog) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fire
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.timer.Stop()
	w.cancel(context.Canceled)
}

// progressReader kicks the watchdog as the upload consumes the body.
type progressReader struct {
	r io.ReadSeeker
	w *watchdog
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.w.kick()
	}
	return n, err
}

func (p *progressReader) Seek(off int64, whence int) (int64, error) { return p.r.Seek(off, whence) }

// sectionSeeker presents a ReadSeeker from its position start on, so seeks to
// 0 (minio-go's retries) return to where the caller's reader stood.
type sectionSeeker struct {
	rs    io.ReadSeeker
	start int64
}

func (s *sectionSeeker) Read(p []byte) (int, error) { return s.rs.Read(p) }

func (s *sectionSeeker) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekStart {
		off += s.start
	}
	n, err := s.rs.Seek(off, whence)
	return n - s.start, err
}

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
