package yara

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goyara "github.com/hillu/go-yara/v4"
)

func TestParseRules(t *testing.T) {
	src := `import "pe"
/* comment with rule x { } */
rule a : tag1 tag2 {
  meta: description = "has } and { in it" condition_like = 1
  strings:
    $h = { 4D 5A [2-4] ( 90 | 00 ) } // hex
    $r = /ab\/c}/ nocase
    $s = "quote \" } brace"
  condition:
    uint16(0) == 0x5a4d and filesize < 100KB and any of them
}
private rule helper { condition: filesize <= 2MB }
rule b { condition: helper and uint32be(0) == 0x7f454c46 }
rule c { condition: (uint32(0) == 0x464c457f) and (filesize < 1MB) }
rule d { condition: uint16(0) == 0x5a4d or filesize < 10 }
global rule g { condition: filesize < 50MB }
rule e { condition: 100 > filesize and #a > 2 }
rule pref_one { condition: true }
rule pref_two { condition: filesize < 1KB }
rule f { condition: any of (pref_*) }
rule w { condition: (uint16(0) == 0x5a4d and filesize < 300KB and all of them) }
rule x { condition: (uint16(0) == 0x5a4d and uint32(uint32(0x3c)) == 0x00004550) and any of them }
rule y { condition: (uint16(0) == 0x5a4d or uint32be(0x0) == 0x7f454c46) and $a }
rule z { condition: uint16(0) == 0x5a4d and filesize < 40KB and 3 of them or 4 of them }
rule n { condition: not (uint16(0) == 0x5a4d) and filesize < 2KB }
rule o { condition: (uint16(0) == 0x5a4d and filesize < 1MB) or (uint16(0) == 0x457f and filesize < 2MB) }
`
	rules := parseRules(src)
	if rules == nil {
		t.Fatal("not understood")
	}
	got := map[string]ruleSpan{}
	for _, r := range rules {
		got[r.name] = r
		text := src[r.start:r.end]
		if !strings.HasSuffix(text, "}") || !(strings.HasPrefix(text, "rule") || strings.HasPrefix(text, "private") || strings.HasPrefix(text, "global")) {
			t.Errorf("%s: span %q", r.name, text)
		}
	}
	tests := []struct {
		name  string
		needs []need
		keep  bool
	}{
		{"a", []need{{"MZ", 100 << 10}}, false},
		{"helper", []need{{"", 2<<20 + 1}}, true},
		{"b", []need{{"\x7fELF", 0}}, false},
		{"c", []need{{"\x7fELF", 1 << 20}}, false},
		{"d", []need{{"MZ", 0}, {"", 10}}, false},
		{"g", []need{{"", 50 << 20}}, true},
		{"e", []need{{"", 100}}, false},
		{"pref_two", []need{{"", 1 << 10}}, true},
		{"w", []need{{"MZ", 300 << 10}}, false},
		{"x", []need{{"MZ", 0}}, false},
		{"y", []need{{"MZ", 0}, {"\x7fELF", 0}}, false},
		{"z", []need{{}}, false},
		{"n", []need{{"", 2 << 10}}, false},
		{"o", []need{{"MZ", 1 << 20}, {"\x7fE", 2 << 20}}, false},
	}
	for _, tc := range tests {
		r := got[tc.name]
		if fmt.Sprint(r.needs) != fmt.Sprint(tc.needs) || r.keep != tc.keep {
			t.Errorf("%s: needs %v keep %v; want %v %v", tc.name, r.needs, r.keep, tc.needs, tc.keep)
		}
	}
	big := classOf([]byte("ftypisom"), 500<<20)
	out, n := pruned(src, rules, big)
	if n != 10 || strings.Count(out, "\n") != strings.Count(src, "\n") {
		t.Fatalf("pruned %d rules for a big video (want a, b, c, d, e, w, x, y, n, o), line count %d vs %d:\n%s", n, strings.Count(out, "\n"), strings.Count(src, "\n"), out)
	}
	for _, name := range []string{"rule z", "private rule helper", "global rule g", "rule f", "rule pref_two"} {
		if !strings.Contains(out, name) {
			t.Errorf("%q was left out", name)
		}
	}
	small := classOf([]byte("MZ\x90\x00"), 1000)
	if _, n := pruned(src, rules, small); n != 2 { // b and c need ELF
		t.Fatalf("small PE: pruned %d, want 2", n)
	}
	mid := classOf([]byte("\x7fELF\x02"), 1500<<10)
	if _, n := pruned(src, rules, mid); n != 7 { // a, d, e, w, x, n need less size or MZ; c needs less size
		t.Fatalf("1.5 MB ELF: pruned %d, want 7", n)
	}
}

func TestParseSharedRules(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..", "shared", "data", "yara-rules")
	if _, err := os.Stat(root); err != nil {
		t.Skip("../shared not present")
	}
	var files, understood, rules, prunable int
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".yar") && !strings.HasSuffix(p, ".yara") {
			return nil
		}
		files++
		b, _ := os.ReadFile(p)
		rs := parseRules(string(b))
		if rs == nil {
			t.Logf("not understood: %s", p)
			return nil
		}
		understood++
		for _, r := range rs {
			rules++
			if r.excluded(classOf([]byte("\x00\x00\x00\x18ftypmp42"), 200<<20)) {
				prunable++
			}
			if !strings.HasSuffix(string(b[r.start:r.end]), "}") {
				t.Errorf("%s: rule %s: bad span", p, r.name)
			}
		}
		return nil
	})
	t.Logf("%d of %d rule files understood; %d rules; %d cannot match a 200 MB MP4", understood, files, rules, prunable)
	if understood*100 < files*95 {
		t.Errorf("only %d of %d files understood", understood, files)
	}
}

// A class is scanned with the whole set until it has seen variantMinBytes;
// then the file that crosses the mark gets the variant, and so does every
// later one.
func TestVariantBuiltOnceClassHasVolume(t *testing.T) {
	dir := t.TempDir()
	rule := filepath.Join(dir, "pe.yar")
	os.WriteFile(rule, []byte(`rule pe_only { strings: $a = "only in PE" condition: uint16(0) == 0x5a4d and $a }
rule anywhere { strings: $a = "anywhere" condition: $a }`), 0o600)
	r, err := Compile(Options{Paths: []string{rule}, CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	all, err := r.whole()
	if err != nil {
		t.Fatal(err)
	}
	forClass := func(c fileClass, size int64) *goyara.Rules {
		t.Helper()
		got, err := r.forClass(c, size)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	c := classOf([]byte("plain text"), 10)
	if got := forClass(c, variantMinBytes/2); got != all {
		t.Fatal("variant used before the class had volume")
	}
	first := forClass(c, variantMinBytes/2)
	if first == all {
		t.Fatal("whole set still used once the class crossed variantMinBytes")
	}
	if again := forClass(c, 1); again != first {
		t.Fatal("variant not kept for later files")
	}
	if n := len(first.GetRules()); n != len(all.GetRules())-1 {
		t.Errorf("variant holds %d rules, want the whole set (%d) less pe_only", n, len(all.GetRules()))
	}
	pe := classOf([]byte("MZ\x90\x00"), 10)
	if got := forClass(pe, variantMinBytes); got != all {
		t.Error("a class whose variant would leave nothing out does not get the whole set")
	}
}
