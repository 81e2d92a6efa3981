package fanotify

import (
	"encoding/binary"
	"testing"
)

// event builds one encoded event with the given info records.
func event(mask uint64, fd, pid int32, infos ...[]byte) []byte {
	var b []byte
	n := metadataLen
	for _, i := range infos {
		n += len(i)
	}
	b = binary.NativeEndian.AppendUint32(b, uint32(n))
	b = append(b, 3, 0)
	b = binary.NativeEndian.AppendUint16(b, metadataLen)
	b = binary.NativeEndian.AppendUint64(b, mask)
	b = binary.NativeEndian.AppendUint32(b, uint32(fd))
	b = binary.NativeEndian.AppendUint32(b, uint32(pid))
	for _, i := range infos {
		b = append(b, i...)
	}
	return b
}

func fidInfo(typ byte, fsid uint64, handle []byte, name string) []byte {
	body := binary.NativeEndian.AppendUint64(nil, fsid)
	body = binary.NativeEndian.AppendUint32(body, uint32(len(handle)))
	body = binary.NativeEndian.AppendUint32(body, 1)
	body = append(body, handle...)
	if name != "" {
		body = append(body, name...)
		body = append(body, 0)
	}
	for (4+len(body))%4 != 0 {
		body = append(body, 0)
	}
	h := []byte{typ, 0}
	h = binary.NativeEndian.AppendUint16(h, uint16(4+len(body)))
	return append(h, body...)
}

func pidfdInfo(fd int32) []byte {
	h := []byte{infoPIDFD, 0}
	h = binary.NativeEndian.AppendUint16(h, 8)
	return binary.NativeEndian.AppendUint32(h, uint32(fd))
}

func TestParse(t *testing.T) {
	buf := append(event(Rename, -1, 42, fidInfo(infoOldDFIDName, 7, []byte("dirA0000"), "a.docx"),
		fidInfo(infoNewDFIDName, 7, []byte("dirB0000"), "a.docx.locked"), fidInfo(infoFID, 7, []byte("file0000"), ""), pidfdInfo(9)),
		event(CloseWrite, -1, 43, fidInfo(infoDFIDName, 7, []byte("dirA0000"), "b.txt"), pidfdInfo(-1))...)
	var got []Event
	if err := Parse(buf, func(e *Event) { got = append(got, *e) }, nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("events = %d", len(got))
	}
	r := got[0]
	if r.Pid != 42 || r.PidFD != 9 || r.OldName != "a.docx" || r.NewName != "a.docx.locked" || r.OldDir.Bytes != "dirA0000" ||
		r.NewDir.Bytes != "dirB0000" || r.Object.Bytes != "file0000" || r.Object.FSID != 7 || r.FD != -1 {
		t.Errorf("rename = %+v", r)
	}
	if c := got[1]; c.Name != "b.txt" || c.PidFD != -1 || c.Mask != CloseWrite {
		t.Errorf("close-write = %+v", c)
	}
	// every truncation is an error, never a panic, and descriptors of the
	// broken event are handed back
	for n := 1; n < len(buf); n++ {
		var closed []int
		err := Parse(buf[:n], func(*Event) {}, func(fd int) { closed = append(closed, fd) })
		if err == nil && n != len(event(Rename, -1, 42)) {
			// a prefix ending exactly on an event boundary is valid
			if n != len(buf)-len(event(CloseWrite, -1, 43, fidInfo(infoDFIDName, 7, []byte("dirA0000"), "b.txt"), pidfdInfo(-1))) {
				t.Errorf("truncated at %d: no error", n)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(event(Rename, -1, 42, fidInfo(infoOldDFIDName, 7, []byte("dirA0000"), "a.docx"),
		fidInfo(infoNewDFIDName, 7, []byte("dirB0000"), "a.docx.locked"), pidfdInfo(9)))
	f.Add(event(CloseWrite, 5, 1, fidInfo(infoFID, 1, []byte("12345678"), "")))
	f.Add(event(Overflow, -1, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse(b, func(e *Event) {
			if len(e.Name) > len(b) || len(e.Object.Bytes) > len(b) {
				t.Fatalf("decoded more than the buffer holds")
			}
		}, func(int) {})
	})
}
