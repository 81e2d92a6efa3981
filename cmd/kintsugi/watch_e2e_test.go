//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/casestore/sqlite"
	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/ransomsim"
	"github.com/kintsugi-ir/kintsugi/internal/watch/watchtest"
)

// simBinary builds the ransomware simulator once per test binary.
var simBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kintsugi-ransomsim-")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "ransomsim")
	if out, err := exec.Command("go", "build", "-o", p, "../../bench/watch/ransomsim").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build ransomsim: %v\n%s", err, out)
	}
	return p, nil
})

func sim(t *testing.T) string {
	t.Helper()
	p, err := simBinary()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// agentProc is a running 'kintsugi watch'.
type agentProc struct {
	cmd    *exec.Cmd
	alerts chan alert.Alert
	stderr *strings.Builder
	mu     *sync.Mutex
	done   chan struct{}
}

// startWatch runs the binary with args (prefixed by prefix, e.g. ip netns
// exec) and waits until it watches.
func startWatch(t *testing.T, prefix []string, env []string, args ...string) *agentProc {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), binary, "watch", "--format", "jsonl"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out, _ := cmd.StdoutPipe()
	errp, _ := cmd.StderrPipe()
	a := &agentProc{cmd: cmd, alerts: make(chan alert.Alert, 256), stderr: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errp)
		once := sync.Once{}
		for sc.Scan() {
			a.mu.Lock()
			a.stderr.WriteString(sc.Text() + "\n")
			a.mu.Unlock()
			if strings.Contains(sc.Text(), "kintsugi: watching") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() {
		defer close(a.alerts)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var al alert.Alert
			if err := json.Unmarshal(sc.Bytes(), &al); err != nil {
				t.Errorf("alert line %q: %v", sc.Text(), err)
				continue
			}
			a.alerts <- al
		}
	}()
	go func() { cmd.Wait(); close(a.done) }()
	t.Cleanup(func() { a.stop(t) })
	select {
	case <-ready:
	case <-a.done:
		t.Fatalf("watch exited at start: %s", a.errText())
	case <-time.After(30 * time.Second):
		t.Fatalf("watch did not start: %s", a.errText())
	}
	return a
}

func (a *agentProc) errText() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stderr.String()
}

// stop sends SIGTERM and returns the exit status.
func (a *agentProc) stop(t *testing.T) int {
	select {
	case <-a.done:
	default:
		a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(20 * time.Second):
			a.cmd.Process.Kill()
			<-a.done
			t.Errorf("watch did not stop on SIGTERM")
		}
	}
	return a.cmd.ProcessState.ExitCode()
}

// next waits for an alert of one of kinds.
func (a *agentProc) next(t *testing.T, limit time.Duration, kinds ...string) alert.Alert {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case al, ok := <-a.alerts:
			if !ok {
				t.Fatalf("watch ended before a %v alert: %s", kinds, a.errText())
			}
			for _, k := range kinds {
				if al.Kind == k {
					return al
				}
			}
		case <-deadline:
			t.Fatalf("no %v alert within %s", kinds, limit)
		}
	}
}

func TestWatchCommandErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "watch.yaml")
	os.WriteFile(cfg, []byte("paths: ["+dir+"]\n"), 0o644)
	os.Chmod(cfg, 0o666)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("paths: ["+dir+"]\nrespone: {action: kill}\n"), 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"watch"}, "nothing to watch"},
		{[]string{"watch", "--config", cfg}, "world-writable"},
		{[]string{"watch", "--config", bad}, "respone"},
		{[]string{"watch", "--path", dir, "--format", "xml"}, "--format"},
		{[]string{"watch", "--path", dir, "--action", "pause"}, "kill or hold"},
		{[]string{"watch", "--path", "/no/such/dir"}, "/no/such/dir"},
		{[]string{"watch", "isolate", "--state-dir", dir}, "no management endpoint"},
		{[]string{"watch", "isolate", "--state-dir", dir, "--management", "bad:addr:x"}, "management endpoint"},
		{[]string{"watch", "resume", "x"}, "not a process id"},
	}
	for _, tc := range tests {
		r := kintsugi(t, caseEnv(t), tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "kintsugi: ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
		if tc.want == "world-writable" && !strings.Contains(r.stderr, "hint: ") {
			t.Errorf("%v: no hint", tc.args)
		}
	}
	if r := kintsugi(t, nil, "watch", "--help"); r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "Exit status") {
		t.Errorf("watch --help: %+v", r)
	}
}

// TestWatchStopsRansomware: the built binary stops the simulator, kills
// it, writes the alert to stdout, the journal and the case store, and
// exits 1 on SIGTERM because it raised an alert.
func TestWatchStopsRansomware(t *testing.T) {
	dir := watchtest.Tmpfs(t, 256)
	share := filepath.Join(dir, "share")
	if out, err := exec.Command(sim(t), "prepare", share, "400", "5").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	state := t.TempDir()
	casePath := filepath.Join(t.TempDir(), "case.db")
	a := startWatch(t, nil, []string{"KINTSUGI_CASE=" + casePath}, "--path", dir, "--state-dir", state)
	if al := a.next(t, 5*time.Second, alert.KindAgent); al.Rule != "agent-started" {
		t.Fatalf("first alert %+v", al)
	}
	run := exec.Command(sim(t), "run", share, "newdelete", "note")
	err := run.Run()
	if err == nil {
		t.Fatal("the simulator finished: not stopped")
	}
	al := a.next(t, 10*time.Second, alert.KindRansomware)
	res, _ := ransomsim.Check(share)
	t.Logf("newdelete via the binary: %d of %d lost; %s", res.Lost, res.Total, al.Summary)
	if !al.Action.Stopped || !al.Action.Killed || al.Tree[0].Pid != int32(run.Process.Pid) || al.Tree[0].ExeSHA256 == "" ||
		len(al.Files) == 0 || len(al.Evidence) == 0 || al.Severity != "critical" || al.Host == "" {
		t.Errorf("alert %+v", al)
	}
	if res.Lost > res.Total/2 {
		t.Errorf("%d of %d lost", res.Lost, res.Total)
	}
	if code := a.stop(t); code != 1 {
		t.Errorf("exit %d after an alert, want 1; stderr %s", code, a.errText())
	}
	b, err := os.ReadFile(filepath.Join(state, "alerts.jsonl"))
	if err != nil || !strings.Contains(string(b), al.ID) {
		t.Errorf("journal lacks %s: %v", al.ID, err)
	}
	s, err := sqlite.Open(context.Background(), casePath)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stored []casestore.WatchAlert
	s.WatchAlerts(context.Background(), 0, func(w casestore.WatchAlert) error {
		stored = append(stored, w)
		return nil
	})
	found := false
	for _, w := range stored {
		found = found || w.ID == al.ID && w.Kind == "ransomware"
	}
	if !found {
		t.Errorf("case store holds %d alerts, not %s", len(stored), al.ID)
	}
	// the decoys are gone with the agent
	if _, err := os.Stat(filepath.Join(dir, "0000_Invoice_List_2024.xlsx")); err == nil {
		t.Error("decoy left behind after the agent stopped")
	}
}

// TestWatchHoldAndDeny: with --action hold the tree stays stopped; when
// someone resumes it, its opens are refused and it is stopped again;
// the operator kills it with 'kintsugi watch kill'.
func TestWatchHoldAndDeny(t *testing.T) {
	dir := watchtest.Tmpfs(t, 256)
	share := filepath.Join(dir, "share")
	exec.Command(sim(t), "prepare", share, "300", "6").Run()
	state := t.TempDir()
	a := startWatch(t, nil, caseEnv(t), "--path", dir, "--state-dir", state, "--action", "hold", "--no-store")
	run := exec.Command(sim(t), "run", share, "fast")
	var simErr strings.Builder
	run.Stderr = &simErr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	simDone := make(chan struct{})
	go func() { run.Wait(); close(simDone) }()
	al := a.next(t, 10*time.Second, alert.KindRansomware)
	if !al.Action.Held || al.Action.Killed || !al.Action.DeniedOpens {
		t.Fatalf("action %+v", al.Action)
	}
	before, _ := ransomsim.Check(share)
	// a file the tree had already opened when it was stopped cannot be
	// taken back from it: fanotify refuses opens, not writes on an open
	// descriptor, so the resumed tree may finish those and no more
	inFlight := openUnder(t, run.Process.Pid, share)
	st := kintsugi(t, nil, "watch", "status", "--state-dir", state)
	if st.code != 0 || !strings.Contains(st.stdout, fmt.Sprintf("held: tree %d", run.Process.Pid)) {
		t.Fatalf("status: %+v", st)
	}
	// someone else lets it run again: its next open is refused, and the
	// agent stops it again (or it gives up on the refusal)
	syscall.Kill(run.Process.Pid, syscall.SIGCONT)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r := kintsugi(t, nil, "watch", "status", "--state-dir", state)
		if !strings.Contains(r.stdout, " 0 opens denied") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	st = kintsugi(t, nil, "watch", "status", "--state-dir", state)
	if strings.Contains(st.stdout, " 0 opens denied") {
		t.Errorf("no open denied after the resume: %s", st.stdout)
	}
	after, _ := ransomsim.Check(share)
	if after.Lost > before.Lost+inFlight {
		t.Errorf("resumed tree went on: %d lost before, %d after, %d files open when it was stopped", before.Lost, after.Lost, inFlight)
	}
	select {
	case <-simDone:
		// every open refused: the simulator gave up (it skips what it
		// cannot read as not its own) with nothing more encrypted
	default:
		if r := kintsugi(t, nil, "watch", "kill", "--state-dir", state, fmt.Sprint(run.Process.Pid)); r.code != 0 {
			t.Fatalf("watch kill: %+v", r)
		}
		select {
		case <-simDone:
		case <-time.After(5 * time.Second):
			t.Fatal("held tree still alive after watch kill")
		}
	}
	t.Logf("held tree: %d lost (%d open when stopped); simulator said %q", after.Lost, inFlight, strings.TrimSpace(simErr.String()))
}

// openUnder counts the descriptors of process pid open on files under dir.
func openUnder(t *testing.T, pid int, dir string) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("descriptors of %d: %v", pid, err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

// TestWatchCanary: any process writing a decoy is stopped on its own.
func TestWatchCanary(t *testing.T) {
	dir := watchtest.Tmpfs(t, 64)
	os.MkdirAll(filepath.Join(dir, "projects"), 0o755)
	a := startWatch(t, nil, caseEnv(t), "--path", dir, "--state-dir", t.TempDir(), "--no-store")
	canary := filepath.Join(dir, "projects", "0000_Invoice_List_2024.xlsx")
	if _, err := os.Stat(canary); err != nil {
		t.Fatalf("decoy not placed: %v", err)
	}
	sh := exec.Command("sh", "-c", "echo scrambled >> "+canary+"; sleep 30")
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	al := a.next(t, 10*time.Second, alert.KindCanary)
	if al.Rule != "canary-touched" || !al.Action.Killed || al.Tree[0].Pid != int32(sh.Process.Pid) {
		t.Errorf("canary alert %+v", al)
	}
	done := make(chan error, 1)
	go func() { done <- sh.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		sh.Process.Kill()
		t.Fatal("the shell that wrote a decoy still runs")
	}
	a.stop(t)
	// a decoy that was changed stays for inspection
	if _, err := os.Stat(canary); err != nil {
		t.Error("the touched decoy was removed")
	}
}

// TestWatchIsolation: inside a network namespace with a veth pair, the
// binary's isolate keeps the management port answering and drops
// everything else; the isolation survives the agent (and a lost table, as
// after a reboot, is installed again by the next agent start); release
// restores traffic.
func TestWatchIsolation(t *testing.T) {
	p := watchtest.NewNetPair(t)
	watchtest.Listen(t, p.Host, p.HostAddr+":2222")
	watchtest.Listen(t, p.Host, p.HostAddr+":8080")
	watchtest.Listen(t, p.Peer, p.PeerAddr+":9000")
	state := t.TempDir()
	in := p.Exec(p.Host)
	run := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(in[0], append(append(in[1:], binary), args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{out.String(), errb.String(), code}
	}
	isolated := func() bool {
		return watchtest.Reach(t, p.Peer, p.HostAddr+":2222") && !watchtest.Reach(t, p.Peer, p.HostAddr+":8080") &&
			!watchtest.Reach(t, p.Host, p.PeerAddr+":9000")
	}
	if r := run("watch", "isolate", "--state-dir", state, "--management", p.PeerAddr+":2222"); r.code != 0 || !strings.Contains(r.stdout, "isolated") {
		t.Fatalf("isolate: %+v", r)
	}
	if !isolated() {
		t.Fatal("not isolated: management must answer, the rest must be dropped")
	}
	if r := run("watch", "status", "--state-dir", state); !strings.Contains(r.stdout, "isolated since") {
		t.Errorf("status: %+v", r)
	}
	// a reboot loses the table; the agent's next start installs it again
	exec.Command(in[0], append(in[1:], "nft", "delete", "table", "inet", "kintsugi_isolation")...).Run()
	if !watchtest.Reach(t, p.Peer, p.HostAddr+":8080") {
		t.Fatal("table deletion did not lift the isolation")
	}
	dir := watchtest.Tmpfs(t, 16)
	a := startWatch(t, in, caseEnv(t), "--path", dir, "--state-dir", state, "--no-store")
	if !isolated() {
		t.Error("the agent did not restore the isolation")
	}
	a.stop(t)
	if !isolated() {
		t.Error("isolation lifted when the agent stopped")
	}
	if r := run("watch", "release", "--state-dir", state); r.code != 0 {
		t.Fatalf("release: %+v", r)
	}
	if !watchtest.Reach(t, p.Peer, p.HostAddr+":8080") || !watchtest.Reach(t, p.Host, p.PeerAddr+":9000") {
		t.Error("release did not restore traffic")
	}
	if r := run("watch", "status", "--state-dir", state); !strings.Contains(r.stdout, "not isolated") {
		t.Errorf("status after release: %+v", r)
	}
}

// TestWatchBlocksBruteForce: with accounts.block on, the agent blocks
// the source of a brute-force success in nftables (inside a namespace).
func TestWatchBlocksBruteForce(t *testing.T) {
	p := watchtest.NewNetPair(t)
	watchtest.Listen(t, p.Host, p.HostAddr+":2222")
	dir := watchtest.Tmpfs(t, 16)
	logs := t.TempDir()
	authLog := filepath.Join(logs, "auth.log")
	os.WriteFile(authLog, nil, 0o640)
	cfg := filepath.Join(logs, "watch.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`paths: [%s]
state_dir: %s
accounts:
  logs: [%s]
  journal: "no"
  keys: [%s]
  block: true
  block_for: 10m
`, dir, filepath.Join(logs, "state"), authLog, filepath.Join(logs, "none"))), 0o600)
	a := startWatch(t, p.Exec(p.Host), caseEnv(t), "--config", cfg, "--no-store")
	time.Sleep(700 * time.Millisecond)
	now := time.Now()
	f, _ := os.OpenFile(authLog, os.O_APPEND|os.O_WRONLY, 0)
	for i := range 6 {
		fmt.Fprintf(f, "%s fs01 sshd[20]: Failed password for root from %s port 4000 ssh2\n", now.Add(time.Duration(i)*time.Second).Format(time.Stamp), p.PeerAddr)
	}
	fmt.Fprintf(f, "%s fs01 sshd[21]: Accepted password for root from %s port 4001 ssh2\n", now.Add(8*time.Second).Format(time.Stamp), p.PeerAddr)
	f.Close()
	al := a.next(t, 10*time.Second, alert.KindAccount)
	for al.Rule != "brute-force-success" {
		al = a.next(t, 10*time.Second, alert.KindAccount)
	}
	if al.Action == nil || al.Action.Blocked != p.PeerAddr {
		t.Fatalf("brute-force alert action %+v", al.Action)
	}
	if watchtest.Reach(t, p.Peer, p.HostAddr+":2222") {
		t.Error("the brute-forcing address still connects")
	}
	a.stop(t)
}

// TestWatchIsolatesOnRansomware: with response.isolate, stopping a tree
// also isolates the host (inside a network namespace); release undoes it.
func TestWatchIsolatesOnRansomware(t *testing.T) {
	p := watchtest.NewNetPair(t)
	watchtest.Listen(t, p.Host, p.HostAddr+":2222")
	watchtest.Listen(t, p.Host, p.HostAddr+":8080")
	dir := watchtest.Tmpfs(t, 128)
	share := filepath.Join(dir, "share")
	exec.Command(sim(t), "prepare", share, "200", "9").Run()
	conf := t.TempDir()
	state := filepath.Join(conf, "state")
	cfg := filepath.Join(conf, "watch.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("paths: [%s]\nstate_dir: %s\nresponse: {isolate: true}\nisolation: {management: [\"%s:2222\"]}\naccounts: {enabled: false}\n",
		dir, state, p.PeerAddr)), 0o600)
	a := startWatch(t, p.Exec(p.Host), caseEnv(t), "--config", cfg, "--no-store")
	if !watchtest.Reach(t, p.Peer, p.HostAddr+":8080") {
		t.Fatal("isolated before anything happened")
	}
	exec.Command(sim(t), "run", share, "inplace").Run()
	al := a.next(t, 10*time.Second, alert.KindRansomware)
	if !al.Action.Isolated {
		t.Fatalf("action %+v", al.Action)
	}
	if !watchtest.Reach(t, p.Peer, p.HostAddr+":2222") || watchtest.Reach(t, p.Peer, p.HostAddr+":8080") {
		t.Error("not isolated after the stop, or management cut off")
	}
	a.stop(t)
	in := p.Exec(p.Host)
	if out, err := exec.Command(in[0], append(in[1:], binary, "watch", "release", "--config", cfg)...).CombinedOutput(); err != nil {
		t.Fatalf("release: %v %s", err, out)
	}
	if !watchtest.Reach(t, p.Peer, p.HostAddr+":8080") {
		t.Error("release did not restore traffic")
	}
}
