//go:build cgo

package yara

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"github.com/kintsugi-ir/kintsugi/internal/scan"
)

const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

func compileText(t *testing.T, text string) *Detector {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.yar")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Compile(Options{Paths: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	return NewDetector(r, Options{})
}

// run feeds data to d the way the engine does: whole, or in chunks.
func run(t *testing.T, d *Detector, name string, data []byte, chunk int) []incident.Finding {
	t.Helper()
	f := &scan.File{Path: "/evidence/" + name, Name: name, Size: int64(len(data)), Content: bytes.NewReader(data), Whole: chunk == 0}
	ex, err := d.Begin(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if chunk == 0 {
		ex.Write(data)
	} else {
		buf := make([]byte, chunk)
		for off := 0; off < len(data); off += chunk {
			n := copy(buf, data[off:])
			ex.Write(buf[:n])
			// The engine reuses its buffer: scribble over it to prove
			// nothing keeps a reference.
			for i := range buf {
				buf[i] = 0xAA
			}
		}
	}
	fs, err := ex.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func rules(fs []incident.Finding) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Rule)
	}
	return strings.Join(s, ",")
}

func TestBuiltinPack(t *testing.T) {
	r, err := Compile(Options{BuiltIn: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Count < 15 {
		t.Fatalf("built-in pack has %d rules", r.Count)
	}
	d := NewDetector(r, Options{})
	defer d.Close()
	note := "Your files have been encrypted and we have downloaded 300 GB of your data.\n" +
		"To get the decryption key open our chat in Tor Browser: http://" + strings.Repeat("a", 56) + ".onion/\n" +
		"Your personal ID: 0123\nIf you do not pay within 72 hours your data will be published on our leak site.\n"
	jaNote := "【重要】あなたの会社のネットワークは侵害されました。ファイルはすべて暗号化されています。\n" +
		"復号キーを入手するにはTorブラウザで http://" + strings.Repeat("b", 56) + ".onion/ にアクセスしてください。\n" +
		"72時間以内に連絡がない場合、データをリークサイトで公開します。\n"
	sjis := []byte{0x88, 0xc3, 0x8d, 0x86, 0x89, 0xbb, 0x82, 0xb3, 0x82, 0xea, 0x82, 0xdc, 0x82, 0xb5, 0x82, 0xbd, ' ',
		0x95, 0x9c, 0x8d, 0x86, ' ', 0x83, 0x72, 0x83, 0x62, 0x83, 0x67, 0x83, 0x52, 0x83, 0x43, 0x83, 0x93, ' ',
		0x83, 0x8a, 0x81, 0x5b, 0x83, 0x4e, 0x83, 0x54, 0x83, 0x43, 0x83, 0x67}
	tests := []struct {
		name, file string
		data       []byte
		want       string
		verdict    incident.Verdict
	}{
		{"eicar", "eicar.com", []byte(eicar), "kintsugi_eicar_test_file", incident.Malicious},
		{"eicar not at start", "x.txt", []byte("hello " + eicar), "", incident.Clean},
		{"english note", "README.txt", []byte(note), "kintsugi_ransom_note_en", incident.Malicious},
		{"japanese note", "復元方法.txt", []byte(jaNote), "kintsugi_ransom_note_ja", incident.Malicious},
		{"shift-jis note", "readme.txt", sjis, "kintsugi_ransom_note_ja", incident.Malicious},
		{"mimikatz", "m.txt", []byte("privilege::debug\nsekurlsa::logonpasswords\n"), "kintsugi_mimikatz", incident.Malicious},
		{"shadow copies", "x.bat", []byte("@echo off\r\nvssadmin.exe delete shadows /all /quiet\r\n"), "kintsugi_shadow_copy_deletion", incident.Malicious},
		{"defender", "x.ps1", []byte("Set-MpPreference -DisableRealtimeMonitoring $true\n"), "kintsugi_defender_tampering", incident.Malicious},
		{"rclone config", "rclone.conf", []byte("[mega]\ntype = mega\nuser = a@b.c\npass = xyz\n"), "kintsugi_rclone_config", incident.Suspect},
		{"php webshell", "x.php", []byte(`<?php @eval($_POST['cmd']); ?>`), "kintsugi_webshell_php", incident.Malicious},
		{"plain document", "memo.txt", []byte("Backups are encrypted with AES and stored offsite. Contact IT within 24 hours if a restore fails."), "", incident.Clean},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := run(t, d, tc.file, tc.data, 0)
			if got := rules(fs); got != tc.want {
				t.Fatalf("rules = %q, want %q", got, tc.want)
			}
			if v := incident.FileVerdict(fs); v != tc.verdict {
				t.Fatalf("verdict %s, want %s", v, tc.verdict)
			}
			for _, f := range fs {
				if len(f.Evidence) == 0 {
					t.Fatalf("finding without evidence: %+v", f)
				}
			}
		})
	}
}

// TestStreaming checks that a file fed in chunks matches like the same
// file scanned whole: strings across chunk boundaries, filesize, and
// conditions that read the head.
func TestStreaming(t *testing.T) {
	d := compileText(t, `
rule across { strings: $a = "NEEDLE-ACROSS-THE-BOUNDARY" condition: $a }
rule size { condition: filesize == 20000000 }
rule head { condition: uint32(0) == 0x464c457f }
rule at_offset { strings: $b = "MIDDLE" condition: $b at 12345678 }
rule count { strings: $c = "COUNTME" condition: #c == 3 }
rule tail { strings: $t = "THE-END" condition: $t at filesize - 7 }
`)
	defer d.Close()
	data := make([]byte, 20000000)
	copy(data, "\x7fELF")
	chunk := 4 << 20
	needle := "NEEDLE-ACROSS-THE-BOUNDARY"
	copy(data[chunk-10:], needle)
	copy(data[12345678:], "MIDDLE")
	for _, off := range []int{100, chunk*2 - 3, 15000000} {
		copy(data[off:], "COUNTME")
	}
	copy(data[len(data)-7:], "THE-END")
	want := "t.yar:across,t.yar:size,t.yar:head,t.yar:at_offset,t.yar:count,t.yar:tail"
	if got := rules(run(t, d, "big.bin", data, 0)); got != want {
		t.Fatalf("whole: rules = %q, want %q", got, want)
	}
	if got := rules(run(t, d, "big.bin", data, chunk)); got != want {
		t.Fatalf("streamed: rules = %q, want %q", got, want)
	}
}

func TestCompileErrorNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "a_good.yar")
	bad := filepath.Join(dir, "b_bad.yar")
	os.WriteFile(good, []byte("rule ok { condition: true }\n"), 0o644)
	os.WriteFile(bad, []byte("rule fine { condition: true }\n\nrule broken {\n  condition: $nope\n}\n"), 0o644)
	_, err := Compile(Options{Paths: []string{dir}})
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Compile = %v, want a CompileError", err)
	}
	// libyara reports a condition error at the line where the parser
	// noticed it: inside the broken rule (lines 3 to 5).
	if ce.File != bad || ce.Line < 3 || ce.Line > 5 || !strings.Contains(ce.Error(), "b_bad.yar:") {
		t.Fatalf("error at %s:%d (%s), want %s:3-5", ce.File, ce.Line, ce.Message, bad)
	}
	r, err := Compile(Options{Paths: []string{dir}, SkipBroken: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Skipped) != 1 || r.Skipped[0].File != bad || len(r.Files) != 1 || r.Count != 1 {
		t.Fatalf("SkipBroken: %+v", r)
	}
}

func TestExternalVariables(t *testing.T) {
	d := compileText(t, `
rule ext { condition: extension == "exe" and filename == "Setup.EXE" and filetype == "EXE" and filepath contains "!inner" }
`)
	defer d.Close()
	f := &scan.File{Path: "/e/a.zip", Member: "inner/Setup.EXE", Name: "Setup.EXE", Size: 2, Whole: true}
	ex, _ := d.Begin(context.Background(), f)
	ex.Write([]byte("MZ"))
	fs, err := ex.Close(context.Background())
	if err != nil || rules(fs) != "t.yar:ext" {
		t.Fatalf("findings %v, err %v", rules(fs), err)
	}
}

func TestDigestChangesWithRules(t *testing.T) {
	a, err := Compile(Options{BuiltIn: true})
	if err != nil {
		t.Fatal(err)
	}
	d := compileText(t, "rule x { condition: false }")
	if a.Digest == d.rules.Digest || a.Digest == "" {
		t.Fatalf("digests %q and %q", a.Digest, d.rules.Digest)
	}
}

// TestSharedRuleSets compiles every rule file of ../shared/data/yara-rules,
// as the project requires.
func TestSharedRuleSets(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..", "shared", "data", "yara-rules")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("../shared/data/yara-rules not present (%v): skipping the public rule sets", err)
	}
	for _, set := range []string{"signature-base", "reversinglabs"} {
		t.Run(set, func(t *testing.T) {
			r, err := Compile(Options{BuiltIn: true, Paths: []string{filepath.Join(root, set)}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d files, %d rules (with the built-in pack)", set, len(r.Files), r.Count)
			d := NewDetector(r, Options{})
			defer d.Close()
			fs := run(t, d, "eicar.com", []byte(eicar), 0)
			if !strings.Contains(rules(fs), "kintsugi_eicar_test_file") {
				t.Fatalf("EICAR not found with %s loaded: %s", set, rules(fs))
			}
		})
	}
}

func TestCompiledRulesCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	a, err := Compile(Options{BuiltIn: true, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 2 || !strings.HasSuffix(entries[1].Name(), ".yarc.count") {
		t.Fatalf("cache holds %v after a compile, want the set and its rule count", entries)
	}
	b, err := Compile(Options{BuiltIn: true, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest || a.Count != b.Count {
		t.Fatalf("cached rules differ: %s/%d vs %s/%d", a.Digest, a.Count, b.Digest, b.Count)
	}
	// A set from the cache is loaded by the first file that needs it.
	if b.rules != nil || b.load == nil {
		t.Fatal("cached set loaded before any file needed it")
	}
	d := NewDetector(b, Options{})
	defer d.Close()
	if got := rules(run(t, d, "eicar.com", []byte(eicar), 0)); got != "kintsugi_eicar_test_file" {
		t.Fatalf("rules from the cache: %q", got)
	}
	// A cache folder others can write to is never trusted.
	os.Chmod(cache, 0o777)
	if loadCached(cache, []source{{ns: "kintsugi"}}, a.Digest) != nil {
		t.Fatal("loaded from a world-writable cache")
	}
	// A corrupt cache entry is dropped and the rules compiled again when
	// the first file needs them; the entry is written anew.
	os.Chmod(cache, 0o700)
	entry := filepath.Join(cache, entries[0].Name())
	os.WriteFile(entry, []byte("garbage"), 0o600)
	c, err := Compile(Options{BuiltIn: true, CacheDir: cache})
	if err != nil || c.Count != a.Count {
		t.Fatalf("after a corrupt cache entry: %v %+v", err, c)
	}
	dc := NewDetector(c, Options{})
	defer dc.Close()
	if got := rules(run(t, dc, "eicar.com", []byte(eicar), 0)); got != "kintsugi_eicar_test_file" {
		t.Fatalf("rules compiled again after a corrupt cache entry: %q", got)
	}
	if fi, err := os.Stat(entry); err != nil || fi.Size() < 100 {
		t.Fatalf("corrupt entry not replaced: %v", err)
	}
	// Without its count file, a cached set is loaded at once.
	os.Remove(entry + countSuffix)
	if e := loadCached(cache, c.srcs, c.Digest); e == nil || e.rules == nil || e.Count != a.Count {
		t.Fatalf("set without a count file: %+v", e)
	}
	// Storing a new set removes entries unused for cacheMaxAge; a load
	// counts as a use.
	stale := filepath.Join(cache, "rules-0000000000000000-0.0.0.yarc")
	os.WriteFile(stale, []byte("old"), 0o600)
	old := time.Now().Add(-cacheMaxAge - time.Hour)
	os.Chtimes(stale, old, old)
	current := filepath.Join(cache, entries[0].Name())
	os.Chtimes(current, old, old)
	if loadCached(cache, c.srcs, c.Digest) == nil {
		t.Fatal("cached set not loaded")
	}
	dir := t.TempDir()
	rule := filepath.Join(dir, "r.yar")
	os.WriteFile(rule, []byte("rule r { condition: false }"), 0o600)
	if _, err := Compile(Options{Paths: []string{rule}, CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("entry unused for over %v still cached (%v)", cacheMaxAge, err)
	}
	if _, err := os.Stat(current); err != nil {
		t.Errorf("entry used just now was removed: %v", err)
	}
}
