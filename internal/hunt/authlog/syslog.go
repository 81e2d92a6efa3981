// Package authlog reads Linux logs into hunt Events: syslog files
// (auth.log, secure, syslog, messages) in RFC 3164 or RFC 5424 form,
// `journalctl -o json` exports, and JSONL files of hunt events. It parses
// the messages of the programs that matter to an intruder hunt (sshd,
// sudo, su, useradd, usermod, groupadd, passwd, audit records) into
// fields; every line becomes an Event even when nothing could be parsed,
// with its raw text in Message.
//
// It is imported by the hunt command's wiring (cmd/kintsugi), which passes
// its formats to hunt.Read.
package authlog

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// MaxLineSize bounds one line. Longer lines are cut there (the rest is
// dropped and the event is marked truncated) so that a file without line
// breaks cannot exhaust memory.
const MaxLineSize = 64 << 10

// yearSlack absorbs a log written in a zone other than the one it is read
// in: a year-less timestamp may be this far past the file's reference
// time and still belong to the reference year.
const yearSlack = 26 * time.Hour

// Syslog is the hunt.Format for syslog text files.
type Syslog struct{}

var _ hunt.Format = Syslog{}

// Name implements hunt.Format.
func (Syslog) Name() string { return "syslog" }

// Sniff implements hunt.Format: most of the first complete lines must
// carry a syslog header.
func (Syslog) Sniff(head []byte) bool {
	lines := bytes.Split(head, []byte{'\n'})
	if len(lines) > 1 {
		lines = lines[:len(lines)-1] // the last piece may be cut short
	}
	good, seen := 0, 0
	for _, l := range lines {
		l = bytes.TrimRight(l, "\r")
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		seen++
		var h header
		if parseHeader(string(l), &h, time.Now(), time.UTC) {
			good++
		}
		if seen == 8 {
			break
		}
	}
	return seen > 0 && good*2 > seen
}

// Decode implements hunt.Format.
func (Syslog) Decode(ctx context.Context, in *hunt.Input, emit func(*hunt.Event) error) (hunt.DecodeStats, error) {
	var st hunt.DecodeStats
	loc := in.Location
	if loc == nil {
		loc = time.UTC
	}
	ref := in.YearRef
	if ref.IsZero() {
		ref = in.ModTime
	}
	if ref.IsZero() {
		ref = time.Now()
	}
	channel := channelFor(in.Path)
	var last time.Time
	err := eachLine(ctx, in.R, &st, func(n uint64, line string, truncated bool) error {
		ev := ParseLine(line, ref, loc)
		ev.Source = in.Path
		ev.RecordID = n
		ev.Channel = channel
		if ev.Host == "" {
			ev.Host = in.Host
		}
		if ev.Time.IsZero() {
			// A continuation or damaged line: keep it, placed at the
			// previous line's time, and say so.
			ev.Time = last
			st.Partial++
		} else {
			last = ev.Time
		}
		if truncated {
			ev.Fields["truncated"] = true
			st.Partial++
		}
		st.Records++
		return emit(ev)
	})
	return st, err
}

// channelFor names the log kind from the file name: auth.log and secure
// (and their rotations) are "auth", anything else "syslog".
func channelFor(path string) string {
	base := path
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	base = strings.ToLower(base)
	if strings.HasPrefix(base, "auth.log") || strings.HasPrefix(base, "secure") || strings.HasPrefix(base, "auth") {
		return "auth"
	}
	return "syslog"
}

// eachLine calls fn with every line of r that is not blank, numbered from
// 1, until the end of r, a read error (counted in st as a bad record and
// returned), the context's end, or an error of fn.
func eachLine(ctx context.Context, r io.Reader, st *hunt.DecodeStats, fn func(n uint64, line string, truncated bool) error) error {
	lr := newLineReader(r)
	for n := uint64(1); ; n++ {
		line, truncated, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			st.AddBad(1, "read: "+err.Error())
			return err
		}
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := fn(n, line, truncated); err != nil {
			return err
		}
	}
}

// lineReader reads lines of at most MaxLineSize bytes, NULs removed (a
// crashed machine leaves runs of them in its logs).
type lineReader struct {
	r   *bufio.Reader
	buf []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10)}
}

func (l *lineReader) next() (line string, truncated bool, err error) {
	l.buf = l.buf[:0]
	for {
		chunk, isPrefix, err := l.r.ReadLine()
		if err != nil {
			if err == io.EOF && (len(l.buf) > 0 || truncated) {
				break
			}
			return "", false, err
		}
		if room := MaxLineSize - len(l.buf); len(chunk) > room {
			chunk = chunk[:room]
			truncated = true
		}
		l.buf = append(l.buf, chunk...)
		if !isPrefix {
			break
		}
	}
	b := l.buf
	if bytes.IndexByte(b, 0) >= 0 {
		b = bytes.ReplaceAll(b, []byte{0}, nil)
	}
	return string(b), truncated, nil
}

// header is the parsed front of a syslog line.
type header struct {
	time     time.Time
	host     string
	program  string
	pid      string
	msg      string
	severity int // -1 when the line has no PRI
	facility int
	msgID    string
	sd       map[string]string
}

// ParseLine turns one syslog line into an Event. ref is the latest time
// the line can carry (for year-less timestamps) and loc the zone of
// timestamps without one. A line without a recognisable header is still
// an Event: zero Time, the whole line as Message, Fields["unparsed"].
func ParseLine(line string, ref time.Time, loc *time.Location) *hunt.Event {
	ev := &hunt.Event{Message: line, Fields: make(map[string]any, 8)}
	var h header
	if !parseHeader(line, &h, ref, loc) {
		ev.Fields["unparsed"] = true
		return ev
	}
	ev.Time = h.time.UTC()
	ev.Host = h.host
	prog, module := splitProgram(h.program)
	ev.Provider = prog
	if prog != "" {
		ev.Fields["program"] = prog
	}
	if module != "" {
		ev.Fields["module"] = module
	}
	if h.pid != "" {
		ev.Fields["pid"] = h.pid
	}
	if h.severity >= 0 {
		ev.Level = severityNames[h.severity]
		ev.Fields["facility"] = facilityName(h.facility)
	}
	if h.msgID != "" {
		ev.Fields["msgid"] = h.msgID
	}
	for k, v := range h.sd {
		ev.Fields[k] = v
	}
	ev.Fields["msg"] = h.msg
	parseMessage(prog, module, h.msg, ev.Fields)
	return ev
}

var severityNames = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

var facilityNames = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

func facilityName(f int) string {
	if f >= 0 && f < len(facilityNames) {
		return facilityNames[f]
	}
	return strconv.Itoa(f)
}

// splitProgram splits "sshd(pam_unix)" into "sshd" and "pam_unix" (the
// form older PAM stacks log under), and drops a path ("/usr/sbin/cron").
func splitProgram(p string) (prog, module string) {
	if i := strings.IndexByte(p, '('); i > 0 && strings.HasSuffix(p, ")") {
		prog, module = p[:i], p[i+1:len(p)-1]
	} else {
		prog = p
	}
	if i := strings.LastIndexByte(prog, '/'); i >= 0 && i < len(prog)-1 {
		prog = prog[i+1:]
	}
	return prog, module
}

// parseHeader fills h from line and reports whether line has a syslog
// header: an optional <PRI>, then an RFC 5424 header, or an RFC 3164 or
// ISO 8601 timestamp, a host and a tag.
func parseHeader(line string, h *header, ref time.Time, loc *time.Location) bool {
	h.severity = -1
	s := line
	if len(s) > 2 && s[0] == '<' {
		end := strings.IndexByte(s[:min(len(s), 5)], '>')
		if end > 1 {
			pri, err := strconv.Atoi(s[1:end])
			if err == nil && pri >= 0 && pri < 192 {
				h.severity, h.facility = pri%8, pri/8
				s = s[end+1:]
				if strings.HasPrefix(s, "1 ") {
					return parse5424(s[2:], h, loc)
				}
			}
		}
	}
	var rest string
	var ok bool
	if len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
		h.time, rest, ok = parseISOStamp(s, loc)
	} else {
		h.time, rest, ok = parse3164Stamp(s, ref, loc)
	}
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " ")
	// Host, unless the next token is already the tag ("sshd[12]:").
	tok, after, _ := strings.Cut(rest, " ")
	if tok != "" && !strings.HasSuffix(tok, ":") && !strings.Contains(tok, "[") {
		h.host = tok
		rest = after
	}
	parseTag(rest, h)
	return true
}

// parseTag splits "prog[pid]: message" into its parts. Lines without a tag
// ("-- MARK --", "last message repeated 2 times") keep everything as the
// message.
func parseTag(s string, h *header) {
	colon := strings.Index(s, ": ")
	if colon < 0 && strings.HasSuffix(s, ":") {
		colon = len(s) - 1
	}
	if colon <= 0 || colon > 64 || strings.ContainsAny(s[:colon], " \t") && !strings.Contains(s[:colon], "(") {
		// "syslogd 1.4.1: restart." has a space: allow it only as a
		// version after the name.
		if i := strings.IndexByte(s, ' '); colon > 0 && colon < 64 && i > 0 && i < colon && !strings.Contains(s[i+1:colon], " ") && isVersion(s[i+1:colon]) {
			h.program = s[:i]
			h.msg = strings.TrimLeft(s[colon+1:], " ")
			return
		}
		h.msg = s
		return
	}
	tag := s[:colon]
	h.msg = strings.TrimLeft(s[colon+1:], " ")
	if i := strings.IndexByte(tag, '['); i > 0 && strings.HasSuffix(tag, "]") {
		h.program, h.pid = tag[:i], tag[i+1:len(tag)-1]
	} else {
		h.program = tag
	}
}

func isVersion(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

var months = map[string]time.Month{
	"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}

// parse3164Stamp parses "Mmm dd hh:mm:ss" (day space-padded or not,
// optional fraction, optional year after the day or the time) and places
// a year-less stamp at or before ref.
func parse3164Stamp(s string, ref time.Time, loc *time.Location) (time.Time, string, bool) {
	if len(s) < 15 {
		return time.Time{}, "", false
	}
	mon, ok := months[s[:3]]
	if !ok || s[3] != ' ' {
		return time.Time{}, "", false
	}
	i := 4
	if s[i] == ' ' {
		i++
	}
	day, j := atoiN(s, i, 2)
	if j == i || day < 1 || day > 31 || j >= len(s) || s[j] != ' ' {
		return time.Time{}, "", false
	}
	i = j + 1
	year := 0
	if y, k := atoiN(s, i, 4); k-i == 4 && k < len(s) && s[k] == ' ' {
		year, i = y, k+1
	}
	hh, mm, ss, ns, k, ok := parseClock(s, i)
	if !ok {
		return time.Time{}, "", false
	}
	i = k
	if year == 0 && i+5 <= len(s) && s[i] == ' ' {
		if y, k := atoiN(s, i+1, 4); k-(i+1) == 4 && (k == len(s) || s[k] == ' ') {
			year, i = y, k
		}
	}
	if year != 0 {
		return time.Date(year, mon, day, hh, mm, ss, ns, loc), s[i:], true
	}
	return placeYear(mon, day, hh, mm, ss, ns, ref, loc), s[i:], true
}

// placeYear puts a year-less date in the latest year that keeps it at or
// before ref (with slack for zone differences).
func placeYear(mon time.Month, day, hh, mm, ss, ns int, ref time.Time, loc *time.Location) time.Time {
	y := ref.In(loc).Year()
	for try := 0; try < 8; try++ {
		t := time.Date(y, mon, day, hh, mm, ss, ns, loc)
		// time.Date normalises Feb 29 of a common year to Mar 1: such a
		// year is not a candidate.
		if t.Day() == day && !t.After(ref.Add(yearSlack)) {
			return t
		}
		y--
	}
	return time.Date(ref.In(loc).Year()-1, mon, day, hh, mm, ss, ns, loc)
}

// parseClock parses "hh:mm:ss[.frac]" at s[i:].
func parseClock(s string, i int) (hh, mm, ss, ns, end int, ok bool) {
	if i+8 > len(s) || s[i+2] != ':' || s[i+5] != ':' {
		return 0, 0, 0, 0, 0, false
	}
	var k int
	if hh, k = atoiN(s, i, 2); k != i+2 || hh > 23 {
		return 0, 0, 0, 0, 0, false
	}
	if mm, k = atoiN(s, i+3, 2); k != i+5 || mm > 59 {
		return 0, 0, 0, 0, 0, false
	}
	if ss, k = atoiN(s, i+6, 2); k != i+8 || ss > 60 {
		return 0, 0, 0, 0, 0, false
	}
	end = i + 8
	if end < len(s) && (s[end] == '.' || s[end] == ',') {
		j := end + 1
		for j < len(s) && j-end <= 9 && s[j] >= '0' && s[j] <= '9' {
			ns = ns*10 + int(s[j]-'0')
			j++
		}
		for d := j - end - 1; d < 9; d++ {
			ns *= 10
		}
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		end = j
	}
	if ss == 60 {
		ss = 59
	}
	return hh, mm, ss, ns, end, true
}

// atoiN reads up to n decimal digits at s[i:].
func atoiN(s string, i, n int) (int, int) {
	v, j := 0, i
	for j < len(s) && j-i < n && s[j] >= '0' && s[j] <= '9' {
		v = v*10 + int(s[j]-'0')
		j++
	}
	return v, j
}

// parseISOStamp parses an ISO 8601 timestamp ("2024-01-15T10:00:00.123+09:00",
// rsyslog's high-precision format, or "2024-01-15 10:00:00" without zone).
func parseISOStamp(s string, loc *time.Location) (time.Time, string, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') {
		return time.Time{}, "", false
	}
	y, k := atoiN(s, 0, 4)
	if k != 4 {
		return time.Time{}, "", false
	}
	mo, k := atoiN(s, 5, 2)
	if k != 7 || mo < 1 || mo > 12 {
		return time.Time{}, "", false
	}
	d, k := atoiN(s, 8, 2)
	if k != 10 || d < 1 || d > 31 {
		return time.Time{}, "", false
	}
	hh, mm, ss, ns, end, ok := parseClock(s, 11)
	if !ok {
		return time.Time{}, "", false
	}
	zone := loc
	switch {
	case end < len(s) && s[end] == 'Z':
		zone = time.UTC
		end++
	case end+6 <= len(s) && (s[end] == '+' || s[end] == '-') && s[end+3] == ':':
		zh, k1 := atoiN(s, end+1, 2)
		zm, k2 := atoiN(s, end+4, 2)
		if k1 != end+3 || k2 != end+6 || zh > 14 || zm > 59 {
			return time.Time{}, "", false
		}
		off := zh*3600 + zm*60
		if s[end] == '-' {
			off = -off
		}
		zone = time.FixedZone("", off)
		end += 6
	}
	if end < len(s) && s[end] != ' ' {
		return time.Time{}, "", false
	}
	return time.Date(y, time.Month(mo), d, hh, mm, ss, ns, zone), s[end:], true
}

// parse5424 parses the part of an RFC 5424 line after "<PRI>1 ".
func parse5424(s string, h *header, loc *time.Location) bool {
	next := func() string {
		tok, rest, _ := strings.Cut(s, " ")
		s = rest
		if tok == "-" {
			return ""
		}
		return tok
	}
	stamp := next()
	if stamp != "" {
		t, rest, ok := parseISOStamp(stamp, loc)
		if !ok || rest != "" {
			return false
		}
		h.time = t
	}
	h.host = next()
	h.program = next()
	h.pid = next()
	h.msgID = next()
	if strings.HasPrefix(s, "-") {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), " ")
	} else if strings.HasPrefix(s, "[") {
		var ok bool
		h.sd, s, ok = parseSD(s)
		if !ok {
			return false
		}
		s = strings.TrimPrefix(s, " ")
	}
	h.msg = strings.TrimPrefix(s, "\ufeff")
	return !h.time.IsZero()
}

// parseSD parses RFC 5424 structured data into "id.param" keys.
func parseSD(s string) (map[string]string, string, bool) {
	sd := map[string]string{}
	for strings.HasPrefix(s, "[") {
		s = s[1:]
		end := strings.IndexAny(s, " ]")
		if end <= 0 {
			return nil, s, false
		}
		id := s[:end]
		s = s[end:]
		for strings.HasPrefix(s, " ") {
			s = s[1:]
			eq := strings.Index(s, `="`)
			if eq <= 0 {
				return nil, s, false
			}
			name := s[:eq]
			s = s[eq+2:]
			var val strings.Builder
			closed := false
			for i := 0; i < len(s); i++ {
				c := s[i]
				if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\' || s[i+1] == ']') {
					val.WriteByte(s[i+1])
					i++
					continue
				}
				if c == '"' {
					s = s[i+1:]
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, s, false
			}
			sd[id+"."+name] = val.String()
		}
		if !strings.HasPrefix(s, "]") {
			return nil, s, false
		}
		s = s[1:]
	}
	return sd, s, true
}

// InfersYear implements hunt.YearInferrer: RFC 3164 stamps carry no year.
func (Syslog) InfersYear() bool { return true }
