//go:build linux

package fanotify

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/watch/watchtest"
)

// TestDirEntryGroup: a real group on a private tmpfs reports create,
// close-write, rename and delete with the names, directories and object
// handles the agent needs, and a pidfd while the process lives.
func TestDirEntryGroup(t *testing.T) {
	dir := watchtest.Tmpfs(t, 16)
	g, err := NewDirEntryGroup()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.MarkFilesystem(dir, Create|Delete|Rename|CloseWrite|Modify); err != nil {
		t.Fatal(err)
	}
	res := NewResolver(0)
	defer res.Close()
	if _, err := res.AddFilesystem(dir); err != nil {
		t.Fatal(err)
	}
	// the shell stays alive a moment after its work, so the last events
	// come with a pidfd
	cmd := exec.Command("sh", "-c", "echo hello > a.txt && mv a.txt b.locked && echo x > c && rm c && sleep 2")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()

	var evs []Event
	buf := make([]byte, 64<<10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for len(evs) == 0 || evs[len(evs)-1].Mask&Delete == 0 {
			if err := g.Read(buf, func(e *Event) { evs = append(evs, *e) }); err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		g.Close()
		<-done
		t.Fatalf("got %d events before the time limit: %+v", len(evs), evs)
	}
	var sawPidFD bool
	var created Handle
	for _, e := range evs {
		if e.PidFD >= 0 {
			sawPidFD = true
			unix.Close(e.PidFD)
		}
		if e.Dir.IsZero() && e.OldDir.IsZero() {
			t.Errorf("event %#x without a directory: %+v", e.Mask, e)
		}
		switch {
		case e.Mask&Create != 0 && e.Name == "a.txt":
			created = e.Object
		case e.Mask&Rename != 0:
			if e.OldName != "a.txt" || e.NewName != "b.locked" || e.Object != created {
				t.Errorf("rename = %+v, want a.txt -> b.locked of the created object", e)
			}
			p, err := res.DirPath(e.NewDir)
			if err != nil || p != dir {
				t.Errorf("rename dir = %q, %v; want %q", p, err, dir)
			}
			f, err := res.Open(e.Object)
			if err != nil {
				t.Fatalf("open by handle: %v", err)
			}
			b := make([]byte, 16)
			n, _ := f.ReadAt(b, 0)
			f.Close()
			if f.Size() != 6 {
				t.Errorf("size by handle = %d, want 6", f.Size())
			}
			if string(b[:n]) != "hello\n" {
				t.Errorf("content by handle = %q", b[:n])
			}
		}
		if e.Pid != int32(cmd.Process.Pid) && e.Mask&Rename == 0 && e.Name != "c" {
			// echo runs in the shell itself; mv and rm are children
			t.Logf("event %#x from pid %d", e.Mask, e.Pid)
		}
	}
	// the kernel merges queued events of one object, so count bits
	var aMask uint64
	for _, e := range evs {
		if e.Name == "a.txt" {
			aMask |= e.Mask
		}
	}
	if aMask != Create|Modify|CloseWrite {
		t.Errorf("a.txt events %#x, want create, modify and close-write: %+v", aMask, evs)
	}
	if created.IsZero() {
		t.Errorf("no create event for a.txt: %+v", evs)
	}
	if !sawPidFD {
		t.Error("no event carried a pidfd although the shell was alive")
	}
	if _, err := res.Open(Handle{FSID: 1}); err == nil {
		t.Error("a handle on an unwatched file system opened")
	}
	os.Mkdir(filepath.Join(dir, "fifo-dir"), 0o755)
	unix.Mkfifo(filepath.Join(dir, "fifo-dir", "p"), 0o644)
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, filepath.Join(dir, "fifo-dir", "p"), 0)
	if err != nil {
		t.Fatal(err)
	}
	fsid, _ := FSID(dir)
	if _, err := res.Open(Handle{FSID: fsid, Type: h.Type(), Bytes: string(h.Bytes())}); !errors.Is(err, ErrNotRegular) {
		t.Errorf("FIFO opened by handle: %v", err)
	}
}

// TestPermissionGroup: a permission group denies what the decision says
// and allows the rest.
func TestPermissionGroup(t *testing.T) {
	dir := watchtest.Tmpfs(t, 16)
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	g, err := NewPermissionGroup()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.MarkMount(dir, OpenPerm); err != nil {
		t.Fatal(err)
	}
	var denied atomic.Int32
	denied.Store(-1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			err := g.Read(buf, func(e *Event) {
				g.Respond(e.FD, e.Pid != denied.Load())
				unix.Close(e.FD)
			})
			if err != nil {
				return
			}
		}
	}()
	if out, err := exec.Command("cat", filepath.Join(dir, "f")).CombinedOutput(); err != nil || string(out) != "x" {
		t.Fatalf("allowed open: %q %v", out, err)
	}
	// the shell waits for its input, then becomes cat (same pid): that
	// pid is denied
	cmd := exec.Command("sh", "-c", "read x; exec cat f")
	cmd.Dir = dir
	in, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	denied.Store(int32(cmd.Process.Pid))
	time.Sleep(50 * time.Millisecond)
	in.Write([]byte("go\n"))
	in.Close()
	if err := cmd.Wait(); err == nil {
		t.Fatal("denied process read the file")
	}
	if out, err := exec.Command("cat", filepath.Join(dir, "f")).CombinedOutput(); err != nil || string(out) != "x" {
		t.Fatalf("open after the denial: %q %v", out, err)
	}
}

// A reader waiting on a notification group (which waits with poll(2)
// itself, outside the runtime's poller) ends with os.ErrClosed when the
// group is closed, and a second Close is harmless: the descriptor must
// not be closed twice, or under the waiting reader, where its number may
// already belong to another file.
func TestReadEndsOnClose(t *testing.T) {
	dir := watchtest.Tmpfs(t, 16)
	g, err := NewDirEntryGroup()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.MarkFilesystem(dir, Create); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			if err := g.Read(buf, func(*Event) {}); err != nil {
				got <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // the reader is waiting
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("reader ended with %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reader still waiting after Close")
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := g.ReadNow(make([]byte, 4096), func(*Event) {}); err == nil {
		t.Error("ReadNow on a closed group succeeded")
	}
}
