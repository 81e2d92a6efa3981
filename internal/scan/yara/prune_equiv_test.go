//go:build cgo

package yara

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	goyara "github.com/hillu/go-yara/v4"
)

// TestPrunedVariantsMatchTheSame scans inputs of every class with the
// variant kintsugi would pick and with the whole rule set: the matches must
// be identical.
func TestPrunedVariantsMatchTheSame(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..", "shared", "data", "yara-rules")
	opts := Options{BuiltIn: true}
	if _, err := os.Stat(root); err == nil {
		opts.Paths = []string{filepath.Join(root, "signature-base"), filepath.Join(root, "reversinglabs")}
	} else {
		t.Log("../shared not present: the built-in pack only")
	}
	r, err := Compile(opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	pe := func(n int, extra string) []byte {
		b := random(n)
		copy(b, "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")
		b[0x3c] = 0x80
		copy(b[0x80:], "PE\x00\x00\x4c\x01")
		copy(b[0x400:], extra)
		return b
	}
	tools := "sekurlsa::logonpasswords mimikatz gentilkiwi privilege::debug PSEXESVC PsExec Sysinternals vssadmin delete shadows /all /quiet ReflectiveLoader beacon.dll %s as %s\\%s: %d"
	inputs := map[string][]byte{
		"eicar":        []byte(eicar),
		"small pe":     pe(8<<10, tools),
		"medium pe":    pe(400<<10, tools),
		"big pe":       pe(12<<20, tools),
		"webshell":     []byte(`<?php @eval($_POST['x']); ?>`),
		"big text":     bytes.Repeat([]byte("vssadmin delete shadows /all /quiet\r\n"), 100000),
		"random 2MB":   random(2 << 20),
		"elf-like 40M": append([]byte("\x7fELF\x02\x01\x01"), random(40<<20)...),
		"video 110M":   append([]byte("\x00\x00\x00\x18ftypmp42"), random(110<<20)...),
	}
	for _, p := range []string{"/usr/bin/ls", "/usr/bin/tar", "/bin/sh"} {
		if b, err := os.ReadFile(p); err == nil {
			inputs[p] = b
		}
	}
	matches := func(rules *goyara.Rules, data []byte) string {
		s, err := goyara.NewScanner(rules)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Destroy()
		for _, v := range externals {
			s.DefineVariable(v, "")
		}
		var m goyara.MatchRules
		s.SetFlags(scanFlags).SetCallback(&m)
		if err := s.ScanMem(data); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range m {
			names = append(names, x.Namespace+":"+x.Rule)
		}
		sort.Strings(names)
		return strings.Join(names, "\n")
	}
	hits := 0
	for name, data := range inputs {
		c := classOf(data, int64(len(data)))
		all, err := r.whole()
		if err != nil {
			t.Fatal(err)
		}
		variantRules := r.buildVariant(c, all)
		whole, part := matches(all, data), matches(variantRules, data)
		if whole != part {
			t.Errorf("%s (class %q/%d): the pruned variant matches differently\nwhole set:\n%s\nvariant:\n%s", name, c.magic, c.bucket, whole, part)
		}
		if whole != "" {
			hits++
		}
		if variantRules == r.rules && c.bucket > 2 {
			t.Errorf("%s: nothing pruned for class %q/%d", name, c.magic, c.bucket)
		}
	}
	if hits < 4 {
		t.Fatalf("only %d inputs matched anything: the comparison proves little", hits)
	}
}
