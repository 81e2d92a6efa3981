//go:build linux

package watch

import (
	"io"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/watch/fanotify"
	"github.com/kintsugi-ir/kintsugi/internal/watch/judge"
	"github.com/kintsugi-ir/kintsugi/internal/watch/score"
)

// handle turns one fanotify event into score events and acts on what the
// engine decides.
func (a *Agent) handle(ev *fanotify.Event) {
	pidfd := ev.PidFD
	defer func() {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		if ev.FD >= 0 {
			unix.Close(ev.FD)
		}
	}()
	if ev.Mask&fanotify.Overflow != 0 {
		a.stats.Lost.Add(1)
		a.agentAlert("high", "events-lost", "File events lost", "the fanotify queue overflowed; activity in that moment was not scored")
		return
	}
	if ev.Pid == a.self || ev.Pid <= 0 {
		return
	}
	isDir := ev.Mask&fanotify.OnDir != 0
	var p, oldp string
	dir, oldDir := ev.Dir, fanotify.Handle{}
	if ev.Mask&fanotify.Rename != 0 {
		dir, oldDir = ev.NewDir, ev.OldDir
		p = a.path(ev.NewDir, ev.NewName)
		oldp = a.path(ev.OldDir, ev.OldName)
		if isDir {
			// every cached path below the moved directory changed
			a.res.ForgetAll()
		}
	} else {
		p = a.path(ev.Dir, ev.Name)
	}
	if !a.cfg.watched(p) && (oldp == "" || !a.cfg.watched(oldp)) {
		return
	}
	a.stats.Watched.Add(1)
	canary := a.canaries.is(ev.Object, p, oldp)
	chain := a.chain(ev.Pid)
	allowed := a.allowedPid(ev.Pid)
	now := time.Now()
	for _, op := range ops(ev.Mask) {
		se := score.Event{Time: now, Op: op, Chain: chain, Allowed: allowed, Object: ev.Object, Dir: dir,
			Path: p, OldPath: oldp, OldDir: oldDir, IsDir: isDir, Canary: canary}
		out := a.engine.Observe(&se)
		for _, d := range out.Decisions {
			a.stats.Decisions.Add(1)
			a.act(d, ev.Pid, &pidfd)
		}
		for _, n := range out.Notices {
			a.notice(n)
		}
	}
	if isDir && ev.Mask&fanotify.Delete != 0 {
		a.res.Forget(ev.Object)
	}
	a.quieten(ev, p)
	if a.kept != nil {
		// the note check takes it at once; never held past the event (an
		// open file would pin a deleted file's space and the mount)
		a.kept.Close()
		a.kept = nil
	}
}

// maxQuiet bounds the files whose modifications are ignored at a time.
const maxQuiet = 16384

// quieten asks the kernel to stop reporting modifications of a file
// after the first (the engine has judged it, or knows it is the writer's
// own output) until it is closed: a copy of a large file then costs two
// events instead of one per write.
func (a *Agent) quieten(ev *fanotify.Event, p string) {
	if ev.Mask&fanotify.OnDir != 0 || ev.Object.IsZero() || p == "" {
		return
	}
	_, quiet := a.quiet[ev.Object]
	switch {
	case ev.Mask&(fanotify.CloseWrite|fanotify.Delete) != 0:
		if quiet {
			delete(a.quiet, ev.Object)
			if ev.Mask&fanotify.Delete == 0 {
				a.group.IgnoreModify(p, false)
			}
		}
	case ev.Mask&fanotify.Modify != 0 && !quiet && len(a.quiet) < maxQuiet:
		if a.group.IgnoreModify(p, true) == nil {
			a.quiet[ev.Object] = p
		}
	}
}

// ops splits a (possibly merged) event mask into operations in the order
// they happen.
func ops(mask uint64) []score.Op {
	var out []score.Op
	if mask&fanotify.Create != 0 {
		out = append(out, score.OpCreate)
	}
	if mask&fanotify.Modify != 0 {
		out = append(out, score.OpModify)
	}
	if mask&fanotify.CloseWrite != 0 {
		out = append(out, score.OpWrite)
	}
	if mask&fanotify.Rename != 0 {
		out = append(out, score.OpRename)
	}
	if mask&fanotify.Delete != 0 {
		out = append(out, score.OpDelete)
	}
	return out
}

// path joins a directory handle's path and a name; "" when the
// directory cannot be resolved (it is gone).
func (a *Agent) path(dir fanotify.Handle, name string) string {
	if dir.IsZero() {
		return ""
	}
	d, err := a.res.DirPath(dir)
	if err != nil {
		return ""
	}
	if name == "" || name == "." {
		return d
	}
	return filepath.Join(d, name)
}

// chain returns pid and its ancestors up to the first boundary: a
// process of a boundary program (sshd, smbd, sudo ...), pid 1, or one of
// the agent's own ancestors. The acting process itself is always first,
// whatever it is.
func (a *Agent) chain(pid int32) []int32 {
	full := a.table.Chain(pid)
	if len(full) == 0 {
		return []int32{pid}
	}
	out := full[:1]
	for _, p := range full[1:] {
		if a.boundary(p) {
			break
		}
		out = append(out, p)
	}
	return out
}

func (a *Agent) boundary(pid int32) bool {
	if pid <= 2 || pid == a.self || a.guards[pid] {
		return true
	}
	info := a.table.Info(pid)
	if info.PPid == 2 {
		return true // kernel thread
	}
	exe := strings.TrimSuffix(info.Exe, " (deleted)")
	return a.bounds[filepath.Base(exe)] || a.bounds[info.Comm]
}

// protected reports processes the agent never stops.
func (a *Agent) protected(pid int32) bool {
	if pid <= 2 || pid == a.self || a.guards[pid] {
		return true
	}
	return a.table.Info(pid).PPid == 2
}

// allowedPid reports whether pid runs an allow-listed executable: its
// path is listed and its content hashes to the listed (or pinned) hash.
func (a *Agent) allowedPid(pid int32) bool {
	if len(a.allow) == 0 {
		return false
	}
	info := a.table.Info(pid)
	if m, ok := a.allowed[pid]; ok && m.start == info.Start {
		return m.ok
	}
	ok := false
	if want, listed := a.allow[info.Exe]; listed {
		got, err := a.table.ExeHash(pid)
		ok = err == nil && got == want
		if !ok {
			a.log.Warn("allow-listed path runs an executable with another hash: not allowed", "pid", pid, "exe", info.Exe)
		}
	}
	a.allowed[pid] = allowMemo{start: info.Start, ok: ok}
	return ok
}

// content reads files for the score engine through their handles.
type content struct{ a *Agent }

func (c content) Judge(obj fanotify.Handle, name string) (judge.Verdict, error) {
	f, err := c.open(obj)
	if err != nil {
		return judge.Verdict{}, err
	}
	defer f.Close()
	c.a.stats.Judged.Add(1)
	return c.a.judge.Judge(c.a.ctx, f, f.Size(), name)
}

func (c content) Glance(obj fanotify.Handle, name string) (judge.Verdict, error) {
	f, err := c.open(obj)
	if err != nil {
		return judge.Verdict{}, err
	}
	v, err := judge.Entropy{}.Judge(c.a.ctx, f, f.Size(), name)
	if c.a.notes.Candidate(name, f.Size()) {
		// the note check comes next: it reads the same file
		c.a.kept, c.a.keptObj = f, obj
	} else {
		f.Close()
	}
	return v, err
}

// open opens obj, or hands over the file kept open for it.
func (c content) open(obj fanotify.Handle) (*fanotify.File, error) {
	if f := c.a.kept; f != nil {
		c.a.kept = nil
		if c.a.keptObj == obj {
			return f, nil
		}
		f.Close()
	}
	return c.a.res.Open(obj)
}

func (c content) Note(obj fanotify.Handle, name string) (string, error) {
	if !c.a.notes.Candidate(name, 1) {
		return "", nil
	}
	f, err := c.open(obj)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if !c.a.notes.Candidate(name, f.Size()) {
		return "", nil
	}
	// read into one buffer kept for the purpose: a copy of a tree of
	// documents checks hundreds of them, and a fresh buffer each (zeroed,
	// then collected) cost an eighth of the agent's CPU while cp copied
	// the bench corpus
	if c.a.noteBuf == nil {
		c.a.noteBuf = make([]byte, judge.NoteMax)
	}
	size := f.Size()
	n, err := f.ReadAt(c.a.noteBuf[:min(size, judge.NoteHead)], 0)
	if span := judge.NoteSpan(c.a.noteBuf[:n], size); err == nil && span > int64(n) {
		var m int
		m, err = f.ReadAt(c.a.noteBuf[n:span], int64(n))
		n += m
	}
	if err != nil && err != io.EOF {
		return "", err // (at EOF it shrank: what is left is matched)
	}
	b := c.a.noteBuf[:n]
	return c.a.notes.Match(c.a.ctx, b, name)
}

// startOf returns the start time of a live process, 0 when unknown.
func (a *Agent) startOf(pid int32) uint64 {
	st, err := readStatFile(pid)
	if err != nil {
		return 0
	}
	return st.Start
}
