package damage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
)

// headDamaged returns a fixture with its first 4 KiB replaced by random
// bytes.
func headDamaged(t *testing.T, name string) []byte {
	t.Helper()
	b := fixture{name: name}.data(t)
	randomize(b, 0, 4096, 11)
	return b
}

func TestDetectorModes(t *testing.T) {
	enc := headDamaged(t, "video.mxf")
	intact := fixture{name: "video.mxf"}.data(t)
	d := New(Options{})
	if d.Name() != "damage" || !d.Quick() {
		t.Fatalf("name %q quick %v", d.Name(), d.Quick())
	}
	tests := []struct {
		name  string
		data  []byte
		mode  string // whole, stream, quick
		want  incident.Verdict
		count int
	}{
		{"whole-encrypted", enc, "whole", incident.Encrypted, 1},
		{"stream-encrypted", enc, "stream", incident.Encrypted, 1},
		{"quick-encrypted", enc, "quick", incident.Encrypted, 1},
		{"whole-intact", intact, "whole", incident.Clean, 0},
		{"stream-intact", intact, "stream", incident.Clean, 0},
		{"quick-intact", intact, "quick", incident.Clean, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &scan.File{Path: "/srv/a/clip.mxf", Member: "inner/clip.mxf", Name: "clip.mxf.lockbit",
				Size: int64(len(tc.data)), ModTime: time.Now(), Content: bytes.NewReader(tc.data),
				Whole: tc.mode == "whole", Quick: tc.mode == "quick"}
			ex, err := d.Begin(context.Background(), f)
			if err != nil || ex == nil {
				t.Fatalf("begin: %v %v", ex, err)
			}
			switch tc.mode {
			case "whole":
				ex.Write(tc.data)
			case "stream":
				for off := 0; off < len(tc.data); off += 1000 {
					ex.Write(tc.data[off:minInt(len(tc.data), off+1000)])
				}
			}
			fs, err := ex.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != tc.count || incident.FileVerdict(fs) != tc.want {
				t.Fatalf("findings %+v, want %d %s", fs, tc.count, tc.want)
			}
			if tc.count == 0 {
				return
			}
			got := fs[0]
			if got.Detector != "damage" || got.Rule == "" || got.Member != "inner/clip.mxf" || got.Reason == "" {
				t.Errorf("finding fields: %+v", got)
			}
			if tc.mode == "quick" && !strings.HasPrefix(got.Reason, "triage: ") {
				t.Errorf("quick finding does not say it is triage: %q", got.Reason)
			}
			var ev Evidence
			if err := json.Unmarshal(got.Evidence, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Format != "mxf" || ev.Check == "" || ev.Extension != ".lockbit" || len(ev.Blocks) == 0 {
				t.Errorf("evidence: %+v", ev)
			}
		})
	}
}

// failingReader fails every read past the first 64 KiB.
type failingReader struct{ b []byte }

var errDisk = errors.New("input/output error")

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > 64<<10 {
		return 0, errDisk
	}
	return copy(p, f.b[off:]), nil
}

func TestReadErrorIsReported(t *testing.T) {
	data := fixture{name: "video.mxf"}.data(t)
	_, err := Classify(context.Background(), failingReader{data}, int64(len(data)), "clip.mxf", Options{})
	if !errors.Is(err, errDisk) {
		t.Fatalf("Classify: %v, want the read error", err)
	}
	d := New(Options{})
	ex, _ := d.Begin(context.Background(), &scan.File{Name: "clip.mxf", Size: int64(len(data)), Content: failingReader{data}, Quick: true})
	if _, err := ex.Close(context.Background()); !errors.Is(err, errDisk) {
		t.Fatalf("Close: %v, want the read error", err)
	}
}

func TestEmptyAndTinyFiles(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, []byte("hi"), bytes.Repeat([]byte{0}, 5000)} {
		res, err := Classify(context.Background(), bytes.NewReader(b), int64(len(b)), "x.docx", Options{})
		if err != nil || res.Verdict != incident.Clean {
			t.Errorf("%d bytes: %s %v", len(b), res.Verdict, err)
		}
	}
}

// A later piece of a split archive is random from its first byte; it is
// not called encrypted.
func TestSplitVolume(t *testing.T) {
	b := fixture{name: "archive.7z"}.data(t)
	piece := b[len(b)/2:]
	res := classifyBytes(t, piece, "archive.7z.002", false)
	if res.Verdict == incident.Encrypted {
		t.Fatalf("split volume: %s", res.Reason)
	}
	first := classifyBytes(t, b[:len(b)/2], "archive.7z.001", false)
	if first.Verdict != incident.Clean {
		t.Fatalf("first volume: %s %s", first.Verdict, first.Reason)
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := fixture{name: "video.avi"}.data(t)
	if _, err := Classify(ctx, bytes.NewReader(data), int64(len(data)), "a.avi", Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// TestEvidenceFields pins the JSON field names documented in
// docs/design/damage.md: the case store keeps them.
func TestEvidenceFields(t *testing.T) {
	ev := Evidence{Format: "mp4", FormatFrom: "content", Check: "c", Detail: "d", Offset: 1, Pattern: "full",
		Chunk: 1, Period: 1, Chunks: 1, Coverage: 1, Family: "f", FamilyBasis: "b", TailBytes: 1, TailRandom: true,
		Marker: "m", Extension: ".x", Blocks: []BlockSample{{Offset: 1, Size: 1, Entropy: 1, Chi2: 1, Random: true}},
		Damage: []Region{{Offset: 1, Len: 1, Check: "c"}}, Probes: 1, Failed: 1, Sampled: true, BytesRead: 1}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := "blocks bytes_read check chunk chunks coverage damage detail extension failed family family_basis format format_from marker offset pattern period probes sampled tail_bytes tail_random"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("evidence fields changed:\n got %s\nwant %s", got, want)
	}
}

func TestFamilies(t *testing.T) {
	fs := DefaultFamilies()
	if len(fs.Families) < 5 {
		t.Fatalf("embedded families.json: %d families", len(fs.Families))
	}
	tests := []struct {
		name    string
		ev      Evidence
		trailer string
		want    string
	}{
		{"marker decides", Evidence{Pattern: "full"}, "xx-----END CIPHERTEXT BLOCK-----", "unattributed"},
		{"hermes", Evidence{Pattern: "full"}, "....HERMES....", "Ryuk"},
		{"layout", Evidence{Pattern: "striped", Chunk: 64, Period: 192}, "", "Black Basta"},
		{"footer and extension", Evidence{Pattern: "percent", TailBytes: 534, Extension: ".akira"}, "", "Akira"},
		{"footer alone is not enough", Evidence{Pattern: "head", TailBytes: 1064}, "", ""},
		{"nothing", Evidence{Pattern: "head", Chunk: 100000}, "", ""},
	}
	for _, tc := range tests {
		got, basis := fs.guess(&tc.ev, []byte(tc.trailer))
		if tc.want == "" && got != "" || tc.want != "" && !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: got %q (%s), want %q", tc.name, got, basis, tc.want)
		}
	}
	if _, err := ParseFamilies([]byte(`{"families":[{"layouts":[]}]}`)); err == nil {
		t.Error("a family without a name was accepted")
	}
	if _, err := ParseFamilies([]byte(`{`)); err == nil {
		t.Error("broken JSON was accepted")
	}
}

func TestNameHint(t *testing.T) {
	tests := []struct{ name, format, appended string }{
		{"report.docx.lockbit", "zip", ".lockbit"},
		{"shot_001.MOV.EChqe", "mp4", ".EChqe"},
		{"ledger.csv.gz.akira", "gzip", ".akira"},
		{"notes.txt", "text", ""},
		{"ls", "", ""},
		{"cp.powerranges", "", ".powerranges"},
		{`C:\data\clip.mxf`, "mxf", ""},
		{"a.b.c.d.e.f.mp4.x.y.z.w", "", ".w"},
		{"backup.7z.001", "7z", ".001"},
		{"backup.7z.002", "", ".002"},
		{"movie.mp4.015", "", ".015"},
	}
	for _, tc := range tests {
		h := hintFromName(tc.name)
		if h.format != tc.format || h.appended != tc.appended {
			t.Errorf("%s: %+v, want format %q appended %q", tc.name, h, tc.format, tc.appended)
		}
	}
}

func TestHostImpact(t *testing.T) {
	t0 := time.Date(2025, 11, 3, 2, 14, 0, 0, time.UTC)
	var a, b HostImpact
	a.Add("/srv/a.mp4.lockbit", 100, t0.Add(time.Hour), Evidence{Extension: ".lockbit", Pattern: "head", Family: "LockBit 2.0"})
	a.Add("/srv/b.mov", 50, t0, Evidence{Pattern: "percent"})
	b.Add("/srv/c.docx.lockbit", 10, t0.Add(3*time.Hour), Evidence{Extension: ".lockbit", Pattern: "head"})
	b.AddNote("/srv/README.txt")
	a.Merge(&b)
	if a.Files != 3 || a.Bytes != 160 || a.Extensions[".lockbit"] != 2 || a.KeptName != 1 {
		t.Errorf("counts: %+v", a)
	}
	if a.NoteCount != 1 || a.Notes[0] != "/srv/README.txt" {
		t.Errorf("notes: %+v", a.Notes)
	}
	if a.Patterns["head"] != 2 || a.Patterns["percent"] != 1 || a.Families["LockBit 2.0"] != 1 {
		t.Errorf("patterns %v families %v", a.Patterns, a.Families)
	}
	if !a.First.Equal(t0) || a.FirstPath != "/srv/b.mov" || !a.Last.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("window %s (%s) - %s", a.First, a.FirstPath, a.Last)
	}
	if a.Hours["2025-11-03T02"] != 1 || a.Hours["2025-11-03T05"] != 1 {
		t.Errorf("hours %v", a.Hours)
	}
	// random extensions overflow into a count
	var r HostImpact
	for i := 0; i < maxImpactExt+10; i++ {
		r.Add("x", 1, time.Time{}, Evidence{Extension: "." + strings.Repeat("q", i+1)})
	}
	if len(r.Extensions) != maxImpactExt || r.OtherExtensions != 10 || !r.First.IsZero() {
		t.Errorf("extensions %d other %d", len(r.Extensions), r.OtherExtensions)
	}
	if top := a.TopExtensions(); len(top) != 1 || top[0] != ".lockbit" {
		t.Errorf("top %v", top)
	}
	if _, err := json.Marshal(a); err != nil {
		t.Fatal(err)
	}
}

func TestStatistics(t *testing.T) {
	r := make([]byte, 4096)
	randomize(r, 0, len(r), 1)
	if st := statBytes(r); !st.random() || st.Entropy < 7.9 {
		t.Errorf("random block: %+v", st)
	}
	ramp := make([]byte, 4096)
	for i := range ramp {
		ramp[i] = byte(i)
	}
	if st := statBytes(ramp); st.random() {
		t.Errorf("a ramp passed for random: %+v", st)
	}
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 100))
	if st := statBytes(text); st.random() || !st.structured() {
		t.Errorf("text: %+v", st)
	}
	if !smallRandom(r[:64]) || smallRandom(text[:64]) || smallRandom(ramp[:16]) == true && distinct(ramp[:16]) < 12 {
		t.Error("small window test")
	}
}

var _ io.ReaderAt = failingReader{}

// TestRecycledBuffers runs every fixture, intact and with a damaged head,
// through one detector whose buffer pool starts out full of garbage and
// then holds the previous file's bytes, and checks each verdict and its
// evidence against a detector that allocates fresh buffers.
func TestRecycledBuffers(t *testing.T) {
	ents, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	pooled, fresh := New(Options{}), New(Options{})
	fresh.bufs = nil
	for c := 12; c <= 22; c++ {
		b := pooled.bufs.Get(1 << c)
		for i := range b {
			b[i] = 0xa5
		}
		pooled.bufs.Put(b)
	}
	run := func(d *Detector, name string, data []byte, mode string) []incident.Finding {
		f := &scan.File{Path: "/srv/" + name, Name: name, Size: int64(len(data)), ModTime: time.Unix(0, 0),
			Content: bytes.NewReader(data), Whole: mode == "whole", Quick: mode == "quick"}
		ex, err := d.Begin(context.Background(), f)
		if err != nil || ex == nil {
			t.Fatalf("%s: begin: %v", name, err)
		}
		if mode == "stream" {
			for off := 0; off < len(data); off += 64 << 10 {
				ex.Write(data[off:minInt(len(data), off+64<<10)])
			}
		}
		fs, err := ex.Close(context.Background())
		if err != nil {
			t.Fatalf("%s %s: %v", name, mode, err)
		}
		return fs
	}
	n := 0
	for _, ent := range ents {
		if ent.IsDir() {
			continue
		}
		intact := fixture{name: ent.Name()}.data(t)
		damaged := append([]byte(nil), intact...)
		randomize(damaged, 0, min(len(damaged), 4096), 7)
		for _, data := range [][]byte{intact, damaged} {
			for _, mode := range []string{"quick", "stream"} {
				want, _ := json.Marshal(run(fresh, ent.Name(), data, mode))
				got, _ := json.Marshal(run(pooled, ent.Name(), data, mode))
				if !bytes.Equal(got, want) {
					t.Errorf("%s (%s): recycled buffers changed the result\n got %s\nwant %s", ent.Name(), mode, got, want)
				}
				n++
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d examinations", n)
	}
}
