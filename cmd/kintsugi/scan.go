package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
	"github.com/kintsugi-ir/kintsugi/internal/scan/ioc"
	"github.com/kintsugi-ir/kintsugi/internal/scan/names"
	"github.com/kintsugi-ir/kintsugi/internal/scan/yara"
	"github.com/kintsugi-ir/kintsugi/internal/source"
	"github.com/kintsugi-ir/kintsugi/internal/ui"
)

type scanOptions struct {
	host         string
	workers      int
	rules        []string
	noBuiltin    bool
	noYara       bool
	skipBadRules bool
	iocs         []string
	iocNames     []string
	namesFile    string
	format       string
	all          bool
	exclude      []string
	maxSize      string
	oneFS        bool
	followLinks  bool
	full         bool
	quick        bool
	timeout      time.Duration
	yaraTimeout  time.Duration
	maxDepth     int
	maxRatio     float64
	tmpDir       string
}

func newScanCommand(g *globals) *cobra.Command {
	o := &scanOptions{}
	cmd := &cobra.Command{
		Use:   "scan [flags] PATH...",
		Short: "Screen every file of a server before it moves to clean infrastructure",
		Long: `scan screens every file under PATH: each file is read once, and that one read
feeds SHA-256, YARA (kintsugi's built-in rules plus any --rules), IOC lists,
the ransomware-damage detector and the name checks. Archives (zip and
OOXML/ODF, tar, gzip, bzip2, xz, zstd, 7z, rar) are opened and their members
screened the same way, nested up to a depth limit.

Every file gets one verdict: clean, malicious, encrypted (ransomware damage),
suspect, or unscannable (with the reason: too big, encrypted archive, read
error, time limit, changed while read, FIFO/device/socket, link out of the
tree). Unscannable is never clean. Results go to the case store; a rescan of
the same host skips files that did not change since a verdict made with the
same rules, and an interrupted scan resumes where it stopped.

scan never writes to the scanned tree: files are opened read-only with
O_NOATIME where permitted, symbolic links are not followed out of the tree,
and FIFOs, devices and sockets are never opened.

--quick is damage triage for the first hours of an incident: it reads only
sampled blocks of each file plus small text files, so the encryption impact
on a 10 TB server is known in minutes. It is NOT a screening verdict: its
results are stored as triage and never let a file migrate.

` + exitHelpText,
		Example: `  kintsugi scan --host fs01 /mnt/fs01
  kintsugi scan --quick --host fs01 /mnt/fs01
  kintsugi scan --rules ./signature-base/yara --ioc hashes.txt /mnt/fs01
  kintsugi scan --format jsonl /mnt/fs01 > fs01-findings.jsonl
  kintsugi scan --format csv --all --case case.db /mnt/fs01 > fs01.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "host `NAME` the files belong to (default: the base name of the first PATH)")
	f.StringVar(&o.format, "format", "table", "output: table (summary), jsonl or csv (one record per non-clean file)")
	f.BoolVar(&o.all, "all", false, "with --format jsonl/csv, one record for every file, clean ones too")
	f.BoolVar(&o.full, "full", false, "examine every file again, ignoring earlier verdicts")
	f.BoolVar(&o.quick, "quick", false, "damage triage only: sample blocks, no screening verdict")
	addScreeningFlags(f, o)
	return cmd
}

// addScreeningFlags registers the flags that decide how files are screened
// (detectors, rules, limits, walk): scan and migrate share them, so that a
// file migrates only after the same screening scan would give it.
func addScreeningFlags(f *pflag.FlagSet, o *scanOptions) {
	f.IntVar(&o.workers, "workers", runtime.NumCPU(), "files examined at once")
	f.StringArrayVar(&o.rules, "rules", nil, "add YARA rules from `PATH` (a .yar/.yara file or a folder; repeatable)")
	f.BoolVar(&o.noBuiltin, "no-builtin-rules", false, "do not load kintsugi's built-in YARA rules")
	f.BoolVar(&o.noYara, "no-yara", false, "screen without YARA at all (only for builds without it; says so in the results)")
	f.BoolVar(&o.skipBadRules, "skip-bad-rules", false, "leave out external rule files that do not compile (they are listed) instead of stopping")
	f.StringArrayVar(&o.iocs, "ioc", nil, "hash IOC `FILE`: plain hash list or MalwareBazaar CSV export (repeatable)")
	f.StringArrayVar(&o.iocNames, "ioc-filenames", nil, "file-name IOC `FILE`: one regular expression per line, optional ;score (repeatable)")
	f.StringVar(&o.namesFile, "names", "", "replace the built-in ransomware extension and note-name list with `FILE` (ransomware.json layout)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "skip entries whose name or relative path matches `GLOB` (repeatable)")
	f.StringVar(&o.maxSize, "max-size", "", "do not read files larger than `SIZE` (e.g. 50G); they are reported unscannable, never clean")
	f.BoolVar(&o.oneFS, "one-file-system", false, "do not cross into other file systems")
	f.BoolVar(&o.followLinks, "follow-links", false, "follow symbolic links, also out of the tree (loops are detected)")
	f.DurationVar(&o.timeout, "timeout", 0, "time limit for one file (0: none); a file that hits it is unscannable")
	f.DurationVar(&o.yaraTimeout, "yara-timeout", time.Minute, "YARA time limit per file, plus 1s per 20 MB")
	f.IntVar(&o.maxDepth, "archive-depth", scan.DefaultLimits().MaxDepth, "deepest archive nesting opened")
	f.Float64Var(&o.maxRatio, "archive-ratio", scan.DefaultLimits().MaxRatio, "largest expansion ratio allowed for archive members (bomb guard)")
	f.StringVar(&o.tmpDir, "tmp", "", "folder for archive members too big for memory (default $TMPDIR; never inside a scanned tree)")
}

// screeningLimits turns the limit flags into engine limits.
func screeningLimits(o *scanOptions) (scan.Limits, error) {
	limits := scan.DefaultLimits()
	if o.maxSize != "" {
		var err error
		if limits.MaxSize, err = ui.ParseSize(o.maxSize); err != nil {
			return limits, usageError{fmt.Errorf("--max-size: %w", err)}
		}
	}
	limits.Timeout, limits.MaxDepth, limits.MaxRatio = o.timeout, o.maxDepth, o.maxRatio
	if o.workers < 1 {
		return limits, usageError{errors.New("--workers must be at least 1")}
	}
	return limits, nil
}

// screeningHashes returns the digests the detectors need besides SHA-256.
func screeningHashes(dets []scan.Detector) scan.Hashes {
	hashes := scan.Hashes{}
	for _, d := range dets {
		if n, ok := d.(interface{ Needs() scan.Hashes }); ok {
			hashes.MD5 = hashes.MD5 || n.Needs().MD5
			hashes.SHA1 = hashes.SHA1 || n.Needs().SHA1
		}
	}
	return hashes
}

// walkOptions returns the walk the flags ask for.
func walkOptions(o *scanOptions) source.WalkOptions {
	return source.WalkOptions{Exclude: o.exclude, OneFileSystem: o.oneFS, FollowLinks: o.followLinks}
}

// scanStats sums up one scan run; it is stored with the run.
type scanStats struct {
	Host        string                               `json:"host"`
	Files       int64                                `json:"files"`
	Bytes       int64                                `json:"bytes"`
	BytesRead   int64                                `json:"bytes_read"`
	Verdicts    map[incident.Verdict]casestore.Count `json:"verdicts"`
	Unchanged   int64                                `json:"unchanged"`
	Links       int64                                `json:"links_in_tree"`
	Excluded    int64                                `json:"excluded"`
	Seconds     float64                              `json:"seconds"`
	Quick       bool                                 `json:"quick,omitempty"`
	RuleSet     string                               `json:"ruleset"`
	YaraRules   int                                  `json:"yara_rules"`
	Interrupted bool                                 `json:"interrupted,omitempty"`
}

func (s *scanStats) add(r scan.Result) {
	switch r.Kind {
	case source.KindLinkInTree:
		s.Links++
		return
	case source.KindExcluded:
		s.Excluded++
		return
	}
	s.Files++
	s.Bytes += r.Info.Size
	s.BytesRead += r.BytesRead
	c := s.Verdicts[r.Verdict]
	c.Files++
	c.Bytes += r.Info.Size
	s.Verdicts[r.Verdict] = c
	if r.Unchanged {
		s.Unchanged++
	}
}

func (s *scanStats) found() bool {
	for v, c := range s.Verdicts {
		if v != incident.Clean && c.Files > 0 {
			return true
		}
	}
	return false
}

func runScan(ctx context.Context, g *globals, o *scanOptions, paths []string) error {
	format, err := ui.ParseFormat(o.format, ui.FormatTable, ui.FormatJSONL, ui.FormatCSV)
	if err != nil {
		return usageError{err}
	}
	limits, err := screeningLimits(o)
	if err != nil {
		return err
	}
	var roots []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return withHint(fmt.Errorf("cannot scan %s: %w", p, errors.Unwrap(err)), "check the path; network shares must be mounted first")
		}
		roots = append(roots, filepath.Clean(abs))
	}
	host := o.host
	if host == "" {
		host = filepath.Base(roots[0])
		if host == "/" || host == "." {
			host, _ = os.Hostname()
		}
	}
	if o.tmpDir != "" {
		tmp, _ := filepath.Abs(o.tmpDir)
		for _, r := range roots {
			if tmp == r || strings.HasPrefix(tmp, r+string(filepath.Separator)) {
				return usageError{fmt.Errorf("--tmp %s lies inside the scanned tree %s: scan never writes to evidence", o.tmpDir, r)}
			}
		}
	}

	dets, closeDets, digest, yaraRules, err := buildDetectors(g, o)
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
	runID, err := st.BeginRun(ctx, incident.Run{HostID: h.ID, Kind: incident.RunScan, Args: os.Args[1:], RuleSet: digest})
	if err != nil {
		return err
	}

	var known func(string, source.Info) (scan.Prior, bool)
	if !o.full && !o.quick {
		ids, err := st.FileIdentities(ctx, h.ID)
		if err != nil {
			return err
		}
		known = func(path string, in source.Info) (scan.Prior, bool) {
			id, ok := ids[path]
			if !ok || !id.Reusable || id.RuleSet != digest || id.Size != in.Size || id.Dev != in.Dev || id.Ino != in.Ino ||
				!id.ModTime.Equal(in.ModTime) || !id.ChangeTime.Equal(in.ChangeTime) {
				return scan.Prior{}, false
			}
			return scan.Prior{Verdict: id.Verdict, Reason: id.Reason, SHA256: id.SHA256}, true
		}
	}
	eng := scan.New(scan.Config{
		Detectors: dets, Hashes: screeningHashes(dets), Limits: limits, Workers: o.workers, Quick: o.quick, Known: known, Log: g.log, TempDir: o.tmpDir,
		Walk: walkOptions(o),
	})

	if o.quick && !g.quiet && format != ui.FormatTable {
		fmt.Fprintln(g.stderr, "kintsugi: --quick is damage triage, NOT a screening verdict: it samples blocks and stores its results as triage")
	}

	// Pre-count for the progress bar's ETA, walking alongside the scan.
	var total atomic.Int64
	var counted atomic.Bool
	var pr *ui.Progress
	if !g.quiet {
		pr = ui.StartProgress(g.stderr, ui.Counters{
			Label: host, Files: eng.Progress.Files.Load, Bytes: eng.Progress.Bytes.Load,
			Total: func() (int64, bool) { return total.Load(), counted.Load() },
		})
		if ui.IsTerminal(g.stderr) {
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
				source.Walk(ctx, roots, walkOptions(o), ch)
				close(ch)
			}()
		}
	}

	var rw ui.RecordWriter
	switch format {
	case ui.FormatJSONL:
		rw = ui.NewJSONL(g.stdout)
	case ui.FormatCSV:
		rw = ui.NewCSV(g.stdout, scanCSVHeader, scanCSVRow)
	}
	stats := &scanStats{Host: host, Verdicts: map[incident.Verdict]casestore.Count{}, Quick: o.quick, RuleSet: digest, YaraRules: yaraRules}
	w := &scanWriter{st: st, hostID: h.ID, runID: runID, ruleset: digest, quick: o.quick}
	var top []scan.Result
	start := time.Now()
	runErr := eng.Run(ctx, roots, func(r scan.Result) error {
		stats.add(r)
		if r.Kind == source.KindLinkInTree || r.Kind == source.KindExcluded {
			return nil
		}
		scan.SortFindings(r.Findings)
		if err := w.add(ctx, r); err != nil {
			return err
		}
		if r.Verdict != incident.Clean && len(top) < 1000 {
			top = append(top, r)
		}
		if rw != nil && (o.all || r.Verdict != incident.Clean) {
			if err := rw.Write(newScanRecord(host, r, o.quick)); err != nil {
				return err
			}
		}
		return nil
	})
	stats.Seconds = time.Since(start).Seconds()
	if pr != nil {
		pr.Stop()
	}
	// Store what was done even when interrupted: the next run resumes.
	flushCtx := context.WithoutCancel(ctx)
	if err := w.flush(flushCtx); err != nil && runErr == nil {
		runErr = err
	}
	status := incident.RunDone
	switch {
	case errors.Is(runErr, context.Canceled):
		status, stats.Interrupted = incident.RunInterrupted, true
	case runErr != nil:
		status = incident.RunFailed
	}
	sb, _ := json.Marshal(stats)
	if err := st.FinishRun(flushCtx, runID, status, sb); err != nil && runErr == nil {
		runErr = err
	}
	if rw != nil {
		if err := rw.Flush(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return runErr
	}
	imp, impErr := updateImpact(ctx, st, h.ID, o.quick)
	if impErr != nil {
		return fmt.Errorf("host impact: %w", impErr)
	}
	if format == ui.FormatTable && !g.quiet {
		printScanSummary(g, stats, top, g.casePath, runID)
		printImpact(g.stdout, host, imp, o.quick)
		if !o.quick {
			if counts, err := st.VerdictCounts(ctx, h.ID); err == nil {
				fmt.Fprintf(g.stdout, "host %s in this case, all scans so far: %s\n", host, countsLine(counts))
			}
		}
	} else if !g.quiet && !ui.IsTerminal(g.stdout) {
		// Machine output on stdout: the one-line summary goes to stderr.
		fmt.Fprintf(g.stderr, "kintsugi: %s\n", summaryLine(stats))
	}
	if stats.found() {
		return errFound
	}
	return nil
}

// buildDetectors assembles the detectors the options ask for and the
// digest of everything that decides verdicts.
func buildDetectors(g *globals, o *scanOptions) ([]scan.Detector, func(), string, int, error) {
	var dets []scan.Detector
	closers := []func(){}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	list := names.Builtin()
	if o.namesFile != "" {
		l, err := names.Load(o.namesFile)
		if err != nil {
			return nil, nil, "", 0, err
		}
		list = l
	}
	dets = append(dets, names.NewDetector(list))
	yaraRules := 0
	switch {
	case o.noYara:
		if len(o.rules) > 0 {
			return nil, nil, "", 0, usageError{errors.New("--no-yara and --rules exclude each other")}
		}
	case !yara.Available:
		return nil, nil, "", 0, withHint(errors.New("YARA is unavailable: this kintsugi was built without cgo"),
			"rebuild with CGO_ENABLED=1 after 'apt-get install libyara-dev'",
			"or pass --no-yara to screen with the other detectors only")
	default:
		if o.noBuiltin && len(o.rules) == 0 {
			return nil, nil, "", 0, usageError{errors.New("--no-builtin-rules needs --rules (or --no-yara)")}
		}
		r, err := yara.Compile(yara.Options{BuiltIn: !o.noBuiltin, Paths: o.rules, SkipBroken: o.skipBadRules, CacheDir: ruleCacheDir(g)})
		if err != nil {
			var ce *yara.CompileError
			if errors.As(err, &ce) {
				return nil, nil, "", 0, withHint(err, "fix or remove that rule file, or pass --skip-bad-rules to go on without it (it is then listed)")
			}
			return nil, nil, "", 0, err
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(g.stderr, "kintsugi: left out rule file that does not compile: %s\n", s.Error())
		}
		d := yara.NewDetector(r, yara.Options{Timeout: o.yaraTimeout})
		closers = append(closers, d.Close)
		dets = append(dets, d)
		yaraRules = r.Count
	}
	if len(o.iocs)+len(o.iocNames) > 0 {
		set := ioc.NewSet()
		for _, f := range o.iocs {
			if err := set.LoadHashFile(f); err != nil {
				closeAll()
				return nil, nil, "", 0, err
			}
		}
		for _, f := range o.iocNames {
			if err := set.LoadNameFile(f); err != nil {
				closeAll()
				return nil, nil, "", 0, err
			}
		}
		dets = append(dets, ioc.NewDetector(set))
	}
	dets = append(dets, extraDetectors(o)...)
	return dets, closeAll, rulesetDigest(dets), yaraRules, nil
}

// rulesetDigest combines the binary's version and every detector's rule
// digest: a verdict is reused only when all of them are unchanged.
func rulesetDigest(dets []scan.Detector) string {
	parts := []string{"kintsugi:" + versionString()}
	for _, d := range dets {
		if rd, ok := d.(scan.RuleSetDigester); ok {
			parts = append(parts, rd.RuleSetDigest())
		} else {
			parts = append(parts, d.Name())
		}
	}
	sort.Strings(parts[1:])
	return shortDigest(strings.Join(parts, "\n"))
}

// scanWriter batches results into the case store: one transaction per
// batch, flushed by size or age, so parallel workers never wait on the
// database one file at a time.
type scanWriter struct {
	st      casestore.Store
	hostID  int64
	runID   int64
	ruleset string
	quick   bool
	files   []casestore.FileRecord
	triage  []casestore.TriageRecord
	last    time.Time
}

const batchSize = 512

func (w *scanWriter) add(ctx context.Context, r scan.Result) error {
	if r.Unchanged {
		return nil // the stored verdict stands
	}
	now := time.Now()
	if w.quick {
		w.triage = append(w.triage, casestore.TriageRecord{HostID: w.hostID, Path: []byte(r.Path), Size: r.Info.Size, ModTime: r.Info.ModTime,
			Verdict: r.Verdict, Reason: r.Reason, RunID: w.runID, ScannedAt: now, Findings: r.Findings})
	} else {
		w.files = append(w.files, casestore.FileRecord{HostID: w.hostID, Path: []byte(r.Path), Size: r.Info.Size, ModTime: r.Info.ModTime,
			ChangeTime: r.Info.ChangeTime, Dev: r.Info.Dev, Ino: r.Info.Ino, Mode: uint32(r.Info.Mode), SHA256: r.Sums.SHA256, SHA1: r.Sums.SHA1,
			MD5: r.Sums.MD5, Verdict: r.Verdict, Reason: r.Reason, RuleSet: w.ruleset, Reusable: r.Reusable && r.Kind == source.KindFile,
			RunID: w.runID, ScannedAt: now, Findings: r.Findings})
	}
	if len(w.files)+len(w.triage) >= batchSize || now.Sub(w.last) > 2*time.Second {
		return w.flush(ctx)
	}
	return nil
}

func (w *scanWriter) flush(ctx context.Context) error {
	w.last = time.Now()
	if err := w.st.PutFiles(ctx, w.files); err != nil {
		return fmt.Errorf("case store: %w", err)
	}
	if err := w.st.PutTriage(ctx, w.triage); err != nil {
		return fmt.Errorf("case store: %w", err)
	}
	w.files, w.triage = w.files[:0], w.triage[:0]
	return nil
}

// scanRecord is one line of --format jsonl; the field names are stable and
// documented in docs/scan-output.md.
type scanRecord struct {
	Path      string             `json:"path"`
	PathBytes string             `json:"path_bytes,omitempty"`
	Host      string             `json:"host"`
	Verdict   incident.Verdict   `json:"verdict"`
	Reason    string             `json:"reason"`
	Detector  string             `json:"detector"`
	Rule      string             `json:"rule"`
	Member    string             `json:"member,omitempty"`
	Severity  incident.Severity  `json:"severity,omitempty"`
	SHA256    string             `json:"sha256"`
	Size      int64              `json:"size"`
	MTime     string             `json:"mtime"`
	Unchanged bool               `json:"unchanged,omitempty"`
	Triage    bool               `json:"triage,omitempty"`
	Findings  []incident.Finding `json:"findings,omitempty"`
}

func newScanRecord(host string, r scan.Result, quick bool) scanRecord {
	rec := scanRecord{Path: ui.Path(r.Path), Host: host, Verdict: r.Verdict, Reason: r.Reason, SHA256: r.Sums.SHA256, Size: r.Info.Size,
		MTime: ui.Time(r.Info.ModTime), Unchanged: r.Unchanged, Triage: quick, Findings: r.Findings}
	if !utf8.ValidString(r.Path) {
		rec.PathBytes = base64.StdEncoding.EncodeToString([]byte(r.Path))
	}
	if len(r.Findings) > 0 && r.Findings[0].Verdict == r.Verdict {
		f := r.Findings[0]
		rec.Detector, rec.Rule, rec.Member, rec.Severity = f.Detector, f.Rule, f.Member, f.Severity
	}
	return rec
}

var scanCSVHeader = []string{"path", "host", "verdict", "reason", "detector", "rule", "member", "severity", "sha256", "size", "mtime", "unchanged", "triage"}

func scanCSVRow(v any) []string {
	r := v.(scanRecord)
	return []string{r.Path, r.Host, string(r.Verdict), r.Reason, r.Detector, r.Rule, r.Member, string(r.Severity), r.SHA256, ui.Int(r.Size), r.MTime,
		fmt.Sprint(r.Unchanged), fmt.Sprint(r.Triage)}
}

func summaryLine(s *scanStats) string {
	var parts []string
	for _, v := range incident.Verdicts {
		if c := s.Verdicts[v]; c.Files > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.Files, v))
		}
	}
	rate := 0.0
	if s.Seconds > 0 {
		rate = float64(s.BytesRead) / s.Seconds / 1e6
	}
	what := fmt.Sprintf("%s read in %.1fs (%.0f MB/s)", ui.Bytes(s.BytesRead), s.Seconds, rate)
	if s.Unchanged > 0 {
		what += fmt.Sprintf(", %d unchanged files not read again", s.Unchanged)
	}
	kind := "scanned"
	if s.Quick {
		kind = "triaged (not a screening verdict)"
		if s.Bytes > 0 {
			what += fmt.Sprintf(", %.2f%% of their bytes", 100*float64(s.BytesRead)/float64(s.Bytes))
		}
	}
	return fmt.Sprintf("host %s: %d files (%s) %s: %s; %s", s.Host, s.Files, ui.Bytes(s.Bytes), kind, what, strings.Join(parts, ", "))
}

func printScanSummary(g *globals, s *scanStats, top []scan.Result, casePath string, runID int64) {
	w := g.stdout
	if s.Quick {
		fmt.Fprintln(w, "TRIAGE ONLY (--quick): sampled blocks, not a screening verdict. Run a full scan before migrating anything.")
	}
	fmt.Fprintln(w, summaryLine(s))
	t := &ui.Table{Header: []string{"verdict", "files", "bytes"}, Right: []bool{false, true, true}}
	for _, v := range incident.Verdicts {
		c := s.Verdicts[v]
		t.Add(v, c.Files, ui.Bytes(c.Bytes))
	}
	t.Write(w)
	if s.Unchanged > 0 {
		fmt.Fprintf(w, "%d unchanged files kept their earlier verdicts (use --full to examine them again)\n", s.Unchanged)
	}
	if s.Links > 0 {
		fmt.Fprintf(w, "%d symbolic links inside the tree: their targets were examined at their own paths\n", s.Links)
	}
	if s.Excluded > 0 {
		fmt.Fprintf(w, "%d entries excluded by --exclude\n", s.Excluded)
	}
	if len(top) > 0 {
		sort.SliceStable(top, func(i, j int) bool {
			if a, b := top[i].Verdict.Rank(), top[j].Verdict.Rank(); a != b {
				return a > b
			}
			return top[i].Path < top[j].Path
		})
		const show = 15
		fmt.Fprintf(w, "\nfound (paths below %s):\n", ui.Path(top[0].Root))
		ft := &ui.Table{}
		for i, r := range top {
			if i == show {
				break
			}
			rel, err := filepath.Rel(r.Root, r.Path)
			if err != nil || rel == "." {
				rel = r.Path
			}
			ft.Add("  "+string(r.Verdict), ui.Truncate(ui.Path(rel), 50), ui.Truncate(r.Reason, 100))
		}
		ft.Write(w)
		if n := countFound(s); n > show {
			fmt.Fprintf(w, "  ... and %d more: kintsugi scan --format jsonl, or the case store\n", n-show)
		}
	}
	fmt.Fprintf(w, "\ncase store: %s (run %d)\n", casePath, runID)
}

// countsLine sums per-verdict counts in one line.
func countsLine(counts map[incident.Verdict]casestore.Count) string {
	var total casestore.Count
	var parts []string
	for _, v := range incident.Verdicts {
		c := counts[v]
		total.Files += c.Files
		total.Bytes += c.Bytes
		if c.Files > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.Files, v))
		}
	}
	return fmt.Sprintf("%d files (%s): %s", total.Files, ui.Bytes(total.Bytes), strings.Join(parts, ", "))
}

func countFound(s *scanStats) int64 {
	var n int64
	for v, c := range s.Verdicts {
		if v != incident.Clean {
			n += c.Files
		}
	}
	return n
}
