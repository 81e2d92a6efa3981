//go:build linux

package watch

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// The control socket lets the operator see and decide about held trees
// (kintsugi watch status|resume|kill). It is a Unix socket in the state
// directory, mode 0600, and every peer's credentials are checked: only
// root may talk to it.

type controlReq struct {
	ControlRequest
	reply chan ControlReply
}

func (a *Agent) listenControl() (net.Listener, error) {
	p := ControlSocket(a.cfg.StateDir)
	os.Remove(p)
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", p)
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go a.serveControl(c.(*net.UnixConn))
		}
	}()
	return l, nil
}

func (a *Agent) serveControl(c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil || cred.Uid != 0 {
		json.NewEncoder(c).Encode(ControlReply{Error: "only root may control the agent"})
		return
	}
	var req ControlRequest
	if err := json.NewDecoder(bufio.NewReader(c)).Decode(&req); err != nil {
		json.NewEncoder(c).Encode(ControlReply{Error: "bad request"})
		return
	}
	r := controlReq{ControlRequest: req, reply: make(chan ControlReply, 1)}
	select {
	case a.control <- r:
		a.wake.Signal()
	case <-a.stopped:
		return
	}
	select {
	case rep := <-r.reply:
		json.NewEncoder(c).Encode(rep)
	case <-a.stopped:
		json.NewEncoder(c).Encode(ControlReply{Error: "the agent stopped before answering"})
	}
}

// controlOp runs on the agent's main loop.
func (a *Agent) controlOp(r controlReq) ControlReply {
	var rep ControlReply
	switch r.Op {
	case "status":
	case "resume", "kill":
		t, ok := a.held[r.Root]
		if !ok {
			rep.Error = fmt.Sprintf("no held tree with root %d", r.Root)
			break
		}
		if r.Op == "kill" {
			a.kill(t)
			a.log.Warn("held tree killed by the operator", "root", r.Root)
			break
		}
		// resume: a false alarm; the tree's score starts again from zero
		a.engine.Release(r.Root)
		for _, p := range t.order {
			t.handles[p].Signal(unix.SIGCONT)
		}
		a.release(t)
		a.log.Warn("held tree resumed by the operator", "root", r.Root)
	default:
		rep.Error = "unknown operation " + r.Op
	}
	for _, t := range a.held {
		rep.Held = append(rep.Held, HeldTree{Root: t.root, Since: t.at, AlertID: t.alertID, Pids: append([]int32(nil), t.order...)})
	}
	sort.Slice(rep.Held, func(i, j int) bool { return rep.Held[i].Root < rep.Held[j].Root })
	s := &a.stats
	rep.Stats = StatsReport{Events: s.Events.Load(), Watched: s.Watched.Load(), Judged: s.Judged.Load(),
		Decisions: s.Decisions.Load(), Denied: s.Denied.Load(), Lost: s.Lost.Load(), Procs: s.Procs.Load()}
	rep.Canaries = a.canaries.paths()
	rep.Paths = a.cfg.Paths
	return rep
}
