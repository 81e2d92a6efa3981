package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kintsugi-ir/kintsugi/internal/watch/ransomsim"
)

// demoSimFiles is how many files the demo's simulator gets to encrypt.
const demoSimFiles = 300

// newDemoSimulateCommand is the demo's ransomware simulator, run by the
// demo as a child process for the agent to stop. It encrypts only files
// that the simulator wrote itself and that still hash as it wrote them
// (internal/watch/ransomsim); hidden, because it is not a tool.
func newDemoSimulateCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "simulate-ransomware DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return ransomsim.Run(args[0], ransomsim.Options{Mode: "newdelete", Note: true})
		},
	}
}

// demoWatch is the demo's watch act: the agent watches a share of
// simulator files while the simulator encrypts them. It needs root and
// fanotify; without them it says so and the demo goes on.
func demoWatch(ctx context.Context, dg *globals, dir string, step func(int, string, string)) error {
	out := dg.stdout
	share := filepath.Join(dir, "watch", "share")
	state := filepath.Join(dir, "watch", "state")
	step(9, fmt.Sprintf("watch: the agent stops an encryption run within a few files (a harmless simulator that encrypts only the %d files it wrote itself)", demoSimFiles),
		"kintsugi watch --path "+share)
	skip := func(why string) error {
		fmt.Fprintf(out, "skipped: %s\n\n", why)
		return nil
	}
	if os.Geteuid() != 0 {
		return skip("the agent needs root (fanotify); run the demo as root to see this step")
	}
	self, err := os.Executable()
	if err != nil {
		return skip("cannot find the kintsugi binary: " + err.Error())
	}
	if _, err := ransomsim.Prepare(share, demoSimFiles, 1); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	agent := exec.CommandContext(ctx, self, "--case", dg.casePath, "watch", "--path", share, "--state-dir", state, "--format", "text")
	agent.Cancel = func() error { return agent.Process.Signal(syscall.SIGTERM) }
	agent.WaitDelay = 20 * time.Second
	stdout, _ := agent.StdoutPipe()
	stderr, _ := agent.StderrPipe()
	if err := agent.Start(); err != nil {
		return skip("the agent did not start: " + err.Error())
	}
	ready := make(chan struct{})
	var (
		mu      sync.Mutex
		errText []string
		lines   sync.WaitGroup
	)
	lines.Add(2)
	go func() {
		defer lines.Done()
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			errText = append(errText, sc.Text())
			mu.Unlock()
			if strings.Contains(sc.Text(), "kintsugi: watching") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() {
		defer lines.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			fmt.Fprintf(out, "  agent: %s\n", sc.Text())
		}
	}()
	exited := make(chan error, 1)
	go func() { lines.Wait(); exited <- agent.Wait() }()
	select {
	case <-ready:
	case <-exited:
		mu.Lock()
		defer mu.Unlock()
		return skip("the agent could not start here (it needs Linux 5.17 or later with fanotify): " + strings.Join(errText, "; "))
	case <-time.After(30 * time.Second):
		cancel()
		<-exited
		return skip("the agent did not start within 30 seconds")
	}
	fmt.Fprintf(out, "agent watching %s; the simulator starts encrypting (new encrypted copy, original deleted, a note per folder)\n", share)
	sim := exec.CommandContext(ctx, self, "demo", "simulate-ransomware", share)
	simErr := sim.Run()
	time.Sleep(500 * time.Millisecond) // let the agent print its alert
	cancel()
	<-exited
	res, err := ransomsim.Check(share)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	switch {
	case simErr == nil:
		fmt.Fprintf(out, "the simulator was NOT stopped: %d of %d files lost\n\n", res.Lost, res.Total)
	default:
		fmt.Fprintf(out, "the simulator was stopped (%v): %d of %d files lost, %d intact\n\n", simErr, res.Lost, res.Total, res.Intact)
	}
	return nil
}
