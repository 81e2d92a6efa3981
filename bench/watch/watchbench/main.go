// Command watchbench measures kintsugi watch with its ransomware
// simulator: files lost before the stop and detection latency over many
// runs per mode, the agent's CPU while idle, and its overhead on cp -r of
// a corpus. Beside it, on the same simulator runs and the same copy, it
// runs a naive detector - "many high-entropy writes by one process", the
// rule that killed rclone and cp at the company - so that the two designs
// are compared on one machine in one run. It needs root (fanotify, tmpfs).
//
//	watchbench -kintsugi ./kintsugi -sim ./ransomsim [-runs 20] [-files 2000] [-corpus DIR]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/watch"
	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/ransomsim"
)

type options struct {
	kintsugi, sim, corpus, modes, jsonOut string
	runs, files, naiveRuns, cpRuns        int
	fs                                    string
	idle                                  time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.kintsugi, "kintsugi", "./kintsugi", "kintsugi binary")
	flag.StringVar(&o.sim, "sim", "./ransomsim", "ransomsim binary (bench/watch/ransomsim)")
	flag.StringVar(&o.corpus, "corpus", "", "corpus for the cp -r overhead and idle measurements (make-corpus --profile bench)")
	flag.StringVar(&o.modes, "modes", strings.Join(ransomsim.Modes, ","), "simulator modes")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.IntVar(&o.runs, "runs", 20, "runs per mode")
	flag.StringVar(&o.fs, "fs", "tmpfs", "file system of the watched tree: tmpfs (memory only, the harshest case for the agent) or ext4 (an image file on the machine's disk, loop-mounted)")
	flag.IntVar(&o.files, "files", 2000, "files per run")
	flag.IntVar(&o.naiveRuns, "naive-runs", 5, "runs per mode for the naive detector (0: none)")
	flag.IntVar(&o.cpRuns, "cp-runs", 9, "pairs of cp -r runs without and with the agent (order alternating; medians compared)")
	flag.DurationVar(&o.idle, "idle", time.Minute, "how long idle CPU is measured")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "watchbench:", err)
		os.Exit(1)
	}
}

// Result is one simulator run.
type Result struct {
	Mode    string  `json:"mode"`
	Lost    int     `json:"lost"`
	Renamed int     `json:"renamed"`
	Stopped bool    `json:"stopped"`
	Latency float64 `json:"latency_ms"` // first damaged file to the stop
}

type report struct {
	Runs      []Result             `json:"runs"`
	Naive     []Result             `json:"naive_runs"`
	IdleCPU   float64              `json:"idle_cpu_percent"`
	IdleProcs float64              `json:"idle_process_events_per_second"`
	CPUAgent  float64              `json:"agent_cpu_seconds_during_cp"`
	CP        map[string]float64   `json:"cp_seconds"`
	CPRuns    map[string][]float64 `json:"cp_runs_seconds"`
	CPCPU     map[string]float64   `json:"cp_cpu_seconds"` // cp's own user+system time, medians
	// CPPaired is the overhead from each pair of copies run back to back
	// (with/without - 1, percent): median, first and third quartile. The
	// machine's speed drifts over minutes; within a pair much less.
	CPPaired  map[string]float64 `json:"cp_paired_overhead_percent"`
	NaiveCP   string             `json:"naive_cp"`
	AgentCP   string             `json:"agent_cp"`
	Machine   string             `json:"machine"`
	FS        string             `json:"fs"` // file system of the watched tree
	Corpus    string             `json:"corpus"`
	Files     int                `json:"files"`
	StartedAt time.Time          `json:"started_at"`
}

func run(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root")
	}
	root, err := os.MkdirTemp("", "kw-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	mnt := filepath.Join(root, "fs")
	os.Mkdir(mnt, 0o755)
	switch o.fs {
	case "tmpfs":
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=6g"); err != nil {
			return fmt.Errorf("mount tmpfs: %w", err)
		}
	case "ext4":
		img := filepath.Join(root, "fs.img")
		for _, args := range [][]string{{"truncate", "-s", "8G", img}, {"mkfs.ext4", "-q", "-F", img}, {"mount", "-o", "loop", img, mnt}} {
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %v %s", strings.Join(args, " "), err, out)
			}
		}
	default:
		return fmt.Errorf("-fs %q: tmpfs or ext4", o.fs)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	rep := report{CP: map[string]float64{}, Corpus: o.corpus, Files: o.files, StartedAt: time.Now().UTC(), Machine: machine(), FS: o.fs}
	modes := strings.Split(o.modes, ",")

	for _, mode := range modes {
		ag, err := startAgent(o.kintsugi, mnt, filepath.Join(root, "state-"+mode))
		if err != nil {
			return err
		}
		for i := range o.runs {
			r, err := simRun(o, mnt, mode, i, func() (func() (*alert.Alert, bool), func(), error) {
				// the files were written moments ago: let the agent read
				// their events first, as it would have long before an attack
				ag.settle()
				return func() (*alert.Alert, bool) { return ag.wait(3 * time.Second) }, func() {}, nil
			})
			if err != nil {
				ag.stop()
				return err
			}
			rep.Runs = append(rep.Runs, r)
			fmt.Fprintf(os.Stderr, "kintsugi %-12s run %2d: lost %4d renamed %4d stopped %v latency %.1f ms\n", mode, i, r.Lost, r.Renamed, r.Stopped, r.Latency)
		}
		ag.stop()
		if o.naiveRuns == 0 {
			continue
		}
		for i := range o.naiveRuns {
			// the naive detector starts after the tree is written: it
			// would kill the writer of any tree of compressed media
			r, err := simRun(o, mnt, mode, 1000+i, func() (func() (*alert.Alert, bool), func(), error) {
				nv, err := startNaive(mnt)
				if err != nil {
					return nil, nil, err
				}
				return func() (*alert.Alert, bool) { return nv.wait(3 * time.Second) }, nv.stop, nil
			})
			if err != nil {
				return err
			}
			rep.Naive = append(rep.Naive, r)
			fmt.Fprintf(os.Stderr, "naive    %-12s run %2d: lost %4d renamed %4d stopped %v\n", mode, i, r.Lost, r.Renamed, r.Stopped)
		}
	}
	if err := cpOverhead(o, mnt, root, &rep); err != nil {
		return err
	}
	if err := idleCPU(o, mnt, root, &rep); err != nil {
		return err
	}
	printReport(os.Stdout, modes, &rep)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		return os.WriteFile(o.jsonOut, b, 0o644)
	}
	return nil
}

func machine() string {
	var u unix.Utsname
	unix.Uname(&u)
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("Linux %s, %d CPUs, load %s", unix.ByteSliceToString(u.Release[:]), numCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
}

func numCPU() int {
	var s unix.CPUSet
	unix.SchedGetaffinity(0, &s)
	return s.Count()
}

// simRun prepares a tree, starts the detector (watching returns how to
// wait for its stop and how to end it), runs the simulator and measures.
func simRun(o options, mnt, mode string, i int, watching func() (func() (*alert.Alert, bool), func(), error)) (Result, error) {
	dir := filepath.Join(mnt, fmt.Sprintf("run-%s-%d", mode, i))
	if out, err := exec.Command(o.sim, "prepare", dir, strconv.Itoa(o.files), strconv.Itoa(i+1)).CombinedOutput(); err != nil {
		return Result{}, fmt.Errorf("prepare: %v %s", err, out)
	}
	defer os.RemoveAll(dir)
	waitStop, end, err := watching()
	if err != nil {
		return Result{}, err
	}
	defer end()
	prog := filepath.Join(os.TempDir(), fmt.Sprintf("kw-progress-%d", os.Getpid()))
	os.Remove(prog)
	defer os.Remove(prog)
	cmd := exec.Command(o.sim, "run", dir, mode)
	cmd.Env = append(os.Environ(), ransomsim.ProgressEnv+"="+prog)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	limit := 5 * time.Minute
	select {
	case <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
	}
	al, stopped := waitStop()
	res, err := ransomsim.Check(dir)
	if err != nil {
		return Result{}, err
	}
	r := Result{Mode: mode, Lost: res.Lost, Renamed: res.Renamed, Stopped: stopped && !cmd.ProcessState.Success()}
	first := firstProgress(prog)
	if first.IsZero() {
		first = start
	}
	if al != nil {
		r.Latency = float64(al.Time.Sub(first).Microseconds()) / 1000
	}
	return r, nil
}

func firstProgress(p string) time.Time {
	b, err := os.ReadFile(p)
	if err != nil {
		return time.Time{}
	}
	var first int64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil && (first == 0 || n < first) {
			first = n
		}
	}
	if first == 0 {
		return time.Time{}
	}
	return time.Unix(0, first)
}

// agent is a running kintsugi watch.
type agent struct {
	cmd    *exec.Cmd
	state  string
	alerts chan alert.Alert
	done   chan struct{}
}

// settle waits until the agent has read every queued event and is done
// with them: its event count stays still and it uses at most one clock
// tick of CPU (10 ms) per 100 ms, five polls in a row.
func (a *agent) settle() {
	last, still := int64(-1), 0
	lastCPU, _ := cpuTicks(a.cmd.Process.Pid)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && still < 5; {
		rep, err := watch.Control(context.Background(), a.state, watch.ControlRequest{Op: "status"})
		if err != nil {
			return
		}
		cpu, _ := cpuTicks(a.cmd.Process.Pid)
		if rep.Stats.Events == last && cpu-lastCPU <= 1 {
			still++
		} else {
			still = 0
		}
		last, lastCPU = rep.Stats.Events, cpu
		time.Sleep(100 * time.Millisecond)
	}
}

func startAgent(bin, path, state string) (*agent, error) {
	cmd := exec.Command(bin, "watch", "--path", path, "--state-dir", state, "--no-store", "--format", "jsonl")
	out, _ := cmd.StdoutPipe()
	errp, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &agent{cmd: cmd, state: state, alerts: make(chan alert.Alert, 1024), done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errp)
		var once sync.Once
		for sc.Scan() {
			if strings.Contains(sc.Text(), "kintsugi: watching") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var al alert.Alert
			if json.Unmarshal(sc.Bytes(), &al) == nil && (al.Kind == alert.KindRansomware || al.Kind == alert.KindCanary) {
				a.alerts <- al
			}
		}
	}()
	go func() { cmd.Wait(); close(a.done) }()
	select {
	case <-ready:
		return a, nil
	case <-a.done:
		return nil, fmt.Errorf("kintsugi watch exited at start")
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("kintsugi watch did not start")
	}
}

func (a *agent) wait(d time.Duration) (*alert.Alert, bool) {
	select {
	case al := <-a.alerts:
		// drain alerts of the same stop (resumed trees, second decisions)
		for {
			select {
			case <-a.alerts:
				continue
			case <-time.After(200 * time.Millisecond):
			}
			break
		}
		return &al, true
	case <-time.After(d):
		return nil, false
	}
}

func (a *agent) stop() {
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
}

// cpOverhead times cp -r of the corpus into the watched tmpfs, without
// and with the agent (and with the naive detector, to see whether it
// kills cp).
func cpOverhead(o options, mnt, root string, rep *report) error {
	if o.corpus == "" {
		return errors.New("no corpus for the cp -r measurement: pass -corpus DIR (make-corpus --profile bench)")
	}
	if _, err := os.Stat(o.corpus); err != nil {
		return fmt.Errorf("corpus %s: %w (build it with ../shared/corpus/make-corpus --profile bench)", o.corpus, err)
	}
	dst := filepath.Join(mnt, "cp-dst")
	// the destination is removed before the agent starts: removing it
	// with the agent running would delete the decoys it placed there
	var corpusBytes int64
	filepath.WalkDir(o.corpus, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				corpusBytes += fi.Size()
			}
		}
		return nil
	})
	cp := func() (wall, cpu float64, err error) {
		unix.Sync()
		backFreeMemory(corpusBytes + corpusBytes/4)
		start := time.Now()
		cmd := exec.Command("cp", "-r", o.corpus, dst)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, 0, fmt.Errorf("cp: %v %s", err, out)
		}
		wall = time.Since(start).Seconds()
		return wall, (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds(), nil
	}
	// warm the page cache
	if _, _, err := cp(); err != nil {
		return err
	}
	// Copies into a fresh tmpfs tree vary by a factor of two on a VM
	// whose host reclaims freed guest memory: the same cp took 0.61 to
	// 1.85 s here with no agent at all. Runs therefore come in pairs
	// whose order alternates (without-with, then with-without), so that
	// drift and alternating slow runs fall on both sides alike, and cp's
	// own CPU time is reported beside the wall time.
	var without, with, cpuWithout, cpuWith []float64
	withoutRun := func() error {
		os.RemoveAll(dst)
		t, c, err := cp()
		if err != nil {
			return err
		}
		without, cpuWithout = append(without, t), append(cpuWithout, c)
		return nil
	}
	withRun := func() error {
		os.RemoveAll(dst)
		ag, err := startAgent(o.kintsugi, mnt, filepath.Join(root, "state-cp"))
		if err != nil {
			return err
		}
		// the agent's start (decoys, the accounts' baseline) is not
		// the steady state a copy meets on a watched server
		ag.settle()
		c0, _ := cpuTicks(ag.cmd.Process.Pid)
		t, c, err := cp()
		c1, _ := cpuTicks(ag.cmd.Process.Pid)
		rep.CPUAgent += float64(c1-c0) / 100 / float64(o.cpRuns)
		if al, stopped := ag.wait(500 * time.Millisecond); stopped {
			rep.AgentCP = "stopped: " + al.Summary
		}
		ag.stop()
		if err != nil {
			rep.AgentCP = "cp failed: " + err.Error()
			return nil
		}
		with, cpuWith = append(with, t), append(cpuWith, c)
		return nil
	}
	for i := range o.cpRuns {
		first, second := withoutRun, withRun
		if i%2 == 1 {
			first, second = withRun, withoutRun
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	}
	rep.CPCPU = map[string]float64{"without_agent": median(cpuWithout), "with_agent": median(cpuWith)}
	rep.CP["without_agent"] = median(without)
	rep.CP["with_agent"] = median(with)
	rep.CPRuns = map[string][]float64{"without_agent": without, "with_agent": with}
	var ratios []float64
	for i := range len(with) {
		if len(with) != len(without) {
			break // a copy failed: the pairs no longer line up
		}
		ratios = append(ratios, (with[i]/without[i]-1)*100)
	}
	if len(ratios) > 0 {
		rep.CPPaired = map[string]float64{"median": median(ratios), "q1": quantile(ratios, 0.25), "q3": quantile(ratios, 0.75)}
	}
	os.RemoveAll(dst)
	nv, err := startNaive(mnt)
	if err != nil {
		return err
	}
	_, _, err = cp()
	if al, stopped := nv.wait(500 * time.Millisecond); stopped {
		rep.NaiveCP = "killed cp: " + al.Summary
	} else if err != nil {
		rep.NaiveCP = "cp failed: " + err.Error()
	} else {
		rep.NaiveCP = "never stopped"
	}
	nv.stop()
	os.RemoveAll(dst)
	return nil
}

// idleCPU measures the agent's CPU time while nothing happens on a tree
// holding a copy of the corpus.
func idleCPU(o options, mnt, root string, rep *report) error {
	dst := filepath.Join(mnt, "idle")
	if out, err := exec.Command("cp", "-r", o.corpus, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v %s", err, out)
	}
	defer os.RemoveAll(dst)
	ag, err := startAgent(o.kintsugi, mnt, filepath.Join(root, "state-idle"))
	if err != nil {
		return err
	}
	defer ag.stop()
	time.Sleep(5 * time.Second)
	procs := func() int64 {
		rep, _ := watch.Control(context.Background(), ag.state, watch.ControlRequest{Op: "status"})
		return rep.Stats.Procs
	}
	t0, err := cpuTicks(ag.cmd.Process.Pid)
	if err != nil {
		return err
	}
	p0 := procs()
	time.Sleep(o.idle)
	t1, err := cpuTicks(ag.cmd.Process.Pid)
	if err != nil {
		return err
	}
	rep.IdleCPU = float64(t1-t0) / 100 / o.idle.Seconds() * 100
	rep.IdleProcs = float64(procs()-p0) / o.idle.Seconds()
	return nil
}

// cpuTicks sums the CPU time of pid and its live children (the agent
// runs journalctl when the host has no auth.log).
// backFreeMemory touches and frees n bytes of anonymous memory. On a VM
// whose balloon reports free pages to the host (free page reporting, as
// on this Firecracker guest), guest pages left free for a few seconds
// lose their backing, and the copy that allocates them next pays a host
// fault per page: the same cp -r took 0.65 s or 1.8 s depending on how
// long the memory had lain free. Pages freed just before the copy are
// still backed and are the first the kernel hands out again, so every
// copy, with or without the agent, starts from the same state.
func backFreeMemory(n int64) {
	b, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	unix.Munmap(b)
}

func cpuTicks(pid int) (int64, error) {
	stat := func(p string) (ppid, ticks int64, ok bool) {
		b, err := os.ReadFile("/proc/" + p + "/stat")
		if err != nil {
			return 0, 0, false
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		pp, _ := strconv.ParseInt(f[1], 10, 64)
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		return pp, u + k, true
	}
	_, total, ok := stat(strconv.Itoa(pid))
	if !ok {
		return 0, fmt.Errorf("agent %d is gone", pid)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pp, t, ok := stat(e.Name()); ok && pp == int64(pid) {
			total += t
		}
	}
	return total, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[min(len(s)-1, int(math.Ceil(q*float64(len(s))))-1)]
}

func printReport(w *os.File, modes []string, rep *report) {
	fmt.Fprintf(w, "machine: %s\n\n", rep.Machine)
	fmt.Fprintf(w, "%-13s %5s %8s %12s %9s %15s %13s   %s\n", "MODE", "RUNS", "STOPPED", "LOST median", "LOST max", "LATENCY median", "LATENCY p90", "NAIVE: stopped, lost median / max")
	for _, m := range modes {
		var lost, lat []float64
		stopped, n := 0, 0
		for _, r := range rep.Runs {
			if r.Mode != m {
				continue
			}
			n++
			d := float64(r.Lost + r.Renamed)
			lost = append(lost, d)
			if r.Stopped {
				stopped++
				lat = append(lat, r.Latency)
			}
		}
		var nl []float64
		ns, nn := 0, 0
		for _, r := range rep.Naive {
			if r.Mode == m {
				nn++
				nl = append(nl, float64(r.Lost+r.Renamed))
				if r.Stopped {
					ns++
				}
			}
		}
		naive := "-"
		if nn > 0 {
			naive = fmt.Sprintf("%d/%d, %.0f / %.0f", ns, nn, median(nl), quantile(nl, 1))
		}
		fmt.Fprintf(w, "%-13s %5d %5d/%-2d %12.0f %9.0f %12.1f ms %10.1f ms   %s\n", m, n, stopped, n, median(lost), quantile(lost, 1),
			median(lat), quantile(lat, 0.9), naive)
	}
	fmt.Fprintf(w, "\ncp -r %s into the watched %s: %.2f s without the agent, %.2f s with it (%+.1f%%); agent: %s; naive detector: %s\n",
		rep.Corpus, rep.FS, rep.CP["without_agent"], rep.CP["with_agent"], (rep.CP["with_agent"]/rep.CP["without_agent"]-1)*100, rep.AgentCP, rep.NaiveCP)
	if p := rep.CPPaired; p != nil {
		fmt.Fprintf(w, "paired (each copy with the agent against the copy run next to it without): median %+.1f%%, quartiles %+.1f%% .. %+.1f%%\n", p["median"], p["q1"], p["q3"])
	}
	fmt.Fprintf(w, "cp's own CPU time (user+system, medians): %.2f s without the agent, %.2f s with it (%+.1f%%)\n",
		rep.CPCPU["without_agent"], rep.CPCPU["with_agent"], (rep.CPCPU["with_agent"]/rep.CPCPU["without_agent"]-1)*100)
	fmt.Fprintf(w, "agent CPU during each cp: %.2f s\n", rep.CPUAgent)
	fmt.Fprintf(w, "agent CPU while idle: %.2f%% of one core (the machine ran %.0f process events/s meanwhile, each one an event for the agent)\n", rep.IdleCPU, rep.IdleProcs)
}
