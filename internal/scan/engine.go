package scan

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/bufpool"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan/archive"
	"github.com/kintsugi-ir/kintsugi/internal/source"
	"golang.org/x/sys/unix"
)

// Limits bound the work on one file, so that crafted input (archive bombs,
// deep nesting) cannot exhaust the machine. Exceeding one makes the file
// unscannable with the limit as the reason; it is never called clean.
type Limits struct {
	// MaxSize: larger files are not read at all (0: no limit).
	MaxSize int64
	// WholeFile: files up to this size are read into memory in one piece
	// and every detector sees all of it at once; larger files stream
	// through in Chunk-sized pieces.
	WholeFile int64
	Chunk     int
	// Archive limits.
	MaxDepth    int
	MaxMembers  int
	MaxExpanded int64
	MaxRatio    float64
	// Timeout bounds the examination of one file (0: none).
	Timeout time.Duration
}

// DefaultLimits are the limits used unless the caller sets others.
func DefaultLimits() Limits {
	return Limits{
		WholeFile:   64 << 20,
		Chunk:       8 << 20,
		MaxDepth:    5,
		MaxMembers:  100000,
		MaxExpanded: 64 << 30,
		MaxRatio:    250,
	}
}

// Hashes selects the digests computed for every file and member; SHA-256
// is always computed.
type Hashes struct{ MD5, SHA1 bool }

// Sums are the digests of one file or member, lowercase hex.
type Sums struct{ SHA256, SHA1, MD5 string }

// Prior is an earlier verdict that still holds for an unchanged file.
type Prior struct {
	Verdict incident.Verdict
	Reason  string
	SHA256  string
}

// Config configures an Engine.
type Config struct {
	Detectors []Detector
	Hashes    Hashes
	Limits    Limits
	Workers   int
	Walk      source.WalkOptions
	// Quick runs only the QuickDetectors on sampled blocks; nothing is
	// hashed or streamed and results are triage, not verdicts.
	Quick bool
	// Known, when set, is asked for each file before it is opened; when it
	// returns true the earlier verdict stands and the file is not read.
	Known func(path string, in source.Info) (Prior, bool)
	Log   *slog.Logger
	// TempDir holds spilled archive members too big for memory (default
	// os.TempDir()). Never inside a scanned tree.
	TempDir string
}

// Result is the outcome for one walked entry.
type Result struct {
	Path string
	Root string
	Info source.Info
	// Kind tells regular files from entries that were only reported.
	Kind    source.EntryKind
	Sums    Sums
	Verdict incident.Verdict
	// Reason sums up the deciding finding in one line.
	Reason   string
	Findings []incident.Finding
	// Reusable is false when the verdict came from a transient condition
	// (read error, time limit, change during the read, interruption).
	Reusable bool
	// Unchanged is set when Known vouched for the file and it was not read.
	Unchanged bool
	BytesRead int64
	// TeeErr is the error a Tee returned; the examination stopped there
	// and the result says nothing about the file.
	TeeErr   error
	Duration time.Duration
}

// Progress counts what the engine has done so far; safe to read at any
// time from any goroutine.
type Progress struct {
	Files, Bytes, Found atomic.Int64
	Skipped             atomic.Int64
}

// Engine screens files with a fixed set of detectors.
type Engine struct {
	cfg      Config
	quick    []Detector
	bufs     *bufpool.Pool
	Progress Progress
}

// New returns an engine for cfg, filling in defaults.
func New(cfg Config) *Engine {
	def := DefaultLimits()
	l := &cfg.Limits
	if l.WholeFile <= 0 {
		l.WholeFile = def.WholeFile
	}
	if l.Chunk <= 0 {
		l.Chunk = def.Chunk
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = def.MaxDepth
	}
	if l.MaxMembers <= 0 {
		l.MaxMembers = def.MaxMembers
	}
	if l.MaxExpanded <= 0 {
		l.MaxExpanded = def.MaxExpanded
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = def.MaxRatio
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	// each worker holds a whole-file buffer, a read chunk and archive
	// members at a time; keep about twice that for reuse
	held := int64(cfg.Workers) * 2 * (l.WholeFile + int64(l.Chunk) + 1<<20)
	e := &Engine{cfg: cfg, bufs: bufpool.New(held)}
	for _, d := range cfg.Detectors {
		if q, ok := d.(QuickDetector); ok && q.Quick() {
			e.quick = append(e.quick, d)
		}
	}
	return e
}

// Run walks roots and examines every file, sending one Result per walked
// entry to sink from a single goroutine. It returns when the walk is
// complete and every result was delivered, or ctx is done.
func (e *Engine) Run(ctx context.Context, roots []string, sink func(Result) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	entries := make(chan source.Entry, 4*e.cfg.Workers)
	results := make(chan Result, 4*e.cfg.Workers)
	walkErr := make(chan error, 1)
	go func() {
		walkErr <- source.Walk(ctx, roots, e.cfg.Walk, entries)
		close(entries)
	}()
	todo := entries
	if planners := e.planners(); len(planners) > 0 {
		todo = make(chan source.Entry, 4*e.cfg.Workers)
		go e.prefetch(ctx, planners, entries, todo)
	}
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ent := range todo {
				r := e.examineEntry(ctx, ent, nil, true)
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	var sinkErr error
	for r := range results {
		if sinkErr != nil {
			continue
		}
		if err := sink(r); err != nil {
			sinkErr = err
			cancel()
		}
	}
	if sinkErr != nil {
		return sinkErr
	}
	if err := <-walkErr; err != nil {
		return err
	}
	return ctx.Err()
}

// planners returns the quick detectors that announce their reads, in
// --quick mode.
func (e *Engine) planners() []QuickPlanner {
	if !e.cfg.Quick {
		return nil
	}
	var ps []QuickPlanner
	for _, d := range e.quick {
		if p, ok := d.(QuickPlanner); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// prefetch passes entries from in to out, first asking the kernel to read
// the ranges the quick detectors will read from each file
// (posix_fadvise WILLNEED). Workers examine a file while the disk fetches
// the samples of the next ones: triage reads a few scattered blocks per
// file, so on a cold disk it waits on latency, not bandwidth. The files
// are opened the way the workers open them (read-only, no atime, no
// following of links).
func (e *Engine) prefetch(ctx context.Context, planners []QuickPlanner, in <-chan source.Entry, out chan<- source.Entry) {
	defer close(out)
	for ent := range in {
		if ent.Kind == source.KindFile {
			e.prefetchFile(ent, planners)
		}
		select {
		case out <- ent:
		case <-ctx.Done():
			for range in {
			}
			return
		}
	}
}

func (e *Engine) prefetchFile(ent source.Entry, planners []QuickPlanner) {
	if lim := e.cfg.Limits.MaxSize; lim > 0 && ent.Info.Size > lim {
		return
	}
	name := filepath.Base(ent.Path)
	var rs []Range
	for _, p := range planners {
		rs = append(rs, p.QuickPlan(name, ent.Info.Size)...)
	}
	if len(rs) == 0 {
		return
	}
	f, _, err := openEntry(ent)
	if err != nil {
		return // the worker reports it
	}
	defer f.Close()
	for _, r := range rs {
		unix.Fadvise(int(f.Fd()), r.Off, r.Len, unix.FADV_WILLNEED)
	}
}

// Tee receives the bytes of a file exactly as they are examined, in order,
// each byte once: migrate copies what it screens without a second read. A
// file of up to Limits.WholeFile bytes is read into memory and reaches the
// tee in one piece after its examination, and only if nothing was found in
// it (a file that will be refused is never passed on); a bigger file
// reaches it chunk by chunk as it is read, whatever is found. An error
// stops the examination.
type Tee func(p []byte) error

// Examine examines one walked entry, feeding every byte read to tee too
// (nil for none; see Tee for when). It ignores Known: the caller decides
// about reuse. When the result is clean, the bytes tee saw are exactly the
// bytes the detectors saw, and Result.Sums is their SHA-256, unless
// Result.TeeErr is set.
func (e *Engine) Examine(ctx context.Context, ent source.Entry, tee Tee) Result {
	return e.examineEntry(ctx, ent, tee, false)
}

// examineEntry turns one walked entry into a result.
func (e *Engine) examineEntry(ctx context.Context, ent source.Entry, tee Tee, useKnown bool) Result {
	r := Result{Path: ent.Path, Root: ent.Root, Info: ent.Info, Kind: ent.Kind, Verdict: incident.Clean, Reusable: true}
	switch ent.Kind {
	case source.KindSkipped:
		r.Verdict, r.Reason = incident.Unscannable, ent.Reason
		r.Findings = []incident.Finding{{Detector: "engine", Rule: "not-examined", Verdict: incident.Unscannable, Reason: ent.Reason}}
		e.Progress.Found.Add(1)
		return r
	case source.KindLinkInTree, source.KindExcluded:
		r.Reason = ent.Reason
		return r
	}
	if useKnown && e.cfg.Known != nil && !e.cfg.Quick {
		if p, ok := e.cfg.Known(ent.Path, ent.Info); ok {
			r.Unchanged, r.Verdict, r.Reason, r.Sums.SHA256 = true, p.Verdict, p.Reason, p.SHA256
			e.Progress.Files.Add(1)
			e.Progress.Bytes.Add(ent.Info.Size)
			e.Progress.Skipped.Add(1)
			if p.Verdict != incident.Clean {
				e.Progress.Found.Add(1)
			}
			return r
		}
	}
	start := time.Now()
	func() {
		// A bug in one detector, or a parser crashing on crafted input,
		// must cost one file, not the whole run.
		defer func() {
			if p := recover(); p != nil {
				r.Reusable = false
				r.Findings = append(r.Findings, unscannable("internal-error", fmt.Sprintf("internal error while examining the file: %v", p)))
				e.cfg.Log.Error("panic while examining a file", "path", ent.Path, "panic", p, "stack", string(debug.Stack()))
			}
		}()
		e.examineFile(ctx, ent, &r, tee)
	}()
	if r.TeeErr != nil {
		r.Reusable = false
		r.Findings = append(r.Findings, unscannable("tee", "not fully examined: "+r.TeeErr.Error()))
	}
	r.Duration = time.Since(start)
	r.Verdict = incident.FileVerdict(r.Findings)
	r.Reason = summarize(r.Findings)
	e.Progress.Files.Add(1)
	e.Progress.Bytes.Add(ent.Info.Size)
	if r.Verdict != incident.Clean {
		e.Progress.Found.Add(1)
	}
	return r
}

// summarize picks the reason of the worst finding.
func summarize(fs []incident.Finding) string {
	best := -1
	for i, f := range fs {
		if best < 0 || f.Verdict.Rank() > fs[best].Verdict.Rank() {
			best = i
		}
	}
	if best < 0 || fs[best].Verdict == incident.Clean {
		return ""
	}
	f := fs[best]
	s := f.Reason
	if f.Member != "" {
		s = f.Member + ": " + s
	}
	if n := countNonClean(fs); n > 1 {
		s += fmt.Sprintf(" (+%d more)", n-1)
	}
	return s
}

func countNonClean(fs []incident.Finding) int {
	n := 0
	for _, f := range fs {
		if f.Verdict != incident.Clean {
			n++
		}
	}
	return n
}

func unscannable(rule, reason string) incident.Finding {
	return incident.Finding{Detector: "engine", Rule: rule, Verdict: incident.Unscannable, Reason: reason}
}

// openEntry opens a walked regular file read-only, checking that it is
// still the file the walk saw.
func openEntry(ent source.Entry) (*os.File, source.Info, error) {
	want := &ent.Info
	if ent.Open != ent.Path {
		want = nil // a followed link: the lstat was of the link itself
	}
	return source.Open(ent.Open, want)
}

// examineFile opens, reads once and examines one regular file.
func (e *Engine) examineFile(ctx context.Context, ent source.Entry, r *Result, tee Tee) {
	lim := e.cfg.Limits
	if lim.MaxSize > 0 && ent.Info.Size > lim.MaxSize {
		r.Findings = append(r.Findings, unscannable("too-big", fmt.Sprintf("larger than --max-size (%d > %d bytes): not examined", ent.Info.Size, lim.MaxSize)))
		return
	}
	f, before, err := openEntry(ent)
	if err != nil {
		r.Reusable = false
		r.Findings = append(r.Findings, unscannable("open", "cannot open: "+errText(err)))
		return
	}
	defer f.Close()
	r.Info = before
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout)
		defer cancel()
	}
	name := filepath.Base(ent.Path)
	if e.cfg.Quick {
		e.quickFile(ctx, f, before, ent, name, r)
	} else {
		e.fullFile(ctx, f, before, ent, name, r, tee)
	}
	after, err := f.Stat()
	if err != nil {
		r.Reusable = false
		r.Findings = append(r.Findings, unscannable("stat", "cannot stat after reading: "+errText(err)))
		return
	}
	if ai := source.InfoOf(after); !ai.SameContent(before) {
		r.Reusable = false
		r.Findings = append(r.Findings, unscannable("changed", fmt.Sprintf("file changed while being read (size %d -> %d, mtime %s -> %s)",
			before.Size, ai.Size, before.ModTime.Format(time.RFC3339Nano), ai.ModTime.Format(time.RFC3339Nano))))
	}
	if ctx.Err() != nil {
		r.Reusable = false
		reason := "interrupted"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			reason = fmt.Sprintf("time limit of %s exceeded", lim.Timeout)
		}
		r.Findings = append(r.Findings, unscannable("time-limit", reason+": not fully examined"))
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func (e *Engine) quickFile(ctx context.Context, f *os.File, in source.Info, ent source.Entry, name string, r *Result) {
	// Triage reads a few scattered blocks: tell the kernel not to read
	// ahead, or the disk delivers several times what is asked for.
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
	cr := &countingReaderAt{r: f}
	file := &File{Path: ent.Path, Name: name, Size: in.Size, Mode: in.Mode, ModTime: in.ModTime, Content: cr, Quick: true}
	for _, d := range e.quick {
		ex, err := d.Begin(ctx, file)
		if err != nil {
			r.Findings = append(r.Findings, detectorError(d.Name(), "", err))
			continue
		}
		if ex == nil {
			continue
		}
		fs, err := ex.Close(ctx)
		r.Findings = append(r.Findings, fs...)
		if err != nil {
			r.Findings = append(r.Findings, detectorError(d.Name(), "", err))
		}
	}
	r.BytesRead = cr.n.Load()
}

func detectorError(det, member string, err error) incident.Finding {
	return incident.Finding{Detector: det, Rule: "error", Verdict: incident.Unscannable, Member: member, Reason: det + ": not fully examined: " + errText(err)}
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// hasher computes the selected digests in one pass.
type hasher struct {
	sha256    hash.Hash
	sha1, md5 hash.Hash
}

func newHasher(h Hashes) *hasher {
	x := &hasher{sha256: sha256.New()}
	if h.SHA1 {
		x.sha1 = sha1.New()
	}
	if h.MD5 {
		x.md5 = md5.New()
	}
	return x
}

func (h *hasher) Write(p []byte) {
	h.sha256.Write(p)
	if h.sha1 != nil {
		h.sha1.Write(p)
	}
	if h.md5 != nil {
		h.md5.Write(p)
	}
}

func (h *hasher) Sums() Sums {
	s := Sums{SHA256: hex.EncodeToString(h.sha256.Sum(nil))}
	if h.sha1 != nil {
		s.SHA1 = hex.EncodeToString(h.sha1.Sum(nil))
	}
	if h.md5 != nil {
		s.MD5 = hex.EncodeToString(h.md5.Sum(nil))
	}
	return s
}

// object is a file or member being examined: the detectors' examinations
// plus the hashes, fed from one read.
type object struct {
	file  *File
	exams []namedExam
	h     *hasher
	errs  []incident.Finding
}

type namedExam struct {
	name string
	ex   Examination
	dead bool
}

func (e *Engine) begin(ctx context.Context, file *File) *object {
	o := &object{file: file, h: newHasher(e.cfg.Hashes)}
	file.Sums = &Sums{}
	for _, d := range e.cfg.Detectors {
		ex, err := d.Begin(ctx, file)
		if err != nil {
			o.errs = append(o.errs, detectorError(d.Name(), file.Member, err))
			continue
		}
		if ex != nil {
			o.exams = append(o.exams, namedExam{name: d.Name(), ex: ex})
		}
	}
	return o
}

func (o *object) write(p []byte) {
	o.h.Write(p)
	for i := range o.exams {
		x := &o.exams[i]
		if x.dead {
			continue
		}
		if _, err := x.ex.Write(p); err != nil {
			x.dead = true
			o.errs = append(o.errs, detectorError(x.name, o.file.Member, err))
		}
	}
}

// finish closes every examination and returns the findings.
func (o *object) finish(ctx context.Context) []incident.Finding {
	*o.file.Sums = o.h.Sums()
	fs := o.errs
	for _, x := range o.exams {
		got, err := x.ex.Close(ctx)
		for _, f := range got {
			if f.Member == "" {
				f.Member = o.file.Member
			}
			fs = append(fs, f)
		}
		if err != nil && !x.dead {
			fs = append(fs, detectorError(x.name, o.file.Member, err))
		}
	}
	return fs
}

func (e *Engine) getBuf(n int64) []byte { return e.bufs.Get(int(n)) }

func (e *Engine) putBuf(b []byte) { e.bufs.Put(b) }

// fullFile reads f once, streaming it to the hasher and every detector,
// then opens it as an archive if it is one.
func (e *Engine) fullFile(ctx context.Context, f *os.File, in source.Info, ent source.Entry, name string, r *Result, tee Tee) {
	lim := e.cfg.Limits
	file := &File{Path: ent.Path, Name: name, Size: in.Size, Mode: in.Mode, ModTime: in.ModTime}
	if in.Size <= lim.WholeFile {
		buf := e.getBuf(in.Size)
		defer e.putBuf(buf)
		n, err := io.ReadFull(io.NewSectionReader(f, 0, in.Size), buf)
		r.BytesRead = int64(n)
		if err != nil {
			r.Reusable = false
			reason := "read error: " + errText(err)
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				reason = fmt.Sprintf("file shrank while being read (%d of %d bytes)", n, in.Size)
			}
			r.Findings = append(r.Findings, unscannable("read", reason))
			return
		}
		file.Content, file.Whole = bytes.NewReader(buf), true
		o := e.begin(ctx, file)
		o.write(buf)
		r.Findings = append(r.Findings, o.finish(ctx)...)
		r.Sums = *file.Sums
		r.Findings = append(r.Findings, e.archive(ctx, file, bytes.NewReader(buf), in.Size, 0, e.newBudget(in.Size))...)
		// The whole file is in memory: the tee gets it once examined, and
		// only when nothing was found, so that bytes to be refused are
		// never written anywhere.
		if tee != nil && ctx.Err() == nil && incident.FileVerdict(r.Findings) == incident.Clean {
			r.TeeErr = tee(buf)
		}
		return
	}
	cr := &countingReaderAt{r: f}
	file.Content = cr
	o := e.begin(ctx, file)
	buf := e.getBuf(int64(lim.Chunk))
	defer e.putBuf(buf)
	var off int64
	for off < in.Size && ctx.Err() == nil {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), in.Size-off)], off)
		if n > 0 {
			if tee != nil {
				if err := tee(buf[:n]); err != nil {
					r.TeeErr = err
					break
				}
			}
			o.write(buf[:n])
			off += int64(n)
		}
		if err != nil {
			if err == io.EOF {
				break
			}
			r.Reusable = false
			r.Findings = append(r.Findings, unscannable("read", fmt.Sprintf("read error at offset %d: %s", off, errText(err))))
			break
		}
	}
	r.BytesRead = off + cr.n.Load()
	if off < in.Size && ctx.Err() == nil && len(r.Findings) == 0 && r.TeeErr == nil {
		r.Reusable = false
		r.Findings = append(r.Findings, unscannable("read", fmt.Sprintf("file shrank while being read (%d of %d bytes)", off, in.Size)))
	}
	r.Findings = append(r.Findings, o.finish(ctx)...)
	r.Sums = *file.Sums
	r.Findings = append(r.Findings, e.archive(ctx, file, cr, in.Size, 0, e.newBudget(in.Size))...)
}

// budget is the expansion allowance shared by all members of one
// top-level file.
type budget struct {
	left    int64
	members int
}

// newBudget allows a top-level file of the given size to expand to
// MaxRatio times its size (at least 256 MiB), capped by MaxExpanded.
func (e *Engine) newBudget(size int64) *budget {
	l := e.cfg.Limits
	return &budget{left: min(l.MaxExpanded, max(int64(float64(size)*l.MaxRatio), 256<<20))}
}

// archive scans the members of file if it is an archive. depth is the
// nesting level of file itself.
func (e *Engine) archive(ctx context.Context, file *File, ra io.ReaderAt, size int64, depth int, b *budget) []incident.Finding {
	head := make([]byte, 512)
	n, _ := ra.ReadAt(head, 0)
	fmtKind := archive.Detect(head[:n])
	if fmtKind == archive.None {
		return nil
	}
	lim := e.cfg.Limits
	where := file.Member
	if depth+1 > lim.MaxDepth {
		return []incident.Finding{{Detector: "archive", Rule: "depth-limit", Verdict: incident.Unscannable, Member: where,
			Reason: fmt.Sprintf("archive nested deeper than %d levels: members not examined", lim.MaxDepth)}}
	}
	var fs []incident.Finding
	err := archive.Walk(ctx, fmtKind, ra, size, file.Name, func(m archive.Member) error {
		b.members++
		if b.members > lim.MaxMembers {
			return errLimit{fmt.Sprintf("more than %d archive members: the rest not examined", lim.MaxMembers)}
		}
		member := m.Name
		if file.Member != "" {
			member = file.Member + "!" + m.Name
		}
		got, err := e.member(ctx, file, m, member, depth+1, b)
		fs = append(fs, got...)
		return err
	})
	var el errLimit
	switch {
	case err == nil:
	case errors.As(err, &el):
		fs = append(fs, incident.Finding{Detector: "archive", Rule: "limit", Verdict: incident.Unscannable, Member: where, Reason: el.reason})
	case errors.Is(err, archive.ErrEncrypted):
		fs = append(fs, incident.Finding{Detector: "archive", Rule: "encrypted", Verdict: incident.Unscannable, Member: where,
			Reason: fmt.Sprintf("encrypted %s archive: %s", fmtKind, strings.TrimPrefix(errText(err), "encrypted: "))})
	case ctx.Err() != nil:
		// Reported by the caller as interrupted or timed out.
	default:
		fs = append(fs, incident.Finding{Detector: "archive", Rule: "corrupt", Verdict: incident.Unscannable, Member: where,
			Reason: fmt.Sprintf("%s archive could not be fully read: %s", fmtKind, errText(err))})
	}
	return fs
}

type errLimit struct{ reason string }

func (e errLimit) Error() string { return e.reason }

// member reads one archive member (with the expansion limits enforced on
// the bytes actually produced), examines it like a file and recurses.
func (e *Engine) member(ctx context.Context, parent *File, m archive.Member, member string, depth int, b *budget) ([]incident.Finding, error) {
	if m.Encrypted {
		return []incident.Finding{{Detector: "archive", Rule: "encrypted", Verdict: incident.Unscannable, Member: member,
			Reason: "encrypted archive member: password required"}}, nil
	}
	rc, err := m.Open()
	if err != nil {
		if errors.Is(err, archive.ErrEncrypted) {
			return []incident.Finding{{Detector: "archive", Rule: "encrypted", Verdict: incident.Unscannable, Member: member,
				Reason: "encrypted archive member: password required"}}, nil
		}
		return []incident.Finding{{Detector: "archive", Rule: "corrupt", Verdict: incident.Unscannable, Member: member,
			Reason: "cannot open member: " + errText(err)}}, nil
	}
	defer rc.Close()
	lim := e.cfg.Limits
	// Ratio limit: per member, against its declared packed size when known.
	maxOut := b.left
	if m.Packed > 0 {
		if r := max(int64(float64(m.Packed)*lim.MaxRatio), 1<<20); r < maxOut {
			maxOut = r
		}
	}
	name := filepath.Base(strings.ReplaceAll(m.Name, "\\", "/"))
	file := &File{Path: parent.Path, Member: member, Name: name, Size: m.Size, ModTime: m.ModTime, Mode: 0o644, Depth: depth}
	data, spill, n, err := e.readMember(ctx, rc, maxOut)
	b.left -= n
	if spill != nil {
		defer func() { spill.Close(); os.Remove(spill.Name()) }()
	}
	var el errLimit
	switch {
	case errors.As(err, &el):
		return []incident.Finding{{Detector: "archive", Rule: "bomb", Verdict: incident.Unscannable, Member: member,
			Reason: fmt.Sprintf("expands beyond the limit (%d bytes from %d packed; ratio limit %.0f, total limit %d): possible archive bomb", n, m.Packed, lim.MaxRatio, lim.MaxExpanded)}}, errLimit{"archive expansion limit reached: remaining members not examined"}
	case errors.Is(err, archive.ErrEncrypted):
		return []incident.Finding{{Detector: "archive", Rule: "encrypted", Verdict: incident.Unscannable, Member: member,
			Reason: "encrypted archive member: password required"}}, nil
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return []incident.Finding{{Detector: "archive", Rule: "corrupt", Verdict: incident.Unscannable, Member: member,
			Reason: "member could not be fully read: " + errText(err)}}, nil
	}
	file.Size = n
	var ra io.ReaderAt
	o := (*object)(nil)
	if spill == nil {
		ra = bytes.NewReader(data)
		file.Content, file.Whole = ra, true
		o = e.begin(ctx, file)
		o.write(data)
	} else {
		ra = spill
		file.Content = spill
		o = e.begin(ctx, file)
		buf := e.getBuf(int64(lim.Chunk))
		defer e.putBuf(buf)
		for off := int64(0); off < n; {
			k, err := spill.ReadAt(buf[:min(int64(len(buf)), n-off)], off)
			if k > 0 {
				o.write(buf[:k])
				off += int64(k)
			}
			if err != nil {
				break
			}
		}
	}
	fs := o.finish(ctx)
	fs = append(fs, e.archive(ctx, file, ra, n, depth, b)...)
	if data != nil {
		e.putBuf(data)
	}
	return fs, nil
}

// readMember decompresses a member into memory, or into a temporary file
// once it outgrows the whole-file limit. It stops with errLimit after max
// bytes.
func (e *Engine) readMember(ctx context.Context, r io.Reader, max int64) ([]byte, *os.File, int64, error) {
	lim := e.cfg.Limits
	buf := e.getBuf(1 << 20)[:0]
	var total int64
	chunk := e.getBuf(256 << 10)
	defer e.putBuf(chunk)
	var spill *os.File
	for {
		if ctx.Err() != nil {
			return nil, spill, total, ctx.Err()
		}
		k, err := r.Read(chunk)
		if k > 0 {
			total += int64(k)
			if total > max {
				return nil, spill, total, errLimit{"expansion"}
			}
			if spill == nil && int64(len(buf)+k) > lim.WholeFile {
				f, ferr := os.CreateTemp(e.cfg.TempDir, "kintsugi-member-*")
				if ferr != nil {
					return nil, nil, total, fmt.Errorf("spill member to temporary file: %w", ferr)
				}
				spill = f
				if _, werr := spill.Write(buf); werr != nil {
					return nil, spill, total, fmt.Errorf("spill member: %w", werr)
				}
				e.putBuf(buf)
				buf = nil
			}
			if spill != nil {
				if _, werr := spill.Write(chunk[:k]); werr != nil {
					return nil, spill, total, fmt.Errorf("spill member: %w", werr)
				}
			} else {
				if len(buf)+k > cap(buf) {
					// grow within the pool's sizes so the buffer is reused
					nb := e.getBuf(int64(2 * cap(buf)))[:len(buf)]
					copy(nb, buf)
					e.putBuf(buf)
					buf = nb
				}
				buf = append(buf, chunk[:k]...)
			}
		}
		if err == io.EOF {
			return buf, spill, total, nil
		}
		if err != nil {
			return nil, spill, total, err
		}
	}
}

// SortFindings orders findings worst first, then by detector and rule, for
// stable output.
func SortFindings(fs []incident.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if a, b := fs[i].Verdict.Rank(), fs[j].Verdict.Rank(); a != b {
			return a > b
		}
		if fs[i].Member != fs[j].Member {
			return fs[i].Member < fs[j].Member
		}
		if fs[i].Detector != fs[j].Detector {
			return fs[i].Detector < fs[j].Detector
		}
		return fs[i].Rule < fs[j].Rule
	})
}
