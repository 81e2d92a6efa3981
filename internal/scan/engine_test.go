package scan_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
	"github.com/kintsugi-ir/kintsugi/internal/source"
)

// needle is a detector that flags any file containing its marker, and
// records every byte it was shown, to check the one-read contract.
type needle struct {
	marker []byte
	mu     sync.Mutex
	seen   map[string]int64
	hook   func(f *scan.File)
}

func (n *needle) Name() string { return "needle" }

func (n *needle) Begin(_ context.Context, f *scan.File) (scan.Examination, error) {
	return &needleExam{n: n, f: f}, nil
}

type needleExam struct {
	n    *needle
	f    *scan.File
	tail []byte
	hit  bool
	got  int64
}

func (e *needleExam) Write(p []byte) (int, error) {
	if e.n.hook != nil && e.got == 0 {
		e.n.hook(e.f)
	}
	buf := append(e.tail, p...)
	if bytes.Contains(buf, e.n.marker) {
		e.hit = true
	}
	if k := len(e.n.marker) - 1; len(buf) > k {
		e.tail = append([]byte{}, buf[len(buf)-k:]...)
	}
	e.got += int64(len(p))
	return len(p), nil
}

func (e *needleExam) Close(context.Context) ([]incident.Finding, error) {
	e.n.mu.Lock()
	key := e.f.Path
	if e.f.Member != "" {
		key += "!" + e.f.Member
	}
	e.n.seen[key] += e.got
	e.n.mu.Unlock()
	if e.f.Sums == nil || len(e.f.Sums.SHA256) != 64 {
		return nil, nil
	}
	if e.hit {
		return []incident.Finding{{Detector: "needle", Rule: "marker", Verdict: incident.Malicious, Reason: "marker found"}}, nil
	}
	return nil, nil
}

func runEngine(t *testing.T, cfg scan.Config, roots ...string) map[string]scan.Result {
	t.Helper()
	e := scan.New(cfg)
	got := map[string]scan.Result{}
	err := e.Run(context.Background(), roots, func(r scan.Result) error {
		if _, dup := got[r.Path]; dup {
			t.Errorf("%s reported twice", r.Path)
		}
		got[r.Path] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func zipOf(t *testing.T, level int, members map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, level) })
	for name, data := range members {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return buf.Bytes()
}

// TestBadInput is the bad-input set: each entry gets its stated verdict and
// the scan completes.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	marker := []byte("KINTSUGI-TEST-MARKER")
	write(t, filepath.Join(dir, "empty"), nil)
	write(t, filepath.Join(dir, "plain.txt"), []byte("hello"))
	write(t, filepath.Join(dir, "bad.txt"), append([]byte("xx"), marker...))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("loop2", filepath.Join(dir, "loop1"))
	os.Symlink("loop1", filepath.Join(dir, "loop2"))
	os.Symlink(".", filepath.Join(dir, "self"))
	os.Symlink("/etc/hostname", filepath.Join(dir, "outside"))
	os.Symlink("plain.txt", filepath.Join(dir, "inside"))
	// "契約書.txt" in Shift-JIS, as old Windows shares store it.
	sjis := filepath.Join(dir, string([]byte{0x8c, 0x5f, 0x96, 0xf1, 0x8f, 0x91})+".txt")
	write(t, sjis, []byte("contract"))
	write(t, filepath.Join(dir, "nested.zip"), zipOf(t, flate.BestSpeed, map[string][]byte{
		"a/bad.bin": append([]byte("..."), marker...),
		"inner.zip": zipOf(t, flate.BestSpeed, map[string][]byte{"deep.txt": marker}),
	}))
	good := zipOf(t, flate.BestSpeed, map[string][]byte{"x.txt": bytes.Repeat([]byte("text "), 1000)})
	write(t, filepath.Join(dir, "corrupt.zip"), good[:len(good)/2])
	write(t, filepath.Join(dir, "corrupt.7z"), []byte("7z\xbc\xaf\x27\x1c\x00\x04garbage-that-is-not-a-7z-header"))
	write(t, filepath.Join(dir, "corrupt.rar"), append([]byte("Rar!\x1a\x07\x01\x00"), bytes.Repeat([]byte{0xee}, 300)...))
	write(t, filepath.Join(dir, "bomb.zip"), zipOf(t, flate.BestCompression, map[string][]byte{"zeros.bin": make([]byte, 300<<20)}))
	enc := zipOf(t, flate.BestSpeed, map[string][]byte{"secret.txt": []byte("x")})
	// Set the "encrypted" flag in the local and central headers.
	enc[6] |= 1
	if i := bytes.Index(enc, []byte("PK\x01\x02")); i >= 0 {
		enc[i+8] |= 1
	}
	write(t, filepath.Join(dir, "encrypted.zip"), enc)
	sparse := filepath.Join(dir, "sparse.img")
	f, _ := os.Create(sparse)
	f.Truncate(2 << 30)
	f.Close()

	n := &needle{marker: marker, seen: map[string]int64{}}
	cfg := scan.Config{Detectors: []scan.Detector{n}, Workers: 3}
	cfg.Limits = scan.DefaultLimits()
	cfg.Limits.MaxSize = 1 << 30
	got := runEngine(t, cfg, dir)

	tests := []struct {
		name    string
		verdict incident.Verdict
		reason  string
	}{
		{"empty", incident.Clean, ""},
		{"plain.txt", incident.Clean, ""},
		{"bad.txt", incident.Malicious, "marker found"},
		{"fifo", incident.Unscannable, "FIFO: not opened"},
		{"loop1", incident.Unscannable, "symbolic link"},
		{"self", incident.Clean, "inside the tree"},
		{"outside", incident.Unscannable, "out of the tree"},
		{"inside", incident.Clean, "inside the tree"},
		{filepath.Base(sjis), incident.Clean, ""},
		{"nested.zip", incident.Malicious, "marker found"},
		{"corrupt.zip", incident.Unscannable, "zip archive could not be fully read"},
		{"corrupt.7z", incident.Unscannable, "7z archive could not be fully read"},
		{"corrupt.rar", incident.Unscannable, "rar archive could not be fully read"},
		{"bomb.zip", incident.Unscannable, "possible archive bomb"},
		{"encrypted.zip", incident.Unscannable, "password required"},
		{"sparse.img", incident.Unscannable, "larger than --max-size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := got[filepath.Join(dir, tc.name)]
			if !ok {
				t.Fatalf("no result for %s", tc.name)
			}
			if r.Verdict != tc.verdict || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("verdict %s (%q), want %s (%q)", r.Verdict, r.Reason, tc.verdict, tc.reason)
			}
			if r.Verdict != incident.Clean && r.Reason == "" {
				t.Fatal("a non-clean verdict without a reason")
			}
		})
	}
	// The nested member two levels deep was found too.
	nested := got[filepath.Join(dir, "nested.zip")]
	var members []string
	for _, f := range nested.Findings {
		members = append(members, f.Member)
	}
	if !strings.Contains(strings.Join(members, ","), "inner.zip!deep.txt") || !strings.Contains(strings.Join(members, ","), "a/bad.bin") {
		t.Fatalf("nested findings %v, want a/bad.bin and inner.zip!deep.txt", members)
	}
	// One read: every regular file's bytes were shown to the detector
	// exactly once.
	for _, name := range []string{"plain.txt", "bad.txt", "nested.zip", filepath.Base(sjis)} {
		p := filepath.Join(dir, name)
		fi, _ := os.Stat(p)
		if n.seen[p] != fi.Size() {
			t.Errorf("%s: detector saw %d bytes, file has %d", name, n.seen[p], fi.Size())
		}
	}
	if got[filepath.Join(dir, "fifo")].BytesRead != 0 {
		t.Error("the FIFO was read")
	}
}

func TestFollowLinksDetectsLoops(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "sub", "a.txt"), []byte("a"))
	os.Symlink("..", filepath.Join(dir, "sub", "up"))
	got := runEngine(t, scan.Config{Detectors: nil, Walk: source.WalkOptions{FollowLinks: true}}, dir)
	r := got[filepath.Join(dir, "sub", "up")]
	if r.Verdict != incident.Unscannable || !strings.Contains(r.Reason, "loop") {
		t.Fatalf("link to parent with --follow-links: %s %q, want unscannable loop", r.Verdict, r.Reason)
	}
}

// TestChangedWhileRead truncates a file while it is being examined: the
// result must say so and must not be reusable.
func TestChangedWhileRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "growing.log")
	write(t, p, bytes.Repeat([]byte("line\n"), 100000))
	n := &needle{marker: []byte("never"), seen: map[string]int64{}, hook: func(f *scan.File) {
		os.Truncate(f.Path, 10)
	}}
	got := runEngine(t, scan.Config{Detectors: []scan.Detector{n}}, dir)
	r := got[p]
	if r.Verdict != incident.Unscannable || !strings.Contains(r.Reason, "changed while being read") || r.Reusable {
		t.Fatalf("truncated during scan: %s %q reusable=%v", r.Verdict, r.Reason, r.Reusable)
	}
}

// TestStreamingLargeFile feeds a file larger than the whole-file limit in
// chunks: the detector must see every byte once and the hash must match.
func TestStreamingLargeFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.bin")
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	copy(data[3<<20-5:], "KINTSUGI-TEST-MARKER")            // across a 3 MiB chunk boundary
	write(t, p, data)
	n := &needle{marker: []byte("KINTSUGI-TEST-MARKER"), seen: map[string]int64{}}
	cfg := scan.Config{Detectors: []scan.Detector{n}, Limits: scan.Limits{WholeFile: 1 << 20, Chunk: 3 << 20}}
	got := runEngine(t, cfg, dir)
	r := got[p]
	if r.Verdict != incident.Malicious || n.seen[p] != int64(len(data)) {
		t.Fatalf("verdict %s, detector saw %d of %d bytes", r.Verdict, n.seen[p], len(data))
	}
	if want := sha256.Sum256(data); r.Sums.SHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("sha256 %q, want %x", r.Sums.SHA256, want)
	}
}

// TestNeverWrites checks that a scan leaves the tree exactly as it was,
// access times included where the kernel honours O_NOATIME.
func TestNeverWrites(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "evidence.bin")
	write(t, p, bytes.Repeat([]byte{7}, 4096))
	before, _ := os.Stat(p)
	st0 := before.Sys().(*syscall.Stat_t)
	runEngine(t, scan.Config{Detectors: []scan.Detector{&needle{marker: []byte("x"), seen: map[string]int64{}}}}, dir)
	after, _ := os.Stat(p)
	st1 := after.Sys().(*syscall.Stat_t)
	if st0.Mtim != st1.Mtim || st0.Ctim != st1.Ctim || st0.Atim != st1.Atim || before.Size() != after.Size() {
		t.Fatalf("scan changed the file's times: atime %v -> %v, mtime %v -> %v", st0.Atim, st1.Atim, st0.Mtim, st1.Mtim)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("scan left %d entries in the tree", len(entries))
	}
}

// TestExamineTee checks the contract migrate relies on: the tee sees
// exactly the bytes the detectors saw, once, and Sums is their hash.
func TestExamineTee(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1000, 5 << 20} {
		p := filepath.Join(dir, "f")
		data := bytes.Repeat([]byte("abcdefghij"), size/10)
		write(t, p, data)
		fi, _ := os.Lstat(p)
		n := &needle{marker: []byte("zzz"), seen: map[string]int64{}}
		e := scan.New(scan.Config{Detectors: []scan.Detector{n}, Limits: scan.Limits{WholeFile: 1 << 20, Chunk: 1 << 20}})
		var teed bytes.Buffer
		r := e.Examine(context.Background(), source.Entry{Path: p, Open: p, Kind: source.KindFile, Info: source.InfoOf(fi)}, func(b []byte) error {
			teed.Write(b)
			return nil
		})
		sum := sha256.Sum256(teed.Bytes())
		if !bytes.Equal(teed.Bytes(), data) || r.Sums.SHA256 != hex.EncodeToString(sum[:]) || n.seen[p] != int64(len(data)) || r.Verdict != incident.Clean {
			t.Fatalf("size %d: teed %d bytes, detector %d, verdict %s", size, teed.Len(), n.seen[p], r.Verdict)
		}
		r = e.Examine(context.Background(), source.Entry{Path: p, Open: p, Kind: source.KindFile, Info: source.InfoOf(fi)}, func([]byte) error {
			return io.ErrShortWrite
		})
		if size > 0 && (r.TeeErr == nil || r.Verdict == incident.Clean) {
			t.Fatalf("size %d: a failing tee gave %s (%v)", size, r.Verdict, r.TeeErr)
		}
	}
}

// TestExamineTeeRefused: a file read whole that is found malicious never
// reaches the tee (migrate writes nothing of it); a streamed one reaches
// it as it is read, and the verdict says it must not be kept.
func TestExamineTeeRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		size  int
		teed  int
		whole bool
	}{{1000, 0, true}, {5 << 20, 5 << 20, false}} {
		p := filepath.Join(dir, "f")
		data := bytes.Repeat([]byte("abcdefghij"), tc.size/10)
		copy(data[tc.size/2:], "zzz")
		write(t, p, data)
		fi, _ := os.Lstat(p)
		n := &needle{marker: []byte("zzz"), seen: map[string]int64{}}
		e := scan.New(scan.Config{Detectors: []scan.Detector{n}, Limits: scan.Limits{WholeFile: 1 << 20, Chunk: 1 << 20}})
		teed := 0
		r := e.Examine(context.Background(), source.Entry{Path: p, Open: p, Kind: source.KindFile, Info: source.InfoOf(fi)}, func(b []byte) error {
			teed += len(b)
			return nil
		})
		if r.Verdict != incident.Malicious || teed != tc.teed || n.seen[p] != int64(len(data)) {
			t.Errorf("size %d (whole %v): verdict %s, teed %d bytes (want %d), detector saw %d", tc.size, tc.whole, r.Verdict, teed, tc.teed, n.seen[p])
		}
	}
}

// planner is a quick detector that announces the first KiB of every file
// and records which files it was asked about.
type planner struct {
	mu     sync.Mutex
	asked  map[string]int64
	closed int
}

func (p *planner) Name() string { return "planner" }
func (p *planner) Quick() bool  { return true }

func (p *planner) QuickPlan(name string, size int64) []scan.Range {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked[name] = size
	return []scan.Range{{Off: 0, Len: min(size, 1024)}}
}

func (p *planner) Begin(context.Context, *scan.File) (scan.Examination, error) { return p, nil }
func (p *planner) Write(b []byte) (int, error)                                 { return len(b), nil }
func (p *planner) Close(context.Context) ([]incident.Finding, error) {
	p.mu.Lock()
	p.closed++
	p.mu.Unlock()
	return nil, nil
}

// TestQuickPrefetch checks the read-ahead stage of --quick: every walked
// entry still gets exactly one result, only regular files inside the tree
// are announced, a FIFO does not block it, and it leaves atimes alone.
func TestQuickPrefetch(t *testing.T) {
	dir := t.TempDir()
	for i := range 40 {
		write(t, filepath.Join(dir, "d", fmt.Sprintf("f%02d.bin", i)), bytes.Repeat([]byte{byte(i)}, 3000+i))
	}
	write(t, filepath.Join(dir, "huge.bin"), make([]byte, 10000))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/etc/hostname", filepath.Join(dir, "outside"))
	os.Symlink("d/f00.bin", filepath.Join(dir, "inside"))
	probe := filepath.Join(dir, "d", "f07.bin")
	old := time.Unix(1_000_000_000, 0)
	if err := os.Chtimes(probe, old, old); err != nil {
		t.Fatal(err)
	}
	p := &planner{asked: map[string]int64{}}
	cfg := scan.Config{Quick: true, Detectors: []scan.Detector{p}, Limits: scan.Limits{MaxSize: 5000}}
	done := make(chan map[string]scan.Result, 1)
	go func() { done <- runEngine(t, cfg, dir) }()
	var got map[string]scan.Result
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("quick scan blocked (FIFO?)")
	}
	if len(got) != 40+4 { // 40 files, huge.bin, fifo, two links
		t.Errorf("%d results, want 44", len(got))
	}
	if len(p.asked) != 40 || p.closed != 40 {
		t.Errorf("announced %d files and examined %d, want 40 and 40 (not the FIFO, the links or the file over --max-size)", len(p.asked), p.closed)
	}
	if p.asked["f39.bin"] != 3039 {
		t.Errorf("f39.bin announced with size %d", p.asked["f39.bin"])
	}
	st, err := os.Stat(probe)
	if err != nil {
		t.Fatal(err)
	}
	if at := st.Sys().(*syscall.Stat_t).Atim; at.Sec != old.Unix() {
		t.Errorf("quick scan changed an atime: %v", time.Unix(at.Sec, at.Nsec))
	}
}
