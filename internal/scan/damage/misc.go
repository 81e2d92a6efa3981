package damage

import (
	"bytes"
)

// More containers a post-production server holds: Ogg (pages), ASF/WMV
// (top-level objects), MPEG program streams (packs and PES packets),
// Photoshop (sections), DPX and Cineon (header with the file size),
// OpenEXR (header attributes and the chunk offset table). Files that carry
// a signature but whose structure is not walked (encrypted containers
// among them) are recognised so that their random content is not
// mistaken for damage.

// --- Ogg ------------------------------------------------------------------

func sniffOgg(h []byte) bool { return len(h) >= 27 && string(h[:4]) == "OggS" && h[4] == 0 }

func validateOgg(v *vctx) {
	v.rep.format = "ogg"
	v.rep.status = valid
	off := int64(0)
	for off < v.size && v.more() {
		h := v.s.bytes(off, 27)
		if len(h) < 27 || string(h[:4]) != "OggS" || h[4] != 0 {
			if off > 0 && len(h) > 0 && !randomish(v.s.bytes(off, 64)) {
				break
			}
			if off > 0 && v.tailAt(off) {
				return
			}
			if !v.fail(off, "ogg-page", "Ogg page expected") {
				break
			}
			nxt := resyncOn(v, off+1, []byte("OggS"), func(p int64) bool {
				b := v.s.bytes(p, 5)
				return len(b) == 5 && b[4] == 0
			})
			if nxt < 0 {
				v.setLen(off, v.size-off)
				off = v.size
				break
			}
			v.setLen(off, nxt-off)
			off = nxt
			continue
		}
		n := int64(h[26])
		seg := v.s.bytes(off+27, int(n))
		if int64(len(seg)) < n {
			break
		}
		size := int64(27) + n
		for _, s := range seg {
			size += int64(s)
		}
		v.ok(off)
		off += size
	}
	v.rep.end = minInt64(off, v.size)
}

// resyncOn finds the next occurrence of sig from which accept holds.
func resyncOn(v *vctx, from int64, sig []byte, accept func(int64) bool) int64 {
	return v.resync(from, v.size, func(buf []byte, base int64) int {
		for i := 0; ; {
			j := bytes.Index(buf[i:], sig)
			if j < 0 {
				return -1
			}
			if accept(base + int64(i+j)) {
				return i + j
			}
			i += j + 1
		}
	})
}

// --- ASF / WMV ------------------------------------------------------------

var asfHeaderGUID = []byte{0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62, 0xce, 0x6c}

func sniffASF(h []byte) bool { return len(h) >= 30 && bytes.Equal(h[:16], asfHeaderGUID) }

func validateASF(v *vctx) {
	v.rep.format = "asf"
	v.rep.status = valid
	off := int64(0)
	for off < v.size && v.more() {
		h := v.s.bytes(off, 24)
		if len(h) < 24 {
			break
		}
		size := int64(le64(h[16:]))
		if size < 24 || off+size > v.size {
			if off > 0 && !randomish(v.s.bytes(off, 64)) {
				break
			}
			if v.tailAt(off) {
				return
			}
			v.fail(off, "asf-object", "object header expected")
			break
		}
		v.ok(off)
		off += size
	}
	v.rep.end = minInt64(off, v.size)
}

// --- MPEG program stream ----------------------------------------------------

func sniffMPEGPS(h []byte) bool {
	return len(h) >= 16 && h[0] == 0 && h[1] == 0 && h[2] == 1 && h[3] == 0xba
}

func validateMPEGPS(v *vctx) {
	v.rep.format = "mpeg-ps"
	v.rep.status = valid
	off := int64(0)
	n := 0
	for off < v.size && v.more() {
		h := v.s.bytes(off, 16)
		if len(h) < 4 || h[0] != 0 || h[1] != 0 || h[2] != 1 {
			if len(h) < 4 {
				break
			}
			if off > 0 && v.tailAt(off) {
				return
			}
			if !v.fail(off, "mpeg-ps-packet", "pack or packet start code expected") {
				break
			}
			nxt := resyncOn(v, off+1, []byte{0, 0, 1, 0xba}, func(int64) bool { return true })
			if nxt < 0 {
				v.setLen(off, v.size-off)
				off = v.size
				break
			}
			v.setLen(off, nxt-off)
			off = nxt
			continue
		}
		id := h[3]
		var size int64
		switch {
		case id == 0xb9:
			size = 4
		case id == 0xba:
			if len(h) >= 14 && h[4]&0xc0 == 0x40 {
				size = 14 + int64(h[13]&7)
			} else {
				size = 12 // MPEG-1
			}
		case id >= 0xbb:
			if len(h) < 6 {
				size = 6
			} else {
				size = 6 + int64(be16(h[4:]))
			}
		default:
			if !v.fail(off, "mpeg-ps-packet", "stream id out of range") {
				return
			}
			size = 4
		}
		n++
		if n%16 == 1 {
			v.ok(off)
		} else {
			v.budget--
		}
		off += size
		if id == 0xb9 {
			break
		}
	}
	v.rep.end = minInt64(off, v.size)
}

// --- Photoshop ---------------------------------------------------------------

func sniffPSD(h []byte) bool {
	return len(h) >= 26 && string(h[:4]) == "8BPS" && (be16(h[4:]) == 1 || be16(h[4:]) == 2)
}

func validatePSD(v *vctx) {
	h := v.s.copyBytes(0, 26)
	v.rep.format = "psd"
	if len(h) < 26 {
		return
	}
	v.rep.status = valid
	psb := be16(h[4:]) == 2
	v.ok(0)
	off := int64(26)
	for i := 0; i < 3; i++ {
		w := 4
		if i == 2 && psb {
			w = 8
		}
		b := v.s.bytes(off, w)
		if len(b) < w {
			v.fail(off, "psd-section", "section length expected")
			return
		}
		var n int64
		if w == 4 {
			n = int64(be32(b))
		} else {
			n = int64(be64(b))
		}
		if n < 0 || off+int64(w)+n > v.size {
			v.fail(off, "psd-section", "section length out of range")
			return
		}
		v.ok(off)
		off += int64(w) + n
	}
	c := v.s.bytes(off, 2)
	if len(c) == 2 && be16(c) > 3 {
		v.fail(off, "psd-image-data", "compression method out of range")
		return
	}
	if len(c) == 2 && be16(c) == 0 {
		v.raw(off+2, v.size)
	}
	v.rep.end = v.size
}

// --- DPX and Cineon -----------------------------------------------------------

func sniffDPX(h []byte) bool {
	if len(h) < 32 {
		return false
	}
	switch string(h[:4]) {
	case "SDPX", "XPDS", "\x80\x2a\x5f\xd7", "\xd7\x5f\x2a\x80":
		return true
	}
	return false
}

// validateDPX checks the header's image offset and total file size (DPX
// and Cineon both record them); the pixels are raw.
func validateDPX(v *vctx) {
	h := v.s.copyBytes(0, 32)
	v.rep.format = "dpx"
	if len(h) < 32 {
		return
	}
	be := string(h[:4]) == "SDPX" || string(h[:4]) == "\x80\x2a\x5f\xd7"
	u32 := func(b []byte) int64 {
		if be {
			return int64(be32(b))
		}
		return int64(le32(b))
	}
	img := u32(h[4:])
	total := u32(h[16:])
	if string(h[:4]) == "\x80\x2a\x5f\xd7" || string(h[:4]) == "\xd7\x5f\x2a\x80" {
		total = u32(h[20:])
	}
	if img <= 0 || img > v.size || total > 0 && total != v.size && total > v.size {
		v.fail(4, "dpx-header", "image offset or file size does not fit")
		return
	}
	v.ok(0)
	v.rep.status = valid
	v.raw(img, v.size)
	v.rep.end = v.size
	if total > 0 && total < v.size {
		v.rep.end = total
	}
}

// --- OpenEXR --------------------------------------------------------------

func sniffEXR(h []byte) bool { return len(h) >= 8 && le32(h) == 20000630 }

// validateEXR walks the header attributes, then checks that the chunk
// offset table points inside the file in increasing order and that each
// chunk starts with a scan line inside the data window.
func validateEXR(v *vctx) {
	v.rep.format = "exr"
	h := v.s.copyBytes(0, 8)
	if len(h) < 8 {
		return
	}
	if h[5]&0x1e != 0 {
		// tiled, multi-part or deep: header walk only
		v.rep.partial = true
	}
	off := int64(8)
	var ymin, ymax int64
	compression := byte(0)
	for n := 0; n < 1024 && v.more(); n++ {
		b := v.s.copyBytes(off, 600)
		if len(b) == 0 {
			v.fail(off, "exr-header", "header cut short")
			return
		}
		if b[0] == 0 {
			off++
			break
		}
		i := bytes.IndexByte(b, 0)
		if i < 0 || i > 255 {
			v.fail(off, "exr-header", "attribute name expected")
			return
		}
		name := string(b[:i])
		j := bytes.IndexByte(b[i+1:], 0)
		if j < 0 || j > 255 || i+1+j+5 > len(b) {
			v.fail(off, "exr-header", "attribute type expected")
			return
		}
		size := int64(le32(b[i+2+j:]))
		vo := off + int64(i+2+j+4)
		if size < 0 || vo+size > v.size {
			v.fail(off, "exr-header", "attribute size out of range")
			return
		}
		val := v.s.bytes(vo, int(minInt64(size, 16)))
		switch name {
		case "dataWindow":
			if len(val) >= 16 {
				ymin, ymax = int64(int32(le32(val[4:]))), int64(int32(le32(val[12:])))
			}
		case "compression":
			if len(val) >= 1 {
				compression = val[0]
			}
		}
		v.ok(off)
		off = vo + size
	}
	v.rep.status = valid
	v.rep.end = v.size
	if v.rep.partial || ymax < ymin {
		return
	}
	lines := map[byte]int64{0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}[compression]
	if lines == 0 {
		return
	}
	chunks := (ymax - ymin + lines) / lines
	if chunks <= 0 || chunks > maxTableLen {
		return
	}
	tab := v.s.copyBytes(off, int(chunks*8))
	if int64(len(tab)) < chunks*8 {
		v.fail(off, "exr-offsets", "offset table cut short")
		return
	}
	prev := off + chunks*8
	step := int64(1)
	if v.quick && chunks > 32 {
		step = chunks / 32
	}
	for i := int64(0); i < chunks && v.more(); i += step {
		o := int64(le64(tab[i*8:]))
		if o < prev && step == 1 || o >= v.size {
			v.fail(off+i*8, "exr-offsets", "chunk offset out of order or outside the file")
			return
		}
		prev = o
		y := v.s.bytes(o, 8)
		if len(y) < 8 {
			return
		}
		ly := int64(int32(le32(y)))
		if ly < ymin || ly > ymax {
			v.fail(o, "exr-chunk", "chunk does not start with a scan line of the image")
			continue
		}
		v.ok(o)
	}
}

// --- formats recognised by signature only ------------------------------------

type signature struct {
	name string
	off  int
	sig  string
}

// sigOnly lists signatures of formats whose structure is not walked. They
// are mostly encrypted or compressed containers that legitimately look
// random after a short header.
func sigOnly() []signature {
	return []signature{
		{"age", 0, "age-encryption.org/"},
		{"openssl-enc", 0, "Salted__"},
		{"rclone-crypt", 0, "RCLONE\x00\x00"},
		{"luks", 0, "LUKS\xba\xbe"},
		{"bitlocker", 3, "-FVE-FS-"},
		{"dmg-encrypted", 0, "encrcdsa"},
		{"aescrypt", 0, "AES\x02"},
		{"kdbx", 0, "\x03\xd9\xa2\x9a"},
		{"gpg-armor", 0, "-----BEGIN PGP"},
		{"lz4", 0, "\x04\x22\x4d\x18"},
		{"lzip", 0, "LZIP"},
		{"cab", 0, "MSCF"},
		{"sqlite-wal", 0, "\x37\x7f\x06\x82"},
		{"sqlite-wal", 0, "\x37\x7f\x06\x83"},
		{"sqlite-journal", 0, "\xd9\xd5\x05\xf9\x20\xa1\x63\xd7"},
		{"vhdx", 0, "vhdxfile"},
		{"vmdk", 0, "KDMV"},
		{"qcow", 0, "QFI\xfb"},
		{"java-class", 0, "\xca\xfe\xba\xbe"},
		{"mach-o", 0, "\xcf\xfa\xed\xfe"},
		{"mach-o", 0, "\xce\xfa\xed\xfe"},
		{"wasm", 0, "\x00asm"},
		{"arri-raw", 0, "ARRI\x12\x34\x56\x78"},
		{"red-r3d", 4, "RED2"},
		{"red-r3d", 4, "RED1"},
		{"caf", 0, "caff"},
		{"ico", 0, "\x00\x00\x01\x00"},
		{"pst", 0, "!BDN"},
		{"lnk", 0, "L\x00\x00\x00\x01\x14\x02\x00"},
		{"ar", 0, "!<arch>\n"},
		{"xar", 0, "xar!"},
		{"swf", 0, "FWS"},
		{"swf", 0, "CWS"},
		{"swf", 0, "ZWS"},
		{"djvu", 0, "AT&TFORM"},
		{"jpeg2000", 0, "\x00\x00\x00\x0cjP  \r\n\x87\n"},
		{"jpeg2000", 0, "\xff\x4f\xff\x51"},
		{"brotli-framed", 0, "\xce\xb2\xcf\x81"},
		{"lzma", 0, "\x5d\x00\x00"},
		{"compress", 0, "\x1f\x9d"},
		{"lzop", 0, "\x89LZO\x00\r\n\x1a\n"},
		{"wim", 0, "MSWIM\x00\x00\x00"},
		{"par2", 0, "PAR2\x00PKT"},
		{"squashfs", 0, "hsqs"},
		{"squashfs", 0, "sqsh"},
		{"flv", 0, "FLV\x01"},
		{"ivf", 0, "DKIF\x00\x00"},
		{"realmedia", 0, ".RMF"},
		{"wavpack", 0, "wvpk"},
		{"ape", 0, "MAC "},
		{"tta", 0, "TTA1"},
		{"amr", 0, "#!AMR"},
		{"midi", 0, "MThd"},
		{"dts", 0, "\x7f\xfe\x80\x01"},
		{"canon-crw", 6, "HEAPCCDR"},
		{"fuji-raf", 0, "FUJIFILMCCD-RAW"},
		{"sigma-x3f", 0, "FOVb"},
		{"olympus-orf", 0, "IIRO"},
		{"olympus-orf", 0, "IIRS"},
		{"panasonic-rw2", 0, "IIU\x00"},
	}
}

func sniffSigOnly(h []byte) bool { return sigOnlyName(h) != "" }

func sigOnlyName(h []byte) string {
	for _, s := range sigOnly() {
		if len(h) >= s.off+len(s.sig) && string(h[s.off:s.off+len(s.sig)]) == s.sig {
			return s.name
		}
	}
	return ""
}

func validateSigOnly(v *vctx) {
	v.rep.format = sigOnlyName(v.s.bytes(0, 64))
	v.rep.status = valid
	v.rep.partial = true
	v.ok(0)
	v.rep.end = v.size
}
