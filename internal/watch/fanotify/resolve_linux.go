//go:build linux

package fanotify

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Resolver turns file handles into paths and open files. It holds one
// descriptor per watched file system (open_by_handle_at needs one on the
// same file system) and caches directory paths, which the agent
// invalidates when it sees a directory renamed or deleted.
type Resolver struct {
	mu     sync.Mutex
	mounts map[uint64]int
	dirs   map[Handle]string
	max    int
}

// NewResolver returns an empty Resolver caching up to max directories.
func NewResolver(max int) *Resolver {
	if max <= 0 {
		max = 65536
	}
	return &Resolver{mounts: map[uint64]int{}, dirs: map[Handle]string{}, max: max}
}

// AddFilesystem registers the file system holding path and returns its
// fsid as fanotify reports it.
func (r *Resolver) AddFilesystem(path string) (uint64, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	fsid := fsidOf(st.Fsid)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.mounts[fsid]; ok {
		unix.Close(fd)
		return fsid, nil
	}
	r.mounts[fsid] = fd
	return fsid, nil
}

// fsidOf packs a statfs fsid the way fanotify's info records lay it out
// (two 32-bit words in memory order).
func fsidOf(f unix.Fsid) uint64 {
	var b [8]byte
	binary.NativeEndian.PutUint32(b[0:], uint32(f.Val[0]))
	binary.NativeEndian.PutUint32(b[4:], uint32(f.Val[1]))
	return binary.NativeEndian.Uint64(b[:])
}

// FSID returns the fsid of the file system holding path.
func FSID(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return fsidOf(st.Fsid), nil
}

func (r *Resolver) openHandle(h Handle, flags int) (int, error) {
	r.mu.Lock()
	mfd, ok := r.mounts[h.FSID]
	r.mu.Unlock()
	if !ok {
		return -1, fmt.Errorf("file system %x is not watched", h.FSID)
	}
	fh := unix.NewFileHandle(h.Type, []byte(h.Bytes))
	return unix.OpenByHandleAt(mfd, fh, flags|unix.O_CLOEXEC)
}

// DirPath returns the current path of the directory h.
func (r *Resolver) DirPath(h Handle) (string, error) {
	r.mu.Lock()
	p, ok := r.dirs[h]
	r.mu.Unlock()
	if ok {
		return p, nil
	}
	fd, err := r.openHandle(h, unix.O_PATH)
	if err != nil {
		return "", err
	}
	p, err = os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	unix.Close(fd)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if len(r.dirs) >= r.max {
		clear(r.dirs)
	}
	r.dirs[h] = p
	r.mu.Unlock()
	return p, nil
}

// Forget drops h from the directory cache (renamed or deleted).
func (r *Resolver) Forget(h Handle) {
	r.mu.Lock()
	delete(r.dirs, h)
	r.mu.Unlock()
}

// ForgetAll empties the directory cache (a directory moved: paths below
// it changed).
func (r *Resolver) ForgetAll() {
	r.mu.Lock()
	clear(r.dirs)
	r.mu.Unlock()
}

// Open opens the object h read-only without updating its access time.
// Only regular files are opened: the object is first looked at through an
// O_PATH descriptor, which opens nothing, so a device or FIFO is never
// touched. The handle names one inode, whose type cannot change, so the
// second open by the same handle reaches the file that was checked.
func (r *Resolver) Open(h Handle) (*File, error) {
	pfd, err := r.openHandle(h, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	err = unix.Fstat(pfd, &st)
	unix.Close(pfd)
	if err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, ErrNotRegular
	}
	fd, err := r.openHandle(h, unix.O_RDONLY|unix.O_NOATIME)
	if err != nil {
		return nil, err
	}
	return &File{fd: fd, size: st.Size}, nil
}

// File is a regular file opened by Open. It is a bare descriptor, not an
// *os.File: the agent opens a file for most events it judges, and an
// os.File would cost it two more system calls each (the descriptor's
// flags, and the size it already has).
type File struct {
	fd   int
	size int64
}

// Size is the file's size when it was opened.
func (f *File) Size() int64 { return f.size }

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		k, err := unix.Pread(f.fd, b[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "pread", Path: "handle", Err: err}
		}
		if k == 0 {
			return n, io.EOF
		}
		n += k
	}
	return n, nil
}

// Close closes the descriptor.
func (f *File) Close() error { return unix.Close(f.fd) }

// Close releases the file system descriptors.
func (r *Resolver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, fd := range r.mounts {
		unix.Close(fd)
	}
	clear(r.mounts)
	clear(r.dirs)
}
