package damage

import "bytes"

// ISO base media file format (MP4, MOV, M4A, 3GP, HEIF): a tree of boxes,
// each a 32-bit size and a four-character type. The top level must tile the
// file; inside moov the sample tables say where every video and audio
// sample lies, and each sample starts with codec structure that is checked
// without decoding: NAL length prefixes (H.264, H.265), the ProRes frame
// header, MPEG start codes, JPEG SOI, the DNxHD header prefix. PCM samples
// are marked raw (never uniform random).

func sniffBMFF(h []byte) bool {
	if len(h) < 12 {
		return false
	}
	sz := int64(be32(h))
	if sz != 0 && sz != 1 && sz < 8 {
		return false
	}
	switch string(h[4:8]) {
	case "ftyp", "moov", "mdat", "wide", "free", "skip", "pnot", "styp", "sidx", "moof":
		return true
	}
	// another first box (uuid, jP, pdin ...): a box type of letters,
	// digits and spaces, and a second box of the same kind right after it
	if !boxName(h[4:8]) || sz < 8 || sz+8 > int64(len(h)) {
		return false
	}
	next := h[sz:]
	n2 := int64(be32(next))
	return (n2 == 0 || n2 == 1 || n2 >= 8) && boxName(next[4:8])
}

// boxName reports whether b is a four-character code of letters, digits
// and spaces.
func boxName(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ') {
			return false
		}
	}
	return true
}

// boxTypeOK accepts printable ASCII and the © of QuickTime metadata atoms.
func boxTypeOK(b []byte) bool {
	for _, c := range b[:4] {
		if (c < 0x20 || c > 0x7e) && c != 0xa9 {
			return false
		}
	}
	return true
}

// metaSkip is the version and flags word that precedes the children of a
// full box such as meta.
func metaSkip(typ string) int64 {
	if typ == "meta" {
		return 4
	}
	return 0
}

type bmffBox struct {
	off, hdr, size int64
	typ            string
}

// readBox reads the box header at off, bounded by end. ok is false when
// the header is not a plausible box.
func readBox(v *vctx, off, end int64) (bmffBox, bool) {
	h := v.s.bytes(off, 16)
	if len(h) < 8 {
		return bmffBox{}, false
	}
	b := bmffBox{off: off, hdr: 8, size: int64(be32(h)), typ: string(h[4:8])}
	if !boxTypeOK(h[4:8]) {
		return b, false
	}
	switch b.size {
	case 1:
		if len(h) < 16 {
			return b, false
		}
		b.size, b.hdr = int64(be64(h[8:16])), 16
		if b.size < 16 {
			return b, false
		}
	case 0:
		b.size = end - off
	}
	if b.size < b.hdr || b.size > end-off {
		return b, false
	}
	return b, true
}

type bmffTrack struct {
	handler string
	codec   string
	nalLen  int // NAL length prefix size for AVC/HEVC, 0 otherwise
	hevc    bool
	stsz    []byte // stsz or stz2 box payload
	stz2    bool
	chunks  []int64
	stsc    []byte
}

type bmffState struct {
	tracks  []*bmffTrack
	sawMoov bool
	mdats   []span
}

func validateBMFF(v *vctx) {
	st := &bmffState{}
	off := int64(0)
	for off < v.size && v.more() {
		b, ok := readBox(v, off, v.size)
		if !ok {
			if st.sawMoov {
				// structure complete: what follows is a tail
				break
			}
			if h := v.s.bytes(off, 8); len(h) == 8 && boxTypeOK(h[4:8]) && int64(be32(h)) > v.size-off {
				// a printable box running past the end: truncated copy
				v.rep.corrupt++
				v.rep.note = "truncated"
				off = v.size
				break
			}
			v.fail(off, "mp4-box", "box header expected")
			v.rep.partial = true
			break
		}
		v.ok(off)
		switch b.typ {
		case "moov":
			st.sawMoov = true
			bmffMoov(v, st, b.off+b.hdr, b.off+b.size)
		case "mdat":
			st.mdats = append(st.mdats, span{b.off + b.hdr, b.off + b.size})
		case "moof", "meta":
			// fragments and HEIF item metadata: walk the tree
			st.sawMoov = true
			bmffChildren(v, b.off+b.hdr+metaSkip(b.typ), b.off+b.size, 1, nil)
		}
		off += b.size
	}
	v.rep.end = off
	if v.rep.status != damaged {
		v.rep.status = valid
	}
	bmffSamples(v, st)
}

// bmffHeadless looks for the moov box of a file whose head is destroyed:
// ffmpeg and most cameras write it last. It then checks the samples, which
// maps where the encryption lies.
func bmffHeadless(v *vctx) {
	const step = 1 << 20
	st := &bmffState{}
	// look backwards from the end, a MiB at a time, for a moov box whose
	// first child is a movie header
	for end := v.size; end > 0 && v.size-end < 16<<20 && !st.sawMoov; end -= step {
		start := maxInt64(0, end-step-8)
		buf := v.scanWindow(start, int(end-start))
		if buf == nil {
			break
		}
		for i := len(buf); i > 4; {
			j := bytes.LastIndex(buf[:i], []byte("moov"))
			if j < 4 {
				break
			}
			i = j
			boxOff := start + int64(j) - 4
			b, ok := readBox(v, boxOff, v.size)
			if !ok || b.typ != "moov" {
				continue
			}
			first, ok := readBox(v, b.off+b.hdr, b.off+b.size)
			if !ok || (first.typ != "mvhd" && first.typ != "trak" && first.typ != "iods") {
				continue
			}
			st.sawMoov = true
			v.rep.headless = true
			bmffMoov(v, st, b.off+b.hdr, b.off+b.size)
			v.rep.end = b.off + b.size
			// boxes may follow moov (udta, free): extend over them
			for v.rep.end < v.size {
				nb, ok := readBox(v, v.rep.end, v.size)
				if !ok {
					break
				}
				v.rep.end += nb.size
			}
			break
		}
	}
	if !st.sawMoov {
		return
	}
	v.rep.status = valid
	bmffSamples(v, st)
}

// bmffChildren walks the boxes inside [off, end). visit is called for each
// good child; it may descend.
func bmffChildren(v *vctx, off, end int64, depth int, visit func(b bmffBox)) bool {
	if depth > maxDepth {
		return true
	}
	for off < end && v.more() {
		if end-off < 8 {
			// QuickTime allows a 32-bit zero terminator in user data
			if z := v.s.bytes(off, int(end-off)); len(z) > 0 && bytes.Count(z, []byte{0}) == len(z) {
				return true
			}
		}
		b, ok := readBox(v, off, end)
		if !ok {
			v.fail(off, "mp4-box", "child box header expected")
			return false
		}
		v.ok(off)
		if visit != nil {
			visit(b)
		}
		off += b.size
	}
	return true
}

func bmffMoov(v *vctx, st *bmffState, off, end int64) {
	bmffChildren(v, off, end, 1, func(b bmffBox) {
		if b.typ == "trak" {
			t := &bmffTrack{}
			bmffTrak(v, t, b.off+b.hdr, b.off+b.size, 2)
			st.tracks = append(st.tracks, t)
		}
	})
}

func bmffTrak(v *vctx, t *bmffTrack, off, end int64, depth int) {
	bmffChildren(v, off, end, depth, func(b bmffBox) {
		body := b.off + b.hdr
		n := b.size - b.hdr
		switch b.typ {
		case "mdia", "minf", "stbl":
			bmffTrak(v, t, body, b.off+b.size, depth+1)
		case "hdlr":
			if h := v.s.bytes(body, 12); len(h) == 12 && t.handler == "" {
				t.handler = string(h[8:12])
			}
		case "stsd":
			bmffStsd(v, t, body, b.off+b.size)
		case "stsz", "stz2":
			if n > 12 && n <= maxTableLen*4 {
				t.stsz = v.s.copyBytes(body, int(n))
				t.stz2 = b.typ == "stz2"
			}
		case "stco", "co64":
			if n >= 8 && n <= maxTableLen*8 {
				p := v.s.copyBytes(body, int(n))
				if len(p) < 8 {
					return
				}
				cnt := int64(be32(p[4:]))
				w := int64(4)
				if b.typ == "co64" {
					w = 8
				}
				if cnt*w > int64(len(p)-8) {
					cnt = int64(len(p)-8) / w
				}
				t.chunks = make([]int64, cnt)
				for i := range t.chunks {
					q := p[8+int64(i)*w:]
					if w == 4 {
						t.chunks[i] = int64(be32(q))
					} else {
						t.chunks[i] = int64(be64(q))
					}
				}
			}
		case "stsc":
			if n >= 8 && n <= maxTableLen*12 {
				t.stsc = v.s.copyBytes(body, int(n))
			}
		}
	})
}

func bmffStsd(v *vctx, t *bmffTrack, off, end int64) {
	h := v.s.bytes(off, 16)
	if len(h) < 16 || be32(h[4:]) == 0 {
		return
	}
	entry := off + 8
	esz := int64(be32(h[8:]))
	t.codec = string(h[12:16])
	if esz < 16 || entry+esz > end {
		return
	}
	var child int64
	switch t.codec {
	case "avc1", "avc2", "avc3", "avc4", "hvc1", "hev1", "dvh1", "dvhe", "dva1", "dvav":
		child = entry + 86 // sample entry (8) + visual sample entry fields (78)
	default:
		return
	}
	bmffChildren(v, child, entry+esz, 6, func(b bmffBox) {
		c := v.s.bytes(b.off+b.hdr, 23)
		switch b.typ {
		case "avcC":
			if len(c) >= 5 {
				t.nalLen = int(c[4]&3) + 1
			}
		case "hvcC":
			if len(c) >= 22 {
				t.nalLen = int(c[21]&3) + 1
				t.hevc = true
			}
		}
	})
}

// sampleCheck says how a codec's samples begin.
func sampleCheck(t *bmffTrack) (check string, raw bool) {
	switch t.codec {
	case "avc1", "avc2", "avc3", "avc4", "hvc1", "hev1", "dvh1", "dvhe", "dva1", "dvav":
		if t.nalLen > 0 {
			return "nal", false
		}
	case "apch", "apcn", "apcs", "apco", "ap4h", "ap4x", "aprh", "aprn":
		return "prores", false
	case "mp4v", "m2v1", "mpg2", "xdvc", "mx5p", "mx4p", "mx3p", "mx5n", "mx4n", "mx3n":
		return "startcode", false
	case "jpeg", "mjpa", "AVDJ", "dmb1":
		return "soi", false
	case "AVdn", "AVdh":
		return "dnxhd", false
	case "sowt", "twos", "lpcm", "in24", "in32", "fl32", "fl64", "raw ", "NONE", "ipcm":
		return "", true
	case "mp4a", ".mp3":
		return "semi", false
	}
	if len(t.codec) == 4 && (t.codec[:3] == "xd5" || t.codec[:3] == "xdv" || t.codec[:3] == "hdv") {
		return "startcode", false
	}
	return "", false
}

// bmffSamples checks the first bytes of samples of every track: all of
// them when they are few, else an even spread.
func bmffSamples(v *vctx, st *bmffState) {
	for _, t := range st.tracks {
		check, raw := sampleCheck(t)
		semi := check == "semi"
		if semi {
			check = ""
		}
		if (check == "" && !raw && !semi) || len(t.chunks) == 0 || len(t.stsc) < 8 || len(t.stsz) < 12 {
			continue
		}
		nsamp := int64(be32(t.stsz[8:]))
		fixed := int64(be32(t.stsz[4:]))
		if t.stz2 {
			fixed = 0
		}
		if nsamp <= 0 || nsamp > maxTableLen {
			continue
		}
		per := int64(1)
		if limit := int64(v.budget / 2); limit > 0 && nsamp > limit {
			per = (nsamp + limit - 1) / limit
		}
		if v.quick && nsamp > 64 {
			per = nsamp / 64
		}
		sizeOf := func(i int64) int64 {
			if fixed > 0 {
				return fixed
			}
			if t.stz2 {
				fs := int64(t.stsz[7])
				switch fs {
				case 4:
					if p := 12 + i/2; p < int64(len(t.stsz)) {
						if i%2 == 0 {
							return int64(t.stsz[p] >> 4)
						}
						return int64(t.stsz[p] & 15)
					}
				case 8:
					if p := 12 + i; p < int64(len(t.stsz)) {
						return int64(t.stsz[p])
					}
				case 16:
					if p := 12 + 2*i; p+2 <= int64(len(t.stsz)) {
						return int64(be16(t.stsz[p:]))
					}
				}
				return -1
			}
			if p := 12 + 4*i; p+4 <= int64(len(t.stsz)) {
				return int64(be32(t.stsz[p:]))
			}
			return -1
		}
		entries := int64(be32(t.stsc[4:]))
		if entries*12 > int64(len(t.stsc)-8) {
			entries = int64(len(t.stsc)-8) / 12
		}
		sample := int64(0)
		for e := int64(0); e < entries && sample < nsamp && v.more(); e++ {
			q := t.stsc[8+12*e:]
			first := int64(be32(q)) - 1
			spc := int64(be32(q[4:]))
			last := int64(len(t.chunks))
			if e+1 < entries {
				last = int64(be32(t.stsc[8+12*(e+1):])) - 1
			}
			if first < 0 || last > int64(len(t.chunks)) || spc <= 0 || spc > maxTableLen {
				break
			}
			for c := first; c < last && sample < nsamp && v.more(); c++ {
				off := t.chunks[c]
				start := off
				for k := int64(0); k < spc && sample < nsamp; k++ {
					sz := sizeOf(sample)
					if sz < 0 {
						return
					}
					if sample%per == 0 && check != "" {
						checkSample(v, check, t, off, sz)
					}
					off += sz
					sample++
				}
				if raw {
					v.raw(start, off)
				}
				if semi {
					v.semiRaw(start, off)
				}
			}
		}
	}
}

// checkSample checks the start of one sample at off of size sz.
func checkSample(v *vctx, check string, t *bmffTrack, off, sz int64) {
	if sz <= 0 {
		return
	}
	if off < 0 || off+sz > v.size {
		if off >= 0 && off < v.size {
			v.fail(off, "mp4-sample", "sample runs past the end of the file")
		}
		return
	}
	h := v.s.bytes(off, 8)
	if len(h) < 4 {
		return
	}
	good := true
	switch check {
	case "prores":
		good = len(h) >= 8 && string(h[4:8]) == "icpf" && int64(be32(h)) <= sz
	case "startcode":
		good = h[0] == 0 && h[1] == 0 && h[2] == 1
	case "soi":
		good = h[0] == 0xff && h[1] == 0xd8
		if good {
			jpegFrame(v, off, sz)
		}
	case "dnxhd":
		good = h[0] == 0 && h[1] == 0 && h[2] == 2 && h[3] == 0x80
	case "nal":
		good = nalChain(v, off, sz, t.nalLen, t.hevc)
	}
	if good {
		v.ok(off)
		return
	}
	v.fail(off, "mp4-sample-"+check, "sample of "+t.codec+" does not start with codec structure")
}

// nalChain walks the length-prefixed NAL units of one AVC/HEVC sample: the
// lengths must add up to the sample size and every NAL header must have its
// forbidden bit clear.
func nalChain(v *vctx, off, sz int64, lsize int, hevc bool) bool {
	end := off + sz
	for n := 0; off < end && n < 64; n++ {
		h := v.s.bytes(off, lsize+2)
		if len(h) < lsize+1 {
			return false
		}
		var l int64
		for _, c := range h[:lsize] {
			l = l<<8 | int64(c)
		}
		if l == 0 || off+int64(lsize)+l > end {
			return false
		}
		nh := h[lsize]
		if nh&0x80 != 0 {
			return false
		}
		if hevc {
			if len(h) < lsize+2 || h[lsize+1]&7 == 0 {
				return false
			}
		} else if nh&0x1f == 0 {
			return false
		}
		off += int64(lsize) + l
	}
	return true
}
