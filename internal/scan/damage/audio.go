package damage

import (
	"bytes"
)

// MP3 (MPEG audio frames after an optional ID3v2 tag), FLAC (metadata
// blocks, then frames with a sync code, a header CRC-8 and a running frame
// number) and MPEG transport streams (a sync byte every 188 or 192 bytes).
// Each walk lands on every frame or packet header, so any encrypted stretch
// longer than a frame is seen.

// --- MP3 ------------------------------------------------------------------

var mp3Bitrates = [2][3][16]int{
	{ // MPEG-1: layer I, II, III
		{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0},
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
	},
	{ // MPEG-2 and 2.5
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
	},
}

var mp3Rates = [4][3]int{{11025, 12000, 8000}, {0, 0, 0}, {22050, 24000, 16000}, {44100, 48000, 32000}}

// mp3Frame returns the length of the MPEG audio frame whose header is h, 0
// when h is not a frame header (free-format frames included: they cannot
// be walked).
func mp3Frame(h []byte) int {
	if len(h) < 4 || h[0] != 0xff || h[1]&0xe0 != 0xe0 {
		return 0
	}
	ver := (h[1] >> 3) & 3 // 0: 2.5, 2: 2, 3: 1
	layer := (h[1] >> 1) & 3
	bi := h[2] >> 4
	si := (h[2] >> 2) & 3
	if ver == 1 || layer == 0 || bi == 0 || bi == 15 || si == 3 {
		return 0
	}
	l := 3 - int(layer) // 0: layer I
	v := 0
	if ver != 3 {
		v = 1
	}
	br := mp3Bitrates[v][l][bi] * 1000
	sr := mp3Rates[ver][si]
	pad := int(h[2]>>1) & 1
	switch {
	case l == 0:
		return (12*br/sr + pad) * 4
	case l == 2 && v == 1:
		return 72*br/sr + pad
	default:
		return 144*br/sr + pad
	}
}

func id3Size(h []byte) int64 {
	if len(h) < 10 || string(h[:3]) != "ID3" || h[3] == 0xff || h[4] == 0xff {
		return -1
	}
	for _, c := range h[6:10] {
		if c&0x80 != 0 {
			return -1
		}
	}
	n := int64(h[6])<<21 | int64(h[7])<<14 | int64(h[8])<<7 | int64(h[9])
	if h[5]&0x10 != 0 {
		n += 10 // footer
	}
	return 10 + n
}

func sniffMP3(h []byte) bool {
	if id3Size(h) > 0 {
		return true
	}
	// three chained frames
	off := 0
	for i := 0; i < 3; i++ {
		if off >= len(h) {
			return false
		}
		n := mp3Frame(h[off:])
		if n == 0 {
			return false
		}
		off += n
	}
	return true
}

func validateMP3(v *vctx) {
	v.rep.format = "mp3"
	v.rep.status = valid
	off := int64(0)
	if n := id3Size(v.s.bytes(0, 10)); n > 0 {
		v.ok(0)
		off = n
	}
	// zero padding may follow the tag
	for off < v.size {
		b := v.s.bytes(off, 4096)
		i := bytes.IndexFunc(b, func(r rune) bool { return r != 0 })
		if i < 0 {
			off += int64(len(b))
			if len(b) == 0 {
				break
			}
			continue
		}
		off += int64(i)
		break
	}
	mp3Walk(v, off)
}

func mp3Walk(v *vctx, off int64) {
	frames := 0
	for off < v.size && v.more() {
		h := v.s.bytes(off, 4)
		n := int64(mp3Frame(h))
		if n > 0 && off+n <= v.size {
			frames++
			if frames%16 == 1 {
				v.ok(off)
			} else {
				v.budget--
			}
			off += n
			continue
		}
		// the end: ID3v1, APE or Lyrics tags, or a last short frame
		if t := v.s.bytes(off, 8); len(t) >= 3 && (string(t[:3]) == "TAG" || bytes.HasPrefix(t, []byte("APETAGEX")) || bytes.HasPrefix(t, []byte("LYRICS"))) {
			off = v.size
			break
		}
		if n > 0 {
			off = v.size // truncated last frame
			break
		}
		if frames > 0 && mp3Resync(v, off+1) < 0 && v.tailAt(off) {
			return
		}
		if !v.fail(off, "mp3-frame", "MPEG audio frame header expected") {
			break
		}
		nxt := mp3Resync(v, off+1)
		if nxt < 0 {
			v.setLen(off, v.size-off)
			off = v.size
			break
		}
		v.setLen(off, nxt-off)
		off = nxt
	}
	if v.rep.end < 0 {
		v.rep.end = off
	}
}

// mp3Resync finds the next run of three chained frames.
func mp3Resync(v *vctx, from int64) int64 {
	return v.resync(from, v.size, func(buf []byte, base int64) int {
		for i := 0; ; {
			j := bytes.IndexByte(buf[i:], 0xff)
			if j < 0 || i+j+4 > len(buf) {
				return -1
			}
			p := i + j
			q := base + int64(p)
			ok := true
			for k := 0; k < 3 && ok; k++ {
				n := mp3Frame(v.s.bytes(q, 4))
				ok = n > 0
				q += int64(n)
			}
			if ok {
				return p
			}
			i = p + 1
		}
	})
}

// mp3Headless walks the frames found after a destroyed head.
func mp3Headless(v *vctx) {
	off := mp3Resync(v, 1)
	if off < 0 {
		return
	}
	v.rep.format = "mp3"
	v.rep.status = valid
	v.rep.headless = true
	v.brk(0, off, "mp3-frame", "ID3 tag and first frames replaced by random bytes")
	mp3Walk(v, off)
}

// --- FLAC -----------------------------------------------------------------

func sniffFLAC(h []byte) bool { return len(h) >= 8 && string(h[:4]) == "fLaC" }

func crc8(b []byte) byte {
	var c byte
	for _, x := range b {
		c ^= x
		for i := 0; i < 8; i++ {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
	}
	return c
}

// flacHeader parses a frame header at b: its length and its frame or
// sample number; ok is false when b is not a frame header.
func flacHeader(b []byte) (hlen int, num uint64, ok bool) {
	if len(b) < 6 || b[0] != 0xff || b[1]&0xfe != 0xf8 {
		return 0, 0, false
	}
	bs := b[2] >> 4
	sr := b[2] & 15
	ch := b[3] >> 4
	ss := (b[3] >> 1) & 7
	if bs == 0 || sr == 15 || ch > 10 || ss == 3 || ss == 7 || b[3]&1 != 0 {
		return 0, 0, false
	}
	p := 4
	// UTF-8 coded number
	c := b[p]
	n := 0
	switch {
	case c < 0x80:
		num = uint64(c)
	case c&0xe0 == 0xc0:
		num, n = uint64(c&0x1f), 1
	case c&0xf0 == 0xe0:
		num, n = uint64(c&0x0f), 2
	case c&0xf8 == 0xf0:
		num, n = uint64(c&0x07), 3
	case c&0xfc == 0xf8:
		num, n = uint64(c&0x03), 4
	case c&0xfe == 0xfc:
		num, n = uint64(c&0x01), 5
	case c == 0xfe:
		n = 6
	default:
		return 0, 0, false
	}
	p++
	if len(b) < p+n+3 {
		return 0, 0, false
	}
	for i := 0; i < n; i++ {
		if b[p]&0xc0 != 0x80 {
			return 0, 0, false
		}
		num = num<<6 | uint64(b[p]&0x3f)
		p++
	}
	switch bs {
	case 6:
		p++
	case 7:
		p += 2
	}
	switch sr {
	case 12:
		p++
	case 13, 14:
		p += 2
	}
	if len(b) < p+1 || crc8(b[:p]) != b[p] {
		return 0, 0, false
	}
	return p + 1, num, true
}

func validateFLAC(v *vctx) {
	v.rep.format = "flac"
	off := int64(4)
	var minFrame, maxFrame int64
	for v.more() {
		h := v.s.bytes(off, 4)
		if len(h) < 4 {
			v.fail(off, "flac-metadata", "metadata block expected")
			return
		}
		typ := h[0] & 0x7f
		n := int64(h[1])<<16 | int64(h[2])<<8 | int64(h[3])
		if typ == 127 || off+4+n > v.size || off == 4 && (typ != 0 || n != 34) {
			v.fail(off, "flac-metadata", "metadata block header invalid")
			return
		}
		if typ == 0 {
			if si := v.s.bytes(off+4, 34); len(si) == 34 {
				minFrame = int64(si[4])<<16 | int64(si[5])<<8 | int64(si[6])
				maxFrame = int64(si[7])<<16 | int64(si[8])<<8 | int64(si[9])
			}
		}
		v.ok(off)
		off += 4 + n
		if h[0]&0x80 != 0 {
			break
		}
	}
	v.rep.status = valid
	flacFrames(v, off, minFrame, maxFrame)
}

// flacFrames walks frames by their headers: each must carry the next
// frame (or sample) number and lie within the smallest and largest frame
// size the stream declares after the previous one. Where the next header
// is not where it should be, the walk looks for the next good header
// further on; the gap is damage when the bytes in its middle look random.
func flacFrames(v *vctx, off, minFrame, maxFrame int64) {
	if maxFrame <= 0 || maxFrame > 16<<20 {
		maxFrame = 1 << 20
	}
	if minFrame <= 0 || minFrame > maxFrame {
		minFrame = 1
	}
	prevOff := off
	var prev uint64
	first := true
	gapFail := func(at int64) {
		mid := (prevOff + at) / 2
		if v.fail(mid, "flac-frame", "frames missing between two good frames") {
			v.setLen(prevOff+1, at-prevOff-1)
		}
	}
	// next finds the first good header in [from, to), or -1; strict asks
	// for the very next number, loose for any later one
	next := func(from, to int64, strict bool) (int64, uint64) {
		for from < to && v.more() {
			w := v.s.window(from, int(minInt64(to-from+16, 1<<20)))
			if len(w) < 6 {
				return -1, 0
			}
			lim := minInt(len(w), int(to-from))
			for i := 0; i < lim; {
				j := bytes.IndexByte(w[i:lim], 0xff)
				if j < 0 {
					break
				}
				p := i + j
				i = p + 1
				_, num, ok := flacHeader(w[p:minInt(p+16, len(w))])
				if !ok {
					continue
				}
				variable := w[p+1]&1 != 0
				switch {
				case first && (num == 0 || !strict):
				case !first && strict && (num == prev+1 || variable && num > prev):
				case !first && !strict && num > prev && (variable || num-prev < 1<<24):
				default:
					continue
				}
				return from + int64(p), num
			}
			from += int64(lim)
		}
		return -1, 0
	}
	for prevOff < v.size && v.more() {
		lo, hi := prevOff+minFrame, prevOff+maxFrame+1
		if first {
			lo, hi = prevOff, prevOff+1
		}
		at, num := next(lo, minInt64(hi, v.size), true)
		if at < 0 {
			// not where it should be: search on
			at, num = next(lo, v.size, false)
			if at < 0 {
				break
			}
			if !v.more() {
				return
			}
			gapFail(at)
		}
		first = false
		prev, prevOff = num, at
		v.ok(at)
	}
	if !first && v.more() && v.size-prevOff > 2*maxFrame {
		gapFail(v.size)
	}
	v.rep.end = v.size
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// --- MPEG transport stream -------------------------------------------------

func sniffTS(h []byte) bool {
	for _, pk := range []int{188, 192} {
		lead := pk - 188
		ok := len(h) >= 4*pk
		for i := 0; ok && i < 4; i++ {
			ok = h[i*pk+lead] == 0x47
		}
		if ok {
			return true
		}
	}
	return false
}

func validateTS(v *vctx) {
	h := v.s.bytes(0, 4*192)
	if len(h) < 4*188 {
		return
	}
	pk, lead := int64(188), int64(0)
	if !(h[0] == 0x47 && h[188] == 0x47) {
		pk, lead = 192, 4
	}
	v.rep.format = "mpegts"
	v.rep.status = valid
	var badRun int64 = -1
	lastGood := int64(0)
	for off := int64(0); off+pk <= v.size && v.more(); off += pk {
		b := v.s.bytes(off+lead, 1)
		if len(b) == 1 && b[0] == 0x47 {
			lastGood = off + pk
			if badRun >= 0 {
				v.setLen(badRun, off-badRun)
				badRun = -1
			}
			if (off/pk)%64 == 0 {
				v.ok(off)
			} else {
				v.budget--
			}
			continue
		}
		if badRun < 0 {
			if v.fail(off, "ts-sync", "transport packet sync byte expected") {
				badRun = off
			}
		}
	}
	v.rep.end = v.size
	if badRun >= 0 && badRun == lastGood && v.size-lastGood <= maxTail && len(v.rep.breaks) == 1 {
		// only the last few packets failed: an appended blob
		v.rep.breaks, v.rep.status, v.rep.end = nil, valid, lastGood
		v.rep.probes = v.rep.probes[:len(v.rep.probes)-1]
		return
	}
	if badRun >= 0 {
		v.setLen(badRun, v.size-badRun)
	}
}
