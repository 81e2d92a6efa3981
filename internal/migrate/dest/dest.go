// Package dest defines where migrate puts files: a Destination holds
// objects under keys (paths relative to its root, '/'-separated), and an
// Upload writes one object to a temporary place that becomes visible under
// its key only on Commit, after a size check and a SHA-256 check (the
// writer's own when it hashes what it writes, see Meta.Hashed).
// Implementations live in local/ and s3/; migrate and cmd/kintsugi use
// them, nothing else.
package dest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"time"
)

// ErrNotExist is returned for a key that holds no object.
var ErrNotExist = fs.ErrNotExist

// ErrMismatch is returned by Commit when the bytes written are not the
// bytes announced (size or SHA-256): nothing is promoted.
var ErrMismatch = errors.New("bytes written differ from the bytes screened")

// WriteHash is the hash an upload checks its bytes with: SHA-256, or nil
// when the writer hashes them itself (Meta.Hashed).
func WriteHash(meta Meta) hash.Hash {
	if meta.Hashed {
		return nil
	}
	return sha256.New()
}

// CheckWritten is Commit's check of what an upload received (n bytes,
// hashed by h unless h is nil) against what it was told: an ErrMismatch,
// or nil.
func CheckWritten(h hash.Hash, n, size int64, sum string) error {
	if n != size {
		return fmt.Errorf("%w: %d bytes written, screened %d", ErrMismatch, n, size)
	}
	if h == nil {
		return nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("%w: %d bytes with SHA-256 %s, screened %d bytes with SHA-256 %s", ErrMismatch, n, got, size, sum)
	}
	return nil
}

// ErrNameUnsupported is returned by MapName for a name the destination
// cannot hold in any form.
var ErrNameUnsupported = errors.New("destination cannot hold this name")

// Meta is what is kept about an object besides its bytes.
type Meta struct {
	ModTime time.Time
	Mode    fs.FileMode
	// Hashed says the writer computes the SHA-256 of exactly the bytes
	// it passes to Write, in order, and hands that digest to Commit (as
	// migrate does: the scan engine hashes each buffer it passes on).
	// The upload then checks the size only and does not hash the same
	// bytes a second time; what was stored is proven by the read-back.
	Hashed bool
}

// Info describes a stored object.
type Info struct {
	Size int64
	// SHA256 is the digest recorded in the object's metadata ("" when the
	// destination has none).
	SHA256  string
	ModTime time.Time
}

// Destination is a place to migrate to. Implementations must be safe for
// concurrent use.
type Destination interface {
	// String names the destination for people and the manifest: an
	// absolute path or s3://bucket/prefix. It never holds secrets.
	String() string
	// MapName returns the key for a source path relative to the migrated
	// root ('/'-separated, raw bytes) and, when the key differs from that
	// path, why. Names are never changed silently: every mapping is
	// reported in the manifest.
	MapName(rel string) (key, mapping string, err error)
	// TempName returns a fresh temporary name for an upload of key,
	// carrying tag (a short job token of letters and digits). It has no
	// side effect: the caller records it in the journal first, so that
	// whatever Create leaves behind after a crash can be found again.
	TempName(key, tag string) string
	// Create starts writing key under the temporary name temp. size is
	// the number of bytes that will be written.
	Create(ctx context.Context, key, temp string, size int64, meta Meta) (Upload, error)
	// Stat describes the object stored under key (ErrNotExist if none).
	Stat(ctx context.Context, key string) (Info, error)
	// ReadBack opens the stored object for verification, bypassing caches
	// where the destination allows it.
	ReadBack(ctx context.Context, key string) (io.ReadCloser, error)
	// VerifyMethod says in one line how ReadBack reads, for the manifest.
	VerifyMethod() string
	// Remove deletes the object under key; a missing one is no error.
	Remove(ctx context.Context, key string) error
	// Cleanup removes whatever an interrupted upload of key under temp
	// left behind; nothing left is no error.
	Cleanup(ctx context.Context, key, temp string) error
}

// Upload is one object being written.
type Upload interface {
	// Write adds bytes; an error (disk full, connection lost) ends the
	// upload, which must then be aborted.
	Write(p []byte) (int, error)
	// Commit promotes the upload to its key if exactly size bytes with
	// this SHA-256 were written (the digest is the writer's word when
	// Meta.Hashed), durably; otherwise it returns an error (ErrMismatch
	// for other bytes) and nothing is visible under the key.
	// The stored object carries the SHA-256, mtime and mode as metadata.
	Commit(ctx context.Context, size int64, sha256 string) error
	// Abort discards the upload. It is safe after a failed Commit.
	Abort(ctx context.Context) error
}

// Sweeper is implemented by destinations where a request sent just before
// the client was killed can still complete on the server afterwards (an
// upload completion or a copy landing after the next run cleaned up).
// Sweep removes every temporary object and incomplete upload whose
// temporary name carries tag; migrate calls it when a run of the job has
// finished, when no upload of the job can be legitimately in flight.
type Sweeper interface {
	Sweep(ctx context.Context, tag string) (int, error)
}
