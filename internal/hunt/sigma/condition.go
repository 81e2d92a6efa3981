package sigma

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

type cop uint8

const (
	cSel cop = iota
	cAnd
	cOr
	cNot
)

// cnode is a compiled condition.
type cnode struct {
	op   cop
	sel  int // index into compiled.sels for cSel
	kids []*cnode
}

// parseCondition parses a Sigma condition over the named search
// identifiers. Precedence: not, and, or; "1 of", "any of", "all of"
// take an identifier pattern with * or "them".
func parseCondition(src string, names []string) (*cnode, error) {
	if strings.Contains(src, "|") {
		return nil, fmt.Errorf("condition %q: aggregation expressions (| count() ...) are not supported", src)
	}
	p := condParser{toks: tokenizeCondition(src), names: names, src: src}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("condition %q: unexpected %q", src, p.toks[p.pos])
	}
	return n, nil
}

func tokenizeCondition(s string) []string {
	var toks []string
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

type condParser struct {
	toks  []string
	pos   int
	names []string
	src   string
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) or() (*cnode, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for strings.EqualFold(p.peek(), "or") {
		p.pos++
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = join(cOr, left, right)
	}
	return left, nil
}

func (p *condParser) and() (*cnode, error) {
	left, err := p.not()
	if err != nil {
		return nil, err
	}
	for strings.EqualFold(p.peek(), "and") {
		p.pos++
		right, err := p.not()
		if err != nil {
			return nil, err
		}
		left = join(cAnd, left, right)
	}
	return left, nil
}

func join(op cop, a, b *cnode) *cnode {
	if a.op == op {
		a.kids = append(a.kids, b)
		return a
	}
	return &cnode{op: op, kids: []*cnode{a, b}}
}

func (p *condParser) not() (*cnode, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		k, err := p.not()
		if err != nil {
			return nil, err
		}
		return &cnode{op: cNot, kids: []*cnode{k}}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (*cnode, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("condition %q: ends too early", p.src)
	case t == "(":
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("condition %q: missing )", p.src)
		}
		p.pos++
		return n, nil
	case t == ")":
		return nil, fmt.Errorf("condition %q: unexpected )", p.src)
	case (t == "1" || strings.EqualFold(t, "any") || strings.EqualFold(t, "all")) && p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of"):
		p.pos += 2
		pat := p.peek()
		if pat == "" || pat == "(" || pat == ")" {
			return nil, fmt.Errorf("condition %q: %s of what", p.src, t)
		}
		p.pos++
		sels := p.expand(pat)
		if len(sels) == 0 {
			return nil, fmt.Errorf("condition %q: %q matches no search identifier", p.src, pat)
		}
		op := cOr
		if strings.EqualFold(t, "all") {
			op = cAnd
		}
		if len(sels) == 1 {
			return &cnode{op: cSel, sel: sels[0]}, nil
		}
		n := &cnode{op: op}
		for _, s := range sels {
			n.kids = append(n.kids, &cnode{op: cSel, sel: s})
		}
		return n, nil
	}
	p.pos++
	for i, n := range p.names {
		if n == t {
			return &cnode{op: cSel, sel: i}, nil
		}
	}
	return nil, fmt.Errorf("condition %q: unknown search identifier %q", p.src, t)
}

// expand returns the identifiers a "x of" pattern selects; "them" selects
// all but those starting with an underscore.
func (p *condParser) expand(pat string) []int {
	var out []int
	for i, n := range p.names {
		if strings.EqualFold(pat, "them") {
			if !strings.HasPrefix(n, "_") {
				out = append(out, i)
			}
			continue
		}
		if ok, _ := path.Match(pat, n); ok {
			out = append(out, i)
		}
	}
	return out
}

// pinnedIDs returns the event ids an event must have for the condition
// to hold, or nil when any id may match. Negations pin nothing.
func (c *compiled) pinnedIDs(n *cnode) []int {
	switch n.op {
	case cSel:
		return c.sels[n.sel].pinned
	case cAnd:
		var out []int
		for _, k := range n.kids {
			ids := c.pinnedIDs(k)
			if ids == nil {
				continue
			}
			if out == nil {
				out = ids
				continue
			}
			out = intersect(out, ids)
			if out == nil {
				out = []int{} // contradictory: nothing can match
			}
		}
		return out
	case cOr:
		var out []int
		for _, k := range n.kids {
			ids := c.pinnedIDs(k)
			if ids == nil {
				return nil
			}
			out = union(out, ids)
		}
		return out
	}
	return nil
}

func intersect(a, b []int) []int {
	var out []int
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

func union(a, b []int) []int {
	out := append([]int(nil), a...)
	for _, y := range b {
		found := false
		for _, x := range out {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			out = append(out, y)
		}
	}
	sort.Ints(out)
	return out
}
