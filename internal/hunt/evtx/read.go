package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// maxProblems caps the problems kept per file; the counters stay exact.
const maxProblems = 64

// ErrNotEVTX is returned when a file has neither an EVTX file header nor
// any chunk.
var ErrNotEVTX = errors.New("not an EVTX file")

// Options tune reading. The zero value is ready to use.
type Options struct {
	// Workers is the number of chunks decoded in parallel; <= 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// Concurrent lets fn be called from several goroutines at once: the
	// records of one chunk arrive in order, chunks in any order. Without
	// it fn is called from one goroutine in file order.
	Concurrent bool
	// FollowSymlinks opens a symbolic link's target; by default ReadFile
	// refuses links.
	FollowSymlinks bool

	// panics makes a decoder panic propagate instead of being reported
	// as a lost chunk, so that fuzzing sees it.
	panics bool
}

// Stats says how much of a file was read and what was lost.
type Stats struct {
	Name  string
	Bytes int64
	// Chunks counts chunk slots that held data; ChunksEmpty the
	// zero-filled ones (pre-allocated, never written: not a loss).
	Chunks      int
	ChunksEmpty int
	// ChunksBad counts chunks whose header was unusable (records were
	// carved from them where possible).
	ChunksBad int
	// ChunksSuspect counts chunks whose checksums do not match: their
	// records were used but may have been altered or torn.
	ChunksSuspect int
	// Records counts events delivered; RecordsBad records lost.
	Records    int
	RecordsBad int
	// Dirty is the file header's "not closed cleanly" flag.
	Dirty bool
	// Problems holds the first problems with their reasons.
	Problems []Problem
}

// Problem is one damaged place in a file.
type Problem struct {
	Chunk  int // chunk index; -1 for the file header
	Offset int64
	Reason string
}

func (p Problem) String() string {
	if p.Chunk < 0 {
		return fmt.Sprintf("file header: %s", p.Reason)
	}
	return fmt.Sprintf("chunk %d at %#x: %s", p.Chunk, p.Offset, p.Reason)
}

// Complete reports whether every record of the file was read.
func (s Stats) Complete() bool { return s.ChunksBad == 0 && s.RecordsBad == 0 }

func (s *Stats) problem(p Problem) {
	if len(s.Problems) < maxProblems {
		s.Problems = append(s.Problems, p)
	}
}

// ReadFile reads the EVTX file at path and calls fn for every record.
// The file is opened read-only, without updating its access time where
// the system permits, never blocking on FIFOs or devices, and refusing
// symbolic links unless opt.FollowSymlinks. See ReadFrom for the rest.
func ReadFile(ctx context.Context, path string, opt Options, fn func(*hunt.Event) error) (Stats, error) {
	f, err := openEvidence(path, opt.FollowSymlinks)
	if err != nil {
		return Stats{Name: path}, fmt.Errorf("evtx %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Stats{Name: path}, fmt.Errorf("evtx %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return Stats{Name: path}, fmt.Errorf("evtx %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	return ReadFrom(ctx, f, fi.Size(), path, opt, fn)
}

func openEvidence(path string, follow bool) (*os.File, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags|syscall.O_NOATIME, 0)
	if errors.Is(err, syscall.EPERM) {
		// O_NOATIME needs file ownership or CAP_FOWNER.
		f, err = os.OpenFile(path, flags, 0)
	}
	if errors.Is(err, syscall.ELOOP) && !follow {
		return nil, fmt.Errorf("is a symbolic link (not followed)")
	}
	return f, err
}

// ReadFrom decodes an EVTX image of size bytes read from r and calls fn
// for every record; name identifies it in events, errors and Stats.
// Damage never stops the read: every record that can be decoded is
// delivered and the loss is counted in Stats. The error is non-nil only
// when nothing could be read (I/O error, ErrNotEVTX), when fn returned an
// error, or when ctx was cancelled.
func ReadFrom(ctx context.Context, r io.ReaderAt, size int64, name string, opt Options, fn func(*hunt.Event) error) (Stats, error) {
	st := Stats{Name: name, Bytes: size}
	hdr := make([]byte, min(size, fileHeaderSize))
	if _, err := r.ReadAt(hdr, 0); err != nil && !errors.Is(err, io.EOF) {
		return st, fmt.Errorf("evtx %s: file header: %w", name, err)
	}
	headerOK := len(hdr) >= 128 && bytes.Equal(hdr[:8], fileMagic)
	if headerOK {
		st.Dirty = binary.LittleEndian.Uint32(hdr[0x78:])&1 != 0
		major := binary.LittleEndian.Uint16(hdr[0x26:])
		if major != 3 {
			st.problem(Problem{Chunk: -1, Reason: fmt.Sprintf("unknown format version %d", major)})
		}
	} else {
		st.problem(Problem{Chunk: -1, Reason: "file signature missing; chunks carved"})
	}
	if size <= fileHeaderSize {
		if !headerOK {
			return st, fmt.Errorf("evtx %s: %w", name, ErrNotEVTX)
		}
		return st, nil
	}
	nchunks := int((size - fileHeaderSize + chunkSize - 1) / chunkSize)

	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, nchunks)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// window bounds the chunks in flight (read, decoded, not yet delivered).
	window := make(chan struct{}, 2*workers)
	jobs := make(chan int)
	results := make(chan chunkResult, 2*workers)
	var ioErr error
	var ioOnce sync.Once

	go func() {
		defer close(jobs)
		for i := 0; i < nchunks; i++ {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := newDecoder()
			buf := make([]byte, chunkSize)
			for i := range jobs {
				off := int64(fileHeaderSize) + int64(i)*chunkSize
				n := int(min(chunkSize, size-off))
				got, err := r.ReadAt(buf[:n], off)
				if err != nil && !(errors.Is(err, io.EOF) && got == n) {
					ioOnce.Do(func() { ioErr = fmt.Errorf("evtx %s: chunk %d: %w", name, i, err) })
					cancel(ioErr)
					return
				}
				d.panics = opt.panics
				res := d.decodeChunk(i, off, buf[:n], name)
				if opt.Concurrent {
					err := deliver(ctx, res.events, fn)
					res.delivered, res.events = len(res.events), nil
					if err != nil {
						cancel(err)
						res.delivered = 0
					}
				}
				select {
				case results <- res:
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

	pending := make(map[int]chunkResult)
	next := 0
	var fnErr error
	account := func(res chunkResult) {
		switch {
		case res.empty:
			st.ChunksEmpty++
		default:
			st.Chunks++
		}
		if res.bad {
			st.ChunksBad++
		}
		if res.suspect {
			st.ChunksSuspect++
		}
		st.RecordsBad += res.recordsBad
		for _, p := range res.problems {
			st.problem(p)
		}
	}
	for res := range results {
		if opt.Concurrent {
			account(res)
			st.Records += res.delivered
			<-window
			continue
		}
		pending[res.index] = res
		for {
			res, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			account(res)
			if fnErr == nil {
				if err := deliver(ctx, res.events, fn); err != nil {
					fnErr = err
					cancel(err)
				} else {
					st.Records += len(res.events)
				}
			}
			<-window
		}
	}
	if fnErr != nil {
		return st, fnErr
	}
	if cause := context.Cause(ctx); cause != nil {
		return st, cause
	}
	if !headerOK && st.Records == 0 {
		// Neither a file header nor one decodable record: whatever this
		// is, it is not an event log.
		return st, fmt.Errorf("evtx %s: %w", name, ErrNotEVTX)
	}
	return st, nil
}

func deliver(ctx context.Context, evs []hunt.Event, fn func(*hunt.Event) error) error {
	for i := range evs {
		if i&63 == 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := fn(&evs[i]); err != nil {
			return err
		}
	}
	return nil
}
