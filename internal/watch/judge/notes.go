package judge

import (
	"bytes"
	"context"
	"path"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/scan"
	"github.com/kintsugi-ir/kintsugi/internal/scan/names"
	"github.com/kintsugi-ir/kintsugi/internal/scan/yara"
)

// NoteMax is the largest file examined as a possible ransom note.
const NoteMax = 256 << 10

// NoteHead is how much of a text-like note candidate is matched: a note
// states its claim, its contact and its threat at the top (real ones are
// a few KiB; HTML and HTA notes with inline styles, tens), and a copy of a
// tree of large documents is matched at a quarter of the cost.
const NoteHead = 64 << 10

// NoteSpan returns how many bytes of a candidate of this size to match,
// given at least its first NoteHead bytes (or all of it): a program (ELF
// or PE) carries its note text wherever its data lies, so the whole of it;
// anything else, its head.
func NoteSpan(head []byte, size int64) int64 {
	if size <= NoteHead {
		return size
	}
	if f, _ := Sniff(head); f == "elf" || f == "pe" {
		return size
	}
	return NoteHead
}

// Notes recognises ransom notes: scan's YARA note rules on the content,
// and scan's list of note names.
type Notes struct {
	det   *yara.Detector
	names *names.List
}

// NewNotes compiles the built-in pack's ransom-note rules (only those: the
// agent checks every small text file a process writes, and the other rules'
// strings would cost it a third more CPU for nothing). Without YARA (a
// build without cgo) it returns Notes that go by name only, with the reason.
func NewNotes() (*Notes, error) {
	n := &Notes{names: names.Builtin()}
	rules, err := yara.Compile(yara.Options{BuiltIn: true, BuiltInFiles: []string{"ransom_notes.yar"}, Timeout: 5 * time.Second})
	if err != nil {
		return n, err
	}
	n.det = yara.NewDetector(rules, yara.Options{Timeout: 5 * time.Second})
	return n, nil
}

// Close releases the YARA scanners.
func (n *Notes) Close() {
	if n.det != nil {
		n.det.Close()
	}
}

// Candidate reports whether a new file of this name and size could be a
// note and is worth reading: small, and text-like by name.
func (n *Notes) Candidate(name string, size int64) bool {
	if size <= 0 || size > NoteMax {
		return false
	}
	if n.names.NoteName(name) {
		return true
	}
	switch strings.ToLower(path.Ext(name)) {
	case "", ".txt", ".html", ".htm", ".hta", ".rtf", ".md", ".url", ".inf", ".nfo":
		return true
	}
	return false
}

// NoteName reports whether name is a known note name.
func (n *Notes) NoteName(name string) bool { return n.names.NoteName(name) }

// Match returns the note rule content matches, "" for none.
func (n *Notes) Match(ctx context.Context, content []byte, name string) (string, error) {
	if n.det == nil {
		return "", nil
	}
	f := &scan.File{Path: name, Name: path.Base(name), Size: int64(len(content)), Content: bytes.NewReader(content), Whole: true}
	ex, err := n.det.Begin(ctx, f)
	if err != nil || ex == nil {
		return "", err
	}
	if _, err := ex.Write(content); err != nil {
		return "", err
	}
	fs, err := ex.Close(ctx)
	for _, f := range fs {
		if strings.Contains(f.Rule, "ransom_note") {
			return f.Rule, nil
		}
	}
	return "", err
}

// Extension returns the ransomware family known to use ext, if any.
func (n *Notes) Extension(name string) (family string, ok bool) {
	_, fam, ok := n.names.Extension(name)
	return fam, ok
}
