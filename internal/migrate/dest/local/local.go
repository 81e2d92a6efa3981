// Package local is the migrate destination on a mounted file system: each
// object is written to a temporary file in its final directory, checked
// (size, and SHA-256 of the bytes written unless the writer hashes them
// itself), given its mode, mtime and a
// user.kintsugi.sha256 extended attribute, fsynced, renamed over its final
// name and made durable by fsyncing the directory. A crash at any moment
// leaves either the old state or the complete new file under the final
// name, never a partial one; leftover temporaries carry the recorded
// .kintsugi-tmp- name and are removed on resume.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest"
)

// TempPrefix starts the base name of every temporary file.
const TempPrefix = ".kintsugi-tmp-"

// xattrSHA256 holds the SHA-256 of a migrated file, where the file system
// supports user extended attributes.
const xattrSHA256 = "user.kintsugi.sha256"

// Dir is a destination folder.
type Dir struct {
	root string
}

var _ dest.Destination = (*Dir)(nil)

// New returns the destination rooted at root, creating the folder.
func New(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("destination %s: %w", root, err)
	}
	return &Dir{root: filepath.Clean(abs)}, nil
}

// String returns the absolute destination path.
func (d *Dir) String() string { return d.root }

// MapName keeps names byte-exact: a Linux file system holds any name
// that the source held. A name it refuses (vfat, a shorter name limit)
// fails at Create with the system's reason.
func (d *Dir) MapName(rel string) (string, string, error) {
	if err := checkKey(rel); err != nil {
		return "", "", err
	}
	return rel, "", nil
}

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("%w: %q", dest.ErrNameUnsupported, key)
	}
	for _, c := range strings.Split(key, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("%w: %q", dest.ErrNameUnsupported, key)
		}
	}
	return nil
}

func (d *Dir) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return d.root + "/" + key, nil
}

// TempName returns a new temporary name next to key's final place. The
// tag is not needed here: a killed process leaves no request behind.
func (d *Dir) TempName(key, _ string) string {
	var b [8]byte
	rand.Read(b[:])
	name := TempPrefix + hex.EncodeToString(b[:])
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i+1] + name
	}
	return name
}

// Create opens the temporary file (never an existing one).
func (d *Dir) Create(_ context.Context, key, temp string, size int64, meta dest.Meta) (dest.Upload, error) {
	final, err := d.path(key)
	if err != nil {
		return nil, err
	}
	tp, err := d.tempPath(temp)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(tp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if size > 0 {
		// Reserve the space up front where the file system can, so that a
		// full disk shows at once rather than after gigabytes of copying.
		if err := unix.Fallocate(int(f.Fd()), 0, 0, size); errors.Is(err, unix.ENOSPC) {
			f.Close()
			os.Remove(tp)
			return nil, &fs.PathError{Op: "allocate", Path: tp, Err: err}
		}
	}
	return &upload{f: f, temp: tp, final: final, meta: meta, h: dest.WriteHash(meta)}, nil
}

// tempPath checks that temp is one of ours before it is used or removed:
// a journal entry must never make migrate delete anything else.
func (d *Dir) tempPath(temp string) (string, error) {
	if err := checkKey(temp); err != nil || !strings.HasPrefix(filepath.Base(temp), TempPrefix) {
		return "", fmt.Errorf("not a kintsugi temporary name: %q", temp)
	}
	return d.root + "/" + temp, nil
}

type upload struct {
	f           *os.File
	temp, final string
	meta        dest.Meta
	h           hash.Hash
	n           int64
	done        bool
}

func (u *upload) Write(p []byte) (int, error) {
	n, err := u.f.Write(p)
	if u.h != nil {
		u.h.Write(p[:n])
	}
	u.n += int64(n)
	return n, err
}

// Commit checks, makes durable and renames.
func (u *upload) Commit(_ context.Context, size int64, sum string) error {
	if u.done {
		return errors.New("upload already finished")
	}
	if err := dest.CheckWritten(u.h, u.n, size, sum); err != nil {
		return err
	}
	fd := int(u.f.Fd())
	// fallocate may have reserved more than was written (the source
	// shrank): the size on disk must be the size screened.
	if err := u.f.Truncate(size); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Size != size {
		return fmt.Errorf("%w: %d bytes on disk, %d screened", dest.ErrMismatch, st.Size, size)
	}
	if err := unix.Fsetxattr(fd, xattrSHA256, []byte(sum), 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("set %s: %w", xattrSHA256, err)
	}
	if err := u.f.Chmod(u.meta.Mode.Perm()); err != nil {
		return err
	}
	if !u.meta.ModTime.IsZero() {
		ts := []unix.Timespec{unix.NsecToTimespec(u.meta.ModTime.UnixNano()), unix.NsecToTimespec(u.meta.ModTime.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, u.temp, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set mtime: %w", err)
		}
	}
	if err := u.f.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	if err := u.f.Close(); err != nil {
		return err
	}
	u.done = true
	if err := os.Rename(u.temp, u.final); err != nil {
		os.Remove(u.temp)
		return err
	}
	return syncDir(filepath.Dir(u.final))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// Abort closes and removes the temporary file.
func (u *upload) Abort(context.Context) error {
	if !u.done {
		u.f.Close()
		u.done = true
	}
	if err := os.Remove(u.temp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Stat describes the final file.
func (d *Dir) Stat(_ context.Context, key string) (dest.Info, error) {
	p, err := d.path(key)
	if err != nil {
		return dest.Info{}, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return dest.Info{}, err
	}
	if !fi.Mode().IsRegular() {
		return dest.Info{}, fmt.Errorf("%s: not a regular file", p)
	}
	in := dest.Info{Size: fi.Size(), ModTime: fi.ModTime()}
	buf := make([]byte, 128)
	if n, err := unix.Lgetxattr(p, xattrSHA256, buf); err == nil {
		in.SHA256 = string(buf[:n])
	}
	return in, nil
}

// ReadBack opens the final file after asking the kernel to drop its
// cached pages (posix_fadvise DONTNEED; they are clean after the fsync),
// so the bytes come from the disk rather than from what was just
// written. On tmpfs the pages are the storage and nothing is dropped.
func (d *Dir) ReadBack(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	return f, nil
}

// VerifyMethod describes ReadBack.
func (d *Dir) VerifyMethod() string {
	return "read back after fsync and posix_fadvise(DONTNEED), SHA-256 compared"
}

// Remove deletes a final file.
func (d *Dir) Remove(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Cleanup removes a temporary file left by an interrupted upload.
func (d *Dir) Cleanup(_ context.Context, _, temp string) error {
	if temp == "" {
		return nil
	}
	tp, err := d.tempPath(temp)
	if err != nil {
		return err
	}
	if err := os.Remove(tp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
