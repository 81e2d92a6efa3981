// Package ransomsim is a ransomware simulator for the watch agent's tests
// and benchmark. It is harmless by construction: Prepare writes a tree of
// realistic files and a manifest of their hashes, and Run encrypts only
// files listed in that manifest whose content is still exactly what
// Prepare wrote. It refuses any directory without a manifest. Check
// compares the tree with the manifest: how many files were lost.
//
// It is imported by tests and by bench/watch/ransomsim; never by the
// agent or the kintsugi command.
package ransomsim

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ManifestName is the manifest Prepare writes at the root of the tree.
const ManifestName = ".ransomsim-manifest.json"

// Extension is what the simulator appends to encrypted files.
const Extension = ".kslocked"

// NoteName is the ransom note the simulator drops when asked to.
const NoteName = "README_RESTORE_FILES.txt"

// Modes of encryption.
var Modes = []string{"fast", "slow", "intermittent", "inplace", "newdelete", "renameonly", "children", "extonly"}

// ModeDoc explains each mode.
var ModeDoc = map[string]string{
	"fast":         "whole file encrypted in place as fast as possible, then renamed to " + Extension,
	"slow":         "as fast, one file a second",
	"intermittent": "4 KiB of every 64 KiB encrypted in place, then renamed",
	"inplace":      "whole file encrypted in place, name kept",
	"newdelete":    "encrypted copy written as name" + Extension + ", original deleted",
	"renameonly":   "encrypted copy written to a temporary file and renamed over the original (no write to the original, no delete)",
	"children":     "as fast, spread over many short-lived child processes (4 at a time, 4 files each)",
	"extonly":      "only renamed to " + Extension + ", content untouched (a scare tactic)",
}

// Entry is one file of the manifest.
type Entry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Prepare writes n files in subdirectories of dir (a few dozen per
// directory) and the manifest. Contents are valid files of common
// formats: office documents, JPEG and PNG images, PDF, text, CSV, gzip
// and MP4-like media.
func Prepare(dir string, n int, seed uint64) ([]Entry, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var es []Entry
	kinds := []string{"docx", "xlsx", "jpg", "png", "pdf", "txt", "csv", "mp4", "gz", "docx", "jpg", "txt"}
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("project%02d", i/40), fmt.Sprintf("take%d", (i/10)%4))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
		kind := kinds[r.IntN(len(kinds))]
		name := fmt.Sprintf("%s_%04d.%s", []string{"shot", "memo", "budget", "still", "edit"}[r.IntN(5)], i, kind)
		body := content(r, kind)
		p := filepath.Join(sub, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(body)
		es = append(es, Entry{Path: rel, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(body))})
	}
	b, _ := json.Marshal(es)
	if err := os.WriteFile(filepath.Join(dir, ManifestName), b, 0o644); err != nil {
		return nil, err
	}
	return es, nil
}

var words = strings.Fields(`the edit for episode twelve needs a new colour grade and the client wants
the delivery moved to friday budget approved for two more days of online and conform the
audio mix is final subtitles in japanese and english are attached review notes from osaka`)

func text(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(14) == 0 {
			b.WriteString(".\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()
}

func noise(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// size draws a file size: mostly tens of KiB, some hundreds.
func size(r *rand.Rand) int {
	if r.IntN(8) == 0 {
		return 128<<10 + r.IntN(384<<10)
	}
	return 4<<10 + r.IntN(60<<10)
}

func content(r *rand.Rand, kind string) []byte {
	n := size(r)
	switch kind {
	case "txt":
		return text(r, n)
	case "csv":
		var b bytes.Buffer
		b.WriteString("shot,take,duration,status\n")
		for b.Len() < n {
			fmt.Fprintf(&b, "%d,%d,%d.%02d,%s\n", r.IntN(500), r.IntN(9), r.IntN(60), r.IntN(100), words[r.IntN(len(words))])
		}
		return b.Bytes()
	case "docx", "xlsx":
		var b bytes.Buffer
		z := zip.NewWriter(&b)
		w, _ := z.Create("[Content_Types].xml")
		w.Write([]byte(`<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`))
		w, _ = z.Create("word/document.xml")
		w.Write(text(r, 3*n))
		w, _ = z.CreateHeader(&zip.FileHeader{Name: "word/media/image1.bin", Method: zip.Store})
		w.Write(noise(r, n/4))
		z.Close()
		return b.Bytes()
	case "jpg", "png":
		side := 64 + r.IntN(256)
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		c0 := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				img.Set(x, y, color.RGBA{c0.R + uint8(x), c0.G + uint8(y), c0.B + uint8(r.IntN(32)), 255})
			}
		}
		var b bytes.Buffer
		if kind == "jpg" {
			jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
		} else {
			png.Encode(&b, img)
		}
		return b.Bytes()
	case "pdf":
		body := text(r, n)
		var b bytes.Buffer
		b.WriteString("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n")
		fmt.Fprintf(&b, "3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n4 0 obj << /Length %d >> stream\n", len(body))
		b.Write(body)
		b.WriteString("\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
		return b.Bytes()
	case "gz":
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		z.Write(text(r, 2*n))
		z.Close()
		return b.Bytes()
	case "mp4":
		// ftyp, then mdat of compressed-looking frames, then a small moov
		var b bytes.Buffer
		box := func(typ string, payload []byte) {
			var h [8]byte
			l := uint32(8 + len(payload))
			h[0], h[1], h[2], h[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
			copy(h[4:], typ)
			b.Write(h[:])
			b.Write(payload)
		}
		box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2avc1mp41"))
		box("mdat", noise(r, n))
		box("moov", append([]byte("\x00\x00\x00\x6cmvhd"), make([]byte, 100)...))
		return b.Bytes()
	}
	return text(r, n)
}

// Manifest reads the manifest of dir.
func Manifest(dir string) ([]Entry, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("ransomsim: %s has no manifest: it only touches trees it prepared: %w", dir, err)
	}
	var es []Entry
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, fmt.Errorf("ransomsim: manifest: %w", err)
	}
	for _, e := range es {
		if filepath.IsAbs(e.Path) || strings.HasPrefix(filepath.Clean(e.Path), "..") {
			return nil, fmt.Errorf("ransomsim: manifest entry %q leaves the tree", e.Path)
		}
	}
	return es, nil
}

// Result is the state of a tree after a run.
type Result struct {
	Total int `json:"total"`
	// Intact files are unchanged under their name.
	Intact int `json:"intact"`
	// Renamed files have their original content under another name
	// (extonly mode): recoverable by a rename.
	Renamed int `json:"renamed"`
	// Lost files are encrypted, in whole or in part, or gone.
	Lost int `json:"lost"`
}

// Check compares dir with its manifest.
func Check(dir string) (Result, error) {
	es, err := Manifest(dir)
	if err != nil {
		return Result{}, err
	}
	res := Result{Total: len(es)}
	for _, e := range es {
		p := filepath.Join(dir, e.Path)
		switch {
		case hashIs(p, e.SHA256):
			res.Intact++
		case hashIs(p+Extension, e.SHA256):
			res.Renamed++
		default:
			res.Lost++
		}
	}
	return res, nil
}

func hashIs(p, want string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == want
}

// Options tune a run.
type Options struct {
	Mode string
	// Note drops a ransom note in each directory after its files.
	Note bool
	// Delay overrides the pause between files (slow mode: one second).
	Delay time.Duration
	// Progress, when set, gets one line per file done: its index and the
	// time, for latency measurements.
	Progress io.Writer
	// Self is the simulator binary, re-run for the children mode with
	// "child" arguments (ChildMain handles them).
	Self []string
}

// Run encrypts the tree the way opts.Mode says.
func Run(dir string, opts Options) error {
	es, err := Manifest(dir)
	if err != nil {
		return err
	}
	key := make([]byte, 32)
	crand.Read(key)
	switch opts.Mode {
	case "children":
		return runChildren(dir, es, opts)
	case "slow":
		if opts.Delay == 0 {
			opts.Delay = time.Second
		}
	}
	if !validMode(opts.Mode) {
		return fmt.Errorf("ransomsim: unknown mode %q (want one of %s)", opts.Mode, strings.Join(Modes, ", "))
	}
	done := map[string]bool{}
	for i, e := range es {
		if i > 0 && opts.Delay > 0 {
			time.Sleep(opts.Delay)
		}
		if err := one(dir, e, opts.Mode, key); err != nil {
			return err
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "%d %d\n", i, time.Now().UnixNano())
		}
		d := filepath.Dir(filepath.Join(dir, e.Path))
		if opts.Note && !done[d] && (i+1 == len(es) || filepath.Dir(filepath.Join(dir, es[i+1].Path)) != d) {
			done[d] = true
			os.WriteFile(filepath.Join(d, NoteName), []byte(noteText), 0o644)
		}
	}
	return nil
}

func validMode(m string) bool {
	for _, x := range Modes {
		if x == m {
			return true
		}
	}
	return false
}

const noteText = `All your files have been encrypted!
Your documents, photos, videos and databases were encrypted with strong encryption.
To get the decryption key, contact us: open our chat in Tor Browser at
kintsugitestonlyaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.onion
Your personal ID: 0000-TEST-ONLY
Do not rename the files. Within 72 hours your data will be published on our leak site.
(This note was written by kintsugi's ransomware simulator for a test.)
`

// one encrypts one file, after checking that it is still the simulator's.
func one(dir string, e Entry, mode string, key []byte) error {
	p := filepath.Join(dir, e.Path)
	if !hashIs(p, e.SHA256) {
		return nil // not ours any more (or already done): never touch it
	}
	plain, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	enc := func(b []byte) []byte {
		blk, _ := aes.NewCipher(key)
		iv := make([]byte, 16)
		crand.Read(iv)
		out := make([]byte, len(b))
		cipher.NewCTR(blk, iv).XORKeyStream(out, b)
		return out
	}
	switch mode {
	case "fast", "slow", "children", "inplace":
		if err := overwrite(p, enc(plain), 0); err != nil {
			return err
		}
		if mode != "inplace" {
			return os.Rename(p, p+Extension)
		}
	case "intermittent":
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		for off := 0; off < len(plain); off += 64 << 10 {
			end := min(off+4<<10, len(plain))
			if _, err := f.WriteAt(enc(plain[off:end]), int64(off)); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(p, p+Extension)
	case "newdelete":
		if err := os.WriteFile(p+Extension, enc(plain), 0o644); err != nil {
			return err
		}
		return os.Remove(p)
	case "renameonly":
		tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp")
		if err := os.WriteFile(tmp, enc(plain), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, p)
	case "extonly":
		return os.Rename(p, p+Extension)
	}
	return nil
}

func overwrite(p string, b []byte, off int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, off); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runChildren hands batches of four files to short-lived children, four
// at a time.
func runChildren(dir string, es []Entry, opts Options) error {
	if len(opts.Self) == 0 {
		return errors.New("ransomsim: children mode needs the simulator's own command line")
	}
	const batch, parallel = 4, 4
	var running []*exec.Cmd
	wait := func() error {
		c := running[0]
		running = running[1:]
		return c.Wait()
	}
	for i := 0; i < len(es); i += batch {
		if len(running) == parallel {
			if err := wait(); err != nil {
				return err
			}
		}
		args := append(append([]string{}, opts.Self[1:]...), "child", dir, strconv.Itoa(i), strconv.Itoa(min(i+batch, len(es))))
		c := exec.Command(opts.Self[0], args...)
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			return err
		}
		running = append(running, c)
	}
	for len(running) > 0 {
		if err := wait(); err != nil {
			return err
		}
	}
	return nil
}

// ChildMain runs one child of the children mode: args are the tree, and
// the first and end index of its files.
func ChildMain(args []string) error {
	if len(args) != 3 {
		return errors.New("ransomsim child: want DIR FROM TO")
	}
	es, err := Manifest(args[0])
	if err != nil {
		return err
	}
	from, err1 := strconv.Atoi(args[1])
	to, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || from < 0 || to > len(es) || from > to {
		return errors.New("ransomsim child: bad range")
	}
	key := make([]byte, 32)
	crand.Read(key)
	var progress io.Writer
	if p := os.Getenv(ProgressEnv); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		progress = f
	}
	for i, e := range es[from:to] {
		if err := one(args[0], e, "fast", key); err != nil {
			return err
		}
		if progress != nil {
			fmt.Fprintf(progress, "%d %d\n", from+i, time.Now().UnixNano())
		}
	}
	return nil
}

// ProgressEnv names a file that Run's callers (and children) append one
// line per file done to, "INDEX UNIX-NANOS": the benchmark's clock for
// the first damage.
const ProgressEnv = "RANSOMSIM_PROGRESS"
