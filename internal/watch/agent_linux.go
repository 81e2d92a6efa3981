//go:build linux

package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/fanotify"
	"github.com/kintsugi-ir/kintsugi/internal/watch/judge"
	"github.com/kintsugi-ir/kintsugi/internal/watch/nft"
	"github.com/kintsugi-ir/kintsugi/internal/watch/proc"
	"github.com/kintsugi-ir/kintsugi/internal/watch/score"
)

// fileMask is what the agent follows on the watched file systems.
const fileMask = fanotify.Create | fanotify.Delete | fanotify.Rename | fanotify.CloseWrite | fanotify.Modify | fanotify.OnDir

// builtinBoundaries are programs whose children are separate sessions:
// scores never add up across them and they are never stopped.
var builtinBoundaries = []string{
	"systemd", "init", "sshd", "sshd-session", "smbd", "nmbd", "winbindd", "cron", "crond", "atd", "anacron",
	"login", "agetty", "su", "sudo", "doas", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc",
	"dockerd", "tmux", "tmux: server", "screen", "SCREEN", "nfsd", "vsftpd", "proftpd", "pure-ftpd", "sftp-server", "rsyncd",
}

// Agent is the running watch agent.
type Agent struct {
	cfg    *Config
	opts   Options
	log    *slog.Logger
	self   int32
	guards map[int32]bool // the agent's own ancestors: never stopped
	bounds map[string]bool

	group  *fanotify.Group
	perm   *fanotify.Group
	res    *fanotify.Resolver
	table  *proc.Table
	conn   *proc.Connector
	engine *score.Engine
	judge  judge.Judge
	notes  *judge.Notes
	// noteBuf holds the content of a possible ransom note while it is
	// matched; only the event loop uses it
	noteBuf []byte
	nft     nft.NFT
	ctx     context.Context

	canaries *canarySet
	allow    map[string]string // executable path -> sha256
	allowed  map[int32]allowMemo

	flagged    flagSet
	permMarked bool
	// quiet are files whose further modifications are ignored in the
	// kernel until they are closed
	quiet map[fanotify.Handle]string
	// wake interrupts the event loop's wait: a control request is
	// queued, or the agent stops
	wake *waker
	// stopped is closed when the event loop has ended
	stopped chan struct{}
	// kept is the file a glance left open for the note check that follows
	kept    *fanotify.File
	keptObj fanotify.Handle
	held    map[int32]*tree

	control chan controlReq
	stats   Stats
}

type allowMemo struct {
	start uint64
	ok    bool
}

// New prepares an agent; Run starts it.
func New(cfg *Config, opts Options) (*Agent, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Judge == nil {
		opts.Judge = judge.Damage{}
	}
	a := &Agent{cfg: cfg, opts: opts, log: opts.Log, self: int32(os.Getpid()), guards: map[int32]bool{},
		bounds: map[string]bool{}, allow: map[string]string{}, allowed: map[int32]allowMemo{}, held: map[int32]*tree{}, quiet: map[fanotify.Handle]string{},
		judge: opts.Judge, control: make(chan controlReq, 16), stopped: make(chan struct{}), nft: nft.NFT{Path: cfg.Isolation.Nft}}
	a.flagged.pids = map[int32]bool{}
	for _, b := range append(slices.Clone(builtinBoundaries), cfg.Boundaries...) {
		a.bounds[b] = true
	}
	return a, nil
}

// Stats returns the agent's counters.
func (a *Agent) Stats() *Stats { return &a.stats }

// Run watches until ctx ends. Held process trees stay stopped after it
// returns; the isolation table stays in place.
func (a *Agent) Run(ctx context.Context) (err error) {
	a.ctx = ctx
	if os.Geteuid() != 0 {
		return errors.New("watch needs root: fanotify, pidfd signals and nftables are privileged")
	}
	if err := os.MkdirAll(a.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	for p := int32(os.Getppid()); p > 1; {
		a.guards[p] = true
		st, err := readStatFile(p)
		if err != nil {
			break
		}
		p = st.PPid
	}
	a.table = proc.NewTable(10 * time.Minute)
	if a.conn, err = proc.OpenConnector(); err != nil {
		a.log.Warn("process connector unavailable: ancestry of exited processes is lost", "err", err)
	} else {
		defer a.conn.Close()
	}
	if err := a.table.Load(); err != nil {
		return fmt.Errorf("read /proc: %w", err)
	}
	for _, r := range a.cfg.Allow {
		sum := strings.ToLower(r.SHA256)
		if sum == "" {
			if sum, err = a.table.FileHash(r.Path); err != nil {
				return fmt.Errorf("allow %s: %w", r.Path, err)
			}
		}
		a.allow[r.Path] = sum
	}
	a.notes, err = judge.NewNotes()
	if err != nil {
		a.log.Warn("YARA unavailable: ransom notes are recognised by name only", "err", err)
	}
	defer a.notes.Close()

	a.res = fanotify.NewResolver(0)
	defer a.res.Close()
	if a.group, err = fanotify.NewDirEntryGroup(); err != nil {
		return err
	}
	defer a.group.Close()
	if a.perm, err = fanotify.NewPermissionGroup(); err != nil {
		return err
	}
	defer a.perm.Close()
	fsids := map[uint64]bool{}
	for _, p := range a.cfg.Paths {
		fsid, err := a.res.AddFilesystem(p)
		if err != nil {
			return err
		}
		if fsids[fsid] {
			continue
		}
		fsids[fsid] = true
		if err := a.group.MarkFilesystem(p, fileMask&^a.cfg.dropMask); err != nil {
			return fmt.Errorf("%w (FAN_MARK_FILESYSTEM needs a file system with file handles: ext4, xfs, btrfs, tmpfs)", err)
		}
	}
	sc := a.cfg.scoreConfig()
	sc.Workers = func(child, parent int32) bool {
		return a.table.Info(child).PPid == parent && a.table.Siblings(child) > 0
	}
	a.engine = score.New(sc, content{a}, a.notes.Extension)

	if restored, err := RestoreIsolation(ctx, a.cfg, a.nft); err != nil {
		a.log.Error("isolation state could not be restored", "err", err)
	} else if restored {
		a.log.Warn("isolation restored from the state file: the host stays isolated until 'kintsugi watch release'")
	}
	if *a.cfg.Canaries.Enabled {
		a.canaries, err = placeCanaries(a.cfg, a.log)
		if err != nil {
			a.log.Warn("decoy files not placed", "err", err)
		}
		defer a.canaries.remove(a.log)
	}

	if a.wake, err = newWaker(); err != nil {
		return err
	}
	defer a.wake.Close()

	// the goroutines end before Run returns: stopped and the groups
	// closed by shutdown end the readers, actx the account monitor
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(a.stopped)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			a.wake.Signal()
		case <-a.stopped:
		}
	}()
	if a.conn != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.readProcs(a.stopped)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.answerPermissions()
	}()
	ctl, err := a.listenControl()
	if err != nil {
		a.log.Warn("control socket unavailable: held trees can be resumed or killed with kill(1) only", "err", err)
	} else {
		defer ctl.Close()
	}
	if *a.cfg.Accounts.Enabled {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.runAccounts(actx); err != nil && actx.Err() == nil {
				a.log.Error("account monitor stopped", "err", err)
			}
		}()
	}
	a.agentAlert(incident.Info, "agent-started", "Watch agent started",
		fmt.Sprintf("watching %s (kintsugi %s); response %s", strings.Join(a.cfg.Paths, ", "), a.opts.Version, a.cfg.Response.Action))
	if a.opts.Ready != nil {
		a.opts.Ready()
	}
	return a.loop(ctx)
}

// readPause is how long the loop lets events gather after a busy read.
const readPause = time.Millisecond

// activeWait bounds a wait for events within a second of the last ones.
// The Go runtime takes the processor away from a thread that has spent
// 10 ms in a system call; when it comes back, the runtime's monitor
// thread restarts its fastest polling (about sixty wake-ups). Copying
// large files gives such gaps tens of times a second, so a wait of at
// most a few milliseconds is cheaper.
const activeWait = 4 * time.Millisecond

// loop reads and handles file events, control requests and the
// once-a-second housekeeping in one goroutine until ctx ends. It waits
// with poll(2) and sleeps with nanosleep(2) directly: on the 2-core
// machines measured, a reader goroutine handing batches to a handler
// through the runtime (poller wake-ups, timers, thread hand-overs) cost
// the agent more CPU than reading the events, and each wake-up of an
// agent thread also slows a copy running beside it.
func (a *Agent) loop(ctx context.Context) error {
	buf := make([]byte, 256<<10)
	var batch []fanotify.Event
	fds := []unix.PollFd{{Fd: int32(a.group.FD()), Events: unix.POLLIN}, {Fd: int32(a.wake.fd), Events: unix.POLLIN}}
	next := time.Now().Add(time.Second)
	var busy time.Time // when events last came
	var yielded time.Time
	var ticks int
	for {
		// A goroutine that never passes through the scheduler looks to
		// the runtime like one that has run for too long: every 10 ms it
		// would be sent a preemption signal and its processor taken, and
		// the runtime's monitor thread would go back to polling every
		// 20 us. A yield resets that clock; it also wakes an idle thread
		// to look for work, so it is done only every few milliseconds.
		if now := time.Now(); now.Sub(yielded) > 4*time.Millisecond {
			runtime.Gosched()
			yielded = now
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		wait := time.Until(next)
		if time.Since(busy) < time.Second {
			wait = min(wait, activeWait)
		}
		if _, err := unix.Poll(fds, max(int(wait/time.Millisecond), 0)+1); err != nil && !errors.Is(err, unix.EINTR) {
			a.shutdown()
			return fmt.Errorf("poll: %w", err)
		}
		if fds[1].Revents != 0 {
			a.wake.Drain()
		}
		if ctx.Err() != nil {
			a.shutdown()
			return nil
		}
		a.answerControl()
		if fds[0].Revents&unix.POLLIN != 0 {
			err := a.group.ReadNow(buf, func(e *fanotify.Event) { batch = append(batch, *e) })
			if len(batch) > 0 {
				busy = time.Now()
				a.stats.Events.Add(int64(len(batch)))
				for i := range batch {
					a.handle(&batch[i])
				}
				clear(batch)
				batch = batch[:0]
				// Under activity, let events gather for a moment: every
				// event queued while the agent waits wakes it (an IPI and
				// a context switch in the writer's path, which cost a copy
				// on a tmpfs a third of its speed), while a batch read
				// later costs nothing extra. An idle agent still wakes on
				// the first event.
				ts := unix.NsecToTimespec(int64(readPause))
				unix.Nanosleep(&ts, nil)
			}
			if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				a.log.Error("fanotify read", "err", err)
				a.shutdown()
				return errors.New("fanotify: event reader stopped")
			}
		} else if fds[0].Revents != 0 {
			a.shutdown()
			return fmt.Errorf("fanotify: event descriptor failed (poll events %#x)", fds[0].Revents)
		}
		if now := time.Now(); !now.Before(next) {
			next = now.Add(time.Second)
			ticks++
			a.housekeep(ticks)
		}
	}
}

// housekeep runs once a second: decisions that only time makes (a slow
// run's window closing), the watchdog, and every ten seconds expiry of
// what is remembered about exited processes.
func (a *Agent) housekeep(ticks int) {
	out := a.engine.Flush()
	for _, d := range out.Decisions {
		a.stats.Decisions.Add(1)
		none := -1
		a.act(d, 0, &none)
	}
	a.watchdog()
	if ticks%10 == 0 {
		a.engine.Expire(time.Now(), func(pid int32) bool { return proc.Alive(pid, 0) })
		a.table.GC()
		clear(a.allowed)
	}
}

// answerControl answers the control requests queued.
func (a *Agent) answerControl() {
	for {
		select {
		case req := <-a.control:
			req.reply <- a.controlOp(req)
		default:
			return
		}
	}
}

// waker is an eventfd that interrupts the event loop's poll(2). Signal
// is safe from any goroutine, also after Close (a control connection
// may outlive the loop): the descriptor's number is never written to
// once closed, when it may already belong to another file.
type waker struct {
	mu sync.Mutex
	fd int
}

func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	return &waker{fd: fd}, nil
}

// Signal wakes the loop.
func (w *waker) Signal() {
	var b [8]byte
	b[0] = 1 // eventfd adds a host-order counter; 1 is non-zero either way
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd >= 0 {
		unix.Write(w.fd, b[:])
	}
}

// Drain resets the counter after a wake-up.
func (w *waker) Drain() {
	var b [8]byte
	unix.Read(w.fd, b[:])
}

func (w *waker) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}

// shutdown closes the file groups; the permission group is closed by
// Run's defers, which makes the kernel allow anything pending.
func (a *Agent) shutdown() {
	a.group.Close()
	a.perm.Close()
	if a.conn != nil {
		a.conn.Close()
	}
	a.agentAlert(incident.Info, "agent-stopped", "Watch agent stopped", fmt.Sprintf("%d held process trees stay stopped", len(a.held)))
}

func (a *Agent) readProcs(stop <-chan struct{}) {
	buf := make([]byte, 64<<10)
	for {
		err := a.conn.Read(buf, func(c proc.Change) {
			a.stats.Procs.Add(1)
			a.table.Apply(c)
		})
		if err == nil {
			continue
		}
		select {
		case <-stop:
			return
		default:
		}
		if errors.Is(err, proc.ErrLost) {
			a.stats.Lost.Add(1)
			a.table.Load()
			continue
		}
		if errors.Is(err, os.ErrClosed) {
			return
		}
		a.log.Warn("process connector read", "err", err)
		return
	}
}

func readStatFile(pid int32) (proc.Stat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
	if err != nil {
		return proc.Stat{}, err
	}
	return proc.ParseStat(b)
}

// agentAlert sends an alert about the agent itself.
func (a *Agent) agentAlert(sev incident.Severity, rule, title, summary string) {
	now := time.Now()
	a.send(&alert.Alert{Schema: alert.Schema, ID: alert.NewID(now), Time: now, Host: a.cfg.Host, Kind: alert.KindAgent,
		Rule: rule, Severity: sev, Title: title, Summary: summary})
}

func (a *Agent) send(al *alert.Alert) {
	if a.opts.Send == nil {
		return
	}
	if err := a.opts.Send.Send(context.WithoutCancel(a.ctx), al); err != nil {
		a.log.Error("alert journal write failed", "alert", al.ID, "err", err)
	}
}
