package damage

import "bytes"

// MXF (SMPTE 377): a chain of KLV triplets from the header partition to the
// random index pack. Every key is a SMPTE universal label starting
// 06 0E 2B 34; lengths are BER-coded. The walk covers every key in the file
// (one or a few per frame), checks that partition packs know their own
// offset, and checks that picture essence elements start like the first
// one of their track did (MPEG start code, JPEG 2000 or DNxHD header).
// After a break it resynchronises on the next chain of labels, so the
// damage map covers the whole file.

var mxfUL = []byte{0x06, 0x0e, 0x2b, 0x34}

// mxfPartitionPrefix is the label prefix of a partition pack.
var mxfPartitionPrefix = []byte{0x06, 0x0e, 0x2b, 0x34, 0x02, 0x05, 0x01, 0x01, 0x0d, 0x01, 0x02, 0x01, 0x01}

func sniffMXF(h []byte) bool {
	// a run-in of up to 64 KiB may precede the header partition
	i := bytes.Index(h, mxfPartitionPrefix)
	return i >= 0 && i < 65536 && len(h) > i+14 && h[i+13] == 0x02
}

// klvAt parses the key and length at off. It returns the total size of the
// triplet, the length of key plus length field, and whether they are
// plausible.
func klvAt(v *vctx, off int64) (total, hdr int64, key []byte, ok bool) {
	h := v.s.bytes(off, 25)
	if len(h) < 17 || !bytes.Equal(h[:4], mxfUL) {
		return 0, 0, nil, false
	}
	key = h[:16]
	l := h[16]
	var n int64
	hdr = 17
	if l < 0x80 {
		n = int64(l)
	} else {
		c := int(l & 0x7f)
		if c == 0 || c > 8 || len(h) < 17+c {
			return 0, 0, nil, false
		}
		for _, b := range h[17 : 17+c] {
			n = n<<8 | int64(b)
		}
		hdr += int64(c)
	}
	if n < 0 || off+hdr+n > v.size || off+hdr+n < off {
		return 0, 0, nil, false
	}
	return hdr + n, hdr, key, true
}

// klvChain reports whether a chain of n KLV triplets starts at off (or
// reaches the end of the file).
func klvChain(v *vctx, off int64, n int) bool {
	for i := 0; i < n; i++ {
		if off == v.size {
			return i > 0
		}
		t, _, _, ok := klvAt(v, off)
		if !ok {
			return false
		}
		off += t
	}
	return true
}

// klvResync finds the next offset after from where a chain of labels
// starts.
func klvResync(v *vctx, from int64) int64 {
	return v.resync(from, v.size, func(buf []byte, base int64) int {
		for i := 0; ; {
			j := bytes.Index(buf[i:], mxfUL)
			if j < 0 {
				return -1
			}
			if klvChain(v, base+int64(i+j), 3) {
				return i + j
			}
			i += j + 1
		}
	})
}

type mxfEssence struct {
	prefix    []byte
	confirmed bool
}

func validateMXF(v *vctx) {
	h := v.s.bytes(0, 65536+16)
	start := int64(bytes.Index(h, mxfPartitionPrefix))
	if start < 0 {
		return
	}
	mxfWalk(v, start, start)
	if v.rep.status != damaged {
		v.rep.status = valid
	}
}

// mxfHeadless walks from the first chain of labels found after a damaged
// head.
func mxfHeadless(v *vctx) {
	off := klvResync(v, 1)
	if off < 0 {
		return
	}
	v.rep.headless = true
	v.brk(0, off, "mxf-klv", "header partition replaced by random bytes")
	mxfWalk(v, off, 0)
}

func mxfWalk(v *vctx, off, runIn int64) {
	essence := map[string]*mxfEssence{}
	sawFooterOrRIP := false
	for off < v.size && v.more() {
		total, hdr, key, ok := klvAt(v, off)
		if !ok {
			if sawFooterOrRIP {
				break // what follows the random index pack is a tail
			}
			if !v.fail(off, "mxf-klv", "KLV key expected") {
				v.rep.partial = true
				break
			}
			nxt := klvResync(v, off+1)
			if nxt < 0 {
				// damage runs to the end, or the structure ended and a
				// tail follows: the caller judges the tail
				v.setLen(off, v.size-off)
				off = v.size
				break
			}
			v.setLen(off, nxt-off)
			off = nxt
			continue
		}
		k := key
		switch {
		case bytes.HasPrefix(k, mxfPartitionPrefix) && k[13] == 0x11:
			// random index pack: the end
			sawFooterOrRIP = true
			v.ok(off)
		case bytes.HasPrefix(k, mxfPartitionPrefix) && k[13] >= 0x02 && k[13] <= 0x04:
			// partition pack: ThisPartition must be its own offset
			if k[13] == 0x04 {
				sawFooterOrRIP = true
			}
			if p := v.s.bytes(off+hdr+8, 8); len(p) == 8 && int64(be64(p)) != off-runIn {
				v.fail(off+hdr+8, "mxf-partition", "partition pack does not know its own offset")
			} else {
				v.ok(off)
			}
		case k[4] == 0x01 && k[5] == 0x02 && k[6] == 0x01 && k[8] == 0x0d && k[9] == 0x01 && k[10] == 0x03 && k[11] == 0x01:
			// generic container essence element
			// picture elements of one track start alike; the prefix is
			// learnt from the first two elements and must agree
			id := string(k[12:16])
			e := essence[id]
			val := v.s.bytes(off+hdr, 8)
			picture := k[12] == 0x15 || k[12] == 0x05
			switch {
			case !picture:
				v.ok(off)
			case e == nil:
				essence[id] = &mxfEssence{prefix: essencePrefix(val)}
				v.ok(off)
			case !e.confirmed:
				if e.prefix != nil && !bytes.HasPrefix(val, e.prefix) {
					e.prefix = nil
				}
				e.confirmed = true
				v.ok(off)
			case e.prefix != nil && !bytes.HasPrefix(val, e.prefix) && total-hdr >= int64(len(e.prefix)):
				v.fail(off+hdr, "mxf-essence", "picture essence element does not start like the others of its track")
			default:
				v.ok(off)
			}
			if k[12] == 0x16 || k[12] == 0x06 || k[12] == 0x05 {
				// sound items: PCM or AES3, never uniform random
				v.raw(off+hdr, off+total)
			}
		default:
			v.ok(off)
		}
		off += total
	}
	if v.rep.end < 0 || off > v.rep.end {
		v.rep.end = off
	}
}

// essencePrefix returns the header a picture essence element starts with,
// when it is one every frame of that codec carries.
func essencePrefix(b []byte) []byte {
	switch {
	case len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 1:
		return []byte{0, 0, 0, 1}
	case len(b) >= 3 && b[0] == 0 && b[1] == 0 && b[2] == 1:
		return []byte{0, 0, 1}
	case len(b) >= 4 && b[0] == 0xff && b[1] == 0x4f && b[2] == 0xff && b[3] == 0x51:
		return []byte{0xff, 0x4f, 0xff, 0x51}
	case len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 2 && b[3] == 0x80:
		return []byte{0, 0, 2, 0x80}
	case len(b) >= 2 && b[0] == 0xff && b[1] == 0xd8:
		return []byte{0xff, 0xd8}
	}
	return nil
}
