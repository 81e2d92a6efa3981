package sigma_test

import (
	"strings"
	"testing"
)

// TestLoadShared loads SigmaHQ's whole rule set: every rule is either
// loaded or reported with a reason, and the Windows rules all load.
func TestLoadShared(t *testing.T) {
	rules, probs := loadShared(t)
	reasons := make(map[string]int)
	for _, p := range probs {
		if p.Reason == "" {
			t.Errorf("%s: problem without a reason", p.Path)
		}
		r := p.Reason
		if i := strings.Index(r, ":"); i > 0 && strings.HasPrefix(r, "cannot fire") {
			r = r[:min(len(r), 90)]
		}
		reasons[r]++
	}
	win := 0
	for _, r := range rules {
		if r.Logsource.Product == "windows" {
			win++
		}
	}
	t.Logf("loaded %d rules (%d Windows), %d problems", len(rules), win, len(probs))
	for r, n := range reasons {
		t.Logf("  %4d  %s", n, r)
	}
	for _, p := range probs {
		etwOnly := strings.Contains(p.Reason, "ETW provider")
		if strings.Contains(p.Path, "windows") && !etwOnly {
			t.Errorf("Windows rule not loaded: %s", p)
		}
	}
	if win < 2390 {
		t.Errorf("only %d Windows rules loaded", win)
	}
}
