package alert

import (
	"fmt"
	"strings"
)

// Line is an alert's one-line form for syslog and terminals.
func Line(a *Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s [%s] %s: %s", a.ID, a.Severity, a.Rule, a.Title, a.Summary)
	if a.Action != nil {
		var did []string
		if a.Action.Stopped {
			did = append(did, "stopped")
		}
		if a.Action.Killed {
			did = append(did, "killed")
		}
		if a.Action.Held {
			did = append(did, "held for the operator")
		}
		if a.Action.Isolated {
			did = append(did, "host isolated")
		}
		if a.Action.Blocked != "" {
			did = append(did, "blocked "+a.Action.Blocked)
		}
		if len(did) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(did, ", "))
		}
	}
	return b.String()
}
