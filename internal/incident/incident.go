// Package incident holds the domain types every kintsugi command speaks: hosts,
// verdicts, findings and their evidence. It does no I/O, so any package may
// import it.
package incident

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Verdict is the outcome of screening one file.
type Verdict string

// The verdicts, from least to most severe (see Rank).
const (
	// Clean: every byte was examined by every detector and nothing was found.
	Clean Verdict = "clean"
	// Unscannable: the file was not fully examined (too big, encrypted
	// archive, read error, time limit ...). Never treated as clean.
	Unscannable Verdict = "unscannable"
	// Suspect: random-looking content of unknown format, or a weak signal.
	Suspect Verdict = "suspect"
	// Encrypted: damaged by ransomware encryption.
	Encrypted Verdict = "encrypted"
	// Malicious: a signature, IOC or rule matched.
	Malicious Verdict = "malicious"
)

// Verdicts lists every verdict in rank order.
var Verdicts = []Verdict{Clean, Unscannable, Suspect, Encrypted, Malicious}

// Rank orders verdicts so that the worst finding decides a file's verdict.
func (v Verdict) Rank() int {
	switch v {
	case Clean:
		return 0
	case Unscannable:
		return 1
	case Suspect:
		return 2
	case Encrypted:
		return 3
	case Malicious:
		return 4
	}
	return -1
}

// Valid reports whether v is one of the known verdicts.
func (v Verdict) Valid() bool { return v.Rank() >= 0 }

// ParseVerdict parses a verdict name.
func ParseVerdict(s string) (Verdict, error) {
	v := Verdict(strings.ToLower(strings.TrimSpace(s)))
	if !v.Valid() {
		return "", fmt.Errorf("unknown verdict %q", s)
	}
	return v, nil
}

// Worse returns the more severe of a and b.
func Worse(a, b Verdict) Verdict {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Severity grades a finding for people: how urgently to look at it.
type Severity string

// Severities, from least to most urgent.
const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Rank orders severities.
func (s Severity) Rank() int {
	switch s {
	case Info:
		return 0
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	case Critical:
		return 4
	}
	return -1
}

// Finding is one thing a detector found in one file (or archive member).
type Finding struct {
	// Detector names the detector that produced the finding: "yara",
	// "ioc", "damage", "archive", "engine" ...
	Detector string `json:"detector"`
	// Rule names what matched inside the detector: a YARA rule, an IOC list
	// entry, a damage check.
	Rule string `json:"rule,omitempty"`
	// Verdict is what this finding alone makes of the file.
	Verdict  Verdict  `json:"verdict"`
	Severity Severity `json:"severity,omitempty"`
	// Reason is one line for people: "matched EICAR test signature",
	// "encrypted archive: password required".
	Reason string `json:"reason"`
	// Member is the path inside an archive ("dir/a.exe" or "x.zip!y.exe"),
	// empty for the file itself.
	Member string `json:"member,omitempty"`
	// Evidence is detector-specific detail, kept as JSON in the case store.
	Evidence json.RawMessage `json:"evidence,omitempty"`
}

// WithEvidence returns f with v marshalled as its evidence. A value that
// cannot be marshalled is recorded as an error string, never dropped.
func (f Finding) WithEvidence(v any) Finding {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	f.Evidence = b
	return f
}

// FileVerdict folds findings into one verdict: the worst of them, clean when
// there are none.
func FileVerdict(fs []Finding) Verdict {
	v := Clean
	for _, f := range fs {
		v = Worse(v, f.Verdict)
	}
	return v
}

// Host is one server under investigation.
type Host struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// RunKind says which command produced a run.
type RunKind string

// Run kinds.
const (
	RunScan    RunKind = "scan"
	RunHunt    RunKind = "hunt"
	RunMigrate RunKind = "migrate"
)

// RunStatus is the state of a run in the case store.
type RunStatus string

// Run statuses. A run that is still "running" when no process holds it was
// interrupted; the next run of the same kind resumes from what was stored.
const (
	RunRunning     RunStatus = "running"
	RunDone        RunStatus = "done"
	RunFailed      RunStatus = "failed"
	RunInterrupted RunStatus = "interrupted"
)

// Run is one invocation of a command over one host.
type Run struct {
	ID       int64           `json:"id"`
	HostID   int64           `json:"host_id"`
	Kind     RunKind         `json:"kind"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished,omitzero"`
	Status   RunStatus       `json:"status"`
	Args     []string        `json:"args,omitempty"`
	RuleSet  string          `json:"ruleset,omitempty"`
	Stats    json.RawMessage `json:"stats,omitempty"`
}
