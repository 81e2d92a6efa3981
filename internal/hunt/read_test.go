package hunt_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/authlog"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/evtx"
)

// evtxFormat adapts the evtx reader the way the hunt command does.
type evtxFormat struct{}

func (evtxFormat) Name() string       { return "evtx" }
func (evtxFormat) RandomAccess() bool { return true }
func (evtxFormat) Sniff(h []byte) bool {
	return bytes.HasPrefix(h, []byte("ElfFile\x00")) || bytes.HasPrefix(h, []byte("ElfChnk\x00"))
}
func (evtxFormat) Decode(ctx context.Context, in *hunt.Input, emit func(*hunt.Event) error) (hunt.DecodeStats, error) {
	st, err := evtx.ReadFrom(ctx, in.ReaderAt, in.Size, in.Path, evtx.Options{Concurrent: true}, emit)
	ds := hunt.DecodeStats{Records: int64(st.Records), Bad: int64(st.RecordsBad + st.ChunksBad)}
	if len(st.Problems) > 0 {
		ds.BadReason = st.Problems[0].String()
	}
	return ds, err
}

func formats() []hunt.Format {
	return []hunt.Format{evtxFormat{}, authlog.Journal{}, authlog.JSONL{}, authlog.Syslog{}}
}

func write(t *testing.T, path string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

type collected struct {
	mu  sync.Mutex
	evs []*hunt.Event
}

func (c *collected) emit(e *hunt.Event) error {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
	return nil
}

func (c *collected) bySource(src string) []*hunt.Event {
	var out []*hunt.Event
	for _, e := range c.evs {
		if e.Source == src {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].RecordID < out[b].RecordID })
	return out
}

func fileReport(t *testing.T, rep *hunt.Report, path string) hunt.FileReport {
	t.Helper()
	for _, f := range rep.Files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("no report for %s in %+v", path, rep.Files)
	return hunt.FileReport{}
}

func TestReadDispatch(t *testing.T) {
	root := filepath.Join(t.TempDir(), "collected")
	jst := time.FixedZone("JST", 9*3600)
	// web01: the current auth.log plus two rotations; the rotations' mtime
	// is a later copy date, so only the chain of rotations dates them.
	copyTime := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	authNow := filepath.Join(root, "web01", "var", "log", "auth.log")
	write(t, authNow, []byte("Jan  3 10:00:00 web01 sshd[1]: Accepted password for alice from 192.0.2.1 port 1 ssh2\n"), time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC))
	auth1 := filepath.Join(root, "web01", "var", "log", "auth.log.1")
	write(t, auth1, []byte("Dec 28 10:00:00 web01 sshd[1]: Accepted password for alice from 192.0.2.1 port 1 ssh2\n"), copyTime)
	auth2 := filepath.Join(root, "web01", "var", "log", "auth.log.2.gz")
	write(t, auth2, gz([]byte("Nov 30 10:00:00 web01 sshd[1]: Failed password for root from 192.0.2.9 port 1 ssh2\n")), copyTime)
	// fs02: JSONL events without a host: the folder names it.
	events := filepath.Join(root, "fs02", "events.jsonl")
	write(t, events, []byte(`{"time":"2024-01-02T00:00:00Z","channel":"Security","event_id":4624,"fields":{"TargetUserName":"admin"}}`+"\n"), time.Time{})
	// a damaged gzip: the readable lines count, the damage is reported.
	var lines strings.Builder
	for i := range 2000 {
		lines.WriteString("Jan  3 10:00:00 db03 sshd[1]: Failed password for root from 192.0.2.7 port " + string(rune('0'+i%10)) + " ssh2\n")
	}
	full := gz([]byte(lines.String()))
	cut := filepath.Join(root, "db03", "secure.gz")
	write(t, cut, full[:len(full)/2], time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC))
	// not logs
	notLog := filepath.Join(root, "web01", "notes.bin")
	write(t, notLog, []byte("\x00\x01\x02 binary"), time.Time{})
	journal := filepath.Join(root, "web01", "system.journal")
	write(t, journal, append([]byte("LPKSHHRH"), make([]byte, 100)...), time.Time{})
	empty := filepath.Join(root, "web01", "empty.log")
	write(t, empty, nil, time.Time{})
	// a FIFO must never block the walk, a link must not be followed
	fifo := filepath.Join(root, "web01", "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside.log")
	write(t, outside, []byte("Jan  3 10:00:00 x sshd[1]: Accepted password for x from 192.0.2.1 port 1 ssh2\n"), time.Time{})
	link := filepath.Join(root, "web01", "link.log")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}

	var c collected
	var progressed, startBytes int64
	var mu sync.Mutex
	rep, err := hunt.Read(context.Background(), []string{root}, hunt.Options{
		Formats: formats(), Host: "cli-host", Location: jst, Workers: 3,
		OnStart:    func(_ int, b int64) { startBytes = b },
		OnProgress: func(n int64) { mu.Lock(); progressed += n; mu.Unlock() },
	}, c.emit)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("rotation years", func(t *testing.T) {
		want := map[string]int{authNow: 2024, auth1: 2023, auth2: 2023}
		for p, y := range want {
			evs := c.bySource(p)
			if len(evs) != 1 || evs[0].Time.Year() != y {
				t.Errorf("%s: %d events, time %v, want year %d", filepath.Base(p), len(evs), evs[0].Time, y)
			}
		}
		if f := fileReport(t, rep, auth2); f.Compression != "gzip" || f.Format != "syslog" || f.Status != hunt.FileRead {
			t.Errorf("auth.log.2.gz report = %+v", f)
		}
	})
	t.Run("folder host", func(t *testing.T) {
		evs := c.bySource(events)
		if len(evs) != 1 || evs[0].Host != "fs02" {
			t.Fatalf("events = %+v, want host fs02 from the folder", evs)
		}
		if f := fileReport(t, rep, authNow); f.Host != "web01" || len(f.Hosts) != 1 || f.Hosts[0] != "web01" {
			t.Errorf("auth.log host attribution = %+v", f)
		}
	})
	t.Run("damaged gzip", func(t *testing.T) {
		f := fileReport(t, rep, cut)
		if f.Status != hunt.FilePartial || f.Records == 0 || f.Records >= 2000 || !strings.Contains(f.Reason, "EOF") {
			t.Errorf("report = %+v, want partial with some records and an EOF reason", f)
		}
		if n := len(c.bySource(cut)); int64(n) != f.Records {
			t.Errorf("%d events emitted, report says %d", n, f.Records)
		}
	})
	t.Run("skipped", func(t *testing.T) {
		for p, want := range map[string]string{
			notLog: "not a log format", journal: "binary systemd journal", empty: "empty",
			fifo: "not a regular file", link: "symbolic link not followed",
		} {
			f := fileReport(t, rep, p)
			if f.Status != hunt.FileSkipped || !strings.Contains(f.Reason, want) {
				t.Errorf("%s: %+v, want skipped: %s", filepath.Base(p), f, want)
			}
		}
		for _, e := range c.evs {
			if e.Source == outside || e.Host == "x" {
				t.Errorf("followed the link: %+v", e)
			}
		}
	})
	t.Run("progress", func(t *testing.T) {
		if progressed != startBytes || startBytes == 0 {
			t.Errorf("progress %d of %d bytes", progressed, startBytes)
		}
	})
	t.Run("losses", func(t *testing.T) {
		ls := rep.Losses()
		if len(ls) != 1 || ls[0].Path != cut {
			t.Errorf("losses = %+v, want only the damaged gzip", ls)
		}
	})
}

func TestReadHostFallbacks(t *testing.T) {
	dir := t.TempDir()
	line := []byte(`{"time":"2024-01-02T00:00:00Z","channel":"auth","message":"x"}` + "\n")
	direct := filepath.Join(dir, "srv09", "a.jsonl")
	write(t, direct, line, time.Time{})
	linkArg := filepath.Join(t.TempDir(), "link.jsonl")
	if err := os.Symlink(direct, linkArg); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, arg, host, want string
	}{
		{"file argument: --host first", direct, "given", "given"},
		{"file argument: parent folder", direct, "", "srv09"},
		{"folder argument: files directly inside use --host", filepath.Dir(direct), "given", "given"},
		{"folder argument: its own name", filepath.Dir(direct), "", "srv09"},
		{"per-host subfolder beats --host", dir, "given", "srv09"},
		{"a link named on the command line is followed", linkArg, "", "srv09"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c collected
			if _, err := hunt.Read(context.Background(), []string{tc.arg}, hunt.Options{Formats: formats(), Host: tc.host}, c.emit); err != nil {
				t.Fatal(err)
			}
			if len(c.evs) != 1 || c.evs[0].Host != tc.want {
				t.Errorf("host = %+v, want %q", c.evs, tc.want)
			}
		})
	}
}

func TestReadEVTXSample(t *testing.T) {
	src := sharedData(t, "evtx-attack-samples/Lateral Movement/LM_Remote_Service02_7045.evtx")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "host", "System.evtx")
	write(t, plain, b, time.Time{})
	packed := filepath.Join(dir, "host", "System-old.evtx.gz")
	write(t, packed, gz(b), time.Time{})
	truncated := filepath.Join(dir, "host", "System-cut.evtx")
	write(t, truncated, b[:len(b)-len(b)/3], time.Time{})

	var c collected
	rep, err := hunt.Read(context.Background(), []string{dir}, hunt.Options{Formats: formats()}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	a, p := fileReport(t, rep, plain), fileReport(t, rep, packed)
	if a.Format != "evtx" || a.Records == 0 || a.Status != hunt.FileRead || p.Records != a.Records || p.Compression != "gzip" {
		t.Fatalf("plain %+v, gzip %+v", a, p)
	}
	if cut := fileReport(t, rep, truncated); cut.Records == 0 || cut.Records > a.Records {
		t.Errorf("truncated %+v: want some but not more records than the whole file", cut)
	}
	var has7045 bool
	for _, e := range c.bySource(plain) {
		if e.EventID == 7045 && e.Channel == "System" && e.Host != "" {
			has7045 = true
		}
	}
	if !has7045 {
		t.Error("no 7045 event with a host from the sample")
	}
}

// sharedData returns ../shared/data/<rel> from the repository root, or
// skips the test when the shared data is absent.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data absent (%s): %v", p, err)
	}
	return p
}
