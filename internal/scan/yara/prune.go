package yara

import (
	"strconv"
	"strings"
)

// Rule pruning. A YARA rule whose condition is a conjunction with
// "uint16(0) == 0x5a4d" or "filesize < 100KB" among its top-level terms
// cannot match a file that starts otherwise or is bigger; libyara would
// still search such a file for all of the rule's strings before looking
// at the condition. kintsugi therefore compiles variants of a rule set per
// class of files (what the first bytes are, how big the file is), each
// without the rules that provably cannot match that class, and scans each
// file with its class's variant. The verdicts are the same as with the
// whole set; big media files, which most rules exclude by size, are
// scanned several times faster. Rules are only ever left out when the
// condition text proves it: private and global rules, rules that others
// refer to, and anything not understood are kept.

// ruleSpan is one rule of a source file and what its condition requires.
type ruleSpan struct {
	start, end int // byte range of the rule, modifiers to closing brace
	name       string
	keep       bool   // private, global, or referenced: never left out
	needs      []need // the condition holds only under one of these
	cond       []token
}

type token struct {
	kind byte // 'i' identifier or keyword, 'n' number, 's' string, 'r' regex, 'h' hex, 'o' operator or punctuation
	text string
}

// parseRules splits YARA source into rules and reads each condition. It
// returns nil when the source is not understood: then nothing is pruned
// from it.
func parseRules(src string) []ruleSpan {
	lx := &lexer{src: src}
	var rules []ruleSpan
	var mods []int // starts of modifier tokens before "rule"
	for {
		start := lx.pos
		t, ok := lx.next(false)
		if !ok {
			break
		}
		if lx.err {
			return nil
		}
		switch {
		case t.kind == 'i' && (t.text == "private" || t.text == "global"):
			mods = append(mods, start+lx.skipped)
			continue
		case t.kind == 'i' && t.text == "include":
			// An include is resolved relative to the file on disk; a
			// pruned copy compiled from memory could not follow it.
			return nil
		case t.kind == 'i' && t.text == "import":
			if s, ok := lx.next(false); !ok || s.kind != 's' {
				return nil
			}
		case t.kind == 'i' && t.text == "rule":
			r, ok := lx.rule()
			if !ok {
				return nil
			}
			r.start = start + lx.skippedAt(start)
			if len(mods) > 0 {
				r.start = mods[0]
				r.keep = true
			}
			rules = append(rules, r)
		default:
			return nil
		}
		mods = mods[:0]
	}
	// Rules referred to by other rules' conditions stay.
	names := map[string]int{}
	for i, r := range rules {
		names[r.name] = i
	}
	for _, r := range rules {
		for _, t := range r.cond {
			if t.kind != 'i' {
				continue
			}
			if i, ok := names[t.text]; ok && rules[i].name != r.name {
				rules[i].keep = true
			}
			// "any of (prefix*)" names a set of rules by prefix.
			if p, ok := strings.CutSuffix(t.text, "*"); ok && !strings.HasPrefix(p, "$") {
				for i := range rules {
					if strings.HasPrefix(rules[i].name, p) {
						rules[i].keep = true
					}
				}
			}
		}
	}
	for i := range rules {
		rules[i].needs = requirements(rules[i].cond)
	}
	return rules
}

type lexer struct {
	src     string
	pos     int
	err     bool
	skipped int // white space and comments skipped before the last token
	prev    token
}

// skippedAt is how much white space lies at start before a token.
func (lx *lexer) skippedAt(start int) int {
	i := start
	for i < len(lx.src) {
		switch {
		case lx.src[i] == ' ' || lx.src[i] == '\t' || lx.src[i] == '\n' || lx.src[i] == '\r':
			i++
		case strings.HasPrefix(lx.src[i:], "//"):
			j := strings.IndexByte(lx.src[i:], '\n')
			if j < 0 {
				return len(lx.src) - start
			}
			i += j + 1
		case strings.HasPrefix(lx.src[i:], "/*"):
			j := strings.Index(lx.src[i+2:], "*/")
			if j < 0 {
				return len(lx.src) - start
			}
			i += j + 4
		default:
			return i - start
		}
	}
	return i - start
}

// next returns the next token; regexOK says a '/' starts a regular
// expression here.
func (lx *lexer) next(regexOK bool) (token, bool) {
	skip := lx.skippedAt(lx.pos)
	lx.skipped = skip
	lx.pos += skip
	if lx.pos >= len(lx.src) {
		return token{}, false
	}
	s, i := lx.src, lx.pos
	c := s[i]
	var t token
	switch {
	case c == '"':
		j := i + 1
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++
			}
			if s[j] == '\n' {
				lx.err = true
				return token{}, false
			}
			j++
		}
		if j >= len(s) {
			lx.err = true
			return token{}, false
		}
		t = token{'s', s[i : j+1]}
		lx.pos = j + 1
	case c == '/' && regexOK:
		j := i + 1
		for j < len(s) && s[j] != '/' {
			if s[j] == '\\' {
				j++
			}
			if j < len(s) && s[j] == '\n' {
				lx.err = true
				return token{}, false
			}
			j++
		}
		if j >= len(s) {
			lx.err = true
			return token{}, false
		}
		j++
		for j < len(s) && (s[j] == 'i' || s[j] == 's') {
			j++
		}
		t = token{'r', s[i:j]}
		lx.pos = j
	case isIdentStart(c) || c == '$' || c == '#' || c == '@' || c == '!':
		j := i + 1
		for j < len(s) && (isIdentStart(s[j]) || s[j] >= '0' && s[j] <= '9' || s[j] == '*' && c != '!') {
			j++
		}
		if c == '!' && j == i+1 {
			// "!=" or a lone "!"
			if j < len(s) && s[j] == '=' {
				j++
			}
			t = token{'o', s[i:j]}
		} else {
			t = token{'i', s[i:j]}
		}
		lx.pos = j
	case c >= '0' && c <= '9':
		j := i + 1
		for j < len(s) && (isIdentStart(s[j]) || s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		t = token{'n', s[i:j]}
		lx.pos = j
	default:
		j := i + 1
		for _, op := range []string{"==", "!=", "<=", ">=", "<<", ">>", ".."} {
			if strings.HasPrefix(s[i:], op) {
				j = i + 2
				break
			}
		}
		t = token{'o', s[i:j]}
		lx.pos = j
	}
	lx.prev = t
	return t, true
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// rule reads a rule after the "rule" keyword, up to its closing brace.
func (lx *lexer) rule() (ruleSpan, bool) {
	var r ruleSpan
	name, ok := lx.next(false)
	if !ok || name.kind != 'i' {
		return r, false
	}
	r.name = name.text
	t, ok := lx.next(false)
	if !ok {
		return r, false
	}
	if t.text == ":" {
		for {
			t, ok = lx.next(false)
			if !ok {
				return r, false
			}
			if t.text == "{" {
				break
			}
			if t.kind != 'i' {
				return r, false
			}
		}
	}
	if t.text != "{" {
		return r, false
	}
	section := ""
	depth := 0
	for {
		regexOK := lx.prev.text == "=" || lx.prev.text == "matches"
		if section == "strings" && lx.prev.text == "=" {
			// A hex string: up to its closing brace, comments and all.
			skip := lx.skippedAt(lx.pos)
			if lx.pos+skip < len(lx.src) && lx.src[lx.pos+skip] == '{' {
				j := strings.IndexByte(lx.src[lx.pos+skip:], '}')
				if j < 0 {
					return r, false
				}
				lx.prev = token{'h', lx.src[lx.pos+skip : lx.pos+skip+j+1]}
				lx.pos += skip + j + 1
				continue
			}
		}
		t, ok := lx.next(regexOK)
		if !ok || lx.err {
			return r, false
		}
		switch {
		case t.text == "}" && depth == 0:
			r.end = lx.pos
			return r, true
		case t.text == "(":
			depth++
		case t.text == ")":
			depth--
		case t.kind == 'i' && (t.text == "meta" || t.text == "strings" || t.text == "condition"):
			if c := lx.peekColon(); c {
				lx.next(false)
				section = t.text
				continue
			}
		}
		if section == "condition" {
			r.cond = append(r.cond, t)
		}
	}
}

func (lx *lexer) peekColon() bool {
	skip := lx.skippedAt(lx.pos)
	return lx.pos+skip < len(lx.src) && lx.src[lx.pos+skip] == ':'
}

// need is one way a condition can be true: bytes the file must then start
// with ("" if none) and an exclusive upper bound on its size (0 if none).
type need struct {
	magic   string
	maxSize int64
}

// maxNeeds caps how many alternatives a condition is analysed into; a
// condition with more is treated as requiring nothing.
const maxNeeds = 16

// requirements reads a condition into the alternatives under which it can
// be true: if the condition holds, so does one of the returned needs. It
// follows "and", "or" and parentheses to any depth, so that both
// "(uint16(0) == 0x5a4d and filesize < 1MB and any of them)" and
// "(uint16(0) == 0x5a4d or uint32(0) == 0x464c457f) and $a" are read.
// Terms it does not understand require nothing; a "not" is never looked
// into. A condition that may be true without any requirement yields a
// single empty need.
func requirements(cond []token) []need {
	// Unwrap parentheses around the whole expression.
	for len(cond) >= 2 && cond[0].text == "(" && cond[len(cond)-1].text == ")" && balanced(cond[1:len(cond)-1]) {
		cond = cond[1 : len(cond)-1]
	}
	if parts := splitTop(cond, "or"); len(parts) > 1 {
		// Any alternative of any part.
		var out []need
		for _, p := range parts {
			for _, n := range requirements(p) {
				if n == (need{}) || len(out) == maxNeeds {
					return []need{{}}
				}
				out = append(out, n)
			}
		}
		return out
	}
	if parts := splitTop(cond, "and"); len(parts) > 1 {
		// Every part: the cross product of their alternatives.
		out := []need{{}}
		for _, p := range parts {
			alts := requirements(p)
			if len(out)*len(alts) > maxNeeds {
				return []need{{}}
			}
			var next []need
			for _, a := range out {
				for _, b := range alts {
					next = append(next, both(a, b))
				}
			}
			out = next
		}
		return out
	}
	if m, ok := magicTerm(cond); ok {
		return []need{{magic: m}}
	}
	if n, ok := sizeTerm(cond); ok {
		return []need{{maxSize: n}}
	}
	return []need{{}}
}

// both is what a and b require together. Of two magics, the longer one is
// kept when one extends the other, else the first (a weaker requirement
// than the truth, which is that nothing can match).
func both(a, b need) need {
	switch {
	case a.magic == "":
		a.magic = b.magic
	case strings.HasPrefix(b.magic, a.magic):
		a.magic = b.magic
	}
	if b.maxSize > 0 && (a.maxSize == 0 || b.maxSize < a.maxSize) {
		a.maxSize = b.maxSize
	}
	return a
}

// splitTop splits ts at the operator op outside parentheses.
func splitTop(ts []token, op string) [][]token {
	var parts [][]token
	depth, from := 0, 0
	for i, t := range ts {
		switch {
		case t.text == "(":
			depth++
		case t.text == ")":
			depth--
		case depth == 0 && t.kind == 'i' && t.text == op:
			parts = append(parts, ts[from:i])
			from = i + 1
		}
	}
	return append(parts, ts[from:])
}

func balanced(ts []token) bool {
	d := 0
	for _, t := range ts {
		switch t.text {
		case "(":
			d++
		case ")":
			d--
			if d < 0 {
				return false
			}
		}
	}
	return d == 0
}

// magicTerm recognises "uintN(0) == V" and "uintNbe(0) == V" (either way
// round) and returns the bytes V puts at offset 0.
func magicTerm(t []token) (string, bool) {
	if len(t) != 6 {
		return "", false
	}
	fn, val := t, token{}
	switch {
	case t[4].text == "==" && t[5].kind == 'n':
		fn, val = t[:4], t[5]
	case t[1].text == "==" && t[0].kind == 'n':
		fn, val = t[2:], t[0]
	default:
		return "", false
	}
	if off, ok := yaraNumber(fn[2].text); !ok || off != 0 || fn[1].text != "(" || fn[3].text != ")" {
		return "", false
	}
	width, bigEndian := 0, false
	switch fn[0].text {
	case "uint8":
		width = 1
	case "uint16":
		width = 2
	case "uint32":
		width = 4
	case "uint16be":
		width, bigEndian = 2, true
	case "uint32be":
		width, bigEndian = 4, true
	default:
		return "", false
	}
	v, err := strconv.ParseUint(val.text, 0, 64)
	if err != nil || width < 8 && v>>(8*width) != 0 {
		return "", false
	}
	b := make([]byte, width)
	for i := range width {
		shift := 8 * i
		if bigEndian {
			shift = 8 * (width - 1 - i)
		}
		b[i] = byte(v >> shift)
	}
	return string(b), true
}

// sizeTerm recognises "filesize < N" and "filesize <= N" (N with an
// optional KB or MB suffix, either way round) and returns the exclusive
// bound.
func sizeTerm(t []token) (int64, bool) {
	if len(t) != 3 {
		return 0, false
	}
	var op string
	var num token
	switch {
	case t[0].text == "filesize" && t[2].kind == 'n':
		op, num = t[1].text, t[2]
	case t[2].text == "filesize" && t[0].kind == 'n':
		num = t[0]
		switch t[1].text {
		case ">":
			op = "<"
		case ">=":
			op = "<="
		}
	default:
		return 0, false
	}
	n, ok := yaraNumber(num.text)
	if !ok {
		return 0, false
	}
	switch op {
	case "<":
		return n, n > 0
	case "<=":
		return n + 1, true
	}
	return 0, false
}

func yaraNumber(s string) (int64, bool) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "KB"):
		mult, s = 1024, strings.TrimSuffix(s, "KB")
	case strings.HasSuffix(s, "MB"):
		mult, s = 1024*1024, strings.TrimSuffix(s, "MB")
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, false
	}
	return n * mult, true
}

// fileClass is what the variants are keyed by.
type fileClass struct {
	magic  string // "MZ", "\x7fELF" or "" for anything else
	bucket int    // index into sizeBuckets
}

// classMagics are the magic classes variants are built for.
var classMagics = []string{"MZ", "\x7fELF"}

// sizeBuckets are the lower bounds of the size classes: one per decade,
// where rule sets put their bounds (100KB, 1MB ...). Each class costs a
// compiled variant, so they are few.
var sizeBuckets = []int64{0, 100 << 10, 1 << 20, 10 << 20}

func classOf(head []byte, size int64) fileClass {
	c := fileClass{}
	for _, m := range classMagics {
		if len(head) >= len(m) && string(head[:len(m)]) == m {
			c.magic = m
			break
		}
	}
	for i, lo := range sizeBuckets {
		if size >= lo {
			c.bucket = i
		}
	}
	return c
}

// excluded reports whether rule r cannot match any file of class c: none
// of the ways its condition can be true fits the class.
func (r ruleSpan) excluded(c fileClass) bool {
	if r.keep || len(r.needs) == 0 {
		return false
	}
	for _, n := range r.needs {
		if !n.excludes(c) {
			return false
		}
	}
	return true
}

// excludes reports whether no file of class c can meet n.
func (n need) excludes(c fileClass) bool {
	if n.maxSize > 0 && n.maxSize <= sizeBuckets[c.bucket] {
		return true
	}
	if n.magic == "" {
		return false
	}
	if c.magic == "" {
		// The file starts with none of the class magics: a need of one
		// of them cannot be met.
		for _, m := range classMagics {
			if strings.HasPrefix(n.magic, m) {
				return true
			}
		}
		return false
	}
	// The file starts with c.magic: a need of other first bytes cannot
	// be met.
	k := min(len(n.magic), len(c.magic))
	return n.magic[:k] != c.magic[:k]
}

// pruned returns src without the rules that cannot match class c, with
// the same line numbers (left-out rules become blank lines), and how many
// rules were left out. Sources that are not understood come back whole.
func pruned(src string, rules []ruleSpan, c fileClass) (string, int) {
	var b strings.Builder
	last, n := 0, 0
	for _, r := range rules {
		if !r.excluded(c) {
			continue
		}
		b.WriteString(src[last:r.start])
		b.WriteString(strings.Repeat("\n", strings.Count(src[r.start:r.end], "\n")))
		last = r.end
		n++
	}
	if n == 0 {
		return src, 0
	}
	b.WriteString(src[last:])
	return b.String(), n
}
