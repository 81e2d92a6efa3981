package damage

import (
	"bytes"
	"strings"
)

// Matroska and WebM (EBML): elements of a variable-length ID and a
// variable-length size. Segment children and cluster children come from a
// small fixed set, so the walk recognises every frame header (SimpleBlock,
// BlockGroup) and checks that it names a declared track. Frames of MPEG-4
// Part 2, AVC/HEVC and MJPEG video are checked for their codec structure;
// PCM audio is marked raw.

const (
	ebmlHeaderID = 0x1a45dfa3
	segmentID    = 0x18538067
	clusterID    = 0x1f43b675
	tracksID     = 0x1654ae6b
)

func sniffEBML(h []byte) bool { return len(h) >= 8 && be32(h) == ebmlHeaderID }

// vintAt reads an EBML variable-length integer: the ID (marker kept) or a
// size (marker removed). It returns the value, its length, and whether the
// size is "unknown" (all ones).
func vintAt(b []byte, keepMarker bool) (uint64, int, bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n := 1
	for m := byte(0x80); b[0]&m == 0; m >>= 1 {
		n++
	}
	if n > 8 || len(b) < n {
		return 0, 0, false
	}
	v := uint64(b[0])
	if !keepMarker {
		v &= uint64(0xff >> n)
	}
	allOnes := v == uint64(0xff>>n)
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
		allOnes = allOnes && c == 0xff
	}
	return v, n, allOnes && !keepMarker
}

type ebmlElem struct {
	id      uint64
	off     int64
	hdr     int64
	size    int64 // -1: unknown size
	unknown bool
}

func ebmlAt(v *vctx, off int64) (ebmlElem, bool) {
	b := v.s.bytes(off, 12)
	id, n, _ := vintAt(b, true)
	if n == 0 || n > 4 {
		return ebmlElem{}, false
	}
	size, m, unk := vintAt(b[n:], false)
	if m == 0 {
		return ebmlElem{}, false
	}
	e := ebmlElem{id: id, off: off, hdr: int64(n + m), size: int64(size), unknown: unk}
	if unk {
		e.size = -1
	} else if e.size < 0 || off+e.hdr+e.size > v.size {
		return e, false
	}
	return e, true
}

func segmentChild(id uint64) bool {
	switch id {
	case 0x114d9b74, 0x1549a966, tracksID, clusterID, 0x1c53bb6b, 0x1941a469, 0x1043a770,
		0x1254c367, 0xec, 0xbf:
		return true
	}
	return false
}

func clusterChild(id uint64) bool {
	switch id {
	case 0xe7, 0x5854, 0xa7, 0xab, 0xa3, 0xa0, 0xaf, 0xec, 0xbf:
		return true
	}
	return false
}

type mkvTrack struct {
	codec  string
	nalLen int
	raw    bool
}

type mkvState struct {
	tracks map[uint64]*mkvTrack
}

func validateEBML(v *vctx) {
	v.rep.format = "matroska"
	v.rep.status = valid
	st := &mkvState{tracks: map[uint64]*mkvTrack{}}
	off := int64(0)
	for off < v.size && v.more() {
		e, ok := ebmlAt(v, off)
		if !ok || (e.id != ebmlHeaderID && e.id != segmentID && e.id != 0xec) {
			if off > 0 {
				break // tail
			}
			v.fail(off, "ebml-element", "EBML header expected")
			return
		}
		v.ok(off)
		end := e.off + e.hdr + e.size
		if e.size < 0 {
			end = v.size
		}
		if e.id == segmentID {
			mkvSegment(v, st, e.off+e.hdr, end)
		}
		off = end
	}
	v.rep.end = off
}

// mkvSegment walks the children of a segment in [off, end).
func mkvSegment(v *vctx, st *mkvState, off, end int64) {
	for off < end && v.more() {
		e, ok := ebmlAt(v, off)
		if !ok || !segmentChild(e.id) {
			if !v.fail(off, "ebml-element", "segment element expected") {
				return
			}
			nxt := mkvResync(v, off+1, end)
			if nxt < 0 {
				v.setLen(off, end-off)
				return
			}
			v.setLen(off, nxt-off)
			off = nxt
			continue
		}
		v.ok(off)
		body := e.off + e.hdr
		eend := body + e.size
		switch e.id {
		case tracksID:
			mkvTracks(v, st, body, eend)
		case clusterID:
			if e.size < 0 {
				eend = mkvCluster(v, st, body, end, true)
			} else {
				mkvCluster(v, st, body, eend, false)
			}
		}
		if e.size < 0 && e.id != clusterID {
			return
		}
		off = eend
	}
}

// mkvCluster walks a cluster; with an unknown size it ends at the first
// segment-level element, whose offset it returns.
func mkvCluster(v *vctx, st *mkvState, off, end int64, unknownSize bool) int64 {
	for off < end && v.more() {
		e, ok := ebmlAt(v, off)
		if ok && unknownSize && segmentChild(e.id) && !clusterChild(e.id) {
			return off
		}
		if !ok || !clusterChild(e.id) || e.size < 0 {
			if !v.fail(off, "ebml-block", "cluster element expected") {
				return end
			}
			nxt := mkvResync(v, off+1, end)
			if nxt < 0 {
				v.setLen(off, end-off)
				return end
			}
			v.setLen(off, nxt-off)
			if !unknownSize {
				return nxt
			}
			off = nxt
			continue
		}
		body := e.off + e.hdr
		switch e.id {
		case 0xa3:
			mkvBlock(v, st, body, e.size)
		case 0xa0:
			// BlockGroup: the Block (A1) inside
			if b, ok := ebmlAt(v, body); ok && b.id == 0xa1 && b.size > 0 {
				mkvBlock(v, st, b.off+b.hdr, b.size)
			} else {
				v.ok(off)
			}
		default:
			v.ok(off)
		}
		off = body + e.size
	}
	return end
}

// mkvBlock checks a block: a declared track number, and for some codecs
// the start of the frame.
func mkvBlock(v *vctx, st *mkvState, off, size int64) {
	h := v.s.bytes(off, 12)
	tn, n, _ := vintAt(h, false)
	if n == 0 || len(h) < n+3 {
		v.fail(off, "ebml-block", "block header expected")
		return
	}
	t, known := st.tracks[tn]
	if len(st.tracks) > 0 && !known {
		v.fail(off, "ebml-block", "block of an undeclared track")
		return
	}
	v.ok(off)
	if t == nil {
		return
	}
	flags := h[n+2]
	frame := off + int64(n) + 3
	fsize := size - int64(n) - 3
	if t.raw {
		v.raw(frame, frame+fsize)
		return
	}
	if flags&0x06 != 0 || fsize < 8 {
		return // laced: several frames, not checked
	}
	f := v.s.bytes(frame, 8)
	good := true
	switch {
	case strings.HasPrefix(t.codec, "V_MPEG4/ISO/AVC") || strings.HasPrefix(t.codec, "V_MPEGH/ISO/HEVC"):
		if t.nalLen > 0 {
			good = nalChain(v, frame, fsize, t.nalLen, strings.HasPrefix(t.codec, "V_MPEGH"))
		}
	case strings.HasPrefix(t.codec, "V_MPEG4/ISO/"), t.codec == "V_MPEG1", t.codec == "V_MPEG2":
		good = len(f) >= 3 && f[0] == 0 && f[1] == 0 && f[2] == 1
	case t.codec == "V_MJPEG":
		good = len(f) >= 2 && f[0] == 0xff && f[1] == 0xd8
		if good {
			jpegFrame(v, frame, fsize)
		}
	case t.codec == "V_PRORES":
		good = len(f) >= 8 && string(f[4:8]) == "icpf"
	}
	if !good {
		v.fail(frame, "ebml-frame", "frame of "+t.codec+" does not start with codec structure")
	}
}

// mkvTracks reads track numbers and codecs.
func mkvTracks(v *vctx, st *mkvState, off, end int64) {
	for off < end && v.more() {
		e, ok := ebmlAt(v, off)
		if !ok || e.size < 0 {
			return
		}
		if e.id == 0xae && e.size < 1<<20 {
			t := &mkvTrack{}
			var num uint64
			p, pend := e.off+e.hdr, e.off+e.hdr+e.size
			for p < pend {
				c, ok := ebmlAt(v, p)
				if !ok || c.size < 0 {
					break
				}
				val := v.s.bytes(c.off+c.hdr, int(minInt64(c.size, 64)))
				switch c.id {
				case 0xd7:
					for _, b := range val {
						num = num<<8 | uint64(b)
					}
				case 0x86:
					t.codec = string(bytes.TrimRight(val, "\x00"))
				case 0x63a2:
					if len(val) >= 5 {
						t.nalLen = int(val[4]&3) + 1 // avcC
						if len(val) >= 22 && strings.HasPrefix(t.codec, "V_MPEGH") {
							t.nalLen = int(val[21]&3) + 1
						}
					}
				}
				p = c.off + c.hdr + c.size
			}
			t.raw = strings.HasPrefix(t.codec, "A_PCM/") || t.codec == "V_UNCOMPRESSED"
			if num > 0 {
				st.tracks[num] = t
			}
		}
		off = e.off + e.hdr + e.size
	}
}

// mkvResync finds the next cluster after damage.
func mkvResync(v *vctx, from, end int64) int64 {
	id := []byte{0x1f, 0x43, 0xb6, 0x75}
	return v.resync(from, end, func(buf []byte, base int64) int {
		for i := 0; ; {
			j := bytes.Index(buf[i:], id)
			if j < 0 {
				return -1
			}
			cand := base + int64(i+j)
			if e, ok := ebmlAt(v, cand); ok {
				if c, ok := ebmlAt(v, cand+e.hdr); ok && clusterChild(c.id) {
					return i + j
				}
			}
			i += j + 1
		}
	})
}

// ebmlHeadless walks the clusters found after a destroyed head.
func ebmlHeadless(v *vctx) {
	off := mkvResync(v, 1, v.size)
	if off < 0 {
		return
	}
	v.rep.format = "matroska"
	v.rep.status = valid
	v.rep.headless = true
	v.brk(0, off, "ebml-element", "EBML header and segment start replaced by random bytes")
	st := &mkvState{tracks: map[uint64]*mkvTrack{}}
	mkvSegment(v, st, off, v.size)
	v.rep.end = v.size
}
