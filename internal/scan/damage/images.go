package damage

import (
	"bufio"
	"bytes"
	"compress/lzw"
	"hash/crc32"
	"io"
)

// Still images: JPEG (the marker chain to EOI, and in the entropy-coded
// data every 0xFF must be followed by a stuffed zero or a restart marker),
// PNG (every chunk carries a CRC), GIF (blocks and sub-blocks, and the LZW
// stream decodes), TIFF (IFD chain, strip offsets, strip headers), BMP
// (header sizes; pixels are raw) .

// --- JPEG -----------------------------------------------------------------

func sniffJPEG(h []byte) bool { return len(h) >= 4 && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff }

func validateJPEG(v *vctx) {
	v.rep.format = "jpeg"
	v.rep.status = valid
	v.ok(0)
	end := jpegWalk(v, 2, false, v.size)
	v.rep.end = end
	// multi-picture files (MPF) put more JPEGs after the first EOI
	for i := 0; i < 8 && end >= 0 && end < v.size && v.more(); i++ {
		h := v.s.bytes(end, 4)
		if !sniffJPEG(h) {
			break
		}
		end = jpegWalk(v, end+2, false, v.size)
		if end > v.rep.end {
			v.rep.end = end
		}
	}
	if v.rep.end < 0 {
		v.rep.end = v.size
	}
}

// jpegHeadless scans the entropy-coded data of a JPEG whose head is
// destroyed: invalid 0xFF sequences map the damage, and EOI gives the end.
func jpegHeadless(v *vctx) {
	v.rep.format = "jpeg"
	end := jpegWalk(v, 0, true, v.size)
	if v.rep.status == notFormat && len(v.rep.probes) < 2 {
		return
	}
	v.rep.headless = true
	v.rep.status = valid
	for _, p := range v.rep.probes {
		if p.Bad {
			v.rep.status = damaged
		}
	}
	v.rep.end = end
}

// jpegFrame checks a JPEG embedded as a video frame (MJPEG in AVI, MOV,
// Matroska) in full mode, within the deep budget.
func jpegFrame(v *vctx, off, size int64) {
	if size < 4 || !v.spend(size, costScan) {
		return
	}
	jpegWalk(v, off+2, false, off+size)
}

// jpegWalk follows markers from off up to limit. In scan mode (after SOS,
// or headless) it checks 0xFF usage in 4 KiB windows: a window with an
// invalid sequence is damaged, one without is a good probe. It returns the
// offset after EOI, or -1 when EOI was not found.
func jpegWalk(v *vctx, off int64, scan bool, limit int64) int64 {
	const win = 4096
	badWin := int64(-1)
	rstNext := -1
	for off < limit && v.more() {
		if !scan {
			h := v.s.bytes(off, 4)
			if len(h) < 2 {
				return -1
			}
			if h[0] != 0xff {
				v.fail(off, "jpeg-marker", "marker expected")
				return -1
			}
			m := h[1]
			switch {
			case m == 0xff:
				off++ // fill byte
				continue
			case m == 0xd9:
				v.ok(off)
				return off + 2
			case m == 0xd8 || m >= 0xd0 && m <= 0xd7 || m == 0x01:
				off += 2
				continue
			case m < 0xc0:
				v.fail(off, "jpeg-marker", "reserved marker")
				return -1
			}
			if len(h) < 4 {
				return -1
			}
			l := int64(be16(h[2:]))
			if l < 2 || off+2+l > limit {
				v.fail(off, "jpeg-segment", "segment length out of range")
				return -1
			}
			v.ok(off)
			off += 2 + l
			if m == 0xda {
				scan = true
				rstNext = 0
			}
			continue
		}
		// entropy-coded data
		w := v.s.bytes(off, int(minInt64(win+1, limit-off)))
		if len(w) == 0 {
			return -1
		}
		bad := false
		leave := -1
		for i := 0; i < len(w)-1; {
			j := bytes.IndexByte(w[i:len(w)-1], 0xff)
			if j < 0 {
				break
			}
			p := i + j
			c := w[p+1]
			switch {
			case c == 0x00 || c == 0xff:
			case c >= 0xd0 && c <= 0xd7:
				if rstNext >= 0 && int(c-0xd0) != rstNext {
					bad = true
				}
				rstNext = (int(c-0xd0) + 1) & 7
			case c >= 0xc0 && c != 0xd8:
				// a marker ends the scan (progressive JPEGs carry several)
				leave = p
			default:
				bad = true
			}
			if leave >= 0 {
				break
			}
			i = p + 2
		}
		if leave >= 0 {
			if !bad {
				if badWin >= 0 {
					v.setLen(badWin, off-badWin)
					badWin = -1
				}
				v.ok(off)
			} else {
				v.scanBad(off, int64(leave), &badWin)
			}
			if badWin >= 0 {
				v.setLen(badWin, off+int64(leave)-badWin)
				badWin = -1
			}
			off += int64(leave)
			scan = false
			continue
		}
		if bad {
			v.scanBad(off, int64(len(w)-1), &badWin)
		} else {
			if badWin >= 0 {
				v.setLen(badWin, off-badWin)
				badWin = -1
			}
			v.ok(off)
		}
		if len(w) < win+1 {
			break
		}
		off += win
	}
	if badWin >= 0 {
		v.setLen(badWin, limit-badWin)
	}
	return -1
}

// scanBad records a window of entropy-coded data with invalid marker use.
func (v *vctx) scanBad(off, n int64, badWin *int64) {
	if *badWin >= 0 {
		v.budget--
		if len(v.rep.probes) < maxProbes {
			v.rep.probes = append(v.rep.probes, probe{Off: off, Bad: true})
		}
		return
	}
	if v.fail(off, "jpeg-entropy-data", "invalid marker in entropy-coded data") {
		*badWin = off
	}
}

// --- PNG ------------------------------------------------------------------

var pngMagic = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}

func sniffPNG(h []byte) bool { return len(h) >= 16 && bytes.Equal(h[:8], pngMagic) }

func validatePNG(v *vctx) {
	v.rep.format = "png"
	v.rep.status = valid
	v.ok(0)
	off := int64(8)
	for off < v.size && v.more() {
		h := v.s.bytes(off, 8)
		if len(h) < 8 {
			v.fail(off, "png-chunk", "chunk header expected")
			return
		}
		n := int64(be32(h))
		typ := string(h[4:8])
		if n > 1<<31-1 || !pngType(h[4:8]) || off+12+n > v.size {
			if !v.fail(off, "png-chunk", "chunk header expected") {
				return
			}
			nxt := pngResync(v, off+1)
			if nxt < 0 {
				v.setLen(off, v.size-off)
				return
			}
			v.setLen(off, nxt-off)
			off = nxt
			continue
		}
		if !v.spend(n, costCRC) {
			// structure only
			v.ok(off)
		} else {
			crc := crc32.NewIEEE()
			io.Copy(crc, io.NewSectionReader(readerAtSource{v.s}, off+4, n+4))
			want, _ := v.s.be32(off + 8 + n)
			if crc.Sum32() != want {
				if v.fail(off+8, "png-crc", "chunk data does not match its CRC") {
					v.setLen(off+8, n)
				}
			} else {
				v.ok(off)
			}
		}
		off += 12 + n
		if typ == "IEND" {
			break
		}
	}
	v.rep.end = off
}

func pngType(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// pngResync finds the next chunk whose CRC holds.
func pngResync(v *vctx, from int64) int64 {
	return v.resync(from, v.size, func(buf []byte, base int64) int {
		best := -1
		for _, t := range []string{"IDAT", "IEND", "tEXt", "iTXt", "zTXt", "fdAT", "fcTL"} {
			for i := 4; ; {
				j := bytes.Index(buf[i:], []byte(t))
				if j < 0 || best >= 0 && i+j-4 >= best {
					break
				}
				p := i + j - 4
				i += j + 1
				at := base + int64(p)
				n, ok := v.s.be32(at)
				if !ok || int64(n) > v.size-at-12 {
					continue
				}
				crc := crc32.NewIEEE()
				io.Copy(crc, io.NewSectionReader(readerAtSource{v.s}, at+4, int64(n)+4))
				if want, _ := v.s.be32(at + 8 + int64(n)); crc.Sum32() == want {
					best = p
					break
				}
			}
		}
		return best
	})
}

// --- GIF ------------------------------------------------------------------

func sniffGIF(h []byte) bool {
	return len(h) >= 13 && (string(h[:6]) == "GIF87a" || string(h[:6]) == "GIF89a")
}

func validateGIF(v *vctx) {
	v.rep.format = "gif"
	v.rep.status = valid
	h := v.s.bytes(0, 13)
	if len(h) < 13 {
		v.rep.status = notFormat
		return
	}
	v.ok(0)
	off := int64(13)
	if h[10]&0x80 != 0 {
		off += 3 << (int(h[10]&7) + 1)
	}
	for off < v.size && v.more() {
		b := v.s.bytes(off, 10)
		if len(b) == 0 {
			break
		}
		switch b[0] {
		case 0x3b:
			v.ok(off)
			v.rep.end = off + 1
			return
		case 0x21:
			if len(b) < 2 {
				v.fail(off, "gif-block", "extension block cut short")
				return
			}
			v.ok(off)
			end, ok := gifSubBlocks(v, off+2)
			if !ok {
				return
			}
			off = end
		case 0x2c:
			if len(b) < 10 {
				v.fail(off, "gif-block", "image descriptor cut short")
				return
			}
			v.ok(off)
			w, hgt := int64(le16(b[5:])), int64(le16(b[7:]))
			p := off + 10
			if b[9]&0x80 != 0 {
				p += 3 << (int(b[9]&7) + 1)
			}
			lit := v.s.bytes(p, 1)
			if len(lit) < 1 || lit[0] < 1 || lit[0] > 11 {
				v.fail(p, "gif-lzw", "LZW minimum code size out of range")
				return
			}
			end, ok := gifSubBlocks(v, p+1)
			if !ok {
				if end >= v.size {
					// the sub-block chain ran off the end: a truncated
					// copy decodes cleanly to its last byte, random bytes
					// do not
					gifDecode(v, p+1, v.size, int(lit[0]), w*hgt)
				}
				return
			}
			gifDecode(v, p+1, end, int(lit[0]), w*hgt)
			off = end
		default:
			v.fail(off, "gif-block", "block introducer expected")
			return
		}
	}
	v.rep.end = off
}

// gifSubBlocks walks sub-blocks from off to the terminator and returns the
// offset after it.
func gifSubBlocks(v *vctx, off int64) (int64, bool) {
	for n := 0; off < v.size; n++ {
		b := v.s.bytes(off, 1)
		if len(b) == 0 {
			return off, false
		}
		if b[0] == 0 {
			return off + 1, true
		}
		off += 1 + int64(b[0])
		if n%64 == 0 && !v.more() {
			return off, false
		}
	}
	return off, false
}

// gifDecode decodes an image's LZW data (within the deep budget): random
// bytes produce invalid codes or the wrong number of pixels.
func gifDecode(v *vctx, off, end int64, lit int, pixels int64) {
	if lit < 2 || lit > 8 || !v.spend(end-off, costLZW) {
		return
	}
	r := lzw.NewReader(&gifBlockReader{r: bufio.NewReader(io.NewSectionReader(readerAtSource{v.s}, off, end-off))}, lzw.LSB, lit)
	defer r.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(r, pixels+1))
	if v.s.err != nil {
		return
	}
	if err == io.ErrUnexpectedEOF && end == v.size {
		v.rep.corrupt++
		v.rep.note = "truncated"
		return
	}
	if err != nil || n < pixels {
		if v.fail(off, "gif-lzw", "image data does not decode") {
			v.setLen(off, end-off)
		}
		return
	}
	v.ok(off)
}

// gifBlockReader strips the sub-block framing.
type gifBlockReader struct {
	r    *bufio.Reader
	left int
}

func (g *gifBlockReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		n, err := g.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF
		}
		g.left = int(n)
	}
	if len(p) > g.left {
		p = p[:g.left]
	}
	n, err := g.r.Read(p)
	g.left -= n
	return n, err
}

// --- TIFF -----------------------------------------------------------------

func sniffTIFF(h []byte) bool {
	if len(h) < 8 {
		return false
	}
	switch string(h[:4]) {
	case "II*\x00", "MM\x00*", "II+\x00", "MM\x00+":
		return true
	}
	return false
}

type tiffReader struct {
	v   *vctx
	le  bool
	big bool
}

func (t tiffReader) u16(b []byte) uint64 {
	if t.le {
		return uint64(le16(b))
	}
	return uint64(be16(b))
}

func (t tiffReader) u32(b []byte) uint64 {
	if t.le {
		return uint64(le32(b))
	}
	return uint64(be32(b))
}

func (t tiffReader) u64(b []byte) uint64 {
	if t.le {
		return le64(b)
	}
	return be64(b)
}

var tiffTypeSize = [...]int64{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8}

// validateTIFF walks the IFD chain (and sub-IFDs), checks that entries are
// sorted and typed, that strips or tiles lie inside the file, and that each
// strip starts as its compression requires.
func validateTIFF(v *vctx) {
	h := v.s.bytes(0, 16)
	if len(h) < 16 {
		return
	}
	t := tiffReader{v: v, le: h[0] == 'I', big: h[2] == '+' || h[3] == '+'}
	v.rep.format = "tiff"
	v.rep.status = valid
	var ifd uint64
	if t.big {
		ifd = t.u64(h[8:])
	} else {
		ifd = t.u32(h[4:])
	}
	v.ok(0)
	seen := map[uint64]bool{}
	queue := []uint64{ifd}
	var maxEnd int64 = 8
	for len(queue) > 0 && v.more() && len(seen) < 4096 {
		ifd, queue = queue[0], queue[1:]
		if ifd == 0 || seen[ifd] {
			continue
		}
		seen[ifd] = true
		next, subs, end, ok := tiffIFD(v, t, int64(ifd))
		if !ok {
			return
		}
		if end > maxEnd {
			maxEnd = end
		}
		queue = append(queue, subs...)
		if next != 0 {
			queue = append(queue, next)
		}
	}
	v.rep.end = v.size
	_ = maxEnd
}

func tiffIFD(v *vctx, t tiffReader, off int64) (next uint64, subs []uint64, end int64, ok bool) {
	cw, ew, nw := int64(2), int64(12), int64(4)
	if t.big {
		cw, ew, nw = 8, 20, 8
	}
	c := v.s.bytes(off, int(cw))
	if int64(len(c)) < cw {
		v.fail(off, "tiff-ifd", "IFD offset outside the file")
		return 0, nil, 0, false
	}
	var n uint64
	if t.big {
		n = t.u64(c)
	} else {
		n = t.u16(c)
	}
	if n == 0 || n > 4096 {
		v.fail(off, "tiff-ifd", "IFD entry count out of range")
		return 0, nil, 0, false
	}
	ents := v.s.copyBytes(off+cw, int(int64(n)*ew+nw))
	if int64(len(ents)) < int64(n)*ew {
		v.fail(off, "tiff-ifd", "IFD runs past the end")
		return 0, nil, 0, false
	}
	var prevTag uint64
	var offsets, counts []uint64
	compression := uint64(1)
	for i := uint64(0); i < n; i++ {
		e := ents[int64(i)*ew:]
		tag := t.u16(e)
		typ := t.u16(e[2:])
		if tag < prevTag || typ == 0 || typ >= uint64(len(tiffTypeSize)) || tiffTypeSize[typ] == 0 {
			v.fail(off+cw+int64(i)*ew, "tiff-ifd", "IFD entry out of order or of unknown type")
			return 0, nil, 0, false
		}
		prevTag = tag
		var cnt uint64
		var val []byte
		if t.big {
			cnt = t.u64(e[4:])
			val = e[12:20]
		} else {
			cnt = t.u32(e[4:])
			val = e[8:12]
		}
		switch tag {
		case 259:
			compression = t.u16(val)
		case 273, 324, 279, 325, 330:
			arr := tiffArray(v, t, typ, cnt, val)
			switch tag {
			case 273, 324:
				offsets = arr
			case 279, 325:
				counts = arr
			case 330:
				subs = append(subs, arr...)
			}
		}
	}
	tail := ents[int64(n)*ew:]
	if int64(len(tail)) >= nw {
		if t.big {
			next = t.u64(tail)
		} else {
			next = t.u32(tail)
		}
	}
	v.ok(off)
	end = off + cw + int64(n)*ew + nw
	for i, o := range offsets {
		if i >= len(counts) || !v.more() {
			break
		}
		so, sc := int64(o), int64(counts[i])
		if so < 0 || sc < 0 || so+sc > v.size {
			v.fail(off, "tiff-strip", "strip outside the file")
			return 0, nil, 0, false
		}
		if so+sc > end {
			end = so + sc
		}
		tiffStrip(v, compression, so, sc)
	}
	return next, subs, end, true
}

func tiffArray(v *vctx, t tiffReader, typ, cnt uint64, val []byte) []uint64 {
	sz := tiffTypeSize[typ]
	if cnt == 0 || cnt > maxTableLen/8 || int64(cnt)*sz > v.size {
		return nil
	}
	total := sz * int64(cnt)
	var b []byte
	if total <= int64(len(val)) {
		b = val
	} else {
		var o uint64
		if t.big {
			o = t.u64(val)
		} else {
			o = t.u32(val)
		}
		b = v.s.copyBytes(int64(o), int(total))
		if int64(len(b)) < total {
			return nil
		}
	}
	out := make([]uint64, cnt)
	for i := range out {
		p := b[int64(i)*sz:]
		switch sz {
		case 2:
			out[i] = t.u16(p)
		case 4:
			out[i] = t.u32(p)
		case 8:
			out[i] = t.u64(p)
		default:
			out[i] = uint64(p[0])
		}
	}
	return out
}

// tiffStrip checks how a strip starts: LZW with a clear code, Deflate with
// a zlib header, JPEG with SOI; uncompressed strips are raw.
func tiffStrip(v *vctx, compression uint64, off, n int64) {
	if n < 2 {
		return
	}
	b := v.s.bytes(off, 2)
	if len(b) < 2 {
		return
	}
	good := true
	switch compression {
	case 1:
		v.raw(off, off+n)
		return
	case 5:
		good = b[0] == 0x80 && b[1]&0x80 == 0
	case 8, 32946:
		good = b[0]&0x0f == 8 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
	case 7:
		good = b[0] == 0xff && b[1] == 0xd8
	default:
		return
	}
	if good {
		v.ok(off)
		return
	}
	v.fail(off, "tiff-strip", "strip does not start as its compression requires")
}

// --- BMP ------------------------------------------------------------------

func sniffBMP(h []byte) bool {
	if len(h) < 26 || h[0] != 'B' || h[1] != 'M' {
		return false
	}
	switch le32(h[14:]) {
	case 12, 40, 52, 56, 64, 108, 124:
		return le32(h[10:]) >= 26
	}
	return false
}

func validateBMP(v *vctx) {
	h := v.s.bytes(0, 54)
	v.rep.format = "bmp"
	if len(h) < 26 {
		return
	}
	v.rep.status = valid
	pix := int64(le32(h[10:]))
	dib := le32(h[14:])
	if pix > v.size {
		v.fail(10, "bmp-header", "pixel data offset beyond the end")
		return
	}
	v.ok(0)
	end := v.size
	if dib >= 40 && len(h) >= 54 {
		w := int64(int32(le32(h[18:])))
		hgt := int64(int32(le32(h[22:])))
		if hgt < 0 {
			hgt = -hgt
		}
		bpp := int64(le16(h[28:]))
		comp := le32(h[30:])
		if comp == 0 || comp == 3 {
			stride := (w*bpp + 31) / 32 * 4
			if img := stride * hgt; img > 0 && pix+img <= v.size {
				end = pix + img
			}
			v.raw(pix, end)
		}
	}
	v.rep.end = end
}
