//go:build linux

package proc

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/watch/watchtest"
)

// TestConnectorAncestry: a grandchild that has already exited is still
// attributed to its ancestors, because the connector saw it forked.
func TestConnectorAncestry(t *testing.T) {
	watchtest.RequireRoot(t)
	c, err := OpenConnector()
	if err != nil {
		t.Fatal(err)
	}
	tab := NewTable(time.Minute)
	stop := make(chan struct{})
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if err := c.Read(buf, tab.Apply); err != nil {
				select {
				case <-stop:
					return
				default:
				}
				if err != ErrLost {
					return
				}
			}
		}
	}()
	defer func() { close(stop); c.Close() }()
	// sh forks a subshell that prints its pid and exits, then sh waits
	cmd := exec.Command("sh", "-c", "sh -c 'echo $$' ; sleep 1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	time.Sleep(100 * time.Millisecond)
	chain := tab.Chain(int32(child))
	if len(chain) < 3 || chain[1] != int32(cmd.Process.Pid) || chain[2] != int32(os.Getpid()) {
		t.Fatalf("chain of exited child %d = %v, want it, sh %d, the test %d ...", child, chain, cmd.Process.Pid, os.Getpid())
	}
	if p := tab.Info(int32(child)); !p.Exited || p.PPid != int32(cmd.Process.Pid) {
		t.Errorf("info of exited child = %+v", p)
	}
}

// TestHandleStopKill: stop a process through its pidfd, see it stopped,
// kill it, and refuse to open a handle for a start time that is not its.
func TestHandleStopKill(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := int32(cmd.Process.Pid)
	if _, err := OpenHandle(pid, 1); err != ErrGone {
		t.Fatalf("handle with a wrong start time: %v", err)
	}
	h, err := OpenHandle(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Signal(unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !h.Stopped() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !h.Stopped() {
		t.Fatal("not stopped")
	}
	d, err := Descendants(int32(os.Getpid()))
	if err != nil || len(d) < 2 {
		t.Fatalf("descendants of the test: %v %v", d, err)
	}
	if err := h.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if h.Alive() {
		t.Error("alive after SIGKILL and wait")
	}
	if err := h.Signal(unix.SIGCONT); err != ErrGone {
		t.Errorf("signal to a reaped process: %v", err)
	}
	tab := NewTable(0)
	if sum, err := tab.ExeHash(int32(os.Getpid())); err != nil || len(sum) != 64 {
		t.Errorf("hash of the test binary: %q %v", sum, err)
	}
}
