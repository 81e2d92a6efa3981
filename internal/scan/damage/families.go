package damage

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

//go:embed families.json
var familiesJSON []byte

// Families is the list of known ransomware layouts, footers, trailer
// markers and extensions. It only informs the family guess: a verdict never
// depends on it.
type Families struct {
	Families []Family `json:"families"`
}

// Family describes one ransomware family's traces in encrypted files.
type Family struct {
	Name        string   `json:"name"`
	Layouts     []Layout `json:"layouts,omitempty"`
	FooterSizes []int64  `json:"footer_sizes,omitempty"`
	Markers     []string `json:"markers,omitempty"`
	Extensions  []string `json:"extensions,omitempty"`
	Notes       string   `json:"notes,omitempty"`
}

// Layout is one encryption layout a family is known to use. Zero fields
// match anything.
type Layout struct {
	Pattern string `json:"pattern"`
	Chunk   int64  `json:"chunk,omitempty"`
	Period  int64  `json:"period,omitempty"`
}

// DefaultFamilies returns the embedded family list.
func DefaultFamilies() *Families {
	f, err := ParseFamilies(familiesJSON)
	if err != nil {
		// the embedded file is tested; this cannot happen in a build
		return &Families{}
	}
	return f
}

// ParseFamilies reads a families.json document.
func ParseFamilies(b []byte) (*Families, error) {
	var f Families
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("families: %w", err)
	}
	for i, fam := range f.Families {
		if fam.Name == "" {
			return nil, fmt.Errorf("families: entry %d has no name", i)
		}
	}
	return &f, nil
}

// familyGuess names the family whose traces fit best, with what fitted.
// A marker is decisive; otherwise footer size, layout and extension each
// count one point and two points are needed.
func (fs *Families) guess(ev *Evidence, trailer []byte) (name, basis string) {
	if fs == nil {
		return "", ""
	}
	bestScore := 0
	for _, f := range fs.Families {
		for _, m := range f.Markers {
			if m != "" && bytes.Contains(trailer, []byte(m)) {
				return f.Name, "marker " + m
			}
		}
		score := 0
		var why []string
		for _, n := range f.FooterSizes {
			if ev.TailBytes > 0 && absDiff(ev.TailBytes, n) <= 2 {
				score++
				why = append(why, fmt.Sprintf("footer %d bytes", n))
				break
			}
		}
		for _, l := range f.Layouts {
			if l.Pattern != ev.Pattern {
				continue
			}
			if l.Chunk > 0 && !near(ev.Chunk, l.Chunk) {
				continue
			}
			if l.Period > 0 && !near(ev.Period, l.Period) {
				continue
			}
			if l.Chunk > 0 || l.Period > 0 {
				score += 2
				why = append(why, "layout "+layoutString(l))
			} else {
				score++
				why = append(why, "pattern "+l.Pattern)
			}
			break
		}
		for _, e := range f.Extensions {
			if ev.Extension != "" && strings.HasSuffix(strings.ToLower(ev.Extension), strings.ToLower(e)) {
				score += 2
				why = append(why, "extension "+e)
				break
			}
		}
		switch {
		case score < 2 || score < bestScore:
		case score > bestScore:
			bestScore, name, basis = score, f.Name, strings.Join(why, ", ")
		default:
			// equally good fits: say so rather than pick one
			name += " or " + f.Name
		}
	}
	return name, basis
}

func layoutString(l Layout) string {
	s := l.Pattern
	if l.Chunk > 0 {
		s += fmt.Sprintf(" chunk %d", l.Chunk)
	}
	if l.Period > 0 {
		s += fmt.Sprintf(" period %d", l.Period)
	}
	return s
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// near reports whether an estimated size matches a known one within 10%.
func near(est, known int64) bool {
	return est > 0 && absDiff(est, known)*10 <= known
}
