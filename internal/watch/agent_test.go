//go:build linux

package watch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/judge"
	"github.com/kintsugi-ir/kintsugi/internal/watch/ransomsim"
	"github.com/kintsugi-ir/kintsugi/internal/watch/watchtest"
)

// The test binary doubles as the ransomware simulator: with
// KINTSUGI_RANSOMSIM set it runs the simulator instead of the tests, so
// that the simulator is a process of its own that the agent (running in
// the test process) can stop.
func TestMain(m *testing.M) {
	if os.Getenv("KINTSUGI_RANSOMSIM") != "" {
		os.Exit(simMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func simMain(args []string) int {
	var err error
	switch {
	case len(args) >= 3 && args[0] == "run":
		err = ransomsim.Run(args[1], ransomsim.Options{Mode: args[2], Note: len(args) > 3 && args[3] == "note", Self: []string{os.Args[0]}})
	case len(args) == 4 && args[0] == "child":
		err = ransomsim.ChildMain(args[1:])
	default:
		err = fmt.Errorf("usage: run DIR MODE [note] | child DIR FROM TO")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ransomsim:", err)
		return 1
	}
	return 0
}

// collector keeps the alerts the agent sends.
type collector struct {
	mu     sync.Mutex
	alerts []*alert.Alert
}

func (c *collector) Send(_ context.Context, a *alert.Alert) error {
	c.mu.Lock()
	c.alerts = append(c.alerts, a)
	c.mu.Unlock()
	return nil
}

func (c *collector) of(kinds ...string) []*alert.Alert {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*alert.Alert
	for _, a := range c.alerts {
		for _, k := range kinds {
			if a.Kind == k {
				out = append(out, a)
			}
		}
	}
	return out
}

// await returns the alerts of kinds once there is one, waiting up to d:
// the agent stops a tree before it sends the alert, so a test that sees
// its simulator killed may look before the alert is in.
func (c *collector) await(d time.Duration, kinds ...string) []*alert.Alert {
	var out []*alert.Alert
	waitUntil(d, func() bool {
		out = c.of(kinds...)
		return len(out) > 0
	})
	return out
}

// waitUntil checks cond every 10 ms until it holds or d has passed.
func waitUntil(d time.Duration, cond func() bool) {
	deadline := time.Now().Add(d)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

type running struct {
	agent *Agent
	col   *collector
	stop  func()
}

// settle waits until the agent has read no event for longer than its
// one-second tick, so that all it read was handled and its pending
// decisions flushed: a test that then finds no stop alert may say that
// nothing was stopped.
func (r *running) settle() {
	last := r.agent.Stats().Events.Load()
	for range 30 {
		time.Sleep(1200 * time.Millisecond)
		n := r.agent.Stats().Events.Load()
		if n == last {
			return
		}
		last = n
	}
}

// startAgent runs an agent in this process on cfg until the test ends.
func startAgent(t *testing.T, cfg *Config) *running {
	t.Helper()
	return startAgentOpts(t, cfg, nil)
}

// startAgentOpts is startAgent with another content judge.
func startAgentOpts(t *testing.T, cfg *Config, j judge.Judge) *running {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	no := false
	if cfg.Accounts.Enabled == nil {
		cfg.Accounts.Enabled = &no
	}
	col := &collector{}
	ready := make(chan struct{})
	a, err := New(cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Send: col, Judge: j, Ready: func() { close(ready) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("agent: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &running{agent: a, col: col, stop: stop}
}

// simulate runs the simulator on dir and waits for it to end (finished or
// stopped), at most limit.
func simulate(t *testing.T, dir, mode string, note bool, limit time.Duration) (*os.ProcessState, time.Duration) {
	t.Helper()
	args := []string{"run", dir, mode}
	if note {
		args = append(args, "note")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KINTSUGI_RANSOMSIM=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("simulator %s still running after %s: not stopped", mode, limit)
	}
	return cmd.ProcessState, time.Since(start)
}

// TestSimulatorModes: every mode of the simulator is stopped; the files
// lost before the stop are logged (the benchmark measures them over many
// runs).
func TestSimulatorModes(t *testing.T) {
	for _, mode := range ransomsim.Modes {
		t.Run(mode, func(t *testing.T) {
			dir := watchtest.Tmpfs(t, 256)
			n := 300
			if mode == "slow" {
				n = 40
			}
			if _, err := ransomsim.Prepare(dir, n, 42); err != nil {
				t.Fatal(err)
			}
			r := startAgent(t, &Config{Paths: []string{dir}})
			st, took := simulate(t, dir, mode, false, 60*time.Second)
			res, err := ransomsim.Check(dir)
			if err != nil {
				t.Fatal(err)
			}
			stopped := r.col.await(5*time.Second, alert.KindRansomware, alert.KindCanary)
			if len(stopped) == 0 {
				t.Fatalf("no stop alert; simulator exit %v after %s, tree %+v", st, took, res)
			}
			if st.Success() {
				t.Fatalf("simulator finished (%+v): not stopped", res)
			}
			damaged := res.Lost + res.Renamed
			if damaged >= n/2 {
				t.Errorf("%d of %d files damaged before the stop", damaged, n)
			}
			a := stopped[0]
			if !a.Action.Stopped || !a.Action.Killed || len(a.Tree) == 0 || a.Tree[0].ExeSHA256 == "" || len(a.Files) == 0 || len(a.Evidence) == 0 {
				t.Errorf("alert lacks its parts: %+v", a)
			}
			t.Logf("%-12s lost %d, renamed %d of %d before the stop (%s); %s", mode, res.Lost, res.Renamed, n, took.Round(time.Millisecond), a.Summary)
			for _, x := range stopped[1:] {
				t.Logf("  and: %s", x.Summary)
			}
			t.Logf("  first evidence %v, stop %v", a.Evidence[0].Time.Format("15:04:05.000000"), a.Time.Format("15:04:05.000000"))
		})
	}
}

// TestNotesWritten: notes that another process writes into a watched tree
// raise a note alert, whether a text file (of more than the head that is
// matched) or an executable that carries the note's text past that head
// (as encryptors do); an ordinary document does not, and
// nothing is stopped for a note alone.
func TestNotesWritten(t *testing.T) {
	note := "All your files have been encrypted!\n" +
		"To get the decryption key, contact us: open our chat in Tor Browser at\n" +
		"abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion\n" +
		"Your personal ID: 8F3A-11\n" +
		"Do not rename the files. Within 72 hours your data will be published on our leak site.\n"
	src := t.TempDir()
	files := map[string]string{
		"README_RESTORE.txt": note,
		// an HTML note whose page goes on past the head that is matched
		"RESTORE.html": "<html><body><pre>" + note + "</pre>" + strings.Repeat("<p>&nbsp;</p>\n", 8000) + "</body></html>",
		// an ELF encryptor, its note text among its data, past the head
		// that is matched of a text file
		"encryptor":   "\x7fELF\x02\x01\x01\x00" + strings.Repeat("\x00", 120) + strings.Repeat("\x90", 100_000) + note + strings.Repeat("\x90", 4000),
		"minutes.txt": strings.Repeat("Meeting notes: back up the encrypted drive before Friday and contact us if the backup fails.\n", 200),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := watchtest.Tmpfs(t, 16)
	r := startAgent(t, &Config{Paths: []string{dir}})
	if out, err := exec.Command("cp", "-r", src, filepath.Join(dir, "drop")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	// the files named in note alerts
	noted := func() map[string]bool {
		m := map[string]bool{}
		for _, a := range r.col.of(alert.KindNote) {
			for _, e := range a.Evidence {
				m[filepath.Base(e.Path)] = true
			}
		}
		return m
	}
	waitUntil(5*time.Second, func() bool {
		m := noted()
		return m["README_RESTORE.txt"] && m["RESTORE.html"] && m["encryptor"]
	})
	m := noted()
	for _, name := range []string{"README_RESTORE.txt", "RESTORE.html", "encryptor"} {
		if !m[name] {
			t.Errorf("no note alert for %s", name)
		}
	}
	if m["minutes.txt"] {
		t.Error("ordinary document minutes.txt called a note")
	}
	r.settle()
	if s := r.col.of(alert.KindRansomware, alert.KindCanary); len(s) > 0 {
		t.Errorf("a copy of a note stopped its writer: %s", s[0].Summary)
	}
}

// TestQuietWhileWritten: a file modified while its writer still has it
// open is not reported on every further write (the kernel ignores
// its modifications until it is closed), and after the close a new
// writer's modifications are reported again.
func TestQuietWhileWritten(t *testing.T) {
	dir := watchtest.Tmpfs(t, 16)
	r := startAgent(t, &Config{Paths: []string{dir}})
	events := r.agent.Stats().Events.Load
	target := filepath.Join(dir, "growing.log")
	chunk := strings.Repeat("a line of an ordinary log\n", 100)

	// cat writes what the test hands it; the agent is a goroutine of the
	// test process and ignores the test's own writes
	writer := func(flag string) (io.WriteCloser, *exec.Cmd) {
		cmd := exec.Command("sh", "-c", "exec cat "+flag+" "+target)
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return in, cmd
	}
	// write one chunk and wait until the agent has read an event for it
	reported := func(in io.Writer) bool {
		before := events()
		if _, err := io.WriteString(in, chunk); err != nil {
			t.Fatal(err)
		}
		waitUntil(5*time.Second, func() bool { return events() > before })
		return events() > before
	}

	in, cmd := writer(">")
	if !reported(in) {
		t.Fatal("modification of a new file not reported")
	}
	// the agent read a modification of a file still open: the writes that
	// follow are ignored in the kernel
	before := events()
	for range 30 {
		if _, err := io.WriteString(in, chunk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.settle()
	if n := events() - before; n > 2 {
		t.Errorf("%d events for 30 further writes of an open file: its modifications were not ignored", n)
	}
	before = events()
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	waitUntil(5*time.Second, func() bool { return events() > before })
	if events() == before {
		t.Fatal("closing the file not reported")
	}
	r.settle()

	// a new writer of the closed file is seen again
	in, cmd = writer(">>")
	defer cmd.Wait()
	defer in.Close()
	if !reported(in) {
		t.Error("a modification after the close not reported: the file stayed ignored")
	}
}
