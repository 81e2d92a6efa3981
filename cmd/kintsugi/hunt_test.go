package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/casestore"
	"github.com/kintsugi-ir/kintsugi/internal/casestore/sqlite"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
)

// runBin runs the binary built by TestMain without a case from the
// environment: each test names its case with --case or uses --no-store.
func runBin(t *testing.T, args ...string) result {
	t.Helper()
	return kintsugi(t, []string{"KINTSUGI_CASE="}, args...)
}

// shared returns ../shared/data/<rel>, skipping when absent.
func shared(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data absent (%s): %v", p, err)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func jsonlRecords(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestHuntAttackSamples(t *testing.T) {
	samples := shared(t, "evtx-attack-samples")
	dir := t.TempDir()
	db := filepath.Join(dir, "case.db")
	tl := filepath.Join(dir, "timeline.csv")
	r := runBin(t, "--case", db, "hunt", "--timeline", tl, samples)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (found); stderr: %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "HOST") || !strings.Contains(r.stdout, "ACCESSED") || !strings.Contains(r.stdout, "first host reached:") {
		t.Errorf("table:\n%s", r.stdout)
	}
	f, err := os.Open(tl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 10 || strings.Join(rows[0][:7], ",") != "Timestamp,Computer,Channel,EventID,Level,RuleTitle,Details" {
		t.Errorf("timeline: %d rows, header %v", len(rows), rows[0])
	}

	h := runBin(t, "--case", db, "hosts", "--format", "jsonl")
	if h.code != 1 {
		t.Fatalf("hosts exit %d, want 1; stderr %s", h.code, h.stderr)
	}
	recs := jsonlRecords(t, h.stdout)
	accessed := 0
	for _, rec := range recs {
		for _, k := range []string{"host", "accessed", "encrypted", "exfiltrated", "first_seen", "last_seen", "evidence_count"} {
			if _, ok := rec[k]; !ok {
				t.Fatalf("host record without %s: %v", k, rec)
			}
		}
		for _, k := range []string{"accessed", "encrypted", "exfiltrated"} {
			if _, ok := rec[k].(bool); !ok {
				t.Fatalf("%s is not a boolean: %v", k, rec)
			}
		}
		if rec["accessed"] == true {
			accessed++
		}
	}
	if len(recs) < 10 || accessed < 5 {
		t.Errorf("%d hosts, %d accessed", len(recs), accessed)
	}
	ht := runBin(t, "--case", db, "hosts")
	if !strings.Contains(ht.stdout, "pc01") || !strings.Contains(ht.stdout, "hosts:") {
		t.Errorf("hosts table:\n%s", ht.stdout)
	}
}

func TestHuntLinuxAuth(t *testing.T) {
	p := shared(t, "linux-auth/OpenSSH/OpenSSH_2k.log")
	r := runBin(t, "hunt", "--no-store", "--format", "jsonl", p)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; %s", r.code, r.stderr)
	}
	var burst, host bool
	for _, rec := range jsonlRecords(t, r.stdout) {
		switch rec["type"] {
		case "detection":
			if rec["rule_id"] == "failed-logon-burst" && rec["host"] == "LabSZ" {
				burst = true
			}
		case "host":
			if rec["host"] == "labsz" {
				host = true
			}
		}
	}
	if !burst || !host {
		t.Errorf("burst %v, host %v in:\n%.2000s", burst, host, r.stdout)
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHuntScenario: the built-in fixtures of one attack, collected one
// folder per server, plus scan's finding of encrypted files on nas03 in
// the same case.
func TestHuntScenario(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "collected")
	fix := filepath.Join("..", "..", "internal", "hunt", "builtin", "testdata")
	for _, f := range []string{"logons.jsonl", "exfil.jsonl", "ransomware.jsonl", "defender.jsonl"} {
		b, err := os.ReadFile(filepath.Join(fix, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(logs, "windows", f), b)
	}
	auth, err := os.ReadFile(filepath.Join(fix, "auth-bruteforce.log"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(auth)
	zw.Close()
	writeFile(t, filepath.Join(logs, "web01", "var", "log", "auth.log.1.gz"), gz.Bytes())
	now := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)
	os.Chtimes(filepath.Join(logs, "web01", "var", "log", "auth.log.1.gz"), now, now)

	db := filepath.Join(dir, "case.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Host(ctx, "NAS03")
	if err != nil {
		t.Fatal(err)
	}
	err = s.PutFiles(ctx, []casestore.FileRecord{{HostID: h.ID, Path: []byte("/srv/media/shot.mov"), Verdict: incident.Encrypted,
		Reason: "encrypted: no valid MP4 structure", ScannedAt: now, Findings: []incident.Finding{{Detector: "damage", Verdict: incident.Encrypted, Reason: "x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	r := runBin(t, "--case", db, "hunt", "--format", "jsonl", logs)
	if r.code != 1 {
		t.Fatalf("exit %d; %s", r.code, r.stderr)
	}
	got := map[string][3]bool{}
	for _, rec := range jsonlRecords(t, r.stdout) {
		if rec["type"] == "host" {
			got[rec["host"].(string)] = [3]bool{rec["accessed"].(bool), rec["encrypted"].(bool), rec["exfiltrated"].(bool)}
		}
	}
	want := map[string][3]bool{
		"fs01": {true, true, true}, "fs02": {true, false, false}, "nas03": {true, true, false},
		"render04": {true, false, false}, "web01": {true, false, false}, "ws05": {false, false, false},
	}
	for host, w := range want {
		if got[host] != w {
			t.Errorf("%s: %v, want %v", host, got[host], w)
		}
	}
	hosts := runBin(t, "--case", db, "hosts", "--format", "jsonl")
	for _, rec := range jsonlRecords(t, hosts.stdout) {
		if rec["host"] == "nas03" && (rec["encrypted"] != true || rec["accessed"] != true || rec["scanned"] != true || rec["hunted"] != true) {
			t.Errorf("nas03 in hosts: %v", rec)
		}
	}
	table := runBin(t, "--case", db, "hunt", "--no-store", logs)
	if !strings.Contains(table.stdout, "first host reached: web01") || !strings.Contains(table.stdout, "account admin logged on to 4 host(s)") {
		t.Errorf("table output:\n%s", table.stdout)
	}
}

func TestHuntExitCodes(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean", "auth.log")
	writeFile(t, clean, []byte("Mar  4 10:00:00 web09 sshd[1]: Accepted publickey for alice from 192.0.2.10 port 50000 ssh2: ED25519 SHA256:x\n"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for range 3000 {
		zw.Write([]byte("Mar  4 10:00:00 web09 sshd[1]: Connection closed by 192.0.2.10 port 50000 [preauth]\n"))
	}
	zw.Close()
	cut := filepath.Join(dir, "cut", "secure.gz")
	writeFile(t, cut, gz.Bytes()[:gz.Len()/2])

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"nothing found", []string{"hunt", "--no-store", clean}, 0, ""},
		{"damaged file", []string{"hunt", "--no-store", cut}, 1, "not fully read"},
		{"missing path", []string{"hunt", "--no-store", filepath.Join(dir, "nope")}, 1, "nope"},
		{"bad format", []string{"hunt", "--no-store", "--format", "xml", clean}, 2, "--format"},
		{"bad zone", []string{"hunt", "--no-store", "--tz", "Mars/Olympus", clean}, 2, "--tz"},
		{"bad hours", []string{"hunt", "--no-store", "--work-hours", "19-8", clean}, 2, "--work-hours"},
		{"no path", []string{"hunt"}, 2, ""},
		{"bad sigma dir", []string{"hunt", "--no-store", "--sigma", filepath.Join(dir, "nope"), clean}, 2, "sigma"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			if tc.code == 2 && !strings.HasPrefix(r.stderr, "kintsugi: ") {
				t.Errorf("error not in the kintsugi: form: %q", r.stderr)
			}
		})
	}
}

// TestDemoHunt: the demo hunts its sample logs and shows the case's
// table, where scan's encrypted files and hunt's logon meet on fs01.
func TestDemoHunt(t *testing.T) {
	r := kintsugi(t, nil, "demo")
	if r.code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"== step 4", "first host reached: fs01", "admin from 203.0.113.45", "== step 5"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	i := strings.Index(r.stdout, "== step 5")
	var row string
	for _, line := range strings.Split(r.stdout[i:], "\n") {
		if strings.HasPrefix(line, "fs01 ") {
			row = line
		}
	}
	if f := strings.Fields(row); len(f) < 4 || f[1] != "yes" || f[2] != "yes" {
		t.Errorf("hosts row for fs01 = %q, want accessed and encrypted", row)
	}
}
