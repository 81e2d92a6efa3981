package damage

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// fixture is one small valid file of a format, from testdata/ or built by
// a synth function, with what its validator can see.
type fixture struct {
	name   string // file name (testdata/name unless synth is set)
	synth  func() []byte
	format string // prefix of the format the validator reports
	// middle: 8 KiB of random bytes in the middle of the file are seen in
	// full mode (structure or raw content covers the middle)
	middle bool
	// tail: the format has a logical end, so an appended blob is measured
	tail bool
}

func fixtures() []fixture {
	return []fixture{
		{name: "video.mp4", format: "mp4", tail: true},
		{name: "video.mov", format: "mp4", middle: true, tail: true},
		{name: "video.mxf", format: "mxf", middle: true, tail: true},
		{name: "video.mkv", format: "matroska", tail: true},
		{name: "video.webm", format: "matroska", tail: true},
		{name: "video.avi", format: "riff", middle: true, tail: true},
		{name: "video.ts", format: "mpegts", middle: true, tail: true},
		{name: "video.mpg", format: "mpeg-ps", middle: true, tail: true},
		{name: "video.wmv", format: "asf", tail: true},
		{name: "audio.wav", format: "riff", middle: true, tail: true},
		{name: "audio.aiff", format: "aiff", middle: true, tail: true},
		{name: "audio.mp3", format: "mp3", tail: true},
		{name: "audio.flac", format: "flac", middle: true},
		{name: "audio.m4a", format: "mp4", tail: true},
		{name: "audio.ogg", format: "ogg", tail: true},
		{name: "image.jpg", format: "jpeg", tail: true},
		{name: "image-progressive.jpg", format: "jpeg", tail: true},
		{name: "image.png", format: "png", middle: true, tail: true},
		{name: "image.gif", format: "gif", tail: true},
		{name: "image.tif", format: "tiff"},
		{name: "image-raw.tif", format: "tiff", middle: true},
		{name: "image.bmp", format: "bmp", middle: true, tail: true},
		{name: "image.webp", format: "riff", tail: true},
		{name: "image.dpx", format: "dpx", tail: true},
		{name: "document.pdf", format: "pdf", tail: true},
		{name: "document.docx", format: "zip", middle: true, tail: true},
		{name: "archive.zip", format: "zip", middle: true, tail: true},
		{name: "archive-protected.zip", format: "zip", tail: true},
		{name: "archive.7z", format: "7z", tail: true},
		{name: "archive-secret.7z", format: "7z", tail: true},
		{name: "archive.tar", format: "tar", tail: true},
		{name: "data.csv.gz", format: "gzip", tail: true},
		{name: "data.csv.bz2", format: "bzip2"},
		{name: "data.csv.xz", format: "xz", tail: true},
		{name: "data.csv.zst", format: "zstd", tail: true},
		{name: "catalog.sqlite", format: "sqlite", middle: true, tail: true},
		{name: "program.elf", format: "elf"},
		{name: "text-utf8.txt", format: "text/utf-8", middle: true},
		{name: "text-utf8-ja.txt", format: "text/utf-8", middle: true},
		{name: "text-sjis.txt", format: "text/shift_jis", middle: true},
		{name: "text-eucjp.txt", format: "text/euc-jp", middle: true},
		{name: "text-utf16.txt", format: "text/utf-16", middle: true},
		{name: "text-utf16-nobom.txt", format: "text/utf-16le", middle: true},
		{name: "data.csv", format: "text/utf-8", middle: true},
		{name: "program.exe", synth: synthPE, format: "pe", middle: true},
		{name: "legacy.doc", synth: synthCFB, format: "cfb"},
		{name: "archive.rar", synth: synthRAR5, format: "rar", tail: true},
		{name: "layers.psd", synth: synthPSD, format: "psd", middle: true},
		{name: "plate.exr", synth: synthEXR, format: "exr"},
	}
}

func (f fixture) data(t testing.TB) []byte {
	t.Helper()
	if f.synth != nil {
		return f.synth()
	}
	b, err := os.ReadFile(filepath.Join("testdata", f.name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func classifyBytes(t testing.TB, b []byte, name string, quick bool) Result {
	t.Helper()
	r, err := Classify(context.Background(), bytes.NewReader(b), int64(len(b)), name, Options{Quick: quick})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func randomize(b []byte, off, n int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	for i := off; i < off+n && i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
}

func TestFixtures(t *testing.T) {
	for _, fx := range fixtures() {
		orig := fx.data(t)
		t.Run(fx.name, func(t *testing.T) {
			for _, quick := range []bool{false, true} {
				res := classifyBytes(t, orig, fx.name, quick)
				if res.Verdict != incident.Clean || !res.Intact {
					t.Fatalf("intact (quick=%v): %s %s", quick, res.Verdict, res.Reason)
				}
				if !strings.HasPrefix(res.Evidence.Format, fx.format) {
					t.Errorf("format %q, want %q", res.Evidence.Format, fx.format)
				}
			}
			cases := []struct {
				name    string
				damage  func([]byte) []byte
				quick   bool
				want    incident.Verdict
				pattern string
			}{
				{"head-4k", func(b []byte) []byte { randomize(b, 0, 4096, 1); return b }, false, incident.Encrypted, ""},
				{"head-4k-quick", func(b []byte) []byte { randomize(b, 0, 4096, 1); return b }, true, incident.Encrypted, ""},
				{"head-64", func(b []byte) []byte { randomize(b, 0, 64, 2); return b }, false, incident.Encrypted, ""},
				{"full", func(b []byte) []byte { randomize(b, 0, len(b), 3); return b }, false, incident.Encrypted, PatternFull},
				{"full-quick", func(b []byte) []byte { randomize(b, 0, len(b), 3); return b }, true, incident.Encrypted, PatternFull},
			}
			if fx.middle {
				cases = append(cases, struct {
					name    string
					damage  func([]byte) []byte
					quick   bool
					want    incident.Verdict
					pattern string
				}{"middle-8k", func(b []byte) []byte {
					off := (len(b)/2 - 4096) / 4096 * 4096
					randomize(b, off, 8192, 4)
					return b
				}, false, incident.Encrypted, ""})
			}
			for _, c := range cases {
				b := c.damage(append([]byte(nil), orig...))
				res := classifyBytes(t, b, fx.name, c.quick)
				if res.Verdict != c.want {
					t.Errorf("%s: %s %s, want %s", c.name, res.Verdict, res.Reason, c.want)
					continue
				}
				if res.Evidence.Check == "" {
					t.Errorf("%s: verdict without a check in the evidence", c.name)
				}
				if c.pattern != "" && res.Evidence.Pattern != c.pattern {
					t.Errorf("%s: pattern %q, want %q", c.name, res.Evidence.Pattern, c.pattern)
				}
			}
			// the same head damage under a ransomware name: the content
			// decides, the name only supplies the appended extension
			b := append([]byte(nil), orig...)
			randomize(b, 0, 4096, 5)
			res := classifyBytes(t, b, fx.name+".lockbit", false)
			if res.Verdict != incident.Encrypted || res.Evidence.Extension != ".lockbit" {
				t.Errorf("renamed: %s extension %q", res.Verdict, res.Evidence.Extension)
			}
			// intact content under an odd or a wrong name stays intact
			for _, n := range []string{"clip.bin", "notes.pdf", "x.mp4.akira"} {
				if res := classifyBytes(t, orig, n, false); res.Verdict != incident.Clean {
					t.Errorf("intact named %s: %s %s", n, res.Verdict, res.Reason)
				}
			}
			// an appended blob with the content intact
			tail := append(append([]byte(nil), orig...), make([]byte, 534)...)
			randomize(tail, len(orig), 534, 6)
			res = classifyBytes(t, tail, fx.name, false)
			if res.Verdict == incident.Encrypted && fx.tail {
				t.Errorf("appended blob to intact content: %s", res.Reason)
			}
			if fx.tail && res.Verdict == incident.Clean {
				t.Errorf("appended blob: clean")
			}
			if fx.tail && res.Evidence.TailBytes != 534 {
				t.Errorf("appended blob: tail %d bytes, want 534 (%s %s)", res.Evidence.TailBytes, res.Verdict, res.Reason)
			}
		})
	}
}
