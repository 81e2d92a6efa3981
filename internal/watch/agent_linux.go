//go:build linux

package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	// spare are batches of events handled and emptied, for the reader to
	// fill again instead of growing new ones
	spare chan []fanotify.Event
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
		bounds: map[string]bool{}, allow: map[string]string{}, allowed: map[int32]allowMemo{}, held: map[int32]*tree{}, quiet: map[fanotify.Handle]string{}, spare: make(chan []fanotify.Event, 8),
		judge: opts.Judge, control: make(chan controlReq), nft: nft.NFT{Path: cfg.Isolation.Nft}}
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

	var wg sync.WaitGroup
	defer wg.Wait()
	batches := make(chan []fanotify.Event, 256)
	stop := make(chan struct{})
	defer close(stop)
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.readFiles(batches, stop)
	}()
	if a.conn != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.readProcs(stop)
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
			if err := a.runAccounts(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("account monitor stopped", "err", err)
			}
		}()
	}
	a.agentAlert(incident.Info, "agent-started", "Watch agent started",
		fmt.Sprintf("watching %s (kintsugi %s); response %s", strings.Join(a.cfg.Paths, ", "), a.opts.Version, a.cfg.Response.Action))
	if a.opts.Ready != nil {
		a.opts.Ready()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var ticks int
	for {
		select {
		case <-ctx.Done():
			a.shutdown()
			return nil
		case b, ok := <-batches:
			if !ok {
				a.shutdown()
				return errors.New("fanotify: event reader stopped")
			}
			for i := range b {
				a.handle(&b[i])
			}
			// the batch goes back to the reader, emptied
			clear(b)
			select {
			case a.spare <- b[:0]:
			default:
			}
		case req := <-a.control:
			req.reply <- a.controlOp(req)
		case <-tick.C:
			ticks++
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
	}
}

// shutdown closes the file groups so that the readers end; the permission
// group is closed by Run's defers, which makes the kernel allow anything
// pending.
func (a *Agent) shutdown() {
	a.group.Close()
	a.perm.Close()
	if a.conn != nil {
		a.conn.Close()
	}
	a.agentAlert(incident.Info, "agent-stopped", "Watch agent stopped", fmt.Sprintf("%d held process trees stay stopped", len(a.held)))
}

// readPause is how long the reader lets events gather after a busy read.
const readPause = time.Millisecond

func (a *Agent) readFiles(out chan<- []fanotify.Event, stop <-chan struct{}) {
	defer close(out)
	buf := make([]byte, 256<<10)
	for {
		var batch []fanotify.Event
		select {
		case batch = <-a.spare:
		default:
		}
		err := a.group.Read(buf, func(e *fanotify.Event) { batch = append(batch, *e) })
		if len(batch) > 0 {
			a.stats.Events.Add(int64(len(batch)))
			select {
			case out <- batch:
			case <-stop:
				closeEvents(batch)
				return
			}
			// Under activity, let events gather for a moment: every event
			// queued while the agent waits in read wakes it (an IPI and a
			// context switch in the writer's path, which cost a copy on
			// a tmpfs a third of its speed), while a batch read later costs
			// nothing extra. An idle agent still wakes on the first event.
			time.Sleep(readPause)
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			a.log.Error("fanotify read", "err", err)
			return
		}
	}
}

func closeEvents(b []fanotify.Event) {
	for _, e := range b {
		if e.PidFD >= 0 {
			unix.Close(e.PidFD)
		}
		if e.FD >= 0 {
			unix.Close(e.FD)
		}
	}
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
