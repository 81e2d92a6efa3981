package evtx

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// frame is one open element while a record is decoded.
type frame struct {
	name      string
	dataName  string // the element's Name attribute (EventData/Data)
	textStart int    // where the element's text starts in extractor.buf
	child     bool   // has child elements
	nvals     int    // text pieces and values seen
	lastTyp   byte   // type of the last value, for native decoding
	lastRaw   []byte
}

// extractor turns the element/attribute/text stream of one record into a
// hunt.Event. Only the parts a hunt needs are kept: System values, the
// EventData and UserData leaves, RenderingInfo/Message.
type extractor struct {
	ev    *hunt.Event
	stack []frame
	buf   []byte

	inAttr    bool
	attrName  string
	attrStart int
	attrVals  int
	attrTyp   byte
	attrRaw   []byte

	unnamed  []string
	recordID uint64
	hasID    bool
	// total counts text rendered for the current chunk: strings made from
	// it are kept in events, so it bounds a chunk's memory.
	total int
}

var errTooDeep = errors.New("elements nested too deeply")
var errTooBig = errors.New("record text too large")

func (x *extractor) begin(ev *hunt.Event) {
	x.ev = ev
	x.stack = x.stack[:0]
	x.buf = x.buf[:0]
	x.inAttr = false
	x.unnamed = x.unnamed[:0]
	x.hasID = false
}

func (x *extractor) start(name string) error {
	x.commitAttr()
	if len(x.stack) >= maxElementDepth {
		return errTooDeep
	}
	if n := len(x.stack); n > 0 {
		x.stack[n-1].child = true
	}
	x.stack = append(x.stack, frame{name: name, textStart: len(x.buf)})
	return nil
}

func (x *extractor) attr(name string) {
	x.commitAttr()
	x.inAttr = true
	x.attrName = name
	x.attrStart = len(x.buf)
	x.attrVals = 0
}

func (x *extractor) closeStart() { x.commitAttr() }

func (x *extractor) text(s string) error {
	if len(x.buf)+len(s) > maxRecordText || x.total+len(s) > maxChunkText {
		return errTooBig
	}
	x.total += len(s)
	x.buf = append(x.buf, s...)
	x.note(typeString, nil)
	return nil
}

func (x *extractor) value(t byte, raw []byte) error {
	if len(x.buf)+3*len(raw)+64 > maxRecordText || x.total+3*len(raw)+64 > maxChunkText {
		return errTooBig
	}
	n := len(x.buf)
	x.buf = appendValue(x.buf, t, raw)
	x.total += len(x.buf) - n
	x.note(t, raw)
	return nil
}

func (x *extractor) note(t byte, raw []byte) {
	if x.inAttr {
		x.attrVals++
		x.attrTyp, x.attrRaw = t, raw
		return
	}
	if n := len(x.stack); n > 0 {
		f := &x.stack[n-1]
		f.nvals++
		f.lastTyp, f.lastRaw = t, raw
	}
}

// section returns the name of the element directly under the root
// (System, EventData, UserData ...), "" when there is none.
func (x *extractor) section() string {
	if len(x.stack) < 2 {
		return ""
	}
	return x.stack[1].name
}

func (x *extractor) commitAttr() {
	if !x.inAttr {
		return
	}
	x.inAttr = false
	val := x.buf[x.attrStart:]
	defer func() { x.buf = x.buf[:x.attrStart] }()
	n := len(x.stack)
	if n == 0 {
		return
	}
	f := &x.stack[n-1]
	if x.attrName == "Name" {
		f.dataName = string(val)
	}
	if n != 3 || x.section() != "System" {
		return
	}
	switch {
	case f.name == "Provider" && x.attrName == "Name":
		x.ev.Provider = f.dataName
	case f.name == "TimeCreated" && x.attrName == "SystemTime":
		if x.attrVals == 1 && x.attrTyp == typeFileTime && len(x.attrRaw) >= 8 {
			x.ev.Time = fileTime(binary.LittleEndian.Uint64(x.attrRaw))
		} else if t, err := time.Parse(time.RFC3339Nano, string(val)); err == nil {
			x.ev.Time = t.UTC()
		}
	case f.name == "Security" && x.attrName == "UserID" && len(val) > 0:
		x.setField("Security_UserID", string(val))
	}
}

func (x *extractor) end() {
	x.commitAttr()
	n := len(x.stack)
	if n == 0 {
		return
	}
	f := x.stack[n-1]
	x.stack = x.stack[:n-1]
	val := x.buf[f.textStart:]
	defer func() { x.buf = x.buf[:f.textStart] }()
	depth := n - 1 // index of f in the stack: 0 root, 1 section, 2 leaf of a section
	if depth < 2 {
		return
	}
	switch x.section() {
	case "System":
		if depth == 2 {
			x.system(&f, val)
		}
	case "EventData":
		if depth != 2 {
			return
		}
		if f.name == "Data" {
			if f.dataName == "" {
				x.unnamed = append(x.unnamed, string(val))
				return
			}
			x.setField(f.dataName, x.fieldValue(&f, val))
			return
		}
		x.setField(f.name, x.fieldValue(&f, val))
	case "UserData":
		if !f.child {
			x.setField(f.name, x.fieldValue(&f, val))
		}
	case "RenderingInfo":
		if depth == 2 && f.name == "Message" {
			x.ev.Message = string(val)
		}
	}
}

// fieldValue returns a field's value: a []string for a single string
// array value, else the rendered text.
func (x *extractor) fieldValue(f *frame, val []byte) any {
	if f.nvals == 1 && f.lastTyp == typeArray|typeString {
		parts := splitUTF16Z(f.lastRaw)
		out := make([]string, len(parts))
		for i, p := range parts {
			out[i] = string(appendUTF16(nil, p))
		}
		return out
	}
	return string(val)
}

func (x *extractor) system(f *frame, val []byte) {
	switch f.name {
	case "EventID":
		if v, err := strconv.Atoi(string(val)); err == nil {
			x.ev.EventID = v
		}
	case "Level":
		s := string(val)
		x.ev.Level = levelName(s)
		x.setField("Level", s)
	case "Task", "Opcode", "Keywords":
		x.setField(f.name, string(val))
	case "EventRecordID":
		if v, err := strconv.ParseUint(string(val), 10, 64); err == nil {
			x.recordID, x.hasID = v, true
		}
	case "Channel":
		x.ev.Channel = string(val)
	case "Computer":
		x.ev.Host = string(val)
	}
}

func (x *extractor) setField(name string, v any) {
	if x.ev.Fields == nil {
		x.ev.Fields = make(map[string]any, 24)
	}
	if _, dup := x.ev.Fields[name]; dup || len(x.ev.Fields) >= maxFieldsPerEvent {
		return
	}
	x.ev.Fields[name] = v
}

// finish completes the event after the record's BinXML was decoded.
func (x *extractor) finish() {
	switch len(x.unnamed) {
	case 0:
	case 1:
		x.setField("Data", x.unnamed[0])
		x.setField("Data1", x.unnamed[0])
	default:
		x.setField("Data", append([]string(nil), x.unnamed...))
		for i, s := range x.unnamed {
			x.setField("Data"+strconv.Itoa(i+1), s)
		}
	}
}

func levelName(s string) string {
	switch s {
	case "0", "4":
		return "information"
	case "1":
		return "critical"
	case "2":
		return "error"
	case "3":
		return "warning"
	case "5":
		return "verbose"
	}
	return s
}
