package account

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/authlog"
)

// historyMax is how much of an existing log is read at start to learn
// the baseline.
const historyMax = 64 << 20

// Follower reads authentication logs: what they already hold (passed to
// learn) and what is appended from then on (passed to observe). It
// follows rotation (a new file under the name) and truncation.
type Follower struct {
	// Files are syslog files (auth.log, secure).
	Files []string
	// Journal follows journalctl's output instead of (or besides) files.
	Journal bool
	// JournalCmd replaces the journalctl command line (tests).
	JournalCmd []string
	// Poll is how often files are checked (default 500 ms).
	Poll time.Duration
	// Location is the zone of syslog stamps without one.
	Location *time.Location
	// Host names events whose lines carry none.
	Host string
	// Errorf reports read errors (the follower goes on).
	Errorf func(format string, args ...any)
}

// Run follows until ctx ends.
func (f *Follower) Run(ctx context.Context, learn, observe func(*hunt.Event)) error {
	if f.Poll <= 0 {
		f.Poll = 500 * time.Millisecond
	}
	if f.Location == nil {
		f.Location = time.Local
	}
	if f.Errorf == nil {
		f.Errorf = func(string, ...any) {}
	}
	errc := make(chan error, 1+len(f.Files))
	n := 0
	for _, p := range f.Files {
		n++
		go func() { errc <- f.file(ctx, p, learn, observe) }()
	}
	if f.Journal {
		n++
		go func() { errc <- f.journal(ctx, learn, observe) }()
	}
	if n == 0 {
		return errors.New("no log to follow")
	}
	var first error
	for range n {
		if err := <-errc; err != nil && first == nil && ctx.Err() == nil {
			first = err
		}
	}
	return first
}

type tail struct {
	f       *os.File
	ino     uint64
	off     int64
	partial []byte
}

func (f *Follower) file(ctx context.Context, p string, learn, observe func(*hunt.Event)) error {
	var t *tail
	open := func(fromStart bool, history bool) {
		fh, err := os.Open(p)
		if err != nil {
			return
		}
		fi, err := fh.Stat()
		if err != nil {
			fh.Close()
			return
		}
		t = &tail{f: fh, ino: inode(fi)}
		if history {
			if fi.Size() > historyMax {
				t.off = fi.Size() - historyMax
			}
			t.off = f.drain(t, p, learn, true)
			return
		}
		if !fromStart {
			t.off = fi.Size()
		}
	}
	open(true, true)
	tick := time.NewTicker(f.Poll)
	defer tick.Stop()
	defer func() {
		if t != nil {
			t.f.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if t == nil {
			open(true, false)
			if t == nil {
				continue
			}
		}
		t.off = f.drain(t, p, observe, false)
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			// rotated away, the new file not there yet
		case inode(fi) != t.ino:
			// rotated: finish the old file, then read the new one whole
			t.off = f.drain(t, p, observe, false)
			t.f.Close()
			t = nil
			open(true, false)
		case fi.Size() < t.off:
			t.off, t.partial = 0, nil // truncated
		}
	}
}

// drain reads complete lines from t's offset and returns the new offset.
func (f *Follower) drain(t *tail, p string, fn func(*hunt.Event), history bool) int64 {
	if _, err := t.f.Seek(t.off, io.SeekStart); err != nil {
		f.Errorf("%s: %v", p, err)
		return t.off
	}
	r := bufio.NewReaderSize(t.f, 64<<10)
	off := t.off
	now := time.Now()
	skipFirst := history && t.off > 0 // started mid-file: the first line is cut
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// an overlong line: keep its start, drop the rest
			if len(t.partial) < authlog.MaxLineSize {
				t.partial = append(t.partial, line[:min(len(line), authlog.MaxLineSize-len(t.partial))]...)
			}
			off += int64(len(line))
			continue
		}
		if err != nil {
			// an incomplete last line waits for its end
			return off
		}
		off += int64(len(line))
		full := append(t.partial, line...)
		t.partial = nil
		if skipFirst {
			skipFirst = false
			continue
		}
		full = bytes.TrimRight(full, "\r\n")
		if len(bytes.TrimSpace(full)) == 0 {
			continue
		}
		ev := authlog.ParseLine(string(full), now, f.Location)
		if ev.Time.IsZero() {
			continue
		}
		if ev.Host == "" {
			ev.Host = f.Host
		}
		ev.Source, ev.Channel = p, "auth"
		fn(ev)
	}
}

// journal runs journalctl for the logon programs: a month of history
// (learnt), then the live records (observed).
func (f *Follower) journal(ctx context.Context, learn, observe func(*hunt.Event)) error {
	args := f.JournalCmd
	if len(args) == 0 {
		args = []string{"journalctl", "-o", "json", "--no-pager", "-q", "--since", "-30d", "-f",
			"-t", "sshd", "-t", "sshd-session", "-t", "login"}
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, authlog.MaxLineSize)
	for sc.Scan() {
		ev, err := authlog.ParseJournalRecord(sc.Bytes())
		if err != nil {
			f.Errorf("journal: %v", err)
			continue
		}
		if ev.Host == "" {
			ev.Host = f.Host
		}
		if ev.Time.Before(start) {
			learn(ev)
		} else {
			observe(ev)
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = sc.Err()
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return errors.New("journal: journalctl ended")
}
