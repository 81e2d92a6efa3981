package builtin

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// statefulIDs are the rules implemented in Go (declared "stateful" in
// rules.yaml; New checks that the two lists agree).
var statefulIDs = []string{
	"privileged-logon", "account-many-hosts", "new-source-logon", "explicit-credentials",
	"failed-logon-burst", "brute-force-success", "offhours-admin-logon", "rdp-logon",
	"admin-group-add", "log-cleared", "mass-service-stop", "ransom-note",
	"mass-file-encryption", "cloud-storage-destination",
}

// state is what Observe keeps for Finish: compact records of the events
// the stateful rules read.
type state struct {
	logons    []logonRec
	priv      map[privKey]bool // 4672 by host and logon id
	clears    []clearRec
	stops     []stopRec
	shutdowns map[string][]time.Time // host key -> shutdown markers
	files     []fileRec
}

func (s *state) init() {
	s.priv = map[privKey]bool{}
	s.shutdowns = map[string][]time.Time{}
}

type privKey struct {
	host    string
	logonID uint64
}

type logonRec struct {
	hunt.Logon
	logonID  uint64
	elevated bool
	count    int  // failures this record stands for ("message repeated N times")
	pam      bool // a PAM failure line, which may repeat an sshd "Failed" line
}

type clearRec struct {
	ev      hunt.Event // without Fields
	account string
	log     string
}

type stopRec struct {
	host    string
	service string
	time    time.Time
	command bool // stopped by a command line, not a 7036 state change
	ref     hunt.EventRef
	account string
}

type fileRec struct {
	host, image, dir, name string
	time                   time.Time
	ref                    hunt.EventRef
}

// observeState keeps what the stateful rules need from ev and emits the
// Go rules decided by ev alone.
func (e *Engine) observeState(ev *hunt.Event, classes []string, texts map[string]string, emit func(hunt.Detection)) {
	switch ev.Channel {
	case chSecurity:
		switch ev.EventID {
		case 4624, 4625:
			e.keepLogon(winLogon(ev))
		case 4771, 4776:
			if l, ok := kerberosNTLM(ev); ok {
				e.keepLogon(l)
			}
		case 4648:
			e.keepLogon(explicitLogon(ev))
		case 4672:
			if id, ok := parseLogonID(ev.Field("SubjectLogonId")); ok {
				e.mu.Lock()
				e.state.priv[privKey{hunt.HostKey(ev.Host), id}] = true
				e.mu.Unlock()
			}
		case 4728, 4732, 4756:
			if d, ok := e.adminGroupAdd(ev); ok {
				emit(d)
			}
		case 1102:
			e.keepClear(ev, "Security")
		}
	case chSystem:
		switch ev.EventID {
		case 104:
			if strings.EqualFold(ev.Provider, "Microsoft-Windows-Eventlog") || ev.Provider == "" {
				e.keepClear(ev, firstNonEmpty(ev.Field("Channel"), "System"))
			}
		case 7036:
			if svc, stopped := serviceState(ev); stopped {
				e.mu.Lock()
				e.state.stops = append(e.state.stops, stopRec{host: ev.Host, service: svc, time: ev.Time, ref: ev.Ref()})
				e.mu.Unlock()
			}
		case 1074, 6006, 6008, 13:
			e.mu.Lock()
			k := hunt.HostKey(ev.Host)
			e.state.shutdowns[k] = append(e.state.shutdowns[k], ev.Time)
			e.mu.Unlock()
		}
	case chSysmon:
		switch ev.EventID {
		case 3, 22:
			if d, ok := e.cloudDestination(ev); ok {
				emit(d)
			}
		case 11:
			if p := ev.Field("TargetFilename"); p != "" {
				dir, name := splitPath(p)
				e.mu.Lock()
				e.state.files = append(e.state.files, fileRec{host: ev.Host, image: imageOf(ev), dir: dir, name: name, time: ev.Time, ref: ev.Ref()})
				e.mu.Unlock()
			}
		}
	case chRDPConnMgr:
		if ev.EventID == 1149 {
			e.keepLogon(rdpLogon(ev, ev.Field("Param1"), ev.Field("Param2"), ev.Field("Param3")))
		}
	case chRDPLocal:
		if ev.EventID == 21 || ev.EventID == 25 {
			acct, dom := hunt.AccountKey(ev.Field("User"))
			e.keepLogon(rdpLogon(ev, acct, dom, ev.Field("Address")))
		}
	case "auth", "syslog", "journal":
		if l, ok := linuxLogon(ev); ok {
			e.keepLogon(l)
		}
	}
	for _, c := range classes {
		if c == classProcess {
			for _, svc := range stopCommandServices(textFor(ev, classProcess, texts)) {
				e.mu.Lock()
				e.state.stops = append(e.state.stops, stopRec{host: ev.Host, service: svc, time: ev.Time, command: true, ref: ev.Ref(), account: actorOf(ev)})
				e.mu.Unlock()
			}
			break
		}
	}
}

func (e *Engine) keepLogon(l logonRec) {
	if l.Account == "" || skipAccount(l.Account) {
		return
	}
	e.mu.Lock()
	e.state.logons = append(e.state.logons, l)
	e.mu.Unlock()
}

func (e *Engine) keepClear(ev *hunt.Event, log string) {
	c := clearRec{ev: *ev, log: log, account: firstNonEmpty(ev.Field("SubjectUserName"), ev.Field("SubjectUser"))}
	c.ev.Fields = nil
	e.mu.Lock()
	e.state.clears = append(e.state.clears, c)
	e.mu.Unlock()
}

// logonKinds maps Windows logon types to the graph's kinds.
func logonKind(t int) string {
	switch t {
	case 2, 11, 7:
		return "interactive"
	case 3, 8:
		return "network"
	case 10, 12:
		return "rdp"
	case 9:
		return "new_credentials"
	}
	return "other"
}

func winLogon(ev *hunt.Event) logonRec {
	acct, _ := hunt.AccountKey(ev.Field("TargetUserName"))
	t, _ := strconv.Atoi(ev.Field("LogonType"))
	l := logonRec{Logon: hunt.Logon{
		Time: ev.Time, Host: ev.Host, Account: acct, Domain: ev.Field("TargetDomainName"),
		Source: sourceOf(ev.Field("IpAddress"), ev.Field("WorkstationName")), LogonType: t,
		Kind: logonKind(t), Success: ev.EventID == 4624, Event: ev.Ref(),
	}, count: 1}
	l.logonID, _ = parseLogonID(ev.Field("TargetLogonId"))
	l.elevated = ev.Field("ElevatedToken") == "%%1842"
	return l
}

// kerberosNTLM reads a Kerberos pre-authentication failure (4771) or an
// NTLM credential validation (4776) as a logon attempt at the DC.
func kerberosNTLM(ev *hunt.Event) (logonRec, bool) {
	acct, _ := hunt.AccountKey(ev.Field("TargetUserName"))
	status := strings.ToLower(ev.Field("Status"))
	ok := status == "0x0" || status == "0"
	if ev.EventID == 4771 && ok {
		return logonRec{}, false
	}
	return logonRec{Logon: hunt.Logon{
		Time: ev.Time, Host: ev.Host, Account: acct,
		Source: sourceOf(ev.Field("IpAddress"), ev.Field("Workstation")),
		Kind:   "validation", Success: ok, Event: ev.Ref(),
	}, count: 1}, true
}

func explicitLogon(ev *hunt.Event) logonRec {
	acct, _ := hunt.AccountKey(ev.Field("TargetUserName"))
	subj, _ := hunt.AccountKey(ev.Field("SubjectUserName"))
	return logonRec{Logon: hunt.Logon{
		Time: ev.Time, Host: ev.Host, Account: acct, Domain: ev.Field("TargetDomainName"),
		Source: subj, Target: ev.Field("TargetServerName"), Kind: "explicit", Success: true, Event: ev.Ref(),
	}, count: 1}
}

func rdpLogon(ev *hunt.Event, user, domain, addr string) logonRec {
	acct, dom := hunt.AccountKey(user)
	if domain != "" {
		dom = domain
	}
	return logonRec{Logon: hunt.Logon{
		Time: ev.Time, Host: ev.Host, Account: acct, Domain: dom, Source: sourceOf(addr, ""),
		Kind: "rdp", LogonType: 10, Success: true, Event: ev.Ref(),
	}, count: 1}
}

// linuxLogon reads sshd's (and PAM's) successes and failures.
func linuxLogon(ev *hunt.Event) (logonRec, bool) {
	action := ev.Field("action")
	var success, pam bool
	switch action {
	case "logon":
		success = true
	case "logon_failed":
	case "auth_failure":
		pam = true
		if svc := ev.Field("pam_service"); svc != "" && svc != "sshd" && svc != "login" {
			return logonRec{}, false
		}
		if ev.Provider != "sshd" && ev.Provider != "login" && ev.Provider != "sshd-session" {
			return logonRec{}, false
		}
	default:
		return logonRec{}, false
	}
	acct, _ := hunt.AccountKey(ev.Field("user"))
	if acct == "" {
		acct = "(unknown)"
	}
	count := 1
	if c, err := strconv.Atoi(ev.Field("count")); err == nil && c > 0 {
		count = c
	}
	return logonRec{Logon: hunt.Logon{
		Time: ev.Time, Host: ev.Host, Account: acct,
		Source: sourceOf(ev.Field("source_ip"), ev.Field("source_host")),
		Kind:   "ssh", Success: success, Privileged: success && acct == "root", Event: ev.Ref(),
	}, count: count, pam: pam}, true
}

// sourceOf picks the remote address, else the workstation name.
func sourceOf(ip, workstation string) string {
	ip = strings.TrimSpace(ip)
	if ip != "" && ip != "-" {
		if a, err := netip.ParseAddr(strings.Trim(ip, "[]")); err == nil {
			return a.Unmap().String()
		}
		return ip
	}
	workstation = strings.TrimPrefix(strings.TrimSpace(workstation), `\\`)
	if workstation == "-" {
		return ""
	}
	return strings.ToLower(workstation)
}

// remoteSource reports whether src names another machine than host.
func remoteSource(src, host string) bool {
	if src == "" || src == "-" || src == "localhost" {
		return false
	}
	if a, err := netip.ParseAddr(src); err == nil {
		return !a.IsLoopback() && !a.IsUnspecified()
	}
	return hunt.HostKey(src) != hunt.HostKey(host)
}

// skipAccount leaves out machine accounts and the system's own logons.
func skipAccount(a string) bool {
	if strings.HasSuffix(a, "$") {
		return true
	}
	switch a {
	case "-", "system", "local service", "network service", "anonymous logon", "localservice", "networkservice", "iusr":
		return true
	}
	return strings.HasPrefix(a, "dwm-") || strings.HasPrefix(a, "umfd-") || strings.HasPrefix(a, "font driver host") || strings.HasPrefix(a, "window manager")
}

// parseLogonID reads "0x3e7" or "999".
func parseLogonID(s string) (uint64, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, false
	}
	var v uint64
	var err error
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		v, err = strconv.ParseUint(h, 16, 64)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	return v, err == nil
}

// serviceState reads a 7036 state change: which service, and whether it
// stopped. The Binary field ("<ServiceName>/<state>" in UTF-16) is read
// first because param2 is in the system's language.
func serviceState(ev *hunt.Event) (string, bool) {
	name := ev.Field("param1")
	if b, err := hex.DecodeString(ev.Field("Binary")); err == nil && len(b) >= 4 {
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
		}
		s := strings.TrimRight(string(utf16.Decode(u)), "\x00")
		if svc, st, ok := strings.Cut(s, "/"); ok {
			return firstNonEmpty(svc, name), st == "1"
		}
	}
	st := strings.ToLower(ev.Field("param2"))
	return name, st == "stopped" || st == "停止" || strings.HasPrefix(st, "arr") || st == "beendet"
}

// stopCommandServices returns the services a command line stops or
// disables (net stop X, sc stop X, Stop-Service X, sc config X start=
// disabled, taskkill /im X).
func stopCommandServices(text string) []string {
	if !strings.Contains(text, "stop") && !strings.Contains(text, "taskkill") && !strings.Contains(text, "disabled") {
		return nil
	}
	var out []string
	for _, seg := range strings.FieldsFunc(text, func(r rune) bool { return r == '&' || r == '|' || r == ';' || r == '\x00' || r == '\n' }) {
		f := strings.Fields(strings.ReplaceAll(seg, `"`, " "))
		for i := 0; i+2 < len(f)+1 && i < len(f); i++ {
			w := baseName(f[i])
			w = strings.TrimSuffix(w, ".exe")
			next := func(k int) string {
				if i+k < len(f) {
					return f[i+k]
				}
				return ""
			}
			switch {
			case (w == "net" || w == "net1" || w == "sc") && next(1) == "stop" && next(2) != "":
				out = append(out, next(2))
			case w == "sc" && next(1) == "config" && strings.Contains(seg, "disabled") && next(2) != "":
				out = append(out, next(2))
			case w == "stop-service" && next(1) != "":
				n := next(1)
				if strings.HasPrefix(n, "-") && next(2) != "" {
					n = next(2)
				}
				out = append(out, n)
			case w == "taskkill":
				for k := 1; i+k+1 < len(f); k++ {
					if f[i+k] == "/im" || f[i+k] == "-im" {
						out = append(out, f[i+k+1])
					}
				}
			}
		}
	}
	return out
}

func splitPath(p string) (dir, name string) {
	i := strings.LastIndexAny(p, `\/`)
	if i < 0 {
		return "", p
	}
	return strings.ToLower(p[:i]), p[i+1:]
}
