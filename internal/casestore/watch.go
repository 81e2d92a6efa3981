package casestore

import (
	"encoding/json"
	"time"
)

// WatchAlert is one alert of the watch agent kept in the case, so that a
// stopped encryption run or a stolen account seen by the agent sits next
// to what scan and hunt found on the same host.
type WatchAlert struct {
	// ID is the alert's own id (unique; storing it again changes nothing).
	ID       string
	HostID   int64
	Time     time.Time
	Kind     string
	Rule     string
	Severity string
	Title    string
	Summary  string
	// Data is the whole alert as JSON (docs/design/watch-alert.md).
	Data json.RawMessage
}
