package casestore

import (
	"encoding/json"
	"time"
)

// HuntHost is one host's stored hunt verdict: what the last hunt that
// covered the host concluded.
type HuntHost struct {
	HostID int64
	RunID  int64
	// Accessed, Encrypted and Exfiltrated are the hunt's own verdicts
	// (Encrypted from log evidence only; scan's damage is added when the
	// verdicts are shown, so a later scan counts too).
	Accessed    bool
	Encrypted   bool
	Exfiltrated bool
	FirstSeen   time.Time
	LastSeen    time.Time
	// Evidence is the number of detections behind the verdicts.
	Evidence int
	// Data is the verdict with its evidence, as JSON (docs/design/hunt.md).
	Data    json.RawMessage
	Updated time.Time
}

// HuntDetection is one stored hunt detection of a host.
type HuntDetection struct {
	HostID   int64
	RunID    int64
	Time     time.Time
	Last     time.Time
	RuleID   string
	Engine   string
	Title    string
	Severity string
	Category string
	Account  string
	Source   string
	// Data is the whole detection as JSON.
	Data json.RawMessage
}

// HuntLogon is one edge of the account x host graph: an account that
// reached the host from a source.
type HuntLogon struct {
	HostID     int64
	RunID      int64
	Account    string
	Source     string
	Kinds      []string
	First      time.Time
	Last       time.Time
	Count      int
	Privileged bool
	Suspicious bool
}
