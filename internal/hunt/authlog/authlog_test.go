package authlog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

var tokyo = time.FixedZone("JST", 9*3600)

func TestParseLine(t *testing.T) {
	ref := time.Date(2024, 3, 10, 0, 0, 0, 0, tokyo)
	tests := []struct {
		name     string
		line     string
		time     string // RFC 3339 in UTC, "" for zero
		host     string
		provider string
		fields   map[string]any
	}{
		{
			name: "sshd accepted password", line: "Mar  3 23:58:09 web01 sshd[1001]: Accepted password for root from 203.0.113.7 port 50122 ssh2",
			time: "2024-03-03T14:58:09Z", host: "web01", provider: "sshd",
			fields: map[string]any{"action": ActionLogon, "method": "password", "user": "root", "source_ip": "203.0.113.7", "source_port": "50122", "pid": "1001"},
		},
		{
			name: "sshd accepted publickey", line: "Mar  3 10:00:00 web01 sshd[5]: Accepted publickey for deploy from 2001:db8::1 port 4022 ssh2: RSA SHA256:Zx9",
			time: "2024-03-03T01:00:00Z", host: "web01", provider: "sshd",
			fields: map[string]any{"action": ActionLogon, "method": "publickey", "user": "deploy", "source_ip": "2001:db8::1", "key_type": "RSA", "key_fingerprint": "SHA256:Zx9"},
		},
		{
			name: "sshd failed invalid user", line: "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
			time: "2023-12-09T21:55:48Z", host: "LabSZ", provider: "sshd",
			fields: map[string]any{"action": ActionLogonFailed, "user": "webmaster", "invalid_user": true, "source_ip": "173.234.31.186"},
		},
		{
			name: "sshd repeated", line: "Mar  3 23:58:03 web01 sshd[1001]: message repeated 4 times: [ Failed password for root from 203.0.113.7 port 50122 ssh2]",
			host: "web01", provider: "sshd", time: "2024-03-03T14:58:03Z",
			fields: map[string]any{"action": ActionLogonFailed, "user": "root", "count": 4},
		},
		{
			name: "sshd invalid user", line: "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
			host: "LabSZ", provider: "sshd", time: "2023-12-09T21:55:46Z",
			fields: map[string]any{"action": ActionInvalidUser, "user": "webmaster", "source_ip": "173.234.31.186"},
		},
		{
			name: "sshd disconnected user", line: "Mar  1 00:00:00 h sshd[9]: Disconnected from authenticating user root 192.0.2.4 port 53 [preauth]",
			host: "h", provider: "sshd", time: "2024-02-29T15:00:00Z",
			fields: map[string]any{"action": ActionDisconnect, "user": "root", "source_ip": "192.0.2.4", "source_port": "53"},
		},
		{
			name: "pam auth failure", line: "Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186  user=root",
			host: "LabSZ", provider: "sshd", time: "2023-12-09T21:55:46Z",
			fields: map[string]any{"action": ActionAuthFailure, "user": "root", "source_ip": "173.234.31.186", "pam_service": "sshd"},
		},
		{
			name: "old pam form", line: "Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
			host: "combo", provider: "sshd", time: "2023-06-14T17:04:59Z",
			fields: map[string]any{"action": ActionAuthFailure, "user": "root", "source_host": "220-135-151-1.hinet-ip.hinet.net", "module": "pam_unix"},
		},
		{
			name: "sudo command", line: "Mar  4 00:01:15 web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/tee -a /root/.ssh/authorized_keys ; echo",
			host: "web01", provider: "sudo", time: "2024-03-03T15:01:15Z",
			fields: map[string]any{"action": ActionSudo, "user": "alice", "target_user": "root", "tty": "pts/0", "pwd": "/home/alice", "command": "/usr/bin/tee -a /root/.ssh/authorized_keys ; echo", "file": "/root/.ssh/authorized_keys"},
		},
		{
			name: "sudo refused", line: "Mar  4 00:01:15 web01 sudo:   mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
			host: "web01", provider: "sudo", time: "2024-03-03T15:01:15Z",
			fields: map[string]any{"action": ActionSudoFailed, "user": "mallory", "reason": "user NOT in sudoers", "command": "/bin/sh"},
		},
		{
			name: "su util-linux", line: "Mar  4 00:03:00 web01 su[1300]: (to root) alice on pts/0",
			host: "web01", provider: "su", time: "2024-03-03T15:03:00Z",
			fields: map[string]any{"action": ActionSu, "user": "alice", "target_user": "root", "tty": "pts/0"},
		},
		{
			name: "su pam session", line: "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)",
			host: "combo", provider: "su", time: "2023-06-14T19:06:18Z",
			fields: map[string]any{"action": ActionSu, "target_user": "cyrus", "user": "uid=0"},
		},
		{
			name: "su pam session new form", line: "Mar  4 00:03:00 web01 su: pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)",
			host: "web01", provider: "su", time: "2024-03-03T15:03:00Z",
			fields: map[string]any{"action": ActionSu, "target_user": "root", "user": "alice"},
		},
		{
			name: "useradd", line: "Mar  4 00:02:00 web01 useradd[1200]: new user: name=backdoor, UID=1002, GID=1002, home=/home/backdoor, shell=/bin/bash, from=/dev/pts/0",
			host: "web01", provider: "useradd", time: "2024-03-03T15:02:00Z",
			fields: map[string]any{"action": ActionUserAdded, "target_user": "backdoor", "uid": "1002", "shell": "/bin/bash"},
		},
		{
			name: "usermod group", line: "Mar  4 00:02:01 web01 usermod[1201]: add 'backdoor' to shadow group 'sudo'",
			host: "web01", provider: "usermod", time: "2024-03-03T15:02:01Z",
			fields: map[string]any{"action": ActionGroupMemberAdd, "target_user": "backdoor", "group": "sudo"},
		},
		{
			name: "groupadd", line: "Mar  4 00:02:01 web01 groupadd[1]: new group: name=ops, GID=1003",
			host: "web01", provider: "groupadd", time: "2024-03-03T15:02:01Z",
			fields: map[string]any{"action": ActionGroupAdded, "group": "ops", "gid": "1003"},
		},
		{
			name: "passwd", line: "Mar  4 00:02:01 web01 passwd[1]: pam_unix(passwd:chauthtok): password changed for backdoor",
			host: "web01", provider: "passwd", time: "2024-03-03T15:02:01Z",
			fields: map[string]any{"action": ActionPasswordChanged, "target_user": "backdoor"},
		},
		{
			name: "audit authorized_keys", line: `Mar  4 00:02:01 web01 audispd: node=web01 type=PATH msg=audit(1709510521.1:9): item=1 name="/root/.ssh/authorized_keys" nametype=CREATE`,
			host: "web01", provider: "audispd", time: "2024-03-03T15:02:01Z",
			fields: map[string]any{"action": ActionAuthorizedKey, "file": "/root/.ssh/authorized_keys", "nametype": "CREATE", "audit_type": "PATH"},
		},
		{
			name: "iso timestamp with zone", line: "2024-03-04T00:01:15.123456+09:00 web01 sshd[7]: Connection closed by 192.0.2.9 port 22 [preauth]",
			host: "web01", provider: "sshd", time: "2024-03-03T15:01:15.123456Z",
			fields: map[string]any{"action": ActionDisconnect, "source_ip": "192.0.2.9"},
		},
		{
			name: "rfc5424", line: `<86>1 2024-03-04T00:01:15Z web01 sshd 812 - [origin ip="10.0.0.1"] Failed password for bob from 10.0.0.8 port 1 ssh2`,
			host: "web01", provider: "sshd", time: "2024-03-04T00:01:15Z",
			fields: map[string]any{"action": ActionLogonFailed, "user": "bob", "origin.ip": "10.0.0.1", "facility": "authpriv"},
		},
		{
			name: "pri with 3164", line: "<38>Mar  4 00:01:15 web01 sshd[7]: Invalid user x from 192.0.2.1 port 4",
			host: "web01", provider: "sshd", time: "2024-03-03T15:01:15Z",
			fields: map[string]any{"action": ActionInvalidUser, "source_port": "4", "facility": "auth"},
		},
		{
			name: "no tag", line: "Jun 15 04:06:20 combo -- MARK --",
			host: "combo", time: "2023-06-14T19:06:20Z",
			fields: map[string]any{"msg": "-- MARK --"},
		},
		{
			name: "versioned program", line: "Jul 27 14:41:57 combo syslogd 1.4.1: restart.",
			host: "combo", provider: "syslogd", time: "2023-07-27T05:41:57Z",
			fields: map[string]any{"msg": "restart."},
		},
		{
			name: "unparsed", line: "  at java.lang.Thread.run(Thread.java:748)",
			fields: map[string]any{"unparsed": true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := ParseLine(tc.line, ref, tokyo)
			got := ""
			if !ev.Time.IsZero() {
				got = ev.Time.Format(time.RFC3339Nano)
			}
			if got != tc.time {
				t.Errorf("time = %q, want %q", got, tc.time)
			}
			if ev.Host != tc.host || ev.Provider != tc.provider {
				t.Errorf("host, provider = %q, %q, want %q, %q", ev.Host, ev.Provider, tc.host, tc.provider)
			}
			if ev.Message != tc.line {
				t.Errorf("message = %q, want the raw line", ev.Message)
			}
			for k, want := range tc.fields {
				if v := ev.Fields[k]; v != want {
					t.Errorf("field %s = %#v, want %#v (all: %v)", k, v, want, ev.Fields)
				}
			}
		})
	}
}

func TestYearInference(t *testing.T) {
	utc := time.UTC
	tests := []struct {
		name string
		line string
		ref  time.Time
		want int
	}{
		{"same year", "Mar  3 10:00:00 h p: x", time.Date(2024, 3, 10, 0, 0, 0, 0, utc), 2024},
		{"month after mtime is last year", "Dec 30 10:00:00 h p: x", time.Date(2024, 1, 2, 0, 0, 0, 0, utc), 2023},
		{"later day of the mtime month is last year", "Mar 20 10:00:00 h p: x", time.Date(2024, 3, 10, 0, 0, 0, 0, utc), 2023},
		{"zone slack keeps the same day", "Mar 10 20:00:00 h p: x", time.Date(2024, 3, 10, 9, 0, 0, 0, utc), 2024},
		{"feb 29 goes to a leap year", "Feb 29 10:00:00 h p: x", time.Date(2025, 6, 1, 0, 0, 0, 0, utc), 2024},
		{"explicit year", "Mar  3 2019 10:00:00 h p: x", time.Date(2024, 3, 10, 0, 0, 0, 0, utc), 2019},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := ParseLine(tc.line, tc.ref, utc)
			if ev.Time.Year() != tc.want {
				t.Errorf("year = %d (%v), want %d", ev.Time.Year(), ev.Time, tc.want)
			}
		})
	}
}

func decodeFile(t *testing.T, f hunt.Format, path string, ref time.Time) ([]*hunt.Event, hunt.DecodeStats) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head := b[:min(len(b), hunt.SniffSize)]
	if !f.Sniff(head) {
		t.Fatalf("%s: %s.Sniff = false", path, f.Name())
	}
	var evs []*hunt.Event
	st, err := f.Decode(context.Background(), &hunt.Input{Path: path, R: bytes.NewReader(b), YearRef: ref, Location: tokyo, Host: "folderhost"},
		func(e *hunt.Event) error { evs = append(evs, e); return nil })
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return evs, st
}

func TestSyslogFile(t *testing.T) {
	evs, st := decodeFile(t, Syslog{}, "testdata/auth.log", time.Date(2024, 3, 4, 1, 0, 0, 0, tokyo))
	if st.Records != 9 || st.Partial != 1 || st.Bad != 0 {
		t.Errorf("stats = %+v, want 9 records, 1 partial", st)
	}
	cont := evs[7]
	if cont.Fields["unparsed"] != true || !cont.Time.Equal(evs[6].Time) || cont.Host != "folderhost" {
		t.Errorf("continuation line = %+v, want unparsed, previous time, folder host", cont)
	}
	for _, e := range evs {
		if e.Channel != "auth" || e.Source != "testdata/auth.log" || e.RecordID == 0 {
			t.Errorf("event %q: channel %q source %q record %d", e.Message, e.Channel, e.Source, e.RecordID)
		}
	}
}

func TestJournalFile(t *testing.T) {
	evs, st := decodeFile(t, Journal{}, "testdata/journal.json", time.Time{})
	if st.Records != 2 || st.Bad != 2 || !strings.Contains(st.BadReason, "line 3") {
		t.Fatalf("stats = %+v, want 2 records and 2 bad lines starting at line 3", st)
	}
	if e := evs[0]; e.Host != "db02" || e.Provider != "sshd" || e.Fields["action"] != ActionLogon || e.Fields["user"] != "deploy" ||
		e.Time != time.Date(2024, 3, 3, 23, 58, 9, 0, time.UTC) || e.Channel != "journal" || e.Level != "info" {
		t.Errorf("first = %+v", e)
	}
	if e := evs[1]; e.Fields["action"] != ActionSudo || e.Fields["target_user"] != "root" || !strings.HasPrefix(e.Message, "  deploy : TTY") {
		t.Errorf("byte-array MESSAGE = %+v", e)
	}
}

func TestJSONLFile(t *testing.T) {
	evs, st := decodeFile(t, JSONL{}, "testdata/events.jsonl", time.Time{})
	if st.Records != 3 || st.Bad != 1 {
		t.Fatalf("stats = %+v, want 3 records, 1 bad", st)
	}
	if e := evs[0]; e.EventID != 4624 || e.Field("LogonType") != "10" || e.Field("TargetLogonId") != "0x1234567890" || e.Host != "fs01" {
		t.Errorf("hunt event = %+v", e)
	}
	if e := evs[1]; e.EventID != 7045 || e.Host != "FS02.corp.local" || e.Provider != "Service Control Manager" || e.RecordID != 99 ||
		e.Field("ServiceName") != "PSEXESVC" || e.Time != time.Date(2024, 3, 4, 2, 0, 0, 123456000, time.UTC) {
		t.Errorf("converted windows event = %+v", e)
	}
	if e := evs[2]; e.Fields["action"] != ActionLogonFailed || e.Fields["user"] != "oracle" {
		t.Errorf("raw linux line in jsonl not parsed: %+v", e)
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		head                    string
		syslog, journal, events bool
	}{
		{"Dec 10 06:55:46 LabSZ sshd[24200]: x\nDec 10 06:55:46 LabSZ sshd[24200]: y\n", true, false, false},
		{"<13>1 2024-03-04T00:01:15Z h app - - - hi\n", true, false, false},
		{`{"__CURSOR":"s","__REALTIME_TIMESTAMP":"1"}` + "\n", false, true, false},
		{`{"time":"2024-01-01T00:00:00Z","channel":"Security","event_id":1}` + "\n", false, false, true},
		{"PK\x03\x04 not a log", false, false, false},
		{"", false, false, false},
	}
	for i, tc := range tests {
		h := []byte(tc.head)
		if Syslog.Sniff(Syslog{}, h) != tc.syslog || (Journal{}).Sniff(h) != tc.journal || (JSONL{}).Sniff(h) != tc.events {
			t.Errorf("%d: sniff(%q) = %v %v %v, want %v %v %v", i, tc.head, Syslog{}.Sniff(h), Journal{}.Sniff(h), JSONL{}.Sniff(h), tc.syslog, tc.journal, tc.events)
		}
	}
}

// sharedData returns ../shared/data/<rel> from the repository root, or
// skips the test when the shared data is absent.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data absent (%s): %v", p, err)
	}
	return p
}

func TestLoghubSamples(t *testing.T) {
	t.Run("OpenSSH_2k", func(t *testing.T) {
		p := sharedData(t, "linux-auth/OpenSSH/OpenSSH_2k.log")
		evs, st := decodeFile(t, Syslog{}, p, time.Date(2017, 1, 5, 0, 0, 0, 0, tokyo))
		if st.Records != 2000 || st.Partial != 0 {
			t.Fatalf("stats = %+v, want 2000 records, none partial", st)
		}
		counts := map[any]int{}
		for _, e := range evs {
			counts[e.Fields["action"]]++
			if e.Host != "LabSZ" || e.Provider != "sshd" || e.Time.Year() != 2016 {
				t.Fatalf("event %+v: want host LabSZ, sshd, 2016", e)
			}
		}
		// The file's own counts (grep): 1 Accepted, 368+... Failed lines.
		if counts[ActionLogon] != 1 || counts[ActionLogonFailed] < 400 || counts[ActionAuthFailure] < 490 || counts[ActionInvalidUser] < 50 {
			t.Errorf("action counts = %v", counts)
		}
		// unparsed messages are few: most sshd lines are understood
		if counts[nil] > 400 {
			t.Errorf("%d lines without an action", counts[nil])
		}
	})
	t.Run("Linux_2k", func(t *testing.T) {
		p := sharedData(t, "linux-auth/Linux/Linux_2k.log")
		evs, st := decodeFile(t, Syslog{}, p, time.Date(2005, 8, 1, 0, 0, 0, 0, tokyo))
		if st.Records != 2000 {
			t.Fatalf("stats = %+v, want 2000 records", st)
		}
		var su, authFail int
		for _, e := range evs {
			if e.Host != "combo" || e.Time.Year() != 2005 || e.Channel != "syslog" {
				t.Fatalf("event %+v: want host combo, 2005, channel syslog", e)
			}
			switch e.Fields["action"] {
			case ActionSu:
				su++
			case ActionAuthFailure:
				authFail++
			}
		}
		if su < 80 || authFail < 300 {
			t.Errorf("su sessions = %d, auth failures = %d", su, authFail)
		}
	})
}

func TestLongLineBounded(t *testing.T) {
	long := "Mar  3 10:00:00 h p: " + strings.Repeat("A", 3*MaxLineSize) + "\nMar  3 10:00:01 h p: next\n"
	var evs []*hunt.Event
	st, err := Syslog{}.Decode(context.Background(), &hunt.Input{Path: "x", R: strings.NewReader(long), YearRef: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)},
		func(e *hunt.Event) error { evs = append(evs, e); return nil })
	if err != nil || len(evs) != 2 || st.Partial != 1 {
		t.Fatalf("events %d, stats %+v, err %v", len(evs), st, err)
	}
	if len(evs[0].Message) != MaxLineSize || evs[0].Fields["truncated"] != true || evs[1].Fields["msg"] != "next" {
		t.Errorf("long line not cut cleanly: len %d, next %v", len(evs[0].Message), evs[1].Fields["msg"])
	}
}

// BenchmarkSyslog measures the syslog reader on the loghub OpenSSH sample.
func BenchmarkSyslog(b *testing.B) {
	data, err := os.ReadFile(sharedData(b, "linux-auth/OpenSSH/OpenSSH_2k.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	var n int
	for range b.N {
		_, err := Syslog{}.Decode(context.Background(), &hunt.Input{Path: "x", R: bytes.NewReader(data), YearRef: time.Now(), Location: time.UTC},
			func(*hunt.Event) error { n++; return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}
