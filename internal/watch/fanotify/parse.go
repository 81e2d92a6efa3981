package fanotify

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Event masks the agent uses, re-exported so that callers need not import
// x/sys/unix for them.
const (
	Modify     uint64 = 0x2        // FAN_MODIFY
	CloseWrite uint64 = 0x8        // FAN_CLOSE_WRITE
	Open       uint64 = 0x20       // FAN_OPEN
	Create     uint64 = 0x100      // FAN_CREATE
	Delete     uint64 = 0x200      // FAN_DELETE
	Overflow   uint64 = 0x4000     // FAN_Q_OVERFLOW
	OpenPerm   uint64 = 0x10000    // FAN_OPEN_PERM
	Rename     uint64 = 0x10000000 // FAN_RENAME
	OnDir      uint64 = 0x40000000 // FAN_ONDIR
)

// info record types (linux/fanotify.h)
const (
	infoFID         = 1
	infoDFIDName    = 2
	infoDFID        = 3
	infoPIDFD       = 4
	infoOldDFIDName = 10
	infoNewDFIDName = 12
)

const metadataLen = 24

// Handle identifies a file system object the way the kernel reports it: the
// file system's id and an opaque file handle. It is comparable, so it can
// key maps; the zero Handle means "none".
type Handle struct {
	FSID  uint64
	Type  int32
	Bytes string
}

// IsZero reports whether h is the zero Handle.
func (h Handle) IsZero() bool { return h.FSID == 0 && h.Type == 0 && h.Bytes == "" }

// Event is one fanotify event, decoded.
type Event struct {
	Mask uint64
	// Pid is the thread group id of the process that caused the event.
	Pid int32
	// PidFD is a pidfd for that process (FAN_REPORT_PIDFD), or -1 when the
	// process had already exited or the group does not report pidfds.
	// The receiver owns it and must close it.
	PidFD int
	// FD is an open descriptor of the object for groups that report file
	// descriptors (permission groups), -1 otherwise. The receiver owns it.
	FD int
	// Object is the object the event is about (FAN_REPORT_FID or
	// FAN_REPORT_TARGET_FID).
	Object Handle
	// Dir and Name locate the object for directory-entry reporting
	// groups (FAN_REPORT_DFID_NAME): its parent and its name there.
	Dir  Handle
	Name string
	// OldDir/OldName and NewDir/NewName are the two sides of a rename.
	OldDir  Handle
	OldName string
	NewDir  Handle
	NewName string
}

// ErrShort is returned for a buffer that ends inside an event.
var ErrShort = errors.New("fanotify: truncated event")

// Parse decodes the events in buf (what one read of a fanotify descriptor
// returned) and calls fn for each. It validates every length against the
// buffer, so that a malformed buffer yields an error, never a panic.
// Descriptors in events that fn does not receive (after an error) are
// closed by closeFD when it is not nil.
func Parse(buf []byte, fn func(*Event), closeFD func(int)) error {
	for len(buf) > 0 {
		if len(buf) < metadataLen {
			return ErrShort
		}
		evLen := int(binary.NativeEndian.Uint32(buf[0:]))
		vers := buf[4]
		mdLen := int(binary.NativeEndian.Uint16(buf[6:]))
		if vers != 3 {
			return fmt.Errorf("fanotify: metadata version %d, want 3", vers)
		}
		if evLen < metadataLen || evLen > len(buf) || mdLen < metadataLen || mdLen > evLen {
			return ErrShort
		}
		ev := Event{
			Mask:  binary.NativeEndian.Uint64(buf[8:]),
			FD:    int(int32(binary.NativeEndian.Uint32(buf[16:]))),
			Pid:   int32(binary.NativeEndian.Uint32(buf[20:])),
			PidFD: -1,
		}
		err := parseInfo(buf[mdLen:evLen], &ev)
		if err != nil {
			if closeFD != nil {
				if ev.FD >= 0 {
					closeFD(ev.FD)
				}
				if ev.PidFD >= 0 {
					closeFD(ev.PidFD)
				}
			}
			return err
		}
		fn(&ev)
		buf = buf[evLen:]
	}
	return nil
}

func parseInfo(b []byte, ev *Event) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return ErrShort
		}
		typ := b[0]
		l := int(binary.NativeEndian.Uint16(b[2:]))
		if l < 4 || l > len(b) {
			return ErrShort
		}
		rec := b[:l]
		b = b[l:]
		switch typ {
		case infoPIDFD:
			if len(rec) < 8 {
				return ErrShort
			}
			if fd := int(int32(binary.NativeEndian.Uint32(rec[4:]))); fd >= 0 {
				ev.PidFD = fd
			}
		case infoFID, infoDFID, infoDFIDName, infoOldDFIDName, infoNewDFIDName:
			h, name, err := parseFID(rec, typ != infoFID && typ != infoDFID)
			if err != nil {
				return err
			}
			switch typ {
			case infoFID:
				ev.Object = h
			case infoDFID, infoDFIDName:
				ev.Dir, ev.Name = h, name
			case infoOldDFIDName:
				ev.OldDir, ev.OldName = h, name
			case infoNewDFIDName:
				ev.NewDir, ev.NewName = h, name
			}
		default:
			// records this package does not use (range, error, mount)
		}
	}
	return nil
}

// parseFID decodes a fanotify_event_info_fid record: header, fsid, struct
// file_handle and, for the name-carrying kinds, a NUL-terminated name.
func parseFID(rec []byte, named bool) (Handle, string, error) {
	const fixed = 4 + 8 + 8 // header, fsid, handle_bytes + handle_type
	if len(rec) < fixed {
		return Handle{}, "", ErrShort
	}
	fsid := binary.NativeEndian.Uint64(rec[4:])
	n := int(binary.NativeEndian.Uint32(rec[12:]))
	typ := int32(binary.NativeEndian.Uint32(rec[16:]))
	if n < 0 || n > len(rec)-fixed {
		return Handle{}, "", ErrShort
	}
	h := Handle{FSID: fsid, Type: typ, Bytes: string(rec[fixed : fixed+n])}
	if !named {
		return h, "", nil
	}
	name := rec[fixed+n:]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	return h, string(name), nil
}

// ErrNotRegular is returned by Resolver.Open for anything but a regular
// file.
var ErrNotRegular = errors.New("not a regular file")
