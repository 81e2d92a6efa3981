//go:build linux

package watchtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NetPair is two network namespaces joined by a veth pair: Host plays
// the watched server, Peer the management station and everyone else.
type NetPair struct {
	Host, Peer         string // namespace names
	HostAddr, PeerAddr string // IPv4 addresses on the veth pair
}

// NewNetPair creates the namespaces and deletes them (with every
// nftables table inside) when the test ends.
func NewNetPair(t testing.TB) *NetPair {
	t.Helper()
	RequireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed; CI has it")
	}
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	p := &NetPair{Host: "kw-" + id + "-h", Peer: "kw-" + id + "-p",
		HostAddr: fmt.Sprintf("10.%d.%d.1", 100+int(b[0])%100, b[1]), PeerAddr: fmt.Sprintf("10.%d.%d.2", 100+int(b[0])%100, b[1])}
	vh, vp := "kwh"+id, "kwp"+id
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", p.Host).Run()
		exec.Command("ip", "netns", "del", p.Peer).Run()
	})
	for _, c := range [][]string{
		{"netns", "add", p.Host},
		{"netns", "add", p.Peer},
		{"link", "add", vh, "type", "veth", "peer", "name", vp},
		{"link", "set", vh, "netns", p.Host},
		{"link", "set", vp, "netns", p.Peer},
		{"-n", p.Host, "addr", "add", p.HostAddr + "/24", "dev", vh},
		{"-n", p.Peer, "addr", "add", p.PeerAddr + "/24", "dev", vp},
		{"-n", p.Host, "link", "set", vh, "up"},
		{"-n", p.Peer, "link", "set", vp, "up"},
		{"-n", p.Host, "link", "set", "lo", "up"},
		{"-n", p.Peer, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return p
}

// In runs fn on an OS thread moved into the named namespace; sockets fn
// creates stay in it. The thread is thrown away afterwards.
func In(t testing.TB, ns string, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		fn()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("enter namespace %s: %v", ns, err)
	}
}

// Exec returns the prefix that runs a command in the namespace.
func (p *NetPair) Exec(ns string) []string { return []string{"ip", "netns", "exec", ns} }

// Listen starts a TCP server in the namespace that answers "ok" to every
// connection, until the test ends.
func Listen(t testing.TB, ns, addr string) {
	t.Helper()
	var l net.Listener
	In(t, ns, func() {
		var err error
		l, err = net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen %s in %s: %v", addr, ns, err)
		}
	})
	if l == nil {
		t.FailNow()
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
}

// Reach reports whether a connection from the namespace to addr gets the
// answer Listen gives.
func Reach(t testing.TB, ns, addr string) bool {
	t.Helper()
	ok := false
	In(t, ns, func() {
		c, err := net.DialTimeout("tcp", addr, 700*time.Millisecond)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		b := make([]byte, 2)
		n, _ := c.Read(b)
		ok = string(b[:n]) == "ok"
	})
	return ok
}
