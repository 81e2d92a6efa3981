package sigma

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// FuzzParse feeds arbitrary YAML to the rule loader and matches what
// loads against a few events: no panic, and every document either loads
// or is reported with a reason.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yml"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("detection:\n  a: [1, 2]\n  condition: not (a or (1 of a*))\nlogsource: {product: windows}\ntitle: t"))
	f.Add([]byte("title: t\nid: x\ncorrelation: {type: temporal}\n"))
	events := []*hunt.Event{
		{Channel: "Security", EventID: 4625, Fields: map[string]any{"LogonType": "3", "IpAddress": "10.0.0.1", "Data": []string{"a", "b"}}},
		{Channel: "Microsoft-Windows-Sysmon/Operational", EventID: 1, Fields: map[string]any{"Image": `C:\x\powershell.exe`, "CommandLine": "powershell -enc SQBFAFgAIAAoA"}},
		{Channel: "auth", Provider: "sshd", Message: "Failed password for root"},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		rules, probs := Parse(data, "fuzz.yml")
		for _, p := range probs {
			if p.Reason == "" {
				t.Fatalf("problem without a reason: %+v", p)
			}
		}
		rs := NewRuleSet(rules)
		for _, ev := range events {
			rs.Match(ev, func(m Match) {
				if m.Rule == nil || m.Event != ev {
					t.Fatalf("bad match %+v", m)
				}
			})
		}
	})
}

func TestFixtureRules(t *testing.T) {
	rs, rep, err := LoadDir(os.DirFS("testdata"), ".")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 2 || rep.Loaded != 3 || len(rep.Problems) != 0 || rs.Len() != 3 {
		t.Fatalf("report %+v", rep)
	}
	tests := []struct {
		name string
		ev   *hunt.Event
		want string
	}{
		{"brute force", &hunt.Event{Channel: "Security", EventID: 4625, Fields: map[string]any{"LogonType": "3", "IpAddress": "198.51.100.4"}}, "6b1c2a7e-0d5f-4b8e-9a51-3c2e4f9d8a10"},
		{"brute force local filtered", &hunt.Event{Channel: "Security", EventID: 4625, Fields: map[string]any{"LogonType": "3", "IpAddress": "127.0.0.1"}}, ""},
		{"brute force no ip filtered", &hunt.Event{Channel: "Security", EventID: 4625, Fields: map[string]any{"LogonType": "3", "IpAddress": ""}}, ""},
		{"encoded powershell", &hunt.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventID: 1, Fields: map[string]any{"Image": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "CommandLine": "powershell \u2014enc AAAA"}}, "0f4b5e8d-1c2a-4d3b-8e7f-6a5b4c3d2e1f"},
		{"net user add on 4688", &hunt.Event{Channel: "Security", EventID: 4688, Fields: map[string]any{"NewProcessName": `C:\Windows\powershell.exe`, "CommandLine": "NET  USER bob /ADD"}}, ""},
		{"sshd", &hunt.Event{Channel: "auth", Provider: "sshd", Message: "Invalid user admin from 203.0.113.9"}, "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			rs.Match(tc.ev, func(m Match) { got = m.Rule.ID })
			if got != tc.want {
				t.Errorf("matched %q, want %q", got, tc.want)
			}
		})
	}
}
