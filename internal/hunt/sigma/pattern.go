package sigma

import (
	"strings"
)

// part is one piece of a Sigma string value: literal text or a wildcard.
type part struct {
	lit  string
	star bool // *
	one  bool // ?
}

// parseWildcards splits a Sigma string into literals and wildcards:
// * and ? are wildcards; \*, \? and \\ escape them; any other backslash
// is literal (Sigma specification, "Escaping").
func parseWildcards(s string) []part {
	var parts []part
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			parts = append(parts, part{lit: b.String()})
			b.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == '*':
			flush()
			if len(parts) == 0 || !parts[len(parts)-1].star {
				parts = append(parts, part{star: true})
			}
		case c == '?':
			flush()
			parts = append(parts, part{one: true})
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return parts
}

// strKind says how a compiled string pattern compares.
type strKind uint8

const (
	strEqual strKind = iota
	strPrefix
	strSuffix
	strContains
	strAny  // a lone *: any value
	strGlob // general wildcard pattern
)

// strPattern is a compiled, case-folded (unless cased) string comparison.
type strPattern struct {
	kind  strKind
	lit   string // the literal for equal/prefix/suffix/contains
	parts []part // for strGlob, literals folded
	cased bool
}

// compileString compiles a Sigma string with its wildcards; addStar
// adds a leading and/or trailing * (contains, startswith, endswith).
func compileString(s string, leading, trailing, cased bool) strPattern {
	parts := parseWildcards(s)
	if leading && (len(parts) == 0 || !parts[0].star) {
		parts = append([]part{{star: true}}, parts...)
	}
	if trailing && (len(parts) == 0 || !parts[len(parts)-1].star) {
		parts = append(parts, part{star: true})
	}
	return compileParts(parts, cased)
}

// compileLiteral compiles a string taken literally (no wildcards), as
// produced by base64 and the other encoding modifiers.
func compileLiteral(s string, leading, trailing, cased bool) strPattern {
	var parts []part
	if leading {
		parts = append(parts, part{star: true})
	}
	if s != "" {
		parts = append(parts, part{lit: s})
	}
	if trailing {
		parts = append(parts, part{star: true})
	}
	return compileParts(parts, cased)
}

func compileParts(parts []part, cased bool) strPattern {
	fold := func(s string) string {
		if cased {
			return s
		}
		return strings.ToLower(s)
	}
	for i := range parts {
		parts[i].lit = fold(parts[i].lit)
	}
	p := strPattern{cased: cased}
	switch {
	case len(parts) == 0:
		p.kind = strEqual
	case len(parts) == 1 && parts[0].star:
		p.kind = strAny
	case len(parts) == 1 && parts[0].lit != "":
		p.kind, p.lit = strEqual, parts[0].lit
	case len(parts) == 2 && parts[0].lit != "" && parts[1].star:
		p.kind, p.lit = strPrefix, parts[0].lit
	case len(parts) == 2 && parts[0].star && parts[1].lit != "":
		p.kind, p.lit = strSuffix, parts[1].lit
	case len(parts) == 3 && parts[0].star && parts[1].lit != "" && parts[2].star:
		p.kind, p.lit = strContains, parts[1].lit
	default:
		p.kind, p.parts = strGlob, parts
	}
	return p
}

// match compares a value; lower is the value already folded with
// strings.ToLower, orig the value as recorded.
func (p *strPattern) match(lower, orig string) bool {
	s := lower
	if p.cased {
		s = orig
	}
	switch p.kind {
	case strEqual:
		return s == p.lit
	case strPrefix:
		return strings.HasPrefix(s, p.lit)
	case strSuffix:
		return strings.HasSuffix(s, p.lit)
	case strContains:
		return strings.Contains(s, p.lit)
	case strAny:
		return true
	}
	return globMatch(p.parts, s)
}

// globMatch matches s against parts with * and ? wildcards. ? matches
// one character (rune). Backtracking is limited to the last *, which
// keeps the match linear in practice.
func globMatch(parts []part, s string) bool {
	pi, si := 0, 0
	starPi, starSi := -1, 0
	for {
		if pi < len(parts) {
			p := parts[pi]
			switch {
			case p.star:
				starPi, starSi = pi, si
				pi++
				continue
			case p.one:
				if si < len(s) {
					si += runeLen(s[si:])
					pi++
					continue
				}
			default:
				if strings.HasPrefix(s[si:], p.lit) {
					si += len(p.lit)
					pi++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starPi < 0 || starSi >= len(s) {
			return false
		}
		starSi += runeLen(s[starSi:])
		pi, si = starPi+1, starSi
	}
}

func runeLen(s string) int {
	if s[0] < 0x80 {
		return 1
	}
	for i := 1; i < len(s) && i < 4; i++ {
		if s[i]&0xc0 != 0x80 {
			return i
		}
	}
	return min(len(s), 4)
}
