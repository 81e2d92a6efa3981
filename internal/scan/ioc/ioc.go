// Package ioc is the scan detector for indicators of compromise shared as
// lists: file hashes (plain lists, one per line, or MalwareBazaar-style CSV
// exports) and file-name patterns (regular expressions). IOC files come
// from outside and are parsed defensively: a bad line is an error that
// names the file and the line.
package ioc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
)

// Set holds loaded indicators.
type Set struct {
	hashes map[string]entry // lowercase hex -> where it came from
	names  []namePattern
	md5    bool
	sha1   bool
	digest []string
}

type entry struct {
	kind   string // md5, sha1, sha256
	desc   string
	source string // file:line
}

type namePattern struct {
	re     *regexp.Regexp
	desc   string
	source string
	score  int
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{hashes: map[string]entry{}} }

// Len is the number of indicators loaded.
func (s *Set) Len() int { return len(s.hashes) + len(s.names) }

// Needs reports which digests beyond SHA-256 the loaded hashes need.
func (s *Set) Needs() scan.Hashes { return scan.Hashes{MD5: s.md5, SHA1: s.sha1} }

// LoadHashFile loads a hash list or a MalwareBazaar CSV export.
func (s *Set) LoadHashFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ioc %s: %w", path, err)
	}
	defer f.Close()
	return s.LoadHashes(f, path)
}

// maxLine bounds one line of an IOC file.
const maxLine = 1 << 20

// LoadHashes reads hash indicators from r; name identifies r in errors.
// The format is detected from the content: a CSV header naming a
// sha256_hash, md5_hash or sha1_hash column makes it a CSV export;
// otherwise each line holds a hash, optionally followed by ';', ',' or
// white space and a description. '#' starts a comment.
func (s *Set) LoadHashes(r io.Reader, name string) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(64 << 10)
	if isCSV(head) {
		return s.loadCSV(br, name)
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		h, desc, _ := strings.Cut(line, ";")
		if i := strings.IndexAny(h, ", \t"); i >= 0 {
			h, desc = h[:i], strings.TrimSpace(h[i+1:]+" "+desc)
		}
		if err := s.addHash(h, strings.TrimSpace(desc), fmt.Sprintf("%s:%d", name, n)); err != nil {
			return fmt.Errorf("ioc %s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("ioc %s: line %d: %w", name, n+1, err)
	}
	s.digest = append(s.digest, name)
	return nil
}

func isCSV(head []byte) bool {
	for _, line := range bytes.Split(head, []byte("\n")) {
		l := bytes.TrimSpace(line)
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		ll := bytes.ToLower(l)
		return bytes.Contains(ll, []byte("sha256_hash")) || bytes.Contains(ll, []byte("md5_hash")) || bytes.Contains(ll, []byte("sha1_hash"))
	}
	return false
}

func (s *Set) loadCSV(r io.Reader, name string) error {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	hdr, err := cr.Read()
	if err != nil {
		return fmt.Errorf("ioc %s: header: %w", name, err)
	}
	cols := map[string]int{}
	for i, h := range hdr {
		cols[strings.ToLower(strings.Trim(strings.TrimSpace(h), `"`))] = i
	}
	hashCols := []string{"sha256_hash", "md5_hash", "sha1_hash"}
	descCols := []string{"signature", "file_name", "file_type_guess"}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return fmt.Errorf("ioc %s:%d: %w", name, line, err)
		}
		var desc []string
		for _, c := range descCols {
			if i, ok := cols[c]; ok && i < len(rec) {
				if v := strings.TrimSpace(rec[i]); v != "" && v != "n/a" {
					desc = append(desc, v)
				}
			}
		}
		for _, c := range hashCols {
			i, ok := cols[c]
			if !ok || i >= len(rec) {
				continue
			}
			v := strings.TrimSpace(rec[i])
			if v == "" || v == "n/a" {
				continue
			}
			if err := s.addHash(v, strings.Join(desc, " "), fmt.Sprintf("%s:%d", name, line)); err != nil {
				return fmt.Errorf("ioc %s:%d: column %s: %w", name, line, c, err)
			}
		}
	}
	s.digest = append(s.digest, name)
	return nil
}

var errNotHash = errors.New("not an MD5, SHA-1 or SHA-256 hash")

func (s *Set) addHash(h, desc, source string) error {
	h = strings.ToLower(strings.TrimSpace(h))
	if _, err := hex.DecodeString(h); err != nil {
		return fmt.Errorf("%q: %w", truncate(h), errNotHash)
	}
	var kind string
	switch len(h) {
	case 32:
		kind, s.md5 = "md5", true
	case 40:
		kind, s.sha1 = "sha1", true
	case 64:
		kind = "sha256"
	default:
		return fmt.Errorf("%q: %w", truncate(h), errNotHash)
	}
	if _, dup := s.hashes[h]; !dup {
		s.hashes[h] = entry{kind: kind, desc: desc, source: source}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// LoadNameFile loads file-name indicators: one regular expression per
// line (Go RE2 syntax, matched against the full path with '/' separators),
// optionally followed by ';' and a score (LOKI's filename-iocs layout) or
// a description. '#' starts a comment.
func (s *Set) LoadNameFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ioc %s: %w", path, err)
	}
	defer f.Close()
	return s.LoadNames(f, path)
}

// LoadNames reads file-name indicators from r.
func (s *Set) LoadNames(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	n := 0
	desc := ""
	for sc.Scan() {
		n++
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			// LOKI uses the comment above a block as its description.
			desc = strings.TrimSpace(strings.TrimLeft(line, "#"))
			continue
		}
		expr, rest := line, ""
		if i := strings.LastIndex(line, ";"); i >= 0 {
			expr, rest = line[:i], strings.TrimSpace(line[i+1:])
		}
		score := 0
		if rest != "" {
			if _, err := fmt.Sscanf(rest, "%d", &score); err != nil {
				expr = line // the ';' belonged to the expression
			}
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return fmt.Errorf("ioc %s:%d: %w", name, n, err)
		}
		s.names = append(s.names, namePattern{re: re, desc: desc, source: fmt.Sprintf("%s:%d", name, n), score: score})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("ioc %s: line %d: %w", name, n+1, err)
	}
	s.digest = append(s.digest, name)
	return nil
}

// Detector matches loaded indicators against each file's digests and
// path.
type Detector struct {
	set    *Set
	digest string
}

var (
	_ scan.Detector        = (*Detector)(nil)
	_ scan.RuleSetDigester = (*Detector)(nil)
	_ scan.QuickDetector   = (*Detector)(nil)
)

// NewDetector returns a detector for set.
func NewDetector(set *Set) *Detector {
	h := sha256.New()
	keys := make([]string, 0, len(set.hashes))
	for k := range set.hashes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintln(h, k)
	}
	for _, p := range set.names {
		fmt.Fprintln(h, p.re.String(), p.score)
	}
	return &Detector{set: set, digest: hex.EncodeToString(h.Sum(nil))[:16]}
}

// Name is "ioc".
func (d *Detector) Name() string { return "ioc" }

// RuleSetDigest identifies the loaded indicators.
func (d *Detector) RuleSetDigest() string { return "ioc:" + d.digest }

// Quick: name indicators take part in triage; hashes need a full read.
func (d *Detector) Quick() bool { return len(d.set.names) > 0 }

// Begin starts examining one file.
func (d *Detector) Begin(_ context.Context, f *scan.File) (scan.Examination, error) {
	if d.set.Len() == 0 {
		return nil, nil
	}
	return exam{d: d, f: f}, nil
}

type exam struct {
	d *Detector
	f *scan.File
}

// Write ignores the bytes: the engine computes the digests in its own
// pass and hands them over in File.Sums.
func (exam) Write(p []byte) (int, error) { return len(p), nil }

// Evidence is what an IOC finding records.
type Evidence struct {
	Kind        string `json:"kind"`
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
	Source      string `json:"source"`
}

func (e exam) Close(context.Context) ([]incident.Finding, error) {
	var fs []incident.Finding
	if s := e.f.Sums; s != nil {
		for _, h := range []string{s.SHA256, s.SHA1, s.MD5} {
			if h == "" {
				continue
			}
			if en, ok := e.d.set.hashes[h]; ok {
				reason := "hash on IOC list " + en.source
				if en.desc != "" {
					reason += ": " + en.desc
				}
				fs = append(fs, incident.Finding{Detector: "ioc", Rule: en.kind, Verdict: incident.Malicious, Severity: incident.Critical, Reason: reason}.
					WithEvidence(Evidence{Kind: en.kind, Value: h, Description: en.desc, Source: en.source}))
			}
		}
	}
	full := e.f.Path
	if e.f.Member != "" {
		full += "!" + e.f.Member
	}
	full = strings.ReplaceAll(full, "\\", "/")
	for _, p := range e.d.set.names {
		if !p.re.MatchString(full) {
			continue
		}
		v, sev := incident.Malicious, incident.High
		if p.score > 0 && p.score < 70 {
			v, sev = incident.Suspect, incident.Medium
		}
		reason := "file name matches IOC " + p.source
		if p.desc != "" {
			reason += ": " + p.desc
		}
		fs = append(fs, incident.Finding{Detector: "ioc", Rule: "filename", Verdict: v, Severity: sev, Reason: reason}.
			WithEvidence(Evidence{Kind: "filename", Value: p.re.String(), Description: p.desc, Source: p.source}))
	}
	return fs, nil
}
