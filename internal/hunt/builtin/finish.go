package builtin

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// adminGroups are groups whose new members hold administrative power, by
// name (English and Japanese Windows) and by well-known SID or RID.
var adminGroupNames = []string{"administrators", "domain admins", "enterprise admins", "schema admins",
	"backup operators", "account operators", "server operators", "remote desktop users", "dnsadmins",
	"group policy creator owners", "remote management users", "hyper-v administrators",
	"administradores", "administrateurs", "administratoren", "管理者", "domain-admins"}

func isAdminGroup(name, sid string) bool {
	n := strings.ToLower(name)
	for _, g := range adminGroupNames {
		if n == g {
			return true
		}
	}
	switch sid {
	case "S-1-5-32-544", "S-1-5-32-551", "S-1-5-32-548", "S-1-5-32-549", "S-1-5-32-555", "S-1-5-32-580":
		return true
	}
	for _, rid := range []string{"-512", "-518", "-519"} {
		if strings.HasPrefix(sid, "S-1-5-21-") && strings.HasSuffix(sid, rid) {
			return true
		}
	}
	return false
}

func (e *Engine) adminGroupAdd(ev *hunt.Event) (hunt.Detection, bool) {
	group, sid := ev.Field("TargetUserName"), ev.Field("TargetSid")
	if !isAdminGroup(group, sid) {
		return hunt.Detection{}, false
	}
	d := e.byID["admin-group-add"].detection(ev)
	d.Account = actorOf(ev)
	member := firstNonEmpty(ev.Field("MemberName"), ev.Field("MemberSid"))
	d.Details = fmt.Sprintf("%s added to %s by %s", member, firstNonEmpty(group, sid), firstNonEmpty(d.Account, "?"))
	return d, true
}

// cloudDomains are file-sharing and cloud-storage services used to take
// data out, by domain suffix, with the name shown.
var cloudDomains = []struct{ suffix, name string }{
	{"mega.nz", "MEGA"}, {"mega.co.nz", "MEGA"}, {"mega.io", "MEGA"}, {"megaupload.com", "MEGA"},
	{"dropbox.com", "Dropbox"}, {"dropboxapi.com", "Dropbox"}, {"dropboxusercontent.com", "Dropbox"},
	{"drive.google.com", "Google Drive"}, {"docs.googleusercontent.com", "Google Drive"},
	{"storage.googleapis.com", "Google Cloud Storage"}, {"onedrive.live.com", "OneDrive"},
	{"api.onedrive.com", "OneDrive"}, {"1drv.ms", "OneDrive"}, {"1drv.com", "OneDrive"},
	{"s3.amazonaws.com", "Amazon S3"}, {"blob.core.windows.net", "Azure Blob"},
	{"box.com", "Box"}, {"boxcloud.com", "Box"}, {"pcloud.com", "pCloud"}, {"wetransfer.com", "WeTransfer"},
	{"transfer.sh", "transfer.sh"}, {"file.io", "file.io"}, {"gofile.io", "Gofile"}, {"sendspace.com", "SendSpace"},
	{"mediafire.com", "MediaFire"}, {"anonfiles.com", "AnonFiles"}, {"temp.sh", "temp.sh"},
	{"bashupload.com", "bashupload"}, {"catbox.moe", "Catbox"}, {"filemail.com", "Filemail"},
	{"ufile.io", "Ufile"}, {"4shared.com", "4shared"}, {"yandex.disk", "Yandex Disk"}, {"disk.yandex.ru", "Yandex Disk"},
	{"pixeldrain.com", "Pixeldrain"}, {"put.io", "Put.io"}, {"backblazeb2.com", "Backblaze B2"},
	{"wasabisys.com", "Wasabi"}, {"storj.io", "Storj"}, {"filebin.net", "Filebin"}, {"ngrok.io", "ngrok tunnel"},
	{"ngrok-free.app", "ngrok tunnel"}, {"firestorage.jp", "firestorage"}, {"gigafile.nu", "GigaFile"},
}

// browsers reach cloud storage in ordinary work: their connections are
// reported at lower severity than a tool's or a script's.
var browsers = []string{"chrome.exe", "msedge.exe", "firefox.exe", "iexplore.exe", "opera.exe", "brave.exe", "microsoftedgecp.exe", "dropbox.exe", "onedrive.exe", "googledrivesync.exe", "googledrivefs.exe"}

func cloudService(host string) (string, bool) {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(host), "."))
	if h == "" {
		return "", false
	}
	for _, c := range cloudDomains {
		if h == c.suffix || strings.HasSuffix(h, "."+c.suffix) {
			return c.name, true
		}
	}
	return "", false
}

func (e *Engine) cloudDestination(ev *hunt.Event) (hunt.Detection, bool) {
	dest := ev.Field("QueryName")
	if ev.EventID == 3 {
		dest = ev.Field("DestinationHostname")
	}
	name, ok := cloudService(dest)
	if !ok {
		return hunt.Detection{}, false
	}
	d := e.byID["cloud-storage-destination"].detection(ev)
	img := imageOf(ev)
	d.Account = actorOf(ev)
	d.Destination = dest
	d.Tool = baseName(img)
	d.Details = fmt.Sprintf("%s reached %s (%s)", firstNonEmpty(img, "a process"), dest, name)
	if ip := ev.Field("DestinationIp"); ip != "" {
		d.Details += " at " + ip
	}
	if slices.Contains(browsers, baseName(img)) {
		d.Severity = incident.Medium
		d.Context = "a browser or sync client: ordinary use is possible"
	}
	return d, true
}

// Finish runs the stateful rules over everything observed. others are
// the detections produced so far by every engine (Sigma and the built-in
// match rules): the context a log clear is judged in.
func (e *Engine) Finish(others []hunt.Detection) []hunt.Detection {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state
	for i := range s.logons {
		l := &s.logons[i]
		if l.logonID != 0 && s.priv[privKey{hunt.HostKey(l.Host), l.logonID}] || l.elevated && l.Kind != "other" {
			l.Privileged = true
		}
	}
	sort.SliceStable(s.logons, func(a, b int) bool { return s.logons[a].Time.Before(s.logons[b].Time) })
	var out []hunt.Detection
	out = append(out, e.privilegedLogons()...)
	out = append(out, e.rdpLogons()...)
	out = append(out, e.manyHosts()...)
	out = append(out, e.newSources()...)
	out = append(out, e.explicitCreds()...)
	out = append(out, e.bursts()...)
	out = append(out, e.offHours()...)
	out = append(out, e.serviceStops()...)
	out = append(out, e.ransomNotes()...)
	out = append(out, e.massEncryption()...)
	out = append(out, e.logClears(append(slices.Clip(others), out...))...)
	return out
}

// Logons returns the logons observed, privileged ones marked (after
// Finish), in time order.
func (e *Engine) Logons() []hunt.Logon {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]hunt.Logon, 0, len(e.state.logons))
	for _, l := range e.state.logons {
		out = append(out, l.Logon)
	}
	return out
}

// aggregate folds detections with the same key into one with a count.
type aggregate struct {
	order []string
	byKey map[string]*hunt.Detection
}

func (a *aggregate) add(key string, d hunt.Detection) {
	if a.byKey == nil {
		a.byKey = map[string]*hunt.Detection{}
	}
	if old, ok := a.byKey[key]; ok {
		old.Count += max(d.Count, 1)
		if d.Time.After(old.Last) {
			old.Last = d.Time
		}
		return
	}
	if d.Count == 0 {
		d.Count = 1
	}
	d.Last = d.Time
	a.byKey[key] = &d
	a.order = append(a.order, key)
}

func (a *aggregate) list() []hunt.Detection {
	out := make([]hunt.Detection, 0, len(a.order))
	for _, k := range a.order {
		out = append(out, *a.byKey[k])
	}
	return out
}

func (e *Engine) logonDetection(id string, l *logonRec) hunt.Detection {
	r := e.byID[id]
	return hunt.Detection{RuleID: r.ID, Title: r.Title, Engine: "builtin", Severity: r.Severity,
		Category: r.Category, Techniques: r.Techniques, Time: l.Time, Host: l.Host,
		Account: l.Account, Source: l.Source, Count: 1, Event: l.Event}
}

func describe(l *logonRec) string {
	s := fmt.Sprintf("%s logon by %s", l.Kind, l.Account)
	if l.LogonType != 0 {
		s = fmt.Sprintf("%s logon (type %d) by %s", l.Kind, l.LogonType, l.Account)
	}
	if l.Source != "" {
		s += " from " + l.Source
	}
	return s + " to " + l.Host
}

func remoteKind(k string) bool { return k == "network" || k == "rdp" || k == "ssh" }

func (e *Engine) privilegedLogons() []hunt.Detection {
	var agg aggregate
	for i := range e.state.logons {
		l := &e.state.logons[i]
		if !l.Success || !l.Privileged || (l.Kind != "interactive" && !remoteKind(l.Kind)) {
			continue
		}
		d := e.logonDetection("privileged-logon", l)
		d.Details = "privileged " + describe(l)
		if !remoteSource(l.Source, l.Host) {
			d.Severity = incident.Info
		}
		agg.add(strings.Join([]string{hunt.HostKey(l.Host), l.Account, l.Source}, "\x00"), d)
	}
	return agg.list()
}

func (e *Engine) rdpLogons() []hunt.Detection {
	var agg aggregate
	for i := range e.state.logons {
		l := &e.state.logons[i]
		if !l.Success || l.Kind != "rdp" {
			continue
		}
		d := e.logonDetection("rdp-logon", l)
		d.Details = describe(l)
		if l.Privileged {
			d.Details = "privileged " + d.Details
		}
		agg.add(strings.Join([]string{hunt.HostKey(l.Host), l.Account, l.Source}, "\x00"), d)
	}
	return agg.list()
}

// reachedHost is the host an account reached with a logon: the target of
// an explicit-credential logon, else the host that logged it.
func reachedHost(l *logonRec) string {
	if l.Kind == "explicit" {
		t := hunt.HostKey(l.Target)
		if t == "" || t == "localhost" || t == hunt.HostKey(l.Host) {
			return ""
		}
		return t
	}
	if !remoteKind(l.Kind) && l.Kind != "interactive" {
		return ""
	}
	return hunt.HostKey(l.Host)
}

func (e *Engine) manyHosts() []hunt.Detection {
	byAccount := map[string][]*logonRec{}
	var accounts []string
	for i := range e.state.logons {
		l := &e.state.logons[i]
		if !l.Success || reachedHost(l) == "" || l.Kind == "interactive" && !remoteSource(l.Source, l.Host) {
			continue
		}
		if _, ok := byAccount[l.Account]; !ok {
			accounts = append(accounts, l.Account)
		}
		byAccount[l.Account] = append(byAccount[l.Account], l)
	}
	var out []hunt.Detection
	for _, acct := range accounts {
		ls := byAccount[acct]
		// the first window in which the account reached ManyHosts hosts
		// decides; every host it reached within that window gets evidence
		for start := 0; start < len(ls); start++ {
			first := map[string]*logonRec{}
			var order []string
			for j := start; j < len(ls) && ls[j].Time.Sub(ls[start].Time) <= e.cfg.ManyHostsWindow; j++ {
				h := reachedHost(ls[j])
				if _, ok := first[h]; !ok {
					first[h] = ls[j]
					order = append(order, h)
				}
			}
			if len(order) < e.cfg.ManyHosts {
				continue
			}
			for _, h := range order {
				l := first[h]
				d := e.logonDetection("account-many-hosts", l)
				d.Host = h
				if l.Kind == "explicit" {
					d.Source = hunt.HostKey(l.Host)
				}
				d.Details = fmt.Sprintf("%s reached %d hosts within %s: %s", acct, len(order), e.cfg.ManyHostsWindow, strings.Join(order, ", "))
				out = append(out, d)
			}
			break
		}
	}
	return out
}

// newSources reports network, RDP and SSH logons from a source the
// account never used before, once the account has a baseline: it was
// seen at least NewSourceBaseline before, and within the 30 days before
// (a sighting years earlier says nothing about today's habits).
func (e *Engine) newSources() []hunt.Detection {
	const horizon = 30 * 24 * time.Hour
	firstSeen := map[string]time.Time{}
	lastSeen := map[string]time.Time{}
	sources := map[string]map[string]bool{}
	var agg aggregate
	for i := range e.state.logons {
		l := &e.state.logons[i]
		if !l.Success || l.Kind == "explicit" || l.Kind == "validation" {
			continue
		}
		prevLast, known := lastSeen[l.Account]
		if !known || l.Time.Sub(prevLast) > horizon {
			// no baseline, or a stale one: start again from here
			firstSeen[l.Account] = l.Time
			sources[l.Account] = map[string]bool{}
		}
		lastSeen[l.Account] = l.Time
		src := l.Source
		if !remoteSource(src, l.Host) || sources[l.Account][src] {
			continue
		}
		sources[l.Account][src] = true
		if !remoteKind(l.Kind) || l.Time.Sub(firstSeen[l.Account]) < e.cfg.NewSourceBaseline {
			continue
		}
		d := e.logonDetection("new-source-logon", l)
		d.Details = fmt.Sprintf("%s; %s was first seen %s earlier, never from %s", describe(l), l.Account, l.Time.Sub(firstSeen[l.Account]).Round(time.Minute), src)
		if l.Privileged {
			d.Severity = incident.High
		}
		agg.add(hunt.HostKey(l.Host)+"\x00"+l.Account+"\x00"+src, d)
	}
	return agg.list()
}

func (e *Engine) explicitCreds() []hunt.Detection {
	var agg aggregate
	for i := range e.state.logons {
		l := &e.state.logons[i]
		if l.Kind != "explicit" || reachedHost(l) == "" {
			continue
		}
		d := e.logonDetection("explicit-credentials", l)
		d.Source = hunt.HostKey(l.Host)
		d.Details = fmt.Sprintf("%s used the credentials of %s on %s to reach %s", firstNonEmpty(l.Source, "?"), l.Account, l.Host, l.Target)
		agg.add(strings.Join([]string{hunt.HostKey(l.Host), l.Source, l.Account, hunt.HostKey(l.Target)}, "\x00"), d)
	}
	return agg.list()
}

// bursts finds failed-logon bursts per source and a success from the same
// source after them.
func (e *Engine) bursts() []hunt.Detection {
	type key struct{ host, src string }
	fails := map[key][]*logonRec{}
	pams := map[key][]*logonRec{}
	succ := map[string][]*logonRec{} // by source
	var keys []key
	for i := range e.state.logons {
		l := &e.state.logons[i]
		if l.Source == "" || l.Kind == "explicit" {
			continue
		}
		if l.Success {
			succ[l.Source] = append(succ[l.Source], l)
			continue
		}
		k := key{hunt.HostKey(l.Host), l.Source}
		if _, ok := fails[k]; !ok {
			if _, ok := pams[k]; !ok {
				keys = append(keys, k)
			}
		}
		if l.pam {
			pams[k] = append(pams[k], l)
		} else {
			fails[k] = append(fails[k], l)
		}
	}
	var out []hunt.Detection
	for _, k := range keys {
		ls := fails[k]
		if len(ls) == 0 {
			ls = pams[k] // only PAM lines were logged for this source
		}
		for i := 0; i < len(ls); {
			// grow a burst while failures keep coming within BurstWindow
			j, n := i, ls[i].count
			for j+1 < len(ls) && ls[j+1].Time.Sub(ls[j].Time) <= e.cfg.BurstWindow {
				j++
				n += ls[j].count
			}
			if n < e.cfg.BurstFailures {
				i = j + 1
				continue
			}
			accounts := map[string]bool{}
			var names []string
			for _, l := range ls[i : j+1] {
				if !accounts[l.Account] {
					accounts[l.Account] = true
					names = append(names, l.Account)
				}
			}
			d := e.logonDetection("failed-logon-burst", ls[i])
			d.Count, d.Last = n, ls[j].Time
			d.Account = strings.Join(names[:min(len(names), 5)], ",")
			d.Details = fmt.Sprintf("%d failed logons from %s on %s in %s, %d account(s): %s", n, k.src, ls[i].Host, ls[j].Time.Sub(ls[i].Time).Round(time.Second), len(names), strings.Join(names[:min(len(names), 10)], ", "))
			out = append(out, d)
			// a success from the same source during or soon after the burst
			for _, s := range succ[k.src] {
				if s.Time.Before(ls[i].Time) || s.Time.Sub(ls[j].Time) > e.cfg.SuccessWindow {
					continue
				}
				b := e.logonDetection("brute-force-success", s)
				b.Details = fmt.Sprintf("%s after %d failed logons from %s (%s to %s)", describe(s), n, k.src,
					ls[i].Time.Format(time.RFC3339), ls[j].Time.Format(time.RFC3339))
				out = append(out, b)
				break
			}
			i = j + 1
		}
	}
	return out
}

func (e *Engine) offHours() []hunt.Detection {
	var agg aggregate
	for i := range e.state.logons {
		l := &e.state.logons[i]
		if !l.Success || !l.Privileged || (l.Kind != "interactive" && !remoteKind(l.Kind)) {
			continue
		}
		t := l.Time.In(e.cfg.Location)
		if e.cfg.Contains(t) {
			continue
		}
		d := e.logonDetection("offhours-admin-logon", l)
		d.Details = fmt.Sprintf("privileged %s at %s (%s, outside %02d:00-%02d:00 on working days)", describe(l),
			t.Format("Mon 2006-01-02 15:04 MST"), e.cfg.Location, e.cfg.WorkStart, e.cfg.WorkEnd)
		agg.add(strings.Join([]string{hunt.HostKey(l.Host), l.Account, l.Source, t.Format("2006-01-02")}, "\x00"), d)
	}
	return agg.list()
}

// serviceStops reports hosts where many distinct services were stopped
// in a short time: by commands (10 services in 10 minutes), or as state
// changes (15 in 5 minutes) with no shutdown nearby.
func (e *Engine) serviceStops() []hunt.Detection {
	byHost := map[string][]stopRec{}
	var hosts []string
	for _, s := range e.state.stops {
		k := hunt.HostKey(s.host)
		if _, ok := byHost[k]; !ok {
			hosts = append(hosts, k)
		}
		byHost[k] = append(byHost[k], s)
	}
	var out []hunt.Detection
	for _, h := range hosts {
		ss := byHost[h]
		sort.SliceStable(ss, func(a, b int) bool { return ss[a].time.Before(ss[b].time) })
		for _, byCommand := range []bool{true, false} {
			need, window := 10, 10*time.Minute
			if !byCommand {
				need, window = 15, 5*time.Minute
			}
			var sel []stopRec
			for _, s := range ss {
				if s.command == byCommand {
					sel = append(sel, s)
				}
			}
			for i := 0; i < len(sel); i++ {
				names := map[string]bool{}
				var list []string
				j := i
				for ; j < len(sel) && sel[j].time.Sub(sel[i].time) <= window; j++ {
					n := strings.ToLower(sel[j].service)
					if !names[n] {
						names[n] = true
						list = append(list, sel[j].service)
					}
				}
				if len(list) < need {
					continue
				}
				if !byCommand && e.nearShutdown(h, sel[i].time, sel[j-1].time) {
					break
				}
				r := e.byID["mass-service-stop"]
				how := "stopped"
				if byCommand {
					how = "stopped by commands"
				}
				d := hunt.Detection{RuleID: r.ID, Title: r.Title, Engine: "builtin", Severity: r.Severity,
					Category: r.Category, Techniques: r.Techniques, Time: sel[i].time, Last: sel[j-1].time,
					Host: sel[i].host, Account: sel[i].account, Count: len(list), Event: sel[i].ref,
					Details: fmt.Sprintf("%d services %s within %s: %s", len(list), how, sel[j-1].time.Sub(sel[i].time).Round(time.Second), clip(strings.Join(list, ", "), 300))}
				if !byCommand {
					d.Severity = incident.Medium
					d.Context = "no shutdown or restart was logged around it"
				}
				out = append(out, d)
				break
			}
		}
	}
	return out
}

func (e *Engine) nearShutdown(host string, from, to time.Time) bool {
	for _, t := range e.state.shutdowns[host] {
		if !t.Before(from.Add(-15*time.Minute)) && !t.After(to.Add(15*time.Minute)) {
			return true
		}
	}
	return false
}

// noteWords are the words ransom notes are named with.
var noteWords = []string{"readme", "read_me", "read-me", "read me", "how_to", "how-to", "howto", "how to",
	"decrypt", "restore", "recover", "ransom", "instruction", "unlock", "your_files", "your files",
	"files_encrypted", "encrypted", "help_", "_help", "!!!", "attention", "復元", "復号"}

var noteExts = []string{".txt", ".html", ".htm", ".hta", ".rtf", ".url", ".png", ".jpg", ".bmp", ".pdf", ""}

func looksLikeNote(name string) bool {
	n := strings.ToLower(name)
	if !slices.Contains(noteExts, path.Ext(n)) {
		return false
	}
	for _, w := range noteWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// ransomNotes reports a note-like file name written into three or more
// folders within an hour.
func (e *Engine) ransomNotes() []hunt.Detection {
	type key struct{ host, name string }
	groups := map[key][]fileRec{}
	var keys []key
	for _, f := range e.state.files {
		if !looksLikeNote(f.name) {
			continue
		}
		k := key{hunt.HostKey(f.host), strings.ToLower(f.name)}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	var out []hunt.Detection
	for _, k := range keys {
		fs := groups[k]
		sort.SliceStable(fs, func(a, b int) bool { return fs[a].time.Before(fs[b].time) })
		for i := range fs {
			dirs := map[string]bool{}
			j := i
			for ; j < len(fs) && fs[j].time.Sub(fs[i].time) <= time.Hour; j++ {
				dirs[fs[j].dir] = true
			}
			if len(dirs) < 3 {
				continue
			}
			r := e.byID["ransom-note"]
			out = append(out, hunt.Detection{RuleID: r.ID, Title: r.Title, Engine: "builtin", Severity: r.Severity,
				Category: r.Category, Techniques: r.Techniques, Time: fs[i].time, Last: fs[j-1].time, Host: fs[i].host,
				Count: j - i, Event: fs[i].ref, Tool: baseName(fs[i].image),
				Details: fmt.Sprintf("%s written in %d folders by %s", fs[i].name, len(dirs), firstNonEmpty(fs[i].image, "?"))})
			break
		}
	}
	return out
}

// commonExts are extensions ordinary programs write in bulk; a burst of
// files with one of them is not taken for encryption.
var commonExts = []string{".tmp", ".log", ".dll", ".exe", ".txt", ".xml", ".json", ".dat", ".etl", ".pf", ".lnk",
	".ini", ".cab", ".msi", ".mui", ".png", ".jpg", ".gif", ".js", ".css", ".html", ".htm", ".db", ".sqlite",
	".jar", ".class", ".py", ".pyc", ".go", ".h", ".c", ".manifest", ".cat", ".sys", ".ps1", ".psm1", ".bin", ""}

// massEncryption reports one process writing many files whose names end
// in one uncommon extension appended to an ordinary one ("report.docx.lockbit").
func (e *Engine) massEncryption() []hunt.Detection {
	type key struct{ host, image, ext string }
	groups := map[key][]fileRec{}
	var keys []key
	for _, f := range e.state.files {
		n := strings.ToLower(f.name)
		ext := path.Ext(n)
		inner := path.Ext(strings.TrimSuffix(n, ext))
		if ext == "" || slices.Contains(commonExts, ext) || inner == "" || len(inner) > 6 {
			continue
		}
		k := key{hunt.HostKey(f.host), strings.ToLower(f.image), ext}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	var out []hunt.Detection
	for _, k := range keys {
		fs := groups[k]
		sort.SliceStable(fs, func(a, b int) bool { return fs[a].time.Before(fs[b].time) })
		for i := range fs {
			j := i
			for j < len(fs) && fs[j].time.Sub(fs[i].time) <= 10*time.Minute {
				j++
			}
			if j-i < 20 {
				continue
			}
			r := e.byID["mass-file-encryption"]
			out = append(out, hunt.Detection{RuleID: r.ID, Title: r.Title, Engine: "builtin", Severity: r.Severity,
				Category: r.Category, Techniques: r.Techniques, Time: fs[i].time, Last: fs[j-1].time, Host: fs[i].host,
				Count: j - i, Event: fs[i].ref, Tool: baseName(fs[i].image),
				Details: fmt.Sprintf("%d files renamed to *%s by %s within %s (e.g. %s)", j-i, k.ext, firstNonEmpty(fs[i].image, "?"), fs[j-1].time.Sub(fs[i].time).Round(time.Second), fs[i].name)})
			break
		}
	}
	return out
}

// logClears judges each cleared log by what came before it on the same
// host: after suspicious activity it is the attacker covering tracks
// (high); before any recorded activity it is most likely an
// administrator, or a sample's author, starting a clean log (low).
func (e *Engine) logClears(context []hunt.Detection) []hunt.Detection {
	// accounts implicated by access detections, with when
	suspicious := map[string][]time.Time{}
	for _, d := range context {
		if d.Category == hunt.CatAccess && d.Severity.Rank() >= incident.High.Rank() && d.Account != "" {
			for _, a := range strings.Split(d.Account, ",") {
				acct, _ := hunt.AccountKey(a)
				suspicious[acct] = append(suspicious[acct], d.Time)
			}
		}
	}
	r := e.byID["log-cleared"]
	var out []hunt.Detection
	for _, c := range e.state.clears {
		host := hunt.HostKey(c.ev.Host)
		var before []hunt.Detection
		for _, d := range context {
			if hunt.HostKey(d.Host) != host || d.Severity.Rank() < incident.Medium.Rank() || IsLogClear(d) {
				continue
			}
			if d.Time.Before(c.ev.Time) && c.ev.Time.Sub(d.Time) <= e.cfg.ClearContext {
				before = append(before, d)
			}
		}
		d := hunt.Detection{RuleID: r.ID, Title: r.Title, Engine: "builtin", Severity: r.Severity,
			Category: r.Category, Techniques: r.Techniques, Time: c.ev.Time, Host: c.ev.Host,
			Account: c.account, Count: 1, Event: c.ev.Ref(),
			Details: fmt.Sprintf("%s log cleared by %s", c.log, firstNonEmpty(c.account, "?"))}
		acct, _ := hunt.AccountKey(c.account)
		switch {
		case len(before) > 0:
			sort.Slice(before, func(a, b int) bool { return before[a].Time.Before(before[b].Time) })
			d.Context = fmt.Sprintf("cleared after %d suspicious detection(s) on this host within %s, first: %s at %s",
				len(before), e.cfg.ClearContext, before[0].Title, before[0].Time.Format(time.RFC3339))
		case slices.ContainsFunc(suspicious[acct], func(t time.Time) bool {
			return t.Before(c.ev.Time) && c.ev.Time.Sub(t) <= e.cfg.ClearContext
		}):
			d.Context = "cleared by " + c.account + ", an account implicated in suspicious logons shortly before"
		default:
			d.Severity = incident.Low
			d.Context = "cleared before any recorded suspicious activity on this host: consistent with an administrator (or a sample's author) starting a clean log"
		}
		out = append(out, d)
	}
	return out
}

// IsLogClear reports whether d is about a cleared event log (built-in or
// Sigma): such detections are judged by log-cleared's context, not taken
// alone as proof of an attack.
func IsLogClear(d hunt.Detection) bool {
	if d.RuleID == "log-cleared" {
		return true
	}
	return (d.Event.EventID == 1102 && d.Event.Channel == chSecurity) ||
		(d.Event.EventID == 104 && d.Event.Channel == chSystem)
}
