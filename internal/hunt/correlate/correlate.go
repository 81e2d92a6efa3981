// Package correlate turns hunt detections and logons into what a
// responder reports: a verdict per host (accessed, encrypted,
// exfiltrated) with the evidence behind each cell, the account x host x
// time graph, the first host the attacker reached, and one merged
// timeline. Encryption is also taken from scan's damage findings for the
// same host.
//
// It does no I/O: the hunt command gives it detections, logons, log
// coverage and damage evidence read from the case store.
package correlate

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// Input is everything correlation reads.
type Input struct {
	Detections []hunt.Detection
	Logons     []hunt.Logon
	// Coverage says which hosts' logs were read, and over what period.
	Coverage []Coverage
	// Damage is scan's evidence of encrypted files, per host.
	Damage []Damage
}

// Coverage is one host's logs as read.
type Coverage struct {
	Host   string    `json:"host"`
	Events int64     `json:"events"`
	First  time.Time `json:"first,omitzero"`
	Last   time.Time `json:"last,omitzero"`
}

// Damage is scan's evidence that files of a host were encrypted.
type Damage struct {
	Host string `json:"host"`
	// Files is the number of files scan judged encrypted.
	Files int `json:"files"`
	// Examples are a few of their paths.
	Examples []string `json:"examples,omitempty"`
	// Notes is the number of ransom notes scan found by their content;
	// NoteExamples a few of their paths.
	Notes        int      `json:"notes,omitempty"`
	NoteExamples []string `json:"note_examples,omitempty"`
	// First and Last bound the files' modification times, when known.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// Evidence is one detection behind a verdict cell, kept short.
type Evidence struct {
	Time     time.Time         `json:"time"`
	RuleID   string            `json:"rule_id"`
	Title    string            `json:"title"`
	Engine   string            `json:"engine"`
	Severity incident.Severity `json:"severity"`
	Account  string            `json:"account,omitempty"`
	Source   string            `json:"source,omitempty"`
	Details  string            `json:"details"`
	Event    hunt.EventRef     `json:"event"`
}

// maxCellEvidence caps the evidence listed under one cell; the count is
// always complete.
const maxCellEvidence = 20

// Cell is one verdict of one host, with why.
type Cell struct {
	Value bool `json:"value"`
	// Reason is one line for the report.
	Reason string `json:"reason,omitempty"`
	// Time is the first evidence; Account and Source who and where from
	// (for "accessed": the first suspicious logon).
	Time    time.Time `json:"time,omitzero"`
	Account string    `json:"account,omitempty"`
	Source  string    `json:"source,omitempty"`
	// Via is the title of the detection that named Account and Source.
	Via string `json:"via,omitempty"`
	// Tools, Destinations and Bytes describe exfiltration.
	Tools        []string `json:"tools,omitempty"`
	Destinations []string `json:"destinations,omitempty"`
	Bytes        int64    `json:"bytes,omitempty"`
	// Count is the number of detections (or encrypted files) behind it.
	Count    int        `json:"count,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Host is one server's verdicts.
type Host struct {
	// Host is the merge key (hunt.HostKey); Names the names it appeared
	// under.
	Host        string   `json:"host"`
	Names       []string `json:"names,omitempty"`
	Accessed    Cell     `json:"accessed"`
	Encrypted   Cell     `json:"encrypted"`
	Exfiltrated Cell     `json:"exfiltrated"`
	// FirstSeen and LastSeen bound the evidence (detections and damage).
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// EvidenceCount is the number of detections on the host.
	EvidenceCount int               `json:"evidence_count"`
	MaxSeverity   incident.Severity `json:"max_severity,omitempty"`
	// Logs say what was read for this host.
	LogEvents int64     `json:"log_events"`
	LogsFrom  time.Time `json:"logs_from,omitzero"`
	LogsTo    time.Time `json:"logs_to,omitzero"`
}

// Edge is one account reaching one host from one source.
type Edge struct {
	Account    string    `json:"account"`
	Host       string    `json:"host"`
	Source     string    `json:"source,omitempty"`
	Kinds      []string  `json:"kinds"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	Count      int       `json:"count"`
	Privileged bool      `json:"privileged,omitempty"`
	// Suspicious marks edges of accounts implicated by access detections
	// of high severity or worse.
	Suspicious bool `json:"suspicious,omitempty"`
}

// Result is the correlation.
type Result struct {
	Hosts []Host `json:"hosts"`
	// FirstHost is the host with the earliest access; FirstAccess that
	// access.
	FirstHost   string `json:"first_host,omitempty"`
	FirstAccess *Cell  `json:"first_access,omitempty"`
	Edges       []Edge `json:"edges"`
	// Timeline is every detection, oldest first.
	Timeline []hunt.Detection `json:"-"`
}

// Correlate builds the verdicts, graph and timeline.
func Correlate(in Input) *Result {
	res := &Result{}
	hosts := map[string]*Host{}
	get := func(name string) *Host {
		k := hunt.HostKey(name)
		if k == "" {
			k = "(unknown)"
		}
		h, ok := hosts[k]
		if !ok {
			h = &Host{Host: k}
			hosts[k] = h
		}
		if name != "" && !slices.Contains(h.Names, name) && len(h.Names) < 8 {
			h.Names = append(h.Names, name)
		}
		return h
	}
	for _, c := range in.Coverage {
		h := get(c.Host)
		h.LogEvents += c.Events
		h.LogsFrom = earliest(h.LogsFrom, c.First)
		h.LogsTo = latest(h.LogsTo, c.Last)
	}

	ds := slices.Clone(in.Detections)
	sort.SliceStable(ds, func(a, b int) bool { return ds[a].Time.Before(ds[b].Time) })
	res.Timeline = ds
	for i := range ds {
		d := &ds[i]
		h := get(d.Host)
		h.EvidenceCount++
		h.FirstSeen = earliest(h.FirstSeen, d.Time)
		h.LastSeen = latest(h.LastSeen, maxTime(d.Time, d.Last))
		if d.Severity.Rank() > h.MaxSeverity.Rank() {
			h.MaxSeverity = d.Severity
		}
		if accessEvidence(d) {
			addAccess(&h.Accessed, d)
		}
		if d.Category == hunt.CatEncryption && d.Severity.Rank() >= incident.Medium.Rank() {
			add(&h.Encrypted, d)
		}
		if d.Category == hunt.CatExfiltration && d.Severity.Rank() >= incident.High.Rank() {
			add(&h.Exfiltrated, d)
			if d.Tool != "" && !slices.Contains(h.Exfiltrated.Tools, d.Tool) {
				h.Exfiltrated.Tools = append(h.Exfiltrated.Tools, d.Tool)
			}
			if d.Destination != "" && !slices.Contains(h.Exfiltrated.Destinations, d.Destination) {
				h.Exfiltrated.Destinations = append(h.Exfiltrated.Destinations, d.Destination)
			}
			h.Exfiltrated.Bytes += d.Bytes
		}
	}
	for _, dm := range in.Damage {
		if dm.Files <= 0 && dm.Notes <= 0 {
			continue
		}
		h := get(dm.Host)
		c := &h.Encrypted
		c.Value = true
		c.Count += dm.Files + dm.Notes
		if !dm.First.IsZero() {
			h.FirstSeen = earliest(h.FirstSeen, dm.First)
			h.LastSeen = latest(h.LastSeen, dm.Last)
			c.Time = earliest(c.Time, dm.First)
		}
		var parts []string
		if dm.Files > 0 {
			parts = append(parts, fmt.Sprintf("scan found %d encrypted file(s)%s", dm.Files, example(dm.Examples)))
		}
		if dm.Notes > 0 {
			parts = append(parts, fmt.Sprintf("scan found %d ransom note(s)%s", dm.Notes, example(dm.NoteExamples)))
		}
		scan := strings.Join(parts, "; ")
		if c.Reason == "" {
			c.Reason = scan
		} else {
			c.Reason += "; " + scan
		}
	}
	for _, h := range hosts {
		finishReasons(h)
		res.Hosts = append(res.Hosts, *h)
	}
	sort.Slice(res.Hosts, func(a, b int) bool {
		ha, hb := res.Hosts[a], res.Hosts[b]
		if ha.Accessed.Value != hb.Accessed.Value {
			return ha.Accessed.Value
		}
		if !ha.Accessed.Time.Equal(hb.Accessed.Time) {
			return ha.Accessed.Time.Before(hb.Accessed.Time)
		}
		return ha.Host < hb.Host
	})
	for i := range res.Hosts {
		h := &res.Hosts[i]
		if h.Accessed.Value && (res.FirstAccess == nil || h.Accessed.Time.Before(res.FirstAccess.Time)) {
			res.FirstHost = h.Host
			res.FirstAccess = &h.Accessed
		}
	}
	res.Edges = edges(in.Logons, ds)
	return res
}

// accessEvidence decides which detections make a host "accessed": the
// built-ins' access, lateral movement, remote execution and privilege
// changes of medium severity or worse, and anything of high severity or
// worse (Sigma's medium rules fire on too much ordinary administration to
// decide alone). Failed logons do not (nobody got in); a cleared log
// counts only when the built-in judged it in context (after suspicious
// activity), because many logs are cleared by their owners before
// anything happens.
func accessEvidence(d *hunt.Detection) bool {
	if d.Category == hunt.CatAttempt {
		return false
	}
	if isLogClear(d) {
		return d.RuleID == "log-cleared" && d.Engine == "builtin" && d.Severity.Rank() >= incident.High.Rank()
	}
	if d.Engine != "builtin" {
		return d.Severity.Rank() >= incident.High.Rank()
	}
	switch d.Category {
	case hunt.CatAccess, hunt.CatExecution, hunt.CatPrivilege:
		return d.Severity.Rank() >= incident.Medium.Rank()
	}
	return d.Severity.Rank() >= incident.High.Rank()
}

func isLogClear(d *hunt.Detection) bool {
	return d.RuleID == "log-cleared" ||
		(d.Event.EventID == 1102 && d.Event.Channel == "Security") ||
		(d.Event.EventID == 104 && d.Event.Channel == "System")
}

func add(c *Cell, d *hunt.Detection) {
	c.Value = true
	c.Count++
	if c.Time.IsZero() || d.Time.Before(c.Time) {
		c.Time = d.Time
	}
	if len(c.Evidence) < maxCellEvidence {
		c.Evidence = append(c.Evidence, evidenceOf(d))
	}
}

// addAccess records access evidence; the first logon-like detection
// (with an account) names who got in and from where.
func addAccess(c *Cell, d *hunt.Detection) {
	add(c, d)
	if d.Account == "" {
		return
	}
	logonLike := d.Category == hunt.CatAccess
	prevLogon := c.Account != "" && c.Reason == "logon"
	switch {
	case c.Account == "":
	case logonLike && !prevLogon:
	default:
		return
	}
	c.Account, c.Source, c.Via = d.Account, d.Source, d.Title
	if logonLike {
		c.Reason = "logon"
	}
}

func finishReasons(h *Host) {
	if a := &h.Accessed; a.Value {
		first := a.Evidence[0]
		who := ""
		if a.Account != "" {
			who = "; " + a.Account
			if a.Source != "" {
				who += " from " + a.Source
			}
			who += " (" + a.Via + ")"
		}
		a.Reason = fmt.Sprintf("%s at %s%s; %d detection(s)", first.Title, first.Time.UTC().Format(time.RFC3339), who, a.Count)
	}
	if e := &h.Encrypted; e.Value && len(e.Evidence) > 0 {
		r := fmt.Sprintf("%s at %s", e.Evidence[0].Title, e.Evidence[0].Time.UTC().Format(time.RFC3339))
		if e.Reason != "" {
			r += "; " + e.Reason
		}
		e.Reason = r
	}
	if x := &h.Exfiltrated; x.Value {
		r := x.Evidence[0].Title
		if len(x.Tools) > 0 {
			r += "; tools: " + strings.Join(x.Tools, ", ")
		}
		if len(x.Destinations) > 0 {
			r += "; destinations: " + strings.Join(x.Destinations, ", ")
		}
		if x.Bytes > 0 {
			r += fmt.Sprintf("; %d bytes", x.Bytes)
		} else {
			r += "; volume not in the logs"
		}
		x.Reason = r
	}
}

func example(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	return " (e.g. " + paths[0] + ")"
}

func evidenceOf(d *hunt.Detection) Evidence {
	return Evidence{Time: d.Time, RuleID: d.RuleID, Title: d.Title, Engine: d.Engine, Severity: d.Severity,
		Account: d.Account, Source: d.Source, Details: d.Details, Event: d.Event}
}

// edges aggregates successful logons into the account x host graph.
func edges(logons []hunt.Logon, ds []hunt.Detection) []Edge {
	suspicious := map[string]bool{}
	for _, d := range ds {
		if d.Category == hunt.CatAccess && d.Severity.Rank() >= incident.High.Rank() && d.Account != "" {
			for _, a := range strings.Split(d.Account, ",") {
				k, _ := hunt.AccountKey(a)
				suspicious[k] = true
			}
		}
	}
	type key struct{ account, host, source string }
	m := map[key]*Edge{}
	var order []key
	for _, l := range logons {
		if !l.Success || l.Kind == "validation" {
			continue
		}
		host := hunt.HostKey(l.Host)
		src := l.Source
		if l.Kind == "explicit" {
			host, src = hunt.HostKey(l.Target), hunt.HostKey(l.Host)
			if host == "" || host == "localhost" || host == src {
				continue
			}
		}
		k := key{l.Account, host, src}
		e, ok := m[k]
		if !ok {
			e = &Edge{Account: l.Account, Host: host, Source: src, First: l.Time, Last: l.Time, Suspicious: suspicious[l.Account]}
			m[k] = e
			order = append(order, k)
		}
		e.Count++
		e.First = earliest(e.First, l.Time)
		e.Last = latest(e.Last, l.Time)
		e.Privileged = e.Privileged || l.Privileged
		if !slices.Contains(e.Kinds, l.Kind) {
			e.Kinds = append(e.Kinds, l.Kind)
		}
	}
	out := make([]Edge, 0, len(order))
	for _, k := range order {
		out = append(out, *m[k])
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Suspicious != out[b].Suspicious {
			return out[a].Suspicious
		}
		if out[a].Account != out[b].Account {
			return out[a].Account < out[b].Account
		}
		return out[a].First.Before(out[b].First)
	})
	return out
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time { return latest(a, b) }
