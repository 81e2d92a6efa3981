// Command kintsugi gets a company through a ransomware attack: it screens
// files (scan), reads logs into per-server verdicts (hunt), moves screened
// data with proof (migrate), watches servers (watch) and keeps every result
// in one case store.
//
// This package is wiring only: each command lives in its own file as
// newXCommand(g) plus runX(ctx, ...), and all exit codes are decided in
// exit.go.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
)

// globals carries what every command shares. It is built once in main and
// passed explicitly; there are no package-level flag variables.
type globals struct {
	stdout  io.Writer
	stderr  io.Writer
	stdin   io.Reader
	getenv  func(string) string
	log     *slog.Logger
	logFile string

	casePath string
	verbose  bool
	quiet    bool
}

func main() {
	g := &globals{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, getenv: os.Getenv}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// KINTSUGI_CPUPROFILE=FILE writes a CPU profile, for developers.
	if p := os.Getenv("KINTSUGI_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	err := newRootCommand(g).ExecuteContext(ctx)
	pprof.StopCPUProfile()
	stop()
	os.Exit(exitCode(g, err))
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "kintsugi",
		Short: "Recover from a ransomware attack: screen, hunt, migrate, watch",
		Long: `kintsugi gets a company through a ransomware attack. It finds out what the
attacker touched, screens every file before it moves to clean infrastructure,
moves it with proof, watches for the next attack, and keeps every result in one
case store (kintsugi.db in the working directory, or --case / KINTSUGI_CASE).`,
		Example: `  kintsugi demo                                  # see the whole pipeline on a harmless sample
  kintsugi scan --host fs01 /mnt/fs01            # screen a server's share
  kintsugi scan --quick /mnt/fs01                # minutes-long damage triage (not a screening verdict)
  kintsugi hunt --sigma ./sigma/rules ./logs/    # logs to per-server verdicts and a timeline
  kintsugi hosts                                 # per-server verdicts so far
  kintsugi migrate --sign-key m.key /mnt/fs01 s3://recovery/fs01
  kintsugi watch --path /srv/share               # the agent (root)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup()
		},
	}
	root.PersistentFlags().StringVar(&g.casePath, "case", "", "case store `PATH` (default $KINTSUGI_CASE, else ./kintsugi.db)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log more detail to stderr")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "print only errors and results")
	root.PersistentFlags().StringVar(&g.logFile, "log-file", "", "also write a JSON log to `FILE`")
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		newVersionCommand(g),
		newScanCommand(g),
		newHuntCommand(g),
		newHostsCommand(g),
		newRulesCommand(g),
		newDemoCommand(g),
		newMigrateCommand(g),
		newManifestCommand(g),
		newKeyCommand(g),
		newWatchCommand(g),
	)
	return root
}

// setup resolves the case path and the logger once flags are parsed.
func (g *globals) setup() error {
	if g.casePath == "" {
		g.casePath = g.getenv("KINTSUGI_CASE")
	}
	if g.casePath == "" {
		g.casePath = "kintsugi.db"
	}
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	if g.quiet {
		level = slog.LevelError
	}
	var h slog.Handler = slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level})
	if g.logFile != "" {
		f, err := os.OpenFile(g.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("log file: %w", err)
		}
		h = teeHandler{h, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})}
	}
	g.log = slog.New(h)
	return nil
}

// teeHandler sends each record to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	if t.a.Enabled(ctx, r.Level) {
		errs = append(errs, t.a.Handle(ctx, r.Clone()))
	}
	if t.b.Enabled(ctx, r.Level) {
		errs = append(errs, t.b.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t.a.WithGroup(name), t.b.WithGroup(name)}
}
