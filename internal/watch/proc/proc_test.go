package proc

import (
	"encoding/binary"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, line string
		want       Stat
		bad        bool
	}{
		{"plain", "123 (bash) S 100 123 123 34816 123 4194304 1 2 3 4 5 6 7 8 20 0 1 0 987654 1 2", Stat{Pid: 123, Comm: "bash", State: 'S', PPid: 100, Start: 987654}, false},
		{"spaces and parens", "77 (a (b) c) R 1 77 77 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1 2", Stat{Pid: 77, Comm: "a (b) c", State: 'R', PPid: 1, Start: 42}, false},
		{"short", "77 (x) R 1 2", Stat{}, true},
		{"no comm", "77 x R 1", Stat{}, true},
		{"empty", "", Stat{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.line))
			if (err != nil) != tc.bad || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v (error %v)", got, err, tc.want, tc.bad)
			}
		})
	}
}

// connMsg builds one connector message as the kernel sends it.
func connMsg(what uint32, data ...uint32) []byte {
	ev := binary.NativeEndian.AppendUint32(nil, what)
	ev = binary.NativeEndian.AppendUint32(ev, 0)
	ev = binary.NativeEndian.AppendUint64(ev, 12345)
	for _, d := range data {
		ev = binary.NativeEndian.AppendUint32(ev, d)
	}
	cn := make([]byte, cnMsgLen)
	binary.NativeEndian.PutUint32(cn[0:], cnIdxProcConst)
	binary.NativeEndian.PutUint16(cn[16:], uint16(len(ev)))
	body := append(cn, ev...)
	hdr := make([]byte, nlmsgHdrLen)
	binary.NativeEndian.PutUint32(hdr[0:], uint32(nlmsgHdrLen+len(body)))
	binary.NativeEndian.PutUint16(hdr[4:], nlmsgDone)
	msg := append(hdr, body...)
	for len(msg)%4 != 0 {
		msg = append(msg, 0)
	}
	return msg
}

const cnIdxProcConst = 1

func TestParseConnector(t *testing.T) {
	var b []byte
	b = append(b, connMsg(evFork, 10, 10, 11, 11)...)        // process fork
	b = append(b, connMsg(evFork, 10, 10, 12, 10)...)        // thread: ignored
	b = append(b, connMsg(evExec, 11, 11)...)                // exec
	b = append(b, connMsg(evExit, 11, 11, 0, 17, 10, 10)...) // exit
	b = append(b, connMsg(evExit, 12, 10, 0, 17, 10, 10)...) // thread exit: ignored
	var got []Change
	if err := ParseConnector(b, func(c Change) { got = append(got, c) }); err != nil {
		t.Fatal(err)
	}
	want := []Change{{"fork", 11, 10, 12345}, {"exec", 11, 0, 12345}, {"exit", 11, 10, 12345}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func FuzzParseConnector(f *testing.F) {
	f.Add(connMsg(evFork, 10, 10, 11, 11))
	f.Add(connMsg(evExit, 11, 11, 0, 17, 10, 10))
	f.Add(append(connMsg(evExec, 11, 11), 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseConnector(b, func(Change) {})
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("123 (bash) S 100 123 123 34816 123 4194304 1 2 3 4 5 6 7 8 20 0 1 0 987654 1 2"))
	f.Add([]byte("1 ()) R 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseStat(b)
	})
}
