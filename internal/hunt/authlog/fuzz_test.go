package authlog

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// FuzzDecode feeds arbitrary bytes to every format of the package: no
// panic, every event keeps its raw text, and memory stays bounded by the
// line limit.
func FuzzDecode(f *testing.F) {
	for _, p := range []string{"testdata/auth.log", "testdata/journal.json", "testdata/events.jsonl"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("<86>1 2024-03-04T00:01:15Z h a 1 - [x a=\"\\\"]\"] m\n"))
	f.Add([]byte("Feb 29 10:00:00 h sshd[1]: Disconnected from invalid user  1.2.3.4 port 2\n"))
	ref := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []hunt.Format{Syslog{}, Journal{}, JSONL{}} {
			format.Sniff(b[:min(len(b), hunt.SniffSize)])
			in := &hunt.Input{Path: "fuzz", R: bytes.NewReader(b), YearRef: ref, Location: tokyo}
			_, err := format.Decode(context.Background(), in, func(e *hunt.Event) error {
				if e.Fields == nil {
					t.Fatalf("%s: event without fields", format.Name())
				}
				if format.Name() == "syslog" && len(e.Message) > MaxLineSize {
					t.Fatalf("line of %d bytes kept", len(e.Message))
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", format.Name(), err)
			}
		}
	})
}

// FuzzParseLine checks the line parser alone, at higher speed.
func FuzzParseLine(f *testing.F) {
	f.Add("Mar  3 23:58:09 web01 sshd[1001]: Accepted password for root from 203.0.113.7 port 50122 ssh2")
	f.Add("Mar  4 00:01:15 web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh")
	f.Add("2024-03-04T00:01:15.123456+09:00 web01 su: pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)")
	f.Add(`<86>1 2024-03-04T00:01:15Z web01 sshd 812 - [origin ip="10.0.0.1"] x`)
	f.Add(`Mar  4 00:02:01 web01 audispd: node=web01 type=PATH msg=audit(1.1:9): name="/root/.ssh/authorized_keys" nametype=CREATE`)
	ref := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		ev := ParseLine(line, ref, tokyo)
		if ev.Message != line {
			t.Fatal("raw line not kept")
		}
		if !ev.Time.IsZero() && ev.Time.Location() != time.UTC {
			t.Fatal("time not in UTC")
		}
	})
}
