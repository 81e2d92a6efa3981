package builtin

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
	"github.com/kintsugi-ir/kintsugi/internal/workhours"
)

// Config tunes the stateful rules. The zero value of a field means its
// default.
type Config struct {
	// Hours are the site's working hours for the off-hours rule
	// (Asia/Tokyo, 8 to 19, Monday to Friday by default).
	workhours.Hours
	// ManyHosts is how many distinct hosts one account must reach within
	// ManyHostsWindow to be reported (default 3 in 24 hours).
	ManyHosts       int
	ManyHostsWindow time.Duration
	// BurstFailures failed logons from one source within BurstWindow make
	// a burst (default 5 in 10 minutes); a success from that source up to
	// SuccessWindow after the burst's last failure is reported as brute
	// force success (default 30 minutes).
	BurstFailures int
	BurstWindow   time.Duration
	SuccessWindow time.Duration
	// NewSourceBaseline is how long an account must have been seen before
	// a logon from a new source is reported (default 24 hours): without a
	// baseline every first logon would be "new".
	NewSourceBaseline time.Duration
	// ClearContext is how far before a log clear suspicious activity on
	// the same host makes the clear part of the attack (default 24 hours).
	ClearContext time.Duration
}

func (c *Config) defaults() error {
	if err := c.Hours.Fill(); err != nil {
		return err
	}
	setDefault(&c.ManyHosts, 3)
	setDefault(&c.ManyHostsWindow, 24*time.Hour)
	setDefault(&c.BurstFailures, 5)
	setDefault(&c.BurstWindow, 10*time.Minute)
	setDefault(&c.SuccessWindow, 30*time.Minute)
	setDefault(&c.NewSourceBaseline, 24*time.Hour)
	setDefault(&c.ClearContext, 24*time.Hour)
	return nil
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Engine runs the built-in rules. Observe may be called from many
// goroutines at once; Finish once, after the last Observe.
type Engine struct {
	cfg   Config
	rules []*Rule
	byID  map[string]*Rule
	// index of match rules by event class and by (channel, event id)
	byClass map[string][]ruleMatcher
	byEvent map[eventKey][]ruleMatcher

	mu    sync.Mutex
	state state
}

type eventKey struct {
	channel string
	id      int
}

type ruleMatcher struct {
	rule *Rule
	m    *matcher
}

// New loads the rules and prepares an Engine.
func New(cfg Config) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rules, err := LoadRules()
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, rules: rules, byID: map[string]*Rule{},
		byClass: map[string][]ruleMatcher{}, byEvent: map[eventKey][]ruleMatcher{}}
	e.state.init()
	for _, r := range rules {
		e.byID[r.ID] = r
		if r.Kind != "match" {
			continue
		}
		for _, m := range r.matchers() {
			rm := ruleMatcher{r, m}
			for _, sel := range m.Events {
				for _, id := range sel.IDs {
					k := eventKey{sel.Channel, id}
					e.byEvent[k] = append(e.byEvent[k], rm)
				}
			}
			if len(m.Events) == 0 {
				for _, c := range m.On {
					e.byClass[c] = append(e.byClass[c], rm)
				}
			}
		}
	}
	for _, id := range statefulIDs {
		if r, ok := e.byID[id]; !ok || r.Kind != "stateful" {
			return nil, fmt.Errorf("built-in rule %s: implemented in Go but not declared stateful", id)
		}
	}
	for _, r := range rules {
		if r.Kind == "stateful" && !slices.Contains(statefulIDs, r.ID) {
			return nil, fmt.Errorf("built-in rule %s: declared stateful but not implemented", r.ID)
		}
	}
	return e, nil
}

// Rules returns the rule definitions.
func (e *Engine) Rules() []*Rule { return e.rules }

// Observe examines one event: rules decided by it are emitted at once,
// what the stateful rules need is kept for Finish.
func (e *Engine) Observe(ev *hunt.Event, emit func(hunt.Detection)) {
	classes := classesOf(ev)
	texts := make(map[string]string, 2)
	e.match(ev, classes, texts, emit)
	e.observeState(ev, classes, texts, emit)
}

// textFor returns ev's text for class, computing it once per event.
func textFor(ev *hunt.Event, class string, texts map[string]string) string {
	t, ok := texts[class]
	if !ok {
		t = classText(ev, class)
		texts[class] = t
	}
	return t
}

// match runs the "match" rules indexed under ev and returns the ids that
// fired.
func (e *Engine) match(ev *hunt.Event, classes []string, texts map[string]string, emit func(hunt.Detection)) []string {
	var fired []string
	var cands []ruleMatcher
	cands = append(cands, e.byEvent[eventKey{ev.Channel, ev.EventID}]...)
	for _, c := range classes {
		cands = append(cands, e.byClass[c]...)
	}
	if len(cands) == 0 {
		return nil
	}
	var pending []hunt.Detection
	for _, rm := range cands {
		if slices.Contains(fired, rm.rule.ID) {
			continue
		}
		class, ok := rm.m.classFor(ev, classes)
		if !ok {
			continue
		}
		a, ok := rm.m.matches(ev, textFor(ev, class, texts))
		if !ok {
			continue
		}
		fired = append(fired, rm.rule.ID)
		d := rm.rule.detection(ev)
		d.Account = actorOf(ev)
		d.Details = detailsOf(ev, class)
		d.Source = firstNonEmpty(ev.Field("source_ip"), ev.Field("IpAddress"))
		if a != nil && a.Tool != "" {
			d.Tool = a.Tool
		}
		if d.Category == hunt.CatExfiltration {
			d.Bytes = bytesSent(ev)
		}
		pending = append(pending, d)
	}
	for _, d := range pending {
		if r := e.byID[d.RuleID]; r != nil && slices.ContainsFunc(r.Unless, func(u string) bool { return slices.Contains(fired, u) }) {
			continue
		}
		emit(d)
	}
	return fired
}

// classFor returns the class whose text the matcher reads for ev.
func (m *matcher) classFor(ev *hunt.Event, classes []string) (string, bool) {
	if len(m.Events) > 0 {
		for _, sel := range m.Events {
			if sel.Channel == ev.Channel && slices.Contains(sel.IDs, ev.EventID) {
				if len(classes) > 0 {
					return classes[0], true
				}
				return "", true
			}
		}
		return "", false
	}
	for _, c := range m.On {
		if slices.Contains(classes, c) {
			return c, true
		}
	}
	return "", false
}

// matches applies the matcher's field and text conditions; it returns the
// alternative that matched (nil when the matcher has none).
func (m *matcher) matches(ev *hunt.Event, text string) (*alt, bool) {
	for f, want := range m.Fields {
		if !slices.Contains(want, strings.ToLower(ev.Field(f))) {
			return nil, false
		}
	}
	for i := range m.Not {
		if m.Not[i].matches(ev, text) {
			return nil, false
		}
	}
	if len(m.Any) == 0 {
		return nil, true
	}
	for i := range m.Any {
		if m.Any[i].matches(ev, text) {
			return &m.Any[i], true
		}
	}
	return nil, false
}

func (a *alt) matches(ev *hunt.Event, text string) bool {
	for _, s := range a.All {
		if !strings.Contains(text, s) {
			return false
		}
	}
	if len(a.Meta) > 0 {
		var meta strings.Builder
		for _, f := range metaFields {
			meta.WriteString(strings.ToLower(ev.Field(f)))
			meta.WriteString(" \x00 ")
		}
		m := meta.String()
		for _, s := range a.Meta {
			if !strings.Contains(m, s) {
				return false
			}
		}
	}
	if len(a.Image) > 0 && !slices.Contains(a.Image, baseName(imageOf(ev))) {
		return false
	}
	if len(a.Parent) > 0 && !slices.Contains(a.Parent, baseName(parentOf(ev))) {
		return false
	}
	return len(a.All) > 0 || len(a.Meta) > 0 || len(a.Image) > 0 || len(a.Parent) > 0
}

// bytesSent reads a transferred volume from events that carry one
// (converted tool logs, proxy or firewall records in JSONL).
func bytesSent(ev *hunt.Event) int64 {
	for _, f := range []string{"bytes_out", "BytesSent", "bytes_sent", "SentBytes", "sent_bytes", "bytes_transferred"} {
		if n, err := strconv.ParseInt(ev.Field(f), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 0
}
