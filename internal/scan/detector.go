package scan

import (
	"context"
	"io"
	"io/fs"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// File describes one file (or archive member) under examination.
type File struct {
	// Path is the file's path as the user named it (raw bytes in a string;
	// names need not be UTF-8). For archive members it is the archive's path.
	Path string
	// Member is the path inside the archive ("a.zip!dir/b.exe" style chain
	// below Path), empty for a plain file.
	Member string
	// Name is the base name of the file or member, used for name-based
	// rules (ransom note names, extensions).
	Name    string
	Size    int64
	Mode    fs.FileMode
	ModTime time.Time
	// Depth is the archive nesting depth: 0 for a plain file.
	Depth int
	// Content gives random access to the same bytes that are streamed to
	// Write: detectors that need headers and tails read them here. For a
	// file read whole it is served from memory; otherwise reads hit the
	// file again (page cache) and are counted.
	Content io.ReaderAt
	// Whole is true when the bytes arrive in a single Write covering the
	// whole file; that slice then stays valid until Close returns.
	Whole bool
	// Quick is true in triage mode: the engine does not stream the file at
	// all (no Write calls); detectors that take part in quick mode sample
	// Content themselves and report their findings as triage, not as a
	// screening verdict.
	Quick bool
	// Sums holds the file's digests; the engine fills it in after the last
	// Write and before Close (nil in quick mode).
	Sums *Sums
}

// Detector examines files. One Detector serves all workers at once, so it
// must be safe for concurrent use; per-file state lives in the Examination.
type Detector interface {
	// Name is a short stable identifier ("yara", "ioc", "damage").
	Name() string
	// Begin starts examining f. It returns nil when the detector has
	// nothing to do for this file.
	Begin(ctx context.Context, f *File) (Examination, error)
}

// Examination is one detector's view of one file. The engine calls Write
// with the file's bytes in order, each byte exactly once, then Close once.
type Examination interface {
	Write(p []byte) (int, error)
	// Close ends the examination and returns what was found. An error
	// means the file could not be fully examined by this detector: the
	// engine records the file as unscannable with the error as reason.
	Close(ctx context.Context) ([]incident.Finding, error)
}

// QuickDetector is implemented by detectors that take part in --quick
// triage, where files are sampled rather than read whole.
type QuickDetector interface {
	Detector
	Quick() bool
}

// QuickPlanner is implemented by quick detectors that know before opening
// a file which byte ranges they will read. In --quick mode the engine asks
// the disk for those ranges a few files ahead, so that a cold disk serves
// one file while another is examined.
type QuickPlanner interface {
	QuickPlan(name string, size int64) []Range
}

// Range is a span of a file: Len bytes from Off.
type Range struct{ Off, Len int64 }

// RuleSetDigester is implemented by detectors whose verdicts depend on
// loaded rules; the digest goes into the scan's rule-set digest so that a
// change of rules invalidates earlier verdicts.
type RuleSetDigester interface {
	RuleSetDigest() string
}
