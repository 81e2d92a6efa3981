package sigma

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"

	"gopkg.in/yaml.v3"
)

// errCannotFire marks rules that load but can never match (placeholders).
var errCannotFire = errors.New("cannot fire")

type vKind uint8

const (
	vStr vKind = iota
	vRe
	vCIDR
	vNum
	vFieldRef
	vNull
	vExists
)

// valMatcher is one compiled value of a field: a string with its
// variants (from windash, base64offset ...), a regex, a CIDR, a number
// comparison, a reference to another field, null or exists.
type valMatcher struct {
	kind     vKind
	variants []strPattern
	re       *regexp.Regexp
	prefix   netip.Prefix
	num      float64
	cmp      string // gt gte lt lte
	ref      string // fieldref: the other field (event name)
	refSlot  int
	refMode  string // "", contains, startswith, endswith
	exists   bool
	original string
}

// fieldMatcher tests one field (or, for keywords, every value of the
// event) against its values: any of them, or all with |all.
type fieldMatcher struct {
	name    string // the event field name (after mapping); "" for keywords
	rule    string // the field as written in the rule, for reports
	slot    int
	all     bool
	vals    []valMatcher
	keyword bool
}

// selection is one search identifier: alternatives (a list of maps) of
// field matchers that must all hold.
type selection struct {
	name   string
	alts   [][]fieldMatcher
	pinned []int // event ids required by every alternative, nil if none
}

// compileSelection compiles a search identifier's YAML value.
func compileSelection(name string, n *yaml.Node, fieldMap map[string]string) (*selection, error) {
	s := &selection{name: name}
	switch n.Kind {
	case yaml.MappingNode:
		alt, err := compileMap(n, fieldMap)
		if err != nil {
			return nil, err
		}
		s.alts = append(s.alts, alt)
	case yaml.SequenceNode:
		var keywords []*yaml.Node
		for _, item := range n.Content {
			switch item.Kind {
			case yaml.MappingNode:
				alt, err := compileMap(item, fieldMap)
				if err != nil {
					return nil, err
				}
				s.alts = append(s.alts, alt)
			case yaml.ScalarNode:
				keywords = append(keywords, item)
			default:
				return nil, fmt.Errorf("search identifier %s: unsupported list item", name)
			}
		}
		if len(keywords) > 0 {
			fm, err := compileField("", &yaml.Node{Kind: yaml.SequenceNode, Content: keywords}, fieldMap)
			if err != nil {
				return nil, err
			}
			s.alts = append(s.alts, []fieldMatcher{fm})
		}
	case yaml.ScalarNode:
		fm, err := compileField("", n, fieldMap)
		if err != nil {
			return nil, err
		}
		s.alts = append(s.alts, []fieldMatcher{fm})
	default:
		return nil, fmt.Errorf("search identifier %s: unsupported YAML node", name)
	}
	s.pinned = pinnedOf(s.alts)
	return s, nil
}

func compileMap(n *yaml.Node, fieldMap map[string]string) ([]fieldMatcher, error) {
	var out []fieldMatcher
	for i := 0; i+1 < len(n.Content); i += 2 {
		fm, err := compileField(n.Content[i].Value, n.Content[i+1], fieldMap)
		if err != nil {
			return nil, err
		}
		out = append(out, fm)
	}
	return out, nil
}

// pinnedOf returns the EventID values every alternative requires.
func pinnedOf(alts [][]fieldMatcher) []int {
	var all []int
	for _, alt := range alts {
		var ids []int
		for _, fm := range alt {
			if fm.rule != "EventID" || fm.all {
				continue
			}
			ids = nil
			ok := true
			for _, v := range fm.vals {
				if v.kind != vStr || len(v.variants) != 1 || v.variants[0].kind != strEqual {
					ok = false
					break
				}
				id, err := strconv.Atoi(v.variants[0].lit)
				if err != nil {
					ok = false
					break
				}
				ids = append(ids, id)
			}
			if ok && len(ids) > 0 {
				break
			}
			ids = nil
		}
		if ids == nil {
			return nil
		}
		all = union(all, ids)
	}
	return all
}

// compileField compiles "Field|mod|mod: values".
func compileField(key string, n *yaml.Node, fieldMap map[string]string) (fieldMatcher, error) {
	parts := strings.Split(key, "|")
	field := parts[0]
	fm := fieldMatcher{rule: field, keyword: field == "", slot: -1}
	fm.name = field
	if m, ok := fieldMap[field]; ok {
		fm.name = m
	}
	var (
		transforms       []string
		match            string
		cased, isRe      bool
		reFlags          string
		isRef, isExists  bool
		isCIDR           bool
		leading, trailng bool
	)
	for _, m := range parts[1:] {
		switch m {
		case "":
			// "|all" on keywords leaves an empty field name and an empty first part.
		case "contains":
			match, leading, trailng = m, true, true
		case "startswith":
			match, trailng = m, true
		case "endswith":
			match, leading = m, true
		case "all":
			fm.all = true
		case "cased":
			cased = true
		case "re":
			isRe = true
		case "i", "ignorecase":
			reFlags += "i"
		case "m", "multiline":
			reFlags += "m"
		case "s", "dotall":
			reFlags += "s"
		case "cidr":
			isCIDR = true
		case "exists":
			isExists = true
		case "fieldref":
			isRef = true
		case "gt", "gte", "lt", "lte":
			match = m
		case "base64", "base64offset", "wide", "utf16le", "utf16be", "utf16", "windash":
			transforms = append(transforms, m)
		case "expand":
			return fm, fmt.Errorf("%w: field %s uses the expand modifier (placeholders), and kintsugi defines no placeholder values", errCannotFire, field)
		default:
			return fm, fmt.Errorf("field %s: unknown modifier %q", field, m)
		}
	}
	if fm.keyword && match == "" {
		// Keywords are a full-text search: a value may occur anywhere.
		leading, trailng = true, true
	}
	var values []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		values = []*yaml.Node{n}
	case yaml.SequenceNode:
		for _, v := range n.Content {
			if v.Kind != yaml.ScalarNode {
				return fm, fmt.Errorf("field %s: nested values are not supported", field)
			}
			values = append(values, v)
		}
	default:
		return fm, fmt.Errorf("field %s: unsupported value", field)
	}
	for _, v := range values {
		vm := valMatcher{original: v.Value}
		isNull := v.Tag == "!!null"
		switch {
		case isExists:
			b, err := strconv.ParseBool(v.Value)
			if err != nil {
				return fm, fmt.Errorf("field %s|exists: value %q is not a boolean", field, v.Value)
			}
			vm.kind, vm.exists = vExists, b
		case isNull:
			vm.kind = vNull
		case isRe:
			flags := reFlags
			if flags != "" {
				flags = "(?" + flags + ")"
			}
			re, err := regexp.Compile(flags + v.Value)
			if err != nil {
				return fm, fmt.Errorf("field %s: regular expression %q: %v", field, v.Value, err)
			}
			vm.kind, vm.re = vRe, re
		case isCIDR:
			p, err := netip.ParsePrefix(strings.TrimSpace(v.Value))
			if err != nil {
				return fm, fmt.Errorf("field %s: cidr %q: %v", field, v.Value, err)
			}
			vm.kind, vm.prefix = vCIDR, p.Masked()
		case isRef:
			vm.kind, vm.ref, vm.refMode = vFieldRef, v.Value, match
			if m, ok := fieldMap[v.Value]; ok {
				vm.ref = m
			}
		case match == "gt" || match == "gte" || match == "lt" || match == "lte":
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil {
				return fm, fmt.Errorf("field %s|%s: %q is not a number", field, match, v.Value)
			}
			vm.kind, vm.num, vm.cmp = vNum, f, match
		default:
			vm.kind = vStr
			vs, literal, err := applyTransforms(v.Value, transforms)
			if err != nil {
				return fm, fmt.Errorf("field %s: %w", field, err)
			}
			for _, s := range vs {
				if literal {
					vm.variants = append(vm.variants, compileLiteral(s, leading, trailng, cased))
				} else {
					vm.variants = append(vm.variants, compileString(s, leading, trailng, cased))
				}
			}
		}
		fm.vals = append(fm.vals, vm)
	}
	return fm, nil
}

// applyTransforms applies the encoding modifiers in rule order. The
// result is literal (no wildcards) once an encoding was applied.
func applyTransforms(v string, transforms []string) ([]string, bool, error) {
	vals := []string{v}
	literal := false
	for _, t := range transforms {
		if t != "windash" && !literal {
			// Encodings work on the plain text: resolve escapes first.
			for i, s := range vals {
				var b strings.Builder
				for _, p := range parseWildcards(s) {
					if p.star || p.one {
						return nil, false, fmt.Errorf("modifier %s on a value with wildcards (%q) is not supported", t, v)
					}
					b.WriteString(p.lit)
				}
				vals[i] = b.String()
			}
			literal = true
		}
		var next []string
		for _, s := range vals {
			switch t {
			case "wide", "utf16le":
				next = append(next, encodeUTF16(s, false, false))
			case "utf16be":
				next = append(next, encodeUTF16(s, true, false))
			case "utf16":
				next = append(next, encodeUTF16(s, false, true))
			case "base64":
				next = append(next, base64.StdEncoding.EncodeToString([]byte(s)))
			case "base64offset":
				next = append(next, base64Offsets(s)...)
			case "windash":
				next = append(next, windashVariants(s)...)
			}
		}
		vals = next
	}
	return vals, literal, nil
}

func encodeUTF16(s string, bigEndian, bom bool) string {
	var b []byte
	if bom {
		b = append(b, 0xff, 0xfe)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return string(b)
}

// base64Offsets returns the three base64 forms of s as it may appear at
// any byte offset inside a longer base64-encoded text: the value is
// shifted by 0, 1 and 2 bytes and the characters that depend on the
// unknown neighbouring bytes are cut.
func base64Offsets(s string) []string {
	starts := [3]int{0, 2, 3}
	ends := [3]int{0, 3, 2}
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + s))
		end := len(enc) - ends[(len(s)+i)%3]
		if starts[i] >= end {
			continue
		}
		out = append(out, enc[starts[i]:end])
	}
	return out
}

// windashVariants returns s with every option dash ("-" or "/" starting
// a word) replaced by each character Windows tools accept as one.
func windashVariants(s string) []string {
	var pos []int
	for i := 0; i < len(s); i++ {
		if s[i] != '-' && s[i] != '/' {
			continue
		}
		prevWord := i > 0 && isWordByte(s[i-1])
		nextWord := i+1 < len(s) && isWordByte(s[i+1])
		if !prevWord && nextWord {
			pos = append(pos, i)
		}
	}
	if len(pos) == 0 {
		return []string{s}
	}
	out := []string{s}
	for _, d := range []string{"-", "/", "\u2013", "\u2014", "\u2015"} {
		var b strings.Builder
		last := 0
		for _, p := range pos {
			b.WriteString(s[last:p])
			b.WriteString(d)
			last = p + 1
		}
		b.WriteString(s[last:])
		if v := b.String(); v != s {
			out = append(out, v)
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
