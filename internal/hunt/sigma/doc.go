// Package sigma loads SigmaHQ-format detection rules and matches them
// against hunt.Event values. Rules are compiled once: logsources become
// channel/event-id targets with field-name mappings, values become
// case-folded string, regex, CIDR and number matchers, and the rule set is
// indexed by (channel, event id) so that an event is only tested against
// the rules that can fire on it. Rules that cannot load or can never fire
// are reported with the reason, never skipped silently.
//
// It is imported by the hunt command and by internal/hunt/correlate; it
// never imports the case store or the CLI.
package sigma
