//go:build linux

package fanotify

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Group is one fanotify group: a descriptor with marks and an event queue.
type Group struct {
	// f is the permission group's descriptor as a file of the runtime's
	// poller, so that its reader blocks cheaply. The notification group
	// has none: its owner polls it directly (see ReadNow), and a
	// descriptor in the runtime's epoll set would wake an idle runtime
	// thread for every event queued, for nothing.
	f    *os.File
	fd   int
	perm bool

	mu     sync.RWMutex // Read (shared) against Close (exclusive)
	closed bool
}

// NewDirEntryGroup opens a notification group that reports each event's
// object, parent directory and name (FAN_REPORT_DFID_NAME_TARGET) and a
// pidfd of the process that caused it, with an unlimited queue: dropping
// events would blind the agent, and it drains the queue continuously.
func NewDirEntryGroup() (*Group, error) {
	flags := uint(unix.FAN_CLASS_NOTIF | unix.FAN_CLOEXEC | unix.FAN_NONBLOCK | unix.FAN_UNLIMITED_QUEUE |
		unix.FAN_REPORT_DFID_NAME_TARGET | unix.FAN_REPORT_PIDFD)
	fd, err := unix.FanotifyInit(flags, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, initError(err)
	}
	return &Group{fd: fd}, nil
}

// NewPermissionGroup opens a content-class group for permission events.
// Every event it reads must be answered with Respond; when the group is
// closed (or the agent dies) the kernel allows whatever is pending.
func NewPermissionGroup() (*Group, error) {
	flags := uint(unix.FAN_CLASS_CONTENT | unix.FAN_CLOEXEC | unix.FAN_NONBLOCK | unix.FAN_UNLIMITED_QUEUE)
	fd, err := unix.FanotifyInit(flags, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, initError(err)
	}
	return &Group{f: os.NewFile(uintptr(fd), "fanotify-perm"), fd: fd, perm: true}, nil
}

func initError(err error) error {
	switch {
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("fanotify: %w (the agent must run as root)", err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("fanotify: %w (this kernel lacks FAN_REPORT_PIDFD or FAN_REPORT_TARGET_FID: Linux 5.17 or later is needed)", err)
	}
	return fmt.Errorf("fanotify: %w", err)
}

// MarkFilesystem adds mask for the whole file system holding path.
func (g *Group) MarkFilesystem(path string, mask uint64) error {
	return g.mark(unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, mask, path)
}

// MarkMount adds mask for the mount holding path.
func (g *Group) MarkMount(path string, mask uint64) error {
	return g.mark(unix.FAN_MARK_ADD|unix.FAN_MARK_MOUNT, mask, path)
}

// UnmarkMount removes mask from the mount holding path.
func (g *Group) UnmarkMount(path string, mask uint64) error {
	return g.mark(unix.FAN_MARK_REMOVE|unix.FAN_MARK_MOUNT, mask, path)
}

func (g *Group) mark(flags uint, mask uint64, path string) error {
	if err := unix.FanotifyMark(g.fd, flags, mask, unix.AT_FDCWD, path); err != nil {
		return fmt.Errorf("fanotify mark %s: %w", path, err)
	}
	return nil
}

// Read waits for events and decodes them into fn. It returns os.ErrClosed
// once the group is closed. Descriptors carried by events belong to fn.
func (g *Group) Read(buf []byte, fn func(*Event)) error {
	if g.f != nil {
		n, err := g.f.Read(buf)
		if err != nil {
			return err
		}
		return Parse(buf[:n], fn, func(fd int) { unix.Close(fd) })
	}
	for {
		g.mu.RLock()
		if g.closed {
			g.mu.RUnlock()
			return os.ErrClosed
		}
		// a bounded wait, so that Close (which waits for the lock) is
		// never held up for long and the descriptor is never closed
		// under a waiting reader
		fds := []unix.PollFd{{Fd: int32(g.fd), Events: unix.POLLIN}}
		_, err := unix.Poll(fds, 100)
		if err == nil && fds[0].Revents != 0 {
			err = g.ReadNow(buf, fn)
		}
		g.mu.RUnlock()
		if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return err
		}
		if err == nil && fds[0].Revents != 0 {
			return nil
		}
	}
}

// FD is the group's descriptor, for a caller that waits on it with
// poll(2) and then calls ReadNow.
func (g *Group) FD() int { return g.fd }

// ReadNow reads the events queued at this moment with a plain read(2),
// outside the Go runtime's poller: it returns unix.EAGAIN at once when
// there are none. The agent waits with poll(2) itself, so that an event
// costs its thread one wake-up instead of a poller wake-up followed by a
// hand-over between threads. It must not run concurrently with Close.
func (g *Group) ReadNow(buf []byte, fn func(*Event)) error {
	if g.closed {
		return os.ErrClosed
	}
	n, err := unix.Read(g.fd, buf)
	if err != nil {
		return err
	}
	return Parse(buf[:n], fn, func(fd int) { unix.Close(fd) })
}

// Respond answers a permission event.
func (g *Group) Respond(fd int, allow bool) error {
	r := uint32(unix.FAN_ALLOW)
	if !allow {
		r = unix.FAN_DENY
	}
	var b [8]byte
	putResponse(b[:], int32(fd), r)
	_, err := unix.Write(g.fd, b[:])
	return err
}

// Close closes the group; its marks go with it. Closing twice is
// harmless.
func (g *Group) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	if g.f != nil {
		return g.f.Close()
	}
	return unix.Close(g.fd)
}

// IgnoreModify adds (on) or removes an ignore mask for FAN_MODIFY on the
// file at path: after the first modification of a file has been seen,
// the rest of its writes need not each cost an event. The mask survives
// modification and is removed when the file is closed.
func (g *Group) IgnoreModify(path string, on bool) error {
	flags := uint(unix.FAN_MARK_IGNORED_MASK | unix.FAN_MARK_DONT_FOLLOW)
	if on {
		flags |= unix.FAN_MARK_ADD | unix.FAN_MARK_IGNORED_SURV_MODIFY
	} else {
		flags |= unix.FAN_MARK_REMOVE
	}
	return unix.FanotifyMark(g.fd, flags, unix.FAN_MODIFY, unix.AT_FDCWD, path)
}
