// Package hunt turns collected logs into evidence: it reads Windows EVTX,
// Linux auth logs, journal exports and JSONL events (sub-packages evtx,
// authlog), matches them against Sigma rules (sigma) and built-in
// detections, and correlates the detections into per-host verdicts and a
// timeline (correlate). It never imports the case store or the CLI.
package hunt

import "time"

// Event is one log record in a form every rule engine can read, whatever
// its source format.
type Event struct {
	// Time is the record's timestamp in UTC.
	Time time.Time `json:"time"`
	// Host is the computer the event was recorded on: the EVTX Computer
	// field, the syslog hostname, else what the reader was told.
	Host string `json:"host"`
	// Source is the file (and record) the event came from, for evidence.
	Source   string `json:"source"`
	RecordID uint64 `json:"record_id,omitempty"`
	// Channel is the Windows channel ("Security",
	// "Microsoft-Windows-Sysmon/Operational") or, for Linux, the log kind
	// ("auth", "syslog", "journal").
	Channel string `json:"channel"`
	// Provider is the Windows provider name or the Linux program ("sshd").
	Provider string `json:"provider,omitempty"`
	// EventID is the Windows event id; 0 for Linux lines.
	EventID int `json:"event_id,omitempty"`
	// Level is the Windows level or syslog severity, when known.
	Level string `json:"level,omitempty"`
	// Fields holds the event's data by the names Sigma rules use:
	// EventData/UserData fields for Windows (TargetUserName, Image,
	// CommandLine ...), parsed fields for Linux (user, source_ip ...).
	Fields map[string]any `json:"fields,omitempty"`
	// Message is the raw text for line-oriented logs.
	Message string `json:"message,omitempty"`
}

// Field returns the named field as a string, "" when absent.
func (e *Event) Field(name string) string {
	v, ok := e.Fields[name]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmtAny(v)
}
