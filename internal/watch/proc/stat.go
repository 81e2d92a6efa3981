package proc

import (
	"bytes"
	"errors"
	"strconv"
)

// Stat is what the agent reads from /proc/PID/stat.
type Stat struct {
	Pid   int32
	Comm  string
	State byte
	PPid  int32
	// Start is the start time in clock ticks after boot: with the pid it
	// identifies a process across pid reuse.
	Start uint64
}

var errBadStat = errors.New("malformed /proc stat line")

// ParseStat parses a /proc/PID/stat line. The command name may hold
// spaces and parentheses, so the fields are counted from its last ')'.
func ParseStat(b []byte) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	close := bytes.LastIndexByte(b, ')')
	if open <= 0 || close < open || close+2 > len(b) {
		return Stat{}, errBadStat
	}
	pid, err := strconv.ParseInt(string(bytes.TrimSpace(b[:open])), 10, 32)
	if err != nil {
		return Stat{}, errBadStat
	}
	s := Stat{Pid: int32(pid), Comm: string(b[open+1 : close])}
	f := bytes.Fields(b[close+1:])
	// f[0] is field 3 (state); starttime is field 22
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, errBadStat
	}
	s.State = f[0][0]
	pp, err := strconv.ParseInt(string(f[1]), 10, 32)
	if err != nil {
		return Stat{}, errBadStat
	}
	s.PPid = int32(pp)
	if s.Start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return Stat{}, errBadStat
	}
	return s, nil
}
