//go:build linux

package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/watch/account"
	"github.com/kintsugi-ir/kintsugi/internal/watch/alert"
)

// accountState is what the account monitor keeps across restarts.
type accountState struct {
	Sources map[string]map[string]time.Time `json:"sources"`
	Keys    map[string][]string             `json:"keys"`
}

// runAccounts follows the authentication logs and the key files until
// ctx ends.
func (a *Agent) runAccounts(ctx context.Context) error {
	ac := a.cfg.Accounts
	dcfg, err := ac.detectorConfig()
	if err != nil {
		return err
	}
	det := account.NewDetector(dcfg)
	det.SetAdmins(account.AdminMembers("/etc/group", "/etc/passwd"))
	stateFile := filepath.Join(a.cfg.StateDir, "accounts.json")
	var st accountState
	if b, err := os.ReadFile(stateFile); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			a.log.Warn("account state unreadable: baseline starts again", "file", stateFile, "err", err)
		}
	}
	det.LoadBaseline(st.Sources)
	keyFiles := func() []string {
		if len(ac.Keys) > 0 {
			return ac.Keys
		}
		return account.DefaultKeyFiles("/etc/passwd")
	}
	keys := account.NewKeyWatcher(keyFiles, st.Keys)
	save := func() {
		b, _ := json.Marshal(accountState{Sources: det.Baseline(), Keys: keys.State()})
		if err := os.WriteFile(stateFile, b, 0o600); err != nil {
			a.log.Warn("account state not saved", "err", err)
		}
	}
	defer save()

	fl := &account.Follower{Files: ac.Logs, Location: dcfg.Location, Host: a.cfg.Host,
		Errorf: func(f string, args ...any) { a.log.Debug("auth log", "err", fmt.Sprintf(f, args...)) }}
	if len(fl.Files) == 0 {
		for _, p := range []string{"/var/log/auth.log", "/var/log/secure"} {
			if _, err := os.Stat(p); err == nil {
				fl.Files = append(fl.Files, p)
			}
		}
	}
	switch ac.Journal {
	case "yes":
		fl.Journal = true
	case "auto":
		if len(fl.Files) == 0 {
			_, err := exec.LookPath("journalctl")
			fl.Journal = err == nil
		}
	}
	observe := func(ev *hunt.Event) {
		for _, f := range det.Observe(ev) {
			a.accountAlert(ctx, f)
		}
	}
	errc := make(chan error, 1)
	if len(fl.Files) > 0 || fl.Journal {
		go func() { errc <- fl.Run(ctx, det.Learn, observe) }()
	} else {
		a.log.Warn("no authentication log found: logon detections are off (set accounts.logs or accounts.journal)")
	}
	keys.Scan(time.Now()) // learn, or report what changed while the agent was down
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if err != nil {
				a.log.Error("authentication log follower stopped", "err", err)
			}
		case <-tick.C:
			n++
			for _, f := range keys.Scan(time.Now()) {
				a.accountAlert(ctx, f)
			}
			if n%150 == 0 {
				det.SetAdmins(account.AdminMembers("/etc/group", "/etc/passwd"))
				save()
			}
		}
	}
}

// accountAlert sends an account finding, blocking its source when so
// configured.
func (a *Agent) accountAlert(ctx context.Context, f account.Finding) {
	now := time.Now()
	al := &alert.Alert{Schema: alert.Schema, ID: alert.NewID(now), Time: f.Time, Host: a.cfg.Host, Kind: alert.KindAccount,
		Rule: f.Rule, Severity: f.Severity, Title: f.Title, Summary: f.Summary, User: f.Account,
		Account: &alert.Account{Account: f.Account, Source: f.Source, Method: f.Method, First: f.First, Count: f.Count,
			File: f.File, Entry: f.Entry, Log: f.Log}}
	if al.Time.IsZero() {
		al.Time = now
	}
	if a.cfg.Accounts.Block && f.Block.IsValid() {
		al.Action = &alert.Action{}
		if err := a.nft.Block(ctx, f.Block, a.cfg.Accounts.BlockFor); err != nil {
			al.Action.Errors = append(al.Action.Errors, "block: "+err.Error())
		} else {
			al.Action.Blocked = f.Block.String()
		}
	}
	a.send(al)
}
