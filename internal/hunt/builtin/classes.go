package builtin

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// Channels kintsugi's rules read.
const (
	chSecurity   = "Security"
	chSystem     = "System"
	chSysmon     = "Microsoft-Windows-Sysmon/Operational"
	chPowerShell = "Microsoft-Windows-PowerShell/Operational"
	chPSCore     = "PowerShellCore/Operational"
	chPSClassic  = "Windows PowerShell"
	chRDPConnMgr = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
	chRDPLocal   = "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"
)

// Event classes a "match" rule can name in "on".
const (
	classProcess = "process" // a process start or a script: Sysmon 1, 4688, PowerShell 4103/4104/800, Linux commands
	classService = "service" // a service install: 7045, 4697
	classLinux   = "linux"   // any Linux log line or journal record
)

func knownClass(c string) bool {
	return c == classProcess || c == classService || c == classLinux
}

// classesOf returns the classes ev belongs to.
func classesOf(ev *hunt.Event) []string {
	switch ev.Channel {
	case chSysmon:
		if ev.EventID == 1 {
			return []string{classProcess}
		}
	case chSecurity:
		switch ev.EventID {
		case 4688:
			return []string{classProcess}
		case 4697:
			return []string{classService}
		}
	case chSystem:
		if ev.EventID == 7045 {
			return []string{classService}
		}
	case chPowerShell, chPSCore:
		if ev.EventID == 4104 || ev.EventID == 4103 {
			return []string{classProcess}
		}
	case chPSClassic:
		if ev.EventID == 800 || ev.EventID == 400 {
			return []string{classProcess}
		}
	case "auth", "syslog", "journal", "auditd":
		if ev.Field("command") != "" || ev.Field("cmdline") != "" {
			return []string{classLinux, classProcess}
		}
		return []string{classLinux}
	default:
		// converted events of other shapes: a command line makes a process
		if ev.Field("CommandLine") != "" {
			return []string{classProcess}
		}
	}
	return nil
}

// processFields are read, in this order, into a process event's text.
var processFields = []string{"Image", "NewProcessName", "OriginalFileName",
	"CommandLine", "ScriptBlockText", "Payload", "HostApplication", "command", "cmdline", "exe"}

// metaFields describe the program file (Sysmon's version resource):
// matched only by an alternative's "meta", because words like "process"
// in "Windows Command Processor" would otherwise match command words.
var metaFields = []string{"OriginalFileName", "Description", "Product", "Company"}

// classText is what a rule's substrings are matched against: the
// lowercased values of the fields that carry what was run.
func classText(ev *hunt.Event, class string) string {
	var b strings.Builder
	add := func(s string) {
		if s != "" {
			b.WriteString(strings.ToLower(s))
			b.WriteString(" \x00 ")
		}
	}
	switch class {
	case classProcess:
		for _, f := range processFields {
			add(ev.Field(f))
		}
		if d, ok := ev.Fields["Data"].([]string); ok && ev.Channel == chPSClassic {
			add(strings.Join(d, " "))
		}
		if ev.Channel == "auditd" || ev.Field("audit_type") != "" {
			add(ev.Message)
		}
	case classService:
		add(ev.Field("ServiceName"))
		add(ev.Field("ImagePath"))
		add(ev.Field("ServiceFileName"))
	case classLinux:
		add(ev.Message)
		add(ev.Field("command"))
	default:
		add(ev.Message)
		for _, v := range ev.Fields {
			if s, ok := v.(string); ok {
				add(s)
			}
		}
	}
	return b.String()
}

// baseName returns the lowercased file name of a Windows or Unix path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		p = p[i+1:]
	}
	return strings.ToLower(strings.Trim(p, `" `))
}

func imageOf(ev *hunt.Event) string {
	if s := ev.Field("Image"); s != "" {
		return s
	}
	return ev.Field("NewProcessName")
}

func parentOf(ev *hunt.Event) string {
	if s := ev.Field("ParentImage"); s != "" {
		return s
	}
	return ev.Field("ParentProcessName")
}

// actorOf names the account that ran what an event records.
func actorOf(ev *hunt.Event) string {
	for _, f := range []string{"User", "SubjectUserName", "user", "AccountName"} {
		if s := ev.Field(f); s != "" && s != "-" && !strings.HasSuffix(s, "$") {
			if f == "SubjectUserName" {
				if d := ev.Field("SubjectDomainName"); d != "" && d != "-" {
					return d + `\` + s
				}
			}
			return s
		}
	}
	if ev.EventID == 4688 {
		if s := ev.Field("TargetUserName"); s != "" && s != "-" {
			return s
		}
	}
	return ""
}

// detailsOf writes one line saying what the event records.
func detailsOf(ev *hunt.Event, class string) string {
	var s string
	switch class {
	case classProcess:
		cmd := firstNonEmpty(ev.Field("CommandLine"), ev.Field("ScriptBlockText"), ev.Field("Payload"), ev.Field("command"), ev.Field("cmdline"))
		img := imageOf(ev)
		if p := parentOf(ev); p != "" {
			s = baseName(p) + " -> "
		}
		if img != "" {
			s += img + ": "
		}
		s += cmd
		if cmd == "" && img == "" {
			s = ev.Message
		}
	case classService:
		s = "service " + ev.Field("ServiceName") + ": " + firstNonEmpty(ev.Field("ImagePath"), ev.Field("ServiceFileName"))
		if a := ev.Field("AccountName"); a != "" {
			s += " (as " + a + ")"
		}
	default:
		s = summaryOf(ev)
	}
	return clip(strings.Join(strings.Fields(s), " "), 400)
}

// noisyFields say nothing to a person reading a detection.
var noisyFields = map[string]bool{"Keywords": true, "Level": true, "Opcode": true, "Task": true, "Version": true,
	"Security_UserID": true, "Binary": true, "msg": true, "program": true, "pid": true, "facility": true}

// summaryOf describes an event without a message: its raw line when it
// has one, else its data fields by name.
func summaryOf(ev *hunt.Event) string {
	if ev.Message != "" {
		return ev.Message
	}
	keys := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		if !noisyFields[k] && !strings.HasSuffix(k, "Guid") {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(a, b int) bool {
		pa, pb := slices.Index(firstFields, keys[a]), slices.Index(firstFields, keys[b])
		if pa < 0 {
			pa = len(firstFields)
		}
		if pb < 0 {
			pb = len(firstFields)
		}
		return pa < pb || pa == pb && keys[a] < keys[b]
	})
	var b strings.Builder
	for _, k := range keys {
		v := ev.Field(k)
		if v == "" || v == "-" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(k + "=" + v)
		if b.Len() > 400 {
			break
		}
	}
	if b.Len() == 0 {
		return fmt.Sprintf("event %d in %s", ev.EventID, ev.Channel)
	}
	return b.String()
}

// firstFields lead an event summary: who, to whom, from where.
var firstFields = []string{"TargetUserName", "TargetDomainName", "SubjectUserName", "SubjectDomainName",
	"MemberName", "IpAddress", "WorkstationName", "ServiceName", "ImagePath", "CommandLine"}

// clip cuts s to about n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" && s != "-" {
			return s
		}
	}
	return ""
}
