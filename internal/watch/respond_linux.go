//go:build linux

package watch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/fanotify"
	"github.com/kintsugi-ir/kintsugi/internal/watch/proc"
	"github.com/kintsugi-ir/kintsugi/internal/watch/score"
)

// tree is a stopped process tree.
type tree struct {
	root    int32
	at      time.Time
	alertID string
	handles map[int32]*proc.Handle
	order   []int32
}

func (t *tree) add(h *proc.Handle) {
	if _, ok := t.handles[h.Pid]; ok {
		h.Close()
		return
	}
	t.handles[h.Pid] = h
	t.order = append(t.order, h.Pid)
}

func (t *tree) close() {
	for _, h := range t.handles {
		h.Close()
	}
}

// flagSet is the set of processes whose opens are denied. The permission
// responder reads it from its own goroutine.
type flagSet struct {
	mu   sync.RWMutex
	pids map[int32]bool
}

func (f *flagSet) add(pids ...int32) {
	f.mu.Lock()
	for _, p := range pids {
		f.pids[p] = true
	}
	f.mu.Unlock()
}

func (f *flagSet) remove(pids ...int32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range pids {
		delete(f.pids, p)
	}
	return len(f.pids)
}

func (f *flagSet) has(p int32) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.pids[p]
}

func (f *flagSet) empty() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.pids) == 0
}

// act stops the tree a decision names, then kills it or holds it.
func (a *Agent) act(d score.Decision, evPid int32, pidfd *int) {
	now := time.Now()
	act := &alert.Action{}
	t := &tree{root: d.Root, at: now, handles: map[int32]*proc.Handle{}}
	// the process whose event crossed the threshold first, through the
	// event's own pidfd: no pid race, no /proc lookup
	if d.Pid == evPid && *pidfd >= 0 && !a.protected(evPid) {
		h := proc.Adopt(evPid, *pidfd)
		*pidfd = -1
		if err := h.Signal(unix.SIGSTOP); err == nil {
			t.add(h)
		} else {
			h.Close()
		}
	}
	if a.protected(d.Root) {
		act.Errors = append(act.Errors, fmt.Sprintf("process %d is protected (init, a kernel thread or the agent's own ancestor): not stopped", d.Root))
	} else {
		a.stopTree(t, act)
	}
	if len(t.handles) > 0 {
		act.Stopped = true
		a.flagged.add(t.order...)
		if *a.cfg.Response.DenyOpens {
			if err := a.markPermissions(); err != nil {
				act.Errors = append(act.Errors, "deny opens: "+err.Error())
			} else {
				act.DeniedOpens = true
			}
		}
	}
	al := a.decisionAlert(d, t, act, now)
	t.alertID = al.ID
	if act.Stopped {
		if a.cfg.Response.Action == "kill" {
			a.kill(t)
			act.Killed = true
			a.markStates(al, t)
		} else {
			act.Held = true
			a.held[t.root] = t
		}
	}
	if a.cfg.Response.Isolate && act.Stopped {
		if err := Isolate(a.ctx, a.cfg, a.nft, "ransomware stopped: alert "+al.ID); err != nil {
			act.Errors = append(act.Errors, "isolate: "+err.Error())
		} else {
			act.Isolated = true
		}
	}
	a.send(al)
	a.log.Warn("process tree stopped", "alert", al.ID, "root", d.Root, "reason", d.Reason, "action", a.cfg.Response.Action)
}

// stopTree stops the root and everything below it, in passes, until a
// pass finds nothing new (a child may fork while its siblings are being
// stopped; the stopped root forks no more).
func (a *Agent) stopTree(t *tree, act *alert.Action) {
	if _, ok := t.handles[t.root]; !ok {
		h, err := proc.OpenHandle(t.root, a.table.Info(t.root).Start)
		if err == nil {
			if err := h.Signal(unix.SIGSTOP); err == nil {
				t.add(h)
			} else {
				h.Close()
			}
		} else if !errors.Is(err, proc.ErrGone) {
			act.Errors = append(act.Errors, err.Error())
		}
	}
	for pass := 0; pass < 8; pass++ {
		ds, err := proc.Descendants(t.root)
		if err != nil {
			return
		}
		added := 0
		for _, st := range ds {
			if _, ok := t.handles[st.Pid]; ok || a.protected(st.Pid) {
				continue
			}
			h, err := proc.OpenHandle(st.Pid, st.Start)
			if err != nil {
				continue
			}
			if err := h.Signal(unix.SIGSTOP); err != nil {
				h.Close()
				continue
			}
			t.add(h)
			added++
		}
		if added == 0 {
			return
		}
	}
}

// kill kills a stopped tree and waits briefly for it to go.
func (a *Agent) kill(t *tree) {
	for _, p := range t.order {
		t.handles[p].Signal(unix.SIGKILL)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		alive := false
		for _, h := range t.handles {
			if h.Alive() {
				alive = true
				break
			}
		}
		if !alive {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.release(t)
}

// release forgets a tree: its pids are no longer denied.
func (a *Agent) release(t *tree) {
	if a.flagged.remove(t.order...) == 0 {
		a.unmarkPermissions()
	}
	t.close()
	delete(a.held, t.root)
}

// markPermissions starts answering open permission events on the watched
// mounts. They are marked only while some tree is flagged, so that the
// rest of the time no open on the server waits for the agent.
func (a *Agent) markPermissions() error {
	if a.permMarked {
		return nil
	}
	for _, p := range a.cfg.Paths {
		if err := a.perm.MarkMount(p, fanotify.OpenPerm); err != nil {
			return err
		}
	}
	a.permMarked = true
	return nil
}

func (a *Agent) unmarkPermissions() {
	if !a.permMarked {
		return
	}
	for _, p := range a.cfg.Paths {
		a.perm.UnmarkMount(p, fanotify.OpenPerm)
	}
	a.permMarked = false
}

// answerPermissions answers every open permission event at once: deny for
// a flagged process or a descendant of one, allow otherwise. It opens
// nothing outside /proc, so it never waits on its own marks; if the agent
// dies, the kernel allows whatever is pending.
func (a *Agent) answerPermissions() {
	buf := make([]byte, 64<<10)
	for {
		err := a.perm.Read(buf, func(e *fanotify.Event) {
			allow := true
			func() {
				defer func() {
					if recover() != nil {
						allow = true
					}
				}()
				allow = !a.deniedPid(e.Pid)
			}()
			if !allow {
				a.stats.Denied.Add(1)
			}
			if e.FD >= 0 {
				a.perm.Respond(e.FD, allow)
				unix.Close(e.FD)
			}
		})
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			a.log.Error("permission events", "err", err)
			return
		}
	}
}

func (a *Agent) deniedPid(pid int32) bool {
	if pid == a.self || a.flagged.empty() {
		return false
	}
	for i, p := 0, pid; p > 1 && i < 32; i++ {
		if a.flagged.has(p) {
			return true
		}
		pp, ok := a.table.Parent(p)
		if !ok || pp == p {
			return false
		}
		p = pp
	}
	return false
}

// watchdog keeps held trees stopped (someone may send SIGCONT) and
// forgets trees that are gone.
func (a *Agent) watchdog() {
	for root, t := range a.held {
		alive, resumed := 0, 0
		for _, h := range t.handles {
			if !h.Alive() {
				continue
			}
			alive++
			if !h.Stopped() {
				resumed++
				h.Signal(unix.SIGSTOP)
			}
		}
		if alive == 0 {
			a.log.Info("held process tree is gone", "root", root)
			a.release(t)
			continue
		}
		if resumed > 0 {
			now := time.Now()
			a.send(&alert.Alert{Schema: alert.Schema, ID: alert.NewID(now), Time: now, Host: a.cfg.Host, Kind: alert.KindRansomware,
				Rule: "stopped-tree-resumed", Severity: incident.Critical, Title: "A held process tree was resumed by someone else",
				Summary: fmt.Sprintf("%d processes of tree %d (alert %s) were running again and were stopped again", resumed, root, t.alertID),
				Action:  &alert.Action{Stopped: true, Held: true, DeniedOpens: a.permMarked}})
		}
	}
}

// notice turns a notice into an alert.
func (a *Agent) notice(n score.Notice) {
	now := time.Now()
	al := &alert.Alert{Schema: alert.Schema, ID: alert.NewID(now), Time: now, Host: a.cfg.Host, Severity: incident.High,
		Evidence: evidence([]score.Indicator{n.Indicator})}
	info := a.processInfo(n.Pid)
	al.Process, al.User = &info, info.User
	switch n.Kind {
	case "ransom-note":
		al.Kind, al.Rule, al.Title = alert.KindNote, "ransom-note-written", "Ransom note written"
		al.Summary = fmt.Sprintf("%s (pid %d) wrote %s, which matches %s; nothing else of this tree looks like encryption yet", exeName(info), n.Pid, n.Indicator.Path, n.Indicator.Detail)
	case "canary":
		al.Kind, al.Rule, al.Title, al.Severity = alert.KindCanary, "canary-moved", "Decoy file deleted or moved", incident.Medium
		al.Summary = fmt.Sprintf("%s (pid %d): %s %s; not stopped: removing or moving a folder's files is ordinary work, changing a decoy is not", exeName(info), n.Pid, n.Indicator.Detail, n.Indicator.Path)
	default:
		al.Kind, al.Rule, al.Title = n.Kind, n.Kind, n.Kind
	}
	a.send(al)
}

// maxFiles bounds the file list of one alert.
const maxFiles = 500

func (a *Agent) decisionAlert(d score.Decision, t *tree, act *alert.Action, now time.Time) *alert.Alert {
	al := &alert.Alert{Schema: alert.Schema, ID: alert.NewID(now), Time: now, Host: a.cfg.Host, Kind: alert.KindRansomware,
		Rule: "ransomware-behaviour", Severity: incident.Critical, Title: "Ransomware behaviour: process tree stopped",
		Action: act, Score: d.Score, Evidence: evidence(d.Evidence)}
	if d.Canary {
		al.Kind, al.Rule, al.Title = alert.KindCanary, "canary-touched", "Decoy file touched: process tree stopped"
	}
	info := a.processInfo(d.Pid)
	al.Process, al.User = &info, info.User
	pids := t.order
	if len(pids) == 0 {
		pids = []int32{d.Root}
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] == d.Root || pids[j] != d.Root && pids[i] < pids[j] })
	for _, p := range pids {
		pi := a.processInfo(p)
		if _, ok := t.handles[p]; ok {
			pi.State = "stopped"
		}
		al.Tree = append(al.Tree, pi)
	}
	for i, tc := range d.Touched {
		if i == maxFiles {
			al.FilesOmitted = len(d.Touched) - maxFiles
			break
		}
		al.Files = append(al.Files, alert.File{Time: tc.Time, Pid: tc.Pid, Op: tc.Op.String(), Path: tc.Path, OldPath: tc.OldPath})
	}
	root := a.processInfo(d.Root)
	al.Summary = fmt.Sprintf("%s (pid %d, user %s) and %d processes below it: %s", exeName(root), d.Root, orDash(root.User), max(len(t.order)-1, 0), d.Reason)
	return al
}

func (a *Agent) markStates(al *alert.Alert, t *tree) {
	for i := range al.Tree {
		if _, ok := t.handles[al.Tree[i].Pid]; ok {
			al.Tree[i].State = "killed"
		}
	}
}

func (a *Agent) processInfo(pid int32) alert.Process {
	p := a.table.Info(pid)
	out := alert.Process{Pid: pid, PPid: p.PPid, Exe: p.Exe, Args: p.Args, UID: p.UID, User: p.User, State: "running"}
	if p.Exited {
		out.State = "exited"
	}
	if sum, err := a.table.ExeHash(pid); err == nil {
		out.ExeSHA256 = sum
	} else if p.Exe != "" {
		if sum, err := a.table.FileHash(strings.TrimSuffix(p.Exe, " (deleted)")); err == nil {
			out.ExeSHA256 = sum
		}
	}
	if m, ok := a.allowed[pid]; ok {
		out.Allowed = m.ok
	}
	return out
}

func exeName(p alert.Process) string {
	if p.Exe != "" {
		return filepath.Base(strings.TrimSuffix(p.Exe, " (deleted)"))
	}
	if len(p.Args) > 0 {
		return filepath.Base(p.Args[0])
	}
	return "process"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func evidence(in []score.Indicator) []alert.Evidence {
	var out []alert.Evidence
	for _, i := range in {
		e := alert.Evidence{Time: i.Time, Kind: i.Kind, Pid: i.Pid, Path: i.Path, OldPath: i.OldPath, Weight: i.Weight, Detail: i.Detail}
		if i.Verdict != nil {
			e.Content, _ = json.Marshal(i.Verdict)
		}
		out = append(out, e)
	}
	return out
}
