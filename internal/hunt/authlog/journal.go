package authlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// Journal is the hunt.Format for `journalctl -o json` exports: one JSON
// object per line with systemd's field names.
type Journal struct{}

var _ hunt.Format = Journal{}

// Name implements hunt.Format.
func (Journal) Name() string { return "journal" }

// Sniff implements hunt.Format.
func (Journal) Sniff(head []byte) bool {
	first := firstLine(head)
	return len(first) > 0 && first[0] == '{' &&
		(bytes.Contains(first, []byte(`"__REALTIME_TIMESTAMP"`)) || bytes.Contains(first, []byte(`"__CURSOR"`)))
}

// journalRecord holds the fields kintsugi uses. Each is raw because the
// journal writes a field as a string, as an array of bytes (not UTF-8), as
// an array of strings (a field given twice) or as null (too large).
type journalRecord struct {
	Realtime   json.RawMessage `json:"__REALTIME_TIMESTAMP"`
	Hostname   json.RawMessage `json:"_HOSTNAME"`
	Identifier json.RawMessage `json:"SYSLOG_IDENTIFIER"`
	Comm       json.RawMessage `json:"_COMM"`
	PID        json.RawMessage `json:"_PID"`
	SyslogPID  json.RawMessage `json:"SYSLOG_PID"`
	Message    json.RawMessage `json:"MESSAGE"`
	Priority   json.RawMessage `json:"PRIORITY"`
	Facility   json.RawMessage `json:"SYSLOG_FACILITY"`
	Unit       json.RawMessage `json:"_SYSTEMD_UNIT"`
	Transport  json.RawMessage `json:"_TRANSPORT"`
	UID        json.RawMessage `json:"_UID"`
	Exe        json.RawMessage `json:"_EXE"`
	Cmdline    json.RawMessage `json:"_CMDLINE"`
}

// Decode implements hunt.Format.
func (Journal) Decode(ctx context.Context, in *hunt.Input, emit func(*hunt.Event) error) (hunt.DecodeStats, error) {
	var st hunt.DecodeStats
	err := eachLine(ctx, in.R, &st, func(n uint64, line string, truncated bool) error {
		if truncated {
			st.AddBad(1, fmt.Sprintf("line %d: longer than %d bytes", n, MaxLineSize))
			return nil
		}
		ev, err := ParseJournalRecord([]byte(line))
		if err != nil {
			st.AddBad(1, fmt.Sprintf("line %d: %v", n, err))
			return nil
		}
		ev.Source = in.Path
		ev.RecordID = n
		if ev.Host == "" {
			ev.Host = in.Host
		}
		st.Records++
		return emit(ev)
	})
	return st, err
}

// ParseJournalRecord turns one `journalctl -o json` line into an Event.
func ParseJournalRecord(line []byte) (*hunt.Event, error) {
	var r journalRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("not a journal record: %w", err)
	}
	us, err := strconv.ParseInt(journalString(r.Realtime), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("__REALTIME_TIMESTAMP: %w", err)
	}
	msg := journalString(r.Message)
	ev := &hunt.Event{
		Time:    time.UnixMicro(us).UTC(),
		Host:    journalString(r.Hostname),
		Channel: "journal",
		Message: msg,
		Fields:  make(map[string]any, 10),
	}
	prog := journalString(r.Identifier)
	if prog == "" {
		prog = journalString(r.Comm)
	}
	prog, module := splitProgram(prog)
	ev.Provider = prog
	if prog != "" {
		ev.Fields["program"] = prog
	}
	pid := journalString(r.SyslogPID)
	if pid == "" {
		pid = journalString(r.PID)
	}
	for k, v := range map[string]string{
		"pid": pid, "unit": journalString(r.Unit), "transport": journalString(r.Transport),
		"uid": journalString(r.UID), "exe": journalString(r.Exe), "cmdline": journalString(r.Cmdline),
	} {
		if v != "" {
			ev.Fields[k] = v
		}
	}
	if p, err := strconv.Atoi(journalString(r.Priority)); err == nil && p >= 0 && p < 8 {
		ev.Level = severityNames[p]
	}
	if fc, err := strconv.Atoi(journalString(r.Facility)); err == nil {
		ev.Fields["facility"] = facilityName(fc)
	}
	ev.Fields["msg"] = msg
	parseMessage(prog, module, msg, ev.Fields)
	return ev, nil
}

// journalString reads a journal field value: a string, an array of bytes,
// or an array of values (the first is used).
func journalString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '[':
		var bs []byte
		var ints []int
		if json.Unmarshal(raw, &ints) == nil {
			bs = make([]byte, 0, len(ints))
			for _, v := range ints {
				bs = append(bs, byte(v))
			}
			return string(bs)
		}
		var many []json.RawMessage
		if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
			return journalString(many[0])
		}
	default:
		return string(raw) // a number
	}
	return ""
}

func firstLine(head []byte) []byte {
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		return head[:i]
	}
	return head
}
