package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/demo"
	"github.com/kintsugi-ir/kintsugi/internal/testcorpus"
)

// binary is the kintsugi built once for every end-to-end test.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kintsugi-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "kintsugi")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build kintsugi: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// kintsugi runs the built binary with a private case store.
func kintsugi(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func caseEnv(t *testing.T) []string {
	return []string{"KINTSUGI_CASE=" + filepath.Join(t.TempDir(), "case.db")}
}

type scanLine struct {
	Path, Host, Verdict, Reason, Detector, Rule, SHA256, Member string
	PathBytes                                                   string `json:"path_bytes"`
	Size                                                        int64
	Unchanged                                                   bool
	Triage                                                      bool
	Findings                                                    []json.RawMessage
}

func parseJSONL(t *testing.T, s string) []scanLine {
	t.Helper()
	var out []scanLine
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var l scanLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad jsonl line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func TestVersionAndHelp(t *testing.T) {
	r := kintsugi(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "kintsugi ") || !strings.Contains(r.stdout, "yara: 4.") {
		t.Fatalf("version: %+v", r)
	}
	for _, cmd := range []string{"scan", "rules", "demo", "version"} {
		r := kintsugi(t, nil, cmd, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("%s --help has no examples (exit %d):\n%s", cmd, r.code, r.stdout)
		}
	}
	if r := kintsugi(t, nil, "scan", "--help"); !strings.Contains(r.stdout, "Exit status:") {
		t.Error("scan --help does not document the exit status")
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"scan"}, "requires at least 1 arg"},
		{[]string{"scan", "/no/such/path"}, "cannot scan /no/such/path"},
		{[]string{"scan", "--format", "xml", "."}, "unknown format"},
		{[]string{"scan", "--max-size", "lots", "."}, "--max-size"},
		{[]string{"scan", "--bogus", "."}, "unknown flag"},
	}
	for _, tc := range tests {
		r := kintsugi(t, caseEnv(t), tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "kintsugi: ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
		if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
			t.Errorf("%v: stack trace in output", tc.args)
		}
	}
}

func TestBadRuleFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.yar")
	os.WriteFile(bad, []byte("rule x {\n  strings: $a = \"x\"\n  condition: $b\n}\n"), 0o644)
	r := kintsugi(t, caseEnv(t), "scan", "--rules", bad, dir)
	if r.code != 2 || !strings.Contains(r.stderr, "broken.yar:") || !strings.Contains(r.stderr, "hint:") {
		t.Fatalf("exit %d, stderr %q; want the file and line and a hint", r.code, r.stderr)
	}
}

func TestCleanTreeExitsZero(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "memo.txt"), []byte("nothing to see"), 0o644)
	r := kintsugi(t, caseEnv(t), "scan", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "1 clean") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestScanCorpus runs the binary over the make-corpus test profile: every
// EICAR file (also inside the zip) and every ransom note is found, no
// intact file is called malicious, and the exit status is 1.
func TestScanCorpus(t *testing.T) {
	dir, labels := testcorpus.Get(t, "test", 1)
	env := caseEnv(t)
	r := kintsugi(t, env, "scan", "--format", "jsonl", "--all", "--host", "corpus1", dir)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	got := map[string]scanLine{}
	for _, l := range parseJSONL(t, r.stdout) {
		rel, _ := filepath.Rel(dir, l.Path)
		got[rel] = l
	}
	for _, l := range labels {
		res, ok := got[l.Path]
		if !ok {
			t.Errorf("%s: no record", l.Path)
			continue
		}
		switch l.Truth {
		case "eicar", "note":
			if res.Verdict != "malicious" {
				t.Errorf("%s (%s): verdict %s (%s), want malicious", l.Path, l.Truth, res.Verdict, res.Reason)
			}
		case "encrypted":
			if res.Verdict != "encrypted" {
				t.Errorf("%s (encrypted %s, %s): verdict %s (%s)", l.Path, l.Format, l.Pattern, res.Verdict, res.Reason)
			}
		case "intact":
			if res.Verdict == "malicious" || res.Verdict == "encrypted" {
				t.Errorf("%s (intact %s): verdict %s (%s)", l.Path, l.Format, res.Verdict, res.Reason)
			}
		}
		if res.Verdict != "clean" && (res.Reason == "" || len(res.Findings) == 0) {
			t.Errorf("%s: verdict %s without reason or findings", l.Path, res.Verdict)
		}
		if res.Host != "corpus1" || len(res.SHA256) != 64 || res.Size != l.Size {
			t.Errorf("%s: record %+v", l.Path, res)
		}
	}
	if zip := got["damaged/dropped/eicar_com.zip"]; zip.Member != "eicar.com" {
		t.Errorf("EICAR inside the zip: member %q", zip.Member)
	}
	// A rescan reads nothing again and reports the same verdicts.
	r2 := kintsugi(t, env, "scan", "--format", "jsonl", "--all", "--host", "corpus1", dir)
	for _, l := range parseJSONL(t, r2.stdout) {
		rel, _ := filepath.Rel(dir, l.Path)
		if !l.Unchanged && got[rel].Verdict != "unscannable" {
			t.Errorf("rescan read %s again", rel)
		}
		if l.Verdict != got[rel].Verdict {
			t.Errorf("rescan changed %s from %s to %s", rel, got[rel].Verdict, l.Verdict)
		}
	}
	if r2.code != 1 {
		t.Errorf("rescan exit %d, want 1", r2.code)
	}
	// CSV has the documented header.
	r3 := kintsugi(t, env, "scan", "--format", "csv", "--host", "corpus1", filepath.Join(dir, "damaged", "dropped"))
	rows, err := csv.NewReader(strings.NewReader(r3.stdout)).ReadAll()
	if err != nil || len(rows) < 3 || strings.Join(rows[0][:8], ",") != "path,host,verdict,reason,detector,rule,member,severity" {
		t.Fatalf("csv: %v %q", err, r3.stdout)
	}
}

func TestScanNamesAndPermissions(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent is private
	sjis := string([]byte{0x8c, 0x5f, 0x96, 0xf1}) + ".txt"
	os.WriteFile(filepath.Join(dir, sjis), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("y"), 0o600)
	os.WriteFile(filepath.Join(dir, "open.txt"), []byte("z"), 0o644)
	caseDir := t.TempDir()
	os.Chmod(caseDir, 0o777)
	env := []string{"KINTSUGI_CASE=" + filepath.Join(caseDir, "case.db")}
	args := []string{"scan", "--format", "jsonl", "--all", dir}
	var r result
	if os.Geteuid() == 0 {
		// Root reads everything: run as nobody to meet "permission denied".
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv not found; cannot drop root to test permission errors")
		}
		os.Chmod(filepath.Dir(binary), 0o755)
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", binary}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
		}
		r.stdout, r.stderr = out.String(), errb.String()
	} else {
		r = kintsugi(t, env, args...)
	}
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (one file unreadable)\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := parseJSONL(t, r.stdout)
	seen := map[string]scanLine{}
	for _, l := range lines {
		seen[filepath.Base(l.Path)] = l
	}
	if l := seen["secret.txt"]; l.Verdict != "unscannable" || !strings.Contains(l.Reason, "permission denied") {
		t.Errorf("unreadable file: %+v", l)
	}
	if l := seen["open.txt"]; l.Verdict != "clean" {
		t.Errorf("readable file: %+v", l)
	}
	esc := `\x8c_\x96\xf1.txt`
	if l, ok := seen[esc]; !ok || l.PathBytes == "" {
		t.Errorf("Shift-JIS name not shown escaped with path_bytes: %v", seen)
	}
}

func TestRulesExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "pack.yar")
	if r := kintsugi(t, nil, "rules", "export", "-o", out); r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	os.WriteFile(filepath.Join(tree, "eicar.com"), demo.EICAR(), 0o644)
	r := kintsugi(t, caseEnv(t), "scan", "--no-builtin-rules", "--rules", out, "--format", "jsonl", tree)
	ls := parseJSONL(t, r.stdout)
	if r.code != 1 || len(ls) != 1 || !strings.Contains(ls[0].Rule, "kintsugi_eicar_test_file") {
		t.Fatalf("exported pack: exit %d %+v %s", r.code, ls, r.stderr)
	}
	// The exported pack also works with Debian's yara, the peer tool.
	if yara, err := exec.LookPath("yara"); err == nil {
		o, err := exec.Command(yara, "-w", out, filepath.Join(tree, "eicar.com")).CombinedOutput()
		if err != nil || !strings.Contains(string(o), "kintsugi_eicar_test_file") {
			t.Fatalf("yara with the exported pack: %v %s", err, o)
		}
	}
}

func TestDemo(t *testing.T) {
	r := kintsugi(t, nil, "demo")
	if r.code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"step 1", "TRIAGE ONLY", "kintsugi_eicar_test_file", "kintsugi_ransom_note_ja", "unchanged files",
		"manifest", ": OK", "step 9"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// The watch step: as root (CI) the agent stops the simulator; the
	// demo says how many of its files were lost.
	if os.Geteuid() == 0 {
		m := regexp.MustCompile(`the simulator was stopped \(.*\): (\d+) of (\d+) files lost`).FindStringSubmatch(r.stdout)
		if m == nil || !strings.Contains(r.stdout, "[ransomware-behaviour]") {
			t.Fatalf("demo's watch step did not stop the simulator:\n%s", r.stdout[strings.Index(r.stdout, "step 9"):])
		}
		if lost, _ := strconv.Atoi(m[1]); lost > 30 {
			t.Errorf("demo's watch step lost %s of %s files", m[1], m[2])
		}
	}
}

// Without root the demo's watch step says why it is skipped and the demo
// succeeds.
func TestDemoWithoutRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to an unprivileged user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed (util-linux)")
	}
	home, err := os.MkdirTemp("", "kintsugi-demo-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	os.Chmod(home, 0o777)
	// a copy nobody may run (the test binary's folder is private)
	bin := filepath.Join(home, "kintsugi")
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err = os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "demo")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, "TMPDIR="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "skipped: the agent needs root") {
		t.Errorf("demo as nobody does not say why watch is skipped:\n%s", out)
	}
}
