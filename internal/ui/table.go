package ui

import (
	"fmt"
	"io"
	"strings"
)

// Table prints rows aligned in columns; numbers align right when the
// column is marked so.
type Table struct {
	Header []string
	Right  []bool
	rows   [][]string
}

// Add appends a row.
func (t *Table) Add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.rows = append(t.rows, row)
}

// width counts display columns: East Asian wide characters take two.
func width(s string) int {
	w := 0
	for _, r := range s {
		if isWide(r) {
			w += 2
		} else {
			w++
		}
	}
	return w
}

func isWide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115f || r == 0x2329 || r == 0x232a ||
		(r >= 0x2e80 && r <= 0xa4cf && r != 0x303f) || (r >= 0xac00 && r <= 0xd7a3) ||
		(r >= 0xf900 && r <= 0xfaff) || (r >= 0xfe30 && r <= 0xfe6f) || (r >= 0xff00 && r <= 0xff60) ||
		(r >= 0xffe0 && r <= 0xffe6) || (r >= 0x20000 && r <= 0x3fffd))
}

// Write prints the table.
func (t *Table) Write(w io.Writer) error {
	n := len(t.Header)
	for _, r := range t.rows {
		n = max(n, len(r))
	}
	ws := make([]int, n)
	all := append([][]string{t.Header}, t.rows...)
	for _, r := range all {
		for i, c := range r {
			ws[i] = max(ws[i], width(c))
		}
	}
	var b strings.Builder
	for ri, r := range all {
		if ri == 0 && len(t.Header) == 0 {
			continue
		}
		for i := range n {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			pad := strings.Repeat(" ", ws[i]-width(c))
			if i < len(t.Right) && t.Right[i] {
				b.WriteString(pad + c)
			} else if i == n-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + pad)
			}
			if i < n-1 {
				b.WriteString("  ")
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Truncate shortens s to at most n display columns, marking the cut.
func Truncate(s string, n int) string {
	if width(s) <= n {
		return s
	}
	var b strings.Builder
	w := 0
	for _, r := range s {
		rw := 1
		if isWide(r) {
			rw = 2
		}
		if w+rw > n-1 {
			break
		}
		b.WriteRune(r)
		w += rw
	}
	return b.String() + "…"
}
