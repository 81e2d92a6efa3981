package migrate

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/dest/local"
	"github.com/kintsugi-ir/kintsugi/internal/migrate/manifest"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
	"github.com/kintsugi-ir/kintsugi/internal/source"
)

// memJournal is an in-memory Journal for tests.
type memJournal struct {
	mu sync.Mutex
	m  map[string]Entry
}

func newMemJournal() *memJournal { return &memJournal{m: map[string]Entry{}} }

func (j *memJournal) Get(_ context.Context, p []byte) (Entry, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.m[string(p)]
	return e, ok, nil
}

func (j *memJournal) ByKey(_ context.Context, key string) (Entry, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range j.m {
		if e.DestKey == key {
			return e, true, nil
		}
	}
	return Entry{}, false, nil
}

func (j *memJournal) Put(_ context.Context, e Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.Notes = append([]string(nil), e.Notes...)
	j.m[string(e.Path)] = e
	return nil
}

func (j *memJournal) Each(_ context.Context, states []string, fn func(Entry) error) error {
	j.mu.Lock()
	var es []Entry
	for _, e := range j.m {
		if len(states) == 0 || contains(states, e.State) {
			es = append(es, e)
		}
	}
	j.mu.Unlock()
	sort.Slice(es, func(a, b int) bool { return bytes.Compare(es[a].Path, es[b].Path) < 0 })
	for _, e := range es {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// evilDetector calls a file malicious when it contains "EVIL"; onWrite,
// when set, runs on every write (to change the file while it is read).
type evilDetector struct{ onWrite func(path string) }

func (d evilDetector) Name() string { return "evil" }
func (d evilDetector) Begin(_ context.Context, f *scan.File) (scan.Examination, error) {
	return &evilExam{d: d, path: f.Path}, nil
}

type evilExam struct {
	d    evilDetector
	path string
	buf  []byte
}

func (e *evilExam) Write(p []byte) (int, error) {
	if e.d.onWrite != nil {
		e.d.onWrite(e.path)
	}
	e.buf = append(e.buf, p...)
	return len(p), nil
}

func (e *evilExam) Close(context.Context) ([]incident.Finding, error) {
	if bytes.Contains(e.buf, []byte("EVIL")) {
		return []incident.Finding{{Detector: "evil", Rule: "evil", Verdict: incident.Malicious, Reason: "contains EVIL"}}, nil
	}
	return nil, nil
}

type fixture struct {
	src, dst string
	j        *memJournal
	d        dest.Destination
}

func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	f := &fixture{src: t.TempDir(), dst: filepath.Join(t.TempDir(), "dst"), j: newMemJournal()}
	for name, body := range files {
		p := filepath.Join(f.src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	d, err := local.New(f.dst)
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	return f
}

func (f *fixture) migrator(det evilDetector, mod func(*Config)) *Migrator {
	cfg := Config{Source: f.src, Dest: f.d, Engine: scan.New(scan.Config{Detectors: []scan.Detector{det}}), Workers: 2, Journal: f.j, Retries: 2}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg)
}

func (f *fixture) states() map[string]string {
	out := map[string]string{}
	f.j.Each(context.Background(), nil, func(e Entry) error { out[string(e.Path)] = e.State; return nil })
	return out
}

// tree lists every file under dir (relative), failing on leftovers.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		if strings.HasPrefix(fi.Name(), local.TempPrefix) {
			t.Errorf("temporary file left behind: %s", p)
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return nil
	})
	return out
}

func TestLocalToLocal(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB: streamed in chunks below
	f := newFixture(t, map[string]string{"a.txt": "hello", "dir/b.bin": big, "dir/sub/evil.exe": "xxEVILxx", "empty": "",
		"契約書.txt": "日本語", "\x8c\x5f.txt": "sjis"})
	mtime := time.Date(2019, 4, 1, 9, 30, 0, 123456789, time.UTC)
	os.Chtimes(filepath.Join(f.src, "a.txt"), mtime, mtime)
	m := f.migrator(evilDetector{}, func(c *Config) {
		c.Engine = scan.New(scan.Config{Detectors: []scan.Detector{evilDetector{}}, Limits: scan.Limits{WholeFile: 1 << 10, Chunk: 64 << 10}})
	})
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := tree(t, f.dst)
	want := map[string]string{"a.txt": "hello", "dir/b.bin": big, "empty": "", "契約書.txt": "日本語", "\x8c\x5f.txt": "sjis"}
	if len(got) != len(want) {
		t.Fatalf("destination holds %d files, want %d: %v", len(got), len(want), keys(got))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q: wrong content (%d bytes, want %d)", k, len(got[k]), len(v))
		}
	}
	fi, _ := os.Stat(filepath.Join(f.dst, "a.txt"))
	if !fi.ModTime().Equal(mtime) || fi.Mode().Perm() != 0o640 {
		t.Errorf("a.txt: mtime %v mode %v, want %v 0640", fi.ModTime(), fi.Mode(), mtime)
	}
	st := f.states()
	if st["dir/sub/evil.exe"] != StateRefused || st["a.txt"] != StateVerified || st["empty"] != StateVerified {
		t.Errorf("states %v", st)
	}
	if m.Progress.Migrated.Load() != 5 || m.Progress.Refused.Load() != 1 {
		t.Errorf("progress: %d migrated, %d refused", m.Progress.Migrated.Load(), m.Progress.Refused.Load())
	}
	// A second run reads nothing again.
	m2 := f.migrator(evilDetector{onWrite: func(p string) { t.Errorf("second run read %s", p) }}, nil)
	if err := m2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m2.Progress.Unchanged.Load() != 6 {
		t.Errorf("second run: %d unchanged, want 6", m2.Progress.Unchanged.Load())
	}
	// The manifest of the job verifies and names every file.
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	var buf bytes.Buffer
	w, _ := manifest.NewWriter(&buf, manifest.Header{Source: f.src, Dest: f.dst}, key)
	if err := WriteManifest(context.Background(), f.j, w, "rs"); err != nil {
		t.Fatal(err)
	}
	w.Close("", true)
	rep, err := manifest.Verify(&buf, manifest.VerifyOptions{})
	if err != nil || !rep.OK() || rep.Counts.Migrated != 5 || rep.Counts.Refused != 1 {
		t.Fatalf("manifest: %v %+v", err, rep)
	}
}

// creates records the keys a destination was asked to start uploads for.
type creates struct {
	dest.Destination
	mu   sync.Mutex
	keys []string
}

func (c *creates) Create(ctx context.Context, key, temp string, size int64, meta dest.Meta) (dest.Upload, error) {
	c.mu.Lock()
	c.keys = append(c.keys, key)
	c.mu.Unlock()
	return c.Destination.Create(ctx, key, temp, size, meta)
}

// TestRefusedNeverWritten: a file read whole and refused is never written
// to the destination, not even under a temporary name; a streamed one
// that is refused leaves nothing behind either.
func TestRefusedNeverWritten(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<12) + "xxEVILxx" // 64 KiB: streamed below
	f := newFixture(t, map[string]string{"ok.txt": "hello", "evil.exe": "xxEVILxx", "big-evil.bin": big, "empty": ""})
	c := &creates{Destination: f.d}
	m := f.migrator(evilDetector{}, func(cfg *Config) {
		cfg.Dest = c
		cfg.Engine = scan.New(scan.Config{Detectors: []scan.Detector{evilDetector{}}, Limits: scan.Limits{WholeFile: 1 << 10, Chunk: 16 << 10}})
	})
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sort.Strings(c.keys)
	if want := []string{"big-evil.bin", "empty", "ok.txt"}; strings.Join(c.keys, ",") != strings.Join(want, ",") {
		t.Errorf("uploads started for %q, want %q", c.keys, want)
	}
	got := tree(t, f.dst)
	if len(got) != 2 || got["ok.txt"] != "hello" || got["empty"] != "" {
		t.Errorf("destination holds %q", keys(got))
	}
	if st := f.states(); st["evil.exe"] != StateRefused || st["big-evil.bin"] != StateRefused || st["empty"] != StateVerified {
		t.Errorf("states %v", st)
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestRecoverRemovesTemporaries(t *testing.T) {
	f := newFixture(t, map[string]string{"a.txt": "hello"})
	// What a crash mid-copy leaves: a journal entry in state copying and
	// a partial temporary next to the final name.
	temp := f.d.TempName("a.txt", "job")
	os.MkdirAll(f.dst, 0o755)
	os.WriteFile(filepath.Join(f.dst, temp), []byte("hel"), 0o600)
	f.j.Put(context.Background(), Entry{Path: []byte("a.txt"), State: StateCopying, Temp: temp, DestKey: "a.txt"})
	m := f.migrator(evilDetector{}, nil)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, f.dst); len(got) != 1 || got["a.txt"] != "hello" {
		t.Fatalf("destination %v", got)
	}
	if m.Progress.Recovered.Load() != 1 {
		t.Fatalf("recovered %d, want 1", m.Progress.Recovered.Load())
	}
}

func TestRecoverRefusesForeignTemp(t *testing.T) {
	f := newFixture(t, map[string]string{"a.txt": "hello"})
	os.MkdirAll(f.dst, 0o755)
	victim := filepath.Join(f.dst, "precious")
	os.WriteFile(victim, []byte("x"), 0o600)
	f.j.Put(context.Background(), Entry{Path: []byte("a.txt"), State: StateCopying, Temp: "precious", DestKey: "a.txt"})
	if err := f.migrator(evilDetector{}, nil).Run(context.Background()); err == nil {
		t.Fatal("a journal naming a non-temporary file was obeyed")
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatal("cleanup removed a file that is not a kintsugi temporary")
	}
}

// flaky wraps a destination: it corrupts the first n read-backs or fails
// writes after a byte budget.
type flaky struct {
	dest.Destination
	mu         sync.Mutex
	badReads   int
	writeLimit int64
}

func (f *flaky) ReadBack(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := f.Destination.ReadBack(ctx, key)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil || f.badReads == 0 {
		return rc, err
	}
	f.badReads--
	b, _ := io.ReadAll(rc)
	rc.Close()
	if len(b) > 0 {
		b[len(b)/2] ^= 0x40
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (f *flaky) Create(ctx context.Context, key, temp string, size int64, meta dest.Meta) (dest.Upload, error) {
	u, err := f.Destination.Create(ctx, key, temp, size, meta)
	if err != nil || f.writeLimit == 0 {
		return u, err
	}
	return &limitedUpload{Upload: u, left: f.writeLimit}, nil
}

type limitedUpload struct {
	dest.Upload
	left int64
}

func (u *limitedUpload) Write(p []byte) (int, error) {
	if int64(len(p)) > u.left {
		n, _ := u.Upload.Write(p[:u.left])
		u.left = 0
		return n, &os.PathError{Op: "write", Path: "dst", Err: syscall.ENOSPC}
	}
	u.left -= int64(len(p))
	return u.Upload.Write(p)
}

func TestVerifyMismatchRetried(t *testing.T) {
	tests := []struct {
		name      string
		badReads  int
		wantState string
		wantFile  bool
	}{
		{"once", 1, StateVerified, true},
		{"always", 100, StateFailed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"a.txt": "hello world"})
			f.d = &flaky{Destination: f.d, badReads: tc.badReads}
			m := f.migrator(evilDetector{}, nil)
			if err := m.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			e, _, _ := f.j.Get(context.Background(), []byte("a.txt"))
			if e.State != tc.wantState {
				t.Fatalf("state %s (%s), want %s", e.State, e.Reason, tc.wantState)
			}
			if _, err := os.Stat(filepath.Join(f.dst, "a.txt")); (err == nil) != tc.wantFile {
				t.Fatalf("final file present: %v, want %v", err == nil, tc.wantFile)
			}
			if tc.wantState == StateFailed && !strings.Contains(e.Reason, "did not verify after 3 attempts") {
				t.Fatalf("reason %q", e.Reason)
			}
			tree(t, f.dst)
		})
	}
}

func TestDestinationFull(t *testing.T) {
	f := newFixture(t, map[string]string{"big.bin": strings.Repeat("x", 100000), "small.txt": "ok"})
	f.d = &flaky{Destination: f.d, writeLimit: 50000}
	m := f.migrator(evilDetector{}, nil)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, _, _ := f.j.Get(context.Background(), []byte("big.bin"))
	if e.State != StateFailed || !strings.Contains(e.Reason, "no space left") {
		t.Fatalf("big.bin: %s %q", e.State, e.Reason)
	}
	got := tree(t, f.dst)
	if _, ok := got["big.bin"]; ok || got["small.txt"] != "ok" {
		t.Fatalf("destination %v", keys(got))
	}
}

// growsWhileRead is a detector that appends a line to the file called
// name each time the file is read, at most max times (0: every time).
func growsWhileRead(name string, max int) evilDetector {
	var mu sync.Mutex
	lines := 1
	return evilDetector{onWrite: func(p string) {
		if filepath.Base(p) != name {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if max > 0 && lines > max {
			return
		}
		lines++
		fh, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		fmt.Fprintf(fh, "line %d\n", lines)
		fh.Close()
	}}
}

func TestSourceChangedWhileRead(t *testing.T) {
	f := newFixture(t, map[string]string{"log.txt": "line 1\n", "calm.txt": "still"})
	m := f.migrator(growsWhileRead("log.txt", 0), nil)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, _, _ := f.j.Get(context.Background(), []byte("log.txt"))
	if e.State != StateRefused || e.Verdict != incident.Unscannable || !strings.Contains(e.Reason, "changed while being read") || e.Attempts != 3 {
		t.Fatalf("log.txt: %s %s %q after %d attempts", e.State, e.Verdict, e.Reason, e.Attempts)
	}
	if got := tree(t, f.dst); len(got) != 1 || got["calm.txt"] != "still" {
		t.Fatalf("destination %v", keys(got))
	}
}

func TestStaleCopyRemovedWhenRefused(t *testing.T) {
	f := newFixture(t, map[string]string{"doc.txt": "fine"})
	if err := f.migrator(evilDetector{}, nil).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(f.src, "doc.txt")
	os.WriteFile(p, []byte("now EVIL"), 0o644)
	later := time.Now().Add(time.Hour)
	os.Chtimes(p, later, later)
	if err := f.migrator(evilDetector{}, nil).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, f.dst); len(got) != 0 {
		t.Fatalf("an infected new version left its old copy behind: %v", keys(got))
	}
	e, _, _ := f.j.Get(context.Background(), []byte("doc.txt"))
	if e.State != StateRefused || len(e.Notes) == 0 {
		t.Fatalf("entry %+v", e)
	}
}

func TestKnownVerdictRefusesWithoutReading(t *testing.T) {
	f := newFixture(t, map[string]string{"enc.mp4.lockbit": "random", "ok.txt": "fine"})
	m := f.migrator(evilDetector{onWrite: func(p string) {
		if strings.HasSuffix(p, ".lockbit") {
			t.Errorf("read %s despite an earlier non-clean verdict", p)
		}
	}}, func(c *Config) {
		c.Known = func(p string, _ source.Info) (Prior, bool) {
			if strings.HasSuffix(p, ".lockbit") {
				return Prior{Verdict: incident.Encrypted, Reason: "ransomware extension"}, true
			}
			return Prior{Verdict: incident.Clean}, true
		}
	})
	plan, err := m.Plan(context.Background())
	if err != nil || plan.Copy != 1 || plan.Refuse != 1 || len(plan.Items) != 1 || plan.Items[0].Verdict != incident.Encrypted {
		t.Fatalf("plan %+v %v", plan, err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, _, _ := f.j.Get(context.Background(), []byte("enc.mp4.lockbit"))
	if e.State != StateRefused || !e.FromScan || e.Verdict != incident.Encrypted {
		t.Fatalf("entry %+v", e)
	}
	if got := tree(t, f.dst); len(got) != 1 {
		t.Fatalf("destination %v", keys(got))
	}
}

func TestInterruptLeavesNothingPartial(t *testing.T) {
	f := newFixture(t, map[string]string{"a.bin": strings.Repeat("a", 3<<20)})
	ctx, cancel := context.WithCancel(context.Background())
	det := evilDetector{onWrite: func(string) { cancel() }}
	m := f.migrator(det, func(c *Config) {
		c.Engine = scan.New(scan.Config{Detectors: []scan.Detector{det}, Limits: scan.Limits{WholeFile: 1 << 10, Chunk: 64 << 10}})
	})
	if err := m.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want canceled", err)
	}
	if got := tree(t, f.dst); len(got) != 0 {
		t.Fatalf("interrupted run left %v", keys(got))
	}
	if err := f.migrator(evilDetector{}, nil).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, f.dst); len(got["a.bin"]) != 3<<20 {
		t.Fatal("resume did not complete the file")
	}
}

func TestQuarantine(t *testing.T) {
	f := newFixture(t, map[string]string{"dir/evil.exe": "MZ...EVIL...payload", "ok.txt": "fine"})
	q := t.TempDir()
	m := f.migrator(evilDetector{}, func(c *Config) { c.Quarantine = q })
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, _, _ := f.j.Get(context.Background(), []byte("dir/evil.exe"))
	zipPath := filepath.Join(q, e.SHA256+".zip")
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatalf("quarantine archive: %v (notes %v)", err, e.Notes)
	}
	defer zr.Close()
	if len(zr.File) != 2 || zr.File[0].Name != "evil.exe" || zr.File[0].Flags&1 == 0 || zr.File[1].Name != "kintsugi-verdict.json" {
		t.Fatalf("archive members %+v", zr.File)
	}
	if !contains(e.Notes, "kept in quarantine as "+e.SHA256+".zip") {
		t.Fatalf("notes %v", e.Notes)
	}
	sevenZip, err := exec.LookPath("7z")
	if err != nil {
		t.Skip("7z not installed: the archive was checked with archive/zip only")
	}
	out := t.TempDir()
	if b, err := exec.Command(sevenZip, "x", "-p"+QuarantinePassword, "-o"+out, zipPath).CombinedOutput(); err != nil {
		t.Fatalf("7z: %v\n%s", err, b)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "evil.exe")); string(b) != "MZ...EVIL...payload" {
		t.Fatalf("7z extracted %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "kintsugi-verdict.json")); !bytes.Contains(b, []byte(`"verdict": "malicious"`)) {
		t.Fatalf("verdict file %s", b)
	}
	// A wrong password must fail: the content is really encrypted.
	if err := exec.Command(sevenZip, "t", "-pwrong", zipPath).Run(); err == nil {
		t.Fatal("7z opened the archive with a wrong password")
	}
}

// hashCheck wraps a destination and checks, for every upload, what the
// uploads no longer check themselves (migrate sets Meta.Hashed): that the
// digest handed to Commit is the SHA-256 of exactly the bytes written.
type hashCheck struct {
	dest.Destination
	t       *testing.T
	mu      sync.Mutex
	commits int
}

func (h *hashCheck) Create(ctx context.Context, key, temp string, size int64, meta dest.Meta) (dest.Upload, error) {
	if !meta.Hashed {
		h.t.Errorf("%s: migrate did not say it hashes what it writes", key)
	}
	u, err := h.Destination.Create(ctx, key, temp, size, meta)
	if err != nil {
		return u, err
	}
	return &hashedUpload{Upload: u, h: sha256.New(), key: key, check: h}, nil
}

type hashedUpload struct {
	dest.Upload
	h     hash.Hash
	key   string
	check *hashCheck
}

func (u *hashedUpload) Write(p []byte) (int, error) {
	n, err := u.Upload.Write(p)
	u.h.Write(p[:n])
	return n, err
}

func (u *hashedUpload) Commit(ctx context.Context, size int64, sum string) error {
	if got := hex.EncodeToString(u.h.Sum(nil)); got != sum {
		u.check.t.Errorf("%s: Commit told SHA-256 %s, the bytes written hash to %s", u.key, sum, got)
	}
	u.check.mu.Lock()
	u.check.commits++
	u.check.mu.Unlock()
	return u.Upload.Commit(ctx, size, sum)
}

// The digest migrate hands to Commit is that of the bytes it wrote, for
// files read whole and files streamed in chunks, and for a file that
// grows while it is read (copied again until it holds still, or refused).
func TestCommitDigestIsOfBytesWritten(t *testing.T) {
	files := map[string]string{"small.txt": "hello", "empty": ""}
	for i := range 4 {
		files[fmt.Sprintf("dir/chunked-%d.bin", i)] = strings.Repeat(fmt.Sprintf("%04d-0123456789abcdef", i), 20000+i*777)
	}
	files["grows.log"] = "start\n"
	f := newFixture(t, files)
	hc := &hashCheck{Destination: f.d, t: t}
	f.d = hc
	det := growsWhileRead("grows.log", 1)
	m := f.migrator(det, func(c *Config) {
		c.Engine = scan.New(scan.Config{Detectors: []scan.Detector{det}, Limits: scan.Limits{WholeFile: 1 << 10, Chunk: 64 << 10}})
	})
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hc.commits != len(files) {
		t.Errorf("%d commits, want %d", hc.commits, len(files))
	}
	got := tree(t, f.dst)
	for k, v := range files {
		if k == "grows.log" {
			continue
		}
		if got[k] != v {
			t.Errorf("%s: %d bytes at the destination, want %d", k, len(got[k]), len(v))
		}
	}
}
