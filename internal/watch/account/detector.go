// Package account is the watch agent's guard against a stolen
// administrator account: it follows the authentication logs (auth.log,
// secure or the journal, parsed by hunt's authlog) and reports, as they
// happen, a burst of failed logons followed by a success, a privileged
// logon from a source never seen for the account, an administrator
// logon outside working hours, and new authorized_keys and sudoers
// entries (KeyWatcher compares the files themselves).
//
// Detector is pure and streaming; Follow and KeyWatcher do the file I/O.
// Only internal/watch imports it.
package account

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/workhours"
)

// Rule ids.
const (
	RuleBruteForce = "brute-force-success"
	RuleNewSource  = "privileged-logon-new-source"
	RuleOffHours   = "offhours-admin-logon"
	RuleNewKey     = "new-authorized-key"
	RuleNewSudoers = "new-sudoers-entry"
)

// Finding is one account detection.
type Finding struct {
	Rule     string
	Severity incident.Severity
	Title    string
	Summary  string
	Time     time.Time
	Account  string
	Source   string
	Method   string
	First    time.Time
	Count    int
	File     string
	Entry    string
	Log      string
	// Block is the address to block when blocking is on (brute force
	// and privileged logons from a new source).
	Block netip.Addr
}

// Config tunes the detector; zero fields take defaults.
type Config struct {
	// Hours are the working hours for the off-hours rule (Asia/Tokyo,
	// 8 to 19, Monday to Friday by default).
	workhours.Hours
	BurstFailures int
	BurstWindow   time.Duration
	SuccessWindow time.Duration
	// Admins are privileged accounts besides root.
	Admins []string
}

func (c *Config) defaults() {
	if err := c.Hours.Fill(); err != nil { // out-of-range hours: the defaults
		c.Hours = workhours.Hours{Location: c.Location}
		c.Hours.Fill()
	}
	if c.BurstFailures <= 0 {
		c.BurstFailures = 5
	}
	if c.BurstWindow <= 0 {
		c.BurstWindow = 10 * time.Minute
	}
	if c.SuccessWindow <= 0 {
		c.SuccessWindow = 30 * time.Minute
	}
}

// Detector runs the logon rules over a stream of events. It is safe for
// concurrent use.
type Detector struct {
	mu       sync.Mutex
	cfg      Config
	admins   map[string]bool
	failures map[string][]time.Time // by source
	// lastFail is the last failure line per process, to drop PAM's
	// repetition of sshd's line (and the reverse)
	lastFail map[string]failLine
	// sources: account -> source -> last seen (the baseline)
	sources map[string]map[string]time.Time
}

type failLine struct {
	t   time.Time
	pam bool
}

// NewDetector returns a detector with an empty baseline.
func NewDetector(cfg Config) *Detector {
	cfg.defaults()
	d := &Detector{cfg: cfg, admins: map[string]bool{"root": true}, failures: map[string][]time.Time{}, lastFail: map[string]failLine{},
		sources: map[string]map[string]time.Time{}}
	for _, a := range cfg.Admins {
		d.admins[strings.ToLower(a)] = true
	}
	return d
}

// SetAdmins replaces the privileged accounts besides root and the
// configured ones (the members of sudo, wheel and admin, re-read from
// /etc/group).
func (d *Detector) SetAdmins(members []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.admins = map[string]bool{"root": true}
	for _, a := range append(slices.Clone(d.cfg.Admins), members...) {
		d.admins[strings.ToLower(a)] = true
	}
}

// Baseline returns the sources seen per account.
func (d *Detector) Baseline() map[string]map[string]time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]map[string]time.Time, len(d.sources))
	for a, m := range d.sources {
		c := make(map[string]time.Time, len(m))
		for s, t := range m {
			c[s] = t
		}
		out[a] = c
	}
	return out
}

// LoadBaseline merges a saved baseline.
func (d *Detector) LoadBaseline(b map[string]map[string]time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for a, m := range b {
		if d.sources[a] == nil {
			d.sources[a] = map[string]time.Time{}
		}
		for s, t := range m {
			if t.After(d.sources[a][s]) {
				d.sources[a][s] = t
			}
		}
	}
}

// logon is a logon read from an event.
type logon struct {
	account, source, method string
	success, pam            bool
	count                   int
}

// readLogon extracts a logon (sshd, login, PAM failures of those).
func readLogon(ev *hunt.Event) (logon, bool) {
	var l logon
	switch ev.Field("action") {
	case "logon":
		l.success = true
	case "logon_failed":
	case "auth_failure":
		// PAM's line for a failed ssh or console logon; it may repeat
		// sshd's own "Failed password" line (Observe drops the repeat)
		svc := ev.Field("pam_service")
		if svc != "" && svc != "sshd" && svc != "login" {
			return l, false
		}
		if ev.Provider != "sshd" && ev.Provider != "sshd-session" && ev.Provider != "login" {
			return l, false
		}
		l.pam = true
	default:
		return l, false
	}
	l.account, _ = hunt.AccountKey(ev.Field("user"))
	l.source = ev.Field("source_ip")
	if a, err := netip.ParseAddr(l.source); err == nil {
		l.source = a.Unmap().String()
	}
	l.method = ev.Field("method")
	l.count = 1
	if c := ev.Field("count"); c != "" {
		fmt.Sscanf(c, "%d", &l.count)
	}
	return l, true
}

// Learn adds an event to the baseline without reporting anything (the
// history read at start).
func (d *Detector) Learn(ev *hunt.Event) {
	l, ok := readLogon(ev)
	if !ok || !l.success || l.account == "" || l.source == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.see(l.account, l.source, ev.Time)
}

func (d *Detector) see(account, source string, t time.Time) {
	m := d.sources[account]
	if m == nil {
		m = map[string]time.Time{}
		d.sources[account] = m
	}
	if t.After(m[source]) {
		m[source] = t
	}
}

// Observe runs the rules over one event.
func (d *Detector) Observe(ev *hunt.Event) []Finding {
	l, ok := readLogon(ev)
	if !ok || l.account == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !l.success {
		if l.source == "" {
			return nil
		}
		key := ev.Host + "/" + ev.Field("pid") + "/" + l.source
		if prev, ok := d.lastFail[key]; ok && prev.pam != l.pam && ev.Time.Sub(prev.t) < 10*time.Second && ev.Time.Sub(prev.t) > -10*time.Second {
			delete(d.lastFail, key)
			return nil // the same attempt, told twice
		}
		if len(d.lastFail) > 65536 {
			clear(d.lastFail)
		}
		d.lastFail[key] = failLine{ev.Time, l.pam}
		fs := d.failures[l.source]
		cut := ev.Time.Add(-d.cfg.BurstWindow - d.cfg.SuccessWindow)
		for len(fs) > 0 && fs[0].Before(cut) {
			fs = fs[1:]
		}
		for range min(l.count, 1000) {
			fs = append(fs, ev.Time)
		}
		if len(fs) > 4096 {
			fs = fs[len(fs)-4096:]
		}
		d.failures[l.source] = fs
		return nil
	}
	var out []Finding
	base := Finding{Time: ev.Time, Account: l.account, Source: l.source, Method: l.method, Log: ev.Message}
	if f, ok := d.burst(ev, l, base); ok {
		out = append(out, f)
	}
	if d.admins[l.account] {
		if l.source != "" {
			seen := d.sources[l.account]
			if _, known := seen[l.source]; !known {
				f := base
				f.Rule, f.Severity = RuleNewSource, incident.High
				f.Title = "Privileged logon from a source never seen for the account"
				known := make([]string, 0, len(seen))
				for s := range seen {
					known = append(known, s)
				}
				sort.Strings(known)
				if len(known) == 0 {
					f.Severity = incident.Medium
					f.Summary = fmt.Sprintf("%s logged on from %s (%s); no earlier logon of this account is known", l.account, l.source, orDash(l.method))
				} else {
					f.Summary = fmt.Sprintf("%s logged on from %s (%s); known sources: %s", l.account, l.source, orDash(l.method), strings.Join(known[:min(len(known), 8)], ", "))
				}
				f.Block, _ = netip.ParseAddr(l.source)
				out = append(out, f)
			}
		}
		if t := ev.Time.In(d.cfg.Location); !d.cfg.Contains(t) {
			f := base
			f.Rule, f.Severity = RuleOffHours, incident.Medium
			f.Title = "Administrator logon outside working hours"
			f.Summary = fmt.Sprintf("%s logged on at %s %s (%s)", l.account, t.Format("Mon 15:04"), d.cfg.Location, sourceText(l.source))
			out = append(out, f)
		}
	}
	if l.source != "" {
		d.see(l.account, l.source, ev.Time)
	}
	return out
}

func (d *Detector) burst(ev *hunt.Event, l logon, base Finding) (Finding, bool) {
	if l.source == "" {
		return Finding{}, false
	}
	fs := d.failures[l.source]
	// failures at most SuccessWindow before this success, in a burst
	var recent []time.Time
	for _, t := range fs {
		if !t.After(ev.Time) && ev.Time.Sub(t) <= d.cfg.SuccessWindow+d.cfg.BurstWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) < d.cfg.BurstFailures || ev.Time.Sub(recent[len(recent)-1]) > d.cfg.SuccessWindow {
		return Finding{}, false
	}
	// the densest BurstWindow among them
	best := 0
	for i, j := 0, 0; j < len(recent); j++ {
		for recent[j].Sub(recent[i]) > d.cfg.BurstWindow {
			i++
		}
		best = max(best, j-i+1)
	}
	if best < d.cfg.BurstFailures {
		return Finding{}, false
	}
	delete(d.failures, l.source)
	f := base
	f.Rule, f.Severity = RuleBruteForce, incident.Critical
	f.Title = "Logon succeeded after a burst of failures"
	f.Count, f.First = len(recent), recent[0]
	f.Summary = fmt.Sprintf("%s logged on from %s (%s) after %d failed logons from there since %s", l.account, l.source,
		orDash(l.method), len(recent), recent[0].In(d.cfg.Location).Format("15:04:05"))
	f.Block, _ = netip.ParseAddr(l.source)
	return f, true
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sourceText(s string) string {
	if s == "" {
		return "local"
	}
	return "from " + s
}
