//go:build linux

package proc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Process is what the agent knows about one process.
type Process struct {
	Pid  int32  `json:"pid"`
	PPid int32  `json:"ppid"`
	Comm string `json:"comm,omitempty"`
	// Exe is the executable's path as the kernel reports it (a deleted
	// binary ends in " (deleted)").
	Exe    string   `json:"exe,omitempty"`
	Args   []string `json:"args,omitempty"`
	UID    int      `json:"uid"`
	User   string   `json:"user,omitempty"`
	Start  uint64   `json:"start_ticks,omitempty"`
	Exited bool     `json:"exited,omitempty"`
}

type entry struct {
	Process
	known    bool // details were read
	exitedAt time.Time
}

// Table is the process ancestry table. It is safe for concurrent use.
type Table struct {
	mu        sync.Mutex
	procs     map[int32]*entry
	retention time.Duration
	hashes    map[exeKey]string
	users     map[int]string
	now       func() time.Time
}

// NewTable returns an empty table that remembers exited processes for
// retention (so that their files are attributed to their ancestors).
func NewTable(retention time.Duration) *Table {
	if retention <= 0 {
		retention = 10 * time.Minute
	}
	return &Table{procs: map[int32]*entry{}, retention: retention, hashes: map[exeKey]string{},
		users: map[int]string{}, now: time.Now}
}

// Apply records a connector event. It is called for every fork, exec and
// exit on the machine, so it does the least it can: a fork copies the
// parent's entry, an exec reads only the new executable's path, an exit
// marks the entry. The rest is read when an event of the process needs it.
func (t *Table) Apply(c Change) {
	switch c.Kind {
	case "fork":
		t.mu.Lock()
		e := &entry{Process: Process{Pid: c.Pid, PPid: c.Parent}}
		if p, ok := t.procs[c.Parent]; ok {
			// until it executes something, a child runs its parent's program
			e.Exe, e.Comm, e.UID, e.User = p.Exe, p.Comm, p.UID, p.User
		}
		t.procs[c.Pid] = e
		t.mu.Unlock()
	case "exec":
		exe, err := os.Readlink(procPath(c.Pid, "exe"))
		t.mu.Lock()
		e, ok := t.procs[c.Pid]
		if !ok {
			e = &entry{Process: Process{Pid: c.Pid, PPid: -1}}
			t.procs[c.Pid] = e
		}
		if err == nil {
			e.Exe = exe
		}
		e.known, e.Args = false, nil
		t.mu.Unlock()
	case "exit":
		t.mu.Lock()
		if e, ok := t.procs[c.Pid]; ok {
			e.Exited, e.exitedAt = true, t.now()
		}
		t.mu.Unlock()
	}
}

// refresh reads a live process's details from /proc into the table.
func (t *Table) refresh(pid int32, details bool) (*entry, bool) {
	st, err := readStat(pid)
	if err != nil {
		return nil, false
	}
	p := Process{Pid: pid, PPid: st.PPid, Comm: st.Comm, Start: st.Start}
	if details {
		p.Exe, _ = os.Readlink(procPath(pid, "exe"))
		if b, err := os.ReadFile(procPath(pid, "cmdline")); err == nil {
			p.Args = splitArgs(b)
		}
		p.UID = readUID(pid)
		p.User = t.userName(p.UID)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.procs[pid]
	if !ok || e.Start != 0 && e.Start != st.Start {
		e = &entry{}
		t.procs[pid] = e
	}
	if details {
		if p.Exe == "" {
			p.Exe = e.Exe
		}
		e.Process, e.known = p, true
	} else {
		e.Pid, e.PPid, e.Comm, e.Start = pid, st.PPid, st.Comm, st.Start
	}
	return e, true
}

func (t *Table) userName(uid int) string {
	t.mu.Lock()
	n, ok := t.users[uid]
	t.mu.Unlock()
	if ok {
		return n
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		n = u.Username
	}
	t.mu.Lock()
	t.users[uid] = n
	t.mu.Unlock()
	return n
}

// Parent returns the parent of pid, from the table or /proc/PID/stat. It
// opens nothing but /proc, so the agent's permission responder may call
// it without waiting on itself.
func (t *Table) Parent(pid int32) (int32, bool) {
	t.mu.Lock()
	e, ok := t.procs[pid]
	t.mu.Unlock()
	if ok && e.PPid >= 0 {
		return e.PPid, true
	}
	e, ok = t.refresh(pid, false)
	if !ok {
		return 0, false
	}
	return e.PPid, true
}

// Chain returns pid and its ancestors, nearest first, ending before pid 1
// (or where the ancestry is unknown). It is at most 64 long.
func (t *Table) Chain(pid int32) []int32 {
	var out []int32
	for p := pid; p > 1 && len(out) < 64; {
		out = append(out, p)
		pp, ok := t.Parent(p)
		if !ok || pp == p {
			break
		}
		p = pp
	}
	return out
}

// Info returns what is known of pid, reading /proc when the table lacks
// its details.
func (t *Table) Info(pid int32) Process {
	t.mu.Lock()
	e, ok := t.procs[pid]
	t.mu.Unlock()
	if !ok || !e.known && !e.Exited {
		if e2, ok2 := t.refresh(pid, true); ok2 {
			e = e2
		}
	}
	if e == nil {
		return Process{Pid: pid, Exited: true}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return e.Process
}

// Siblings counts the other children of pid's parent, live or recently
// exited, that run the same executable.
func (t *Table) Siblings(pid int32) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.procs[pid]
	if !ok || e.Exe == "" {
		return 0
	}
	n := 0
	for q, o := range t.procs {
		if q != pid && o.PPid == e.PPid && o.Exe == e.Exe {
			n++
		}
	}
	return n
}

// Alive reports whether pid is still the process that started at start.
func Alive(pid int32, start uint64) bool {
	st, err := readStat(pid)
	return err == nil && (start == 0 || st.Start == start) && st.State != 'Z'
}

// GC forgets processes that exited more than the retention ago.
func (t *Table) GC() {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for pid, e := range t.procs {
		if e.Exited && now.Sub(e.exitedAt) > t.retention {
			delete(t.procs, pid)
		}
	}
}

// Len is the number of processes in the table.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.procs)
}

// Load fills the table from /proc (at start, and after lost connector
// events).
func (t *Table) Load() error {
	d, err := os.Open("/proc")
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		pid, err := strconv.ParseInt(n, 10, 32)
		if err != nil {
			continue
		}
		t.refresh(int32(pid), true)
	}
	return nil
}

type exeKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

// ExeHash returns the SHA-256 of the executable pid runs, read through
// /proc/PID/exe (so a deleted or replaced binary is still the one hashed),
// cached by the file's identity.
func (t *Table) ExeHash(pid int32) (string, error) {
	f, err := os.Open(procPath(pid, "exe"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	return t.hashFile(f)
}

// FileHash returns the SHA-256 of the file at path, cached the same way
// (allow-list entries are hashed once at start).
func (t *Table) FileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return t.hashFile(f)
}

func (t *Table) hashFile(f *os.File) (string, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", err
	}
	k := exeKey{st.Dev, st.Ino, st.Size, st.Mtim.Nano()}
	t.mu.Lock()
	h, ok := t.hashes[k]
	t.mu.Unlock()
	if ok {
		return h, nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return "", err
	}
	h = hex.EncodeToString(sum.Sum(nil))
	t.mu.Lock()
	if len(t.hashes) > 4096 {
		clear(t.hashes)
	}
	t.hashes[k] = h
	t.mu.Unlock()
	return h, nil
}

func procPath(pid int32, what string) string {
	return "/proc/" + strconv.Itoa(int(pid)) + "/" + what
}

func readStat(pid int32) (Stat, error) {
	b, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

func readUID(pid int32) int {
	b, err := os.ReadFile(procPath(pid, "status"))
	if err != nil {
		return -1
	}
	for _, l := range bytes.Split(b, []byte{'\n'}) {
		if rest, ok := bytes.CutPrefix(l, []byte("Uid:")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				if n, err := strconv.Atoi(string(f[0])); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

func splitArgs(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) > 32 {
		parts = append(parts[:32], "…")
	}
	for i, p := range parts {
		if len(p) > 512 {
			parts[i] = p[:512] + "…"
		}
	}
	return parts
}

// Descendants returns root and every process below it, read from /proc,
// parents before children.
func Descendants(root int32) ([]Stat, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	children := map[int32][]Stat{}
	var rootStat *Stat
	for _, n := range names {
		pid, err := strconv.ParseInt(n, 10, 32)
		if err != nil {
			continue
		}
		st, err := readStat(int32(pid))
		if err != nil {
			continue
		}
		if st.Pid == root {
			s := st
			rootStat = &s
		}
		children[st.PPid] = append(children[st.PPid], st)
	}
	if rootStat == nil {
		return nil, fmt.Errorf("process %d: %w", root, os.ErrNotExist)
	}
	out := []Stat{*rootStat}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i].Pid]...)
	}
	return out, nil
}

// ErrGone is returned when a process exited or its pid now names another.
var ErrGone = errors.New("process is gone")
