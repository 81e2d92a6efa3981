package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/watch"
	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/judge"
	"github.com/kintsugi-ir/kintsugi/internal/watch/nft"
)

type watchOptions struct {
	config     string
	paths      []string
	stateDir   string
	action     string
	management []string
	format     string
	noStore    bool
}

func newWatchCommand(g *globals) *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch [--path DIR]... [--config FILE]",
		Short: "Guard a Linux server: stop ransomware, catch a stolen admin account, isolate on demand",
		Long: `watch is kintsugi's agent for Linux servers. It runs in the foreground (use the
systemd unit in contrib/systemd for 24/7 operation) and:

  - follows every file write, rename and delete on the watched trees (fanotify),
    scores each process tree for ransomware behaviour - settled files rewritten
    into random bytes their format forbids, originals deleted after encrypted
    copies, renames to a new extension, ransom notes - and stops a tree that
    crosses the threshold at once (SIGSTOP), then kills it or holds it for you,
    refusing its further opens meanwhile; copy, sync, archive and compression
    jobs (cp, rsync, rclone, tar, gzip, 7z) earn nothing, because they write
    valid formats and never destroy what they read;
  - places decoy files in the watched trees: touching one is an alert;
  - follows auth.log, secure or the journal for a failed-logon burst followed by
    a success, a privileged logon from a source never seen for the account, an
    administrator logon outside working hours, and new authorized_keys and
    sudoers entries (optionally blocking the source with nftables);
  - isolates the host on demand (watch isolate) or on confirmed ransomware.

Alerts go to a JSONL journal in the state directory, to standard output, to the
case store, and as configured to syslog and a webhook. --path gives the quick
start with built-in defaults; everything else is set in --config (see
docs/watch.md). watch needs root and refuses a world-writable configuration or
binary.

Exit status: 0 when stopped with no alert raised, 1 when alerts were raised,
2 on an error.`,
		Example: `  kintsugi watch --path /srv/share                # quick start, defaults
  kintsugi watch --config /etc/kintsugi/watch.yaml
  kintsugi watch isolate --management 10.0.0.5:22 # drop all but the SOC's SSH
  kintsugi watch release                          # undo the isolation
  kintsugi watch status                           # held trees, isolation, counters`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWatch(cmd.Context(), g, o)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.config, "config", "", "configuration `FILE` (YAML; see docs/watch.md)")
	pf.StringVar(&o.stateDir, "state-dir", "", "state `DIR`: journal, isolation state, control socket (default "+watch.DefaultStateDir+")")
	pf.StringArrayVar(&o.management, "management", nil, "management `ADDR[:PORT]` kept reachable when isolating (repeatable)")
	f := cmd.Flags()
	f.StringArrayVar(&o.paths, "path", nil, "watch the tree at `DIR` (repeatable; adds to the configuration's paths)")
	f.StringVar(&o.action, "action", "", "what to do with a stopped tree: kill or hold (default kill)")
	f.StringVar(&o.format, "format", "text", "alert output `FORMAT` on stdout: text or jsonl")
	f.BoolVar(&o.noStore, "no-store", false, "do not store alerts in the case store")
	cmd.AddCommand(
		newWatchIsolateCommand(g, &o),
		newWatchReleaseCommand(g, &o),
		newWatchStatusCommand(g, &o),
		newWatchTreeCommand(g, &o, "resume", "Resume a held process tree (a false alarm)"),
		newWatchTreeCommand(g, &o, "kill", "Kill a held process tree"),
	)
	return cmd
}

// loadWatchConfig reads --config (refusing one anyone may change) and
// applies the command line over it.
func loadWatchConfig(o *watchOptions, needPaths bool) (*watch.Config, error) {
	cfg := &watch.Config{}
	if o.config != "" {
		if err := watch.WorldWritable(o.config); err != nil {
			return nil, withHint(fmt.Errorf("refusing the configuration: %w", err),
				"anyone on this host could change what the agent does: chmod o-w the file and its folders")
		}
		c, err := watch.LoadConfig(o.config)
		if err != nil {
			return nil, withHint(err, "docs/watch.md lists every setting")
		}
		cfg = c
	}
	cfg.Paths = append(cfg.Paths, o.paths...)
	if o.stateDir != "" {
		cfg.StateDir = o.stateDir
	}
	if o.action != "" {
		cfg.Response.Action = o.action
	}
	cfg.Isolation.Management = append(cfg.Isolation.Management, o.management...)
	if needPaths && len(cfg.Paths) == 0 {
		return nil, usageError{errors.New("nothing to watch: give --path DIR or a --config with paths")}
	}
	if !needPaths {
		// isolate, release, status: paths do not matter
		if len(cfg.Paths) == 0 {
			cfg.Paths = []string{"/"}
		}
	}
	if err := cfg.Normalize(); err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

func runWatch(ctx context.Context, g *globals, o watchOptions) error {
	if o.format != "text" && o.format != "jsonl" {
		return usageError{fmt.Errorf("--format %q: want text or jsonl", o.format)}
	}
	exe, err := os.Executable()
	if err == nil {
		err = watch.WorldWritable(exe)
	}
	if err != nil {
		return withHint(fmt.Errorf("refusing to run: %w", err), "anyone could replace the agent: install kintsugi root-owned and not world-writable (see the README)")
	}
	cfg, err := loadWatchConfig(&o, true)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return withHint(errors.New("watch needs root"), "fanotify, pidfd signals and nftables are privileged: run it as root or through the systemd unit")
	}
	journal, err := alert.OpenJournal(cfg.Journal)
	if err != nil {
		return withHint(err, "choose another state directory with --state-dir or state_dir")
	}
	var raised atomic.Int64
	sinks := []alert.Sink{alert.FuncSink{SinkName: "stdout", Fn: func(_ context.Context, a *alert.Alert) error {
		if a.Kind != alert.KindAgent {
			raised.Add(1)
		}
		if o.format == "jsonl" {
			b, err := json.Marshal(a)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s\n", b)
			return err
		}
		_, err := fmt.Fprintln(g.stdout, alert.Line(a))
		return err
	}}}
	if cfg.Alerts.Syslog {
		s, err := alert.OpenSyslog()
		if err != nil {
			return withHint(err, "is a syslog daemon listening on /dev/log? Set alerts.syslog: false otherwise")
		}
		sinks = append(sinks, s)
	}
	if cfg.Alerts.Webhook.URL != "" {
		token, err := webhookToken(g, cfg.Alerts.Webhook)
		if err != nil {
			return err
		}
		w, err := alert.NewWebhook(alert.WebhookOptions{URL: cfg.Alerts.Webhook.URL, Token: token,
			Attempts: cfg.Alerts.Webhook.Attempts, Backoff: cfg.Alerts.Webhook.Backoff})
		if err != nil {
			return usageError{err}
		}
		sinks = append(sinks, w)
	}
	if !o.noStore && (cfg.Alerts.CaseStore == nil || *cfg.Alerts.CaseStore) {
		store, err := g.openStore(ctx)
		if err != nil {
			return err
		}
		host, err := store.Host(ctx, cfg.Host)
		if err != nil {
			store.Close()
			return fmt.Errorf("case store: %w", err)
		}
		sinks = append(sinks, alert.FuncSink{SinkName: "case store", CloseFn: store.Close, Fn: func(ctx context.Context, a *alert.Alert) error {
			data, err := json.Marshal(a)
			if err != nil {
				return err
			}
			return store.PutWatchAlert(ctx, casestore.WatchAlert{ID: a.ID, HostID: host.ID, Time: a.Time, Kind: a.Kind,
				Rule: a.Rule, Severity: string(a.Severity), Title: a.Title, Summary: a.Summary, Data: data})
		}})
	}
	disp := alert.NewDispatcher(g.log, journal, sinks...)
	defer disp.Close()
	agent, err := watch.New(cfg, watch.Options{Log: g.log, Send: disp, Version: versionString(), Judge: watchJudge(),
		Ready: func() {
			if !g.quiet {
				fmt.Fprintf(g.stderr, "kintsugi: watching %s; alerts in %s (Ctrl-C stops)\n", strings.Join(cfg.Paths, ", "), cfg.Journal)
			}
		}})
	if err != nil {
		return usageError{err}
	}
	if err := agent.Run(ctx); err != nil {
		return withHint(err, "watch needs Linux 5.17 or later, root, and file systems with file handles (ext4, xfs, btrfs, tmpfs)")
	}
	if raised.Load() > 0 {
		return errFound
	}
	return nil
}

// webhookToken reads the webhook's bearer token from its file or variable.
func webhookToken(g *globals, w watch.WebhookConfig) (string, error) {
	switch {
	case w.TokenFile != "":
		if err := watch.WorldWritable(w.TokenFile); err != nil {
			return "", withHint(fmt.Errorf("webhook token: %w", err), "keep the token file readable by root only: chmod 600")
		}
		fi, err := os.Stat(w.TokenFile)
		if err != nil {
			return "", fmt.Errorf("webhook token: %w", err)
		}
		if fi.Mode().Perm()&0o044 != 0 {
			return "", withHint(fmt.Errorf("webhook token file %s is readable by others", w.TokenFile), "chmod 600 "+w.TokenFile)
		}
		b, err := os.ReadFile(w.TokenFile)
		if err != nil {
			return "", fmt.Errorf("webhook token: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case w.TokenEnv != "":
		t := g.getenv(w.TokenEnv)
		if t == "" {
			return "", withHint(fmt.Errorf("webhook token: $%s is empty", w.TokenEnv), "set it in the unit's EnvironmentFile")
		}
		return t, nil
	}
	return "", nil
}

func newWatchIsolateCommand(g *globals, o *watchOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "isolate",
		Short: "Cut the host off the network except loopback and the management endpoints",
		Long: `isolate installs an nftables table (inet kintsugi_isolation) that drops every
packet in and out except loopback and the management endpoints (--management or
isolation.management in --config). The table stays in the kernel when the agent
stops, and a restarted agent installs it again after a reboot, until
'kintsugi watch release'.`,
		Example: `  kintsugi watch isolate --management 10.0.0.5:22
  kintsugi watch isolate --config /etc/kintsugi/watch.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadWatchConfig(o, false)
			if err != nil {
				return err
			}
			n := nft.NFT{Path: cfg.Isolation.Nft}
			if err := watch.Isolate(cmd.Context(), cfg, n, "operator request"); err != nil {
				return withHint(fmt.Errorf("cannot isolate: %w", err), "give --management ADDR:PORT for the address you manage the host from", "nftables must be installed (apt install nftables) and watch run as root")
			}
			mg, _ := cfg.Management()
			var ms []string
			for _, m := range mg {
				ms = append(ms, m.String())
			}
			fmt.Fprintf(g.stdout, "isolated: only loopback and %s get through; 'kintsugi watch release' undoes it\n", strings.Join(ms, ", "))
			return nil
		},
	}
}

func newWatchReleaseCommand(g *globals, o *watchOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "release",
		Short:   "Remove the isolation and let traffic through again",
		Example: "  kintsugi watch release",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadWatchConfig(o, false)
			if err != nil {
				return err
			}
			if err := watch.Release(cmd.Context(), cfg, nft.NFT{Path: cfg.Isolation.Nft}); err != nil {
				return withHint(fmt.Errorf("cannot release: %w", err), "run as root; 'nft list tables' shows what is installed")
			}
			fmt.Fprintln(g.stdout, "released: the isolation table is gone")
			return nil
		},
	}
}

func newWatchStatusCommand(g *globals, o *watchOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show isolation, held process trees and the agent's counters",
		Example: "  kintsugi watch status",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadWatchConfig(o, false)
			if err != nil {
				return err
			}
			st, err := watch.IsolationStatus(cfg)
			if err != nil {
				return err
			}
			if st != nil {
				fmt.Fprintf(g.stdout, "isolated since %s (%s); management %s\n", st.Since.Format(time.RFC3339), st.Reason, strings.Join(st.Management, ", "))
			} else {
				fmt.Fprintln(g.stdout, "not isolated")
			}
			rep, err := watch.Control(cmd.Context(), cfg.StateDir, watch.ControlRequest{Op: "status"})
			if err != nil {
				return withHint(fmt.Errorf("agent: %w", err), "is 'kintsugi watch' running with this --state-dir?")
			}
			fmt.Fprintf(g.stdout, "agent watching %s: %d file events (%d in watched trees), %d content judgements, %d trees stopped, %d opens denied, %d decoys\n",
				strings.Join(rep.Paths, ", "), rep.Stats.Events, rep.Stats.Watched, rep.Stats.Judged, rep.Stats.Decisions, rep.Stats.Denied, len(rep.Canaries))
			for _, h := range rep.Held {
				fmt.Fprintf(g.stdout, "held: tree %d since %s (alert %s): pids %v\n", h.Root, h.Since.Format(time.RFC3339), h.AlertID, h.Pids)
			}
			return nil
		},
	}
}

func newWatchTreeCommand(g *globals, o *watchOptions, op, short string) *cobra.Command {
	return &cobra.Command{
		Use:     op + " ROOT-PID",
		Short:   short,
		Example: "  kintsugi watch " + op + " 4242",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := strconv.ParseInt(args[0], 10, 32)
			if err != nil || pid <= 1 {
				return usageError{fmt.Errorf("%q is not a process id", args[0])}
			}
			cfg, err := loadWatchConfig(o, false)
			if err != nil {
				return err
			}
			if _, err := watch.Control(cmd.Context(), cfg.StateDir, watch.ControlRequest{Op: op, Root: int32(pid)}); err != nil {
				return withHint(err, "'kintsugi watch status' lists the held trees")
			}
			fmt.Fprintf(g.stdout, "tree %d: %s\n", pid, map[string]string{"resume": "resumed", "kill": "killed"}[op])
			return nil
		},
	}
}

// watchJudge is the content judge the watch agent scores with: scan's
// ransomware-damage detector, in quick mode.
func watchJudge() judge.Judge { return judge.Damage{} }
