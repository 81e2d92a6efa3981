package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/migrate"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/manifest"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
	"github.com/kintsugi-ir/kintsugi/internal/source"
	"github.com/kintsugi-ir/kintsugi/internal/ui"
)

type migrateOptions struct {
	scan       scanOptions // the screening flags, shared with scan
	host       string
	manifest   string
	signKey    string
	quarantine string
	dryRun     bool
	bwlimit    string
	retries    int
	format     string
	s3         s3Flags
}

func newMigrateCommand(g *globals) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate [flags] SRC DST",
		Short: "Copy only screened-clean files to new storage, verified, resumable, with a signed manifest",
		Long: `migrate copies the tree SRC to DST (a folder, or s3://bucket/prefix on any
S3-compatible storage), keeping relative paths, mtimes and modes. Each file is
read once: the same bytes go through scan's detectors, SHA-256 and into a
temporary object at the destination, which is promoted (renamed, or its upload
completed) only if the verdict is clean and the bytes written are the bytes
screened (a file of up to 64 MiB is screened in memory first and written only
if clean). Then the stored copy is read back and its SHA-256 compared; a
mismatch is copied again, then reported. Files with any other verdict are
refused and listed; --quarantine keeps them as encrypted zip archives
(password "infected") for analysts. Files that an earlier scan of the case
found non-clean, unchanged since and with the same rules, are refused without
being read.

Every step is journalled in the case store. After a crash or kill -9, run the
same command again: it removes the temporaries of the interrupted copies,
skips verified files that did not change, and does the rest. Nothing partial
is ever left under a final name.

At the end migrate writes a manifest (JSON Lines, hash-chained, signed with
--sign-key; format in docs/design/manifest.md) with one record per file of the
whole job: migrated, refused (with the verdict and the detectors' findings),
failed or skipped, and every name it had to change for the destination.
'kintsugi manifest verify' checks it, and with DST re-reads the destination.

S3: endpoint, region and credentials come from the AWS environment variables
(AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the
AWS credentials file, or the --s3-* flags. Names that S3 cannot hold (bytes
that are not UTF-8, e.g. Shift-JIS) are mapped and the manifest records how.

` + exitHelpText + `
  (for migrate: 1 means some files were refused; 2 also when some files could
  not be migrated: run the same command again to retry them)`,
		Example: `  kintsugi key generate -o migrate.key
  kintsugi migrate --sign-key migrate.key /mnt/fs01 /srv/clean/fs01
  kintsugi migrate --dry-run /mnt/fs01 s3://recovery/fs01
  AWS_ENDPOINT_URL=https://s3.example.jp kintsugi migrate --sign-key migrate.key \
      --quarantine /srv/quarantine/fs01 --bwlimit 200M /mnt/fs01 s3://recovery/fs01
  kintsugi manifest verify --key migrate.key.pub kintsugi-manifest-fs01-*.jsonl s3://recovery/fs01`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMigrate(cmd.Context(), g, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "host `NAME` the files belong to, as in scan (default: the base name of SRC)")
	f.StringVar(&o.manifest, "manifest", "", "write the manifest to `FILE` (default: kintsugi-manifest-HOST-TIME.jsonl in the working directory)")
	f.StringVar(&o.signKey, "sign-key", "", "sign the manifest with the private key in `FILE` (kintsugi key generate; default $KINTSUGI_SIGN_KEY)")
	f.StringVar(&o.quarantine, "quarantine", "", "keep refused files in `DIR` as encrypted zip archives (password: infected)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan (files, bytes, expected refusals) without reading or writing anything")
	f.StringVar(&o.bwlimit, "bwlimit", "", "limit writes to the destination to `RATE` bytes per second (e.g. 50M)")
	f.IntVar(&o.retries, "retries", 2, "copy a file again this many times when its read-back does not match or it changed while read")
	f.StringVar(&o.format, "format", "table", "output: table (summary) or jsonl (the summary, or with --dry-run the plan, as JSON)")
	addS3Flags(f, &o.s3)
	addScreeningFlags(f, &o.scan)
	// Twice the cores: while one file waits for its fsync and read-back,
	// another is being screened.
	w := f.Lookup("workers")
	w.DefValue = strconv.Itoa(2 * runtime.NumCPU())
	w.Value.Set(w.DefValue)
	w.Usage = "files screened and copied at once (twice the cores: screening overlaps fsync and read-back)"
	return cmd
}

// migrateStats sums up one migrate run; it is stored with the run and
// printed by --format jsonl.
type migrateStats struct {
	Host          string          `json:"host"`
	Source        string          `json:"source"`
	Dest          string          `json:"dest"`
	Job           int64           `json:"job"`
	RuleSet       string          `json:"ruleset"`
	Manifest      string          `json:"manifest"`
	KeyID         string          `json:"key_id"`
	Counts        manifest.Counts `json:"job_counts"`
	MigratedNow   int64           `json:"migrated_this_run"`
	BytesCopied   int64           `json:"bytes_copied"`
	Unchanged     int64           `json:"unchanged"`
	Retried       int64           `json:"retried"`
	Recovered     int64           `json:"recovered"`
	Seconds       float64         `json:"seconds"`
	Interrupted   bool            `json:"interrupted,omitempty"`
	QuarantineDir string          `json:"quarantine,omitempty"`
	VerifyMethod  string          `json:"verify_method"`
}

func runMigrate(ctx context.Context, g *globals, o *migrateOptions, srcArg, dstArg string) error {
	format, err := ui.ParseFormat(o.format, ui.FormatTable, ui.FormatJSONL)
	if err != nil {
		return usageError{err}
	}
	limits, err := screeningLimits(&o.scan)
	if err != nil {
		return err
	}
	var bw int64
	if o.bwlimit != "" {
		if bw, err = ui.ParseSize(strings.TrimSuffix(strings.TrimSuffix(o.bwlimit, "/s"), "ps")); err != nil || bw <= 0 {
			return usageError{fmt.Errorf("--bwlimit %q: want a rate such as 50M (bytes per second)", o.bwlimit)}
		}
	}
	src, err := filepath.Abs(srcArg)
	if err != nil {
		return err
	}
	src = filepath.Clean(src)
	if fi, err := os.Stat(src); err != nil {
		return withHint(fmt.Errorf("cannot migrate %s: %w", srcArg, errors.Unwrap(err)), "check the path; network shares must be mounted first")
	} else if !fi.IsDir() {
		return usageError{fmt.Errorf("SRC %s is not a folder: migrate copies a tree", srcArg)}
	}
	host := o.host
	if host == "" {
		host = filepath.Base(src)
		if host == "/" || host == "." {
			host, _ = os.Hostname()
		}
	}
	if o.manifest == "" {
		o.manifest = fmt.Sprintf("kintsugi-manifest-%s-%s.jsonl", safeFileName(host), time.Now().UTC().Format("20060102T150405Z"))
	}
	// Nothing is ever written into the evidence tree.
	for _, p := range []struct{ flag, path string }{{"--manifest", o.manifest}, {"--quarantine", o.quarantine}, {"--tmp", o.scan.tmpDir}} {
		if p.path == "" {
			continue
		}
		abs, _ := filepath.Abs(p.path)
		if inside(abs, src) {
			return withHint(usageError{fmt.Errorf("%s %s lies inside SRC %s: migrate never writes into the source", p.flag, p.path, srcArg)},
				"run kintsugi from outside the source tree, or pass "+p.flag+" with a path outside it")
		}
	}
	var key ed25519.PrivateKey
	keyPath := o.signKey
	if keyPath == "" {
		keyPath = g.getenv("KINTSUGI_SIGN_KEY")
	}
	if !o.dryRun {
		if keyPath == "" {
			return withHint(usageError{errors.New("migrate needs a signing key for its manifest: --sign-key FILE")},
				"create one once per case with 'kintsugi key generate -o migrate.key' and give migrate.key.pub to the auditor",
				"kintsugi has no default key: a manifest signed by a key nobody holds proves nothing")
		}
		if key, err = manifest.LoadPrivateKey(keyPath); err != nil {
			if errors.Is(err, manifest.ErrKeyPermissions) {
				return withHint(err, "chmod 600 "+keyPath)
			}
			return withHint(fmt.Errorf("signing key: %w", err), "create one with 'kintsugi key generate -o migrate.key'")
		}
	}
	if !strings.HasPrefix(dstArg, "s3://") {
		abs, _ := filepath.Abs(dstArg)
		if inside(abs, src) || inside(src, abs) {
			return usageError{fmt.Errorf("DST %s and SRC %s overlap: copy to a separate place", dstArg, srcArg)}
		}
		if o.dryRun {
			if _, err := os.Stat(abs); err != nil {
				// A dry run creates nothing; describe the folder to be.
				return runMigrateDryRunNewLocal(ctx, g, o, format, src, host, abs, limits)
			}
		}
	}
	d, err := openDestination(ctx, g, dstArg, &o.s3)
	if err != nil {
		return err
	}
	if o.quarantine != "" {
		abs, _ := filepath.Abs(o.quarantine)
		if d.local != "" && (inside(abs, d.local) || inside(d.local, abs)) {
			return usageError{fmt.Errorf("--quarantine %s lies inside DST: refused files must never reach the clean side", o.quarantine)}
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return fmt.Errorf("quarantine: %w", err)
		}
		o.quarantine = abs
	}
	return migrateWith(ctx, g, o, format, src, host, d, limits, bw, key)
}

// runMigrateDryRunNewLocal plans a migration into a local folder that does
// not exist yet, without creating it.
func runMigrateDryRunNewLocal(ctx context.Context, g *globals, o *migrateOptions, format ui.Format, src, host, dst string, limits scan.Limits) error {
	tmp, err := os.MkdirTemp("", "kintsugi-plan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	d, err := openDestination(ctx, g, tmp, &o.s3)
	if err != nil {
		return err
	}
	d.id, d.name = dst, dst
	return migrateWith(ctx, g, o, format, src, host, d, limits, 0, nil)
}

func migrateWith(ctx context.Context, g *globals, o *migrateOptions, format ui.Format, src, host string, d *destination, limits scan.Limits, bw int64, key ed25519.PrivateKey) error {
	dets, closeDets, digest, yaraRules, err := buildDetectors(g, &o.scan)
	if err != nil {
		return err
	}
	defer closeDets()
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	h, err := st.Host(ctx, host)
	if err != nil {
		return err
	}
	job, err := st.MigrateJob(ctx, []byte(src), d.id, digest)
	if err != nil {
		return err
	}
	j := &storeJournal{st: st, job: job.ID}
	known, err := knownVerdicts(ctx, st, h.ID, digest)
	if err != nil {
		return err
	}
	eng := scan.New(scan.Config{Detectors: dets, Hashes: screeningHashes(dets), Limits: limits, Workers: o.scan.workers, Log: g.log, TempDir: o.scan.tmpDir})
	cfg := migrate.Config{Source: src, Dest: d, Engine: eng, Walk: walkOptions(&o.scan), Workers: o.scan.workers, Journal: j, Known: known,
		Retries: o.retries, BWLimit: bw, Quarantine: o.quarantine, Log: g.log, TempTag: tempTag(g, job.ID)}
	if o.dryRun {
		return printPlan(ctx, g, format, migrate.New(cfg), src, d)
	}

	unlock, err := lockJob(g, job.ID)
	if err != nil {
		return err
	}
	defer unlock()
	runID, err := st.BeginRun(ctx, incident.Run{HostID: h.ID, Kind: incident.RunMigrate, Args: os.Args[1:], RuleSet: digest})
	if err != nil {
		return err
	}
	sw := &scanWriter{st: st, hostID: h.ID, runID: runID, ruleset: digest}
	var swMu sync.Mutex
	var swErr error
	cfg.Screened = func(r scan.Result) {
		scan.SortFindings(r.Findings)
		swMu.Lock()
		defer swMu.Unlock()
		if err := sw.add(ctx, r); err != nil && swErr == nil {
			swErr = err
		}
	}
	m := migrate.New(cfg)

	var total atomic.Int64
	var counted atomic.Bool
	var pr *ui.Progress
	if !g.quiet && ui.IsTerminal(g.stderr) {
		pr = ui.StartProgress(g.stderr, ui.Counters{Label: host + " → " + d.String(), Files: m.Progress.Files.Load, Bytes: m.Progress.Bytes.Load,
			Total: func() (int64, bool) { return total.Load(), counted.Load() }})
		go func() {
			ch := make(chan source.Entry, 256)
			go func() {
				for e := range ch {
					if e.Kind == source.KindFile {
						total.Add(e.Info.Size)
					}
				}
				counted.Store(true)
			}()
			source.Walk(ctx, []string{src}, walkOptions(&o.scan), ch)
			close(ch)
		}()
	}
	start := time.Now()
	runErr := m.Run(ctx)
	if pr != nil {
		pr.Stop()
	}
	bg := context.WithoutCancel(ctx)
	swMu.Lock()
	if err := sw.flush(bg); err != nil && swErr == nil {
		swErr = err
	}
	swMu.Unlock()

	stats := &migrateStats{Host: host, Source: src, Dest: d.String(), Job: job.ID, RuleSet: digest, KeyID: manifest.KeyID(key.Public().(ed25519.PublicKey)),
		MigratedNow: m.Progress.Copied.Load(), BytesCopied: m.Progress.BytesCopied.Load(),
		Unchanged: m.Progress.Unchanged.Load(), Retried: m.Progress.Retried.Load(), Recovered: m.Progress.Recovered.Load(),
		Seconds: time.Since(start).Seconds(), Interrupted: errors.Is(runErr, context.Canceled), QuarantineDir: o.quarantine, VerifyMethod: d.VerifyMethod()}
	names := make([]string, 0, len(dets))
	for _, det := range dets {
		names = append(names, det.Name())
	}
	hdr := manifest.Header{Job: job.ID, Host: host, Dest: d.String(), RuleSet: digest, Detectors: names, YaraRules: yaraRules, Kintsugi: versionString(),
		Created: time.Now().UTC().Format(time.RFC3339), Args: os.Args[1:], VerifyNote: d.VerifyMethod()}
	hdr.Source, hdr.SourceB64 = manifestText(src)
	path := o.manifest
	counts, merr := writeManifestFile(bg, path, hdr, key, j, digest, runErr == nil)
	stats.Manifest, stats.Counts = path, counts
	status := incident.RunDone
	switch {
	case stats.Interrupted:
		status = incident.RunInterrupted
	case runErr != nil || merr != nil:
		status = incident.RunFailed
	}
	sb, _ := json.Marshal(stats)
	if err := st.FinishRun(bg, runID, status, sb); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		runErr = swErr
	}
	if merr != nil {
		if runErr != nil {
			return fmt.Errorf("%w; and the manifest could not be written: %v", runErr, merr)
		}
		return fmt.Errorf("manifest %s: %w", path, merr)
	}
	if runErr != nil {
		if stats.Interrupted {
			fmt.Fprintf(g.stderr, "kintsugi: manifest of the job so far (incomplete): %s\n", path)
		}
		return runErr
	}
	if !g.quiet {
		if format == ui.FormatJSONL {
			ui.NewJSONL(g.stdout).Write(stats)
		} else {
			printMigrateSummary(ctx, g, stats, j, g.casePath, runID)
		}
	}
	if counts.Failed > 0 {
		return withHint(fmt.Errorf("%d files could not be migrated (listed in the manifest %s)", counts.Failed, path),
			"fix the cause shown for each (space, permissions, network) and run the same command again: it retries only those")
	}
	if counts.Refused > 0 {
		return errFound
	}
	return nil
}

func manifestText(s string) (string, string) {
	var r manifest.Record
	r.SetPath(s)
	return r.Path, r.PathB64
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || r < 0x20 {
			return '_'
		}
		return r
	}, s)
}

// writeManifestFile writes the manifest of the whole job next to its final
// name, fsyncs it and renames it into place: a reader never sees half of
// one.
func writeManifestFile(ctx context.Context, path string, hdr manifest.Header, key ed25519.PrivateKey, j migrate.Journal, ruleset string, complete bool) (manifest.Counts, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".kintsugi-manifest-*.tmp")
	if err != nil {
		return manifest.Counts{}, err
	}
	defer os.Remove(f.Name())
	w, err := manifest.NewWriter(f, hdr, key)
	if err == nil {
		err = migrate.WriteManifest(ctx, j, w, ruleset)
	}
	if err == nil {
		err = w.Close(time.Now().UTC().Format(time.RFC3339), complete)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return manifest.Counts{}, err
	}
	if df, err := os.Open(dir); err == nil {
		df.Sync()
		df.Close()
	}
	return w.Counts(), nil
}

// tempTag marks the job's temporary names at the destination: the case
// store and the job id, hashed.
func tempTag(g *globals, job int64) string {
	abs, _ := filepath.Abs(g.casePath)
	return "j" + shortDigest(fmt.Sprintf("%s\x00%d", abs, job))[:12]
}

// lockJob makes sure only one process works on a job at a time: two would
// each clean up the other's temporaries.
func lockJob(g *globals, job int64) (func(), error) {
	abs, _ := filepath.Abs(g.casePath)
	path := fmt.Sprintf("%s.migrate-%d.lock", abs, job)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("migrate lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, withHint(fmt.Errorf("another kintsugi migrate is running this job (lock %s)", path), "wait for it to finish, or stop it and run again")
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// knownVerdicts returns what earlier scans of the host decided about
// unchanged files with the same rules.
func knownVerdicts(ctx context.Context, st casestore.Store, hostID int64, digest string) (func(string, source.Info) (migrate.Prior, bool), error) {
	ids, err := st.FileIdentities(ctx, hostID)
	if err != nil {
		return nil, err
	}
	return func(path string, in source.Info) (migrate.Prior, bool) {
		id, ok := ids[path]
		if !ok || !id.Reusable || id.RuleSet != digest || id.Size != in.Size || id.Dev != in.Dev || id.Ino != in.Ino ||
			!id.ModTime.Equal(in.ModTime) || !id.ChangeTime.Equal(in.ChangeTime) {
			return migrate.Prior{}, false
		}
		p := migrate.Prior{Verdict: id.Verdict, Reason: id.Reason, SHA256: id.SHA256}
		if id.Verdict != incident.Clean {
			if rec, err := st.File(ctx, hostID, []byte(path)); err == nil {
				p.Findings, p.ScannedAt = rec.Findings, rec.ScannedAt
			}
		}
		return p, true
	}, nil
}

// storeJournal is the migrate journal of one job in the case store.
type storeJournal struct {
	st  casestore.Store
	job int64
}

var _ migrate.Journal = (*storeJournal)(nil)

func (j *storeJournal) Get(ctx context.Context, path []byte) (migrate.Entry, bool, error) {
	e, err := j.st.MigrateEntry(ctx, j.job, path)
	if errors.Is(err, casestore.ErrNotFound) {
		return migrate.Entry{}, false, nil
	}
	return migrate.Entry(e), err == nil, err
}

func (j *storeJournal) ByKey(ctx context.Context, key string) (migrate.Entry, bool, error) {
	e, err := j.st.MigrateEntryByKey(ctx, j.job, key)
	if errors.Is(err, casestore.ErrNotFound) {
		return migrate.Entry{}, false, nil
	}
	return migrate.Entry(e), err == nil, err
}

func (j *storeJournal) Put(ctx context.Context, e migrate.Entry) error {
	e.JobID = j.job
	return j.st.PutMigrateEntries(ctx, []casestore.MigrateEntry{casestore.MigrateEntry(e)})
}

func (j *storeJournal) Each(ctx context.Context, states []string, fn func(migrate.Entry) error) error {
	return j.st.MigrateEntries(ctx, j.job, states, func(e casestore.MigrateEntry) error { return fn(migrate.Entry(e)) })
}

func printMigrateSummary(ctx context.Context, g *globals, s *migrateStats, j migrate.Journal, casePath string, runID int64) {
	w := g.stdout
	c := s.Counts
	rate := 0.0
	if s.Seconds > 0 {
		rate = float64(s.BytesCopied) / s.Seconds / 1e6
	}
	fmt.Fprintf(w, "migrate %s → %s (job %d)\n", ui.Path(s.Source), s.Dest, s.Job)
	fmt.Fprintf(w, "this run: %d files copied and verified, %s in %.1fs (%.0f MB/s)", s.MigratedNow, ui.Bytes(s.BytesCopied), s.Seconds, rate)
	if s.Unchanged > 0 {
		fmt.Fprintf(w, "; %d unchanged files done earlier, not read again", s.Unchanged)
	}
	if s.Recovered > 0 {
		fmt.Fprintf(w, "; %d interrupted copies cleaned up and redone", s.Recovered)
	}
	if s.Retried > 0 {
		fmt.Fprintf(w, "; %d retries", s.Retried)
	}
	fmt.Fprintln(w)
	t := &ui.Table{Header: []string{"whole job", "files", "bytes"}, Right: []bool{false, true, true}}
	t.Add("migrated and verified", c.Migrated, ui.Bytes(c.MigratedBytes))
	t.Add("refused", c.Refused, ui.Bytes(c.RefusedBytes))
	t.Add("failed", c.Failed, "")
	t.Add("skipped (excluded, links)", c.Skipped, "")
	t.Write(w)
	if c.Refused+c.Failed > 0 {
		type item struct{ what, path, why string }
		var items []item
		j.Each(ctx, []string{migrate.StateRefused, migrate.StateFailed, migrate.StateCopying, migrate.StatePromoted}, func(e migrate.Entry) error {
			what := string(e.Verdict)
			if e.State != migrate.StateRefused {
				what = "failed"
			}
			if len(items) < 1000 {
				items = append(items, item{what, string(e.Path), e.Reason})
			}
			return nil
		})
		sort.SliceStable(items, func(a, b int) bool { return items[a].what == "failed" && items[b].what != "failed" })
		const show = 15
		fmt.Fprintln(w, "\nnot migrated:")
		ft := &ui.Table{}
		for i, it := range items {
			if i == show {
				break
			}
			ft.Add("  "+it.what, ui.Truncate(ui.Path(it.path), 50), ui.Truncate(it.why, 100))
		}
		ft.Write(w)
		if n := c.Refused + c.Failed; n > show {
			fmt.Fprintf(w, "  ... and %d more: see the manifest\n", n-show)
		}
	}
	if s.QuarantineDir != "" && c.Refused > 0 {
		fmt.Fprintf(w, "refused files read in this run are kept in %s (zip, password: infected)\n", s.QuarantineDir)
	}
	fmt.Fprintf(w, "\nmanifest: %s (signed by key %s; check with: kintsugi manifest verify --key KEY.pub %s DST)\n", s.Manifest, s.KeyID, s.Manifest)
	fmt.Fprintf(w, "case store: %s (run %d)\n", casePath, runID)
}

func printPlan(ctx context.Context, g *globals, format ui.Format, m *migrate.Migrator, src string, d *destination) error {
	p, err := m.Plan(ctx)
	if err != nil {
		return err
	}
	if format == ui.FormatJSONL {
		jw := ui.NewJSONL(g.stdout)
		for _, it := range p.Items {
			if err := jw.Write(it); err != nil {
				return err
			}
		}
		items := p.Items
		p.Items = nil
		defer func() { p.Items = items }()
		return jw.Write(struct {
			Plan *migrate.Plan `json:"plan"`
		}{p})
	}
	w := g.stdout
	fmt.Fprintf(w, "plan (dry run, nothing read or written): %s → %s\n", ui.Path(src), d.display())
	t := &ui.Table{Header: []string{"", "files", "bytes"}, Right: []bool{false, true, true}}
	t.Add("to read, screen, copy and verify", p.Copy, ui.Bytes(p.CopyBytes))
	t.Add("done earlier, unchanged: skipped", p.Done, ui.Bytes(p.DoneBytes))
	t.Add("copied by an interrupted run: read back only", p.ReadBack, "")
	t.Add("refused on earlier verdicts: not read", p.Refuse, ui.Bytes(p.RefuseBytes))
	t.Add("cannot be examined: refused", p.Unscannable, "")
	t.Add("excluded or links inside the tree", p.Skipped, "")
	t.Add("names stored differently", p.Mapped, "")
	t.Add("names the destination cannot hold", p.Unsupported, "")
	t.Write(w)
	if p.Recover > 0 {
		fmt.Fprintf(w, "%d copies of an interrupted run will be cleaned up and redone first\n", p.Recover)
	}
	if len(p.Items) > 0 {
		fmt.Fprintln(w, "\nexpected refusals and name changes:")
		ft := &ui.Table{}
		for i, it := range p.Items {
			if i == 30 {
				fmt.Fprintf(w, "  ... and %d more (--format jsonl lists all)\n", len(p.Items)-30)
				break
			}
			what := it.Action
			if it.Verdict != "" {
				what = string(it.Verdict)
			}
			detail := it.Reason
			if it.DestKey != "" {
				detail = "→ " + ui.Path(it.DestKey) + " (" + it.Reason + ")"
			}
			ft.Add("  "+what, ui.Truncate(ui.Path(it.Path), 50), ui.Truncate(detail, 100))
		}
		ft.Write(w)
	}
	fmt.Fprintf(w, "\nFiles screened clean in an earlier scan are still read: that read is both the copy and the screening.\n")
	return nil
}
