package correlate

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/authlog"
	"github.com/kintsugi-ir/kintsugi/internal/hunt/builtin"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

func read(t *testing.T, path string) []*hunt.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*hunt.Event
	for _, f := range []hunt.Format{authlog.JSONL{}, authlog.Syslog{}} {
		if f.Sniff(b) {
			_, err := f.Decode(context.Background(), &hunt.Input{Path: path, R: bytes.NewReader(b),
				YearRef: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC), Location: time.UTC},
				func(e *hunt.Event) error { evs = append(evs, e); return nil })
			if err != nil {
				t.Fatal(err)
			}
			return evs
		}
	}
	t.Fatalf("%s: unknown format", path)
	return nil
}

func hostOf(t *testing.T, r *Result, name string) Host {
	t.Helper()
	for _, h := range r.Hosts {
		if h.Host == name {
			return h
		}
	}
	t.Fatalf("no host %s in %+v", name, r.Hosts)
	return Host{}
}

// TestScenario runs the built-ins over the fixtures of one attack (an
// admin account used on four servers off-hours, exfiltration and
// encryption on fs01, an SSH brute force on web01, a log cleared by its
// owner on ws05) plus scan's damage on nas03, and checks the report table.
func TestScenario(t *testing.T) {
	var evs []*hunt.Event
	for _, f := range []string{"logons.jsonl", "exfil.jsonl", "ransomware.jsonl", "defender.jsonl", "auth-bruteforce.log"} {
		evs = append(evs, read(t, "../builtin/testdata/"+f)...)
	}
	e, err := builtin.New(builtin.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var ds []hunt.Detection
	cov := map[string]*Coverage{}
	for _, ev := range evs {
		e.Observe(ev, func(d hunt.Detection) { ds = append(ds, d) })
		c := cov[ev.Host]
		if c == nil {
			c = &Coverage{Host: ev.Host}
			cov[ev.Host] = c
		}
		c.Events++
	}
	ds = append(ds, e.Finish(ds)...)
	in := Input{Detections: ds, Logons: e.Logons(),
		Damage: []Damage{{Host: "NAS03", Files: 1200, Examples: []string{"/srv/media/a.mov"}, First: time.Date(2024, 3, 9, 19, 0, 0, 0, time.UTC), Last: time.Date(2024, 3, 9, 20, 0, 0, 0, time.UTC)}}}
	for _, c := range cov {
		in.Coverage = append(in.Coverage, *c)
	}
	r := Correlate(in)

	type row struct{ accessed, encrypted, exfiltrated bool }
	want := map[string]row{
		"fs01": {true, true, true}, "fs02": {true, false, false}, "nas03": {true, true, false},
		"render04": {true, false, false}, "web01": {true, false, false}, "ws05": {false, false, false},
	}
	if len(r.Hosts) != len(want) {
		t.Errorf("hosts = %d, want %d: %+v", len(r.Hosts), len(want), r.Hosts)
	}
	for name, w := range want {
		h := hostOf(t, r, name)
		got := row{h.Accessed.Value, h.Encrypted.Value, h.Exfiltrated.Value}
		if got != w {
			t.Errorf("%s: %+v, want %+v (accessed: %s; encrypted: %s; exfiltrated: %s)", name, got, w, h.Accessed.Reason, h.Encrypted.Reason, h.Exfiltrated.Reason)
		}
		if w.accessed && (h.Accessed.Reason == "" || len(h.Accessed.Evidence) == 0 || h.Accessed.Time.IsZero()) {
			t.Errorf("%s: accessed without evidence: %+v", name, h.Accessed)
		}
		if h.EvidenceCount > 0 && (h.FirstSeen.IsZero() || h.LastSeen.Before(h.FirstSeen)) {
			t.Errorf("%s: first/last seen %v %v", name, h.FirstSeen, h.LastSeen)
		}
	}
	fs01 := hostOf(t, r, "fs01")
	if fs01.Accessed.Account == "" || !strings.Contains(strings.Join(fs01.Exfiltrated.Tools, ","), "rclone") ||
		!strings.Contains(strings.Join(fs01.Exfiltrated.Destinations, ","), "mega.co.nz") {
		t.Errorf("fs01 cells: %+v / %+v", fs01.Accessed, fs01.Exfiltrated)
	}
	if n := hostOf(t, r, "nas03"); n.Encrypted.Count != 1200 || !strings.Contains(n.Encrypted.Reason, "scan found 1200 encrypted") {
		t.Errorf("nas03 encrypted from damage: %+v", n.Encrypted)
	}
	if w := hostOf(t, r, "ws05"); w.EvidenceCount != 1 || w.LogEvents != 1 {
		t.Errorf("ws05 = %+v: the clear is evidence, not a verdict", w)
	}
	if r.FirstHost != "web01" || r.FirstAccess == nil || r.FirstAccess.Account != "deploy" || r.FirstAccess.Source != "203.0.113.7" {
		t.Errorf("first host = %s %+v, want web01 by deploy from 203.0.113.7", r.FirstHost, r.FirstAccess)
	}
	var adminHosts []string
	for _, e := range r.Edges {
		if e.Account == "admin" {
			adminHosts = append(adminHosts, e.Host)
			if !e.Suspicious || !e.Privileged {
				t.Errorf("edge %+v: want suspicious and privileged", e)
			}
		}
	}
	if strings.Join(adminHosts, ",") != "fs01,fs02,nas03,render04" {
		t.Errorf("admin's edges = %v", adminHosts)
	}
	for i := 1; i < len(r.Timeline); i++ {
		if r.Timeline[i].Time.Before(r.Timeline[i-1].Time) {
			t.Fatal("timeline out of order")
		}
	}
}

func TestVerdictRules(t *testing.T) {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	d := func(host, rule string, cat hunt.Category, sev incident.Severity, ch string, id int) hunt.Detection {
		return hunt.Detection{RuleID: rule, Title: rule, Engine: "sigma", Host: host, Category: cat, Severity: sev, Time: at,
			Event: hunt.EventRef{Channel: ch, EventID: id, Source: "x"}}
	}
	builtinMedium := d("h", "new-source-logon", hunt.CatAccess, incident.Medium, "Security", 4624)
	builtinMedium.Engine = "builtin"
	tests := []struct {
		name string
		d    hunt.Detection
		want [3]bool
	}{
		{"built-in access medium", builtinMedium, [3]bool{true, false, false}},
		{"failed logons alone", d("h", "failed-logon-burst", hunt.CatAttempt, incident.High, "auth", 0), [3]bool{}},
		{"sigma log clear", d("h", "x", hunt.CatEvasion, incident.High, "Security", 1102), [3]bool{}},
		{"sigma access medium", d("h", "x", hunt.CatAccess, incident.Medium, "Security", 4624), [3]bool{}},
		{"sigma access high", d("h", "x", hunt.CatAccess, incident.High, "Security", 4624), [3]bool{true, false, false}},
		{"other medium", d("h", "x", hunt.CatOther, incident.Medium, "Security", 4688), [3]bool{}},
		{"other high", d("h", "x", hunt.CatOther, incident.High, "Security", 4688), [3]bool{true, false, false}},
		{"encryption", d("h", "x", hunt.CatEncryption, incident.High, "Sysmon", 11), [3]bool{true, true, false}},
		{"browser to cloud", d("h", "x", hunt.CatExfiltration, incident.Medium, "Sysmon", 22), [3]bool{}},
		{"exfil tool", d("h", "x", hunt.CatExfiltration, incident.High, "Sysmon", 1), [3]bool{true, false, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := Correlate(Input{Detections: []hunt.Detection{tc.d}}).Hosts[0]
			got := [3]bool{h.Accessed.Value, h.Encrypted.Value, h.Exfiltrated.Value}
			if got != tc.want || h.EvidenceCount != 1 {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTimelineCSV(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	ds := []hunt.Detection{{Time: time.Date(2024, 3, 9, 17, 5, 0, 0, time.UTC), Host: "FS01", Title: "Exfiltration tool run",
		RuleID: "exfil-tool", Engine: "builtin", Severity: incident.High, Details: "rclone copy x remote:", Account: "=cmd|' /C calc'!A0",
		Event: hunt.EventRef{Channel: "Microsoft-Windows-Sysmon/Operational", EventID: 1, RecordID: 42, Source: "a.evtx"}}}
	var buf bytes.Buffer
	if err := WriteTimelineCSV(&buf, ds, jst); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0][:7], ",") != "Timestamp,Computer,Channel,EventID,Level,RuleTitle,Details" {
		t.Errorf("header = %v", rows[0])
	}
	if rows[1][0] != "2024-03-10 02:05:00.000 +09:00" || rows[1][3] != "1" || rows[1][7] != "42" || !strings.HasPrefix(rows[1][12], "'=") {
		t.Errorf("row = %v", rows[1])
	}
}

func TestDamageOnly(t *testing.T) {
	r := Correlate(Input{Damage: []Damage{
		{Host: "FS09", Notes: 2, NoteExamples: []string{"/share/README_TO_DECRYPT.txt"}},
		{Host: "fs10", Files: 0},
	}})
	if len(r.Hosts) != 1 {
		t.Fatalf("hosts = %+v, want only fs09 (no evidence for fs10)", r.Hosts)
	}
	h := r.Hosts[0]
	if h.Host != "fs09" || !h.Encrypted.Value || h.Accessed.Value || h.Encrypted.Count != 2 ||
		!strings.Contains(h.Encrypted.Reason, "scan found 2 ransom note(s) (e.g. /share/README_TO_DECRYPT.txt)") {
		t.Errorf("fs09 = %+v", h)
	}
}
