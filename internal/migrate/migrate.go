// Package migrate moves screened-clean files into new infrastructure: it
// walks a source tree, reads every file once through scan.Engine.Examine
// with the destination upload as the tee, so the bytes copied are exactly
// the bytes screened and hashed; promotes the upload only when the verdict
// is clean and the SHA-256 of the bytes written equals that of the bytes
// screened; reads the stored copy back to verify it; and journals every
// step so that a rerun after kill -9 finishes the job without duplicates or
// partial objects. The manifest (package manifest) is written from the
// journal. Destinations live in dest/. Only cmd/kintsugi imports this
// package; it never imports the case store (the Journal interface is
// implemented over it in cmd/kintsugi).
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
	"github.com/kintsugi-ir/kintsugi/internal/source"
)

// Prior is an earlier scan's verdict on an unchanged file, made with the
// same rule set.
type Prior struct {
	Verdict   incident.Verdict
	Reason    string
	SHA256    string
	Findings  []incident.Finding
	ScannedAt time.Time
}

// Config configures a Migrator.
type Config struct {
	// Source is the absolute, clean root of the tree to migrate.
	Source string
	Dest   dest.Destination
	// Engine screens each file; its detectors decide the verdict.
	Engine  *scan.Engine
	Walk    source.WalkOptions
	Workers int
	Journal Journal
	// Known, when set, returns an earlier scan's verdict for an
	// unchanged file: non-clean ones are refused without reading. Clean
	// ones are read anyway: that read is the copy and the screening.
	Known func(path string, in source.Info) (Prior, bool)
	// Screened, when set, receives every examination result (the caller
	// stores them as scan results). It is called from many goroutines.
	Screened func(scan.Result)
	// Retries is how often a file whose copy did not verify, or that
	// changed while it was read, is tried again in the same run.
	Retries int
	// BWLimit caps the bytes per second handed to the destination.
	BWLimit int64
	// Quarantine, when set, is a folder where refused files are kept as
	// inert archives.
	Quarantine string
	// TempTag marks the job's temporary names (letters and digits), so
	// that what killed runs left can be swept without touching other jobs.
	TempTag string
	Log     *slog.Logger
	Now     func() time.Time
}

// Progress counts what a run has done; safe to read at any time.
type Progress struct {
	Files, Bytes       atomic.Int64 // handled so far
	Migrated, Refused  atomic.Int64
	Failed, Skipped    atomic.Int64
	Unchanged          atomic.Int64 // verified or refused earlier, not read again
	Copied             atomic.Int64 // files copied and verified in this run
	BytesCopied        atomic.Int64
	Retried, Recovered atomic.Int64 // retries; leftovers of interrupted runs cleaned up
}

// Migrator runs one migration job.
type Migrator struct {
	cfg      Config
	lim      *limiter
	keyMu    sync.Mutex
	claimed  map[string]string
	Progress Progress
}

// New returns a Migrator for cfg.
func New(cfg Config) *Migrator {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Source = strings.TrimSuffix(cfg.Source, "/")
	if cfg.TempTag == "" {
		cfg.TempTag = "job"
	}
	return &Migrator{cfg: cfg, lim: newLimiter(cfg.BWLimit), claimed: map[string]string{}}
}

// errJournal marks a failure to write the journal: the run stops, since
// without the journal a crash could no longer be recovered from.
type errJournal struct{ err error }

func (e errJournal) Error() string { return "migrate journal: " + e.err.Error() }
func (e errJournal) Unwrap() error { return e.err }

func (m *Migrator) put(ctx context.Context, e *Entry) error {
	e.Updated = m.cfg.Now()
	if err := m.cfg.Journal.Put(context.WithoutCancel(ctx), *e); err != nil {
		return errJournal{err}
	}
	return nil
}

// Recover undoes what an interrupted run left: temporaries of uploads that
// were in flight are removed, and their entries marked failed so that the
// walk copies those files again. It runs at the start of every Run.
func (m *Migrator) Recover(ctx context.Context) error {
	var stale []Entry
	if err := m.cfg.Journal.Each(ctx, []string{StateCopying}, func(e Entry) error {
		stale = append(stale, e)
		return nil
	}); err != nil {
		return errJournal{err}
	}
	for _, e := range stale {
		if err := m.cfg.Dest.Cleanup(ctx, e.DestKey, e.Temp); err != nil {
			return fmt.Errorf("clean up after the interrupted copy of %q: %w", e.Path, err)
		}
		e.State, e.Temp = StateFailed, ""
		e.Reason = "interrupted while copying; temporary removed, copied again on the next run"
		if err := m.put(ctx, &e); err != nil {
			return err
		}
		m.Progress.Recovered.Add(1)
	}
	return nil
}

// Run recovers from an earlier interruption, then walks the source and
// handles every entry. It returns when the walk is complete, ctx is done,
// or the journal cannot be written.
func (m *Migrator) Run(ctx context.Context) error {
	if err := m.Recover(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	entries := make(chan source.Entry, 4*m.cfg.Workers)
	walkErr := make(chan error, 1)
	go func() {
		walkErr <- source.Walk(ctx, []string{m.cfg.Source}, m.cfg.Walk, entries)
		close(entries)
	}()
	var wg sync.WaitGroup
	for range m.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ent := range entries {
				if ctx.Err() != nil {
					continue
				}
				if err := m.handle(ctx, ent); err != nil {
					cancel(err)
				}
			}
		}()
	}
	wg.Wait()
	werr := <-walkErr
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if werr != nil {
		return werr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Every upload of this run has ended: whatever temporaries of the job
	// are left were completed on the server after an earlier kill.
	if sw, ok := m.cfg.Dest.(dest.Sweeper); ok {
		n, err := sw.Sweep(ctx, m.cfg.TempTag)
		if err != nil {
			return fmt.Errorf("remove leftovers of interrupted runs at the destination: %w", err)
		}
		m.Progress.Recovered.Add(int64(n))
	}
	return nil
}

// rel returns the path of ent below the source root.
func (m *Migrator) rel(p string) string {
	if p == m.cfg.Source {
		return "."
	}
	return strings.TrimPrefix(p, m.cfg.Source+"/")
}

func sameIdentity(e *Entry, in source.Info) bool {
	return e.Size == in.Size && e.Dev == in.Dev && e.Ino == in.Ino && e.ModTime.Equal(in.ModTime) && e.ChangeTime.Equal(in.ChangeTime)
}

func setIdentity(e *Entry, in source.Info) {
	e.Size, e.ModTime, e.ChangeTime, e.Dev, e.Ino, e.Mode = in.Size, in.ModTime, in.ChangeTime, in.Dev, in.Ino, uint32(in.Mode)
}

// handle decides what to do with one walked entry and does it. It returns
// an error only when the run must stop.
func (m *Migrator) handle(ctx context.Context, ent source.Entry) error {
	rel := m.rel(ent.Path)
	prev, had, err := m.cfg.Journal.Get(ctx, []byte(rel))
	if err != nil {
		return errJournal{err}
	}
	defer func() {
		m.Progress.Files.Add(1)
		m.Progress.Bytes.Add(ent.Info.Size)
	}()
	e := Entry{Path: []byte(rel), DestKey: prev.DestKey, Attempts: prev.Attempts}
	setIdentity(&e, ent.Info)
	switch ent.Kind {
	case source.KindExcluded, source.KindLinkInTree:
		m.Progress.Skipped.Add(1)
		// A copy made by an earlier run stays: an --exclude added later
		// never deletes migrated data.
		if had && (prev.State == StateVerified || (prev.State == StateSkipped && prev.Reason == ent.Reason)) {
			return nil
		}
		e.State, e.Reason = StateSkipped, ent.Reason
		return m.put(ctx, &e)
	case source.KindSkipped:
		res := m.cfg.Engine.Examine(ctx, ent, nil)
		m.screened(res)
		return m.refuse(ctx, &prev, had, &e, res.Verdict, res.Reason, res.Findings, false)
	}
	if had && sameIdentity(&prev, ent.Info) {
		switch {
		case prev.State == StateVerified:
			m.Progress.Unchanged.Add(1)
			m.Progress.Migrated.Add(1)
			return nil
		case prev.State == StateRefused && prev.Verdict != incident.Unscannable:
			m.Progress.Unchanged.Add(1)
			m.Progress.Refused.Add(1)
			return nil
		case prev.State == StatePromoted:
			// Copied and promoted, but the run stopped before the read-back.
			if m.verify(ctx, &prev) {
				prev.State = StateVerified
				m.Progress.Migrated.Add(1)
				m.Progress.Unchanged.Add(1)
				return m.put(ctx, &prev)
			}
		}
	}
	key, mapping, err := m.cfg.Dest.MapName(rel)
	e.Notes = nameNotes(m.cfg.Source, rel)
	if err != nil {
		return m.fail(ctx, &e, "destination cannot hold this name: "+err.Error())
	}
	e.DestKey = key
	if mapping != "" {
		e.Notes = append(e.Notes, "stored as "+quoteKey(key)+": "+mapping)
		if other, taken, err := m.claim(ctx, key, rel); err != nil {
			return err
		} else if taken {
			return m.fail(ctx, &e, fmt.Sprintf("name collision: %q maps to %q, which %q also maps to or holds", rel, key, other))
		}
	}
	if m.cfg.Known != nil {
		if p, ok := m.cfg.Known(ent.Path, ent.Info); ok && p.Verdict != incident.Clean {
			e.SHA256, e.ScannedAt = p.SHA256, p.ScannedAt
			return m.refuse(ctx, &prev, had, &e, p.Verdict, p.Reason, p.Findings, true)
		}
	}
	return m.copy(ctx, ent, &prev, had, &e)
}

func quoteKey(k string) string { return fmt.Sprintf("%q", k) }

// claim reserves a mapped key for rel, reporting who holds it otherwise: a
// source file with that very name, another mapped name in this run, or an
// entry of an earlier run.
func (m *Migrator) claim(ctx context.Context, key, rel string) (string, bool, error) {
	m.keyMu.Lock()
	defer m.keyMu.Unlock()
	if other, ok := m.claimed[key]; ok && other != rel {
		return other, true, nil
	}
	if _, err := os.Lstat(m.cfg.Source + "/" + key); err == nil && key != rel {
		return key, true, nil
	}
	if e, ok, err := m.cfg.Journal.ByKey(ctx, key); err != nil {
		return "", false, errJournal{err}
	} else if ok && string(e.Path) != rel {
		return string(e.Path), true, nil
	}
	m.claimed[key] = rel
	return "", false, nil
}

func (m *Migrator) screened(r scan.Result) {
	if m.cfg.Screened != nil {
		m.cfg.Screened(r)
	}
}

func (m *Migrator) fail(ctx context.Context, e *Entry, reason string) error {
	e.State, e.Temp, e.Reason = StateFailed, "", reason
	m.Progress.Failed.Add(1)
	m.cfg.Log.Info("migrate: file not migrated", "path", string(e.Path), "reason", reason)
	return m.put(ctx, e)
}

// refuse records a non-clean verdict. A copy that an earlier run made of
// an earlier version of the file is removed: the destination holds only
// files whose current version screened clean.
func (m *Migrator) refuse(ctx context.Context, prev *Entry, had bool, e *Entry, v incident.Verdict, reason string, fs []incident.Finding, fromScan bool) error {
	e.State, e.Temp, e.Verdict, e.Reason, e.FromScan = StateRefused, "", v, reason, fromScan
	e.Findings = nonClean(fs)
	if e.ScannedAt.IsZero() {
		e.ScannedAt = m.cfg.Now()
	}
	m.Progress.Refused.Add(1)
	if err := m.removeStale(ctx, prev, had, e); err != nil {
		return err
	}
	return m.put(ctx, e)
}

func (m *Migrator) removeStale(ctx context.Context, prev *Entry, had bool, e *Entry) error {
	if !had || (prev.State != StateVerified && prev.State != StatePromoted) || prev.DestKey == "" {
		return nil
	}
	if err := m.cfg.Dest.Remove(ctx, prev.DestKey); err != nil {
		return fmt.Errorf("remove the earlier copy of %q from the destination: %w", prev.Path, err)
	}
	e.Notes = append(e.Notes, "the copy of an earlier version of this file was removed from the destination")
	return nil
}

func nonClean(fs []incident.Finding) []incident.Finding {
	var out []incident.Finding
	for _, f := range fs {
		if f.Verdict != incident.Clean {
			out = append(out, f)
		}
	}
	return out
}

// copy screens and copies one file in a single read, then promotes and
// verifies it, trying again after a verification mismatch or a change
// during the read.
func (m *Migrator) copy(ctx context.Context, ent source.Entry, prev *Entry, had bool, e *Entry) error {
	// The engine hashes every buffer it passes to the upload, in order
	// (Hashed): the upload need not hash the same bytes again, and the
	// read-back after promotion proves what was stored.
	meta := dest.Meta{ModTime: ent.Info.ModTime, Mode: ent.Info.Mode, Hashed: true}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			m.Progress.Retried.Add(1)
		}
		e.Attempts++
		e.State, e.Temp = StateCopying, m.cfg.Dest.TempName(e.DestKey, m.cfg.TempTag)
		e.SHA256, e.Verdict, e.Reason, e.Findings, e.Verify, e.VerifiedAt = "", "", "", nil, "", time.Time{}
		if err := m.put(ctx, e); err != nil {
			return err
		}
		// The upload starts with the first bytes the engine passes on: a
		// file it refuses whole is never written (see scan.Tee).
		var up dest.Upload
		var createErr error
		var wrote int64
		res := m.cfg.Engine.Examine(ctx, ent, func(p []byte) error {
			if up == nil {
				// an error ends the examination: no second call
				if up, createErr = m.cfg.Dest.Create(ctx, e.DestKey, e.Temp, ent.Info.Size, meta); createErr != nil {
					return createErr
				}
			}
			if err := m.lim.wait(ctx, len(p)); err != nil {
				return err
			}
			n, err := up.Write(p)
			wrote += int64(n)
			return err
		})
		m.screened(res)
		if createErr != nil {
			m.cleanup(ctx, e)
			return m.fail(ctx, e, "cannot write to the destination: "+errReason(createErr))
		}
		if up == nil {
			// nothing was passed on: the file is refused, or the
			// examination stopped (the engine passes even an empty clean
			// file on, as an empty piece)
			up = noUpload{}
		}
		setIdentity(e, res.Info)
		e.SHA256, e.Verdict, e.Reason, e.Findings, e.ScannedAt = res.Sums.SHA256, res.Verdict, res.Reason, nonClean(res.Findings), m.cfg.Now()
		switch {
		case ctx.Err() != nil:
			up.Abort(context.WithoutCancel(ctx))
			e.Verdict = ""
			m.fail(ctx, e, "interrupted while copying; copied again on the next run")
			return ctx.Err()
		case res.TeeErr != nil:
			up.Abort(context.WithoutCancel(ctx))
			e.Verdict = ""
			return m.fail(ctx, e, "writing to the destination failed: "+errReason(res.TeeErr))
		case res.Verdict != incident.Clean:
			up.Abort(ctx)
			if !res.Reusable && attempt < m.cfg.Retries {
				e.Notes = appendNote(e.Notes, fmt.Sprintf("attempt %d not fully examined (%s): read again", attempt+1, res.Reason))
				continue
			}
			m.quarantine(ctx, ent, e)
			return m.refuse(ctx, prev, had, e, res.Verdict, res.Reason, res.Findings, false)
		case res.Sums.SHA256 == "" || wrote != res.Info.Size:
			up.Abort(ctx)
			return m.fail(ctx, e, fmt.Sprintf("internal error: %d bytes passed to the destination for a %d-byte file", wrote, res.Info.Size))
		}
		if err := up.Commit(ctx, res.Info.Size, res.Sums.SHA256); err != nil {
			up.Abort(context.WithoutCancel(ctx))
			m.cleanup(ctx, e)
			if errors.Is(err, dest.ErrMismatch) && attempt < m.cfg.Retries {
				e.Notes = appendNote(e.Notes, fmt.Sprintf("attempt %d: %v", attempt+1, err))
				continue
			}
			if ctx.Err() != nil {
				m.fail(ctx, e, "interrupted while promoting; copied again on the next run")
				return ctx.Err()
			}
			return m.fail(ctx, e, "promotion at the destination failed: "+errReason(err))
		}
		m.Progress.BytesCopied.Add(res.Info.Size)
		e.State, e.Temp = StatePromoted, ""
		if err := m.put(ctx, e); err != nil {
			return err
		}
		if m.verify(ctx, e) {
			e.State = StateVerified
			m.Progress.Migrated.Add(1)
			m.Progress.Copied.Add(1)
			return m.put(ctx, e)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt < m.cfg.Retries {
			e.Notes = appendNote(e.Notes, fmt.Sprintf("attempt %d: read-back %s: copied again", attempt+1, e.Verify))
			continue
		}
		// The promoted copy is wrong: it must not stay under its name.
		if err := m.cfg.Dest.Remove(ctx, e.DestKey); err != nil {
			e.Notes = appendNote(e.Notes, "could not remove the copy that failed verification: "+err.Error())
		}
		return m.fail(ctx, e, "the stored copy did not verify after "+fmt.Sprint(attempt+1)+" attempts: "+e.Verify)
	}
}

// errReason shortens errors about temporary files to the operation and
// the system's reason: the file is named by the entry already.
func errReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

func appendNote(notes []string, n string) []string {
	const max = 20
	if len(notes) >= max {
		return notes
	}
	return append(notes, n)
}

// cleanup removes what a failed upload may have left under its temporary
// name; the journal entry keeps the name until this succeeded.
func (m *Migrator) cleanup(ctx context.Context, e *Entry) {
	if err := m.cfg.Dest.Cleanup(context.WithoutCancel(ctx), e.DestKey, e.Temp); err != nil {
		m.cfg.Log.Warn("migrate: cannot remove a temporary upload", "key", e.DestKey, "temp", e.Temp, "err", err)
		return
	}
	e.Temp = ""
}

// verify reads the stored copy back and compares its size and SHA-256 (and
// the SHA-256 in its metadata, when the destination keeps one) with the
// bytes screened. It records the result in e.
func (m *Migrator) verify(ctx context.Context, e *Entry) bool {
	e.VerifiedAt = m.cfg.Now()
	info, err := m.cfg.Dest.Stat(ctx, e.DestKey)
	if err != nil {
		e.Verify = "error: " + err.Error()
		return false
	}
	if info.SHA256 != "" && info.SHA256 != e.SHA256 {
		e.Verify = fmt.Sprintf("mismatch: metadata SHA-256 %s", info.SHA256)
		return false
	}
	rc, err := m.cfg.Dest.ReadBack(ctx, e.DestKey)
	if err != nil {
		e.Verify = "error: " + err.Error()
		return false
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, onlyReader{rc}, make([]byte, 1<<20))
	if err != nil {
		e.Verify = "error: reading back: " + err.Error()
		return false
	}
	got := hex.EncodeToString(h.Sum(nil))
	if n != e.Size || got != e.SHA256 {
		e.Verify = fmt.Sprintf("mismatch: read back %d bytes with SHA-256 %s", n, got)
		return false
	}
	e.Verify = "ok"
	return true
}

// onlyReader hides WriterTo, so that io.CopyBuffer uses the given buffer
// rather than the reader's small default one.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// noUpload stands for an upload that was never started: the engine passed
// no bytes on because it refused the file, or the examination stopped
// first. Only Abort succeeds.
type noUpload struct{}

func (noUpload) Write([]byte) (int, error) { return 0, errors.New("migrate: no upload was started") }

func (noUpload) Commit(context.Context, int64, string) error {
	return errors.New("migrate: no upload was started")
}

func (noUpload) Abort(context.Context) error { return nil }
