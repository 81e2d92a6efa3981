//go:build linux

package watch

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// A signal wakes a poll on the waker; after Close a signal (a control
// connection outliving the loop) writes nothing, even when the number of
// its descriptor now belongs to another file.
func TestWakerSignal(t *testing.T) {
	w, err := newWaker()
	if err != nil {
		t.Fatal(err)
	}
	w.Signal()
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 1000); err != nil || n != 1 {
		t.Fatalf("poll after a signal: %d %v", n, err)
	}
	w.Drain()
	if n, _ := unix.Poll(fds, 0); n != 0 {
		t.Fatal("still readable after Drain")
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	old := w.fd
	w.Close()
	// the lowest free number, the waker's old one, now writes to the pipe
	d, err := unix.Dup(p[1])
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	if d != old {
		t.Logf("dup gave %d, not the waker's old %d; the check below is weaker", d, old)
	}
	w.Signal()
	w.Close()
	var b [8]byte
	if n, err := unix.Read(p[0], b[:]); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("a signal after Close reached another file: read %d bytes, %v", n, err)
	}
}
