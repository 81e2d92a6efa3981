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

// JSONL is the hunt.Format for files of events already converted to JSON,
// one object per line: kintsugi's own hunt events (the fields of
// hunt.Event), or Windows events in the {"Event":{"System":...,
// "EventData":...}} shape that EVTX-to-JSON converters write.
type JSONL struct{}

var _ hunt.Format = JSONL{}

// Name implements hunt.Format.
func (JSONL) Name() string { return "jsonl" }

// Sniff implements hunt.Format.
func (JSONL) Sniff(head []byte) bool {
	first := firstLine(head)
	if len(first) == 0 || first[0] != '{' {
		return false
	}
	if bytes.Contains(first, []byte(`"Event"`)) && bytes.Contains(first, []byte(`"System"`)) {
		return true
	}
	return bytes.Contains(first, []byte(`"time"`)) &&
		(bytes.Contains(first, []byte(`"channel"`)) || bytes.Contains(first, []byte(`"event_id"`)) || bytes.Contains(first, []byte(`"message"`)))
}

// Decode implements hunt.Format.
func (JSONL) Decode(ctx context.Context, in *hunt.Input, emit func(*hunt.Event) error) (hunt.DecodeStats, error) {
	var st hunt.DecodeStats
	err := eachLine(ctx, in.R, &st, func(n uint64, line string, truncated bool) error {
		if truncated {
			st.AddBad(1, fmt.Sprintf("line %d: longer than %d bytes", n, MaxLineSize))
			return nil
		}
		ev, err := ParseJSONEvent([]byte(line))
		if err != nil {
			st.AddBad(1, fmt.Sprintf("line %d: %v", n, err))
			return nil
		}
		if ev.Source == "" {
			ev.Source = in.Path
		}
		if ev.RecordID == 0 {
			ev.RecordID = n
		}
		if ev.Host == "" {
			ev.Host = in.Host
		}
		if ev.Time.IsZero() {
			st.Partial++
		}
		st.Records++
		return emit(ev)
	})
	return st, err
}

// ParseJSONEvent reads one JSON event line: a hunt.Event, or a Windows
// event as {"Event":{"System":...,"EventData":...}}.
func ParseJSONEvent(line []byte) (*hunt.Event, error) {
	var probe struct {
		Event json.RawMessage `json:"Event"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if len(probe.Event) > 0 && probe.Event[0] == '{' {
		return parseWindowsJSON(probe.Event)
	}
	var ev hunt.Event
	if err := unmarshalNumbers(line, &ev); err != nil {
		return nil, fmt.Errorf("not a hunt event: %w", err)
	}
	ev.Time = ev.Time.UTC()
	if ev.Fields == nil {
		ev.Fields = map[string]any{}
	}
	// Linux events written by hand or by another tool may carry only the
	// raw line: parse it the way the syslog reader would.
	if ev.EventID == 0 && ev.Message != "" && len(ev.Fields) == 0 && ev.Provider != "" {
		_, module := splitProgram(ev.Provider)
		parseMessage(ev.Provider, module, ev.Message, ev.Fields)
	}
	return &ev, nil
}

// parseWindowsJSON reads the converter shape of a Windows event.
func parseWindowsJSON(raw json.RawMessage) (*hunt.Event, error) {
	var e struct {
		System    map[string]any `json:"System"`
		EventData any            `json:"EventData"`
		UserData  any            `json:"UserData"`
	}
	if err := unmarshalNumbers(raw, &e); err != nil {
		return nil, fmt.Errorf("Event: %w", err)
	}
	if e.System == nil {
		return nil, fmt.Errorf("Event: no System")
	}
	ev := &hunt.Event{Fields: map[string]any{}}
	ev.Host = jsonText(e.System["Computer"])
	ev.Channel = jsonText(e.System["Channel"])
	ev.Provider = jsonAttr(e.System["Provider"], "Name")
	if id, err := strconv.Atoi(jsonText(e.System["EventID"])); err == nil {
		ev.EventID = id
	}
	if rid, err := strconv.ParseUint(jsonText(e.System["EventRecordID"]), 10, 64); err == nil {
		ev.RecordID = rid
	}
	ev.Level = jsonText(e.System["Level"])
	if ts := jsonAttr(e.System["TimeCreated"], "SystemTime"); ts != "" {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, ts); err == nil {
				ev.Time = t.UTC()
				break
			}
		}
	}
	flattenData(e.EventData, ev.Fields)
	flattenData(e.UserData, ev.Fields)
	return ev, nil
}

// flattenData copies EventData/UserData values into fields by name,
// descending into the single wrapper element UserData has.
func flattenData(v any, fields map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, val := range m {
		if k == "#attributes" || k == "xmlns" {
			continue
		}
		switch x := val.(type) {
		case map[string]any:
			if _, isText := x["#text"]; isText {
				fields[k] = x["#text"]
				continue
			}
			flattenData(x, fields)
		default:
			fields[k] = x
		}
	}
}

// jsonText reads a value that may be plain or {"#text": value}.
func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case map[string]any:
		return jsonText(x["#text"])
	}
	return fmt.Sprint(v)
}

// jsonAttr reads an XML attribute in either converter convention:
// {"#attributes":{"Name":...}} or {"Name":...}.
func jsonAttr(v any, name string) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if a, ok := m["#attributes"].(map[string]any); ok {
		return jsonText(a[name])
	}
	return jsonText(m[name])
}

// unmarshalNumbers decodes keeping numbers as json.Number, so that a
// 64-bit logon id or record id keeps its digits.
func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}
