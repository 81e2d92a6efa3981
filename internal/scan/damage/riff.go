package damage

import "bytes"

// RIFF (AVI, WAV, WebP, and RF64 broadcast WAV) and IFF (AIFF): chunks of a
// four-character ID and a 32-bit size that tile their parent. AVI frames
// are chunks too, so the walk covers every frame header. Inside AVI the
// first frames of each stream teach the prefix the others must share
// (MJPEG frames start with a JPEG SOI); PCM audio and uncompressed video
// are marked raw.

func sniffRIFF(h []byte) bool {
	if len(h) < 12 {
		return false
	}
	id := string(h[:4])
	return (id == "RIFF" || id == "RIFX" || id == "RF64" || id == "BW64") && printable4(h[8:12])
}

func sniffAIFF(h []byte) bool {
	return len(h) >= 12 && string(h[:4]) == "FORM" && (string(h[8:12]) == "AIFF" || string(h[8:12]) == "AIFC")
}

type riffState struct {
	bigEndian bool
	form      string
	streams   []riffStream // AVI streams in strl order
	cur       *riffStream
	pcm       bool // WAV fmt says PCM or float
	prefix    map[string][]byte
	seen      map[string]int
	ds64Data  int64 // RF64: real size of the data chunk
}

type riffStream struct {
	typ string // vids, auds
	raw bool
}

func validateRIFF(v *vctx) {
	h := v.s.bytes(0, 12)
	if len(h) < 12 {
		return
	}
	st := &riffState{bigEndian: string(h[:4]) == "RIFX" || string(h[:4]) == "FORM",
		form: string(h[8:12]), prefix: map[string][]byte{}, seen: map[string]int{}}
	v.rep.format = "riff/" + st.form
	if string(h[:4]) == "FORM" {
		v.rep.format = "aiff"
	}
	v.rep.status = valid
	off := int64(0)
	for off < v.size && v.more() {
		c := v.s.bytes(off, 12)
		if len(c) < 12 {
			break
		}
		id := string(c[:4])
		if off > 0 && id != "RIFF" && id != "RIFX" && id != "FORM" {
			break // a tail after the last top-level chunk
		}
		size := riffSize(st, c[4:8])
		if id == "RF64" || id == "BW64" {
			size = -1
		}
		end := off + 8 + size
		if size < 0 || end > v.size {
			end = v.size
		}
		v.ok(off)
		riffChildren(v, st, off+12, end, 1)
		off = end
		if off%2 == 1 && off < v.size {
			if p := v.s.bytes(off, 1); len(p) == 1 && p[0] == 0 {
				off++
			}
		}
	}
	v.rep.end = off
}

func riffSize(st *riffState, b []byte) int64 {
	if st.bigEndian {
		return int64(be32(b))
	}
	return int64(le32(b))
}

// riffChildren walks the chunks in [off, end).
func riffChildren(v *vctx, st *riffState, off, end int64, depth int) {
	if depth > maxDepth {
		return
	}
	for off < end && v.more() {
		c := v.s.bytes(off, 16)
		if len(c) < 8 {
			return
		}
		if end-off < 8 {
			// trailing pad inside the parent
			return
		}
		id := string(c[:4])
		size := riffSize(st, c[4:8])
		if id == "data" && st.ds64Data > 0 && size == 0xffffffff {
			size = st.ds64Data
		}
		if !printable4(c[:4]) || off+8+size > end {
			if off+8+size > v.size && printable4(c[:4]) && (id == "data" || id == "movi" || id == "LIST") {
				// the last chunk runs past the end: a truncated copy
				v.rep.corrupt++
				v.rep.note = "truncated"
				return
			}
			if !v.fail(off, "riff-chunk", "chunk header expected") {
				return
			}
			nxt := riffResync(v, st, off+1, end)
			if nxt < 0 {
				v.setLen(off, end-off)
				return
			}
			v.setLen(off, nxt-off)
			off = nxt
			continue
		}
		v.ok(off)
		body := off + 8
		st.seen[id]++
		switch {
		case id == "LIST" || id == "RIFF":
			if size >= 4 {
				riffChildren(v, st, body+4, body+size, depth+1)
			}
		case id == "strh" && len(c) >= 12:
			st.streams = append(st.streams, riffStream{typ: string(c[8:12])})
			st.cur = &st.streams[len(st.streams)-1]
		case id == "strf" && st.cur != nil:
			if f := v.s.bytes(body, 20); len(f) >= 2 && st.cur.typ == "auds" {
				tag := le16(f)
				st.cur.raw = tag == 1 || tag == 3
			} else if len(f) >= 20 && st.cur.typ == "vids" {
				comp := le32(f[16:])
				st.cur.raw = comp == 0
			}
		case id == "fmt ":
			if f := v.s.bytes(body, 2); len(f) == 2 {
				tag := le16(f)
				st.pcm = tag == 1 || tag == 3 || tag == 0xfffe
			}
		case id == "ds64":
			if f := v.s.bytes(body, 24); len(f) == 24 {
				st.ds64Data = int64(le64(f[8:]))
			}
		case id == "data" || id == "SSND":
			if st.pcm || id == "SSND" {
				v.raw(body, body+size)
			}
		case id == "VP8 ":
			if f := v.s.bytes(body, 6); len(f) == 6 && f[0]&1 == 0 && !bytes.Equal(f[3:6], []byte{0x9d, 0x01, 0x2a}) {
				v.fail(body, "webp-vp8", "VP8 key frame start code expected")
			}
		case id == "VP8L":
			if f := v.s.bytes(body, 1); len(f) == 1 && f[0] != 0x2f {
				v.fail(body, "webp-vp8l", "VP8L signature expected")
			}
		case len(id) == 4 && isDigit(id[0]) && isDigit(id[1]) && size >= 4:
			riffStreamChunk(v, st, id, body, size)
		}
		off = body + size
		if size%2 == 1 {
			off++
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// riffStreamChunk checks an AVI stream chunk (##dc, ##wb ...): the first
// two of each ID teach the prefix, the others must share it.
func riffStreamChunk(v *vctx, st *riffState, id string, body, size int64) {
	n := int(id[0]-'0')*10 + int(id[1]-'0')
	if n < len(st.streams) && st.streams[n].raw {
		v.raw(body, body+size)
		return
	}
	if id[2:] != "dc" && id[2:] != "db" {
		return
	}
	val := v.s.bytes(body, 8)
	p, known := st.prefix[id]
	switch {
	case !known:
		st.prefix[id] = essencePrefix(val)
	case st.seen[id] == 2:
		if p != nil && !bytes.HasPrefix(val, p) {
			st.prefix[id] = nil
		}
	case p != nil && !bytes.HasPrefix(val, p):
		v.fail(body, "avi-frame", "frame does not start like the others of its stream")
		return
	}
	if bytes.HasPrefix(val, []byte{0xff, 0xd8}) {
		jpegFrame(v, body, size)
	}
}

// riffResync finds the next chunk after damage: a printable ID whose size
// chains to another printable ID (or to the end of the parent). AVI
// stream chunks ("00dc", "01wb") are found by their two leading digits,
// the rest by name.
func riffResync(v *vctx, st *riffState, from, end int64) int64 {
	named := [][]byte{[]byte("idx1"), []byte("LIST"), []byte("JUNK"), []byte("data")}
	return v.resync(from, end, func(buf []byte, base int64) int {
		best := -1
		for i := 0; i+4 <= len(buf); {
			j := bytes.IndexByte(buf[i:], '0')
			if j < 0 {
				break
			}
			p := i + j
			if p+4 <= len(buf) && isDigit(buf[p+1]) && printable4(buf[p:]) && riffChainAt(v, st, base+int64(p), end) {
				best = p
				break
			}
			i = p + 1
		}
		for _, id := range named {
			lim := len(buf)
			if best >= 0 {
				lim = best
			}
			for i := 0; i < lim; {
				j := bytes.Index(buf[i:lim], id)
				if j < 0 {
					break
				}
				if riffChainAt(v, st, base+int64(i+j), end) {
					best = i + j
					break
				}
				i += j + 1
			}
		}
		return best
	})
}

func riffChainAt(v *vctx, st *riffState, off, end int64) bool {
	for i := 0; i < 2; i++ {
		if off == end {
			return i > 0
		}
		c := v.s.bytes(off, 8)
		if len(c) < 8 || !printable4(c) {
			return false
		}
		size := riffSize(st, c[4:8])
		off += 8 + size + size&1
		if off > end {
			return false
		}
	}
	return true
}

// riffHeadless walks from the first chain of chunks found after a
// destroyed head (AVI frames, an idx1 index, WAV's trailing LIST).
func riffHeadless(v *vctx) {
	st := &riffState{prefix: map[string][]byte{}, seen: map[string]int{}}
	off := riffResync(v, st, 1, v.size)
	if off < 0 {
		return
	}
	v.rep.format = "riff"
	v.rep.status = valid
	v.rep.headless = true
	v.brk(0, off, "riff-chunk", "RIFF header replaced by random bytes")
	riffChildren(v, st, off, v.size, 1)
	v.rep.end = v.size
}
