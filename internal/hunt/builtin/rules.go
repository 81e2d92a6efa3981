// Package builtin holds kintsugi's own hunt detections: credential misuse
// and lateral movement, ransomware preparation and impact, and
// exfiltration. Every rule has an id, a title, ATT&CK techniques and a
// severity, declared in the embedded rules.yaml; rules decided by one
// event are matched from that declaration, rules that need many events
// (logon pairing, bursts, distinct hosts per account, context around a
// log clear) are written in Go and run in Engine.Finish.
//
// It is imported by the hunt command's wiring; it reads hunt.Events and
// produces hunt.Detections and hunt.Logons, and never touches the store.
package builtin

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/incident"
	"gopkg.in/yaml.v3"
)

//go:embed rules.yaml
var rulesYAML []byte

// Rule is one built-in detection's definition.
type Rule struct {
	ID         string            `yaml:"id" json:"id"`
	Title      string            `yaml:"title" json:"title"`
	Techniques []string          `yaml:"techniques" json:"techniques"`
	Severity   incident.Severity `yaml:"severity" json:"severity"`
	Category   hunt.Category     `yaml:"category" json:"category"`
	// Kind is "match" (one event decides) or "stateful" (Go, over many).
	Kind   string   `yaml:"kind" json:"kind"`
	Unless []string `yaml:"unless" json:"-"`

	matcher `yaml:",inline"`
	Also    []matcher `yaml:"also" json:"-"`
}

// matcher is one way a "match" rule can fire.
type matcher struct {
	On     []string            `yaml:"on"`
	Events []eventSel          `yaml:"events"`
	Fields map[string][]string `yaml:"fields"`
	Any    []alt               `yaml:"any"`
	Not    []alt               `yaml:"not"`
}

type eventSel struct {
	Channel string `yaml:"channel"`
	IDs     []int  `yaml:"ids"`
}

// alt is one alternative: every condition it sets must hold.
type alt struct {
	All    []string `yaml:"all"`
	Meta   []string `yaml:"meta"`
	Image  []string `yaml:"image"`
	Parent []string `yaml:"parent"`
	Tool   string   `yaml:"tool"`
}

// UnmarshalYAML accepts an alternative as a plain list of substrings or
// as a map.
func (a *alt) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		return n.Decode(&a.All)
	}
	type plain alt
	return n.Decode((*plain)(a))
}

// LoadRules parses the embedded definitions and checks them.
func LoadRules() ([]*Rule, error) {
	var rules []*Rule
	if err := yaml.Unmarshal(rulesYAML, &rules); err != nil {
		return nil, fmt.Errorf("built-in rules: %w", err)
	}
	seen := map[string]bool{}
	for _, r := range rules {
		switch {
		case r.ID == "" || r.Title == "":
			return nil, fmt.Errorf("built-in rules: rule without id or title")
		case seen[r.ID]:
			return nil, fmt.Errorf("built-in rule %s: duplicate id", r.ID)
		case r.Severity.Rank() < 0:
			return nil, fmt.Errorf("built-in rule %s: unknown severity %q", r.ID, r.Severity)
		case len(r.Techniques) == 0:
			return nil, fmt.Errorf("built-in rule %s: no ATT&CK technique", r.ID)
		case r.Kind != "match" && r.Kind != "stateful":
			return nil, fmt.Errorf("built-in rule %s: unknown kind %q", r.ID, r.Kind)
		}
		seen[r.ID] = true
		for _, m := range r.matchers() {
			for _, on := range m.On {
				if !knownClass(on) {
					return nil, fmt.Errorf("built-in rule %s: unknown event class %q", r.ID, on)
				}
			}
			for _, a := range append(append([]alt{}, m.Any...), m.Not...) {
				for i := range a.All {
					a.All[i] = strings.ToLower(a.All[i])
				}
				for i := range a.Meta {
					a.Meta[i] = strings.ToLower(a.Meta[i])
				}
				for i := range a.Image {
					a.Image[i] = strings.ToLower(a.Image[i])
				}
				for i := range a.Parent {
					a.Parent[i] = strings.ToLower(a.Parent[i])
				}
			}
			for k, vs := range m.Fields {
				for i := range vs {
					vs[i] = strings.ToLower(vs[i])
				}
				m.Fields[k] = vs
			}
		}
		if r.Kind == "match" && len(r.matchers()) == 0 {
			return nil, fmt.Errorf("built-in rule %s: match rule without conditions", r.ID)
		}
	}
	for _, r := range rules {
		for _, u := range r.Unless {
			if !seen[u] {
				return nil, fmt.Errorf("built-in rule %s: unless names unknown rule %s", r.ID, u)
			}
		}
	}
	return rules, nil
}

// matchers lists the rule's main matcher (when it has conditions) and its
// "also" alternatives.
func (r *Rule) matchers() []*matcher {
	var out []*matcher
	if len(r.On) > 0 || len(r.Events) > 0 {
		out = append(out, &r.matcher)
	}
	for i := range r.Also {
		out = append(out, &r.Also[i])
	}
	return out
}

// detection starts a Detection of this rule for ev.
func (r *Rule) detection(ev *hunt.Event) hunt.Detection {
	return hunt.Detection{
		RuleID: r.ID, Title: r.Title, Engine: "builtin", Severity: r.Severity,
		Category: r.Category, Techniques: r.Techniques, Time: ev.Time, Host: ev.Host,
		Count: 1, Event: ev.Ref(),
	}
}
