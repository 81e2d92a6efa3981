//go:build linux

package fanotify

import (
	"encoding/binary"
	"fmt"
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
// Only regular files are opened: a device or FIFO is never touched.
func (r *Resolver) Open(h Handle) (*os.File, error) {
	pfd, err := r.openHandle(h, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, ErrNotRegular
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_NOATIME|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "handle"), nil
}

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
