package sigma

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/kintsugi-ir/kintsugi/internal/hunt"
)

// RuleSet is a set of rules indexed by channel and event id. It is
// immutable once built and safe for concurrent use.
type RuleSet struct {
	rules    []*Rule
	byChan   map[string]*chanIndex // exact channel name
	byLower  map[string]*chanIndex // lower-cased channel name
	anyWin   *chanIndex
	fields   []string       // field names by slot
	fieldIdx map[string]int // field name -> slot
	pool     sync.Pool
}

type chanIndex struct {
	byID map[int][]*linked
	rest []*linked // rules that do not pin an event id
}

// linked is a compiled rule whose field names are resolved to the rule
// set's slots. Linking copies the matchers, so one Rule may be in
// several RuleSets.
type linked struct {
	rule      *Rule
	sels      []selection
	cond      *cnode
	extra     []fieldMatcher
	providers []string
}

// Match is one rule firing on one event.
type Match struct {
	Rule  *Rule
	Event *hunt.Event
	// Fields are the event fields that satisfied the rule's positive
	// selections (not those under a "not").
	Fields []MatchedField
}

// MatchedField is one field value that contributed to a match.
type MatchedField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NewRuleSet indexes rules.
func NewRuleSet(rules []*Rule) *RuleSet {
	rs := &RuleSet{
		byChan:   make(map[string]*chanIndex),
		byLower:  make(map[string]*chanIndex),
		anyWin:   &chanIndex{byID: map[int][]*linked{}},
		fieldIdx: make(map[string]int),
	}
	seen := make(map[*Rule]bool)
	for _, r := range rules {
		if seen[r] || len(r.compiled) == 0 {
			continue
		}
		seen[r] = true
		rs.rules = append(rs.rules, r)
		for _, c := range r.compiled {
			l := rs.link(c)
			for _, ch := range c.target.channels {
				idx := rs.anyWin
				if ch != anyWindows {
					idx = rs.byChan[ch]
					if idx == nil {
						idx = &chanIndex{byID: map[int][]*linked{}}
						rs.byChan[ch] = idx
						rs.byLower[strings.ToLower(ch)] = idx
					}
				}
				if c.ids == nil {
					idx.rest = append(idx.rest, l)
					continue
				}
				for _, id := range c.ids {
					idx.byID[id] = append(idx.byID[id], l)
				}
			}
		}
	}
	n := len(rs.fields)
	rs.pool.New = func() any { return &evalCtx{slots: make([]slot, n)} }
	return rs
}

// Len returns the number of rules in the set.
func (rs *RuleSet) Len() int { return len(rs.rules) }

// Rules returns the rules in load order.
func (rs *RuleSet) Rules() []*Rule { return rs.rules }

func (rs *RuleSet) slotOf(name string) int {
	if i, ok := rs.fieldIdx[name]; ok {
		return i
	}
	i := len(rs.fields)
	rs.fields = append(rs.fields, name)
	rs.fieldIdx[name] = i
	return i
}

func (rs *RuleSet) linkFields(fms []fieldMatcher) []fieldMatcher {
	out := make([]fieldMatcher, len(fms))
	for i, fm := range fms {
		fm.slot = -1
		if !fm.keyword {
			fm.slot = rs.slotOf(fm.name)
		}
		vals := make([]valMatcher, len(fm.vals))
		for j, v := range fm.vals {
			if v.kind == vFieldRef {
				v.refSlot = rs.slotOf(v.ref)
			}
			vals[j] = v
		}
		fm.vals = vals
		out[i] = fm
	}
	return out
}

func (rs *RuleSet) link(c *compiled) *linked {
	l := &linked{rule: c.rule, cond: c.cond, providers: c.target.providers}
	l.sels = make([]selection, len(c.sels))
	for i, s := range c.sels {
		ls := selection{name: s.name, pinned: s.pinned, alts: make([][]fieldMatcher, len(s.alts))}
		for j, alt := range s.alts {
			ls.alts[j] = rs.linkFields(alt)
		}
		l.sels[i] = ls
	}
	l.extra = rs.linkFields(c.extra)
	return l
}

// Match tests ev against the rules that can fire on its channel and
// event id, and calls fn for every rule that matches. fn is called on
// the calling goroutine before Match returns.
func (rs *RuleSet) Match(ev *hunt.Event, fn func(Match)) {
	idx := rs.byChan[ev.Channel]
	if idx == nil {
		idx = rs.byLower[strings.ToLower(ev.Channel)]
	}
	linux := isLinuxChannel(ev.Channel)
	if idx == nil && (linux || len(rs.anyWin.rest) == 0) {
		return
	}
	x := rs.pool.Get().(*evalCtx)
	x.begin(rs, ev)
	if idx != nil {
		x.run(idx.byID[ev.EventID], fn)
		x.run(idx.rest, fn)
	}
	if !linux {
		x.run(rs.anyWin.byID[ev.EventID], fn)
		x.run(rs.anyWin.rest, fn)
	}
	x.ev = nil
	x.kw = x.kw[:0]
	rs.pool.Put(x)
}

// slot is one field's value for the event being matched, folded once.
type slot struct {
	gen     uint32
	present bool
	orig    []string // one value, or the elements of a list
	lower   []string
}

// evalCtx is the per-event matching state, pooled.
type evalCtx struct {
	rs     *RuleSet
	ev     *hunt.Event
	gen    uint32
	slots  []slot
	kw     []kwValue
	kwGen  uint32
	record *[]MatchedField
}

type kwValue struct {
	name        string
	orig, lower string
}

func (x *evalCtx) begin(rs *RuleSet, ev *hunt.Event) {
	x.rs, x.ev = rs, ev
	x.gen++
	if x.gen == 0 {
		for i := range x.slots {
			x.slots[i].gen = 0
		}
		x.gen = 1
		x.kwGen = 0
	}
}

func (x *evalCtx) run(ls []*linked, fn func(Match)) {
	for _, l := range ls {
		if len(l.providers) > 0 && !hasFold(l.providers, x.ev.Provider) {
			continue
		}
		if !x.allHold(l.extra) || !x.cond(l, l.cond) {
			continue
		}
		var fields []MatchedField
		x.record = &fields
		x.cond(l, l.cond)
		x.record = nil
		fn(Match{Rule: l.rule, Event: x.ev, Fields: dedupe(fields)})
	}
}

func hasFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func dedupe(fs []MatchedField) []MatchedField {
	out := fs[:0]
	for _, f := range fs {
		dup := false
		for _, o := range out {
			if o == f {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out
}

// cond evaluates a condition. While recording, fields of selections that
// hold are collected, except under a negation.
func (x *evalCtx) cond(l *linked, n *cnode) bool {
	switch n.op {
	case cSel:
		return x.selection(&l.sels[n.sel])
	case cAnd:
		mark := x.mark()
		for _, k := range n.kids {
			if !x.cond(l, k) {
				x.rewind(mark)
				return false
			}
		}
		return true
	case cOr:
		if x.record == nil {
			for _, k := range n.kids {
				if x.cond(l, k) {
					return true
				}
			}
			return false
		}
		// While recording, every branch that holds contributes.
		any := false
		for _, k := range n.kids {
			mark := x.mark()
			if x.cond(l, k) {
				any = true
			} else {
				x.rewind(mark)
			}
		}
		return any
	case cNot:
		rec := x.record
		x.record = nil
		v := !x.cond(l, n.kids[0])
		x.record = rec
		return v
	}
	return false
}

func (x *evalCtx) mark() int {
	if x.record == nil {
		return 0
	}
	return len(*x.record)
}

func (x *evalCtx) rewind(mark int) {
	if x.record != nil {
		*x.record = (*x.record)[:mark]
	}
}

func (x *evalCtx) selection(s *selection) bool {
	for i := range s.alts {
		if x.allHold(s.alts[i]) {
			if x.record != nil {
				for _, fm := range s.alts[i] {
					x.recordField(&fm)
				}
			}
			return true
		}
	}
	return false
}

func (x *evalCtx) allHold(fms []fieldMatcher) bool {
	for i := range fms {
		if !x.field(&fms[i]) {
			return false
		}
	}
	return true
}

func (x *evalCtx) recordField(fm *fieldMatcher) {
	if fm.keyword {
		for _, kv := range x.keywords() {
			for i := range fm.vals {
				if x.value(&fm.vals[i], kv.lower, kv.orig) {
					*x.record = append(*x.record, MatchedField{Name: kv.name, Value: kv.orig})
					break
				}
			}
		}
		return
	}
	s := x.get(fm.slot)
	if s.present {
		*x.record = append(*x.record, MatchedField{Name: fm.name, Value: strings.Join(s.orig, "\n")})
	}
}

// field evaluates one field matcher.
func (x *evalCtx) field(fm *fieldMatcher) bool {
	if fm.keyword {
		kws := x.keywords()
		for i := range fm.vals {
			hit := false
			for _, kv := range kws {
				if x.value(&fm.vals[i], kv.lower, kv.orig) {
					hit = true
					break
				}
			}
			if hit && !fm.all {
				return true
			}
			if !hit && fm.all {
				return false
			}
		}
		return fm.all && len(fm.vals) > 0
	}
	s := x.get(fm.slot)
	for i := range fm.vals {
		hit := x.valueOn(&fm.vals[i], s)
		if hit && !fm.all {
			return true
		}
		if !hit && fm.all {
			return false
		}
	}
	return fm.all && len(fm.vals) > 0
}

// valueOn tests one value against a field, any element of a list.
func (x *evalCtx) valueOn(v *valMatcher, s *slot) bool {
	switch v.kind {
	case vExists:
		return s.present == v.exists
	case vNull:
		if !s.present {
			return true
		}
		for _, o := range s.orig {
			if o != "" {
				return false
			}
		}
		return true
	}
	if !s.present {
		return false
	}
	for i := range s.orig {
		if x.value(v, s.lower[i], s.orig[i]) {
			return true
		}
	}
	return false
}

// value tests one value against one string.
func (x *evalCtx) value(v *valMatcher, lower, orig string) bool {
	switch v.kind {
	case vStr:
		for i := range v.variants {
			if v.variants[i].match(lower, orig) {
				return true
			}
		}
		return false
	case vRe:
		return v.re.MatchString(orig)
	case vCIDR:
		a, err := netipParse(orig)
		return err == nil && v.prefix.Contains(a)
	case vNum:
		f, err := strconv.ParseFloat(strings.TrimSpace(orig), 64)
		if err != nil {
			if n, ok := parseHex(orig); ok {
				f, err = float64(n), nil
			}
		}
		if err != nil {
			return false
		}
		switch v.cmp {
		case "gt":
			return f > v.num
		case "gte":
			return f >= v.num
		case "lt":
			return f < v.num
		}
		return f <= v.num
	case vFieldRef:
		other := x.get(v.refSlot)
		if !other.present {
			return false
		}
		for _, o := range other.lower {
			var hit bool
			switch v.refMode {
			case "contains":
				hit = strings.Contains(lower, o)
			case "startswith":
				hit = strings.HasPrefix(lower, o)
			case "endswith":
				hit = strings.HasSuffix(lower, o)
			default:
				hit = lower == o
			}
			if hit {
				return true
			}
		}
	}
	return false
}

// get returns the slot for a field, filling it on first use per event.
func (x *evalCtx) get(i int) *slot {
	s := &x.slots[i]
	if s.gen == x.gen {
		return s
	}
	s.gen = x.gen
	s.orig, s.lower = s.orig[:0], s.lower[:0]
	name := x.rs.fields[i]
	v, ok := x.ev.Fields[name]
	if !ok {
		v, ok = pseudoField(x.ev, name)
	}
	s.present = ok
	if !ok {
		return s
	}
	switch t := v.(type) {
	case string:
		s.orig = append(s.orig, t)
	case []string:
		s.orig = append(s.orig, t...)
	case []any:
		for _, e := range t {
			s.orig = append(s.orig, anyString(e))
		}
	case nil:
		s.orig = append(s.orig, "")
	default:
		s.orig = append(s.orig, anyString(t))
	}
	for _, o := range s.orig {
		s.lower = append(s.lower, strings.ToLower(o))
	}
	return s
}

// pseudoField resolves the Sigma names of an event's own fields.
func pseudoField(ev *hunt.Event, name string) (any, bool) {
	switch name {
	case "EventID":
		if ev.EventID != 0 || !isLinuxChannel(ev.Channel) {
			return strconv.Itoa(ev.EventID), true
		}
	case "Channel":
		return ev.Channel, ev.Channel != ""
	case "Provider_Name":
		return ev.Provider, ev.Provider != ""
	case "Computer":
		return ev.Host, ev.Host != ""
	}
	return nil, false
}

func netipParse(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return a, err
	}
	return a.Unmap(), nil
}

func parseHex(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return 0, false
	}
	n, err := strconv.ParseUint(s[2:], 16, 64)
	return n, err == nil
}

func anyString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case uint64:
		return strconv.FormatUint(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	}
	return fmt.Sprint(v)
}

// keywords returns every value of the event for keyword search: the
// message and all fields, folded once per event.
func (x *evalCtx) keywords() []kwValue {
	if x.kwGen == x.gen {
		return x.kw
	}
	x.kwGen = x.gen
	x.kw = x.kw[:0]
	add := func(name, s string) {
		if s != "" {
			x.kw = append(x.kw, kwValue{name: name, orig: s, lower: strings.ToLower(s)})
		}
	}
	add("Message", x.ev.Message)
	for k, v := range x.ev.Fields {
		switch t := v.(type) {
		case []string:
			for _, e := range t {
				add(k, e)
			}
		case []any:
			for _, e := range t {
				add(k, anyString(e))
			}
		default:
			add(k, anyString(t))
		}
	}
	return x.kw
}
