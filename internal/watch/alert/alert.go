// Package alert is what the watch agent tells people: the Alert record
// (its JSON form is specified in docs/design/watch-alert.md) and the
// sinks that deliver it: a local JSONL journal, syslog, a webhook with
// retry and backoff, and any function (the case store, the terminal).
// A Dispatcher fans each alert out so that a slow sink never delays the
// others.
//
// Only internal/watch and cmd/kintsugi import it.
package alert

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Schema is the version of the alert format.
const Schema = 1

// Kinds of alert.
const (
	KindRansomware = "ransomware" // a process tree stopped for ransomware behaviour
	KindCanary     = "canary"     // a decoy file was touched
	KindNote       = "ransom-note"
	KindAccount    = "account"   // a logon or account change
	KindIsolation  = "isolation" // the host was isolated or released
	KindAgent      = "agent"     // the agent itself: start, stop, lost events
)

// Alert is one alert.
type Alert struct {
	Schema   int               `json:"schema"`
	ID       string            `json:"id"`
	Time     time.Time         `json:"time"`
	Host     string            `json:"host"`
	Kind     string            `json:"kind"`
	Rule     string            `json:"rule"`
	Severity incident.Severity `json:"severity"`
	Title    string            `json:"title"`
	Summary  string            `json:"summary"`
	// Action is what the agent did about it.
	Action *Action `json:"action,omitempty"`
	// Process is the process whose act raised the alert; Tree the
	// process tree that was stopped (its root first).
	Process *Process  `json:"process,omitempty"`
	Tree    []Process `json:"tree,omitempty"`
	// User is the account the acting process ran as, or the account of
	// an account alert.
	User string `json:"user,omitempty"`
	// Files are the file operations of the tree, oldest first.
	Files []File `json:"files,omitempty"`
	// FilesOmitted counts operations left out of Files.
	FilesOmitted int `json:"files_omitted,omitempty"`
	// Evidence lists what led to the alert, each with its weight.
	Evidence []Evidence `json:"evidence,omitempty"`
	Score    float64    `json:"score,omitempty"`
	// Account holds the details of an account alert.
	Account *Account `json:"account,omitempty"`
}

// Action records the response.
type Action struct {
	Stopped     bool     `json:"stopped,omitempty"`      // SIGSTOP sent to the whole tree
	Killed      bool     `json:"killed,omitempty"`       // SIGKILL sent after the stop
	Held        bool     `json:"held,omitempty"`         // left stopped for the operator
	DeniedOpens bool     `json:"denied_opens,omitempty"` // its opens are refused while flagged
	Isolated    bool     `json:"isolated,omitempty"`     // the host's network was isolated
	Blocked     string   `json:"blocked,omitempty"`      // a source address blocked
	Errors      []string `json:"errors,omitempty"`       // what could not be done
}

// Process describes one process.
type Process struct {
	Pid       int32    `json:"pid"`
	PPid      int32    `json:"ppid"`
	Exe       string   `json:"exe,omitempty"`
	ExeSHA256 string   `json:"exe_sha256,omitempty"`
	Args      []string `json:"args,omitempty"`
	UID       int      `json:"uid"`
	User      string   `json:"user,omitempty"`
	// State is "stopped", "killed", "exited" or "running".
	State   string `json:"state,omitempty"`
	Allowed bool   `json:"allow_listed,omitempty"`
}

// File is one operation on a file.
type File struct {
	Time    time.Time `json:"time"`
	Pid     int32     `json:"pid"`
	Op      string    `json:"op"`
	Path    string    `json:"path"`
	OldPath string    `json:"old_path,omitempty"`
}

// Evidence is one indicator.
type Evidence struct {
	Time    time.Time       `json:"time"`
	Kind    string          `json:"kind"`
	Pid     int32           `json:"pid,omitempty"`
	Path    string          `json:"path,omitempty"`
	OldPath string          `json:"old_path,omitempty"`
	Weight  float64         `json:"weight"`
	Content json.RawMessage `json:"content,omitempty"`
	Detail  string          `json:"detail,omitempty"`
}

// Account holds an account alert's details.
type Account struct {
	Account string    `json:"account"`
	Source  string    `json:"source,omitempty"`
	Method  string    `json:"method,omitempty"`
	First   time.Time `json:"first,omitzero"`
	Count   int       `json:"count,omitempty"`
	File    string    `json:"file,omitempty"`  // authorized_keys or sudoers file
	Entry   string    `json:"entry,omitempty"` // the new line (keys shown by type, fingerprint and comment)
	Log     string    `json:"log,omitempty"`   // the log line or record behind it
}

// NewID returns a fresh alert id: time-ordered, with random bits.
func NewID(t time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return "w" + t.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}
