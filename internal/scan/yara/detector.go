//go:build cgo

package yara

/*
#include <yara.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	goyara "github.com/hillu/go-yara/v4"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
)

// scanFlags: never let libyara install its SIGSEGV/SIGBUS handlers inside
// a Go process; kintsugi never hands it mapped files, so there is nothing
// for them to catch.
const scanFlags = goyara.ScanFlags(C.SCAN_FLAGS_NO_TRYCATCH)

// overlap is how much of the previous block is repeated at the start of
// the next when a big file streams through in blocks, so that strings up
// to this length match across block boundaries.
const overlap = 256 << 10

// Detector matches YARA rules against every file and member.
type Detector struct {
	rules    *Rules
	timeout  time.Duration
	mu       sync.Mutex
	scanners map[*goyara.Rules][]*goyara.Scanner
}

var (
	_ scan.QuickDetector   = (*Detector)(nil)
	_ scan.RuleSetDigester = (*Detector)(nil)
	_ scan.QuickPlanner    = (*Detector)(nil)
)

// NewDetector returns a detector scanning with r.
func NewDetector(r *Rules, opts Options) *Detector {
	t := opts.Timeout
	if t <= 0 {
		t = time.Minute
	}
	return &Detector{rules: r, timeout: t}
}

// Name is "yara".
func (d *Detector) Name() string { return "yara" }

// RuleSetDigest identifies the compiled rules.
func (d *Detector) RuleSetDigest() string { return "yara:" + d.rules.Digest }

// Close releases the scanners; the detector must not be used afterwards.
func (d *Detector) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ss := range d.scanners {
		for _, s := range ss {
			s.Destroy()
		}
	}
	d.scanners = nil
}

// getScanner returns a scanner for the rules that can match a file that
// starts with head and has size bytes (see prune.go).
func (d *Detector) getScanner(head []byte, size int64) (*pooled, error) {
	rules, err := d.rules.forClass(classOf(head, size), size)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if ss := d.scanners[rules]; len(ss) > 0 {
		s := ss[len(ss)-1]
		d.scanners[rules] = ss[:len(ss)-1]
		d.mu.Unlock()
		return &pooled{s, rules}, nil
	}
	d.mu.Unlock()
	s, err := goyara.NewScanner(rules)
	if err != nil {
		return nil, err
	}
	s.SetFlags(scanFlags)
	return &pooled{s, rules}, nil
}

// pooled is a scanner and the rule set it belongs to.
type pooled struct {
	*goyara.Scanner
	rules *goyara.Rules
}

func (d *Detector) putScanner(p *pooled) {
	d.mu.Lock()
	if d.scanners == nil {
		d.scanners = map[*goyara.Rules][]*goyara.Scanner{}
	}
	d.scanners[p.rules] = append(d.scanners[p.rules], p.Scanner)
	d.mu.Unlock()
}

// Quick: in triage, YARA reads small scripts and text files whole (ransom
// notes, shadow-copy scripts, web shells), which costs little and finds
// the notes that size an incident.
func (d *Detector) Quick() bool { return true }

// quickMax is the largest file YARA reads in quick mode.
const quickMax = 256 << 10

// quickExts are the kinds of small files worth reading in quick mode.
var quickExts = map[string]bool{
	"": true, ".txt": true, ".html": true, ".htm": true, ".hta": true, ".rtf": true, ".url": true, ".md": true,
	".bat": true, ".cmd": true, ".ps1": true, ".vbs": true, ".js": true, ".sh": true, ".php": true,
	".asp": true, ".aspx": true, ".jsp": true, ".conf": true, ".cfg": true, ".ini": true,
}

// quickRead reports whether quick mode reads (and scans) a file.
func quickRead(name string, size int64) bool {
	return size <= quickMax && quickExts[strings.ToLower(filepath.Ext(name))]
}

// QuickPlan implements scan.QuickPlanner.
func (d *Detector) QuickPlan(name string, size int64) []scan.Range {
	if size <= 0 || !quickRead(name, size) {
		return nil
	}
	return []scan.Range{{Off: 0, Len: size}}
}

// Begin starts the examination of one file.
func (d *Detector) Begin(ctx context.Context, f *scan.File) (scan.Examination, error) {
	if f.Quick {
		if !quickRead(f.Name, f.Size) {
			return nil, nil
		}
		buf := make([]byte, f.Size)
		n, err := f.Content.ReadAt(buf, 0)
		if int64(n) != f.Size {
			return nil, fmt.Errorf("read for quick YARA: %w", err)
		}
		return &exam{d: d, f: f, whole: buf, got: true}, nil
	}
	return &exam{d: d, f: f}, nil
}

type exam struct {
	d     *Detector
	f     *scan.File
	whole []byte
	got   bool
	// streaming state, for files that arrive in several pieces
	st *stream
}

func (e *exam) Write(p []byte) (int, error) {
	if e.f.Whole && !e.got {
		e.whole, e.got = p, true
		return len(p), nil
	}
	if e.st == nil {
		st, err := e.startStream(p)
		if err != nil {
			return 0, err
		}
		e.st = st
	}
	return e.st.push(p)
}

func (e *exam) timeout() time.Duration {
	return e.d.timeout + time.Duration(e.f.Size/(20<<20))*time.Second
}

func (e *exam) prepare(head []byte) (*pooled, *collector, error) {
	s, err := e.d.getScanner(head, e.f.Size)
	if err != nil {
		return nil, nil, err
	}
	name := e.f.Name
	full := e.f.Path
	if e.f.Member != "" {
		full = e.f.Path + "!" + e.f.Member
	}
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(name), "."))
	for k, v := range map[string]string{"filename": name, "filepath": full, "extension": ext, "filetype": "", "owner": ""} {
		if err := s.DefineVariable(k, v); err != nil {
			e.d.putScanner(s)
			return nil, nil, err
		}
	}
	c := &collector{}
	s.SetCallback(c).SetTimeout(e.timeout())
	return s, c, nil
}

func (e *exam) Close(ctx context.Context) ([]incident.Finding, error) {
	if e.st != nil {
		c, err := e.st.finish()
		return findings(c), err
	}
	s, c, err := e.prepare(e.whole)
	if err != nil {
		return nil, err
	}
	if err := setFiletype(s.Scanner, e.whole); err != nil {
		e.d.putScanner(s)
		return nil, err
	}
	err = s.ScanMem(e.whole)
	e.d.putScanner(s)
	if err != nil {
		return findings(c), scanError(err, e.timeout())
	}
	return findings(c), nil
}

func setFiletype(s *goyara.Scanner, head []byte) error {
	return s.DefineVariable("filetype", FileType(head))
}

func scanError(err error, timeout time.Duration) error {
	var ye goyara.Error
	if errors.As(err, &ye) && int(ye) == C.ERROR_SCAN_TIMEOUT {
		return fmt.Errorf("YARA time limit of %s exceeded", timeout)
	}
	return fmt.Errorf("yara: %w", err)
}

// collector records matches for one scan.
type collector struct {
	matches []match
}

type match struct {
	rule, ns string
	tags     []string
	metas    map[string]any
	strings  []matchString
}

type matchString struct {
	Name   string `json:"name"`
	Offset uint64 `json:"offset"`
	Data   string `json:"data"`
}

const maxStringsPerRule = 8

func (c *collector) RuleMatching(sc *goyara.ScanContext, r *goyara.Rule) (bool, error) {
	m := match{rule: r.Identifier(), ns: r.Namespace(), tags: r.Tags(), metas: map[string]any{}}
	for _, mt := range r.Metas() {
		m.metas[mt.Identifier] = mt.Value
	}
	for _, s := range r.Strings() {
		for _, sm := range s.Matches(sc) {
			if len(m.strings) >= maxStringsPerRule {
				break
			}
			m.strings = append(m.strings, matchString{Name: s.Identifier(), Offset: uint64(sm.Base() + sm.Offset()), Data: printable(sm.Data())})
		}
	}
	c.matches = append(c.matches, m)
	return false, nil
}

// printable shows matched bytes for people: text as text, anything else
// escaped, at most 64 bytes.
func printable(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 || r < 0x20 && r != '\t' || r == 0x7f {
			fmt.Fprintf(&sb, "\\x%02x", b[0])
			b = b[1:]
			continue
		}
		sb.WriteRune(r)
		b = b[n:]
	}
	return sb.String()
}

// Evidence is what a YARA finding records.
type Evidence struct {
	Rule        string        `json:"rule"`
	Namespace   string        `json:"namespace"`
	Tags        []string      `json:"tags,omitempty"`
	Description string        `json:"description,omitempty"`
	Author      string        `json:"author,omitempty"`
	Score       int           `json:"score,omitempty"`
	Strings     []matchString `json:"strings,omitempty"`
}

func findings(c *collector) []incident.Finding {
	if c == nil {
		return nil
	}
	var fs []incident.Finding
	for _, m := range c.matches {
		ev := Evidence{Rule: m.rule, Namespace: m.ns, Tags: m.tags, Strings: m.strings}
		ev.Description, _ = m.metas["description"].(string)
		ev.Author, _ = m.metas["author"].(string)
		verdict := incident.Malicious
		sev := incident.High
		switch v := m.metas["score"].(type) {
		case int64:
			ev.Score = int(v)
		case string:
			ev.Score, _ = strconv.Atoi(v)
		}
		// LOKI/THOR convention: scores below 70 are warnings and notices.
		if ev.Score > 0 && ev.Score < 70 {
			verdict, sev = incident.Suspect, incident.Medium
		}
		if v, ok := m.metas["verdict"].(string); ok {
			if pv, err := incident.ParseVerdict(v); err == nil && pv != incident.Clean {
				verdict = pv
			}
		}
		if s, ok := m.metas["severity"].(string); ok && incident.Severity(s).Rank() >= 0 {
			sev = incident.Severity(s)
		}
		reason := "YARA rule " + m.rule
		if ev.Description != "" {
			reason += ": " + ev.Description
		}
		rule := m.rule
		if m.ns != "kintsugi" && m.ns != "default" {
			rule = filepath.Base(m.ns) + ":" + m.rule
		}
		fs = append(fs, incident.Finding{Detector: "yara", Rule: rule, Verdict: verdict, Severity: sev, Reason: reason}.WithEvidence(ev))
	}
	return fs
}
