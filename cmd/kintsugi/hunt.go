package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/authlog"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/builtin"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/correlate"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/evtx"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/sigma"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/ui"
	"github.com/kintsugi-ir/kintsugi/internal/workhours"
)

type huntOptions struct {
	host      string
	sigmaDir  string
	timeline  string
	format    string
	workers   int
	tz        string
	workHours string
	workDays  string
	noStore   bool
}

func newHuntCommand(g *globals) *cobra.Command {
	var o huntOptions
	cmd := &cobra.Command{
		Use:   "hunt [flags] PATH...",
		Short: "Read collected logs into per-server verdicts, an account map and a timeline",
		Long: `hunt reads the logs collected from every server (Windows .evtx; Linux auth.log,
secure, syslog in RFC 3164 or 5424; journalctl -o json exports; JSONL events; any
of them gzip, bzip2, xz or zstd compressed) from files and folders, runs the
built-in detections and any Sigma rules over them, and tells for each server
whether it was accessed, had files encrypted, or had data sent out, with the
evidence behind each answer, which account logged on where, and one timeline.

The format of each file is found from its content. The host of a record is the
one it names (EVTX Computer, syslog hostname); else the per-host folder it was
found in (PATH/<host>/...); else --host; else the name of the folder given.
Files are opened read-only; links inside folders are not followed. A damaged
file is read as far as it can be and the loss is reported per file.

Results go into the case store (see kintsugi hosts); encryption found by
kintsugi scan on the same host counts towards its "encrypted" verdict.

` + exitHelpText,
		Example: `  kintsugi hunt /evidence/logs                       # one folder per server below
  kintsugi hunt --host web01 web01-auth.log.2.gz
  kintsugi hunt --sigma ../sigma/rules/windows --timeline timeline.csv /evidence
  kintsugi hunt --format jsonl /evidence > hunt.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHunt(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "host `NAME` for records that name none, outside per-host folders")
	f.StringVar(&o.sigmaDir, "sigma", "", "also run the SigmaHQ-format rules under `DIR` (or one rule file)")
	f.StringVar(&o.timeline, "timeline", "", "write the merged timeline to `FILE.csv` (Timeline Explorer layout)")
	f.StringVar(&o.format, "format", "table", "output `FORMAT`: table or jsonl")
	f.IntVar(&o.workers, "workers", 0, "files read at once (default: number of CPUs)")
	f.StringVar(&o.tz, "tz", "Asia/Tokyo", "site time `ZONE`: working hours, times shown, syslog lines without a zone")
	f.StringVar(&o.workHours, "work-hours", "8-19", "working `HOURS` (start-end, 24-hour clock, in --tz)")
	f.StringVar(&o.workDays, "work-days", "mon-fri", "working `DAYS` (mon-fri, or a list: mon,tue,sat)")
	f.BoolVar(&o.noStore, "no-store", false, "do not write results into the case store")
	return cmd
}

// huntConfig is the parsed command line.
type huntConfig struct {
	loc      *time.Location
	builtin  builtin.Config
	jsonl    bool
	progress bool
}

func parseHuntOptions(g *globals, o huntOptions) (huntConfig, error) {
	var c huntConfig
	switch o.format {
	case "table":
	case "jsonl":
		c.jsonl = true
	default:
		return c, usageError{fmt.Errorf("--format %q: want table or jsonl", o.format)}
	}
	loc, err := time.LoadLocation(o.tz)
	if err != nil {
		return c, usageError{fmt.Errorf("--tz %q: %w", o.tz, err)}
	}
	c.loc = loc
	start, end, ok := strings.Cut(o.workHours, "-")
	s, err1 := strconv.Atoi(strings.TrimSpace(start))
	e, err2 := strconv.Atoi(strings.TrimSpace(end))
	if !ok || err1 != nil || err2 != nil || s < 0 || e > 24 || s >= e {
		return c, usageError{fmt.Errorf("--work-hours %q: want START-END with 0 <= START < END <= 24, like 8-19", o.workHours)}
	}
	days, err := parseWorkDays(o.workDays)
	if err != nil {
		return c, usageError{fmt.Errorf("--work-days %q: %w", o.workDays, err)}
	}
	c.builtin = builtin.Config{Hours: workhours.Hours{Location: loc, WorkStart: s, WorkEnd: e, WorkDays: days}}
	if o.workers < 0 {
		return c, usageError{fmt.Errorf("--workers %d: want 0 (all CPUs) or more", o.workers)}
	}
	c.progress = !c.jsonl && !g.quiet && ui.IsTerminal(g.stderr)
	return c, nil
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseWorkDays(s string) ([]time.Weekday, error) {
	day := func(n string) (int, error) {
		for i, d := range weekdays {
			if strings.EqualFold(strings.TrimSpace(n), d) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", n)
	}
	var out []time.Weekday
	for _, part := range strings.Split(s, ",") {
		if a, b, ok := strings.Cut(part, "-"); ok {
			i, err := day(a)
			if err != nil {
				return nil, err
			}
			j, err := day(b)
			if err != nil {
				return nil, err
			}
			for k := i; ; k = (k + 1) % 7 {
				out = append(out, time.Weekday(k))
				if k == j {
					break
				}
			}
			continue
		}
		i, err := day(part)
		if err != nil {
			return nil, err
		}
		out = append(out, time.Weekday(i))
	}
	return out, nil
}

// evtxFormat hands EVTX files to the evtx reader.
type evtxFormat struct{ workers int }

func (evtxFormat) Name() string       { return "evtx" }
func (evtxFormat) RandomAccess() bool { return true }
func (evtxFormat) Sniff(h []byte) bool {
	return bytes.HasPrefix(h, []byte("ElfFile\x00")) ||
		(len(h) >= 4096+8 && bytes.HasPrefix(h[4096:], []byte("ElfChnk\x00")))
}

func (f evtxFormat) Decode(ctx context.Context, in *hunt.Input, emit func(*hunt.Event) error) (hunt.DecodeStats, error) {
	st, err := evtx.ReadFrom(ctx, in.ReaderAt, in.Size, in.Path, evtx.Options{Workers: f.workers, Concurrent: true}, emit)
	ds := hunt.DecodeStats{Records: int64(st.Records), Bad: int64(st.RecordsBad + st.ChunksBad)}
	if len(st.Problems) > 0 {
		ds.BadReason = st.Problems[0].String()
		if len(st.Problems) > 1 {
			ds.BadReason += fmt.Sprintf(" (and %d more problems)", len(st.Problems)-1)
		}
	}
	if st.ChunksBad > 0 && ds.Bad == 0 {
		ds.Bad = int64(st.ChunksBad)
	}
	return ds, err
}

// huntFormats lists the formats hunt reads, EVTX first.
func huntFormats(workers int) []hunt.Format {
	return []hunt.Format{evtxFormat{workers: workers}, authlog.Journal{}, authlog.JSONL{}, authlog.Syslog{}}
}

// collector gathers what the readers' goroutines produce.
type collector struct {
	mu         sync.Mutex
	detections []hunt.Detection
	coverage   map[string]*correlate.Coverage
}

func (c *collector) add(d hunt.Detection) {
	c.mu.Lock()
	c.detections = append(c.detections, d)
	c.mu.Unlock()
}

func (c *collector) saw(ev *hunt.Event) {
	c.mu.Lock()
	cv := c.coverage[ev.Host]
	if cv == nil {
		cv = &correlate.Coverage{Host: ev.Host}
		c.coverage[ev.Host] = cv
	}
	cv.Events++
	if !ev.Time.IsZero() {
		if cv.First.IsZero() || ev.Time.Before(cv.First) {
			cv.First = ev.Time
		}
		if ev.Time.After(cv.Last) {
			cv.Last = ev.Time
		}
	}
	c.mu.Unlock()
}

// systemAccount reports names that say nothing about who acted: machine
// accounts and Windows' own identities.
func systemAccount(s string) bool {
	a, _ := hunt.AccountKey(s)
	switch a {
	case "", "-", "system", "local service", "network service", "anonymous logon", "localsystem":
		return true
	}
	return strings.HasSuffix(a, "$") || strings.HasPrefix(a, "dwm-") || strings.HasPrefix(a, "umfd-")
}

// sigmaDetection turns a Sigma match into a detection.
func sigmaDetection(m sigma.Match) hunt.Detection {
	cat, techniques := hunt.CategoryFromTags(m.Rule.Tags)
	ev := m.Event
	d := hunt.Detection{RuleID: m.Rule.ID, Title: m.Rule.Title, Engine: "sigma", Severity: hunt.SeverityFromLevel(m.Rule.Level),
		Category: cat, Techniques: techniques, Time: ev.Time, Host: ev.Host, Count: 1, Event: ev.Ref()}
	for _, f := range []string{"TargetUserName", "SubjectUserName", "User", "user", "AccountName"} {
		if s := ev.Field(f); s != "" && !systemAccount(s) {
			d.Account = s
			break
		}
	}
	for _, f := range []string{"IpAddress", "source_ip", "SourceIp", "WorkstationName"} {
		if s := ev.Field(f); s != "" && s != "-" {
			d.Source = s
			break
		}
	}
	var parts []string
	for _, mf := range m.Fields {
		parts = append(parts, mf.Name+"="+ui.Truncate(mf.Value, 200))
	}
	if len(parts) == 0 && ev.Message != "" {
		parts = append(parts, ev.Message)
	}
	d.Details = strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
	return d
}

func runHunt(ctx context.Context, g *globals, o huntOptions, paths []string) error {
	cfg, err := parseHuntOptions(g, o)
	if err != nil {
		return err
	}
	engine, err := builtin.New(cfg.builtin)
	if err != nil {
		return fmt.Errorf("built-in detections: %w", err)
	}
	var rules *sigma.RuleSet
	var ruleReport *sigma.LoadReport
	if o.sigmaDir != "" {
		rules, ruleReport, err = sigma.LoadPath(o.sigmaDir)
		if err != nil {
			return withHint(err, "--sigma takes a folder of SigmaHQ-format rules, like sigma/rules/windows")
		}
		reportRuleProblems(g, ruleReport)
	}
	var store casestore.Store
	if !o.noStore {
		s, err := g.openStore(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		store = s
	}
	var tl *os.File
	if o.timeline != "" {
		tl, err = os.OpenFile(o.timeline, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("timeline: %w", err)
		}
		defer tl.Close()
	}

	workers := o.workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	col := &collector{coverage: map[string]*correlate.Coverage{}}
	opt := hunt.Options{Formats: huntFormats(workers), Host: o.host, Location: cfg.loc, Workers: workers, Log: g.log}
	var filesTotal, bytesRead, bytesTotal atomic.Int64
	var listed atomic.Bool
	opt.OnStart = func(files int, total int64) {
		filesTotal.Store(int64(files))
		bytesTotal.Store(total)
		listed.Store(true)
	}
	opt.OnProgress = func(n int64) { bytesRead.Add(n) }
	var pr *ui.Progress
	if cfg.progress {
		pr = ui.StartProgress(g.stderr, ui.Counters{
			Label: "hunt", Files: filesTotal.Load, Bytes: bytesRead.Load,
			Total: func() (int64, bool) { return bytesTotal.Load(), listed.Load() },
		})
	}
	started := time.Now()
	rep, err := hunt.Read(ctx, paths, opt, func(ev *hunt.Event) error {
		col.saw(ev)
		if rules != nil {
			rules.Match(ev, func(m sigma.Match) { col.add(sigmaDetection(m)) })
		}
		engine.Observe(ev, col.add)
		return nil
	})
	if pr != nil {
		pr.Stop()
	}
	if err != nil {
		return err
	}
	elapsed := time.Since(started)
	all := append(col.detections, engine.Finish(col.detections)...)

	in := correlate.Input{Detections: all, Logons: engine.Logons()}
	for _, c := range col.coverage {
		in.Coverage = append(in.Coverage, *c)
	}
	if store != nil {
		in.Damage, err = storedDamage(ctx, store)
		if err != nil {
			return fmt.Errorf("case store: %w", err)
		}
	}
	res := correlate.Correlate(in)

	if tl != nil {
		if err := correlate.WriteTimelineCSV(tl, res.Timeline, cfg.loc); err != nil {
			return fmt.Errorf("timeline %s: %w", o.timeline, err)
		}
		if err := tl.Close(); err != nil {
			return fmt.Errorf("timeline %s: %w", o.timeline, err)
		}
	}
	stats := huntStats{Files: len(rep.Files), Records: rep.Records, Bytes: rep.Bytes, Detections: len(all),
		Seconds: elapsed.Seconds(), Losses: len(rep.Losses())}
	if ruleReport != nil {
		stats.SigmaLoaded, stats.SigmaProblems = ruleReport.Loaded, len(ruleReport.Problems)
	}
	if store != nil {
		if err := storeHunt(ctx, store, o, paths, res, stats); err != nil {
			return fmt.Errorf("case store: %w", err)
		}
	}
	if cfg.jsonl {
		err = writeHuntJSONL(g.stdout, res, rep, ruleReport, stats)
	} else {
		err = writeHuntTable(g.stdout, res, rep, stats, cfg.loc)
	}
	if err != nil {
		return err
	}
	reportLosses(g, rep)
	if len(all) > 0 || len(rep.Losses()) > 0 {
		return errFound
	}
	return nil
}

// huntStats go into the run record and the summary line.
type huntStats struct {
	Files         int     `json:"files"`
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Detections    int     `json:"detections"`
	Losses        int     `json:"files_with_loss"`
	Seconds       float64 `json:"seconds"`
	SigmaLoaded   int     `json:"sigma_rules_loaded,omitempty"`
	SigmaProblems int     `json:"sigma_rules_not_loaded,omitempty"`
}

func reportRuleProblems(g *globals, rep *sigma.LoadReport) {
	if len(rep.Problems) == 0 {
		return
	}
	reasons := map[string]int{}
	for _, p := range rep.Problems {
		g.log.Info("sigma rule not used", "rule", p.ID, "title", p.Title, "path", p.Path, "reason", p.Reason)
		r := p.Reason
		if i := strings.IndexAny(r, ":("); i > 0 {
			r = strings.TrimSpace(r[:i])
		}
		reasons[r]++
	}
	type kv struct {
		r string
		n int
	}
	var top []kv
	for r, n := range reasons {
		top = append(top, kv{r, n})
	}
	sort.Slice(top, func(a, b int) bool { return top[a].n > top[b].n || top[a].n == top[b].n && top[a].r < top[b].r })
	fmt.Fprintf(g.stderr, "kintsugi: sigma: %d rules loaded, %d cannot be used\n", rep.Loaded, len(rep.Problems))
	for i, t := range top {
		if i == 5 {
			fmt.Fprintf(g.stderr, "  ... and %d other reasons\n", len(top)-5)
			break
		}
		fmt.Fprintf(g.stderr, "  %d: %s\n", t.n, t.r)
	}
	fmt.Fprintln(g.stderr, "hint: each rule and its reason: add -v, or --format jsonl (records of type rule_problem)")
}

func reportLosses(g *globals, rep *hunt.Report) {
	ls := rep.Losses()
	if len(ls) == 0 {
		return
	}
	fmt.Fprintf(g.stderr, "kintsugi: %d file(s) not fully read\n", len(ls))
	for i, f := range ls {
		if i == 10 && !g.verbose {
			fmt.Fprintf(g.stderr, "  ... and %d more\n", len(ls)-10)
			break
		}
		fmt.Fprintf(g.stderr, "  %s: %s: %d records read, %d lost: %s\n", ui.Path(f.Path), f.Status, f.Records, f.Bad, f.Reason)
	}
	fmt.Fprintln(g.stderr, "hint: every readable record of these files was used; the list per file is in --format jsonl (type file)")
}

// storedDamage reads scan's encryption evidence per host from the case.
func storedDamage(ctx context.Context, s casestore.Store) ([]correlate.Damage, error) {
	hosts, err := s.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	var out []correlate.Damage
	for _, h := range hosts {
		d, err := hostDamage(ctx, s, h)
		if err != nil {
			return nil, err
		}
		if d.Files > 0 || d.Notes > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

var errEnough = errors.New("enough examples")

// hostDamage reads what scan found of encryption on a host: files it
// judged encrypted (else, without a screening, quick triage's), files
// with a damage finding under another verdict, and ransom notes found by
// content, with a few examples.
func hostDamage(ctx context.Context, s casestore.Store, h incident.Host) (correlate.Damage, error) {
	d := correlate.Damage{Host: h.Name}
	counts, err := s.VerdictCounts(ctx, h.ID)
	if err != nil {
		return d, err
	}
	d.Files = int(counts[incident.Encrypted].Files)
	if d.Files > 0 {
		err := s.Files(ctx, h.ID, casestore.FileQuery{Verdicts: []incident.Verdict{incident.Encrypted}}, func(r casestore.FileRecord) error {
			d.Examples = append(d.Examples, ui.Path(string(r.Path)))
			if len(d.Examples) == 3 {
				return errEnough
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return d, err
		}
	} else {
		err = s.Triage(ctx, h.ID, func(r casestore.TriageRecord) error {
			if r.Verdict == incident.Encrypted {
				d.Files++
				if len(d.Examples) < 3 {
					d.Examples = append(d.Examples, ui.Path(string(r.Path))+" (quick triage)")
				}
			}
			return nil
		})
		if err != nil {
			return d, err
		}
	}
	if counts[incident.Malicious].Files+counts[incident.Suspect].Files == 0 {
		return d, nil
	}
	err = s.Files(ctx, h.ID, casestore.FileQuery{Verdicts: []incident.Verdict{incident.Malicious, incident.Suspect}, WithFindings: true},
		func(r casestore.FileRecord) error {
			damaged, note := false, false
			for _, f := range r.Findings {
				rule := strings.ToLower(f.Rule)
				damaged = damaged || f.Detector == "damage"
				note = note || strings.Contains(rule, "ransom_note") || strings.Contains(rule, "ransom-note")
			}
			if damaged {
				d.Files++
				if len(d.Examples) < 3 {
					d.Examples = append(d.Examples, ui.Path(string(r.Path)))
				}
			}
			if note {
				d.Notes++
				if len(d.NoteExamples) < 3 {
					d.NoteExamples = append(d.NoteExamples, ui.Path(string(r.Path)))
				}
			}
			return nil
		})
	return d, err
}

// storeHunt writes the verdicts, detections and logons of every host.
func storeHunt(ctx context.Context, s casestore.Store, o huntOptions, paths []string, res *correlate.Result, stats huntStats) error {
	statsJSON, _ := json.Marshal(stats)
	detByHost := map[string][]hunt.Detection{}
	for _, d := range res.Timeline {
		k := hunt.HostKey(d.Host)
		detByHost[k] = append(detByHost[k], d)
	}
	edgeByHost := map[string][]correlate.Edge{}
	for _, e := range res.Edges {
		edgeByHost[e.Host] = append(edgeByHost[e.Host], e)
	}
	args := append([]string{}, paths...)
	if o.sigmaDir != "" {
		args = append(args, "--sigma", o.sigmaDir)
	}
	for _, h := range res.Hosts {
		sh, err := s.Host(ctx, h.Host)
		if err != nil {
			return err
		}
		runID, err := s.BeginRun(ctx, incident.Run{HostID: sh.ID, Kind: incident.RunHunt, Started: time.Now(), Status: incident.RunRunning, Args: args})
		if err != nil {
			return err
		}
		data, err := json.Marshal(h)
		if err != nil {
			return err
		}
		huntOnlyEncrypted := false
		for _, ev := range h.Encrypted.Evidence {
			if ev.RuleID != "" {
				huntOnlyEncrypted = true
			}
		}
		rec := casestore.HuntHost{HostID: sh.ID, RunID: runID, Accessed: h.Accessed.Value, Encrypted: huntOnlyEncrypted,
			Exfiltrated: h.Exfiltrated.Value, FirstSeen: h.FirstSeen, LastSeen: h.LastSeen, Evidence: h.EvidenceCount, Data: data}
		var ds []casestore.HuntDetection
		for _, d := range detByHost[h.Host] {
			dj, err := json.Marshal(d)
			if err != nil {
				return err
			}
			ds = append(ds, casestore.HuntDetection{HostID: sh.ID, RunID: runID, Time: d.Time, Last: d.Last, RuleID: d.RuleID,
				Engine: d.Engine, Title: d.Title, Severity: string(d.Severity), Category: string(d.Category),
				Account: d.Account, Source: d.Source, Data: dj})
		}
		var ls []casestore.HuntLogon
		for _, e := range edgeByHost[h.Host] {
			ls = append(ls, casestore.HuntLogon{HostID: sh.ID, RunID: runID, Account: e.Account, Source: e.Source, Kinds: e.Kinds,
				First: e.First, Last: e.Last, Count: e.Count, Privileged: e.Privileged, Suspicious: e.Suspicious})
		}
		if err := s.PutHunt(ctx, rec, ds, ls); err != nil {
			return err
		}
		if err := s.FinishRun(ctx, runID, incident.RunDone, statsJSON); err != nil {
			return err
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}

func showTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

func writeHuntTable(w io.Writer, res *correlate.Result, rep *hunt.Report, st huntStats, loc *time.Location) error {
	t := &ui.Table{Header: []string{"HOST", "ACCESSED", "ENCRYPTED", "EXFILTRATED", "FIRST SEEN", "LAST SEEN", "EVIDENCE", "FIRST ACCESS"},
		Right: []bool{false, false, false, false, false, false, true, false}}
	for _, h := range res.Hosts {
		first := "-"
		if a := h.Accessed; a.Value {
			first = a.Evidence[0].Title
			if a.Account != "" {
				first = a.Account
				if a.Source != "" {
					first += " from " + a.Source
				}
				first += " (" + a.Via + ")"
			}
		}
		t.Add(h.Host, yesNo(h.Accessed.Value), yesNo(h.Encrypted.Value), yesNo(h.Exfiltrated.Value),
			showTime(h.FirstSeen, loc), showTime(h.LastSeen, loc), h.EvidenceCount, ui.Truncate(first, 100))
	}
	if err := t.Write(w); err != nil {
		return err
	}
	var acc, enc, exf int
	for _, h := range res.Hosts {
		if h.Accessed.Value {
			acc++
		}
		if h.Encrypted.Value {
			enc++
		}
		if h.Exfiltrated.Value {
			exf++
		}
	}
	fmt.Fprintf(w, "\n%d hosts: %d accessed, %d encrypted, %d exfiltrated\n", len(res.Hosts), acc, enc, exf)
	if res.FirstAccess != nil {
		who := ""
		if res.FirstAccess.Account != "" {
			who = " by " + res.FirstAccess.Account
			if res.FirstAccess.Source != "" {
				who += " from " + res.FirstAccess.Source
			}
		}
		fmt.Fprintf(w, "first host reached: %s at %s%s\n", res.FirstHost, showTime(res.FirstAccess.Time, loc), who)
	}
	for _, h := range res.Hosts {
		if h.Exfiltrated.Value {
			fmt.Fprintf(w, "exfiltrated from %s: %s\n", h.Host, h.Exfiltrated.Reason)
		}
	}
	// the account map: suspicious accounts and where they logged on
	byAccount := map[string][]string{}
	var accounts []string
	for _, e := range res.Edges {
		if !e.Suspicious {
			continue
		}
		if _, ok := byAccount[e.Account]; !ok {
			accounts = append(accounts, e.Account)
		}
		if !containsStr(byAccount[e.Account], e.Host) {
			byAccount[e.Account] = append(byAccount[e.Account], e.Host)
		}
	}
	for _, a := range accounts {
		fmt.Fprintf(w, "account %s logged on to %d host(s): %s\n", a, len(byAccount[a]), strings.Join(byAccount[a], ", "))
	}
	_, err := fmt.Fprintf(w, "read %d files (%s), %d records in %.1fs; %d detections\n",
		st.Files, ui.Bytes(st.Bytes), st.Records, st.Seconds, st.Detections)
	return err
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// huntHostRecord is the stable JSONL shape of one host's verdicts, shared
// with kintsugi hosts.
type huntHostRecord struct {
	Type          string          `json:"type"`
	Host          string          `json:"host"`
	Accessed      bool            `json:"accessed"`
	Encrypted     bool            `json:"encrypted"`
	Exfiltrated   bool            `json:"exfiltrated"`
	FirstSeen     *time.Time      `json:"first_seen"`
	LastSeen      *time.Time      `json:"last_seen"`
	EvidenceCount int             `json:"evidence_count"`
	Details       *correlate.Host `json:"details,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func writeHuntJSONL(w io.Writer, res *correlate.Result, rep *hunt.Report, rules *sigma.LoadReport, st huntStats) error {
	write := func(typ string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		// prepend the record type to the object
		if len(b) > 1 && b[0] == '{' {
			head := fmt.Sprintf(`{"type":%q`, typ)
			if len(b) > 2 {
				head += ","
			}
			b = append([]byte(head), b[1:]...)
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	var firstAccess any
	if res.FirstAccess != nil {
		firstAccess = map[string]any{"host": res.FirstHost, "time": res.FirstAccess.Time, "account": res.FirstAccess.Account, "source": res.FirstAccess.Source}
	}
	if err := write("summary", map[string]any{"stats": st, "first_host": firstAccess}); err != nil {
		return err
	}
	for i := range res.Hosts {
		h := &res.Hosts[i]
		rec := huntHostRecord{Type: "host", Host: h.Host, Accessed: h.Accessed.Value, Encrypted: h.Encrypted.Value,
			Exfiltrated: h.Exfiltrated.Value, FirstSeen: timePtr(h.FirstSeen), LastSeen: timePtr(h.LastSeen),
			EvidenceCount: h.EvidenceCount, Details: h}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	for _, e := range res.Edges {
		if err := write("logon_edge", e); err != nil {
			return err
		}
	}
	for _, d := range res.Timeline {
		if err := write("detection", d); err != nil {
			return err
		}
	}
	for _, f := range rep.Files {
		if err := write("file", f); err != nil {
			return err
		}
	}
	if rules != nil {
		for _, p := range rules.Problems {
			if err := write("rule_problem", p); err != nil {
				return err
			}
		}
	}
	return nil
}
