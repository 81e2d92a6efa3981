package hunt

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Options configure Read.
type Options struct {
	// Formats are tried in order on each file's content; the first whose
	// Sniff accepts it decodes the file.
	Formats []Format
	// Host is the host named on the command line (--host): used for
	// records that name none and files outside a per-host folder.
	Host string
	// Location is the zone of timestamps that carry none; UTC when nil.
	Location *time.Location
	// Workers is the number of files read at once; <= 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// SpoolLimit is how much decompressed content a RandomAccess format
	// gets in memory; beyond it the content goes to a temporary file.
	// <= 0 means 256 MiB.
	SpoolLimit int64
	Log        *slog.Logger
	// OnStart is called once the inputs are listed, with the number of
	// files and their total size.
	OnStart func(files int, bytes int64)
	// OnProgress is called with the number of bytes just read from an
	// input file (compressed bytes for compressed files). It may be called
	// from several goroutines at once.
	OnProgress func(n int64)
}

// File statuses in a FileReport.
const (
	FileRead    = "read"    // every record was read
	FilePartial = "partial" // read, but something was lost (see Bad, Error)
	FileFailed  = "failed"  // could not be read at all
	FileSkipped = "skipped" // not read on purpose: not a log, a link, a device
)

// FileReport says what became of one input file.
type FileReport struct {
	Path        string `json:"path"`
	Status      string `json:"status"`
	Format      string `json:"format,omitempty"`
	Compression string `json:"compression,omitempty"`
	Size        int64  `json:"size"`
	// Host is the host attributed from the folder or --host, used for
	// records that name none.
	Host string `json:"host,omitempty"`
	// Hosts are the host names the records carry (at most 16).
	Hosts []string  `json:"hosts,omitempty"`
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	DecodeStats
	// Reason says why a file was skipped, failed, or stopped early.
	Reason string `json:"reason,omitempty"`
}

// Loss reports whether the file was meant to be read but was not read
// completely.
func (f *FileReport) Loss() bool { return f.Status == FilePartial || f.Status == FileFailed }

// Report is what Read did with every input.
type Report struct {
	Files   []FileReport `json:"files"`
	Records int64        `json:"records"`
	Bad     int64        `json:"bad"`
	Bytes   int64        `json:"bytes"`
}

// Losses returns the files read incompletely or not at all.
func (r *Report) Losses() []FileReport {
	var out []FileReport
	for _, f := range r.Files {
		if f.Loss() {
			out = append(out, f)
		}
	}
	return out
}

// YearInferrer is implemented by formats whose timestamps lack a year:
// Read then works out Input.YearRef across rotated files.
type YearInferrer interface {
	InfersYear() bool
}

const maxFileHosts = 16

// job is one file to read.
type job struct {
	path    string
	size    int64
	modTime time.Time
	yearRef time.Time
	host    string
	report  *FileReport
}

// Read lists the files under paths (files or folders), detects each one's
// format by content, decompresses it if needed, and calls emit for every
// record. emit is called from several goroutines at once. Files are
// opened read-only; links inside folders are not followed and FIFOs,
// devices and sockets are never opened. The report lists every file with
// what was read and lost; the error is non-nil only when ctx ended or
// emit failed.
func Read(ctx context.Context, paths []string, opt Options, emit func(*Event) error) (*Report, error) {
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.SpoolLimit <= 0 {
		opt.SpoolLimit = 256 << 20
	}
	rep := &Report{}
	jobs := list(paths, opt, rep)
	var total int64
	for _, j := range jobs {
		total += j.size
	}
	if opt.OnStart != nil {
		opt.OnStart(len(jobs), total)
	}
	inferYears(ctx, jobs, opt)

	// Biggest files first, so that one large log does not start last.
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].size > jobs[b].size })
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan *job)
	var wg sync.WaitGroup
	for range min(opt.Workers, max(len(jobs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if err := readJob(ctx, j, opt, emit); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case work <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	for _, f := range rep.Files {
		rep.Records += f.Records
		rep.Bad += f.Bad
		rep.Bytes += f.Size
	}
	if err := context.Cause(ctx); err != nil {
		return rep, err
	}
	return rep, nil
}

// list walks the inputs into jobs; what cannot or must not be read goes
// into the report straight away.
func list(paths []string, opt Options, rep *Report) []*job {
	var jobs []*job
	seen := map[string]bool{}
	add := func(fr FileReport) { rep.Files = append(rep.Files, fr) }
	type pending struct{ j *job }
	var files []pending
	for _, root := range paths {
		// The user named it: a link here is followed (inside folders,
		// links never are).
		if li, err := os.Lstat(root); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			if target, err := filepath.EvalSymlinks(root); err == nil {
				root = target
			}
		}
		info, err := os.Stat(root)
		if err != nil {
			add(FileReport{Path: root, Status: FileFailed, Reason: err.Error()})
			continue
		}
		if !info.IsDir() {
			if !info.Mode().IsRegular() {
				add(FileReport{Path: root, Status: FileSkipped, Reason: "not a regular file (" + info.Mode().Type().String() + ")"})
				continue
			}
			if seen[root] {
				continue
			}
			seen[root] = true
			host := firstNonEmpty(opt.Host, genericFree(filepath.Base(filepath.Dir(root))))
			files = append(files, pending{&job{path: root, size: info.Size(), modTime: info.ModTime(), host: host}})
			continue
		}
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				add(FileReport{Path: p, Status: FileFailed, Reason: err.Error()})
				return nil
			}
			if d.IsDir() {
				return nil
			}
			t := d.Type()
			switch {
			case t&fs.ModeSymlink != 0:
				add(FileReport{Path: p, Status: FileSkipped, Reason: "symbolic link not followed"})
				return nil
			case !t.IsRegular():
				add(FileReport{Path: p, Status: FileSkipped, Reason: "not a regular file (" + t.String() + ")"})
				return nil
			}
			if seen[p] {
				return nil
			}
			seen[p] = true
			info, err := d.Info()
			if err != nil {
				add(FileReport{Path: p, Status: FileFailed, Reason: err.Error()})
				return nil
			}
			host := firstNonEmpty(subfolderHost(root, p), opt.Host, genericFree(filepath.Base(filepath.Clean(root))))
			files = append(files, pending{&job{path: p, size: info.Size(), modTime: info.ModTime(), host: host}})
			return nil
		})
	}
	first := len(rep.Files)
	for _, f := range files {
		rep.Files = append(rep.Files, FileReport{Path: f.j.path, Size: f.j.size, Host: f.j.host})
	}
	// rep.Files does not grow any more: pointers into it stay valid.
	for i, f := range files {
		f.j.report = &rep.Files[first+i]
		jobs = append(jobs, f.j)
	}
	return jobs
}

// readJob reads one file into its report; the error is only ctx's or
// emit's.
func readJob(ctx context.Context, j *job, opt Options, emit func(*Event) error) error {
	fr := j.report
	fr.Status = FileFailed
	f, err := openEvidence(j.path)
	if err != nil {
		fr.Reason = err.Error()
		return nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		fr.Reason = err.Error()
		return nil
	}
	if !info.Mode().IsRegular() {
		fr.Status, fr.Reason = FileSkipped, "not a regular file ("+info.Mode().Type().String()+")"
		return nil
	}
	cf := &countingFile{f: f, progress: opt.OnProgress}
	src, head, comp, derr := decompress(cf)
	fr.Compression = comp
	if len(head) == 0 {
		if derr != nil {
			fr.Reason = derr.Error()
			return nil
		}
		fr.Status, fr.Reason = FileSkipped, "empty"
		return nil
	}
	var format Format
	for _, ft := range opt.Formats {
		if ft.Sniff(head) {
			format = ft
			break
		}
	}
	if format == nil {
		fr.Status, fr.Reason = FileSkipped, unknownReason(head, comp)
		return nil
	}
	fr.Format = format.Name()
	in := &Input{Path: j.path, R: src, ModTime: j.modTime, YearRef: j.yearRef, Location: opt.Location, Host: j.host}
	if ra, ok := format.(RandomAccess); ok && ra.RandomAccess() {
		if comp == "" {
			in.ReaderAt, in.Size = cf, info.Size()
		} else {
			data, cleanup, size, serr := spool(src, opt.SpoolLimit)
			defer cleanup()
			if serr != nil {
				// Decode what was recovered; the loss is reported below.
				derr = serr
			}
			in.ReaderAt, in.Size = data, size
			in.R = io.NewSectionReader(data, 0, size)
		}
	}

	var mu sync.Mutex
	stats, err := format.Decode(ctx, in, func(ev *Event) error {
		if ev.Host == "" {
			ev.Host = j.host
		}
		if ev.Source == "" {
			ev.Source = j.path
		}
		mu.Lock()
		noteEvent(fr, ev)
		mu.Unlock()
		if err := emit(ev); err != nil {
			return emitError{err}
		}
		return nil
	})
	fr.DecodeStats = stats
	switch {
	case ctx.Err() != nil:
		fr.Status, fr.Reason = FilePartial, "interrupted"
		return context.Cause(ctx)
	case errors.As(err, new(emitError)):
		var ee emitError
		errors.As(err, &ee)
		fr.Status, fr.Reason = FilePartial, "stopped: "+ee.err.Error()
		return ee.err
	case err != nil:
		fr.Status, fr.Reason = FilePartial, err.Error()
		if stats.Records == 0 {
			fr.Status = FileFailed
		}
	case derr != nil:
		fr.Status, fr.Reason = FilePartial, derr.Error()
	case stats.Bad > 0 || stats.LostBytes > 0:
		fr.Status, fr.Reason = FilePartial, stats.BadReason
	default:
		fr.Status = FileRead
	}
	return nil
}

// emitError carries an error returned by the caller's emit through a
// Format's Decode.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }
func (e emitError) Unwrap() error { return e.err }

func noteEvent(fr *FileReport, ev *Event) {
	if !ev.Time.IsZero() {
		if fr.First.IsZero() || ev.Time.Before(fr.First) {
			fr.First = ev.Time
		}
		if ev.Time.After(fr.Last) {
			fr.Last = ev.Time
		}
	}
	if ev.Host != "" && len(fr.Hosts) < maxFileHosts {
		for _, h := range fr.Hosts {
			if h == ev.Host {
				return
			}
		}
		fr.Hosts = append(fr.Hosts, ev.Host)
	}
}

// countingFile reports every byte read from the evidence file.
type countingFile struct {
	f        *os.File
	progress func(int64)
}

func (c *countingFile) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	if c.progress != nil && n > 0 {
		c.progress(int64(n))
	}
	return n, err
}

func (c *countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.f.ReadAt(p, off)
	if c.progress != nil && n > 0 {
		c.progress(int64(n))
	}
	return n, err
}

// decompress peels compression layers (gzip, bzip2, xz, zstd; up to
// three deep) off r and returns the content stream, its first SniffSize
// bytes, and the names of the layers. A damaged stream still yields the
// bytes before the damage; the error says what happened.
func decompress(r io.Reader) (io.Reader, []byte, string, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var layers []string
	for depth := 0; ; depth++ {
		head, err := br.Peek(SniffSize)
		if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
			if len(head) == 0 {
				return br, nil, strings.Join(layers, "+"), err
			}
		}
		if depth == 3 {
			return br, head, strings.Join(layers, "+"), nil
		}
		var next io.Reader
		var name string
		var oerr error
		switch {
		case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
			name = "gzip"
			var zr *gzip.Reader
			zr, oerr = gzip.NewReader(br)
			next = zr
		case bytes.HasPrefix(head, []byte("BZh")) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
			name, next = "bzip2", bzip2.NewReader(br)
		case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
			name = "xz"
			next, oerr = xz.NewReader(br)
		case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			name = "zstd"
			var zr *zstd.Decoder
			zr, oerr = zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
			if oerr == nil {
				next = zr.IOReadCloser()
			}
		default:
			return br, head, strings.Join(layers, "+"), nil
		}
		layers = append(layers, name)
		if oerr != nil {
			return br, nil, strings.Join(layers, "+"), fmt.Errorf("%s: %w", name, oerr)
		}
		br = bufio.NewReaderSize(next, 256<<10)
	}
}

// maxSpool bounds what one compressed file may expand to for a format
// that needs random access: an EVTX log is at most 4 GiB, and a
// decompression bomb must not fill the disk.
const maxSpool = 4 << 30

// errSpoolLimit reports content cut at maxSpool.
var errSpoolLimit = fmt.Errorf("decompressed content exceeds %d bytes: the rest was not read", int64(maxSpool))

// spool gives random access to a stream: in memory up to limit bytes,
// else in a temporary file removed by cleanup, never more than maxSpool
// bytes. A read error is returned with what was read before it.
func spool(r io.Reader, limit int64) (io.ReaderAt, func(), int64, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit))
	if err != nil || n < limit {
		return bytes.NewReader(buf.Bytes()), func() {}, n, err
	}
	tmp, terr := os.CreateTemp("", "kintsugi-hunt-*.spool")
	if terr != nil {
		return bytes.NewReader(buf.Bytes()), func() {}, n, fmt.Errorf("spool beyond %d bytes: %w", limit, terr)
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, werr := tmp.Write(buf.Bytes()); werr != nil {
		return tmp, cleanup, 0, fmt.Errorf("spool: %w", werr)
	}
	m, err := io.Copy(tmp, io.LimitReader(r, maxSpool-n))
	if err == nil && n+m == maxSpool {
		if k, _ := r.Read(make([]byte, 1)); k > 0 {
			err = errSpoolLimit
		}
	}
	return tmp, cleanup, n + m, err
}

// unknownReason says why a file is not read, naming near misses.
func unknownReason(head []byte, comp string) string {
	what := "not a log format kintsugi reads"
	switch {
	case bytes.HasPrefix(head, []byte("LPKSHHRH")):
		what = "binary systemd journal: export it with journalctl --file FILE -o json"
	case bytes.HasPrefix(head, []byte("ElfChnk")):
		what = "EVTX chunk without a file header"
	}
	if comp != "" {
		what += " (inside " + comp + ")"
	}
	return what
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
