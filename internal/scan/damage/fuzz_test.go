package damage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/bufpool"
)

// Fuzz targets: one per validator, seeded from testdata. Each input runs
// through the validator (and its headless variant) in full and quick mode,
// from memory and through the paged reader. The property is that nothing
// panics and that work stays bounded: every loop advances, every
// allocation is capped by the input size or a fixed limit.

func seed(f *testing.F, names ...string) {
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join("testdata", n)); err == nil {
			f.Add(b)
		}
	}
}

func runValidator(t *testing.T, data []byte, run func(v *vctx)) {
	pool := bufpool.New(8 << 20) // the four runs reuse each other's buffers
	for _, quick := range []bool{false, true} {
		for _, mem := range []bool{false, true} {
			var m []byte
			if mem {
				m = data
			}
			budget := int64(-1)
			if quick {
				budget = 64 << 10
			}
			s := newSource(bytes.NewReader(data), int64(len(data)), m, budget, pool)
			v := newVctx(context.Background(), s, quick, "fuzz")
			run(v)
			if len(v.rep.probes) > maxProbes || len(v.rep.breaks) > maxBreaks || len(v.rep.spans) > maxSpans {
				t.Fatalf("report grew past its limits")
			}
			s.release()
		}
	}
}

// fuzzFormat runs the named format's validator the way Classify does:
// validate when the signature is there, and the headless walk (if any) on
// anything.
func fuzzFormat(f *testing.F, name string, seeds ...string) {
	fm, ok := formatByName(name)
	if !ok {
		f.Fatalf("no format %s", name)
	}
	seed(f, seeds...)
	f.Fuzz(func(t *testing.T, data []byte) {
		runValidator(t, data, func(v *vctx) {
			if fm.sniff(v.s.bytes(0, headWindow)) {
				fm.validate(v)
			}
			if fm.headless != nil {
				w := *v
				w.rep = &report{end: -1}
				fm.headless(&w)
			}
		})
	})
}

func FuzzBMFF(f *testing.F)   { fuzzFormat(f, "mp4", "video.mp4", "video.mov", "audio.m4a") }
func FuzzMXF(f *testing.F)    { fuzzFormat(f, "mxf", "video.mxf") }
func FuzzEBML(f *testing.F)   { fuzzFormat(f, "matroska", "video.mkv", "video.webm") }
func FuzzRIFF(f *testing.F)   { fuzzFormat(f, "riff", "video.avi", "audio.wav", "image.webp") }
func FuzzAIFF(f *testing.F)   { fuzzFormat(f, "aiff", "audio.aiff") }
func FuzzMP3(f *testing.F)    { fuzzFormat(f, "mp3", "audio.mp3") }
func FuzzFLAC(f *testing.F)   { fuzzFormat(f, "flac", "audio.flac") }
func FuzzOgg(f *testing.F)    { fuzzFormat(f, "ogg", "audio.ogg") }
func FuzzASF(f *testing.F)    { fuzzFormat(f, "asf", "video.wmv") }
func FuzzMPEGPS(f *testing.F) { fuzzFormat(f, "mpeg-ps", "video.mpg") }
func FuzzTS(f *testing.F)     { fuzzFormat(f, "mpegts", "video.ts") }
func FuzzJPEG(f *testing.F)   { fuzzFormat(f, "jpeg", "image.jpg", "image-progressive.jpg") }
func FuzzPNG(f *testing.F)    { fuzzFormat(f, "png", "image.png") }
func FuzzGIF(f *testing.F)    { fuzzFormat(f, "gif", "image.gif") }
func FuzzTIFF(f *testing.F)   { fuzzFormat(f, "tiff", "image.tif", "image-raw.tif") }
func FuzzBMP(f *testing.F)    { fuzzFormat(f, "bmp", "image.bmp") }
func FuzzDPX(f *testing.F)    { fuzzFormat(f, "dpx", "image.dpx") }
func FuzzPDF(f *testing.F)    { fuzzFormat(f, "pdf", "document.pdf") }
func FuzzZIP(f *testing.F) {
	fuzzFormat(f, "zip", "archive.zip", "document.docx", "archive-protected.zip")
}
func FuzzSevenZip(f *testing.F) { fuzzFormat(f, "7z", "archive.7z", "archive-secret.7z") }
func FuzzGzip(f *testing.F)     { fuzzFormat(f, "gzip", "data.csv.gz") }
func FuzzXZ(f *testing.F)       { fuzzFormat(f, "xz", "data.csv.xz") }
func FuzzBzip2(f *testing.F)    { fuzzFormat(f, "bzip2", "data.csv.bz2") }
func FuzzZstd(f *testing.F)     { fuzzFormat(f, "zstd", "data.csv.zst") }
func FuzzTar(f *testing.F)      { fuzzFormat(f, "tar", "archive.tar") }
func FuzzSQLite(f *testing.F)   { fuzzFormat(f, "sqlite", "catalog.sqlite") }
func FuzzELF(f *testing.F)      { fuzzFormat(f, "elf", "program.elf") }
func FuzzText(f *testing.F) {
	fuzzFormat(f, "text", "text-utf8.txt", "text-sjis.txt", "text-eucjp.txt", "text-utf16.txt")
}
func FuzzSignature(f *testing.F) { fuzzFormat(f, "signature") }

// Formats without a tool to write them are seeded from synthetic files.
func FuzzPSD(f *testing.F) { f.Add(synthPSD()); fuzzFormat(f, "psd") }
func FuzzEXR(f *testing.F) { f.Add(synthEXR()); fuzzFormat(f, "exr") }
func FuzzRAR(f *testing.F) { f.Add(synthRAR5()); fuzzFormat(f, "rar") }
func FuzzCFB(f *testing.F) { f.Add(synthCFB()); fuzzFormat(f, "cfb") }
func FuzzPE(f *testing.F)  { f.Add(synthPE()); fuzzFormat(f, "pe") }

// FuzzClassify runs the whole decision on arbitrary bytes under a few
// names, in both modes.
func FuzzClassify(f *testing.F) {
	seed(f, "video.mp4", "image.jpg", "archive.zip", "text-utf8.txt", "document.pdf")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"x.mp4", "x.txt.lockbit", "noext"} {
			for _, quick := range []bool{false, true} {
				res, err := Classify(context.Background(), bytes.NewReader(data), int64(len(data)), name, Options{Quick: quick})
				if err != nil {
					t.Fatal(err)
				}
				if res.Verdict != "clean" && res.Evidence.Check == "" {
					t.Fatalf("verdict %s without a check", res.Verdict)
				}
			}
		}
	})
}
