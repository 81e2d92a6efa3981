// Package s3 is the migrate destination on S3-compatible object storage,
// through minio-go with the client's default upload settings (no trailing
// checksums). Objects up to SinglePutMax are held in memory while they are
// screened and uploaded with one PUT after a clean verdict: the object
// appears whole or not at all. Larger objects stream as a multipart upload
// to a temporary key under <prefix>/.kintsugi-tmp/ while they are screened;
// only a clean verdict completes it, and a server-side copy then gives the
// final key its bytes and its metadata (the SHA-256 is known only at the
// end, and S3 fixes user metadata when an upload starts). A kill -9 leaves
// at most an incomplete upload or a temporary object under .kintsugi-tmp/,
// both recorded in the journal and removed on resume; never a partial
// object under a final key.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/text/encoding/japanese"

	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest"
)

// TempDir is the folder under the prefix that holds temporary uploads.
const TempDir = ".kintsugi-tmp"

// Metadata keys (stored as x-amz-meta-kintsugi-*).
const (
	MetaSHA256 = "kintsugi-sha256"
	MetaMTime  = "kintsugi-mtime"
	MetaMode   = "kintsugi-mode"
)

// maxKey is S3's limit on the UTF-8 length of a key.
const maxKey = 1024

// maxCopy is the largest object one CopyObject request may copy.
const maxCopy = 5 << 30

// Config says where and how to connect. Secrets live only in Creds.
type Config struct {
	// Endpoint is the server's URL (https://s3.example.com); empty means
	// AWS S3.
	Endpoint string
	Region   string
	Creds    *credentials.Credentials
	Bucket   string
	Prefix   string
	// SinglePutMax: objects up to this size are buffered in memory and
	// uploaded in one PUT (default 64 MiB).
	SinglePutMax int64
	// PartSize of multipart uploads (default 16 MiB).
	PartSize int64
	// Transport, when set, replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// ParseURL splits s3://bucket/prefix.
func ParseURL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("%q is not an s3://bucket/prefix address", s)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// Bucket is an S3 destination: a bucket and a key prefix.
type Bucket struct {
	c      *minio.Client
	core   minio.Core
	cfg    Config
	bucket string
	prefix string // "" or "a/b/" (with the slash)
	secure bool
	host   string
}

var (
	_ dest.Destination = (*Bucket)(nil)
	_ dest.Sweeper     = (*Bucket)(nil)
)

// New connects and checks that the bucket exists.
func New(ctx context.Context, cfg Config) (*Bucket, error) {
	if cfg.SinglePutMax <= 0 {
		cfg.SinglePutMax = 64 << 20
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = 16 << 20
	}
	host, secure := "s3.amazonaws.com", true
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("S3 endpoint %q: want http://host:port or https://host", cfg.Endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	c, err := minio.New(host, &minio.Options{Creds: cfg.Creds, Secure: secure, Region: cfg.Region, Transport: cfg.Transport})
	if err != nil {
		return nil, fmt.Errorf("S3 client: %w", err)
	}
	b := &Bucket{c: c, core: minio.Core{Client: c}, cfg: cfg, bucket: cfg.Bucket, secure: secure, host: host}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		b.prefix = p + "/"
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("S3 bucket %s at %s: %w", cfg.Bucket, host, err)
	}
	if !ok {
		return nil, fmt.Errorf("S3 bucket %s does not exist at %s", cfg.Bucket, host)
	}
	return b, nil
}

// String returns s3://bucket/prefix.
func (b *Bucket) String() string { return "s3://" + b.bucket + "/" + strings.TrimSuffix(b.prefix, "/") }

// ID names the destination for the migrate job, endpoint included: the
// same bucket on another server is another destination.
func (b *Bucket) ID() string {
	scheme := "http"
	if b.secure {
		scheme = "https"
	}
	return b.String() + "?endpoint=" + url.QueryEscape(scheme+"://"+b.host)
}

func (b *Bucket) full(key string) string { return b.prefix + key }

// MapName keeps valid UTF-8 names as they are (NFD included: keys are
// bytes). A path component that is not UTF-8 is decoded as Shift-JIS when
// it is valid Shift-JIS that round-trips exactly; otherwise its invalid
// bytes, like control characters, are written as %XX. Either way the
// manifest records the mapping and why.
func (b *Bucket) MapName(rel string) (string, string, error) {
	comps := strings.Split(rel, "/")
	if comps[0] == TempDir {
		return "", "", fmt.Errorf("%w: %s is reserved for kintsugi's temporary uploads", dest.ErrNameUnsupported, TempDir)
	}
	var reasons []string
	for i, c := range comps {
		if c == "" || c == "." || c == ".." {
			return "", "", fmt.Errorf("%w: %q", dest.ErrNameUnsupported, rel)
		}
		if utf8.ValidString(c) && !strings.ContainsFunc(c, isControl) {
			continue
		}
		if !utf8.ValidString(c) {
			if d, ok := decodeShiftJIS(c); ok {
				comps[i] = d
				reasons = appendOnce(reasons, "Shift-JIS name decoded to UTF-8 (S3 keys must be UTF-8)")
				continue
			}
		}
		comps[i] = escapeBytes(c)
		reasons = appendOnce(reasons, "bytes that are not UTF-8 text, and control characters, written as %XX")
	}
	key := strings.Join(comps, "/")
	if len(b.prefix)+len(key) > maxKey {
		return "", "", fmt.Errorf("%w: key longer than %d bytes", dest.ErrNameUnsupported, maxKey)
	}
	return key, strings.Join(reasons, "; "), nil
}

func appendOnce(ss []string, s string) []string {
	for _, x := range ss {
		if x == s {
			return ss
		}
	}
	return append(ss, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// decodeShiftJIS decodes s when it is valid Shift-JIS text without
// control characters that encodes back to exactly the same bytes.
func decodeShiftJIS(s string) (string, bool) {
	d, err := japanese.ShiftJIS.NewDecoder().String(s)
	if err != nil || strings.ContainsRune(d, utf8.RuneError) || strings.ContainsFunc(d, isControl) {
		return "", false
	}
	back, err := japanese.ShiftJIS.NewEncoder().String(d)
	if err != nil || back != s {
		return "", false
	}
	return d, true
}

func escapeBytes(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || isControl(r) {
			fmt.Fprintf(&sb, "%%%02X", s[i])
			i++
			continue
		}
		sb.WriteString(s[i : i+n])
		i += n
	}
	return sb.String()
}

// TempName returns a fresh temporary key (relative to the prefix):
// .kintsugi-tmp/<tag>-<random>.
func (b *Bucket) TempName(_, tag string) string {
	var r [12]byte
	rand.Read(r[:])
	return TempDir + "/" + tag + "-" + hex.EncodeToString(r[:])
}

// Sweep removes the temporary objects and incomplete uploads of one job.
func (b *Bucket) Sweep(ctx context.Context, tag string) (int, error) {
	if tag == "" || strings.ContainsAny(tag, "/-") {
		return 0, fmt.Errorf("bad temporary tag %q", tag)
	}
	prefix := b.prefix + TempDir + "/" + tag + "-"
	n := 0
	for up := range b.c.ListIncompleteUploads(ctx, b.bucket, prefix, true) {
		if up.Err != nil {
			return n, fmt.Errorf("list incomplete uploads: %w", up.Err)
		}
		if err := b.core.AbortMultipartUpload(ctx, b.bucket, up.Key, up.UploadID); err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
			return n, fmt.Errorf("abort upload of %s: %w", up.Key, err)
		}
		n++
	}
	for o := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return n, fmt.Errorf("list temporary objects: %w", o.Err)
		}
		if err := b.removeTemp(ctx, o.Key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (b *Bucket) tempKey(temp string) (string, error) {
	rest, ok := strings.CutPrefix(temp, TempDir+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", fmt.Errorf("not a kintsugi temporary key: %q", temp)
	}
	return b.prefix + temp, nil
}

func userMeta(meta dest.Meta, sum string) map[string]string {
	m := map[string]string{MetaMode: fmt.Sprintf("%04o", meta.Mode.Perm())}
	if !meta.ModTime.IsZero() {
		m[MetaMTime] = meta.ModTime.UTC().Format(time.RFC3339Nano)
	}
	if sum != "" {
		m[MetaSHA256] = sum
	}
	return m
}

// Create starts an upload: in memory for small objects, a multipart
// upload to a temporary key for large ones.
func (b *Bucket) Create(ctx context.Context, key, temp string, size int64, meta dest.Meta) (dest.Upload, error) {
	tk, err := b.tempKey(temp)
	if err != nil {
		return nil, err
	}
	if size <= b.cfg.SinglePutMax {
		return &smallUpload{b: b, key: b.full(key), meta: meta, buf: bytes.NewBuffer(make([]byte, 0, size)), h: dest.WriteHash(meta)}, nil
	}
	id, err := b.core.NewMultipartUpload(ctx, b.bucket, tk, minio.PutObjectOptions{UserMetadata: userMeta(meta, "")})
	if err != nil {
		return nil, fmt.Errorf("start multipart upload: %w", err)
	}
	u := &bigUpload{b: b, key: b.full(key), temp: tk, id: id, meta: meta, h: dest.WriteHash(meta), parts: make(chan part, 1), done: make(chan struct{})}
	u.cur = make([]byte, 0, b.cfg.PartSize)
	go u.send(context.WithoutCancel(ctx))
	return u, nil
}

// smallUpload holds the object in memory until Commit puts it.
type smallUpload struct {
	b    *Bucket
	key  string
	meta dest.Meta
	buf  *bytes.Buffer
	h    hash.Hash
}

func (u *smallUpload) Write(p []byte) (int, error) {
	if u.h != nil {
		u.h.Write(p)
	}
	return u.buf.Write(p)
}

func (u *smallUpload) Commit(ctx context.Context, size int64, sum string) error {
	if err := dest.CheckWritten(u.h, int64(u.buf.Len()), size, sum); err != nil {
		return err
	}
	_, err := u.b.c.PutObject(ctx, u.b.bucket, u.key, bytes.NewReader(u.buf.Bytes()), size,
		minio.PutObjectOptions{UserMetadata: userMeta(u.meta, sum), ContentType: "application/octet-stream"})
	u.buf = nil
	if err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	return nil
}

func (u *smallUpload) Abort(context.Context) error {
	u.buf = nil
	return nil
}

type part struct {
	n    int
	data []byte
}

// bigUpload streams parts to a multipart upload of the temporary key; one
// part is uploaded while the next one fills.
type bigUpload struct {
	b         *Bucket
	key, temp string
	id        string
	meta      dest.Meta
	h         hash.Hash
	n         int64
	cur       []byte
	next      int
	parts     chan part
	done      chan struct{}
	mu        sync.Mutex
	err       error
	completed []minio.CompletePart
	closed    bool
	pool      sync.Pool
}

func (u *bigUpload) setErr(err error) {
	u.mu.Lock()
	if u.err == nil {
		u.err = err
	}
	u.mu.Unlock()
}

func (u *bigUpload) getErr() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *bigUpload) send(ctx context.Context) {
	defer close(u.done)
	for p := range u.parts {
		if u.getErr() != nil {
			continue
		}
		op, err := u.b.core.PutObjectPart(ctx, u.b.bucket, u.temp, u.id, p.n, bytes.NewReader(p.data), int64(len(p.data)), minio.PutObjectPartOptions{})
		if err != nil {
			u.setErr(fmt.Errorf("upload part %d: %w", p.n, err))
			continue
		}
		u.mu.Lock()
		u.completed = append(u.completed, minio.CompletePart{PartNumber: p.n, ETag: op.ETag})
		u.mu.Unlock()
		u.pool.Put(p.data[:0])
	}
}

func (u *bigUpload) flush() {
	u.next++
	u.parts <- part{n: u.next, data: u.cur}
	if b, ok := u.pool.Get().([]byte); ok {
		u.cur = b
	} else {
		u.cur = make([]byte, 0, u.b.cfg.PartSize)
	}
}

func (u *bigUpload) Write(p []byte) (int, error) {
	if err := u.getErr(); err != nil {
		return 0, err
	}
	n := len(p)
	if u.h != nil {
		u.h.Write(p)
	}
	u.n += int64(n)
	for len(p) > 0 {
		k := min(len(p), cap(u.cur)-len(u.cur))
		u.cur = append(u.cur, p[:k]...)
		p = p[k:]
		if len(u.cur) == cap(u.cur) {
			u.flush()
		}
	}
	return n, nil
}

func (u *bigUpload) finishParts() error {
	if !u.closed {
		u.closed = true
		if len(u.cur) > 0 {
			u.flush()
		}
		close(u.parts)
	}
	<-u.done
	return u.getErr()
}

func (u *bigUpload) Commit(ctx context.Context, size int64, sum string) error {
	if err := dest.CheckWritten(u.h, u.n, size, sum); err != nil {
		return err
	}
	if err := u.finishParts(); err != nil {
		return err
	}
	if _, err := u.b.core.CompleteMultipartUpload(ctx, u.b.bucket, u.temp, u.id, u.completed, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	info, err := u.b.c.StatObject(ctx, u.b.bucket, u.temp, minio.StatObjectOptions{})
	if err != nil {
		return fmt.Errorf("temporary object: %w", err)
	}
	if info.Size != size {
		return fmt.Errorf("%w: the completed upload holds %d bytes, screened %d", dest.ErrMismatch, info.Size, size)
	}
	dst := minio.CopyDestOptions{Bucket: u.b.bucket, Object: u.key, UserMetadata: userMeta(u.meta, sum), ReplaceMetadata: true}
	src := minio.CopySrcOptions{Bucket: u.b.bucket, Object: u.temp, MatchETag: info.ETag}
	if size <= maxCopy {
		// One CopyObject request: the final key appears whole or not at
		// all. (ComposeObject would start a multipart copy on the final
		// key even for one small source.)
		_, err = u.b.c.CopyObject(ctx, dst, src)
	} else {
		// Beyond S3's single-copy limit: a multipart copy, completed only
		// when every part is copied; Cleanup aborts one left by a crash.
		_, err = u.b.c.ComposeObject(ctx, dst, src)
	}
	if err != nil {
		return fmt.Errorf("copy to the final key: %w", err)
	}
	if err := u.b.c.RemoveObject(ctx, u.b.bucket, u.temp, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("remove the temporary object: %w", err)
	}
	return nil
}

func (u *bigUpload) Abort(ctx context.Context) error {
	u.setErr(errors.New("aborted"))
	u.finishParts()
	err := u.b.core.AbortMultipartUpload(ctx, u.b.bucket, u.temp, u.id)
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
		return err
	}
	return u.b.removeTemp(ctx, u.temp)
}

func (b *Bucket) removeTemp(ctx context.Context, tk string) error {
	err := b.c.RemoveObject(ctx, b.bucket, tk, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return err
	}
	return nil
}

// Stat describes the object under key.
func (b *Bucket) Stat(ctx context.Context, key string) (dest.Info, error) {
	info, err := b.c.StatObject(ctx, b.bucket, b.full(key), minio.StatObjectOptions{})
	if err != nil {
		if r := minio.ToErrorResponse(err); r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound {
			return dest.Info{}, fmt.Errorf("%s: %w", key, dest.ErrNotExist)
		}
		return dest.Info{}, err
	}
	in := dest.Info{Size: info.Size, ModTime: info.LastModified}
	for k, v := range info.UserMetadata {
		switch strings.ToLower(k) {
		case MetaSHA256:
			in.SHA256 = v
		case MetaMTime:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				in.ModTime = t
			}
		}
	}
	return in, nil
}

// ReadBack GETs the stored object.
func (b *Bucket) ReadBack(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := b.c.GetObject(ctx, b.bucket, b.full(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// VerifyMethod describes ReadBack.
func (b *Bucket) VerifyMethod() string {
	return "GET of the stored object from the S3 endpoint, SHA-256 compared; SHA-256 also in x-amz-meta-" + MetaSHA256
}

// Remove deletes the object under key.
func (b *Bucket) Remove(ctx context.Context, key string) error {
	err := b.c.RemoveObject(ctx, b.bucket, b.full(key), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return err
	}
	return nil
}

// Cleanup aborts the incomplete multipart uploads of the temporary key
// (and a multipart copy to the final key, used for objects over 5 GiB),
// and removes the temporary object if the upload had completed.
func (b *Bucket) Cleanup(ctx context.Context, key, temp string) error {
	if temp == "" {
		return nil
	}
	tk, err := b.tempKey(temp)
	if err != nil {
		return err
	}
	if err := b.abortUploads(ctx, tk); err != nil {
		return err
	}
	if key != "" {
		if err := b.abortUploads(ctx, b.full(key)); err != nil {
			return err
		}
	}
	return b.removeTemp(ctx, tk)
}

// abortUploads aborts the incomplete multipart uploads of exactly key.
func (b *Bucket) abortUploads(ctx context.Context, key string) error {
	for up := range b.c.ListIncompleteUploads(ctx, b.bucket, key, false) {
		if up.Err != nil {
			return fmt.Errorf("list incomplete uploads of %s: %w", key, up.Err)
		}
		if up.Key != key {
			continue
		}
		if err := b.core.AbortMultipartUpload(ctx, b.bucket, key, up.UploadID); err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
			return fmt.Errorf("abort upload of %s: %w", key, err)
		}
	}
	return nil
}
