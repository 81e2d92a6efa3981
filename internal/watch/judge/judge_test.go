package judge

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func zipped(t *testing.T, content []byte) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, _ := w.Create("word/document.xml")
	f.Write(content)
	w.Close()
	return buf.Bytes()
}

func gzipped(content []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(content)
	w.Close()
	return buf.Bytes()
}

func TestJudges(t *testing.T) {
	for _, j := range []struct {
		name string
		j    Judge
	}{{"entropy", Entropy{}}, {"damage", Damage{}}} {
		t.Run(j.name, func(t *testing.T) { testJudge(t, j.j) })
	}
}

// TestEntropyHead: Entropy reads 4 KiB first for a signature; without
// one, its head sample is still the first 16 KiB. Random 4 KiB before
// text in a file of no known format is then mostly not random.
func TestEntropyHead(t *testing.T) {
	text := []byte(strings.Repeat("quarterly figures for the post-production budget, 2024\n", 200))
	content := append(random(4096), text[:8192]...)
	v, err := Entropy{}.Judge(context.Background(), bytes.NewReader(content), int64(len(content)), "vault.bin")
	if err != nil || v.Kind != Plain {
		t.Fatalf("random 4 KiB before 8 KiB of text: %v (%s) %v, want plain", v.Kind, v.Reason, err)
	}
}

// farthest records the end of the farthest read.
type farthest struct {
	r   io.ReaderAt
	end int64
}

func (f *farthest) ReadAt(p []byte, off int64) (int, error) {
	f.end = max(f.end, off+int64(len(p)))
	return f.r.ReadAt(p, off)
}

// TestEntropyRandomHead: random where the name promises a format is
// damaged from the head alone; the middle and the end are not read.
func TestEntropyRandomHead(t *testing.T) {
	r := &farthest{r: bytes.NewReader(random(200000))}
	v, err := Entropy{}.Judge(context.Background(), r, 200000, "cut.mp4")
	if err != nil || v.Kind != Damaged {
		t.Fatalf("random under an .mp4 name: %v (%s) %v, want damaged", v.Kind, v.Reason, err)
	}
	if r.end > sampleSize {
		t.Errorf("read up to byte %d, want the %d-byte head only", r.end, sampleSize)
	}
}

func testJudge(t *testing.T, j Judge) {
	text := []byte(strings.Repeat("quarterly figures for the post-production budget, 2024\n", 2000))
	striped := append([]byte{}, text...)
	for off := 0; off+1024 <= len(striped); off += 16 << 10 {
		copy(striped[off:], random(1024))
	}
	headOnly := append(random(4096), text[4096:]...)
	tests := []struct {
		name    string
		file    string
		content []byte
		want    Kind
	}{
		{"text", "notes.txt", text, Plain},
		{"docx", "report.docx", zipped(t, text), Container},
		{"gzip of random", "blob.gz", gzipped(random(100000)), Container},
		{"random under docx name", "report.docx", random(200000), Damaged},
		{"random under appended extension", "report.docx.locked", random(200000), Damaged},
		{"random unknown name", "vault.bin", random(200000), Random},
		{"random small unknown", "key", random(300), Random},
		{"head encrypted text", "notes.txt", headOnly, Damaged},
		{"random mid-sized unknown", "vault.bin", random(60000), Random},
		{"striped text", "notes.txt", striped, Damaged},
		{"empty", "x.txt", nil, Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := j.Judge(context.Background(), bytes.NewReader(tc.content), int64(len(tc.content)), tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if v.Kind != tc.want && !(tc.want == Plain && v.Kind == Intact) {
				t.Fatalf("%s: %v (%s), want %v", tc.file, v.Kind, v.Reason, tc.want)
			}
		})
	}
}

func TestExpectedFormat(t *testing.T) {
	tests := map[string]string{
		"a.docx": "zip", "a.DOCX.lockbit": "zip", "shot_001.mov.CONTI": "isobmff", "x.tar.gz": "gzip",
		"README": "", "a.weird": "", "a.b.c.d.txt": "text",
	}
	for name, want := range tests {
		if got := ExpectedFormat(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for ext, want := range map[string]bool{".docx": true, "lockbit": false, ".1": true, ".20240301": true, ".bak": true, ".CONTI": false} {
		if got := KnownExtension(ext); got != want {
			t.Errorf("KnownExtension(%s) = %v", ext, got)
		}
	}
}

// TestProtected7z: 7z archives made with a password (with and without
// encrypted headers) are recognised as protected; plain ones are not.
func TestProtected7z(t *testing.T) {
	if _, err := exec.LookPath("7z"); err != nil {
		t.Skip("7z not installed (p7zip-full); CI has it")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src.txt")
	if err := os.WriteFile(src, bytes.Repeat([]byte("frame data "), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want bool
	}{
		{"plain", nil, false},
		{"password", []string{"-psecret"}, true},
		{"password and encrypted headers", []string{"-psecret", "-mhe=on"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".7z")
			args := append([]string{"a", "-bd", out, src}, tc.args...)
			if b, err := exec.Command("7z", args...).CombinedOutput(); err != nil {
				t.Fatalf("7z: %v\n%s", err, b)
			}
			b, _ := os.ReadFile(out)
			for _, j := range []Judge{Entropy{}, Damage{}} {
				v, _ := j.Judge(context.Background(), bytes.NewReader(b), int64(len(b)), out)
				if v.Kind != Container || v.Protected != tc.want {
					t.Fatalf("%T: %+v, want container protected=%v", j, v, tc.want)
				}
			}
		})
	}
}

func TestNotes(t *testing.T) {
	n, err := NewNotes()
	if err != nil {
		t.Fatalf("YARA: %v", err)
	}
	defer n.Close()
	note := []byte(`All your files have been encrypted!
To get the decryption key, contact us: open our chat in Tor Browser at
abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion
Your personal ID: 8F3A-11
Do not rename the files. Within 72 hours your data will be published on our leak site.`)
	rule, err := n.Match(context.Background(), note, "README_RESTORE.txt")
	if err != nil || rule == "" {
		t.Fatalf("note not recognised: %q %v", rule, err)
	}
	if rule, _ := n.Match(context.Background(), []byte("meeting notes: back up the encrypted drive before Friday"), "notes.txt"); rule != "" {
		t.Errorf("ordinary text matched %s", rule)
	}
	if !n.Candidate("HOW_TO_DECRYPT.txt", 600) || n.Candidate("movie.mp4", 600) || n.Candidate("big.txt", NoteMax+1) {
		t.Error("note candidates wrong")
	}
}

// TestNoteSpan: a text-like candidate is matched by its head, a program
// whole, a small file whole.
func TestNoteSpan(t *testing.T) {
	text := []byte(strings.Repeat("ordinary words ", NoteHead/15+1))
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), text...)
	pe := append([]byte("MZ\x90\x00"), text...)
	for _, c := range []struct {
		name string
		head []byte
		size int64
		want int64
	}{
		{"small text", text[:1000], 1000, 1000},
		{"text at the head size", text[:NoteHead], NoteHead, NoteHead},
		{"large text", text[:NoteHead], NoteMax, NoteHead},
		{"large ELF", elf[:NoteHead], NoteMax, NoteMax},
		{"large PE", pe[:NoteHead], 200_000, 200_000},
	} {
		if got := NoteSpan(c.head, c.size); got != c.want {
			t.Errorf("%s: NoteSpan = %d, want %d", c.name, got, c.want)
		}
	}
}

// uniformRef is Uniform written plainly: one histogram, entropy and
// chi-square together.
func uniformRef(b []byte) bool {
	n := len(b)
	if n < 512 {
		return Uniform(b) // the distinct-count path is shared
	}
	var hist [256]int
	for _, c := range b {
		hist[c]++
	}
	var ent, chi float64
	e := float64(n) / 256
	for _, h := range hist {
		if h > 0 {
			p := float64(h) / float64(n)
			ent -= p * math.Log2(p)
		}
		d := float64(h) - e
		chi += d * d / e
	}
	return ent > 7.9 && chi < 400
}

// TestUniformMatchesReference: the interleaved histogram and the early
// chi-square exit give the plain computation's answer on random blocks,
// text, and blocks mixed between the two near the thresholds.
func TestUniformMatchesReference(t *testing.T) {
	rnd := make([]byte, 1<<16)
	rand.Read(rnd)
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2000))
	var agree, random int
	for _, n := range []int{512, 513, 1000, 4096, 4099, 16384} {
		for mix := 0; mix <= n; mix += max(1, n/64) {
			b := append(append([]byte(nil), rnd[:n-mix]...), text[:mix]...)
			got, want := Uniform(b), uniformRef(b)
			if got != want {
				t.Errorf("n=%d, %d text bytes: Uniform = %v, reference %v", n, mix, got, want)
			}
			agree++
			if want {
				random++
			}
		}
	}
	if random == 0 || random == agree {
		t.Fatalf("%d of %d blocks random: the cases do not straddle the threshold", random, agree)
	}
}
