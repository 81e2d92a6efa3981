//go:build linux

package watch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
	"github.com/kintsugi-ir/kintsugi/internal/watch/watchtest"
)

// TestAccounts: the running agent reports a brute-force success, a root
// logon from a new source, and new authorized_keys and sudoers entries,
// from a log and files of the test's own.
func TestAccounts(t *testing.T) {
	dir := watchtest.Tmpfs(t, 16)
	logs := t.TempDir()
	authLog := filepath.Join(logs, "auth.log")
	now := time.Now().In(time.UTC)
	stamp := func(d time.Duration) string { return now.Add(d).Format("Jan _2 15:04:05") }
	os.WriteFile(authLog, []byte(stamp(-48*time.Hour)+" fs01 sshd[10]: Accepted publickey for root from 10.20.0.5 port 1 ssh2\n"), 0o640)
	keys := filepath.Join(logs, "authorized_keys")
	sudoers := filepath.Join(logs, "sudoers")
	os.WriteFile(keys, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@laptop\n"), 0o600)
	os.WriteFile(sudoers, []byte("root ALL=(ALL:ALL) ALL\n"), 0o440)
	yes := true
	r := startAgent(t, &Config{Paths: []string{dir}, Accounts: Accounts{Enabled: &yes, Logs: []string{authLog}, Journal: "no",
		Keys: []string{keys, sudoers}, WorkHours: WorkHours{Zone: "UTC", Start: 0, End: 24, Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}}}})
	time.Sleep(300 * time.Millisecond)
	f, _ := os.OpenFile(authLog, os.O_APPEND|os.O_WRONLY, 0)
	for i := range 6 {
		f.WriteString(stamp(time.Duration(i)*time.Second) + " fs01 sshd[20]: Failed password for root from 203.0.113.7 port 4000 ssh2\n")
	}
	f.WriteString(stamp(10*time.Second) + " fs01 sshd[21]: Accepted password for root from 203.0.113.7 port 4001 ssh2\n")
	f.Close()
	os.WriteFile(keys, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@laptop\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAtk mallory@vps\n"), 0o600)
	os.WriteFile(sudoers, []byte("root ALL=(ALL:ALL) ALL\nmallory ALL=(ALL) NOPASSWD: ALL\n"), 0o440)
	want := map[string]bool{"brute-force-success": false, "privileged-logon-new-source": false, "new-authorized-key": false, "new-sudoers-entry": false}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range r.col.of(alert.KindAccount) {
			want[a.Rule] = true
			if a.Rule == "new-authorized-key" && !strings.Contains(a.Account.Entry, "mallory@vps") {
				t.Errorf("key alert %+v", a.Account)
			}
		}
		all := true
		for _, ok := range want {
			all = all && ok
		}
		if all {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for rule, ok := range want {
		if !ok {
			t.Errorf("no %s alert", rule)
		}
	}
	r.stop()
	if b, err := os.ReadFile(filepath.Join(r.agent.cfg.StateDir, "accounts.json")); err != nil || !strings.Contains(string(b), "203.0.113.7") {
		t.Errorf("baseline not saved: %s %v", b, err)
	}
}
