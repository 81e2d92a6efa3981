package hunt

import (
	"slices"
	"testing"
)

func TestCategoryFromTags(t *testing.T) {
	tests := []struct {
		tags       []string
		cat        Category
		techniques []string
	}{
		{[]string{"attack.impact", "attack.t1486"}, CatEncryption, []string{"T1486"}},
		{[]string{"attack.exfiltration", "attack.t1567.002"}, CatExfiltration, []string{"T1567.002"}},
		{[]string{"attack.lateral_movement", "attack.t1021.002", "attack.t1570"}, CatAccess, []string{"T1021.002", "T1570"}},
		{[]string{"attack.defense_evasion"}, CatEvasion, nil},
		{[]string{"attack.exfiltration"}, CatExfilPrep, nil},
		{[]string{"attack.credential_access", "attack.t1110.003"}, CatAttempt, []string{"T1110.003"}},
		{[]string{"cve.2021-1675"}, CatOther, nil},
	}
	for _, tc := range tests {
		c, ts := CategoryFromTags(tc.tags)
		if c != tc.cat || !slices.Equal(ts, tc.techniques) {
			t.Errorf("%v -> %s %v, want %s %v", tc.tags, c, ts, tc.cat, tc.techniques)
		}
	}
	if SeverityFromLevel("HIGH") != "high" || SeverityFromLevel("informational") != "info" {
		t.Error("severity mapping")
	}
}

func TestKeys(t *testing.T) {
	for in, want := range map[string]string{"WEB01.corp.local": "web01", "web01": "web01", "10.0.0.5": "10.0.0.5", " DC1. ": "dc1", "": ""} {
		if got := HostKey(in); got != want {
			t.Errorf("HostKey(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string][2]string{`CORP\Admin`: {"admin", "CORP"}, "admin@corp.local": {"admin", "corp.local"}, "root": {"root", ""}} {
		a, d := AccountKey(in)
		if a != want[0] || d != want[1] {
			t.Errorf("AccountKey(%q) = %q %q", in, a, d)
		}
	}
}
