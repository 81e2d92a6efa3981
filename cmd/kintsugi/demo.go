package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kintsugi-ir/kintsugi/internal/demo"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/manifest"
	"github.com/kintsugi-ir/kintsugi/internal/ui"
)

func newDemoCommand(g *globals) *cobra.Command {
	var keep bool
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build a harmless sample server and run the whole pipeline on it",
		Long: `demo builds a small, harmless sample server in a temporary folder (intact
video, images and office files, copies damaged the way ransomware damages
files, ransom notes in English and Japanese, the EICAR test file, a leftover
rclone configuration, sample logs) and runs kintsugi on it step by step, with
its own case store in that folder, so you can see what each command does.
Nothing in it is malicious.`,
		Example: "  kintsugi demo\n  kintsugi demo --keep --dir /tmp/kintsugi-demo",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), g, dir, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the sample folder and its case store afterwards")
	cmd.Flags().StringVar(&dir, "dir", "", "build the sample in `DIR` (must not exist yet; implies --keep)")
	cmd.AddCommand(newDemoSimulateCommand())
	return cmd
}

func runDemo(ctx context.Context, g *globals, dir string, keep bool) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "kintsugi-demo-")
		if err != nil {
			return err
		}
		dir = d
		if !keep {
			defer os.RemoveAll(dir)
		}
	} else {
		if _, err := os.Stat(dir); err == nil {
			return usageError{fmt.Errorf("--dir %s already exists: the demo only writes into a new folder", dir)}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		keep = true
	}
	l, err := demo.Build(dir, 2025)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// The demo keeps its own case store next to the sample.
	dg := *g
	dg.casePath = filepath.Join(dir, "case.db")
	out := g.stdout
	fmt.Fprintf(out, "kintsugi demo: a sample file server in %s\n", l.Root)
	fmt.Fprintf(out, "  %d intact files (video, images, audio, office), %d ransomware-damaged copies,\n", len(l.Intact), len(l.Damaged))
	fmt.Fprintf(out, "  %d ransom notes, the EICAR test file, a leftover rclone config, and auth logs in %s\n", len(l.Notes), l.Logs)
	fmt.Fprintf(out, "  case store: %s\n\n", ui.Path(dg.casePath))

	step := func(n int, title, command string) {
		fmt.Fprintf(out, "== step %d: %s\n$ %s\n", n, title, command)
	}
	step(1, "quick damage triage: which files were encrypted, minutes for a whole server",
		"kintsugi scan --quick --host fs01 "+l.Root)
	if err := runScan(ctx, &dg, &scanOptions{host: "fs01", quick: true, format: "table", workers: 2, yaraTimeout: 60e9,
		maxDepth: 5, maxRatio: 250}, []string{l.Root}); err != nil && !errors.Is(err, errFound) {
		return err
	}
	fmt.Fprintln(out)
	step(2, "full screening: every byte through YARA, hashes, damage and name checks",
		"kintsugi scan --host fs01 "+l.Root)
	if err := runScan(ctx, &dg, &scanOptions{host: "fs01", format: "table", workers: 2, yaraTimeout: 60e9,
		maxDepth: 5, maxRatio: 250}, []string{l.Root}); err != nil && !errors.Is(err, errFound) {
		return err
	}
	fmt.Fprintln(out)
	step(3, "rescan: unchanged files keep their verdicts and are not read again",
		"kintsugi scan --host fs01 "+l.Root)
	if err := runScan(ctx, &dg, &scanOptions{host: "fs01", format: "table", workers: 2, yaraTimeout: 60e9,
		maxDepth: 5, maxRatio: 250}, []string{l.Root}); err != nil && !errors.Is(err, errFound) {
		return err
	}
	fmt.Fprintln(out)
	step(4, "hunt the collected logs: who got in, from where, and what they did",
		"kintsugi hunt "+l.Logs)
	// the sample logs are written in UTC
	if err := runHunt(ctx, &dg, huntOptions{format: "table", tz: "UTC", workHours: "8-19", workDays: "mon-fri"},
		[]string{l.Logs}); err != nil && !errors.Is(err, errFound) {
		return err
	}
	fmt.Fprintln(out)
	step(5, "the report's table: per server, accessed / encrypted / exfiltrated, from scan and hunt together",
		"kintsugi hosts")
	if err := runHosts(ctx, &dg, "table", time.UTC); err != nil && !errors.Is(err, errFound) {
		return err
	}
	fmt.Fprintln(out)
	if err := demoMigrate(ctx, &dg, dir, l.Root, step); err != nil {
		return err
	}
	if err := demoWatch(ctx, &dg, dir, step); err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(out, "The sample and its case store stay in %s.\n", dir)
	} else {
		fmt.Fprintln(out, "Done. Run 'kintsugi demo --keep' to keep the sample folder and explore it.")
	}
	return nil
}

// demoMigrate is the demo's last act: a signing key, a screened migration
// of the sample server and the auditor's check of the manifest.
func demoMigrate(ctx context.Context, dg *globals, dir, root string, step func(int, string, string)) error {
	out := dg.stdout
	key := filepath.Join(dir, "migrate.key")
	clean := filepath.Join(dir, "clean", "fs01")
	man := filepath.Join(dir, "manifest-fs01.jsonl")
	step(6, "a signing key for the migration manifest (once per case; the .pub goes to the auditor)",
		"kintsugi key generate -o "+key)
	if _, err := manifest.GenerateKey(key, "kintsugi demo"); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(out, "private key %s, public key %s.pub\n\n", key, key)
	step(7, "migrate: one read per file screens and copies it; only clean files are promoted and read back; a signed manifest lists everything",
		"kintsugi migrate --sign-key "+key+" --host fs01 --manifest "+man+" "+root+" "+clean)
	mo := &migrateOptions{host: "fs01", manifest: man, signKey: key, retries: 2, format: "table",
		scan: scanOptions{workers: 2, yaraTimeout: 60e9, maxDepth: 5, maxRatio: 250}}
	if err := runMigrate(ctx, dg, mo, root, clean); err != nil && !errors.Is(err, errFound) {
		return err
	}
	fmt.Fprintln(out)
	step(8, "the auditor checks the signature and the hash chain, and reads every migrated file back",
		"kintsugi manifest verify --key "+key+".pub "+man+" "+clean)
	if err := runManifestVerify(ctx, dg, &manifestVerifyOptions{key: key + ".pub", format: "table", workers: 2}, man, clean); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return nil
}
