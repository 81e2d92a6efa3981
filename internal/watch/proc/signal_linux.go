//go:build linux

package proc

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Handle holds a pidfd: a reference to one process that stays valid (and
// never names another process) after the pid is reused.
type Handle struct {
	Pid   int32
	Start uint64
	fd    int
}

// Adopt wraps a pidfd the caller received (from a fanotify event); the
// Handle owns it from then on.
func Adopt(pid int32, pidfd int) *Handle {
	h := &Handle{Pid: pid, fd: pidfd}
	if st, err := readStat(pid); err == nil {
		h.Start = st.Start
	}
	return h
}

// OpenHandle opens a pidfd for pid and checks that it still is the
// process that started at start (0: any).
func OpenHandle(pid int32, start uint64) (*Handle, error) {
	fd, err := unix.PidfdOpen(int(pid), 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, ErrGone
		}
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	// the pidfd now pins the process: check that it is the one meant
	st, err := readStat(pid)
	if err != nil || start != 0 && st.Start != start {
		unix.Close(fd)
		return nil, ErrGone
	}
	return &Handle{Pid: pid, Start: st.Start, fd: fd}, nil
}

// Signal sends sig to the process.
func (h *Handle) Signal(sig unix.Signal) error {
	if h == nil || h.fd < 0 {
		return ErrGone
	}
	if err := unix.PidfdSendSignal(h.fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrGone
		}
		return fmt.Errorf("signal %d: %w", h.Pid, err)
	}
	return nil
}

// Stopped reports whether the process is in the stopped state.
func (h *Handle) Stopped() bool {
	st, err := readStat(h.Pid)
	return err == nil && (h.Start == 0 || st.Start == h.Start) && (st.State == 'T' || st.State == 't')
}

// Alive reports whether the process still runs (or is stopped).
func (h *Handle) Alive() bool {
	st, err := readStat(h.Pid)
	return err == nil && (h.Start == 0 || st.Start == h.Start) && st.State != 'Z' && st.State != 'X'
}

// Close releases the pidfd.
func (h *Handle) Close() error {
	if h == nil || h.fd < 0 {
		return nil
	}
	err := unix.Close(h.fd)
	h.fd = -1
	return err
}
