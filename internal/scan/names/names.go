// Package names is the scan detector for what a file's name says: an
// extension known from a ransomware family, or a ransom-note file name.
// Names only inform: they never make a file malicious or encrypted on
// their own (content decides), so its findings carry the "clean" verdict
// and serve as evidence, host-impact input and triage hints. The lists live
// in ransomware.json, embedded and replaceable at run time.
package names

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
)

//go:embed ransomware.json
var builtin []byte

// List holds the known extensions and note-name patterns.
type List struct {
	Extensions map[string]string `json:"extensions"`
	NoteNames  []string          `json:"note_names"`
	notes      []*regexp.Regexp
}

// Builtin returns the embedded list.
func Builtin() *List {
	l, err := Parse(builtin)
	if err != nil {
		panic(fmt.Sprintf("embedded ransomware.json: %v", err)) // checked by tests
	}
	return l
}

// Load reads a replacement list from a file.
func Load(path string) (*List, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("names %s: %w", path, err)
	}
	l, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("names %s: %w", path, err)
	}
	return l, nil
}

// Parse parses a list in the ransomware.json layout.
func Parse(b []byte) (*List, error) {
	var l List
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, err
	}
	ext := make(map[string]string, len(l.Extensions))
	for k, v := range l.Extensions {
		k = strings.ToLower(k)
		if !strings.HasPrefix(k, ".") {
			k = "." + k
		}
		ext[k] = v
	}
	l.Extensions = ext
	for _, p := range l.NoteNames {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			return nil, fmt.Errorf("note name pattern %q: %w", p, err)
		}
		l.notes = append(l.notes, re)
	}
	return &l, nil
}

// Extension returns the ransomware extension that name ends with and the
// family it is known from.
func (l *List) Extension(name string) (ext, family string, ok bool) {
	// Byte-wise: names need not be UTF-8, and strings.ToLower would
	// change the length of invalid sequences.
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return "", "", false
	}
	family, ok = l.Extensions[asciiLower(name[i:])]
	return name[i:], family, ok
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// NoteName reports whether name looks like a ransom note's name.
func (l *List) NoteName(name string) bool {
	for _, re := range l.notes {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// Detector reports ransomware names as evidence.
type Detector struct{ list *List }

var (
	_ scan.Detector      = (*Detector)(nil)
	_ scan.QuickDetector = (*Detector)(nil)
)

// NewDetector returns a detector for l.
func NewDetector(l *List) *Detector { return &Detector{list: l} }

// Name is "names".
func (d *Detector) Name() string { return "names" }

// Quick: names take part in triage.
func (d *Detector) Quick() bool { return true }

// Evidence is what a name finding records.
type Evidence struct {
	Extension string `json:"extension,omitempty"`
	Family    string `json:"family,omitempty"`
	NoteName  bool   `json:"note_name,omitempty"`
}

// Begin checks the name; no bytes are needed.
func (d *Detector) Begin(_ context.Context, f *scan.File) (scan.Examination, error) {
	var fs []incident.Finding
	if ext, fam, ok := d.list.Extension(f.Name); ok {
		fs = append(fs, incident.Finding{Detector: "names", Rule: "ransomware-extension", Verdict: incident.Clean, Severity: incident.Info,
			Reason: fmt.Sprintf("name ends in %s, an extension used by %s", ext, fam)}.WithEvidence(Evidence{Extension: ext, Family: fam}))
	}
	if f.Member == "" && d.list.NoteName(f.Name) {
		fs = append(fs, incident.Finding{Detector: "names", Rule: "note-name", Verdict: incident.Clean, Severity: incident.Info,
			Reason: "name matches a ransom-note name pattern"}.WithEvidence(Evidence{NoteName: true}))
	}
	if fs == nil {
		return nil, nil
	}
	return exam(fs), nil
}

type exam []incident.Finding

func (e exam) Write(p []byte) (int, error)                       { return len(p), nil }
func (e exam) Close(context.Context) ([]incident.Finding, error) { return e, nil }
