//go:build linux

package watch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
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

type running struct {
	agent *Agent
	col   *collector
	stop  func()
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
			stopped := r.col.of(alert.KindRansomware, alert.KindCanary)
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
