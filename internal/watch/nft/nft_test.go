package nft

import (
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"10.0.0.5", "10.0.0.5", false},
		{"10.0.0.5:22", "10.0.0.5:22", false},
		{"10.0.0.0/24:22", "10.0.0.0/24:22", false},
		{"10.0.0.9/24", "10.0.0.0/24", false},
		{"fd00::5", "fd00::5", false},
		{"[fd00::5]:22", "[fd00::5]:22", false},
		{"::ffff:10.0.0.5", "10.0.0.5", false},
		{"10.0.0.5:0", "", true},
		{"10.0.0.5:99999", "", true},
		{"host.example:22", "", true},
		{`10.0.0.5"; flush ruleset`, "", true},
		{"[fd00::5", "", true},
	}
	for _, tc := range tests {
		e, err := ParseEndpoint(tc.in)
		if (err != nil) != tc.bad || err == nil && e.String() != tc.want {
			t.Errorf("%q: %v %v, want %q (error %v)", tc.in, e, err, tc.want, tc.bad)
		}
	}
}

func TestIsolationScript(t *testing.T) {
	e1, _ := ParseEndpoint("192.0.2.10:22")
	e2, _ := ParseEndpoint("[2001:db8::1]:443")
	e3, _ := ParseEndpoint("198.51.100.0/24")
	s := IsolationScript([]Endpoint{e1, e2, e3})
	for _, want := range []string{
		"policy drop;", `iif "lo" accept`, `oif "lo" accept`,
		"ip saddr 192.0.2.10/32 tcp dport 22 accept", "ip daddr 192.0.2.10/32 tcp sport 22 accept",
		"ip6 saddr 2001:db8::1/128 tcp dport 443 accept", "ip saddr 198.51.100.0/24 accept",
		"chain forward",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if !strings.HasPrefix(s, "add table inet kintsugi_isolation\ndelete table inet kintsugi_isolation\n") {
		t.Error("script does not replace the table atomically")
	}
	if !hasTable([]byte("table inet filter\ntable inet kintsugi_isolation\n"), IsolationTable) || hasTable([]byte("table inet kintsugi_isolation_x\n"), IsolationTable) {
		t.Error("hasTable")
	}
}
