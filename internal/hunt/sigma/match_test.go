package sigma

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

func ruleFrom(t *testing.T, logsource, detection string) *RuleSet {
	t.Helper()
	src := "title: test\nid: 00000000-0000-0000-0000-000000000001\nlevel: high\ntags: [attack.t1059]\nlogsource:\n" +
		indent(logsource) + "detection:\n" + indent(detection)
	rules, probs := Parse([]byte(src), "test.yml")
	if len(probs) > 0 {
		t.Fatalf("load: %v", probs)
	}
	return NewRuleSet(rules)
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

func count(rs *RuleSet, ev *hunt.Event) int {
	n := 0
	rs.Match(ev, func(Match) { n++ })
	return n
}

func secEvent(id int, fields map[string]any) *hunt.Event {
	return &hunt.Event{Channel: "Security", Provider: "Microsoft-Windows-Security-Auditing", EventID: id, Fields: fields}
}

func TestModifiers(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("xx Invoke-Mimikatz yy"))
	wide := base64.StdEncoding.EncodeToString([]byte(encodeUTF16("IEX (New-Object", false, false)))
	tests := []struct {
		name   string
		det    string
		fields map[string]any
		want   bool
	}{
		{"equal folds case", "sel:\n  TargetUserName: ADMIN\ncondition: sel", map[string]any{"TargetUserName": "admin"}, true},
		{"equal is whole value", "sel:\n  TargetUserName: adm\ncondition: sel", map[string]any{"TargetUserName": "admin"}, false},
		{"contains", "sel:\n  CommandLine|contains: mimikatz\ncondition: sel", map[string]any{"CommandLine": "x MimiKatz.exe"}, true},
		{"startswith", "sel:\n  Image|startswith: 'C:\\Windows\\'\ncondition: sel", map[string]any{"Image": `c:\windows\x.exe`}, true},
		{"endswith", "sel:\n  Image|endswith: '\\cmd.exe'\ncondition: sel", map[string]any{"Image": `C:\Windows\System32\CMD.EXE`}, true},
		{"endswith miss", "sel:\n  Image|endswith: '\\cmd.exe'\ncondition: sel", map[string]any{"Image": `C:\cmd.exe.bak`}, false},
		{"wildcards", "sel:\n  Image: 'C:\\Windows\\n?t.exe'\ncondition: sel", map[string]any{"Image": `C:\Windows\net.exe`}, true},
		{"escaped star is literal", "sel:\n  Image: 'a\\*b'\ncondition: sel", map[string]any{"Image": `axxb`}, false},
		{"escaped star matches star", "sel:\n  Image: 'a\\*b'\ncondition: sel", map[string]any{"Image": `a*b`}, true},
		{"contains all", "sel:\n  CommandLine|contains|all: [' -a ', ' -b ']\ncondition: sel", map[string]any{"CommandLine": "x -b -ay"}, false},
		{"contains all hit", "sel:\n  CommandLine|contains|all: [' -a', ' -b']\ncondition: sel", map[string]any{"CommandLine": "x -b -a"}, true},
		{"windash", "sel:\n  CommandLine|contains|windash: ' -enc '\ncondition: sel", map[string]any{"CommandLine": "powershell /enc AAA"}, true},
		{"windash en dash", "sel:\n  CommandLine|contains|windash: ' -enc '\ncondition: sel", map[string]any{"CommandLine": "powershell \u2013enc AAA"}, true},
		{"base64offset", "sel:\n  CommandLine|base64offset|contains: Invoke-Mimikatz\ncondition: sel", map[string]any{"CommandLine": "-enc " + b64}, true},
		{"base64", "sel:\n  Payload|base64: abc\ncondition: sel", map[string]any{"Payload": "YWJj"}, true},
		{"wide base64offset", "sel:\n  CommandLine|wide|base64offset|contains: 'IEX (New-Object'\ncondition: sel", map[string]any{"CommandLine": wide}, true},
		{"re", "sel:\n  CommandLine|re: '^a.c$'\ncondition: sel", map[string]any{"CommandLine": "abc"}, true},
		{"re is case-sensitive", "sel:\n  CommandLine|re: '^A.C$'\ncondition: sel", map[string]any{"CommandLine": "abc"}, false},
		{"re i", "sel:\n  CommandLine|re|i: '^A.C$'\ncondition: sel", map[string]any{"CommandLine": "abc"}, true},
		{"re s", "sel:\n  CommandLine|re|s: 'a.c'\ncondition: sel", map[string]any{"CommandLine": "a\nc"}, true},
		{"re m", "sel:\n  CommandLine|re|m: '^c$'\ncondition: sel", map[string]any{"CommandLine": "a\nc"}, true},
		{"cidr", "sel:\n  IpAddress|cidr: 10.0.0.0/8\ncondition: sel", map[string]any{"IpAddress": "10.1.2.3"}, true},
		{"cidr v6 miss", "sel:\n  IpAddress|cidr: 10.0.0.0/8\ncondition: sel", map[string]any{"IpAddress": "::1"}, false},
		{"cidr mapped v4", "sel:\n  IpAddress|cidr: 10.0.0.0/8\ncondition: sel", map[string]any{"IpAddress": "::ffff:10.0.0.1"}, true},
		{"fieldref", "sel:\n  SubjectUserName|fieldref: TargetUserName\ncondition: sel", map[string]any{"SubjectUserName": "Bob", "TargetUserName": "bob"}, true},
		{"fieldref miss", "sel:\n  SubjectUserName|fieldref: TargetUserName\ncondition: sel", map[string]any{"SubjectUserName": "Bob", "TargetUserName": "al"}, false},
		{"exists", "sel:\n  Foo|exists: true\ncondition: sel", map[string]any{"Foo": ""}, true},
		{"not exists", "sel:\n  Foo|exists: false\ncondition: sel", map[string]any{"Bar": "x"}, true},
		{"null absent", "sel:\n  Foo: null\ncondition: sel", map[string]any{"Bar": "x"}, true},
		{"null empty", "sel:\n  Foo: null\ncondition: sel", map[string]any{"Foo": ""}, true},
		{"null set", "sel:\n  Foo: null\ncondition: sel", map[string]any{"Foo": "x"}, false},
		{"gt", "sel:\n  LogonType|gt: 3\ncondition: sel", map[string]any{"LogonType": "10"}, true},
		{"lte hex", "sel:\n  Status|lte: 16\ncondition: sel", map[string]any{"Status": "0x10"}, true},
		{"cased", "sel:\n  Foo|cased: Abc\ncondition: sel", map[string]any{"Foo": "abc"}, false},
		{"list field any element", "sel:\n  Data|contains: HostApplication=\ncondition: sel", map[string]any{"Data": []string{"Available", "HostApplication=powershell"}}, true},
		{"keywords", "keywords:\n  - mimikatz\n  - kiwi\ncondition: keywords", map[string]any{"X": "found KIWI here"}, true},
		{"keywords all", "keywords:\n  '|all':\n    - alpha\n    - beta\ncondition: keywords", map[string]any{"X": "alpha", "Y": "beta"}, true},
		{"keywords all miss", "keywords:\n  '|all':\n    - alpha\n    - beta\ncondition: keywords", map[string]any{"X": "alpha"}, false},
		{"and not", "sel:\n  A: x\nfilter:\n  B: y\ncondition: sel and not filter", map[string]any{"A": "x", "B": "y"}, false},
		{"1 of wildcard", "sel_a:\n  A: x\nsel_b:\n  B: y\ncondition: 1 of sel_*", map[string]any{"B": "y"}, true},
		{"all of them", "sel_a:\n  A: x\nsel_b:\n  B: y\ncondition: all of them", map[string]any{"B": "y"}, false},
		{"parentheses", "a:\n  A: x\nb:\n  B: y\nc:\n  C: z\ncondition: a and (b or c)", map[string]any{"A": "x", "C": "z"}, true},
		{"list of maps is or", "sel:\n  - A: x\n  - B: y\ncondition: sel", map[string]any{"B": "y"}, true},
		{"EventID pseudo-field", "sel:\n  EventID: 4625\ncondition: sel", map[string]any{}, true},
		{"EventID other", "sel:\n  EventID: 4624\ncondition: sel", map[string]any{}, false},
		{"Provider_Name", "sel:\n  Provider_Name: Microsoft-Windows-Security-Auditing\ncondition: sel", map[string]any{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := ruleFrom(t, "product: windows\nservice: security", tc.det)
			got := count(rs, secEvent(4625, tc.fields)) > 0
			if got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLogsourceTargets(t *testing.T) {
	det := "sel:\n  Image|endswith: '\\evil.exe'\ncondition: sel"
	rs := ruleFrom(t, "product: windows\ncategory: process_creation", det)
	sysmon := &hunt.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventID: 1, Fields: map[string]any{"Image": `C:\evil.exe`}}
	sec := &hunt.Event{Channel: "Security", EventID: 4688, Fields: map[string]any{"NewProcessName": `C:\evil.exe`}}
	otherID := &hunt.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventID: 11, Fields: map[string]any{"Image": `C:\evil.exe`}}
	for _, c := range []struct {
		name string
		ev   *hunt.Event
		want int
	}{{"sysmon 1", sysmon, 1}, {"security 4688 mapped", sec, 1}, {"sysmon 11", otherID, 0}} {
		if got := count(rs, c.ev); got != c.want {
			t.Errorf("%s: %d matches, want %d", c.name, got, c.want)
		}
	}
	// A field that 4688 lacks keeps the rule off Security.
	rs = ruleFrom(t, "product: windows\ncategory: process_creation", "sel:\n  OriginalFileName: evil.exe\ncondition: sel")
	if got := count(rs, &hunt.Event{Channel: "Security", EventID: 4688, Fields: map[string]any{}}); got != 0 {
		t.Errorf("4688 without OriginalFileName matched")
	}
	// Linux: service sshd -> provider sshd on auth/syslog/journal.
	rs = ruleFrom(t, "product: linux\nservice: sshd", "keywords:\n  - 'Failed password'\ncondition: keywords")
	auth := &hunt.Event{Channel: "auth", Provider: "sshd", Message: "Failed password for root from 1.2.3.4"}
	if got := count(rs, auth); got != 1 {
		t.Errorf("sshd keyword: %d matches", got)
	}
	auth.Provider = "sudo"
	if got := count(rs, auth); got != 0 {
		t.Errorf("sshd rule fired on sudo")
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name, src, reason string
	}{
		{"unknown modifier", "title: x\nid: a\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    A|bogus: x\n  condition: sel", "unknown modifier"},
		{"expand placeholder", "title: x\nid: a\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    A|expand: '%admins%'\n  condition: sel", "cannot fire"},
		{"unmapped logsource", "title: x\nid: a\nlogsource: {product: macos, category: process_creation}\ndetection:\n  sel:\n    A: x\n  condition: sel", "cannot fire"},
		{"unknown identifier", "title: x\nid: a\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    A: x\n  condition: sel and filter", "unknown search identifier"},
		{"correlation", "title: x\nid: a\ncorrelation:\n  type: event_count\n  rules: [b]\n", "correlation type event_count unsupported"},
		{"bad regex", "title: x\nid: a\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    A|re: '(?<=x)y'\n  condition: sel", "regular expression"},
		{"aggregation", "title: x\nid: a\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    A: x\n  condition: sel | count() > 5", "aggregation"},
		{"bad yaml", "title: [x\n", "yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules, probs := Parse([]byte(tc.src), "t.yml")
			if len(rules) != 0 || len(probs) != 1 {
				t.Fatalf("rules %d problems %v", len(rules), probs)
			}
			if !strings.Contains(probs[0].Reason, tc.reason) {
				t.Errorf("reason %q, want it to mention %q", probs[0].Reason, tc.reason)
			}
		})
	}
}

func TestMatchedFields(t *testing.T) {
	rs := ruleFrom(t, "product: windows\nservice: security", "sel:\n  TargetUserName: admin\n  LogonType: 10\nfilter:\n  IpAddress: '-'\ncondition: sel and not filter")
	var got []MatchedField
	rs.Match(secEvent(4625, map[string]any{"TargetUserName": "Admin", "LogonType": "10", "IpAddress": "1.2.3.4"}), func(m Match) {
		got = m.Fields
		if m.Rule.Level != "high" || len(m.Rule.Tags) != 1 {
			t.Errorf("rule metadata %+v", m.Rule)
		}
	})
	want := []MatchedField{{"TargetUserName", "Admin"}, {"LogonType", "10"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("matched fields %v, want %v", got, want)
	}
}
