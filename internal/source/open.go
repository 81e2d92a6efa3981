// Package source gives read-only access to evidence trees: a walk that
// never follows links out of the tree and never opens FIFOs, devices or
// sockets, and an Open that uses O_NOATIME where permitted and checks that
// the file it opened is the one it was asked for. Nothing here writes to
// the tree. scan, hunt and migrate read evidence only through this package.
package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Info is what the walk learned about an entry from lstat.
type Info struct {
	Size       int64
	Mode       fs.FileMode
	ModTime    time.Time
	ChangeTime time.Time
	Dev, Ino   uint64
	Nlink      uint64
	UID, GID   uint32
}

// InfoOf extracts Info from a FileInfo returned by os.Lstat or File.Stat.
func InfoOf(fi fs.FileInfo) Info {
	in := Info{Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime().UTC()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		in.Dev, in.Ino, in.Nlink = uint64(st.Dev), st.Ino, uint64(st.Nlink)
		in.UID, in.GID = st.Uid, st.Gid
		in.ChangeTime = time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UTC()
	}
	return in
}

// SameContent reports whether a and b describe the same, unchanged file:
// same inode, size, mtime and ctime.
func (a Info) SameContent(b Info) bool {
	return a.Dev == b.Dev && a.Ino == b.Ino && a.Size == b.Size &&
		a.ModTime.Equal(b.ModTime) && a.ChangeTime.Equal(b.ChangeTime)
}

// ErrNotRegular is returned by Open for anything but a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrReplaced is returned by Open when the path no longer names the file
// the walk saw (it was replaced between lstat and open).
var ErrReplaced = errors.New("file was replaced while scanning")

// Open opens path read-only without following a final symbolic link,
// without updating its access time where the kernel permits, and without
// blocking on FIFOs. When want is non-nil the opened file must be the same
// inode; otherwise ErrReplaced.
func Open(path string, want *Info) (*os.File, Info, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Open(path, flags|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) {
		// O_NOATIME needs ownership or CAP_FOWNER; fall back silently:
		// relatime mounts rarely write atime on read anyway.
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, Info{}, fmt.Errorf("open %s: %w: symbolic link", path, ErrNotRegular)
		}
		return nil, Info{}, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, err
	}
	in := InfoOf(fi)
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, in, fmt.Errorf("open %s: %w (%s)", path, ErrNotRegular, KindOf(fi.Mode()))
	}
	if want != nil && (want.Dev != in.Dev || want.Ino != in.Ino) {
		f.Close()
		return nil, in, fmt.Errorf("open %s: %w", path, ErrReplaced)
	}
	// Regular files ignore O_NONBLOCK for reads, but clear it anyway so
	// that nothing downstream sees EAGAIN.
	unix.SetNonblock(fd, false)
	return f, in, nil
}

// KindOf names the kind of a non-regular file for reasons in reports.
func KindOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}
