package account

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/authlog"
	"github.com/kintsugi-ir/kintsugi/internal/testcorpus"
	"github.com/kintsugi-ir/kintsugi/internal/workhours"
)

var tokyo = time.FixedZone("JST", 9*3600)

// events parses a syslog file as the follower does.
func events(t *testing.T, p string, ref time.Time) []*hunt.Event {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*hunt.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ev := authlog.ParseLine(sc.Text(), ref, tokyo)
		if !ev.Time.IsZero() {
			out = append(out, ev)
		}
	}
	return out
}

func rules(fs []Finding) map[string]int {
	m := map[string]int{}
	for _, f := range fs {
		m[f.Rule]++
	}
	return m
}

func TestFixture(t *testing.T) {
	d := NewDetector(Config{Hours: workhours.Hours{Location: tokyo}, Admins: []string{"admin"}})
	evs := events(t, "testdata/attack.log", time.Date(2024, 3, 12, 0, 0, 0, 0, tokyo))
	// the first two lines are history: the baseline
	d.Learn(evs[0])
	d.Learn(evs[1])
	var got []Finding
	for _, ev := range evs[2:] {
		got = append(got, d.Observe(ev)...)
	}
	want := map[string]int{
		RuleBruteForce: 1, // admin after 5 failures (one told by PAM and sshd both)
		RuleNewSource:  2, // admin from 203.0.113.7 (no history), root from 198.51.100.23
		RuleOffHours:   2, // admin at 23:58 Friday, root at 02:14 Saturday
	}
	if r := rules(got); len(r) != len(want) || r[RuleBruteForce] != 1 || r[RuleNewSource] != 2 || r[RuleOffHours] != 2 {
		for _, f := range got {
			t.Logf("%s %s", f.Rule, f.Summary)
		}
		t.Fatalf("rules %v, want %v", r, want)
	}
	for _, f := range got {
		switch f.Rule {
		case RuleBruteForce:
			if f.Account != "admin" || f.Count != 5 || f.Block.String() != "203.0.113.7" || !strings.Contains(f.Summary, "after 5 failed logons") {
				t.Errorf("brute force = %+v", f)
			}
		case RuleNewSource:
			if f.Account == "root" && (f.Source != "198.51.100.23" || !strings.Contains(f.Summary, "known sources: 10.20.0.5") || f.Block.String() != "198.51.100.23") {
				t.Errorf("new source = %+v", f)
			}
		}
	}
	if b := d.Baseline(); len(b["root"]) != 2 || len(b["alice"]) != 2 {
		t.Errorf("baseline = %v", b)
	}
}

// TestLoghub: the loghub sshd log holds thousands of failures against
// root and others and one success, by an address with no failures. With
// a success by the worst offender appended, that success is reported.
func TestLoghub(t *testing.T) {
	shared := testcorpus.Shared(t)
	ref := time.Date(2017, 1, 5, 0, 0, 0, 0, time.UTC)
	evs := events(t, filepath.Join(shared, "data/linux-auth/OpenSSH/OpenSSH_2k.log"), ref)
	d := NewDetector(Config{Hours: workhours.Hours{Location: time.UTC, WorkStart: 0, WorkEnd: 24, WorkDays: []time.Weekday{0, 1, 2, 3, 4, 5, 6}}})
	var got []Finding
	counts := map[string]int{}
	for _, ev := range evs {
		got = append(got, d.Observe(ev)...)
		if ev.Field("action") == "logon_failed" {
			counts[ev.Field("source_ip")]++
		}
	}
	if len(got) != 0 {
		t.Fatalf("findings on the log as is: %+v", got)
	}
	worst, n := "", 0
	for ip, c := range counts {
		if c > n {
			worst, n = ip, c
		}
	}
	last := evs[len(evs)-1]
	line := last.Time.Add(time.Minute).Format("Jan _2 15:04:05") + " LabSZ sshd[99999]: Accepted password for root from " + worst + " port 4242 ssh2"
	ev := authlog.ParseLine(line, ref, time.UTC)
	got = d.Observe(ev)
	if r := rules(got); r[RuleBruteForce] != 1 || r[RuleNewSource] != 1 {
		t.Fatalf("success by %s (%d failures): %v", worst, n, got)
	}

	// Linux_2k holds PAM failures with remote hosts by name: nothing to
	// report, and nothing to crash on
	d = NewDetector(Config{Hours: workhours.Hours{Location: time.UTC}})
	for _, ev := range events(t, filepath.Join(shared, "data/linux-auth/Linux/Linux_2k.log"), ref) {
		if fs := d.Observe(ev); len(fs) > 0 {
			t.Errorf("finding on Linux_2k: %+v", fs)
		}
	}
}

func TestKeyWatcher(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "home", "ops", ".ssh", "authorized_keys")
	sudoers := filepath.Join(dir, "sudoers")
	os.MkdirAll(filepath.Dir(keys), 0o700)
	os.WriteFile(keys, []byte("# ops keys\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@laptop\n"), 0o600)
	os.WriteFile(sudoers, []byte("root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n#includedir /etc/sudoers.d\n"), 0o440)
	later := filepath.Join(dir, "home", "new", ".ssh", "authorized_keys")
	list := func() []string { return []string{keys, sudoers, later} }
	k := NewKeyWatcher(list, nil)
	now := time.Now()
	if fs := k.Scan(now); len(fs) != 0 {
		t.Fatalf("first scan reported %+v", fs)
	}
	if fs := k.Scan(now); len(fs) != 0 {
		t.Fatalf("unchanged files reported %+v", fs)
	}
	f, _ := os.OpenFile(keys, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDa attacker@vps\n")
	f.Close()
	os.WriteFile(sudoers, []byte("root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n#includedir /etc/sudoers.d\nsvc-backup ALL=(ALL) NOPASSWD: ALL\n"), 0o440)
	os.MkdirAll(filepath.Dir(later), 0o700)
	os.WriteFile(later, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINew new@x\n"), 0o600)
	fs := k.Scan(now)
	if r := rules(fs); r[RuleNewKey] != 2 || r[RuleNewSudoers] != 1 || len(fs) != 3 {
		t.Fatalf("findings %+v", fs)
	}
	for _, f := range fs {
		switch {
		case f.Rule == RuleNewSudoers && f.Entry != "svc-backup ALL=(ALL) NOPASSWD: ALL":
			t.Errorf("sudoers entry %q", f.Entry)
		case f.Rule == RuleNewKey && f.File == keys && (f.Account != "ops" || !strings.HasPrefix(f.Entry, "ssh-rsa SHA256:") || !strings.HasSuffix(f.Entry, "attacker@vps")):
			t.Errorf("key finding %+v", f)
		}
	}
	// a restarted agent with the saved state reports what changed while
	// it was down, and nothing else
	state := k.State()
	os.WriteFile(sudoers, []byte("root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n#includedir /etc/sudoers.d\nsvc-backup ALL=(ALL) NOPASSWD: ALL\nmallory ALL=(ALL) ALL\n"), 0o440)
	k2 := NewKeyWatcher(list, state)
	if fs := k2.Scan(now); len(fs) != 1 || fs[0].Entry != "mallory ALL=(ALL) ALL" {
		t.Fatalf("after restart: %+v", fs)
	}
}

func TestAdminMembers(t *testing.T) {
	dir := t.TempDir()
	g := filepath.Join(dir, "group")
	p := filepath.Join(dir, "passwd")
	os.WriteFile(g, []byte("root:x:0:\nsudo:x:27:alice,bob\nwheel:x:10:\nusers:x:100:carol\n"), 0o644)
	os.WriteFile(p, []byte("root:x:0:0::/root:/bin/bash\ndave:x:1004:10::/home/dave:/bin/bash\ncarol:x:1003:100::/home/carol:/bin/bash\n"), 0o644)
	if got := strings.Join(AdminMembers(g, p), ","); got != "alice,bob,dave" {
		t.Errorf("admins = %s", got)
	}
	files := DefaultKeyFiles(p)
	if !contains(files, "/home/dave/.ssh/authorized_keys") || !contains(files, "/root/.ssh/authorized_keys") || !contains(files, "/etc/sudoers") {
		t.Errorf("key files = %v", files)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestFollower: history is learnt, appended lines observed, through a
// rotation and a truncation.
func TestFollower(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	os.WriteFile(p, []byte("Mar  4 10:02:11 fs01 sshd[1]: Accepted password for root from 10.0.0.1 port 1 ssh2\n"), 0o640)
	var mu sync.Mutex
	var learnt, seen []string
	fl := &Follower{Files: []string{p}, Poll: 20 * time.Millisecond, Location: time.UTC}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- fl.Run(ctx, func(ev *hunt.Event) {
			mu.Lock()
			learnt = append(learnt, ev.Field("source_ip"))
			mu.Unlock()
		}, func(ev *hunt.Event) {
			mu.Lock()
			seen = append(seen, ev.Field("source_ip"))
			mu.Unlock()
		})
	}()
	appendLine := func(ip string) {
		f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o640)
		f.WriteString("Mar  4 10:03:00 fs01 sshd[2]: Accepted password for root from " + ip + " port 2 ssh2\n")
		f.Close()
	}
	wait := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			l := len(seen)
			mu.Unlock()
			if l >= n {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("seen %v, want %d lines", seen, n)
	}
	time.Sleep(100 * time.Millisecond)
	appendLine("10.0.0.2")
	wait(1)
	// a partial line waits for its end
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("Mar  4 10:03:00 fs01 sshd[3]: Accepted password for root from 10.0.0.3")
	f.Close()
	time.Sleep(100 * time.Millisecond)
	f, _ = os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(" port 3 ssh2\n")
	f.Close()
	wait(2)
	os.Rename(p, p+".1")
	appendLine("10.0.0.4")
	wait(3)
	os.Truncate(p, 0)
	time.Sleep(100 * time.Millisecond)
	appendLine("10.0.0.5")
	wait(4)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Join(learnt, ",") != "10.0.0.1" || strings.Join(seen, ",") != "10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5" {
		t.Fatalf("learnt %v, seen %v", learnt, seen)
	}
}

func FuzzDescribeKey(f *testing.F) {
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@laptop")
	f.Add(`command="/bin/true",no-pty ssh-rsa AAAA x`)
	f.Fuzz(func(t *testing.T, s string) {
		DescribeKey(s)
		parseEntries([]byte(s), true)
	})
}

// TestFollowerJournal: journalctl's JSON records before the start are
// learnt, later ones observed.
func TestFollowerJournal(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-48 * time.Hour).UnixMicro()
	now := time.Now().Add(time.Hour).UnixMicro()
	rec := func(us int64, msg string) string {
		return `{"__REALTIME_TIMESTAMP":"` + strconv.FormatInt(us, 10) + `","_HOSTNAME":"fs01","SYSLOG_IDENTIFIER":"sshd","_PID":"10","MESSAGE":"` + msg + `"}` + "\n"
	}
	p := filepath.Join(dir, "journal.json")
	os.WriteFile(p, []byte(rec(old, "Accepted publickey for root from 10.0.0.1 port 1 ssh2")+rec(now, "Accepted password for root from 203.0.113.9 port 2 ssh2")), 0o600)
	var learnt, seen []string
	var mu sync.Mutex
	fl := &Follower{Journal: true, JournalCmd: []string{"sh", "-c", "cat " + p + "; sleep 30"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- fl.Run(ctx, func(ev *hunt.Event) {
			mu.Lock()
			learnt = append(learnt, ev.Field("source_ip"))
			mu.Unlock()
		}, func(ev *hunt.Event) {
			mu.Lock()
			seen = append(seen, ev.Field("source_ip"))
			mu.Unlock()
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(learnt, ",") != "10.0.0.1" || strings.Join(seen, ",") != "203.0.113.9" {
		t.Fatalf("learnt %v, seen %v", learnt, seen)
	}
}
