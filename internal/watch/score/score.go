// Package score is the watch agent's judgement of process trees: it takes
// the file events the agent resolved (who did what to which file), asks
// for content judgements only where they can change the outcome, and adds
// up evidence of ransomware per process and each of its ancestors, with
// decay. When a tree crosses the threshold it returns a Decision to stop
// it.
//
// What makes a copy tool different from ransomware is the centre of the
// design (docs/watch.md explains it): a copier writes new files whose
// content is a valid format, never rewrites settled files into random
// bytes, never deletes originals after writing their encrypted copies,
// and never renames settled files to a new extension. Files a process
// created itself (temporary files, its own output) are not "settled".
//
// The package is pure: no I/O, no clock, no goroutines. Only
// internal/watch imports it.
package score

import (
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/watch/fanotify"
	"github.com/kintsugi-ir/kintsugi/internal/watch/judge"
)

// Op is a file operation.
type Op int

// Operations.
const (
	OpCreate Op = iota + 1
	OpModify
	OpWrite // close after writing
	OpRename
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpModify:
		return "modify"
	case OpWrite:
		return "write"
	case OpRename:
		return "rename"
	case OpDelete:
		return "delete"
	}
	return "?"
}

// MarshalText names operations in alerts.
func (o Op) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Event is one resolved file-system event.
type Event struct {
	Time time.Time
	Op   Op
	// Chain is the acting process and its ancestors, nearest first,
	// ending below the first session boundary (init, sshd, smbd, sudo ...
	// as the agent is configured): the process trees that may be scored.
	Chain []int32
	// Allowed is set when the acting executable is allow-listed (by path
	// and hash): weak evidence is then ignored, strong evidence is not.
	Allowed bool
	// Object is the file; Dir its directory (the new one for renames).
	Object fanotify.Handle
	Dir    fanotify.Handle
	// Path is the file's path (after a rename); OldPath the path before.
	Path    string
	OldPath string
	OldDir  fanotify.Handle
	IsDir   bool
	// Canary is set when the event touches one of the agent's decoys.
	Canary bool
}

// Pid is the acting process.
func (e *Event) Pid() int32 {
	if len(e.Chain) == 0 {
		return 0
	}
	return e.Chain[0]
}

// Content gives judgements of file content on demand. The agent reads the
// object through its file handle; tests use a map.
type Content interface {
	// Judge is the careful judgement that evidence rests on (scan's
	// damage detector).
	Judge(obj fanotify.Handle, name string) (judge.Verdict, error)
	// Glance is a cheap judgement of what a process just wrote, kept to
	// know later whether a rewrite of it destroyed anything.
	Glance(obj fanotify.Handle, name string) (judge.Verdict, error)
	// Note returns the ransom-note rule the object's content matches, ""
	// when it is not a note or not a candidate.
	Note(obj fanotify.Handle, name string) (string, error)
}

// Weights are the points each kind of evidence adds; a tree is stopped at
// Threshold. Strong evidence counts for allow-listed programs too.
type Weights struct {
	Threshold float64 `yaml:"threshold" json:"threshold"`
	// strong
	DamagedRewrite   float64 `yaml:"damaged_rewrite" json:"damaged_rewrite"`     // settled file rewritten into random bytes its name's format forbids
	EncryptedCopy    float64 `yaml:"encrypted_copy" json:"encrypted_copy"`       // settled file deleted after its encrypted copy was written
	ProtectedArchive float64 `yaml:"protected_archive" json:"protected_archive"` // settled file deleted after a password-protected archive was written
	RansomNote       float64 `yaml:"ransom_note" json:"ransom_note"`             // note written by a tree with other evidence
	RansomExtension  float64 `yaml:"ransom_extension" json:"ransom_extension"`   // settled file renamed to a known ransomware extension
	// weak (ignored for allow-listed programs)
	RandomRewrite    float64 `yaml:"random_rewrite" json:"random_rewrite"`         // settled file of no known format rewritten into random bytes
	NewExtension     float64 `yaml:"new_extension" json:"new_extension"`           // settled file renamed to an unknown extension
	SameNewExtension float64 `yaml:"same_new_extension" json:"same_new_extension"` // ... the same one again
}

// DefaultWeights: two damaged files within 17 seconds (three within a
// minute), or one and a ransom note, stop a tree; seven renames of settled
// files to one new extension across folders do too; a copier earns nothing.
func DefaultWeights() Weights {
	return Weights{
		Threshold:        100,
		DamagedRewrite:   55,
		EncryptedCopy:    55,
		ProtectedArchive: 10,
		RansomNote:       60,
		RansomExtension:  25,
		RandomRewrite:    15,
		NewExtension:     15,
		SameNewExtension: 15,
	}
}

// Config tunes the engine.
type Config struct {
	Weights Weights
	// HalfLife is how fast scores decay (default one minute): scores
	// measure a rate, so a slow run must keep up a pace to add up.
	HalfLife time.Duration
	// SlowCount damaged files within SlowWindow stop a tree whatever the
	// decay (defaults 10 in 24 hours): the net for a very slow run.
	SlowCount  int
	SlowWindow time.Duration
	// Memory is how long the engine remembers which process created a
	// file or directory (default 30 minutes).
	Memory time.Duration
	// Workers reports whether parent runs other children of the same
	// program as child (an encryptor spread over worker processes, a
	// script running one encryption command per file): a tree crossing
	// the threshold in one worker is then stopped at the parent. Nil
	// means never.
	Workers func(child, parent int32) bool `yaml:"-" json:"-"`
}

func (c *Config) defaults() {
	if c.Weights.Threshold <= 0 {
		c.Weights = DefaultWeights()
	}
	if c.HalfLife <= 0 {
		c.HalfLife = time.Minute
	}
	if c.SlowCount <= 0 {
		c.SlowCount = 10
	}
	if c.SlowWindow <= 0 {
		c.SlowWindow = 24 * time.Hour
	}
	if c.Memory <= 0 {
		c.Memory = 30 * time.Minute
	}
}

// Indicator is one piece of evidence.
type Indicator struct {
	Time    time.Time      `json:"time"`
	Kind    string         `json:"kind"`
	Pid     int32          `json:"pid"`
	Path    string         `json:"path"`
	OldPath string         `json:"old_path,omitempty"`
	Weight  float64        `json:"weight"`
	Verdict *judge.Verdict `json:"content,omitempty"`
	Detail  string         `json:"detail,omitempty"`
}

// Touch is one file operation of a tree, for the alert.
type Touch struct {
	Time    time.Time `json:"time"`
	Pid     int32     `json:"pid"`
	Op      Op        `json:"op"`
	Path    string    `json:"path"`
	OldPath string    `json:"old_path,omitempty"`
}

// Decision says a tree must be stopped.
type Decision struct {
	// Root is the process whose tree is stopped: the nearest process in
	// the acting chain whose score crossed the threshold.
	Root  int32
	Pid   int32 // the process whose event crossed it
	Score float64
	// Reason is one line for people.
	Reason   string
	Canary   bool
	Evidence []Indicator
	Touched  []Touch
}

// Notice is evidence worth an alert that does not stop anything (a note
// written by a tree with no other evidence, a canary touched by an
// allow-listed program).
type Notice struct {
	Kind      string
	Pid       int32
	Chain     []int32
	Indicator Indicator
}

// Output is what one event produced.
type Output struct {
	Decisions []Decision
	Notices   []Notice
}
