package proc

import (
	"encoding/binary"
	"errors"
)

// Kinds of connector events (linux/cn_proc.h).
const (
	evFork uint32 = 0x1
	evExec uint32 = 0x2
	evExit uint32 = 0x80000000
)

// Change is one process event from the connector.
type Change struct {
	// Kind is "fork", "exec" or "exit".
	Kind string
	// Pid is the process (thread group) concerned: the child of a fork.
	Pid int32
	// Parent is the parent process of a fork (and of an exit).
	Parent int32
	// Nanos is the kernel's timestamp, nanoseconds since boot.
	Nanos uint64
}

const (
	nlmsgHdrLen = 16
	cnMsgLen    = 20
	procHdrLen  = 16 // what, cpu, timestamp_ns
	nlmsgDone   = 3
	nlmsgError  = 2
)

var errShortMsg = errors.New("proc connector: truncated message")

// ParseConnector decodes the netlink messages of one read of a process
// connector socket. Thread creations and exits of threads other than the
// leader are left out: the agent tracks processes.
func ParseConnector(b []byte, fn func(Change)) error {
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b[0:]))
		typ := binary.NativeEndian.Uint16(b[4:])
		if l < nlmsgHdrLen || l > len(b) {
			return errShortMsg
		}
		msg := b[nlmsgHdrLen:l]
		if next := (l + 3) &^ 3; next <= len(b) {
			b = b[next:]
		} else {
			b = nil
		}
		if typ == nlmsgError {
			return errors.New("proc connector: netlink error")
		}
		if typ != nlmsgDone || len(msg) < cnMsgLen+procHdrLen {
			continue
		}
		dlen := int(binary.NativeEndian.Uint16(msg[16:]))
		ev := msg[cnMsgLen:]
		if dlen < len(ev) {
			ev = ev[:dlen]
		}
		if len(ev) < procHdrLen {
			continue
		}
		what := binary.NativeEndian.Uint32(ev[0:])
		ts := binary.NativeEndian.Uint64(ev[8:])
		d := ev[procHdrLen:]
		u32 := func(i int) (int32, bool) {
			if len(d) < 4*(i+1) {
				return 0, false
			}
			return int32(binary.NativeEndian.Uint32(d[4*i:])), true
		}
		switch what {
		case evFork:
			ptgid, ok1 := u32(1)
			cpid, ok2 := u32(2)
			ctgid, ok3 := u32(3)
			if ok1 && ok2 && ok3 && cpid == ctgid {
				fn(Change{Kind: "fork", Pid: ctgid, Parent: ptgid, Nanos: ts})
			}
		case evExec:
			if tgid, ok := u32(1); ok {
				fn(Change{Kind: "exec", Pid: tgid, Nanos: ts})
			}
		case evExit:
			pid, ok1 := u32(0)
			tgid, ok2 := u32(1)
			ptgid, _ := u32(5)
			if ok1 && ok2 && pid == tgid {
				fn(Change{Kind: "exit", Pid: tgid, Parent: ptgid, Nanos: ts})
			}
		}
	}
	return nil
}
