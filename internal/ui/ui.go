// Package ui is kintsugi's terminal and machine output: escaped display of
// raw file names, record writers for --format jsonl and csv with stable
// field names, aligned tables, human sizes, and a progress bar that only
// ever appears on a terminal's stderr. Commands use it; detectors never do.
package ui

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
)

// Path shows a raw file name for people: valid UTF-8 as is, with invalid
// bytes and control characters escaped as \xNN, so that a Shift-JIS name
// can neither garble a terminal nor be mistaken for another name.
func Path(p string) string {
	if utf8.ValidString(p) && !strings.ContainsFunc(p, isControl) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && n <= 1 || isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", p[i])
			i++
			continue
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Bytes formats a byte count for people (SI units, as disks are sold).
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// ParseSize parses sizes such as 512, 100M, 10G, 1.5T (powers of 1024
// with an optional trailing B or iB).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		case 'P':
			mult = 1 << 50
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	var f float64
	if _, err := fmt.Sscanf(t, "%g", &f); err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional K, M, G or T suffix", s)
	}
	return int64(f * float64(mult)), nil
}
