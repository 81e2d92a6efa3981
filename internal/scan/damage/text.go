package damage

import (
	"bytes"
	"unicode/utf8"
)

// Text has no signature, so it is recognised by content: UTF-8 (with or
// without BOM), UTF-16 (BOM or the pattern of zero bytes), Shift-JIS,
// EUC-JP, and single-byte legacy text. Each encoding defines "events":
// byte sequences that cannot occur in it (invalid sequences, stray control
// characters). Text is validated in 32-byte cells: a cell with two events
// or more whose bytes are also as varied as random bytes is ciphertext. A
// stray invalid byte in otherwise good text is not.

type textEnc int

const (
	encNone textEnc = iota
	encUTF8
	encUTF16LE
	encUTF16BE
	encSJIS
	encEUCJP
	encLatin
)

func (e textEnc) String() string {
	switch e {
	case encUTF8:
		return "utf-8"
	case encUTF16LE:
		return "utf-16le"
	case encUTF16BE:
		return "utf-16be"
	case encSJIS:
		return "shift_jis"
	case encEUCJP:
		return "euc-jp"
	case encLatin:
		return "8-bit"
	}
	return "none"
}

const textCell = 32

// ctrl reports a control character that plain text does not contain.
func ctrl(c byte) bool {
	return c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1b || c == 0x7f
}

// plainText reports whether b is clean UTF-8 text without control
// characters (a cut character at the end allowed). Short files are judged
// by it before any randomness test: a handful of distinct bytes says
// nothing, but 16 random bytes are all printable text once in 10^7.
func plainText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			if ctrl(c) {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return len(b)-i < 4 && utf8.RuneStart(c) && !utf8.FullRune(b[i:])
		}
		i += size
	}
	return true
}

// detectEnc guesses the encoding of a window of text; encNone when the
// window is not text. The last few bytes may be a cut character.
func detectEnc(b []byte) textEnc {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return encUTF8
	}
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0xfe {
		return encUTF16LE
	}
	if len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff {
		return encUTF16BE
	}
	if len(b) < 16 {
		return encNone
	}
	if len(b) > 4096 {
		b = b[:4096]
	}
	var zeroEven, zeroOdd int
	for i, c := range b {
		if c == 0 {
			if i%2 == 0 {
				zeroEven++
			} else {
				zeroOdd++
			}
		}
	}
	half := len(b) / 2
	utf16 := encNone
	// UTF-16LE has zero bytes where it puts the high byte of an ASCII
	// character: many in Latin text, a few in CJK text with some spaces
	// or digits (box drawing, U+2500, puts some on the other side). The
	// events and the script test decide; random bytes fail them, given 32
	// code units or more.
	switch {
	case zeroOdd > half*3/10 && zeroEven < half/20,
		len(b) >= 64 && zeroOdd > 0 && zeroEven*2 <= zeroOdd:
		utf16 = encUTF16LE
	case zeroEven > half*3/10 && zeroOdd < half/20,
		len(b) >= 64 && zeroEven > 0 && zeroOdd*2 <= zeroEven:
		utf16 = encUTF16BE
	case zeroEven+zeroOdd > 0:
		return encNone
	}
	if utf16 != encNone {
		if isText(b, utf16) {
			return utf16
		}
		return encNone
	}
	// UTF-16 without a BOM (CJK text has no zero bytes) comes before
	// 8-bit text.
	for _, e := range []textEnc{encUTF8, encSJIS, encEUCJP, encUTF16LE, encUTF16BE, encLatin} {
		if isText(b, e) {
			return e
		}
	}
	return encNone
}

// isText reports whether b reads as text in encoding e: at most 1 event
// in 200 bytes (real text has stray bytes), and UTF-16 written mostly in
// one script.
func isText(b []byte, e textEnc) bool {
	if textEvents(b, e, nil)*200 > len(b) {
		return false
	}
	return e != encUTF16LE && e != encUTF16BE || oneScript(b, e)
}

// unit16 reads the UTF-16 code unit at the start of b in e's byte order.
func unit16(b []byte, e textEnc) uint16 {
	if e == encUTF16BE {
		return be16(b)
	}
	return le16(b)
}

// oneScript reports whether UTF-16 code units read from b are, like
// written text, at least 80% from Latin (with general punctuation) plus
// at most one other writing system (symbols, box drawing and emoji count
// for none): CJK (kana, kanji, full-width forms),
// Hangul, or the alphabets between them (Greek, Cyrillic, Arabic,
// Devanagari, Thai ...). Random bytes read as UTF-16 spread over all of
// them, and over ranges text hardly uses: a third of the units fall in
// CJK and a sixth in Hangul. Without this test, one in 70 random 64-byte
// files passed as UTF-16 text, since 32 random units avoid every
// impossible one (surrogates, private use, controls) often enough.
func oneScript(b []byte, e textEnc) bool {
	var latin, alpha, cjk, hangul, n int
	for i := 0; i+1 < len(b); i += 2 {
		u := unit16(b[i:], e)
		n++
		switch {
		case u >= 0x2070 && u < 0x3000:
			// symbols, arrows, box drawing, circled numbers: text of
			// any script may be full of them; they count for none
			n--
		case u >= 0xd800 && u < 0xdc00 && i+3 < len(b):
			// an emoji or other astral character, when a low surrogate
			// follows: counted for none either
			if w := unit16(b[i+2:], e); w >= 0xdc00 && w < 0xe000 {
				n--
				i += 2
			}
		case u < 0x0250 || u >= 0x2000 && u < 0x2070:
			latin++
		case u < 0x1100 || u >= 0x1200 && u < 0x2000:
			alpha++
		case u < 0x1200 || u >= 0x3130 && u < 0x3190 || u >= 0xac00 && u < 0xd7b0:
			hangul++
		case u >= 0x3000 && u < 0x3100 || u >= 0x3190 && u < 0x3200 || u >= 0x3400 && u < 0x4dc0 ||
			u >= 0x4e00 && u < 0xa000 || u >= 0xf900 && u < 0xfb00 || u >= 0xff00 && u < 0xfff0:
			cjk++
		}
	}
	return n > 0 && (latin+max(alpha, cjk, hangul))*5 >= n*4
}

// textEvents counts the events in b under encoding e; when at is not nil,
// it is incremented at the cell of each event.
func textEvents(b []byte, e textEnc, at []uint8) int {
	n := 0
	mark := func(i int) {
		n++
		if at != nil {
			if c := i / textCell; c < len(at) && at[c] < 255 {
				at[c]++
			}
		}
	}
	switch e {
	case encUTF8:
		for i := 0; i < len(b); {
			c := b[i]
			if c < 0x80 {
				if ctrl(c) {
					mark(i)
				}
				i++
				continue
			}
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				if len(b)-i < 4 && utf8.RuneStart(c) && !utf8.FullRune(b[i:]) {
					break // a character cut at the end of the window
				}
				mark(i)
				i++
				continue
			}
			i += size
		}
	case encUTF16LE, encUTF16BE:
		for i := 0; i+1 < len(b); i += 2 {
			u := unit16(b[i:], e)
			switch {
			case u < 0x20 && u != '\t' && u != '\n' && u != '\r' && u != '\f':
				mark(i)
			case u >= 0xd800 && u < 0xdc00:
				// high surrogate: a low one must follow
				if i+3 < len(b) {
					if w := unit16(b[i+2:], e); w < 0xdc00 || w >= 0xe000 {
						mark(i)
					} else {
						i += 2
					}
				}
			case u >= 0xdc00 && u < 0xe000:
				mark(i)
			case u >= 0xe000 && u < 0xf900:
				// private use: legal, but never seen in real text
				mark(i)
			case u >= 0xfff0 && u != 0xfffd:
				mark(i)
			}
		}
	case encSJIS:
		for i := 0; i < len(b); i++ {
			c := b[i]
			switch {
			case c < 0x80:
				if ctrl(c) {
					mark(i)
				}
			case c >= 0xa1 && c <= 0xdf:
				// half-width katakana
			case c >= 0x81 && c <= 0x9f || c >= 0xe0 && c <= 0xfc:
				if i+1 >= len(b) {
					break
				}
				t := b[i+1]
				if t < 0x40 || t == 0x7f || t > 0xfc {
					mark(i)
				} else {
					i++
				}
			default:
				mark(i)
			}
		}
	case encEUCJP:
		for i := 0; i < len(b); i++ {
			c := b[i]
			switch {
			case c < 0x80:
				if ctrl(c) {
					mark(i)
				}
			case c == 0x8e:
				if i+1 < len(b) {
					if t := b[i+1]; t < 0xa1 || t > 0xdf {
						mark(i)
					} else {
						i++
					}
				}
			case c == 0x8f:
				if i+2 < len(b) {
					if b[i+1] < 0xa1 || b[i+1] > 0xfe || b[i+2] < 0xa1 || b[i+2] > 0xfe {
						mark(i)
					} else {
						i += 2
					}
				}
			case c >= 0xa1 && c <= 0xfe:
				if i+1 < len(b) {
					if t := b[i+1]; t < 0xa1 || t > 0xfe {
						mark(i)
					} else {
						i++
					}
				}
			default:
				mark(i)
			}
		}
	case encLatin:
		for i, c := range b {
			if ctrl(c) || c >= 0x80 && c < 0xa0 && c != 0x80 && c != 0x85 && c != 0x99 && c != 0x92 && c != 0x93 && c != 0x94 && c != 0x96 && c != 0x97 {
				mark(i)
			}
		}
	}
	return n
}

func sniffText(h []byte) bool { return detectEnc(h) != encNone }

// textScan validates text in windows and records random cells as damage.
type textScan struct {
	v      *vctx
	enc    textEnc
	cells  []uint8
	runOff int64 // start of the current damaged run, -1 when none
	runEnd int64
	good   int64 // bytes of cells that are text
	bad    int64 // bytes of cells that are ciphertext
}

func validateText(v *vctx) {
	head := v.s.bytes(0, 4096)
	enc := detectEnc(head)
	if enc == encNone {
		return
	}
	v.rep.format = "text/" + enc.String()
	runTextScan(v, enc)
	if v.rep.status != damaged {
		v.rep.status = valid
	}
	v.rep.end = v.size
}

// textHeadless establishes the encoding from a window past a damaged head
// and then validates the whole file.
func textHeadless(v *vctx) {
	for _, off := range []int64{4096, 16384, 65536, 1 << 20, 4 << 20, v.size / 2, v.size - 4096} {
		if off <= 0 || off >= v.size {
			continue
		}
		w := v.s.bytes(off, 4096)
		// skip a cut character at the start of the window
		for i := 0; i < 3 && len(w) > 0 && w[0]&0xc0 == 0x80; i++ {
			w = w[1:]
		}
		enc := detectEnc(w)
		if enc == encNone {
			continue
		}
		v.rep.format = "text/" + enc.String()
		v.rep.headless = true
		runTextScan(v, enc)
		if v.rep.status != damaged {
			v.rep.status = valid
		}
		v.rep.end = v.size
		return
	}
}

func runTextScan(v *vctx, enc textEnc) {
	t := &textScan{v: v, enc: enc, runOff: -1}
	const win = 1 << 20
	var windows []int64
	if v.quick || v.size > 256<<20 {
		n := int64(8)
		if !v.quick {
			n = 64
		}
		w := int64(16 << 10)
		if !v.quick {
			w = win
		}
		windows = append(windows, 0)
		for i := int64(1); i <= n; i++ {
			off := (v.size - w) * i / n / textCell * textCell
			windows = append(windows, off)
		}
		for _, off := range windows {
			t.window(off, w)
		}
	} else {
		for off := int64(0); off < v.size && v.more(); off += win {
			t.window(off, win)
		}
	}
	t.flush()
	v.rep.raw = append(v.rep.raw, span{0, v.size})
	if t.bad > 0 && t.good == 0 {
		v.rep.note = "no text left"
	}
}

func (t *textScan) window(off, n int64) {
	b := t.v.s.bytes(off, int(n))
	if len(b) == 0 {
		return
	}
	if off > 0 {
		// a window may start inside a character: resynchronise
		skip := 0
		switch t.enc {
		case encUTF16LE, encUTF16BE:
			skip = int(off % 2)
		case encUTF8:
			for skip < 3 && skip < len(b) && b[skip]&0xc0 == 0x80 {
				skip++
			}
		case encSJIS, encEUCJP:
			// multi-byte characters cannot be told from their halves:
			// start after a line end
			if i := bytes.IndexByte(b[:minInt(len(b), 1024)], '\n'); i >= 0 {
				skip = i + 1
			}
		}
		off += int64(skip)
		b = b[skip:]
	}
	ncells := (len(b) + textCell - 1) / textCell
	if cap(t.cells) < ncells {
		t.cells = make([]uint8, ncells)
	}
	cells := t.cells[:ncells]
	for i := range cells {
		cells[i] = 0
	}
	textEvents(b, t.enc, cells)
	for i := range cells {
		lo := i * textCell
		hi := lo + textCell
		if hi > len(b) {
			hi = len(b)
		}
		cell := b[lo:hi]
		co := off + int64(lo)
		if cells[i] >= 2 && len(cell) == textCell && smallRandom(cell) {
			t.bad += int64(len(cell))
			if t.runOff >= 0 && co <= t.runEnd {
				t.runEnd = co + int64(len(cell))
			} else {
				t.flush()
				t.runOff, t.runEnd = co, co+int64(len(cell))
			}
			continue
		}
		t.good += int64(len(cell))
		if t.runOff >= 0 && co > t.runEnd {
			t.flush()
		}
		if len(t.v.rep.probes) < maxProbes && i%128 == 0 {
			t.v.rep.probes = append(t.v.rep.probes, probe{Off: co})
		}
	}
}

func (t *textScan) flush() {
	if t.runOff < 0 {
		return
	}
	t.v.brk(t.runOff, t.runEnd-t.runOff, "text-"+t.enc.String(), "random bytes in "+t.enc.String()+" text")
	t.runOff = -1
}
